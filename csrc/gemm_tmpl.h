/* gemm_tmpl.h -- the layer kernels of the batched drivers when the network multiplies through
 * BLAS (arch->blas != NULL, see cmlp.h): GEMMs for dense blocks, and for a sparse first-layer
 * input (MNIST: about 81% zeros) exact sparse kernels over per-block index lists. Without
 * BLAS the drivers use dense_forward/dense_backward (dense_tmpl.h), which stay the reference
 * the tests hold this path to. */

#if defined(CMLP_OWN_GEMM)
/* The register-blocked product of the AVX-512 variant (kernels_avx512.c defines
 * CMLP_OWN_GEMM), used instead of BLAS where N >= CMLP_MM_CB.
 * Measured on the notes' layer shapes (M 32-64 rows, K and N 200-500) on one AVX-512 core:
 * about 1.6-1.8x the GFLOP/s of OpenBLAS's AVX2 kernels, and level with its AVX-512 ones
 * at M = 64; unlike BLAS it packs nothing, so two threads sharing B pay nothing twice.
 * Every C[i, j] is acc = the sum over k = 0, 1, ..., K - 1 of A(i, k) B[k, j], added in that
 * order, then alpha acc (+ beta C): the same bits whatever M, the row block or the thread. */
#ifndef CMLP_MM_RB
#define CMLP_MM_RB 8                                    /* rows per register block */
#define CMLP_MM_CB (128 / (ptrdiff_t)sizeof(real))      /* columns: two 512-bit vectors */
#endif

/* Rows [0, rb) x columns [0, CB) of C (ldc) from A(i, k) = A[i ais + k aks] and B's rows
 * (ldb), K > 0; C's columns j >= keep are stored. With a list kl, term k is k' = kl[k]
 * (A(i, k'), B's row k'); with a list il, row i is i' = il[i] (A(i', k), C's row i'). rb:
 * CMLP_MM_RB or 1, and the lists NULL or not, constant at each call site (the wrappers
 * below; always inlined, gcc would otherwise share one generic copy), so the accumulators
 * stay in registers. (CMLP_OWN_GEMM is defined for gcc and clang only.) */
static inline __attribute__((always_inline)) void FN(mm_block)(real *C, ptrdiff_t ldc, const real *A, ptrdiff_t ais,
                                ptrdiff_t aks, const real *B, ptrdiff_t ldb, ptrdiff_t K,
                                real alpha, real beta, ptrdiff_t keep, const int rb,
                                const int32_t *kl, const int32_t *il)
{
    real acc[CMLP_MM_RB][CMLP_MM_CB];
    ptrdiff_t k, j, ri[CMLP_MM_RB];
    int r;
    for (r = 0; r < rb; r++) {
        ri[r] = il != NULL ? (ptrdiff_t)il[r] : r;
        for (j = 0; j < CMLP_MM_CB; j++) acc[r][j] = 0;
    }
    for (k = 0; k < K; k++) {
        const ptrdiff_t kk = kl != NULL ? (ptrdiff_t)kl[k] : k;
        const real *b = B + kk * ldb;
        for (r = 0; r < rb; r++) {
            const real a = A[ri[r] * ais + kk * aks];
            CMLP_SIMD
            for (j = 0; j < CMLP_MM_CB; j++) acc[r][j] += a * b[j];
        }
    }
    for (r = 0; r < rb; r++) {
        real *c = C + ri[r] * ldc;
        if (beta == 0)
            for (j = keep; j < CMLP_MM_CB; j++) c[j] = alpha * acc[r][j];
        else
            for (j = keep; j < CMLP_MM_CB; j++) c[j] = alpha * acc[r][j] + beta * c[j];
    }
}

#define CMLP_MM_ARGS                                                                      \
    real *C, ptrdiff_t ldc, const real *A, ptrdiff_t ais, ptrdiff_t aks, const real *B,  \
        ptrdiff_t ldb, ptrdiff_t K, real alpha, real beta, ptrdiff_t keep,                \
        const int32_t *kl, const int32_t *il
