/* activation_tmpl.h -- activations and their derivatives (from the output a); see cmlp.h. */

static real FN(sigmoid)(real x) { return R_LIT(1.0) / (R_LIT(1.0) + R_EXP(-x)); }

void FN(act_forward)(real *a, ptrdiff_t B, ptrdiff_t O, int act)
{
    /* a (B, O) */
    const ptrdiff_t n = B * O;
    ptrdiff_t i, r, j;
    switch (act) {
    case CMLP_SIGMOID:
        for (i = 0; i < n; i++) a[i] = FN(sigmoid)(a[i]);
        break;
    case CMLP_TANH:
        for (i = 0; i < n; i++) a[i] = R_TANH(a[i]);
        break;
    case CMLP_RELU: /* written so that NaN passes through (x < 0 is false for NaN) */
        CMLP_SIMD
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? R_LIT(0.0) : a[i];
        break;
    case CMLP_LEAKY_RELU:
        CMLP_SIMD
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? R_LIT(0.01) * a[i] : a[i];
        break;
    case CMLP_ELU:
        for (i = 0; i < n; i++) a[i] = a[i] < 0 ? R_EXPM1(a[i]) : a[i];
        break;
    case CMLP_EXP:
        for (i = 0; i < n; i++) a[i] = R_EXP(a[i]);
        break;
    case CMLP_SOFTMAX:
        for (r = 0; r < B; r++) {
            real *row = a + r * O;
            real m = row[0], s = 0;
            for (j = 1; j < O; j++) m = row[j] > m ? row[j] : m;
            for (j = 0; j < O; j++) {
                row[j] = R_EXP(row[j] - m);
                s += row[j];
            }
            for (j = 0; j < O; j++) row[j] /= s;
        }
        break;
    default: /* CMLP_IDENTITY */
        break;
    }
}

void FN(act_backward)(real *d, const real *a, ptrdiff_t n, int act)
{
    /* d, a (n) */
    ptrdiff_t i;
    switch (act) {
    case CMLP_SIGMOID:
        CMLP_SIMD
        for (i = 0; i < n; i++) d[i] *= a[i] * (R_LIT(1.0) - a[i]);
        break;
    case CMLP_TANH:
        CMLP_SIMD
        for (i = 0; i < n; i++) d[i] *= R_LIT(1.0) - a[i] * a[i];
        break;
    case CMLP_RELU:
        CMLP_SIMD
        for (i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : R_LIT(0.0);
        break;
    case CMLP_LEAKY_RELU:
        CMLP_SIMD
        for (i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : R_LIT(0.01) * d[i];
        break;
    case CMLP_ELU:
        CMLP_SIMD
        for (i = 0; i < n; i++) d[i] = a[i] > 0 ? d[i] : (a[i] + R_LIT(1.0)) * d[i];
        break;
    case CMLP_EXP:
        CMLP_SIMD
        for (i = 0; i < n; i++) d[i] *= a[i];
        break;
    default: /* CMLP_IDENTITY (softmax never reaches here) */
        break;
    }
}
