/* epoch_tmpl.h -- whole-network drivers built from the layer kernels; see cmlp.h. */

/* Forward a block of nb rows x (nb, n_0) through all layers: hidden layers alternate between
 * buf0 and buf1, the output layer writes to last (nb, K), which is returned. With BLAS,
 * idx is the int32 region for the first layer's sparse index (arch.c). */
static const real *FN(block_forward)(real *last, real *buf0, real *buf1, int32_t *idx,
                                     const real *params, const real *x, ptrdiff_t nb,
                                     const cmlp_arch *arch)
{
    const ptrdiff_t L = arch->n_layers;
    const real *in = x, *p = params;
    ptrdiff_t i;
    for (i = 0; i < L; i++) {
        const ptrdiff_t I = arch->sizes[i], O = arch->sizes[i + 1];
        real *out = i == L - 1 ? last : (i % 2 == 0 ? buf0 : buf1);
        if (arch->blas != NULL) {
            const int sparse = i == 0 ? FN(sparse_index)(idx, in, nb, I, O,
                                                           nb <= CMLP_SPARSE_COL_ROWS)
                                      : 0;
            FN(gemm_forward)(out, in, p, p + I * O, nb, I, O, arch->acts[i], sparse, idx,
                             arch->blas);
        } else {
            FN(dense_forward)(out, in, p, p + I * O, nb, I, O, arch->acts[i]);
        }
        p += (I + 1) * O;
        in = out;
    }
    return in;
}

/* The int32 region at the end of a forward work buffer (arch.c). */
static int32_t *FN(forward_index)(real *work, const cmlp_arch *arch)
{
    return (int32_t *)(work + 2 * cmlp_block_rows(arch) * cmlp_max_width(arch));
}

void FN(net_forward)(real *Y, real *work, const real *params, const real *X, ptrdiff_t N,
                     const cmlp_arch *arch)
{
    /* params (P)  X (N, n_0)  Y (N, K)  work (cmlp_forward_work_size) */
    const ptrdiff_t n0 = arch->sizes[0], K = arch->sizes[arch->n_layers];
    const ptrdiff_t R = cmlp_block_rows(arch);
    real *buf1 = work + R * cmlp_max_width(arch);
    int32_t *idx = FN(forward_index)(work, arch);
    ptrdiff_t r0;
    for (r0 = 0; r0 < N; r0 += R) {
        const ptrdiff_t nb = N - r0 < R ? N - r0 : R;
        FN(block_forward)(Y + r0 * K, work, buf1, idx, params, X + r0 * n0, nb, arch);
    }
}

double FN(net_loss)(real *work, const real *params, const real *X, const real *T,
                    const real *w, ptrdiff_t N, const cmlp_arch *arch)
{
    /* params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  work (cmlp_forward_work_size) */
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], K = arch->sizes[L];
    const ptrdiff_t R = cmlp_block_rows(arch);
    real *buf1 = work + R * cmlp_max_width(arch);
    int32_t *idx = FN(forward_index)(work, arch);
    /* the output block goes to the buffer the last hidden layer did not use */
    real *last = (L - 1) % 2 == 0 ? work : buf1;
    double total = 0;
    ptrdiff_t r0;
    for (r0 = 0; r0 < N; r0 += R) {
        const ptrdiff_t nb = N - r0 < R ? N - r0 : R;
        const real *y = FN(block_forward)(last, work, buf1, idx, params, X + r0 * n0, nb, arch);
        total += FN(loss_rows)(y, T + r0 * K, w == NULL ? NULL : w + r0, nb, K, arch->loss,
                               arch->acts[L - 1]);
    }
    return total;
}

double FN(net_gradients)(real *grad, real *work, const real *params, const real *X,
                         const real *T, const real *w, ptrdiff_t N, const cmlp_arch *arch)
{
    /* the dropout driver without masks (train_tmpl.h): work (cmlp_gradient_work_size) */
    return FN(net_gradients_dropout)(grad, work, params, X, T, w, NULL, NULL, N, arch);
}