#define CMLP_MM_PASS C, ldc, A, ais, aks, B, ldb, K, alpha, beta, keep

static CMLP_NO_JAM void FN(mm_rows8)(CMLP_MM_ARGS)
{
    (void)kl, (void)il;
    FN(mm_block)(CMLP_MM_PASS, CMLP_MM_RB, NULL, NULL);
}
static CMLP_NO_JAM void FN(mm_row1)(CMLP_MM_ARGS)
{
    (void)kl, (void)il;
    FN(mm_block)(CMLP_MM_PASS, 1, NULL, NULL);
}
static CMLP_NO_JAM void FN(mm_rows8_k)(CMLP_MM_ARGS)
{
    (void)il;
    FN(mm_block)(CMLP_MM_PASS, CMLP_MM_RB, kl, NULL);
}
static CMLP_NO_JAM void FN(mm_row1_k)(CMLP_MM_ARGS)
{
    (void)il;
    FN(mm_block)(CMLP_MM_PASS, 1, kl, NULL);
}
static CMLP_NO_JAM void FN(mm_rows8_i)(CMLP_MM_ARGS)
{
    (void)kl;
    FN(mm_block)(CMLP_MM_PASS, CMLP_MM_RB, NULL, il);
}
static CMLP_NO_JAM void FN(mm_row1_i)(CMLP_MM_ARGS)
{
    (void)kl;
    FN(mm_block)(CMLP_MM_PASS, 1, NULL, il);
}

/* C (M, N) = alpha A B + beta C (beta 0: C is not read), A(i, k) = A[i ais + k aks]
 * (ais = lda, aks = 1 for A; ais = 1, aks = lda for A^T), B (K, N) row-major (ldb).
 * N >= CMLP_MM_CB, K > 0. Column strips of CB; the last, if N % CB, is the strip
 * [N - CB, N) storing only its new columns. Rows in blocks of RB, the rest one by one.
 * kl (K) or NULL: the terms are k' = kl[k] (A's columns, B's rows); il (M) or NULL: the
 * rows are i' = il[i] (A's and C's rows). */
static void FN(mm_list)(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, real alpha, const real *A,
                        ptrdiff_t ais, ptrdiff_t aks, const real *B, ptrdiff_t ldb, real beta,
                        real *C, ptrdiff_t ldc, const int32_t *kl, const int32_t *il)
{
    ptrdiff_t i, j0;
    for (j0 = 0; j0 < N; j0 += CMLP_MM_CB) {
        const ptrdiff_t js = j0 + CMLP_MM_CB <= N ? j0 : N - CMLP_MM_CB, keep = j0 - js;
        for (i = 0; i + CMLP_MM_RB <= M; i += CMLP_MM_RB) {
            if (il != NULL)
                FN(mm_rows8_i)(C + js, ldc, A, ais, aks, B + js, ldb, K, alpha, beta, keep,
                               NULL, il + i);
            else if (kl != NULL)
                FN(mm_rows8_k)(C + i * ldc + js, ldc, A + i * ais, ais, aks, B + js, ldb, K,
                               alpha, beta, keep, kl, NULL);
            else
                FN(mm_rows8)(C + i * ldc + js, ldc, A + i * ais, ais, aks, B + js, ldb, K,
                             alpha, beta, keep, NULL, NULL);
        }
        for (; i < M; i++) {
            if (il != NULL)
                FN(mm_row1_i)(C + js, ldc, A, ais, aks, B + js, ldb, K, alpha, beta, keep,
                              NULL, il + i);
            else if (kl != NULL)
                FN(mm_row1_k)(C + i * ldc + js, ldc, A + i * ais, ais, aks, B + js, ldb, K,
                              alpha, beta, keep, kl, NULL);
            else
                FN(mm_row1)(C + i * ldc + js, ldc, A + i * ais, ais, aks, B + js, ldb, K,
                            alpha, beta, keep, NULL, NULL);
        }
    }
}

