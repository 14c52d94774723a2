/* rows.c -- the rows of X as the minibatch drivers read them: a dense array or scipy's CSR
 * arrays (cmlp_rows in cmlp.h). Not per instruction set: one pass over memory per row. */
#include <stddef.h>
#include <stdint.h>

#include "cmlp.h"

/* indptr non-decreasing within [0, nnz], every index of rows 0..N-1 within [0, n0); I: the
 * index type */
#define CMLP_CHECK_CSR(I)                                                                     \
    do {                                                                                      \
        const I *ptr = (const I *)X->indptr, *col = (const I *)X->indices;                   \
        for (r = 0; r <= N; r++)                                                              \
            if (ptr[r] < (r == 0 ? 0 : ptr[r - 1]) || (ptrdiff_t)ptr[r] > nnz) {              \
                *where = r;                                                                   \
                return 1;                                                                     \
            }                                                                                 \
        for (p = (ptrdiff_t)ptr[0]; p < (ptrdiff_t)ptr[N]; p++)                               \
            if (col[p] < 0 || (ptrdiff_t)col[p] >= n0) {                                      \
                *where = p;                                                                   \
                return 2;                                                                     \
            }                                                                                 \
    } while (0)

int cmlp_rows_check(const cmlp_rows *X, ptrdiff_t N, ptrdiff_t n0, ptrdiff_t nnz,
                    ptrdiff_t *where)
{
    ptrdiff_t r, p;
    *where = 0;
    if (X->dense != NULL) return 0;
    if (X->index64)
        CMLP_CHECK_CSR(int64_t);
    else
        CMLP_CHECK_CSR(int32_t);
    return 0;
}

#undef CMLP_CHECK_CSR

#define CMLP_ISA
#define CMLP_F64
#include "real.h"
#include "rows_tmpl.h"
#undef CMLP_F64

#define CMLP_F32
#include "real.h"
#include "rows_tmpl.h"
#undef CMLP_F32
