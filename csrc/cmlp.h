/* cmlp.h -- every C kernel of cmlp, declared once.
 *
 * The math is that of the course notes: a row of X is one sample, W_i has shape
 * (n_{i-1}, n_i) row-major, n_i = W_i^T a_{i-1} + b_i and a_i = act_i(n_i), the output
 * delta S_L = dloss/dn_L and the backprop recursion S_{i-1} = A_{i-1} W_i S_i, where
 * A is the diagonal of activation derivatives, kept as a vector and never formed.
 *
 * Shape letters used in the contract comments:
 *   B  rows in a block (samples)         N  rows of a data set
 *   I  inputs of a dense layer (n_{i-1}) O  outputs of a dense layer (n_i)
 *   K  output units of the network (n_L) L  number of weight layers
 *   P  number of parameters (all W_i, b_i in one flat buffer, see below)
 *   n  a vector length
 *
 * All arrays are C-contiguous, row-major, and never alias unless a comment says so.
 *
 * Sample weights: the loss and gradient drivers take w, one weight >= 0 per row of X (N),
 * indexed by the original row (the gathering drivers read w[perm[s]]), or NULL for every
 * weight 1, in which case they run exactly as without weights (the same operations, bit for
 * bit). A row's loss term is then w_r l_r and its output delta w_r S_L, so gradients are
 * sum_r w_r g_r; a row of weight 0 is skipped (its loss and delta are exactly 0, even where
 * its output is not finite).
 * Every kernel has a float64 (_f64) and a float32 (_f32) version built from one template
 * per concern (activation_tmpl.h, dense_tmpl.h, loss_tmpl.h, optim_tmpl.h, epoch_tmpl.h),
 * compiled once per instruction set (kernels_base.c, kernels_avx2.c, kernels_avx512.c) and
 * chosen at run time (dispatch.c, isa.h). Kernels do not allocate, print or exit; run-time
 * trouble is an int status (CMLP_NONFINITE), which the Cython bridge turns into an exception.
 *
 * Flat parameter buffer (one allocation; Python's weights/biases are views into it):
 *   [W_1 (n_0, n_1) | b_1 (n_1) | W_2 (n_1, n_2) | b_2 (n_2) | ... | W_L | b_L]
 */
#ifndef CMLP_H
#define CMLP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Activation codes (the Python names map onto these in cmlp/_names.py). */
enum {
    CMLP_IDENTITY = 0,
    CMLP_SIGMOID = 1,
    CMLP_TANH = 2,
    CMLP_RELU = 3,
    CMLP_LEAKY_RELU = 4, /* slope 0.01 below zero */
    CMLP_ELU = 5,        /* alpha = 1 */
    CMLP_SOFTMAX = 6,    /* output layer only */
    CMLP_EXP = 7,        /* output layer only: y = exp(n), the log link of the poisson loss */
    CMLP_N_ACT = 8
};

/* Loss codes. Per-row terms; whole-set scaling (sum or mean) is the caller's. */
enum {
    CMLP_TSE = 0,           /* ||t - y||^2 (the notes) */
    CMLP_MSE = 1,           /* 1/2 ||t - y||^2 */
    CMLP_CROSS_ENTROPY = 2, /* -sum t log y (softmax) or binary form (sigmoid) */
    CMLP_POISSON = 3,       /* sum [t log(t / y) - t + y], 0 log 0 = 0 (half Poisson deviance) */
    CMLP_N_LOSS = 4
};

/* Status codes returned by drivers. */
enum { CMLP_OK = 0, CMLP_NONFINITE = 1 };

/* Rows per block in the batched drivers (forward, loss, gradients): CMLP_BLOCK with the own
 * dense kernels, CMLP_GEMM_BLOCK when the network multiplies through BLAS (arch->blas). */
#define CMLP_BLOCK 32
#define CMLP_GEMM_BLOCK 512 /* large: whole-set GEMMs amortise BLAS's packing */

/* With BLAS, a first-layer block whose inputs have at most this fraction of nonzeros (MNIST:
 * about 0.19) goes through the exact sparse kernels instead of a GEMM: zero inputs add nothing
 * to the product and nothing to the weight gradient. */
#define CMLP_SPARSE_DENSITY 0.5

