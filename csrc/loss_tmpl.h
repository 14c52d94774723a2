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
            if (out_act != CMLP_SOFTMAX) {
                acc -= ti * log(yi);
                acc -= (1 - ti) * log(1 - yi);
            } else if (ti != 0) /* a zero target adds nothing (a NaN output makes every output
                                 of its softmax row NaN, the target's too) */
                acc -= ti * log(yi);
        }
        return acc;
    }
    if (loss == CMLP_POISSON) {
        /* t log(t / y) - t + y, with 0 log 0 = 0; y = 0 or inf gives inf or NaN, as it should */
        for (i = 0; i < n; i++) {
            const double yi = y[i], ti = t[i];
            acc += (ti != 0 ? ti * log(ti / yi) : 0) - ti + yi;
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
        if (loss == CMLP_POISSON) { /* the exp output's derivative y cancels the 1/y */
            for (j = 0; j < K; j++) Sr[j] = yr[j] - tr[j];
        } else if (loss == CMLP_CROSS_ENTROPY) {
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

/* The weighted loss of B rows: sum_r w_r l_r (w NULL: loss_forward itself, bit for bit). Rows
 * of weight 0 are skipped, so a non-finite output there counts for nothing.
 * y, t (B, K)  w (B) or NULL */
static double FN(loss_rows)(const real *y, const real *t, const real *w, ptrdiff_t B,
                            ptrdiff_t K, int loss, int out_act)
{
    double acc = 0;
    ptrdiff_t r;
    if (w == NULL) return FN(loss_forward)(y, t, B, K, loss, out_act);
    for (r = 0; r < B; r++)
        if (w[r] != 0)
            acc += (double)w[r] * FN(loss_forward)(y + r * K, t + r * K, 1, K, loss, out_act);
    return acc;
}

/* S_r = w_r S_r for each of the B rows; rows of weight 0 become exactly 0 (whatever S held).
 * S (B, K)  w (B) */
static void FN(weight_rows)(real *S, const real *w, ptrdiff_t B, ptrdiff_t K)
{
    ptrdiff_t r, j;
    for (r = 0; r < B; r++) {
        real *Sr = S + r * K;
        const real wr = w[r];
        if (wr == 0) {
            for (j = 0; j < K; j++) Sr[j] = 0;
        } else {
            for (j = 0; j < K; j++) Sr[j] *= wr;
        }
    }
}
