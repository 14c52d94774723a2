/* kernels_decl_tmpl.h -- prototypes of one variant (precision x instruction set) of every
 * kernel; the contracts are in cmlp.h. Included before the definitions (so they are checked
 * against these) and by dispatch.c (which tabulates the variants). */
void FN(act_forward)(real *a, ptrdiff_t B, ptrdiff_t O, int act);
void FN(act_backward)(real *d, const real *a, ptrdiff_t n, int act);
void FN(dense_forward)(real *a, const real *x, const real *W, const real *b, ptrdiff_t B,
                       ptrdiff_t I, ptrdiff_t O, int act);
void FN(dense_backward)(real *dx, real *dW, real *db, const real *dz, const real *x,
                        const real *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x);
void FN(dense_backward_sgd)(real *dx, real *W, real *b, const real *s, const real *x, real lr,
                            ptrdiff_t I, ptrdiff_t O, int act_x);
double FN(loss_forward)(const real *y, const real *t, ptrdiff_t B, ptrdiff_t K, int loss,
                        int out_act);
void FN(output_delta)(real *S, const real *y, const real *t, ptrdiff_t B, ptrdiff_t K, int loss,
                      int out_act);
void FN(sgd_update)(real *p, const real *g, real lr, ptrdiff_t P);
void FN(net_forward)(real *Y, real *work, const real *params, const real *X, ptrdiff_t N,
                     const cmlp_arch *arch);
double FN(net_loss)(real *work, const real *params, const real *X, const real *T,
                    const real *w, ptrdiff_t N, const cmlp_arch *arch);
double FN(net_gradients)(real *grad, real *work, const real *params, const real *X,
                         const real *T, const real *w, ptrdiff_t N, const cmlp_arch *arch);
int FN(sgd_epoch)(real *params, real *work, const real *X, const real *T, const real *w,
                  const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch, real lr, int stop_nonfinite,
                  ptrdiff_t *done, double *loss_sum);
void FN(momentum_update)(real *p, real *b, const real *g, real lr, real mu, int nesterov,
                         ptrdiff_t P);
void FN(adagrad_update)(real *p, real *s, const real *g, real lr, real eps, ptrdiff_t P);
void FN(rmsprop_update)(real *p, real *v, const real *g, real lr, real alpha, real eps,
                        ptrdiff_t P);
void FN(adam_update)(real *p, real *m, real *v, const real *g, real lr, real beta1, real beta2,
                     real eps, int64_t t, ptrdiff_t P);
double FN(penalty_grad)(real *g, const real *p, real l1, real l2, const cmlp_arch *arch);
double FN(optim_step)(real *params, real *grad, real *state, cmlp_optim *opt, real scale,
                      const cmlp_arch *arch);
double FN(net_gradients_dropout)(real *grad, real *work, const real *params, const real *X,
                                 const real *T, const real *w, const real *U, const double *drop, ptrdiff_t N,
                                 const cmlp_arch *arch);
int FN(train_batches)(real *params, real *grad, real *state, real *work, const cmlp_rows *X,
                      const real *T, const real *w, const int64_t *perm, ptrdiff_t n, ptrdiff_t B,
                      const real *U, const double *drop, const cmlp_arch *arch, cmlp_optim *opt,
                      int stop_nonfinite, ptrdiff_t *done, double *loss_sum);
double FN(net_evaluate)(real *work, const real *params, const real *X, const real *T,
                        const real *w, ptrdiff_t N, const cmlp_arch *arch, double *correct);
int FN(train_team)(cmlp_team *team, int tid);