/* Fortran BLAS GEMM, column-major: C = alpha op(A) op(B) + beta C, as exported by
 * scipy.linalg.cython_blas (pointers are not const there; A and B are only read). */
typedef void (*cmlp_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                              double *alpha, double *a, int *lda, double *b, int *ldb,
                              double *beta, double *c, int *ldc);
typedef void (*cmlp_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                              float *alpha, float *a, int *lda, float *b, int *ldb,
                              float *beta, float *c, int *ldc);
typedef struct cmlp_blas {
    cmlp_dgemm_fn dgemm;
    cmlp_sgemm_fn sgemm;
} cmlp_blas;

/* A network's shape: sizes[0..L] are n_0..n_L, acts[0..L-1] the activation of layers 1..L.
 * blas: how the batched drivers multiply dense blocks; NULL means the own blocked kernels
 * (dense_forward, dense_backward), else GEMMs through these pointers over blocks of
 * CMLP_GEMM_BLOCK rows, with the exact sparse kernels for a sparse first-layer input. Every
 * size must then fit in an int (the bridge checks). The per-sample driver never uses it. */
typedef struct cmlp_arch {
    ptrdiff_t n_layers;     /* L >= 1 */
    const ptrdiff_t *sizes; /* (L + 1) */
    const int *acts;        /* (L) */
    int loss;
    const cmlp_blas *blas;  /* or NULL */
} cmlp_arch;

/* ---- instruction-set variants (dispatch.c): 0 base, 1 avx2, 2 avx512 ---- */
int cmlp_isa_available(int isa);  /* 1 if this CPU (and build) can run the variant */
int cmlp_get_isa(void);           /* the variant in use; on first call, the best available */
int cmlp_set_isa(int isa);        /* 0, or -1 (unchanged) if isa is not available */
const char *cmlp_isa_name(int isa);

/* ---- sizes of the flat buffers (arch.c) ---- */
ptrdiff_t cmlp_param_count(const cmlp_arch *arch);        /* P */
ptrdiff_t cmlp_max_width(const cmlp_arch *arch);          /* max(n_1..n_L) */
ptrdiff_t cmlp_sgd_work_size(const cmlp_arch *arch);      /* elements of work for sgd_epoch */
/* sgd_epoch's padded rows: n rounded up to a multiple of CMLP_PAD elements (64 bytes of
 * float32, 128 of float64), and the parameter count with every layer's width so padded */
#define CMLP_PAD 16
ptrdiff_t cmlp_padded_width(ptrdiff_t n);
ptrdiff_t cmlp_padded_param_count(const cmlp_arch *arch);
ptrdiff_t cmlp_forward_work_size(const cmlp_arch *arch);  /* ... for net_forward and net_loss */
ptrdiff_t cmlp_gradient_work_size(const cmlp_arch *arch); /* ... for net_gradients */
ptrdiff_t cmlp_dropout_work_size(const cmlp_arch *arch);  /* ... for net_gradients_dropout */
ptrdiff_t cmlp_block_rows(const cmlp_arch *arch);         /* rows per block of the drivers */

/* ---- activation.c ---- */

/* a = act(a) in place; softmax normalises each row of O entries; exp is y = e^n.
 * a (B, O) */
void act_forward_f64(double *a, ptrdiff_t B, ptrdiff_t O, int act);
void act_forward_f32(float *a, ptrdiff_t B, ptrdiff_t O, int act);

/* d = d * act'(.) elementwise, the derivative evaluated from the activation OUTPUT a
 * (sigmoid a(1-a), tanh 1-a^2, relu [a>0], leaky_relu a>0 ? 1 : 0.01, elu a>0 ? 1 : a+1,
 * exp a, identity 1). Not for softmax, whose Jacobian is not diagonal (see output_delta).
 * d, a (n); d updated in place */
void act_backward_f64(double *d, const double *a, ptrdiff_t n, int act);
void act_backward_f32(float *d, const float *a, ptrdiff_t n, int act);

/* ---- dense.c ---- */

/* a = act(x W + b); a overwritten. Zero entries of x are skipped (exact: they add nothing).
 * x (B, I)  W (I, O)  b (O)  a (B, O) */
void dense_forward_f64(double *a, const double *x, const double *W, const double *b,
                       ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act);