static void FN(mm)(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, real alpha, const real *A,
                   ptrdiff_t ais, ptrdiff_t aks, const real *B, ptrdiff_t ldb, real beta,
                   real *C, ptrdiff_t ldc)
{
    FN(mm_list)(M, N, K, alpha, A, ais, aks, B, ldb, beta, C, ldc, NULL, NULL);
}

#ifndef CMLP_MM_KC
#define CMLP_MM_KC 128 /* rows of mm_nt's transposed panel: 16 KB on the stack (a thread's
                        * stack can be as small as musl's 128 KB) */
#endif

/* C (M, N) = alpha A B^T + beta C, A (M, K) (lda), B (N, K) (ldb), N >= CMLP_MM_CB, K > 0.
 * Each column strip of C takes the strip's CB rows of B transposed into a panel (at most
 * CMLP_MM_KC of their K columns at a time; a further piece of K adds onto C), then mm's
 * row blocks over it. */
static void FN(mm_nt)(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, real alpha, const real *A,
                      ptrdiff_t lda, const real *B, ptrdiff_t ldb, real beta, real *C,
                      ptrdiff_t ldc)
{
    real panel[CMLP_MM_KC * CMLP_MM_CB];
    ptrdiff_t i, j0, k0, k, j;
    for (j0 = 0; j0 < N; j0 += CMLP_MM_CB) {
        const ptrdiff_t js = j0 + CMLP_MM_CB <= N ? j0 : N - CMLP_MM_CB, keep = j0 - js;
        for (k0 = 0; k0 < K; k0 += CMLP_MM_KC) {
            const ptrdiff_t kc = K - k0 < CMLP_MM_KC ? K - k0 : CMLP_MM_KC;
            const real bk = k0 == 0 ? beta : R_LIT(1.0);
            for (k = 0; k < kc; k++) { /* a gather per row of the panel: twice as fast
                                         * as writing it column by column (measured) */
                const real *b = B + js * ldb + k0 + k;
                CMLP_SIMD
                for (j = 0; j < CMLP_MM_CB; j++) panel[k * CMLP_MM_CB + j] = b[j * ldb];
            }
            for (i = 0; i + CMLP_MM_RB <= M; i += CMLP_MM_RB)
                FN(mm_rows8)(C + i * ldc + js, ldc, A + i * lda + k0, lda, 1, panel,
                             CMLP_MM_CB, kc, alpha, bk, keep, NULL, NULL);
            for (; i < M; i++)
                FN(mm_row1)(C + i * ldc + js, ldc, A + i * lda + k0, lda, 1, panel,
                            CMLP_MM_CB, kc, alpha, bk, keep, NULL, NULL);
        }
    }
}
#endif

/* Row-major C (M, N) = alpha op(A) op(B) + beta C, op(A) (M, K), op(B) (K, N); ta, tb: 0 or 1
 * (transpose). Row-major C is column-major C^T = op(B)^T op(A)^T: the Fortran call swaps
 * the operands and keeps the flags. Without a BLAS pointer, the plain triple loop. In the
 * AVX-512 variant, N >= CMLP_MM_CB takes the own kernels (mm, mm_nt) instead. */
