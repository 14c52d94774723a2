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

/* The nonzero pattern of one block x (B, I): CSR rows (rowptr (B + 1), cols (nnz)) and, if
 * colptr != NULL, the same pattern by columns (colptr (I + 1), rows (nnz)). Returns nnz. */
static ptrdiff_t FN(block_index)(int32_t *rowptr, int32_t *cols, int32_t *colptr,
                                 int32_t *rows, const real *x, ptrdiff_t B, ptrdiff_t I)
{
    ptrdiff_t r, k, p, nnz = 0;
    for (r = 0; r < B; r++) {
        const real *xr = x + r * I;
        rowptr[r] = (int32_t)nnz;
        for (k = 0; k < I; k++) {
            cols[nnz] = (int32_t)k; /* branch-free: kept only if the entry is nonzero */
            nnz += xr[k] != 0;
        }
    }
    rowptr[B] = (int32_t)nnz;
    if (colptr == NULL) return nnz;
    for (k = 0; k <= I; k++) colptr[k] = 0;
    for (p = 0; p < nnz; p++) colptr[cols[p] + 1]++;
    for (k = 0; k < I; k++) colptr[k + 1] += colptr[k];
    /* fill rows column by column (rows ascending), colptr[k] advancing to the next start;
     * shift back afterwards */
    for (r = 0; r < B; r++)
        for (p = rowptr[r]; p < rowptr[r + 1]; p++) rows[colptr[cols[p]]++] = (int32_t)r;
    for (k = I; k > 0; k--) colptr[k] = colptr[k - 1];
    colptr[0] = 0;
    return nnz;
}

/* Columns per strip of the sparse kernels: 256 bytes of accumulators (8 AVX2 vectors). */
#define CMLP_SPARSE_CB (256 / (ptrdiff_t)sizeof(real))

/* One strip of CMLP_SPARSE_CB columns of the sparse kernels: out[j] = acc[j] for j in
 * [keep, CB), where acc = start + the sum over p in [p0, p1) of vals[idx[p] vstride] times
 * rows + idx[p] O. The constant width keeps acc in registers. The forward gathers x[r, k]
 * (vstride 1) and rows of W; the gradient gathers x[r, k] (vstride I) and rows of dz. */
static CMLP_NO_JAM void FN(sparse_strip)(real *out, const real *start, ptrdiff_t keep,
                                         const int32_t *idx, ptrdiff_t p0, ptrdiff_t p1,
                                         const real *vals, ptrdiff_t vstride, const real *rows,
                                         ptrdiff_t O)
{
    real acc[CMLP_SPARSE_CB];
    ptrdiff_t p, j;
    for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] = start[j];
    for (p = p0; p < p1; p++) {
        const real v = vals[(ptrdiff_t)idx[p] * vstride];
        const real *w = rows + (ptrdiff_t)idx[p] * O;
        CMLP_SIMD
        for (j = 0; j < CMLP_SPARSE_CB; j++) acc[j] += v * w[j];
    }
    for (j = keep; j < CMLP_SPARSE_CB; j++) out[j] = acc[j];
}

/* Every strip of one output row of O >= CB columns: full strips of CB, then (if O % CB) one
 * full strip [O - CB, O) storing only its last O % CB columns. */
static void FN(sparse_row)(real *out, const real *start, const int32_t *idx, ptrdiff_t p0,
                           ptrdiff_t p1, const real *vals, ptrdiff_t vstride, const real *rows,
                           ptrdiff_t O)
{
    const ptrdiff_t CB = CMLP_SPARSE_CB;
    ptrdiff_t j0;
    for (j0 = 0; j0 + CB <= O; j0 += CB)
        FN(sparse_strip)(out + j0, start + j0, 0, idx, p0, p1, vals, vstride, rows + j0, O);
    if (j0 < O)
        FN(sparse_strip)(out + O - CB, start + O - CB, j0 - (O - CB), idx, p0, p1, vals,
                         vstride, rows + O - CB, O);
}

/* a = act(x W + b) over the nonzeros of x listed by (rowptr, cols); a overwritten.
 * x (B, I)  W (I, O)  b (O)  a (B, O) */