void dense_forward_f32(float *a, const float *x, const float *W, const float *b,
                       ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act);

/* Backward through one dense layer whose input x is the previous layer's activation:
 *   dW += x^T dz,  db += sum over rows of dz            (accumulated)
 *   dx  = (dz W^T) * act_x'(x)  if dx != NULL          (overwritten; S_{i-1} = A_{i-1} W_i S_i)
 * dz (B, O)  x (B, I)  W (I, O)  dW (I, O)  db (O)  dx (B, I) */
void dense_backward_f64(double *dx, double *dW, double *db, const double *dz, const double *x,
                        const double *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x);
void dense_backward_f32(float *dx, float *dW, float *db, const float *dz, const float *x,
                        const float *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x);

/* One sample, one pass over W: the backprop product with W as it was before this sample,
 * then the in-place SGD update (the notes' order: every S from the old weights):
 *   dx = (W s) * act_x'(x)  if dx != NULL   (overwritten)
 *   W -= lr x s^T,  b -= lr s               (in place)
 * x (I)  s (O)  W (I, O)  b (O)  dx (I) */
void dense_backward_sgd_f64(double *dx, double *W, double *b, const double *s, const double *x,
                            double lr, ptrdiff_t I, ptrdiff_t O, int act_x);
void dense_backward_sgd_f32(float *dx, float *W, float *b, const float *s, const float *x,
                            float lr, ptrdiff_t I, ptrdiff_t O, int act_x);

/* ---- loss.c ---- */

/* Sum over the B rows of the per-row loss (accumulated in double):
 *   tse ||t-y||^2;  mse 1/2 ||t-y||^2;  cross_entropy -sum t log y (softmax output) or
 *   -sum [t log y + (1-t) log(1-y)] (sigmoid output), y clipped to [eps, 1-eps] as
 *   scikit-learn does (eps = machine epsilon of the precision); poisson
 *   sum [t log(t/y) - t + y] with 0 log 0 = 0 (scikit-learn's half Poisson deviance).
 * y, t (B, K) */
double loss_forward_f64(const double *y, const double *t, ptrdiff_t B, ptrdiff_t K, int loss,
                        int out_act);
double loss_forward_f32(const float *y, const float *t, ptrdiff_t B, ptrdiff_t K, int loss,
                        int out_act);

/* S = d(per-row loss)/dn_L for every row; S overwritten. With g = dloss/dy
 * (tse -2(t-y), mse -(t-y)): S = A_L g for elementwise outputs (the notes' S_L = -2 A_L e),
 * S = y * (g - y.g) for softmax (its Jacobian diag(y) - y y^T, not formed),
 * cross_entropy: S = y sum(t) - t for softmax, S = y - t for sigmoid; poisson (exp output,
 * dy/dn = y): S = y - t.
 * y, t, S (B, K) */
void output_delta_f64(double *S, const double *y, const double *t, ptrdiff_t B, ptrdiff_t K,
                      int loss, int out_act);
void output_delta_f32(float *S, const float *y, const float *t, ptrdiff_t B, ptrdiff_t K,
                      int loss, int out_act);

/* ---- optim.c ---- */

/* p -= lr g
 * p, g (P) */
void sgd_update_f64(double *p, const double *g, double lr, ptrdiff_t P);
void sgd_update_f32(float *p, const float *g, float lr, ptrdiff_t P);

/* Optimizer codes and settings for optim_step and train_batches (formulas below). */
enum {
    CMLP_OPT_SGD = 0,
    CMLP_OPT_MOMENTUM = 1,
    CMLP_OPT_NESTEROV = 2,
    CMLP_OPT_ADAGRAD = 3,
    CMLP_OPT_RMSPROP = 4,
    CMLP_OPT_ADAM = 5,
    CMLP_N_OPT = 6
};

typedef struct cmlp_optim {
    int kind;        /* CMLP_OPT_* */
    double lr;       /* learning rate of the current step */
    double momentum; /* mu: momentum, nesterov */
    double alpha;    /* rmsprop smoothing */
    double beta1, beta2;
    double eps;      /* adagrad, rmsprop, adam */
    double l1, l2;   /* penalty l1 sum |w| + l2 sum w^2 over the weights (not the biases) */
    int64_t t;       /* steps taken so far; optim_step increments it first */
    int scale_penalty; /* 0: the penalty's gradient is added as is; 1: it is multiplied by the
                        * step's scale too (1 / the batch's weight sum: scikit-learn's
                        * alpha W / sum w over each batch, with l2 = alpha / 2) */
} cmlp_optim;

