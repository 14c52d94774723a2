/* optim_tmpl.h -- in-place parameter updates over the flat buffer; see cmlp.h. */

void FN(sgd_update)(real *p, const real *g, real lr, ptrdiff_t P)
{
    /* p, g (P) */
    ptrdiff_t i;
    CMLP_SIMD
    for (i = 0; i < P; i++) p[i] -= lr * g[i];
}

#undef R_SQRT
#if defined(CMLP_F32)
#define R_SQRT sqrtf
#else
#define R_SQRT sqrt
#endif

/* The optimizers of torch.optim, as its documentation writes them (see cmlp.h). Each update
 * reads the gradient g once and its state arrays in place; lr and the hyperparameters arrive
 * in the precision of the parameters. */

void FN(momentum_update)(real *p, real *b, const real *g, real lr, real mu, int nesterov,
                         ptrdiff_t P)
{
    /* p, b, g (P) */
    ptrdiff_t i;
    if (nesterov) {
        CMLP_SIMD
        for (i = 0; i < P; i++) {
            b[i] = mu * b[i] + g[i];
            p[i] -= lr * (g[i] + mu * b[i]);
        }
    } else {
        CMLP_SIMD
        for (i = 0; i < P; i++) {
            b[i] = mu * b[i] + g[i];
            p[i] -= lr * b[i];
        }
    }
}

void FN(adagrad_update)(real *p, real *s, const real *g, real lr, real eps, ptrdiff_t P)
{
    /* p, s, g (P) */
    ptrdiff_t i;
    CMLP_SIMD
    for (i = 0; i < P; i++) {
        s[i] += g[i] * g[i];
        p[i] -= lr * g[i] / (R_SQRT(s[i]) + eps);
    }
}

void FN(rmsprop_update)(real *p, real *v, const real *g, real lr, real alpha, real eps,
                        ptrdiff_t P)
{
    /* p, v, g (P) */
    const real one_m_alpha = 1 - alpha;
    ptrdiff_t i;
    CMLP_SIMD
    for (i = 0; i < P; i++) {
        v[i] = alpha * v[i] + one_m_alpha * (g[i] * g[i]);
        p[i] -= lr * g[i] / (R_SQRT(v[i]) + eps);
    }
}

void FN(adam_update)(real *p, real *m, real *v, const real *g, real lr, real beta1, real beta2,
                     real eps, int64_t t, ptrdiff_t P)
{
    /* p, m, v, g (P); t >= 1 is this step's number. The bias corrections in double. */
    const real c1 = (real)(1.0 - pow((double)beta1, (double)t));
    const real c2sqrt = (real)sqrt(1.0 - pow((double)beta2, (double)t));
    const real one_m_b1 = 1 - beta1, one_m_b2 = 1 - beta2;
    ptrdiff_t i;
    CMLP_SIMD
    for (i = 0; i < P; i++) {
        m[i] = beta1 * m[i] + one_m_b1 * g[i];
        v[i] = beta2 * v[i] + one_m_b2 * (g[i] * g[i]);
        p[i] -= lr * (m[i] / c1) / (R_SQRT(v[i]) / c2sqrt + eps);
    }
}

/* The penalty over the part [lo, hi) of the flat buffer: the W_i entries in it only, never
 * the b_i (see penalty_grad in cmlp.h). g, p (P) */