static void FN(gemm)(int ta, int tb, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, real alpha,
                     const real *A, ptrdiff_t lda, const real *B, ptrdiff_t ldb, real beta,
                     real *C, ptrdiff_t ldc, const cmlp_blas *blas)
{
#if defined(CMLP_F32)
    const cmlp_sgemm_fn f = blas != NULL ? blas->sgemm : NULL;
#else
    const cmlp_dgemm_fn f = blas != NULL ? blas->dgemm : NULL;
#endif
    if (M == 0 || N == 0) return;
#if defined(CMLP_OWN_GEMM)
    if (f != NULL && K > 0 && N >= CMLP_MM_CB && !(ta && tb)) {
        if (tb)
            FN(mm_nt)(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        else
            FN(mm)(M, N, K, alpha, A, ta ? 1 : lda, ta ? lda : 1, B, ldb, beta, C, ldc);
        return;
    }
#endif
    if (f != NULL && K > 0) {
        char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
        int m = (int)M, n = (int)N, k = (int)K, la = (int)lda, lb = (int)ldb, lc = (int)ldc;
        f(&cb, &ca, &n, &m, &k, &alpha, (real *)B, &lb, (real *)A, &la, &beta, C, &lc);
        return;
    } else {
        ptrdiff_t i, j, p;
        for (i = 0; i < M; i++)
            for (j = 0; j < N; j++) {
                real acc = 0;
                for (p = 0; p < K; p++)
                    acc += (ta ? A[p * lda + i] : A[i * lda + p]) * (tb ? B[j * ldb + p] : B[p * ldb + j]);
                C[i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * C[i * ldc + j]);
            }
    }
}

/* The nonzero pattern of one block x (B, I): CSR rows (rowptr (B + 1), cols (nnz)) with the
 * values in that order (rvals (nnz)), then, if columns, the same pattern by columns (colptr
 * (I + 1), rows (nnz), rows ascending in each column) with the values in that order (cvals
 * (nnz)), so that the kernels read x's nonzeros one after another rather than a column of x
 * at a stride of I. Returns nnz. */
static ptrdiff_t FN(block_index)(int32_t *rowptr, int32_t *cols, real *rvals, int columns,
                                 int32_t *colptr, int32_t *rows, real *cvals, const real *x,
                                 ptrdiff_t B, ptrdiff_t I)
{
    ptrdiff_t r, k, p, nnz = 0;
    for (r = 0; r < B; r++) {
        const real *xr = x + r * I;
        rowptr[r] = (int32_t)nnz;
        for (k = 0; k < I; k++) {
            cols[nnz] = (int32_t)k; /* branch-free: kept only if the entry is nonzero */
            rvals[nnz] = xr[k];
            nnz += xr[k] != 0;
        }
    }
    rowptr[B] = (int32_t)nnz;
    if (!columns) return nnz;
    for (k = 0; k <= I; k++) colptr[k] = 0;
    for (p = 0; p < nnz; p++) colptr[cols[p] + 1]++;
    for (k = 0; k < I; k++) colptr[k + 1] += colptr[k];
    /* fill rows and values column by column (rows ascending), colptr[k] advancing to the
     * next start; shift back afterwards */
    for (r = 0; r < B; r++)
        for (p = rowptr[r]; p < rowptr[r + 1]; p++) {
            const int32_t q = colptr[cols[p]]++;
            rows[q] = (int32_t)r;
            cvals[q] = rvals[p];
        }
    for (k = I; k > 0; k--) colptr[k] = colptr[k - 1];
    colptr[0] = 0;
    return nnz;
}

/* The parts of a block's index region idx (see arch.c: int32 arrays of R = CMLP_GEMM_BLOCK
 * rows, then the values, real-aligned): colptr, rows, the values by column and by row. */
static int32_t *FN(index_colptr)(const int32_t *idx, ptrdiff_t I)
{
    return (int32_t *)idx + CMLP_GEMM_BLOCK + 1 + CMLP_GEMM_BLOCK * I; /* const: the caller's */
}
static real *FN(index_values)(const int32_t *idx, ptrdiff_t I)
{
    /* after colptr (I + 1) and rows (R I), rounded up to a whole real */
    const ptrdiff_t n32 = CMLP_GEMM_BLOCK + 1 + 2 * CMLP_GEMM_BLOCK * I + I + 1;
    const ptrdiff_t per = (ptrdiff_t)(sizeof(real) / sizeof(int32_t));
    return (real *)((int32_t *)idx + (n32 + per - 1) / per * per);
}
static real *FN(index_row_values)(const int32_t *idx, ptrdiff_t I)
{
    return FN(index_values)(idx, I) + CMLP_GEMM_BLOCK * I;
}

/* Columns per strip of the sparse kernels: 256 bytes of accumulators (8 AVX2 vectors). */
#define CMLP_SPARSE_CB (256 / (ptrdiff_t)sizeof(real))

/* One strip of CMLP_SPARSE_CB columns of the sparse gradient: out[j] = acc[j] for j in
 * [keep, CB), where acc = start + the sum over p in [p0, p1) of vals[p] times
 * rows + idx[p] O. The constant width keeps acc in registers. */
static CMLP_NO_JAM void FN(sparse_strip)(real *out, const real *start, ptrdiff_t keep,
                                         const int32_t *idx, ptrdiff_t p0, ptrdiff_t p1,
                                         const real *vals, const real *rows, ptrdiff_t O)
{
    real acc[CMLP_SPARSE_CB];
    ptrdiff_t p, j;
    for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] = start[j];
    for (p = p0; p < p1; p++) {
        const real v = vals[p];
        const real *w = rows + (ptrdiff_t)idx[p] * O;
        CMLP_SIMD
        for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] += v * w[j];
    }
    for (j = keep; j < CMLP_SPARSE_CB; j++) out[j] = acc[j];
}

