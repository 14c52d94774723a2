/* dispatch_tmpl.h -- for one precision: the table of kernel variants and the public entry
 * points of cmlp.h, each forwarding to the variant of the selected instruction set. */

typedef struct {
    void (*act_forward)(real *, ptrdiff_t, ptrdiff_t, int);
    void (*act_backward)(real *, const real *, ptrdiff_t, int);
    void (*dense_forward)(real *, const real *, const real *, const real *, ptrdiff_t, ptrdiff_t,
                          ptrdiff_t, int);
    void (*dense_backward)(real *, real *, real *, const real *, const real *, const real *,
                           ptrdiff_t, ptrdiff_t, ptrdiff_t, int);
    void (*dense_backward_sgd)(real *, real *, real *, const real *, const real *, real,
                               ptrdiff_t, ptrdiff_t, int);
    double (*loss_forward)(const real *, const real *, ptrdiff_t, ptrdiff_t, int, int);
    void (*output_delta)(real *, const real *, const real *, ptrdiff_t, ptrdiff_t, int, int);
    void (*sgd_update)(real *, const real *, real, ptrdiff_t);
    void (*net_forward)(real *, real *, const real *, const real *, ptrdiff_t,
                        const cmlp_arch *);
    double (*net_loss)(real *, const real *, const real *, const real *, const real *,
                       ptrdiff_t, const cmlp_arch *);
    double (*net_gradients)(real *, real *, const real *, const real *, const real *,
                            const real *, ptrdiff_t, const cmlp_arch *);
    int (*sgd_epoch)(real *, real *, const real *, const real *, const real *, const int64_t *,
                     ptrdiff_t, const cmlp_arch *, real, int, ptrdiff_t *, double *);
    void (*momentum_update)(real *, real *, const real *, real, real, int, ptrdiff_t);
    void (*adagrad_update)(real *, real *, const real *, real, real, ptrdiff_t);
    void (*rmsprop_update)(real *, real *, const real *, real, real, real, ptrdiff_t);
    void (*adam_update)(real *, real *, real *, const real *, real, real, real, real, int64_t,
                        ptrdiff_t);
    double (*penalty_grad)(real *, const real *, real, real, const cmlp_arch *);
    double (*optim_step)(real *, real *, real *, cmlp_optim *, real, const cmlp_arch *);
    double (*net_gradients_dropout)(real *, real *, const real *, const real *, const real *,
                                    const real *, const real *, const double *, ptrdiff_t,
                                    const cmlp_arch *);
    int (*train_batches)(real *, real *, real *, real *, const cmlp_rows *, const real *,
                         const real *, const int64_t *, ptrdiff_t, ptrdiff_t, const real *,
                         const double *, const cmlp_arch *, cmlp_optim *, int, ptrdiff_t *,
                         double *);
    double (*net_evaluate)(real *, const real *, const real *, const real *, const real *,
                           ptrdiff_t, const cmlp_arch *, double *);
    int (*train_team)(cmlp_team *, int);
} FP(kernel_table);

#define CMLP_VARIANT(name, isa) CMLP_CAT3(FP(name), , isa)
#define CMLP_TABLE(isa)                                                                        \
    {                                                                                          \
        CMLP_VARIANT(act_forward, isa), CMLP_VARIANT(act_backward, isa),                       \
            CMLP_VARIANT(dense_forward, isa), CMLP_VARIANT(dense_backward, isa),               \
            CMLP_VARIANT(dense_backward_sgd, isa), CMLP_VARIANT(loss_forward, isa),            \
            CMLP_VARIANT(output_delta, isa), CMLP_VARIANT(sgd_update, isa),                    \
            CMLP_VARIANT(net_forward, isa), CMLP_VARIANT(net_loss, isa),                       \
            CMLP_VARIANT(net_gradients, isa), CMLP_VARIANT(sgd_epoch, isa),                    \
            CMLP_VARIANT(momentum_update, isa), CMLP_VARIANT(adagrad_update, isa),             \
            CMLP_VARIANT(rmsprop_update, isa), CMLP_VARIANT(adam_update, isa),                 \
            CMLP_VARIANT(penalty_grad, isa), CMLP_VARIANT(optim_step, isa),                    \
            CMLP_VARIANT(net_gradients_dropout, isa), CMLP_VARIANT(train_batches, isa),        \
            CMLP_VARIANT(net_evaluate, isa), CMLP_VARIANT(train_team, isa)                     \
    }

static const FP(kernel_table) FP(tables)[CMLP_N_ISA] = {
#if CMLP_MULTIVERSION
    CMLP_TABLE(_base), CMLP_TABLE(_avx2), CMLP_TABLE(_avx512)
#else
    CMLP_TABLE(_base), CMLP_TABLE(_base), CMLP_TABLE(_base)
#endif
};
#undef CMLP_TABLE
#undef CMLP_VARIANT

#define K (FP(tables)[cmlp_get_isa()])

void FP(act_forward)(real *a, ptrdiff_t B, ptrdiff_t O, int act) { K.act_forward(a, B, O, act); }