/* The torch.optim updates (PyTorch's documented formulas), in place, one pass over P:
 * momentum (dampening 0): b = mu b + g; p -= lr b;   nesterov: b = mu b + g; p -= lr (g + mu b)
 * p, b, g (P) */
void momentum_update_f64(double *p, double *b, const double *g, double lr, double mu,
                         int nesterov, ptrdiff_t P);
void momentum_update_f32(float *p, float *b, const float *g, float lr, float mu, int nesterov,
                         ptrdiff_t P);
/* adagrad (lr_decay 0, initial accumulator 0): s += g^2; p -= lr g / (sqrt(s) + eps)
 * p, s, g (P) */
void adagrad_update_f64(double *p, double *s, const double *g, double lr, double eps,
                        ptrdiff_t P);
void adagrad_update_f32(float *p, float *s, const float *g, float lr, float eps, ptrdiff_t P);
/* rmsprop (centered False, momentum 0): v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps)
 * p, v, g (P) */
void rmsprop_update_f64(double *p, double *v, const double *g, double lr, double alpha,
                        double eps, ptrdiff_t P);
void rmsprop_update_f32(float *p, float *v, const float *g, float lr, float alpha, float eps,
                        ptrdiff_t P);
/* adam (amsgrad False), step t >= 1: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * p -= lr (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * p, m, v, g (P) */
void adam_update_f64(double *p, double *m, double *v, const double *g, double lr, double beta1,
                     double beta2, double eps, int64_t t, ptrdiff_t P);
void adam_update_f32(float *p, float *m, float *v, const float *g, float lr, float beta1,
                     float beta2, float eps, int64_t t, ptrdiff_t P);

/* Penalty over the weights W_1..W_L of the flat buffer (biases skipped): returns
 * l1 sum |w| + l2 sum w^2 (in double) and, if g != NULL, g += l1 sign(w) + 2 l2 w on the
 * weight entries (sign(0) = 0: the subgradient 0 at 0); g's bias entries are not touched.
 * g, p (P) */
double penalty_grad_f64(double *g, const double *p, double l1, double l2,
                        const cmlp_arch *arch);
double penalty_grad_f32(float *g, const float *p, float l1, float l2, const cmlp_arch *arch);

/* One optimizer step from a summed gradient: grad = scale grad (+ the penalty's gradient,
 * as penalty_grad, times scale if opt->scale_penalty), opt->t += 1, then the update of opt->kind with opt->lr. grad is
 * overwritten (plain sgd without penalty instead does p -= (lr scale) grad in one pass and
 * leaves grad as it was); state holds the optimizer's arrays (momentum/nesterov b, adagrad s, rmsprop
 * v: the first P; adam m then v: all 2P), zero before the first step. Returns the penalty.
 * params, grad (P)  state (2P) */
double optim_step_f64(double *params, double *grad, double *state, cmlp_optim *opt,
                      double scale, const cmlp_arch *arch);
double optim_step_f32(float *params, float *grad, float *state, cmlp_optim *opt, float scale,
                      const cmlp_arch *arch);

/* ---- epoch.c: whole-network drivers ---- */

/* Y = network(X) for N rows, in blocks of cmlp_block_rows rows; Y overwritten.
 * params (P)  X (N, n_0)  Y (N, K)  work (cmlp_forward_work_size) */
void net_forward_f64(double *Y, double *work, const double *params, const double *X, ptrdiff_t N,
                     const cmlp_arch *arch);
void net_forward_f32(float *Y, float *work, const float *params, const float *X, ptrdiff_t N,
                     const cmlp_arch *arch);

/* Returns the sum over the N rows of the per-row loss of network(X) against T (weighted:
 * sum_r w_r l_r).
 * params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  work (cmlp_forward_work_size) */
double net_loss_f64(double *work, const double *params, const double *X, const double *T,
                    const double *w, ptrdiff_t N, const cmlp_arch *arch);
