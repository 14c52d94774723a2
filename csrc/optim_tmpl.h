/* optim_tmpl.h -- in-place parameter updates over the flat buffer; see cmlp.h. */

void FN(sgd_update)(real *p, const real *g, real lr, ptrdiff_t P)
{
    /* p, g (P) */
    ptrdiff_t i;
    CMLP_SIMD
    for (i = 0; i < P; i++) p[i] -= lr * g[i];
}
