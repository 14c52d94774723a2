/* loss_tmpl.h -- per-row losses and the output-layer delta S_L; see cmlp.h. */

double FN(loss_forward)(const real *y, const real *t, ptrdiff_t B, ptrdiff_t K, int loss,
                        int out_act)
{
    /* y, t (B, K) */
    const ptrdiff_t n = B * K;
    const double eps = R_EPS;
    double acc = 0;
    ptrdiff_t i;
    if (loss == CMLP_CROSS_ENTROPY) {
        for (i = 0; i < n; i++) {
            double yi = y[i], ti = t[i];
            /* clip to [eps, 1 - eps]; NaN passes through */
            yi = yi < eps ? eps : (yi > 1 - eps ? 1 - eps : yi);
            acc -= ti * log(yi);
            if (out_act != CMLP_SOFTMAX) acc -= (1 - ti) * log(1 - yi);
        }
        return acc;
    }
    for (i = 0; i < n; i++) {
        const double e = (double)t[i] - (double)y[i];
        acc += e * e;
    }
    return loss == CMLP_MSE ? 0.5 * acc : acc;
}

void FN(output_delta)(real *S, const real *y, const real *t, ptrdiff_t B, ptrdiff_t K, int loss,
                      int out_act)
{
    /* y, t, S (B, K) */
    ptrdiff_t r, j;
    const real gscale = loss == CMLP_TSE ? R_LIT(-2.0) : R_LIT(-1.0); /* g = gscale (t - y) */
    for (r = 0; r < B; r++) {
        const real *yr = y + r * K, *tr = t + r * K;
        real *Sr = S + r * K;
        if (loss == CMLP_CROSS_ENTROPY) {
            if (out_act == CMLP_SOFTMAX) {
                real st = 0;
                for (j = 0; j < K; j++) st += tr[j];
                for (j = 0; j < K; j++) Sr[j] = yr[j] * st - tr[j];
            } else { /* sigmoid: the sigmoid derivative cancels the loss's denominator */
                for (j = 0; j < K; j++) Sr[j] = yr[j] - tr[j];
            }
        } else if (out_act == CMLP_SOFTMAX) {
            /* S = J g with J = diag(y) - y y^T: S = y * (g - y.g) */
            real yg = 0;
            for (j = 0; j < K; j++) {
                Sr[j] = gscale * (tr[j] - yr[j]);
                yg += yr[j] * Sr[j];
            }
            for (j = 0; j < K; j++) Sr[j] = yr[j] * (Sr[j] - yg);
        } else {
            for (j = 0; j < K; j++) Sr[j] = gscale * (tr[j] - yr[j]);
            FN(act_backward)(Sr, yr, K, out_act);
        }
    }
}
