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
            const int sparse = i == 0 && FN(sparse_index)(idx, in, nb, I, O);
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

/* The per-sample SGD loop itself (see sgd_epoch in cmlp.h).
 * work: a_1..a_L of one row (sum n_i), then two deltas (max_width each).
 * The first layer's update for one row and its forward for the next are one pass
 * (update_forward_row), so every row but the first of a call enters with a_1 done. */
static int FN(sgd_rows)(real *params, real *work, const real *X, const real *T,
                        const real *w, const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch,
                        real lr, int stop_nonfinite, ptrdiff_t *done, double *loss_sum)
{
    /* params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  perm (n) */
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], n1 = arch->sizes[1];
    const ptrdiff_t K = arch->sizes[L];
    const ptrdiff_t maxw = cmlp_max_width(arch), P = cmlp_param_count(arch);
    real *const W1 = params, *const b1 = params + n0 * n1;
    ptrdiff_t s, next, i, a_size = 0;
    for (i = 1; i <= L; i++) a_size += arch->sizes[i];
    s = FN(next_row)(w, perm, 0, n);
    if (s < n) FN(dense_forward)(work, X + perm[s] * n0, W1, b1, 1, n0, n1, arch->acts[0]);
    for (; s < n; s = next) {
        const real *x = X + perm[s] * n0, *t = T + perm[s] * K, *in = work, *y, *xn;
        real *p = params + (n0 + 1) * n1, *a = work + n1, *d_cur = work + a_size;
        real *d_prev = d_cur + maxw, *tmp;
        ptrdiff_t off = P;
        double l;
        for (i = 1; i < L; i++) {
            const ptrdiff_t I = arch->sizes[i], O = arch->sizes[i + 1];
            FN(dense_forward)(a, in, p, p + I * O, 1, I, O, arch->acts[i]);
            p += (I + 1) * O;
            in = a;
            a += O;
        }
        y = in;
        l = FN(loss_forward)(y, t, 1, K, arch->loss, arch->acts[L - 1]);
        if (stop_nonfinite && !isfinite(l)) {
            *done = s;
            return CMLP_NONFINITE;
        }
        /* a weight > 0 does not change the step: the weighted mean over one row is g */
        *loss_sum += w == NULL ? l : (double)w[perm[s]] * l;
        FN(output_delta)(d_cur, y, t, 1, K, arch->loss, arch->acts[L - 1]);
        /* S_i for every layer from the weights as they were before this row: layer i's
         * pass reads W_i before updating it, and W_{i-1} is not touched until later */
        a = work + a_size;
        for (i = L; i >= 2; i--) {
            const ptrdiff_t I = arch->sizes[i - 1], O = arch->sizes[i];
            off -= (I + 1) * O;
            a -= O; /* a_i */
            FN(dense_backward_sgd)(d_prev, params + off, params + off + I * O, d_cur, a - I, lr,
                                   I, O, arch->acts[i - 2]);
            tmp = d_cur;
            d_cur = d_prev;
            d_prev = tmp;
        }
        /* layer 1: b_1 first, then W_1's update fused with the next row's a_1 */
        next = FN(next_row)(w, perm, s + 1, n);
        xn = next < n ? X + perm[next] * n0 : NULL;
        FN(axpy)(b1, -lr, d_cur, n1);
        FN(update_forward_row)(work, xn, W1, b1, x, d_cur, lr, n0, n1);
        if (xn != NULL) FN(act_forward)(work, 1, n1, arch->acts[0]);
    }
    *done = n;
    return CMLP_OK;
}

int FN(sgd_epoch)(real *params, real *work, const real *X, const real *T, const real *w,
                  const int64_t *perm, ptrdiff_t n, const cmlp_arch *arch, real lr,
                  int stop_nonfinite, ptrdiff_t *done, double *loss_sum)
{
    /* work: sgd_rows' buffers, then a copy of params (P) at its end.
     * A row's loss is checked before its update, but an update can still overflow the
     * parameters while that loss, summed in double, was finite (float32 weights reach inf
     * first). So with stop_nonfinite the parameters are copied before the rows and checked
     * after them; if any is not finite, the rows are replayed one by one from the copy and
     * the loop stops before the row whose update overflows. */
    const ptrdiff_t P = cmlp_param_count(arch);
    real *backup = work + (cmlp_sgd_work_size(arch) - P);
    double partial = 0;
    ptrdiff_t s, one;
    int status;
    if (!stop_nonfinite)
        return FN(sgd_rows)(params, work, X, T, w, perm, n, arch, lr, 0, done, loss_sum);
    memcpy(backup, params, (size_t)P * sizeof(real));
    status = FN(sgd_rows)(params, work, X, T, w, perm, n, arch, lr, 1, done, &partial);
    if (FN(all_finite)(params, P)) {
        *loss_sum += partial;
        return status;
    }
    memcpy(params, backup, (size_t)P * sizeof(real));
    for (s = 0; s < n; s++) {
        double l = 0;
        memcpy(backup, params, (size_t)P * sizeof(real));
        status = FN(sgd_rows)(params, work, X, T, w, perm + s, 1, arch, lr, 1, &one, &l);
        if (status != CMLP_OK || !FN(all_finite)(params, P)) {
            memcpy(params, backup, (size_t)P * sizeof(real));
            *done = s;
            return CMLP_NONFINITE;
        }
        *loss_sum += l;
    }
    *done = n;
    return CMLP_OK;
}