/* One row of the sparse gradient: row (O) += the sum over p in [p0, p1) of vals[p] times
 * row rows[p] of dz (B, O), in that order, in strips of CB columns (full strips, then, if
 * O % CB, one full strip [O - CB, O) storing only its last O % CB columns). O >= CB */
static void FN(sparse_grad_row)(real *row, const int32_t *rows, ptrdiff_t p0, ptrdiff_t p1,
                                const real *vals, const real *dz, ptrdiff_t O)
{
    const ptrdiff_t CB = CMLP_SPARSE_CB;
    ptrdiff_t j0;
    for (j0 = 0; j0 + CB <= O; j0 += CB)
        FN(sparse_strip)(row + j0, row + j0, 0, rows, p0, p1, vals, dz + j0, O);
    if (j0 < O)
        FN(sparse_strip)(row + O - CB, row + O - CB, j0 - (O - CB), rows, p0, p1, vals,
                         dz + O - CB, O);
}

/* dW += x^T dz over the nonzeros of x listed by column (colptr, rows, cvals): row k of dW
 * gathers the rows of dz whose input k is nonzero (sparse_grad_row); inputs zero in every
 * row are not visited. dz (B, O)  dW (I, O), O >= CB */
static void FN(sparse_grad)(real *dW, const int32_t *colptr, const int32_t *rows,
                            const real *cvals, const real *dz, ptrdiff_t I, ptrdiff_t O)
{
    ptrdiff_t k;
    for (k = 0; k < I; k++)
        if (colptr[k] < colptr[k + 1])
            FN(sparse_grad_row)(dW + k * O, rows, colptr[k], colptr[k + 1], cvals, dz, O);
}

/* One column strip [j0, j0 + width) of the sparse forward, a[:, strip] += x W[:, strip] over
 * the nonzeros of x listed by column: row k of W's strip is loaded once per block and added
 * into the strips of the rows whose input k is nonzero (W is read once per block instead of
 * once per row). Every a[r, j] still takes its terms in increasing k, the order of a
 * row-wise loop: the same sums, bit for bit. width == CB is the constant width the compiler
 * keeps in registers; the tail strip passes its own width. */
static CMLP_NO_JAM void FN(sparse_forward_strip)(real *a, const int32_t *colptr,
                                                 const int32_t *rows, const real *cvals,
                                                 const real *W, ptrdiff_t I, ptrdiff_t O,
                                                 ptrdiff_t j0, ptrdiff_t width)
{
    ptrdiff_t k, p, j;
    if (width == CMLP_SPARSE_CB) {
        for (k = 0; k < I; k++) {
            const real *w = W + k * O + j0;
            for (p = colptr[k]; p < colptr[k + 1]; p++) {
                const real v = cvals[p];
                real *ar = a + (ptrdiff_t)rows[p] * O + j0;
                CMLP_SIMD
                for (j = 0; j < CMLP_SPARSE_CB; j++) ar[j] += v * w[j];
            }
        }
        return;
    }
    for (k = 0; k < I; k++) {
        const real *w = W + k * O + j0;
        for (p = colptr[k]; p < colptr[k + 1]; p++) {
            const real v = cvals[p];
            real *ar = a + (ptrdiff_t)rows[p] * O + j0;
            CMLP_SIMD
            for (j = 0; j < width; j++) ar[j] += v * w[j];
        }
    }
}

