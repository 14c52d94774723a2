/* dense_tmpl.h -- one fully connected layer: forward, batched backward, per-sample fused
 * backward + SGD update. See the contracts in cmlp.h. */

/* act'(.) at one unit, from the activation output a (not softmax). */
static real FN(act_deriv)(real a, int act)
{
    switch (act) {
    case CMLP_SIGMOID: return a * (R_LIT(1.0) - a);
    case CMLP_TANH: return R_LIT(1.0) - a * a;
    case CMLP_RELU: return a > 0 ? R_LIT(1.0) : R_LIT(0.0);
    case CMLP_LEAKY_RELU: return a > 0 ? R_LIT(1.0) : R_LIT(0.01);
    case CMLP_ELU: return a > 0 ? R_LIT(1.0) : a + R_LIT(1.0);
    default: return R_LIT(1.0);
    }
}

/* y += alpha x; y, x (n) */
static void FN(axpy)(real *CMLP_RESTRICT y, real alpha, const real *CMLP_RESTRICT x, ptrdiff_t n)
{
    ptrdiff_t j;
    CMLP_SIMD
    for (j = 0; j < n; j++) y[j] += alpha * x[j];
}

/* returns x . y; x, y (n) */
static real FN(dot)(const real *CMLP_RESTRICT x, const real *CMLP_RESTRICT y, ptrdiff_t n)
{
    real acc = 0;
    ptrdiff_t j;
    CMLP_SIMD_SUM(acc)
    for (j = 0; j < n; j++) acc += x[j] * y[j];
    return acc;
}

void FN(dense_forward)(real *a, const real *x, const real *W, const real *b, ptrdiff_t B,
                       ptrdiff_t I, ptrdiff_t O, int act)
{
    /* x (B, I)  W (I, O)  b (O)  a (B, O)
     * a_r = b + sum_k x_rk W_k: each row of W is read once per block of 4 rows, while it
     * is in cache, and zero inputs (most MNIST pixels, ReLU zeros) cost one compare. */
    const ptrdiff_t RB = 4;
    ptrdiff_t r0, r, k, nb;
    for (r0 = 0; r0 < B; r0 += RB) {
        nb = B - r0 < RB ? B - r0 : RB;
        for (r = 0; r < nb; r++) {
            real *ar = a + (r0 + r) * O;
            ptrdiff_t j;
            for (j = 0; j < O; j++) ar[j] = b[j];
        }
        for (k = 0; k < I; k++) {
            const real *Wk = W + k * O;
            for (r = 0; r < nb; r++) {
                const real xv = x[(r0 + r) * I + k];
                if (xv != 0) FN(axpy)(a + (r0 + r) * O, xv, Wk, O);
            }
        }
    }
    FN(act_forward)(a, B, O, act);
}

void FN(dense_backward)(real *dx, real *dW, real *db, const real *dz, const real *x,
                        const real *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x)
{
    /* dz (B, O)  x (B, I)  W (I, O)  dW (I, O)  db (O)  dx (B, I) */
    ptrdiff_t r, k;
    for (r = 0; r < B; r++) FN(axpy)(db, R_LIT(1.0), dz + r * O, O);
    for (k = 0; k < I; k++) {
        const real *Wk = W + k * O;
        real *dWk = dW + k * O;
        for (r = 0; r < B; r++) {
            const real xv = x[r * I + k];
            const real *dzr = dz + r * O;
            if (dx != NULL) dx[r * I + k] = FN(dot)(Wk, dzr, O) * FN(act_deriv)(xv, act_x);
            if (xv != 0) FN(axpy)(dWk, xv, dzr, O);
        }
    }
}

void FN(dense_backward_sgd)(real *dx, real *W, real *b, const real *s, const real *x, real lr,
                            ptrdiff_t I, ptrdiff_t O, int act_x)
{
    /* x (I)  s (O)  W (I, O)  b (O)  dx (I)
     * Row k of W is read once: first its product with s (old weights), then its update.
     * A zero input leaves its row unchanged, so the update skips it (exact). */
    ptrdiff_t k;
    for (k = 0; k < I; k++) {
        real *Wk = W + k * O;
        const real xv = x[k];
        if (dx != NULL) dx[k] = FN(dot)(Wk, s, O) * FN(act_deriv)(xv, act_x);
        if (xv != 0) FN(axpy)(Wk, -lr * xv, s, O);
    }
    FN(axpy)(b, -lr, s, O);
}
