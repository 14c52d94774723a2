# Mirrors csrc/cmlp.h line for line (see the contracts there); all nogil.
from libc.stdint cimport int64_t

cdef extern from "cmlp.h" nogil:
    enum:
        CMLP_IDENTITY
        CMLP_SIGMOID
        CMLP_TANH
        CMLP_RELU
        CMLP_LEAKY_RELU
        CMLP_ELU
        CMLP_SOFTMAX
        CMLP_EXP
        CMLP_N_ACT
    enum:
        CMLP_TSE
        CMLP_MSE
        CMLP_CROSS_ENTROPY
        CMLP_POISSON
        CMLP_N_LOSS
    enum:
        CMLP_OK
        CMLP_NONFINITE
    enum:
        CMLP_BLOCK
        CMLP_GEMM_BLOCK
    enum:
        CMLP_OPT_SGD
        CMLP_OPT_MOMENTUM
        CMLP_OPT_NESTEROV
        CMLP_OPT_ADAGRAD
        CMLP_OPT_RMSPROP
        CMLP_OPT_ADAM
        CMLP_N_OPT

    ctypedef void (*cmlp_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                                   double *alpha, double *a, int *lda, double *b, int *ldb,
                                   double *beta, double *c, int *ldc) noexcept nogil
    ctypedef void (*cmlp_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                                   float *alpha, float *a, int *lda, float *b, int *ldb,
                                   float *beta, float *c, int *ldc) noexcept nogil
    ctypedef struct cmlp_blas:
        cmlp_dgemm_fn dgemm
        cmlp_sgemm_fn sgemm

    ctypedef struct cmlp_arch:
        Py_ssize_t n_layers
        const Py_ssize_t *sizes
        const int *acts
        int loss
        const cmlp_blas *blas

    ctypedef struct cmlp_optim:
        int kind
        double lr
        double momentum
        double alpha
        double beta1
        double beta2
        double eps
        double l1
        double l2
        int64_t t
        int scale_penalty

    ctypedef struct cmlp_rows:
        const void *dense
        const void *data
        const void *indices
        const void *indptr
        int index64

    int cmlp_rows_check(const cmlp_rows *X, Py_ssize_t N, Py_ssize_t n0, Py_ssize_t nnz,
                        Py_ssize_t *where)
    void gather_rows_f64(double *Xb, const cmlp_rows *X, const int64_t *perm, Py_ssize_t r0,
                         Py_ssize_t m, Py_ssize_t n0)
    void gather_rows_f32(float *Xb, const cmlp_rows *X, const int64_t *perm, Py_ssize_t r0,
                         Py_ssize_t m, Py_ssize_t n0)

    enum:
        CMLP_MAX_THREADS

    ctypedef struct cmlp_barrier:
        long count
        long phase
        long n

    ctypedef struct cmlp_team:
        int n_threads
        cmlp_barrier barrier
        void *params
        void *state
        void *backup
        void *grads[CMLP_MAX_THREADS]
        void *work[CMLP_MAX_THREADS]
        void *shared
        cmlp_rows X
        const void *T
        const void *U
        const void *w
        const int64_t *perm
        const double *drop
        Py_ssize_t n
        Py_ssize_t B
        const cmlp_arch *arch
        cmlp_optim *opt
        int stop_nonfinite
        double losses[CMLP_MAX_THREADS]
        int flags[CMLP_MAX_THREADS]
        int status
        Py_ssize_t done
        double loss_sum

    void cmlp_barrier_init(cmlp_barrier *b, int n)
    Py_ssize_t cmlp_team_work_size(const cmlp_arch *arch, Py_ssize_t B, int n_threads)
    Py_ssize_t cmlp_team_shared_size(const cmlp_arch *arch, Py_ssize_t B)
    int train_team_f64(cmlp_team *team, int tid)
    int train_team_f32(cmlp_team *team, int tid)

    int cmlp_isa_available(int isa)
    int cmlp_get_isa()
    int cmlp_set_isa(int isa)
    const char *cmlp_isa_name(int isa)

    Py_ssize_t cmlp_param_count(const cmlp_arch *arch)
    Py_ssize_t cmlp_max_width(const cmlp_arch *arch)
    Py_ssize_t cmlp_sgd_work_size(const cmlp_arch *arch)
    Py_ssize_t cmlp_forward_work_size(const cmlp_arch *arch)
    Py_ssize_t cmlp_gradient_work_size(const cmlp_arch *arch)
    Py_ssize_t cmlp_dropout_work_size(const cmlp_arch *arch)
    Py_ssize_t cmlp_block_rows(const cmlp_arch *arch)

    void act_forward_f64(double *a, Py_ssize_t B, Py_ssize_t O, int act)
    void act_forward_f32(float *a, Py_ssize_t B, Py_ssize_t O, int act)
    void act_backward_f64(double *d, const double *a, Py_ssize_t n, int act)
    void act_backward_f32(float *d, const float *a, Py_ssize_t n, int act)

    void dense_forward_f64(double *a, const double *x, const double *W, const double *b,
                           Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act)
    void dense_forward_f32(float *a, const float *x, const float *W, const float *b,
                           Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act)
    void dense_backward_f64(double *dx, double *dW, double *db, const double *dz, const double *x,
                            const double *W, Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act_x)
    void dense_backward_f32(float *dx, float *dW, float *db, const float *dz, const float *x,
                            const float *W, Py_ssize_t B, Py_ssize_t I, Py_ssize_t O, int act_x)
    void dense_backward_sgd_f64(double *dx, double *W, double *b, const double *s, const double *x,
                                double lr, Py_ssize_t I, Py_ssize_t O, int act_x)
    void dense_backward_sgd_f32(float *dx, float *W, float *b, const float *s, const float *x,
                                float lr, Py_ssize_t I, Py_ssize_t O, int act_x)

    double loss_forward_f64(const double *y, const double *t, Py_ssize_t B, Py_ssize_t K,
                            int loss, int out_act)
    double loss_forward_f32(const float *y, const float *t, Py_ssize_t B, Py_ssize_t K,
                            int loss, int out_act)
    void output_delta_f64(double *S, const double *y, const double *t, Py_ssize_t B,
                          Py_ssize_t K, int loss, int out_act)
    void output_delta_f32(float *S, const float *y, const float *t, Py_ssize_t B,
                          Py_ssize_t K, int loss, int out_act)

    void sgd_update_f64(double *p, const double *g, double lr, Py_ssize_t P)
    void sgd_update_f32(float *p, const float *g, float lr, Py_ssize_t P)

    void momentum_update_f64(double *p, double *b, const double *g, double lr, double mu,
                             int nesterov, Py_ssize_t P)
    void momentum_update_f32(float *p, float *b, const float *g, float lr, float mu,
                             int nesterov, Py_ssize_t P)
    void adagrad_update_f64(double *p, double *s, const double *g, double lr, double eps,
                            Py_ssize_t P)
    void adagrad_update_f32(float *p, float *s, const float *g, float lr, float eps, Py_ssize_t P)
    void rmsprop_update_f64(double *p, double *v, const double *g, double lr, double alpha,
                            double eps, Py_ssize_t P)
    void rmsprop_update_f32(float *p, float *v, const float *g, float lr, float alpha, float eps,
                            Py_ssize_t P)
    void adam_update_f64(double *p, double *m, double *v, const double *g, double lr,
                         double beta1, double beta2, double eps, int64_t t, Py_ssize_t P)
    void adam_update_f32(float *p, float *m, float *v, const float *g, float lr, float beta1,
                         float beta2, float eps, int64_t t, Py_ssize_t P)
    double penalty_grad_f64(double *g, const double *p, double l1, double l2,
                            const cmlp_arch *arch)
    double penalty_grad_f32(float *g, const float *p, float l1, float l2, const cmlp_arch *arch)
    double optim_step_f64(double *params, double *grad, double *state, cmlp_optim *opt,
                          double scale, const cmlp_arch *arch)
    double optim_step_f32(float *params, float *grad, float *state, cmlp_optim *opt,
                          float scale, const cmlp_arch *arch)

    void net_forward_f64(double *Y, double *work, const double *params, const double *X,
                         Py_ssize_t N, const cmlp_arch *arch)
    void net_forward_f32(float *Y, float *work, const float *params, const float *X,
                         Py_ssize_t N, const cmlp_arch *arch)
    double net_loss_f64(double *work, const double *params, const double *X, const double *T,
                        const double *w, Py_ssize_t N, const cmlp_arch *arch)
    double net_loss_f32(float *work, const float *params, const float *X, const float *T,
                        const float *w, Py_ssize_t N, const cmlp_arch *arch)
    double net_gradients_f64(double *grad, double *work, const double *params, const double *X,
                             const double *T, const double *w, Py_ssize_t N,
                             const cmlp_arch *arch)
    double net_gradients_f32(float *grad, float *work, const float *params, const float *X,
                             const float *T, const float *w, Py_ssize_t N, const cmlp_arch *arch)
    int sgd_epoch_f64(double *params, double *work, const double *X, const double *T,
                      const double *w, const int64_t *perm, Py_ssize_t n, const cmlp_arch *arch,
                      double lr, int stop_nonfinite, Py_ssize_t *done, double *loss_sum)
    int sgd_epoch_f32(float *params, float *work, const float *X, const float *T,
                      const float *w, const int64_t *perm, Py_ssize_t n, const cmlp_arch *arch,
                      float lr, int stop_nonfinite, Py_ssize_t *done, double *loss_sum)

    double net_gradients_dropout_f64(double *grad, double *work, const double *params,
                                     const double *X, const double *T, const double *w,
                                     const double *U, const double *drop, Py_ssize_t N,
                                     const cmlp_arch *arch)
    double net_gradients_dropout_f32(float *grad, float *work, const float *params,
                                     const float *X, const float *T, const float *w,
                                     const float *U, const double *drop, Py_ssize_t N,
                                     const cmlp_arch *arch)
    int train_batches_f64(double *params, double *grad, double *state, double *work,
                          const cmlp_rows *X, const double *T, const double *w,
                          const int64_t *perm, Py_ssize_t n, Py_ssize_t B, const double *U,
                          const double *drop, const cmlp_arch *arch, cmlp_optim *opt,
                          int stop_nonfinite, Py_ssize_t *done, double *loss_sum)
    int train_batches_f32(float *params, float *grad, float *state, float *work,
                          const cmlp_rows *X, const float *T, const float *w,
                          const int64_t *perm, Py_ssize_t n, Py_ssize_t B, const float *U,
                          const double *drop, const cmlp_arch *arch, cmlp_optim *opt,
                          int stop_nonfinite, Py_ssize_t *done, double *loss_sum)
    double net_evaluate_f64(double *work, const double *params, const double *X, const double *T,
                            const double *w, Py_ssize_t N, const cmlp_arch *arch,
                            double *correct)
    double net_evaluate_f32(float *work, const float *params, const float *X, const float *T,
                            const float *w, Py_ssize_t N, const cmlp_arch *arch,
                            double *correct)
