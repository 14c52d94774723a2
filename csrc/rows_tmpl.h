/* rows_tmpl.h -- gather_rows for one precision (rows.c); the contract is in cmlp.h. */

/* One CSR row into out (n_0), zeroed first: out[indices[p]] += data[p] in storage order.
 * I: the index type (int32_t or int64_t). */
#define CMLP_CSR_ROW(I)                                                                       \
    do {                                                                                      \
        const I *ptr = (const I *)X->indptr, *col = (const I *)X->indices;                   \
        const ptrdiff_t p0 = (ptrdiff_t)ptr[row], p1 = (ptrdiff_t)ptr[row + 1];               \
        for (p = p0; p < p1; p++) out[col[p]] += val[p];                                      \
    } while (0)

void FN(gather_rows)(real *Xb, const cmlp_rows *X, const int64_t *perm, ptrdiff_t r0,
                     ptrdiff_t m, ptrdiff_t n0)
{
    /* Xb (m, n_0): row k is row perm[k] (perm NULL: r0 + k) of X */
    const real *dense = (const real *)X->dense, *val = (const real *)X->data;
    ptrdiff_t k, j, p;
    for (k = 0; k < m; k++) {
        const ptrdiff_t row = perm != NULL ? (ptrdiff_t)perm[k] : r0 + k;
        real *out = Xb + k * n0;
        if (dense != NULL) {
            const real *xs = dense + row * n0;
            for (j = 0; j < n0; j++) out[j] = xs[j];
            continue;
        }
        for (j = 0; j < n0; j++) out[j] = 0;
        if (X->index64)
            CMLP_CSR_ROW(int64_t);
        else
            CMLP_CSR_ROW(int32_t);
    }
}

#undef CMLP_CSR_ROW