/* One strip [j0, j0 + CB) of one row of the row-wise sparse forward: out = start + the sum,
 * in order, over the row's nonzeros from p0 on (columns cols[p], values vals[p]) whose
 * column is below kend, p < p1, of vals[p] W[cols[p], strip], the accumulators in
 * registers; out[j] stored for j >= keep only. out may be start. Returns the first p not
 * taken. */
static CMLP_NO_JAM ptrdiff_t FN(sparse_row_strip)(real *out, const real *start, ptrdiff_t keep,
                                                  const int32_t *cols, ptrdiff_t p0,
                                                  ptrdiff_t p1, int32_t kend, const real *vals,
                                                  const real *W, ptrdiff_t O)
{
    real acc[CMLP_SPARSE_CB];
    ptrdiff_t p, j;
    for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] = start[j];
    for (p = p0; p < p1 && cols[p] < kend; p++) {
        const real v = vals[p];
        const real *w = W + (ptrdiff_t)cols[p] * O;
        CMLP_SIMD
        for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] += v * w[j];
    }
    for (j = keep; j < CMLP_SPARSE_CB; j++) out[j] = acc[j];
    return p;
}

/* Blocks of at most this many rows take the column-wise sparse forward (their row strips,
 * B x 256 bytes, stay in L1); larger blocks the row-wise one (strip by strip, each strip of
 * W in chunks of CMLP_SPARSE_KC inputs that stay in L1, the accumulators in registers).
 * Both add every a[r, j]'s terms in increasing k. */
#define CMLP_SPARSE_COL_ROWS 64
/* Inputs per chunk of the row-wise sparse forward (see sparse_forward). */
#ifndef CMLP_SPARSE_KC
#define CMLP_SPARSE_KC 128
#endif

/* a = act(x W + b) over the nonzeros of a block x (B, I), from its index idx (sparse_index),
 * which holds x's values: a overwritten. W (I, O)  b (O)  a (B, O), O >= CB */
static void FN(sparse_forward)(real *a, const int32_t *idx, const real *W, const real *b,
                               ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act)
{
    const ptrdiff_t CB = CMLP_SPARSE_CB;
    ptrdiff_t r, j, j0;
    if (B > CMLP_SPARSE_COL_ROWS) {
        /* Column strips outermost, then chunks of KC inputs: a strip's chunk of W (KC CB
         * elements, 32 KB) stays in L1 while every row of the block adds its terms from it
         * and stores its partial sums, which the next chunk continues (pos[r]: row r's next
         * nonzero). Every a[r, j] still takes its terms in increasing k from b[j] on: the sums
         * of one pass over the row, bit for bit. The last strip [O - CB, O) (if O % CB) stores
         * its columns j >= keep only; its other accumulators read the strip before's final
         * values and are dropped. */
        const int32_t *rowptr = idx, *cols = idx + CMLP_GEMM_BLOCK + 1;
        const real *rvals = FN(index_row_values)(idx, I);
        int32_t pos[CMLP_GEMM_BLOCK]; /* B <= CMLP_GEMM_BLOCK */
        ptrdiff_t k0;
        for (j0 = 0; j0 < O; j0 += CB) {
            const ptrdiff_t js = j0 + CB <= O ? j0 : O - CB, keep = j0 - js;
            for (r = 0; r < B; r++) pos[r] = rowptr[r];
            for (k0 = 0; k0 < I; k0 += CMLP_SPARSE_KC) {
                const int32_t kend = (int32_t)(I - k0 > CMLP_SPARSE_KC ? k0 + CMLP_SPARSE_KC : I);
                for (r = 0; r < B; r++) {
                    real *ar = a + r * O + js;
                    if (k0 > 0 && (pos[r] == rowptr[r + 1] || cols[pos[r]] >= kend))
                        continue; /* nothing to add in this chunk */
                    pos[r] = (int32_t)FN(sparse_row_strip)(ar, k0 == 0 ? b + js : ar, keep, cols,
                                                           pos[r], rowptr[r + 1], kend, rvals,
                                                           W + js, O);
                }
            }
        }
    } else {
        const int32_t *colptr = FN(index_colptr)(idx, I);
        const real *cvals = FN(index_values)(idx, I);
        for (r = 0; r < B; r++)
            for (j = 0; j < O; j++) a[r * O + j] = b[j];
        for (j0 = 0; j0 + CB <= O; j0 += CB)
            FN(sparse_forward_strip)(a, colptr, colptr + I + 1, cvals, W, I, O, j0, CB);
        if (j0 < O)
            FN(sparse_forward_strip)(a, colptr, colptr + I + 1, cvals, W, I, O, j0, O - j0);
    }
    FN(act_forward)(a, B, O, act);
}