double net_loss_f32(float *work, const float *params, const float *X, const float *T,
                    const float *w, ptrdiff_t N, const cmlp_arch *arch);

/* grad += sum over the N rows of w_r d(per-row loss)/d(params) (accumulated; zeroing is the
 * caller's); returns the sum of the (weighted) per-row losses.
 * grad, params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  work (cmlp_gradient_work_size) */
double net_gradients_f64(double *grad, double *work, const double *params, const double *X,
                         const double *T, const double *w, ptrdiff_t N, const cmlp_arch *arch);
double net_gradients_f32(float *grad, float *work, const float *params, const float *X,
                         const float *T, const float *w, ptrdiff_t N, const cmlp_arch *arch);

/* The notes' per-sample SGD over the rows perm[0..n) of X: for each row, the forward pass,
 * S_L, then for i = L..1 one pass over W_i (product with the old W_i, then the update
 * W_i -= lr a_{i-1} S_i^T, b_i -= lr S_i). If stop_nonfinite, a row whose loss is not
 * finite, or whose update would leave a parameter not finite, stops the loop before its
 * update with CMLP_NONFINITE, the parameters left as after the previous row; otherwise
 * such rows are applied like any other. The rows train a copy of params in work whose rows
 * are padded to CMLP_PAD elements and start on 64-byte boundaries (whole vectors, no row
 * straddling a cache line); params is written back at the end, and stays as it was if a
 * row stops the loop, from which the rows are then replayed one by one.
 * *done = rows completed; *loss_sum += their per-row losses (before their updates), each
 * times its weight. Weights: a row of weight 0 is skipped (no forward pass, no update); any
 * weight > 0 leaves the row's update as it is, since the weighted mean over a batch of one
 * row, w g / w, is g: with one row per step a weight only decides whether the row counts.
 * params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  perm (n), entries in [0, N)
 * work (cmlp_sgd_work_size) */
int sgd_epoch_f64(double *params, double *work, const double *X, const double *T,
                  const double *w, const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch,
                  double lr, int stop_nonfinite, ptrdiff_t *done, double *loss_sum);
int sgd_epoch_f32(float *params, float *work, const float *X, const float *T, const float *w,
                  const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch, float lr,
                  int stop_nonfinite, ptrdiff_t *done, double *loss_sum);

/* ---- rows.c: the rows of X as the minibatch drivers read them, dense or sparse ---- */

/* Where the rows of X (N, n_0) come from: a dense C-contiguous array, or scipy's CSR arrays
 * (row r holds data[p] in column indices[p] for p in [indptr[r], indptr[r + 1]); indices in
 * any order, repeated columns summed, as scipy reads them). Void pointers: data and dense
 * are real * of the driver's precision; indices and indptr int32_t * or int64_t *.
 *   dense (N, n_0) or NULL (CSR)   data (nnz)  indices (nnz)  indptr (N + 1) */
typedef struct cmlp_rows {
    const void *dense;   /* dense rows, or NULL: the CSR arrays below */
    const void *data;    /* CSR values */
    const void *indices; /* CSR column of each value, in [0, n_0) */
    const void *indptr;  /* CSR row starts, non-decreasing, within [0, nnz] */
    int index64;         /* CSR: indices and indptr are int64_t (1) or int32_t (0) */
} cmlp_rows;

/* Checks X's CSR arrays for N rows of n_0 columns over nnz stored values (not needed for a
 * dense X): 0 if well formed; 1 if indptr is not non-decreasing within [0, nnz] (*where: the
 * first bad entry of indptr); 2 if an index of a stored value is outside [0, n_0) (*where:
 * its position in indices). The drivers read CSR arrays only after this check. */
int cmlp_rows_check(const cmlp_rows *X, ptrdiff_t N, ptrdiff_t n0, ptrdiff_t nnz,
                    ptrdiff_t *where);

/* Xb = rows of X: row k of Xb is row perm[k] of X (perm NULL: row r0 + k); Xb overwritten.
 * A CSR row is written as zeros, then each stored value added into its column (in storage
 * order): exactly the dense row scipy's toarray gives. No check (see cmlp_rows_check).
 * Xb (m, n_0)  perm (m), entries in [0, N), or NULL */
