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
    case CMLP_EXP: return a;
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

/* y += a0 x0 + a1 x1 + a2 x2 + a3 x3: four rows of W into one accumulator, so the
 * accumulator is loaded and stored once for four inputs (the single-row forward is
 * load/store-bound otherwise). y, x0..x3 (n) */
static void FN(axpy4)(real *CMLP_RESTRICT y, real a0, const real *CMLP_RESTRICT x0, real a1,
                      const real *CMLP_RESTRICT x1, real a2, const real *CMLP_RESTRICT x2,
                      real a3, const real *CMLP_RESTRICT x3, ptrdiff_t n)
{
    ptrdiff_t j;
    CMLP_SIMD
    for (j = 0; j < n; j++) y[j] += ((a0 * x0[j] + a1 * x1[j]) + a2 * x2[j]) + a3 * x3[j];
}

/* w_r -= c_r s for four rows w0..w3 at once, reading s once. w0..w3, s (n) */
static void FN(update4)(real *CMLP_RESTRICT w0, real c0, real *CMLP_RESTRICT w1, real c1,
                        real *CMLP_RESTRICT w2, real c2, real *CMLP_RESTRICT w3, real c3,
                        const real *CMLP_RESTRICT s, ptrdiff_t n)
{
    ptrdiff_t j;
    CMLP_SIMD
    for (j = 0; j < n; j++) {
        const real sj = s[j];
        w0[j] -= c0 * sj;
        w1[j] -= c1 * sj;
        w2[j] -= c2 * sj;
        w3[j] -= c3 * sj;
    }
}

/* returns w . s (the old w), then w -= c s: one pass over the row. w, s (n) */
static real FN(dot_update)(real *CMLP_RESTRICT w, const real *CMLP_RESTRICT s, real c,
                           ptrdiff_t n)
{
    real acc = 0;
    ptrdiff_t j;
    CMLP_SIMD_SUM(acc)
    for (j = 0; j < n; j++) {
        const real wj = w[j];
        acc += wj * s[j];
        w[j] = wj - c * s[j];
    }
    return acc;
}

/* out[r] = w_r . s (the old w_r), then w_r -= c_r s, for four rows at once: s loaded once,
 * four independent sums (one row's sum alone waits on the adder's latency at every step).
 * Each row's sum has the same shape as dot_update's, so a row gets the same bits either way.
 * w0..w3, s (n) */