#if defined(CMLP_OWN_GEMM)
/* A block takes the dense product over its union of nonzero columns (sparse_index's mode 2)
 * when B |union| <= CMLP_UNION_RATIO nnz: the register-blocked kernel does about five
 * times the multiply-adds per second of the sparse kernels (whose accumulators go through
 * memory), so the zeros it multiplies inside the union cost less than the index and the
 * scattered sums. MNIST in batches of 64: |union| ~ 490 of 784 columns, ~150 nonzeros a
 * row, B |union| / nnz ~ 3.3. */
#define CMLP_UNION_RATIO 4.0
#endif

#if defined(CMLP_OWN_GEMM)
/* The union of a block's nonzero columns (mode 2 of sparse_index) in its index region idx:
 * idx[0] = its size nu, idx[1 .. nu] the columns in increasing order, then I flags, 1 for
 * a column in the union. */
static const int32_t *FN(union_cols)(const int32_t *idx, ptrdiff_t *nu)
{
    *nu = idx[0];
    return idx + 1;
}

static const int32_t *FN(union_flags)(const int32_t *idx, ptrdiff_t I)
{
    return idx + 1 + I;
}
#endif

/* How a block's layer input x (B, I) should multiply, with what it needs in the region idx
 * (see arch.c):
 *   0: the GEMM path (more than CMLP_SPARSE_DENSITY nonzeros, or O < CMLP_SPARSE_CB);
 *   1: the sparse kernels, with x's index in idx (block_index);
 *   2: (the AVX-512 variant, columns set) the dense product over the columns of x nonzero
 *      in some row, listed in idx (union_cols), when CMLP_UNION_RATIO says it is cheaper.
 * columns: the block is a training block (its gradient follows), or a forward-only block
 * small enough for the column-wise sparse forward (B <= CMLP_SPARSE_COL_ROWS); mode 1 then
 * also indexes x by columns, which the column-wise forward and the sparse gradient read. A
 * forward-only block of more rows reads the rows alone. */
static int FN(sparse_index)(int32_t *idx, const real *x, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O,
                            int columns)
{
    const ptrdiff_t R = CMLP_GEMM_BLOCK;
    int32_t *colptr = FN(index_colptr)(idx, I);
    ptrdiff_t k, nnz = 0;
    if (O < CMLP_SPARSE_CB) return 0;
    /* count first (a vectorised pass): a dense block is not indexed at all */
    for (k = 0; k < B * I; k++) nnz += x[k] != 0;
    if ((double)nnz > CMLP_SPARSE_DENSITY * (double)B * (double)I) return 0;
#if defined(CMLP_OWN_GEMM)
    if (columns) {
        int32_t *list = idx + 1, *used = idx + 1 + I;
        ptrdiff_t r, nu = 0;
        for (k = 0; k < I; k++) used[k] = 0;
        for (r = 0; r < B; r++) {
            const real *xr = x + r * I;
            CMLP_SIMD
            for (k = 0; k < I; k++) used[k] |= xr[k] != 0;
        }
        for (k = 0; k < I; k++) {
            list[nu] = (int32_t)k; /* branch-free: kept only if the column is used */
            nu += used[k];
        }
        idx[0] = (int32_t)nu;
        if ((double)B * (double)nu <= CMLP_UNION_RATIO * (double)nnz) return 2;
    }
#endif
    FN(block_index)(idx, idx + R + 1, FN(index_row_values)(idx, I), columns, colptr,
                    colptr + I + 1, FN(index_values)(idx, I), x, B, I);
    return 1;
}