/* 1 if every p[i] is finite: p * 0 is 0 for finite p and NaN for inf or NaN (vectorised). */
static int FN(all_finite)(const real *p, ptrdiff_t n)
{
    real acc = 0;
    ptrdiff_t i;
    CMLP_SIMD_SUM(acc)
    for (i = 0; i < n; i++) acc += p[i] * R_LIT(0.0);
    return acc == 0;
}

/* The next row of perm from s on that counts (weight not 0), or n. */
static ptrdiff_t FN(next_row)(const real *w, const int64_t *perm, ptrdiff_t s, ptrdiff_t n)
{
    while (s < n && w != NULL && w[perm[s]] == 0) s++; /* a row of weight 0 does not count */
    return s;
}

/* The padded copy of the parameters in sgd_epoch's work (cmlp_sgd_work_size): its first
 * 64-byte boundary after the activations and the deltas. */
static real *FN(padded_params)(real *work, const cmlp_arch *arch)
{
    const ptrdiff_t room = cmlp_sgd_work_size(arch) - cmlp_padded_param_count(arch);
    const uintptr_t end = (uintptr_t)(work + room - CMLP_PAD);
    return (real *)((end + 63) / 64 * 64);
}

/* pp = params with every layer's rows (W_i's I rows, then b_i) widened to
 * ld = cmlp_padded_width(O) elements, the padding zero; to_params: the other way. */
static void FN(copy_padded)(real *pp, real *params, const cmlp_arch *arch, int to_params)
{
    ptrdiff_t i, k;
    for (i = 0; i < arch->n_layers; i++) {
        const ptrdiff_t I = arch->sizes[i], O = arch->sizes[i + 1], ld = cmlp_padded_width(O);
        for (k = 0; k <= I; k++) {
            if (to_params) {
                memcpy(params + k * O, pp + k * ld, (size_t)O * sizeof(real));
            } else {
                memcpy(pp + k * ld, params + k * O, (size_t)O * sizeof(real));
                memset(pp + k * ld + O, 0, (size_t)(ld - O) * sizeof(real));
            }
        }
        params += (I + 1) * O;
        pp += (I + 1) * ld;
    }
}

/* The per-sample SGD loop itself (see sgd_epoch in cmlp.h), on the padded parameters pp.
 * A layer of width O runs as one of width ld = cmlp_padded_width(O) whose extra columns
 * of W and b are zero: the kernels take whole vectors; the activation, the loss and the
 * next layer read only the first O entries, and the extra entries of each layer's delta
 * stay zero, so the padding stays zero and adds nothing.
 * work: a_1..a_L of one row, then S_1..S_L, ld entries each.
 * The first layer's update for one row and its forward pass for the next are one pass
 * (update_forward_row), so every row but the first of a call enters with a_1 done. */