static void FN(dot_update4)(real out[4], real *CMLP_RESTRICT w0, real *CMLP_RESTRICT w1,
                            real *CMLP_RESTRICT w2, real *CMLP_RESTRICT w3,
                            const real *CMLP_RESTRICT s, const real c[4], ptrdiff_t n)
{
    const real c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    real a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    ptrdiff_t j;
    CMLP_PRAGMA_SIMD_SUM4(a0, a1, a2, a3)
    for (j = 0; j < n; j++) {
        const real sj = s[j], v0 = w0[j], v1 = w1[j], v2 = w2[j], v3 = w3[j];
        a0 += v0 * sj;
        a1 += v1 * sj;
        a2 += v2 * sj;
        a3 += v3 * sj;
        w0[j] = v0 - c0 * sj;
        w1[j] = v1 - c1 * sj;
        w2[j] = v2 - c2 * sj;
        w3[j] = v3 - c3 * sj;
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

/* One row: a = b + x W over the nonzero entries of x, four at a time. x (I) W (I, O) a (O) */
static void FN(dense_forward_row)(real *CMLP_RESTRICT a, const real *x, const real *W,
                                  const real *b, ptrdiff_t I, ptrdiff_t O)
{
    ptrdiff_t k, j, ks[4];
    int m = 0;
    for (j = 0; j < O; j++) a[j] = b[j];
    for (k = 0; k < I; k++) {
        if (x[k] == 0) continue;
        ks[m++] = k;
        if (m == 4) {
            FN(axpy4)(a, x[ks[0]], W + ks[0] * O, x[ks[1]], W + ks[1] * O, x[ks[2]],
                      W + ks[2] * O, x[ks[3]], W + ks[3] * O, O);
            m = 0;
        }
    }
    for (j = 0; j < m; j++) FN(axpy)(a, x[ks[j]], W + ks[j] * O, O);
}

/* The first nonzero entry of x (I) from k on, or I. */
static ptrdiff_t FN(next_nonzero)(const real *x, ptrdiff_t k, ptrdiff_t I)
{
    while (k < I && x[k] == 0) k++;
    return k;
}

/* W -= lr xu^T s over the nonzero entries of xu from *ju (the next row to update) on, four
 * rows at a time (update4), until every row up to kmax is done: the last group may reach
 * past kmax. A last group of fewer than four (xu has no more) goes row by row. */
static void FN(update_rows_to)(real *W, const real *xu, const real *s, real lr, ptrdiff_t *ju,
                               ptrdiff_t kmax, ptrdiff_t I, ptrdiff_t O)
{
    ptrdiff_t k = *ju, ku[4];
    int m, r;
    while (k <= kmax && k < I) {
        for (m = 0; m < 4 && k < I; m++) {
            ku[m] = k;
            k = FN(next_nonzero)(xu, k + 1, I);
        }
        if (m == 4)
            FN(update4)(W + ku[0] * O, lr * xu[ku[0]], W + ku[1] * O, lr * xu[ku[1]],
                        W + ku[2] * O, lr * xu[ku[2]], W + ku[3] * O, lr * xu[ku[3]], s, O);
        else
            for (r = 0; r < m; r++) FN(axpy)(W + ku[r] * O, -lr * xu[ku[r]], s, O);
    }
    *ju = k;
}

/* The first layer of the per-sample loop, one row's update fused with the next row's forward
 * ("lookahead"): W -= lr xu^T s over the nonzero entries of xu, then, if xf != NULL,
 * a = b + xf W over the nonzero entries of xf with the updated rows, in one pass over the
 * union of the two rows' nonzero inputs, so that a row of W that both use is fetched once
 * (it is in L1 when the forward reads it). Before each group of four forward rows, the
 * updates run up to the group's last row, four rows at a time, the last group reaching past
 * it. a is dense_forward_row's a, bit for bit: the same groups of four nonzero inputs in
 * the same order; an update is exact row by row, so its grouping does not matter. The
 * caller updates b first if it is to be the updated bias.
 * xu, xf (I)  s (O)  W (I, O)  b, a (O) */
static void FN(update_forward_row)(real *a, const real *xf, real *W, const real *b,
                                   const real *xu, const real *s, real lr, ptrdiff_t I,
                                   ptrdiff_t O)
{
    ptrdiff_t k, j, kf[4], ju = FN(next_nonzero)(xu, 0, I);
    int mf = 0, r;
    if (xf != NULL) {
        for (j = 0; j < O; j++) a[j] = b[j];
        for (k = 0; k < I; k++) {
            if (xf[k] == 0) continue;
            kf[mf++] = k;
            if (mf < 4) continue;
            FN(update_rows_to)(W, xu, s, lr, &ju, k, I, O);
            FN(axpy4)(a, xf[kf[0]], W + kf[0] * O, xf[kf[1]], W + kf[1] * O, xf[kf[2]],
                      W + kf[2] * O, xf[kf[3]], W + kf[3] * O, O);
            mf = 0;
        }
    }
    FN(update_rows_to)(W, xu, s, lr, &ju, I, I, O);
    for (r = 0; r < mf; r++) FN(axpy)(a, xf[kf[r]], W + kf[r] * O, O);
}

/* Columns per strip in the blocked forward: 4 rows x CB accumulators stay in registers
 * (with AVX2, 8 doubles or 16 floats are two or four vectors per row). */
#define CMLP_FWD_CB (64 / (ptrdiff_t)sizeof(real))
/* Inputs gathered per pass of the blocked forward (a stack list, no allocation). */
#define CMLP_FWD_KCHUNK 256

/* a[0..3] (+)= x[0..3] W over the inputs listed in ks, for the column strip [j0, j0+CB):
 * the micro-kernel of the blocked forward. a_r (., O) rows, x_r (I) rows, W (I, O). */
static void FN(forward_strip4)(real *a0, real *a1, real *a2, real *a3, const real *x0,
                               const real *x1, const real *x2, const real *x3, const real *W,
                               const ptrdiff_t *ks, ptrdiff_t nk, ptrdiff_t O, ptrdiff_t j0)
{
    real acc[4][CMLP_FWD_CB];
    ptrdiff_t i, j;
    for (j = 0; j < CMLP_FWD_CB; j++) {
        acc[0][j] = a0[j0 + j];
        acc[1][j] = a1[j0 + j];
        acc[2][j] = a2[j0 + j];
        acc[3][j] = a3[j0 + j];
    }
    for (i = 0; i < nk; i++) {
        const ptrdiff_t k = ks[i];
        const real v0 = x0[k], v1 = x1[k], v2 = x2[k], v3 = x3[k];
        const real *w = W + k * O + j0;
        CMLP_SIMD
        for (j = 0; j < CMLP_FWD_CB; j++) {
            acc[0][j] += v0 * w[j];
            acc[1][j] += v1 * w[j];
            acc[2][j] += v2 * w[j];
            acc[3][j] += v3 * w[j];
        }
    }
    for (j = 0; j < CMLP_FWD_CB; j++) {
        a0[j0 + j] = acc[0][j];
        a1[j0 + j] = acc[1][j];
        a2[j0 + j] = acc[2][j];
        a3[j0 + j] = acc[3][j];
    }
}

void FN(dense_forward)(real *a, const real *x, const real *W, const real *b, ptrdiff_t B,
                       ptrdiff_t I, ptrdiff_t O, int act)
{
    /* x (B, I)  W (I, O)  b (O)  a (B, O)
     * Blocks of 4 rows: the inputs nonzero in any of the 4 rows are listed (a zero input
     * adds nothing, exactly), then each strip of CB columns accumulates in registers over
     * that list. Leftover rows and columns take the single-row path. */
    const ptrdiff_t CB = CMLP_FWD_CB;
    const ptrdiff_t Ofull = O - O % CB;
    ptrdiff_t ks[CMLP_FWD_KCHUNK];
    ptrdiff_t r0 = 0, r, k0, k, j, j0, nk;
    for (; r0 + 4 <= B && Ofull > 0; r0 += 4) {
        const real *x0 = x + r0 * I, *x1 = x0 + I, *x2 = x1 + I, *x3 = x2 + I;
        real *a0 = a + r0 * O, *a1 = a0 + O, *a2 = a1 + O, *a3 = a2 + O;
        for (j = 0; j < O; j++) a0[j] = a1[j] = a2[j] = a3[j] = b[j];
        for (k0 = 0; k0 < I; k0 += CMLP_FWD_KCHUNK) {
            const ptrdiff_t k1 = I - k0 < CMLP_FWD_KCHUNK ? I : k0 + CMLP_FWD_KCHUNK;
            nk = 0;
            for (k = k0; k < k1; k++)
                if (x0[k] != 0 || x1[k] != 0 || x2[k] != 0 || x3[k] != 0) ks[nk++] = k;
            if (nk == 0) continue;
            for (j0 = 0; j0 < Ofull; j0 += CB)
                FN(forward_strip4)(a0, a1, a2, a3, x0, x1, x2, x3, W, ks, nk, O, j0);
            for (r = 0; r < 4; r++) { /* the columns past the last full strip */
                const real *xr = x0 + r * I;
                real *ar = a0 + r * O;
                ptrdiff_t i;
                for (i = 0; i < nk; i++) {
                    const real v = xr[ks[i]];
                    const real *w = W + ks[i] * O;
                    if (v == 0) continue;
                    for (j = Ofull; j < O; j++) ar[j] += v * w[j];
                }
            }
        }
    }
    for (; r0 < B; r0++) FN(dense_forward_row)(a + r0 * O, x + r0 * I, W, b, I, O);
    FN(act_forward)(a, B, O, act);
}

/* dW[k_i, j0:j0+CB] += sum_r x[r, k_i] dz[r, j0:j0+CB] for the four inputs ks[0..3]:
 * 4 x CB accumulators in registers over the B rows, each dz strip loaded once for four
 * rows of dW. x (B, I)  dz (B, O)  dW (I, O) */
static void FN(grad_strip4)(real *dW, const real *x, const real *dz, const ptrdiff_t *ks,
                            ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, ptrdiff_t j0)
{
    real acc[4][CMLP_FWD_CB];
    ptrdiff_t i, j, r;
    for (i = 0; i < 4; i++)
        for (j = 0; j < CMLP_FWD_CB; j++) acc[i][j] = 0;
    for (r = 0; r < B; r++) {
        const real *xr = x + r * I, *d = dz + r * O + j0;
        const real v0 = xr[ks[0]], v1 = xr[ks[1]], v2 = xr[ks[2]], v3 = xr[ks[3]];
        CMLP_SIMD
        for (j = 0; j < CMLP_FWD_CB; j++) {
            acc[0][j] += v0 * d[j];
            acc[1][j] += v1 * d[j];
            acc[2][j] += v2 * d[j];
            acc[3][j] += v3 * d[j];
        }
    }
    for (i = 0; i < 4; i++) {
        real *w = dW + ks[i] * O + j0;
        for (j = 0; j < CMLP_FWD_CB; j++) w[j] += acc[i][j];
    }
}

/* dW[k, c0:O] += sum_r x[r, k] dz[r, c0:O] for the m inputs in ks (the plain loop). */
static void FN(grad_rows)(real *dW, const real *x, const real *dz, const ptrdiff_t *ks,
                          ptrdiff_t m, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, ptrdiff_t c0)
{
    ptrdiff_t i, r;
    for (i = 0; i < m; i++) {
        real *dWk = dW + ks[i] * O;
        for (r = 0; r < B; r++) {
            const real xv = x[r * I + ks[i]];
            if (xv != 0) FN(axpy)(dWk + c0, xv, dz + r * O + c0, O - c0);
        }
    }
}

/* out[r] = W_k . dz_r for four rows r of dz at once, W_k loaded once. W_k (O)  dz_r (O) */
static void FN(dot4)(real out[4], const real *CMLP_RESTRICT w, const real *CMLP_RESTRICT d0,
                     const real *CMLP_RESTRICT d1, const real *CMLP_RESTRICT d2,
                     const real *CMLP_RESTRICT d3, ptrdiff_t n)
{
    real s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    ptrdiff_t j;
    CMLP_PRAGMA_SIMD_SUM4(s0, s1, s2, s3)
    for (j = 0; j < n; j++) {
        const real wj = w[j];
        s0 += wj * d0[j];
        s1 += wj * d1[j];
        s2 += wj * d2[j];
        s3 += wj * d3[j];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}

void FN(dense_backward)(real *dx, real *dW, real *db, const real *dz, const real *x,
                        const real *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x)
{
    /* dz (B, O)  x (B, I)  W (I, O)  dW (I, O)  db (O)  dx (B, I)
     * dW: inputs that are zero in every row add nothing (exact) and are skipped; the rest
     * go four at a time through register-blocked strips. dx: one row of W against four
     * rows of dz at a time. */
    const ptrdiff_t CB = CMLP_FWD_CB, Ofull = O - O % CB;
    ptrdiff_t r, k, j, j0, ks[4], m = 0;
    real d4[4];
    for (r = 0; r < B; r++) FN(axpy)(db, R_LIT(1.0), dz + r * O, O);
    for (k = 0; k < I; k++) {
        int any = 0;
        for (r = 0; r < B && !any; r++) any = x[r * I + k] != 0;
        if (!any) continue;
        ks[m++] = k;
        if (m == 4) {
            for (j0 = 0; j0 < Ofull; j0 += CB) FN(grad_strip4)(dW, x, dz, ks, B, I, O, j0);
            FN(grad_rows)(dW, x, dz, ks, 4, B, I, O, Ofull); /* columns past the last strip */
            m = 0;
        }
    }
    FN(grad_rows)(dW, x, dz, ks, m, B, I, O, 0); /* a last group of fewer than 4 inputs */
    if (dx == NULL) return;
    for (k = 0; k < I; k++) {
        const real *Wk = W + k * O;
        for (r = 0; r + 4 <= B; r += 4) {
            FN(dot4)(d4, Wk, dz + r * O, dz + (r + 1) * O, dz + (r + 2) * O, dz + (r + 3) * O, O);
            for (j = 0; j < 4; j++)
                dx[(r + j) * I + k] = d4[j] * FN(act_deriv)(x[(r + j) * I + k], act_x);
        }
        for (; r < B; r++) dx[r * I + k] = FN(dot)(Wk, dz + r * O, O) * FN(act_deriv)(x[r * I + k], act_x);
    }
}

void FN(dense_backward_sgd)(real *dx, real *W, real *b, const real *s, const real *x, real lr,
                            ptrdiff_t I, ptrdiff_t O, int act_x)
{
    /* x (I)  s (O)  W (I, O)  b (O)  dx (I)
     * Row k of W is read once: its product with s (the old weights) and its update in the
     * same loop. A zero input leaves its row unchanged, so the update skips it (exact). */
    ptrdiff_t k;
    if (dx != NULL) {
        /* rows whose input is nonzero (product and update) go four at a time through
         * dot_update4, the others (product only) four at a time through dot4 */
        ptrdiff_t ku[4], kz[4];
        real c[4], out[4];
        int mu = 0, mz = 0, r;
        for (k = 0; k < I; k++) {
            if (x[k] != 0) {
                c[mu] = lr * x[k];
                ku[mu++] = k;
                if (mu < 4) continue;
                FN(dot_update4)(out, W + ku[0] * O, W + ku[1] * O, W + ku[2] * O,
                                W + ku[3] * O, s, c, O);
                for (r = 0; r < 4; r++) dx[ku[r]] = out[r] * FN(act_deriv)(x[ku[r]], act_x);
                mu = 0;
            } else {
                kz[mz++] = k;
                if (mz < 4) continue;
                FN(dot4)(out, s, W + kz[0] * O, W + kz[1] * O, W + kz[2] * O, W + kz[3] * O, O);
                for (r = 0; r < 4; r++) dx[kz[r]] = out[r] * FN(act_deriv)(x[kz[r]], act_x);
                mz = 0;
            }
        }
        for (r = 0; r < mu; r++)
            dx[ku[r]] = FN(dot_update)(W + ku[r] * O, s, c[r], O) * FN(act_deriv)(x[ku[r]], act_x);
        for (r = 0; r < mz; r++)
            dx[kz[r]] = FN(dot)(W + kz[r] * O, s, O) * FN(act_deriv)(x[kz[r]], act_x);
    } else {
        /* the first layer: only the update, over the nonzero inputs */
        FN(update_forward_row)(NULL, NULL, W, NULL, x, s, lr, I, O);
    }
    FN(axpy)(b, -lr, s, O);
}