/* One layer forward through BLAS: a = act(x W + b); sparse: sparse_index's mode for x (then
 * idx holds what that mode needs): 1 the sparse kernel, 2 b broadcast into a and the
 * product over x's union of nonzero columns accumulating onto it, 0 the same with one GEMM. x (B, I)  W (I, O)  b (O)  a (B, O) */
static void FN(gemm_forward)(real *a, const real *x, const real *W, const real *b, ptrdiff_t B,
                             ptrdiff_t I, ptrdiff_t O, int act, int sparse,
                             const int32_t *idx, const cmlp_blas *blas)
{
    ptrdiff_t r, j;
    if (sparse == 1) {
        FN(sparse_forward)(a, idx, W, b, B, I, O, act);
        return;
    }
    for (r = 0; r < B; r++)
        for (j = 0; j < O; j++) a[r * O + j] = b[j];
#if defined(CMLP_OWN_GEMM)
    if (sparse == 2) {
        ptrdiff_t nu;
        const int32_t *cols = FN(union_cols)(idx, &nu);
        if (nu > 0)
            FN(mm_list)(B, O, nu, R_LIT(1.0), x, I, 1, W, O, R_LIT(1.0), a, O, cols, NULL);
        FN(act_forward)(a, B, O, act);
        return;
    }
#endif
    FN(gemm)(0, 0, B, O, I, R_LIT(1.0), x, I, W, O, R_LIT(1.0), a, O, blas);
    FN(act_forward)(a, B, O, act);
}

/* One layer backward through BLAS, the contract of dense_backward:
 *   dW += x^T dz,  db += column sums of dz,  dx = (dz W^T) * act_x'(x) if dx != NULL.
 * sparse: sparse_index's mode for x (idx holds what it needs): 1 dW takes the sparse
 * kernel, 2 the product over x's union of nonzero columns (dW's other rows unchanged). dz (B, O)  x (B, I)  W (I, O)  dW (I, O)  db (O)  dx (B, I) */
static void FN(gemm_backward)(real *dx, real *dW, real *db, const real *dz, const real *x,
                              const real *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x,
                              int sparse, const int32_t *idx, const cmlp_blas *blas)
{
    ptrdiff_t r, j;
    for (r = 0; r < B; r++) {
        const real *d = dz + r * O;
        CMLP_SIMD
        for (j = 0; j < O; j++) db[j] += d[j];
    }
    if (sparse == 1) {
        const int32_t *colptr = FN(index_colptr)(idx, I);
        FN(sparse_grad)(dW, colptr, colptr + I + 1, FN(index_values)(idx, I), dz, I, O);
#if defined(CMLP_OWN_GEMM)
    } else if (sparse == 2) { /* the rows of dW in x's union; the others' gradient is 0 */
        ptrdiff_t nu;
        const int32_t *cols = FN(union_cols)(idx, &nu);
        if (nu > 0)
            FN(mm_list)(nu, O, B, R_LIT(1.0), x, 1, I, dz, O, R_LIT(1.0), dW, O, NULL, cols);
#endif
    } else {
        FN(gemm)(1, 0, I, O, B, R_LIT(1.0), x, I, dz, O, R_LIT(1.0), dW, O, blas);
    }
    if (dx == NULL) return;
    FN(gemm)(0, 1, B, I, O, R_LIT(1.0), dz, O, W, O, R_LIT(0.0), dx, I, blas);
    if (act_x != CMLP_IDENTITY) FN(act_backward)(dx, x, B * I, act_x);
}