static double FN(penalty_grad_range)(real *g, const real *p, real l1, real l2,
                                     const cmlp_arch *arch, ptrdiff_t lo, ptrdiff_t hi)
{
    const ptrdiff_t L = arch->n_layers;
    const real two_l2 = 2 * l2;
    double s1 = 0, s2 = 0;
    ptrdiff_t i, j, off = 0;
    for (i = 0; i < L; i++) {
        const ptrdiff_t n = arch->sizes[i] * arch->sizes[i + 1];
        /* this layer's weights W_i are [off, off + n); their part inside [lo, hi) */
        const ptrdiff_t a = off > lo ? off : lo, b = off + n < hi ? off + n : hi;
        off += n + arch->sizes[i + 1];
        if (a < b) {
            const real *w = p + a;
            const ptrdiff_t m = b - a;
            double a1 = 0, a2 = 0;
            CMLP_SIMD_SUM(a1)
            for (j = 0; j < m; j++) a1 += fabs((double)w[j]);
            CMLP_SIMD_SUM(a2)
            for (j = 0; j < m; j++) a2 += (double)w[j] * (double)w[j];
            s1 += a1;
            s2 += a2;
            if (g != NULL) {
                real *gw = g + a;
                if (l2 != 0) {
                    CMLP_SIMD
                    for (j = 0; j < m; j++) gw[j] += two_l2 * w[j];
                }
                if (l1 != 0) {
                    CMLP_SIMD
                    for (j = 0; j < m; j++) gw[j] += w[j] > 0 ? l1 : (w[j] < 0 ? -l1 : 0);
                }
            }
        }
    }
    return (double)l1 * s1 + (double)l2 * s2;
}

double FN(penalty_grad)(real *g, const real *p, real l1, real l2, const cmlp_arch *arch)
{
    /* g, p (P); only the W_i blocks of the flat buffer, never the b_i */
    return FN(penalty_grad_range)(g, p, l1, l2, arch, 0, cmlp_param_count(arch));
}

/* optim_step's update on the part [lo, hi) of the flat buffer, as step number t (opt->t is
 * not touched): the threads of the multi-threaded driver each update their own part.
 * params, grad (P)  state (2P) */
static double FN(optim_step_range)(real *params, real *grad, real *state,
                                   const cmlp_optim *opt, real scale, const cmlp_arch *arch,
                                   ptrdiff_t lo, ptrdiff_t hi, int64_t t)
{
    const ptrdiff_t P = cmlp_param_count(arch), n = hi - lo;
    const real lr = (real)opt->lr;
    real *p = params + lo, *g = grad + lo, *st = state + lo;
    double pen = 0;
    ptrdiff_t i;
    if (opt->kind == CMLP_OPT_SGD && opt->l1 == 0 && opt->l2 == 0) {
        /* p -= (lr scale) g: one pass; grad is left unscaled */
        FN(sgd_update)(p, g, (real)(opt->lr * (double)scale), n);
        return 0;
    }
    if (scale != 1) {
        CMLP_SIMD
        for (i = 0; i < n; i++) g[i] *= scale;
    }
    if (opt->l1 != 0 || opt->l2 != 0) {
        /* scale_penalty: the penalty per unit of the batch's weight (scikit-learn's alpha) */
        const double ps = opt->scale_penalty ? (double)scale : 1.0;
        pen = FN(penalty_grad_range)(grad, params, (real)(opt->l1 * ps), (real)(opt->l2 * ps),
                                     arch, lo, hi);
    }
    switch (opt->kind) {
    case CMLP_OPT_MOMENTUM:
    case CMLP_OPT_NESTEROV:
        FN(momentum_update)(p, st, g, lr, (real)opt->momentum, opt->kind == CMLP_OPT_NESTEROV, n);
        break;
    case CMLP_OPT_ADAGRAD: FN(adagrad_update)(p, st, g, lr, (real)opt->eps, n); break;
    case CMLP_OPT_RMSPROP:
        FN(rmsprop_update)(p, st, g, lr, (real)opt->alpha, (real)opt->eps, n);
        break;
    case CMLP_OPT_ADAM:
        FN(adam_update)(p, st, st + P, g, lr, (real)opt->beta1, (real)opt->beta2, (real)opt->eps,
                        t, n);
        break;
    default: FN(sgd_update)(p, g, lr, n); break;
    }
    return pen;
}

double FN(optim_step)(real *params, real *grad, real *state, cmlp_optim *opt, real scale,
                      const cmlp_arch *arch)
{
    /* params, grad (P)  state (2P) */
    opt->t += 1;
    return FN(optim_step_range)(params, grad, state, opt, scale, arch, 0, cmlp_param_count(arch),
                                opt->t);
}
