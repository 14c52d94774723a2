/* gemm_tmpl.h -- the layer kernels of the batched drivers when the network multiplies through
 * BLAS (arch->blas != NULL, see cmlp.h): GEMMs for dense blocks, and for a sparse first-layer
 * input (MNIST: about 81% zeros) exact sparse kernels over per-block index lists. Without
 * BLAS the drivers use dense_forward/dense_backward (dense_tmpl.h), which stay the reference
 * the tests hold this path to. */

/* Row-major C (M, N) = alpha op(A) op(B) + beta C, op(A) (M, K), op(B) (K, N); ta, tb: 0 or 1
 * (transpose). Row-major C is column-major C^T = op(B)^T op(A)^T: the Fortran call swaps
 * the operands and keeps the flags. Without a BLAS pointer, the plain triple loop. */
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

/* One strip [j0, j0 + CB) of one row of the row-wise sparse forward: out = start + the sum
 * over the row's nonzeros (cols[p0..p1), values vals[p0..p1)) of vals[p] W[cols[p], strip],
 * the accumulators in registers; out[j] stored for j >= keep only. */
static CMLP_NO_JAM void FN(sparse_row_strip)(real *out, const real *start, ptrdiff_t keep,
                                             const int32_t *cols, ptrdiff_t p0, ptrdiff_t p1,
                                             const real *vals, const real *W, ptrdiff_t O)
{
    real acc[CMLP_SPARSE_CB];
    ptrdiff_t p, j;
    for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] = start[j];
    for (p = p0; p < p1; p++) {
        const real v = vals[p];
        const real *w = W + (ptrdiff_t)cols[p] * O;
        CMLP_SIMD
        for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] += v * w[j];
    }
    for (j = keep; j < CMLP_SPARSE_CB; j++) out[j] = acc[j];
}

/* Blocks of at most this many rows take the column-wise sparse forward (their row strips,
 * B x 256 bytes, stay in L1); larger blocks the row-wise one (strip by strip, W's strip
 * in L2, the accumulators in registers). Both add every a[r, j]'s terms in increasing k. */
#define CMLP_SPARSE_COL_ROWS 64

/* a = act(x W + b) over the nonzeros of a block x (B, I), from its index idx (sparse_index),
 * which holds x's values: a overwritten. W (I, O)  b (O)  a (B, O), O >= CB */
static void FN(sparse_forward)(real *a, const int32_t *idx, const real *W, const real *b,
                               ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act)
{
    const ptrdiff_t CB = CMLP_SPARSE_CB;
    ptrdiff_t r, j, j0;
    if (B > CMLP_SPARSE_COL_ROWS) {
        /* strips outermost: one strip of W (I CB elements: 200 KB for 784 float64 inputs)
         * stays in L2 while every row of the block reads it */
        const int32_t *rowptr = idx, *cols = idx + CMLP_GEMM_BLOCK + 1;
        const real *rvals = FN(index_row_values)(idx, I);
        for (j0 = 0; j0 + CB <= O; j0 += CB)
            for (r = 0; r < B; r++)
                FN(sparse_row_strip)(a + r * O + j0, b + j0, 0, cols, rowptr[r], rowptr[r + 1],
                                     rvals, W + j0, O);
        if (j0 < O) /* a full strip [O - CB, O) storing its last O % CB columns */
            for (r = 0; r < B; r++)
                FN(sparse_row_strip)(a + r * O + O - CB, b + O - CB, j0 - (O - CB), cols,
                                     rowptr[r], rowptr[r + 1], rvals, W + O - CB, O);
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

/* The index of a block's layer input x (B, I) when the sparse kernels should take it, in the
 * region idx (see arch.c): returns 1 and fills it if x has at most CMLP_SPARSE_DENSITY
 * nonzeros and the layer has at least one strip of outputs (O >= CMLP_SPARSE_CB), else 0
 * (the GEMM path). columns: also the pattern by columns, which the column-wise forward
 * (B <= CMLP_SPARSE_COL_ROWS) and the sparse gradient read; a forward-only block of more
 * rows reads the rows alone. */
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
    FN(block_index)(idx, idx + R + 1, FN(index_row_values)(idx, I), columns, colptr,
                    colptr + I + 1, FN(index_values)(idx, I), x, B, I);
    return 1;
}

/* One layer forward through BLAS: a = act(x W + b), the sparse kernel if sparse (then idx
 * holds the block's index, from sparse_index), else b broadcast into a and one GEMM
 * accumulating onto it. x (B, I)  W (I, O)  b (O)  a (B, O) */
static void FN(gemm_forward)(real *a, const real *x, const real *W, const real *b, ptrdiff_t B,
                             ptrdiff_t I, ptrdiff_t O, int act, int sparse,
                             const int32_t *idx, const cmlp_blas *blas)
{
    ptrdiff_t r, j;
    if (sparse) {
        FN(sparse_forward)(a, idx, W, b, B, I, O, act);
        return;
    }
    for (r = 0; r < B; r++)
        for (j = 0; j < O; j++) a[r * O + j] = b[j];
    FN(gemm)(0, 0, B, O, I, R_LIT(1.0), x, I, W, O, R_LIT(1.0), a, O, blas);
    FN(act_forward)(a, B, O, act);
}

/* One layer backward through BLAS, the contract of dense_backward:
 *   dW += x^T dz,  db += column sums of dz,  dx = (dz W^T) * act_x'(x) if dx != NULL.
 * sparse: x's index is in idx (sparse_index), and dW takes the sparse kernel. dz (B, O)  x (B, I)  W (I, O)  dW (I, O)  db (O)  dx (B, I) */
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
    if (sparse) {
        const int32_t *colptr = FN(index_colptr)(idx, I);
        FN(sparse_grad)(dW, colptr, colptr + I + 1, FN(index_values)(idx, I), dz, I, O);
    } else {
        FN(gemm)(1, 0, I, O, B, R_LIT(1.0), x, I, dz, O, R_LIT(1.0), dW, O, blas);
    }
    if (dx == NULL) return;
    FN(gemm)(0, 1, B, I, O, R_LIT(1.0), dz, O, W, O, R_LIT(0.0), dx, I, blas);
    if (act_x != CMLP_IDENTITY) FN(act_backward)(dx, x, B * I, act_x);
}