void gather_rows_f64(double *Xb, const cmlp_rows *X, const int64_t *perm, ptrdiff_t r0,
                     ptrdiff_t m, ptrdiff_t n0);
void gather_rows_f32(float *Xb, const cmlp_rows *X, const int64_t *perm, ptrdiff_t r0,
                     ptrdiff_t m, ptrdiff_t n0);

/* ---- train_tmpl.h: minibatch training ---- */

/* As net_gradients, with inverted dropout on the hidden layers: unit j of hidden layer i
 * (1-based, i < L) in row r is kept when U[r, n_1 + ... + n_{i-1} + j] >= drop[i-1] and
 * then scaled by 1 / (1 - drop[i-1]), else zeroed; the backward pass uses the same masks.
 * U == NULL: no dropout (exactly net_gradients). Returns the summed (weighted) per-row losses.
 * grad, params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  U (N, H), H = n_1 + ... + n_{L-1}
 * drop (L - 1)  work (cmlp_dropout_work_size) */
double net_gradients_dropout_f64(double *grad, double *work, const double *params,
                                 const double *X, const double *T, const double *w,
                                 const double *U, const double *drop, ptrdiff_t N,
                                 const cmlp_arch *arch);
double net_gradients_dropout_f32(float *grad, float *work, const float *params, const float *X,
                                 const float *T, const float *w, const float *U,
                                 const double *drop, ptrdiff_t N, const cmlp_arch *arch);

/* Minibatch training over the rows perm[0..n): batches perm[0:B], perm[B:2B], ... (the last
 * may be shorter, m rows). For each: gather its rows of X (dense or CSR, gather_rows) and T
 * into work, grad = sum of the per-row
 * gradients (net_gradients_dropout with U's rows s..s+m), then optim_step with scale 1/m:
 * the step follows the mean gradient over the batch plus the penalty's gradient. With
 * weights, grad = sum w_r g_r and the scale is 1 / sum w_r over the batch (the weighted mean);
 * a batch whose weights sum to 0 makes no step (parameters, state and opt->t unchanged). If
 * stop_nonfinite, a batch whose summed loss is not finite, or whose update leaves a
 * parameter non-finite (the update is then undone; the optimizer state is not), stops the
 * loop with CMLP_NONFINITE, the parameters as after the previous batch. *done = rows of the
 * completed batches; *loss_sum += their losses.
 * params, grad (P)  state (2P)  X (N, n_0) rows (dense or checked CSR)  T (N, K)
 * w (N) or NULL  perm (n), entries in [0, N)  U (n, H) or NULL  drop (L - 1)
 * work: B (n_0 + K + 1) + P + cmlp_dropout_work_size elements */
int train_batches_f64(double *params, double *grad, double *state, double *work,
                      const cmlp_rows *X, const double *T, const double *w, const int64_t *perm,
                      ptrdiff_t n, ptrdiff_t B, const double *U, const double *drop,
                      const cmlp_arch *arch, cmlp_optim *opt, int stop_nonfinite,
                      ptrdiff_t *done, double *loss_sum);
int train_batches_f32(float *params, float *grad, float *state, float *work, const cmlp_rows *X,
                      const float *T, const float *w, const int64_t *perm, ptrdiff_t n,
                      ptrdiff_t B, const float *U, const double *drop, const cmlp_arch *arch,
                      cmlp_optim *opt, int stop_nonfinite, ptrdiff_t *done, double *loss_sum);

/* ---- threads.c and train_tmpl.h: minibatch training on several threads ---- */

/* A barrier for the n threads of a team (the threads are the caller's). */
typedef struct cmlp_barrier {
    long count; /* threads arrived in this phase */
    long phase; /* incremented each time all n have arrived */
    long n;
} cmlp_barrier;
void cmlp_barrier_init(cmlp_barrier *b, int n);
void cmlp_barrier_wait(cmlp_barrier *b);

#define CMLP_MAX_THREADS 64

