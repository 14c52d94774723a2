/* activation_tmpl.h -- activations and their derivatives (from the output a); see cmlp.h. */

/* The exponential of n values, vectorised (libm's exp is a scalar call per value): out[i] =
 * exp(x[i]); out may be x. Within |x| <= VEXP_LIMIT every result is a normal number and is
 * computed as 2^k e^r: k = round(x / ln 2) (the 1.5 2^M shift: t's low bits hold k), r = x -
 * k ln 2 in two parts (Cody-Waite: k LN2_HI is exact), e^r = 1 + (r + r^2 q(r)) with q the
 * Taylor series to r^13 (float: r^7), whose remainder is below 0.05 ulp for |r| <= ln2 / 2,
 * and 2^k added into the exponent bits: within 1 ulp of the exactly rounded value, as
 * NumPy's exp (tests/test_core_kernels.py checks 650,000 values per precision and ISA), at
 * about 1.3 ns per double with AVX-512 against ~10 for libm's scalar call. The values go
 * in pieces of VEXP_PIECE: a piece with any value outside (large, infinite, NaN) takes
 * libm's exp, so special values are libm's, and one such value costs its piece only (a
 * saturated unit in a block of 512 rows would otherwise send the whole block to libm). No
 * contraction: the same bits on every ISA. */
#define VEXP_PIECE 64
#if defined(CMLP_F32)
#define VEXP_LIMIT 86.0f /* exp(-86) = 4.4e-38 > FLT_MIN: normal */
#else
#define VEXP_LIMIT 707.0 /* exp(-707) = 9.8e-308 > DBL_MIN */
#endif
static void FN(vexp_piece)(real *out, const real *x, ptrdiff_t n)
{
#if defined(CMLP_F32)
    typedef uint32_t bits_t;
    const int mant = 23;
    const real shift = 12582912.0f, inv_ln2 = 1.44269504088896341f;
    const real ln2_hi = 6.9314575195e-01f, ln2_lo = 1.4286067653e-06f;
#else
    typedef uint64_t bits_t;
    const int mant = 52;
    const real shift = 6755399441055744.0, inv_ln2 = 1.4426950408889634;
    const real ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
#endif
    ptrdiff_t i;
    int outside = 0;
    CMLP_SIMD_OR(outside)
    for (i = 0; i < n; i++) outside |= !(x[i] <= VEXP_LIMIT && x[i] >= -VEXP_LIMIT);
    if (outside) {
        for (i = 0; i < n; i++) out[i] = R_EXP(x[i]);
        return;
    }
    CMLP_SIMD
    for (i = 0; i < n; i++) {
        const real v = x[i], t = v * inv_ln2 + shift, k = t - shift;
        const real r = (v - k * ln2_hi) - k * ln2_lo;
        real q, e;
        bits_t tb, eb;
#if defined(CMLP_F32)
        q = R_LIT(1.0) / 5040;
        q = q * r + R_LIT(1.0) / 720;
        q = q * r + R_LIT(1.0) / 120;
        q = q * r + R_LIT(1.0) / 24;
        q = q * r + R_LIT(1.0) / 6;
        q = q * r + R_LIT(0.5);
#else
        q = 1.0 / 6227020800.0;
        q = q * r + 1.0 / 479001600.0;
        q = q * r + 1.0 / 39916800.0;
        q = q * r + 1.0 / 3628800.0;
        q = q * r + 1.0 / 362880.0;
        q = q * r + 1.0 / 40320.0;
        q = q * r + 1.0 / 5040.0;
        q = q * r + 1.0 / 720.0;
        q = q * r + 1.0 / 120.0;
        q = q * r + 1.0 / 24.0;
        q = q * r + 1.0 / 6.0;
        q = q * r + 0.5;
#endif
        e = R_LIT(1.0) + (r + (r * r) * q);
        memcpy(&tb, &t, sizeof tb);
        memcpy(&eb, &e, sizeof eb);
        eb += tb << mant; /* (2^(M-1) + k) << M == k << M modulo the word: e 2^k */
        memcpy(&e, &eb, sizeof e);
        out[i] = e;
    }
}
#undef VEXP_LIMIT

static void FN(vexp)(real *out, const real *x, ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i += VEXP_PIECE)
        FN(vexp_piece)(out + i, x + i, n - i < VEXP_PIECE ? n - i : VEXP_PIECE);
}
#undef VEXP_PIECE

void FN(act_forward)(real *a, ptrdiff_t B, ptrdiff_t O, int act)
{
    /* a (B, O) */
    const ptrdiff_t n = B * O;
    ptrdiff_t i, r, j;
    switch (act) {
    case CMLP_SIGMOID: /* 1 / (1 + exp(-x)) */
        CMLP_SIMD
        for (i = 0; i < n; i++) a[i] = -a[i];
        FN(vexp)(a, a, n);
        CMLP_SIMD
        for (i = 0; i < n; i++) a[i] = R_LIT(1.0) / (R_LIT(1.0) + a[i]);
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
        FN(vexp)(a, a, n);
        break;
    case CMLP_SOFTMAX:
        for (r = 0; r < B; r++) {
            real *row = a + r * O;
            real m = row[0], s = 0;
            for (j = 1; j < O; j++) m = row[j] > m ? row[j] : m;
            for (j = 0; j < O; j++) row[j] -= m;
            FN(vexp)(row, row, O);
            for (j = 0; j < O; j++) s += row[j];
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