static int FN(sgd_rows)(real *pp, real *work, const real *X, const real *T,
                        const real *w, const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch,
                        real lr, int stop_nonfinite, ptrdiff_t *done, double *loss_sum)
{
    /* pp (cmlp_padded_param_count)  X (N, n_0)  T (N, K)  w (N) or NULL  perm (n) */
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], n1 = arch->sizes[1];
    const ptrdiff_t K = arch->sizes[L], ld1 = cmlp_padded_width(n1);
    real *const W1 = pp, *const b1 = pp + n0 * ld1;
    ptrdiff_t s, next, i, width = 0;
    for (i = 1; i <= L; i++) width += cmlp_padded_width(arch->sizes[i]);
    memset(work, 0, (size_t)(2 * width) * sizeof(real));
    s = FN(next_row)(w, perm, 0, n);
    if (s < n) {
        FN(dense_forward_row)(work, X + perm[s] * n0, W1, b1, n0, ld1);
        FN(act_forward)(work, 1, n1, arch->acts[0]);
    }
    for (; s < n; s = next) {
        const real *x = X + perm[s] * n0, *t = T + perm[s] * K, *xn;
        real *p = b1 + ld1, *a = work, *d, *y;
        double l;
        /* a_i at a, for i = 2..L (a_1 is there from the previous row's pass) */
        for (i = 1; i < L; i++) {
            const ptrdiff_t I = arch->sizes[i], O = arch->sizes[i + 1];
            const ptrdiff_t ldI = cmlp_padded_width(I), ld = cmlp_padded_width(O);
            FN(dense_forward_row)(a + ldI, a, p, p + I * ld, I, ld);
            FN(act_forward)(a + ldI, 1, O, arch->acts[i]);
            p += (I + 1) * ld;
            a += ldI;
        }
        y = a; /* a_L */
        d = a + width; /* S_L: each S_i lies width after a_i */
        l = FN(loss_forward)(y, t, 1, K, arch->loss, arch->acts[L - 1]);
        if (stop_nonfinite && !isfinite(l)) {
            *done = s;
            return CMLP_NONFINITE;
        }
        /* a weight > 0 does not change the step: the weighted mean over one row is g */
        *loss_sum += w == NULL ? l : (double)w[perm[s]] * l;
        FN(output_delta)(d, y, t, 1, K, arch->loss, arch->acts[L - 1]);
        /* S_i for every layer from the weights as they were before this row: layer i's
         * pass reads W_i before updating it, and W_{i-1} is not touched until later */
        for (i = L; i >= 2; i--) {
            const ptrdiff_t I = arch->sizes[i - 1], O = arch->sizes[i];
            const ptrdiff_t ldI = cmlp_padded_width(I), ld = cmlp_padded_width(O);
            p -= (I + 1) * ld;
            a -= ldI; /* a_{i-1} */
            FN(dense_backward_sgd)(d - ldI, p, p + I * ld, d, a, lr, I, ld, arch->acts[i - 2]);
            d -= ldI;
        }
        /* layer 1: b_1 first, then W_1's update fused with the next row's a_1 */
        next = FN(next_row)(w, perm, s + 1, n);
        xn = next < n ? X + perm[next] * n0 : NULL;
        FN(axpy)(b1, -lr, d, ld1);
        FN(update_forward_row)(work, xn, W1, b1, x, d, lr, n0, ld1);
        if (xn != NULL) FN(act_forward)(work, 1, n1, arch->acts[0]);
    }
    *done = n;
    return CMLP_OK;
}

int FN(sgd_epoch)(real *params, real *work, const real *X, const real *T, const real *w,
                  const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch, real lr,
                  int stop_nonfinite, ptrdiff_t *done, double *loss_sum)
{
    /* work (cmlp_sgd_work_size): sgd_rows' buffers, then the padded parameters pp.
     * A row's loss is checked before its update, but an update can still overflow the
     * parameters while that loss, summed in double, was finite (float32 weights reach inf
     * first). So with stop_nonfinite, pp is checked after the rows and params is written
     * back only if every value is finite; if not, the rows are replayed one by one from
     * params, each written back, and the loop stops before the row whose update
     * overflows. */
    const ptrdiff_t Pp = cmlp_padded_param_count(arch);
    real *pp = FN(padded_params)(work, arch);
    double partial = 0;
    ptrdiff_t s, one;
    int status;
    FN(copy_padded)(pp, params, arch, 0);
    status = FN(sgd_rows)(pp, work, X, T, w, perm, n, arch, lr, stop_nonfinite, done, &partial);
    if (!stop_nonfinite || FN(all_finite)(pp, Pp)) {
        FN(copy_padded)(pp, params, arch, 1);
        *loss_sum += partial;
        return status;
    }
    FN(copy_padded)(pp, params, arch, 0);
    for (s = 0; s < n; s++) {
        double l = 0;
        status = FN(sgd_rows)(pp, work, X, T, w, perm + s, 1, arch, lr, 1, &one, &l);
        if (status != CMLP_OK || !FN(all_finite)(pp, Pp)) {
            *done = s; /* params: as after row s - 1 */
            return CMLP_NONFINITE;
        }
        FN(copy_padded)(pp, params, arch, 1);
        *loss_sum += l;
    }
    *done = n;
    return CMLP_OK;
}