void FP(act_backward)(real *d, const real *a, ptrdiff_t n, int act) { K.act_backward(d, a, n, act); }

void FP(dense_forward)(real *a, const real *x, const real *W, const real *b, ptrdiff_t B,
                       ptrdiff_t I, ptrdiff_t O, int act)
{
    K.dense_forward(a, x, W, b, B, I, O, act);
}

void FP(dense_backward)(real *dx, real *dW, real *db, const real *dz, const real *x,
                        const real *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x)
{
    K.dense_backward(dx, dW, db, dz, x, W, B, I, O, act_x);
}

void FP(dense_backward_sgd)(real *dx, real *W, real *b, const real *s, const real *x, real lr,
                            ptrdiff_t I, ptrdiff_t O, int act_x)
{
    K.dense_backward_sgd(dx, W, b, s, x, lr, I, O, act_x);
}

double FP(loss_forward)(const real *y, const real *t, ptrdiff_t B, ptrdiff_t Kout, int loss,
                        int out_act)
{
    return K.loss_forward(y, t, B, Kout, loss, out_act);
}

void FP(output_delta)(real *S, const real *y, const real *t, ptrdiff_t B, ptrdiff_t Kout,
                      int loss, int out_act)
{
    K.output_delta(S, y, t, B, Kout, loss, out_act);
}

void FP(sgd_update)(real *p, const real *g, real lr, ptrdiff_t P) { K.sgd_update(p, g, lr, P); }

void FP(net_forward)(real *Y, real *work, const real *params, const real *X, ptrdiff_t N,
                     const cmlp_arch *arch)
{
    K.net_forward(Y, work, params, X, N, arch);
}

double FP(net_loss)(real *work, const real *params, const real *X, const real *T,
                    const real *w, ptrdiff_t N, const cmlp_arch *arch)
{
    return K.net_loss(work, params, X, T, w, N, arch);
}

double FP(net_gradients)(real *grad, real *work, const real *params, const real *X,
                         const real *T, const real *w, ptrdiff_t N, const cmlp_arch *arch)
{
    return K.net_gradients(grad, work, params, X, T, w, N, arch);
}

int FP(sgd_epoch)(real *params, real *work, const real *X, const real *T, const real *w,
                  const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch, real lr,
                  int stop_nonfinite, ptrdiff_t *done, double *loss_sum)
{
    return K.sgd_epoch(params, work, X, T, w, perm, n, arch, lr, stop_nonfinite, done,
                       loss_sum);
}

void FP(momentum_update)(real *p, real *b, const real *g, real lr, real mu, int nesterov,
                         ptrdiff_t P)
{
    K.momentum_update(p, b, g, lr, mu, nesterov, P);
}

void FP(adagrad_update)(real *p, real *s, const real *g, real lr, real eps, ptrdiff_t P)
{
    K.adagrad_update(p, s, g, lr, eps, P);
}

void FP(rmsprop_update)(real *p, real *v, const real *g, real lr, real alpha, real eps,
                        ptrdiff_t P)
{
    K.rmsprop_update(p, v, g, lr, alpha, eps, P);
}

void FP(adam_update)(real *p, real *m, real *v, const real *g, real lr, real beta1, real beta2,
                     real eps, int64_t t, ptrdiff_t P)
{
    K.adam_update(p, m, v, g, lr, beta1, beta2, eps, t, P);
}

double FP(penalty_grad)(real *g, const real *p, real l1, real l2, const cmlp_arch *arch)
{
    return K.penalty_grad(g, p, l1, l2, arch);
}

double FP(optim_step)(real *params, real *grad, real *state, cmlp_optim *opt, real scale,
                      const cmlp_arch *arch)
{
    return K.optim_step(params, grad, state, opt, scale, arch);
}

double FP(net_gradients_dropout)(real *grad, real *work, const real *params, const real *X,
                                 const real *T, const real *w, const real *U, const double *drop,
                                 ptrdiff_t N, const cmlp_arch *arch)
{
    return K.net_gradients_dropout(grad, work, params, X, T, w, U, drop, N, arch);
}

int FP(train_batches)(real *params, real *grad, real *state, real *work, const cmlp_rows *X,
                      const real *T, const real *w, const int64_t *perm, ptrdiff_t n,
                      ptrdiff_t B, const real *U, const double *drop, const cmlp_arch *arch,
                      cmlp_optim *opt, int stop_nonfinite, ptrdiff_t *done, double *loss_sum)
{
    return K.train_batches(params, grad, state, work, X, T, w, perm, n, B, U, drop, arch, opt,
                           stop_nonfinite, done, loss_sum);
}

double FP(net_evaluate)(real *work, const real *params, const real *X, const real *T,
                        const real *w, ptrdiff_t N, const cmlp_arch *arch, double *correct)
{
    return K.net_evaluate(work, params, X, T, w, N, arch, correct);
}

int FP(train_team)(cmlp_team *team, int tid)
{
    return K.train_team(team, tid);
}

#undef K