/* Everything the threads of train_team share (void pointers: real * of the precision).
 * Inputs: params (P)  grads[k] (P), zero on entry and left zero: one per thread without
 * BLAS, only grads[0] with BLAS  state (2P)  backup (P)  work[k] per thread:
 * cmlp_team_work_size elements  shared: cmlp_team_shared_size elements  X (N, n_0) rows (dense or
 * checked CSR, as train_batches)  T (N, K)  w (N) or NULL
 * perm (n)  U (n, H) or NULL  drop (L - 1)  n  B  arch  opt  stop_nonfinite.
 * Outputs (set when every thread has returned): status, done, loss_sum (+=), opt->t.
 * losses, flags, sparse: one slot per thread, for the exchange between threads. */
typedef struct cmlp_team {
    int n_threads;
    cmlp_barrier barrier;
    void *params, *state, *backup;
    void *grads[CMLP_MAX_THREADS];
    void *work[CMLP_MAX_THREADS];
    void *shared;
    cmlp_rows X;
    const void *T, *U, *w;
    const int64_t *perm;
    const double *drop;
    ptrdiff_t n, B;
    const cmlp_arch *arch;
    cmlp_optim *opt;
    int stop_nonfinite;
    double losses[CMLP_MAX_THREADS];
    int flags[CMLP_MAX_THREADS];
    int sparse[CMLP_MAX_THREADS];
    int status;
    ptrdiff_t done;
    double loss_sum;
} cmlp_team;

/* Elements of one thread's work in train_team. Without BLAS: its rows of a batch
 * (ceil(B / n_threads) rows of X and T, and their weights), then cmlp_dropout_work_size.
 * With BLAS: the sparse index region of one block. */
ptrdiff_t cmlp_team_work_size(const cmlp_arch *arch, ptrdiff_t B, int n_threads);

/* Elements of train_team's shared work: with BLAS, for C = min(B, CMLP_GEMM_BLOCK) rows, the
 * inputs (C, n_0), targets (C, n_L) and weights (C) of a chunk, its activations and (for
 * dropout) unmasked hidden activations, and its deltas; 0 without BLAS. */
ptrdiff_t cmlp_team_shared_size(const cmlp_arch *arch, ptrdiff_t B);

/* train_batches on a team of team->n_threads threads; each calls this once with its own
 * tid in [0, n_threads), concurrently, and all return the same status.
 * Without BLAS, per batch of m rows: thread k takes rows [m k / T, m (k + 1) / T) of it and
 * sums their gradients into grads[k]; after a barrier, thread k adds the T buffers in
 * thread order over its part [P k / T, P (k + 1) / T) of the parameters, zeroes them there,
 * and applies the optimizer step to that part; a second barrier ends the batch.
 * With BLAS, per chunk of at most CMLP_GEMM_BLOCK rows of a batch (train_batches' blocks):
 * thread k takes the chunk's rows [m k / T, m (k + 1) / T) through the forward pass and the
 * backprop recursion (every layer's S_i into the shared work); after a barrier it computes,
 * over all the chunk's rows, the gradient of the parameter rows it owns (rows
 * [(I + 1) k / T, (I + 1) (k + 1) / T) of each layer's I + 1 rows: W_i's, then b_i) into
 * grads[0]; after the batch's last chunk it applies the optimizer step to those rows; a
 * barrier ends the batch. No gradient is summed across threads, so each sum is the one
 * train_batches forms (GEMMs over a column range may still round differently from the
 * whole-matrix GEMM).
 * Both are deterministic for a given n_threads; a different n_threads changes the order of
 * the gradient sums only. The non-finite and weight rules are train_batches' (every thread
 * sums the whole batch's weights, in order). */
int train_team_f64(cmlp_team *team, int tid);
int train_team_f32(cmlp_team *team, int tid);

/* As net_loss (the same sum, bit for bit), and *correct = the summed weight of the rows
 * whose predicted class equals the target's (their count when w == NULL): argmax of y
 * against argmax of t, or for one output unit y > 0.5 (tanh: > 0) against t > 0.5 (tanh: > 0).
 * params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  work (cmlp_forward_work_size) */
double net_evaluate_f64(double *work, const double *params, const double *X, const double *T,
                        const double *w, ptrdiff_t N, const cmlp_arch *arch, double *correct);
double net_evaluate_f32(float *work, const float *params, const float *X, const float *T,
                        const float *w, ptrdiff_t N, const cmlp_arch *arch, double *correct);

#ifdef __cplusplus
}
#endif

#endif /* CMLP_H */