static void FN(sparse_forward)(real *a, const real *x, const int32_t *rowptr,
                               const int32_t *cols, const real *W, const real *b, ptrdiff_t B,
                               ptrdiff_t I, ptrdiff_t O, int act)
{
    ptrdiff_t r;
    for (r = 0; r < B; r++)
        FN(sparse_row)(a + r * O, b, cols, rowptr[r], rowptr[r + 1], x + r * I, 1, W, O);
    FN(act_forward)(a, B, O, act);
}

/* dW += x^T dz over the nonzeros of x listed by column (colptr, rows): row k of dW gathers
 * the rows of dz whose input k is nonzero; inputs zero in every row are not visited.
 * x (B, I)  dz (B, O)  dW (I, O) */
static void FN(sparse_grad)(real *dW, const real *x, const int32_t *colptr, const int32_t *rows,
                            const real *dz, ptrdiff_t I, ptrdiff_t O)
{
    ptrdiff_t k;
    for (k = 0; k < I; k++)
        if (colptr[k] < colptr[k + 1])
            FN(sparse_row)(dW + k * O, dW + k * O, rows, colptr[k], colptr[k + 1], x + k, I, dz,
                           O);
}

/* The index of a block's layer input x (B, I) when the sparse kernels should take it, in the
 * int32 region idx (see arch.c): returns 1 and fills it if x has at most CMLP_SPARSE_DENSITY
 * nonzeros and the layer has at least one strip of outputs (O >= CMLP_SPARSE_CB), else 0
 * (the GEMM path). with_cols: build the by-column lists too (backward). */
static int FN(sparse_index)(int32_t *idx, const real *x, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O,
                            int with_cols)
{
    const ptrdiff_t R = CMLP_GEMM_BLOCK;
    int32_t *rowptr = idx, *cols = rowptr + R + 1, *colptr = cols + R * I,
            *rows = colptr + I + 1;
    ptrdiff_t k, nnz = 0;
    if (O < CMLP_SPARSE_CB) return 0;
    /* count first (a vectorised pass): a dense block is not indexed at all */
    for (k = 0; k < B * I; k++) nnz += x[k] != 0;
    if ((double)nnz > CMLP_SPARSE_DENSITY * (double)B * (double)I) return 0;
    FN(block_index)(rowptr, cols, with_cols ? colptr : NULL, rows, x, B, I);
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
        FN(sparse_forward)(a, x, idx, idx + CMLP_GEMM_BLOCK + 1, W, b, B, I, O, act);
        return;
    }
    for (r = 0; r < B; r++)
        for (j = 0; j < O; j++) a[r * O + j] = b[j];
    FN(gemm)(0, 0, B, O, I, R_LIT(1.0), x, I, W, O, R_LIT(1.0), a, O, blas);
    FN(act_forward)(a, B, O, act);
}

/* One layer backward through BLAS, the contract of dense_backward:
 *   dW += x^T dz,  db += column sums of dz,  dx = (dz W^T) * act_x'(x) if dx != NULL.
 * sparse: x's index is in idx with its by-column lists (sparse_index with_cols), and dW
 * takes the sparse kernel. dz (B, O)  x (B, I)  W (I, O)  dW (I, O)  db (O)  dx (B, I) */
static void FN(gemm_backward)(real *dx, real *dW, real *db, const real *dz, const real *x,
                              const real *W, ptrdiff_t B, ptrdiff_t I, ptrdiff_t O, int act_x,
                              int sparse, const int32_t *idx, const cmlp_blas *blas)
{
    const ptrdiff_t R = CMLP_GEMM_BLOCK;
    ptrdiff_t r, j;
    for (r = 0; r < B; r++) {
        const real *d = dz + r * O;
        CMLP_SIMD
        for (j = 0; j < O; j++) db[j] += d[j];
    }
    if (sparse) {
        const int32_t *colptr = idx + R + 1 + R * I;
        FN(sparse_grad)(dW, x, colptr, colptr + I + 1, dz, I, O);
    } else {
        FN(gemm)(1, 0, I, O, B, R_LIT(1.0), x, I, dz, O, R_LIT(1.0), dW, O, blas);
    }
    if (dx == NULL) return;
    FN(gemm)(0, 1, B, I, O, R_LIT(1.0), dz, O, W, O, R_LIT(0.0), dx, I, blas);
    if (act_x != CMLP_IDENTITY) FN(act_backward)(dx, x, B * I, act_x);
}
