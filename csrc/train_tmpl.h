/* train_tmpl.h -- minibatch training built from the layer kernels: gradients with inverted
 * dropout, the chunked minibatch driver, and the end-of-epoch evaluation; see cmlp.h. */

/* Units of hidden layer i (1-based, i < L) in the dropout draws: H = n_1 + ... + n_{L-1}. */
static ptrdiff_t FN(hidden_width_sum)(const cmlp_arch *arch)
{
    ptrdiff_t i, H = 0;
    for (i = 1; i < arch->n_layers; i++) H += arch->sizes[i];
    return H;
}

double FN(net_gradients_dropout)(real *grad, real *work, const real *params, const real *X,
                                 const real *T, const real *w, const real *U, const double *drop,
                                 ptrdiff_t N, const cmlp_arch *arch)
{
    /* grad, params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  U (N, H) or NULL  drop (L - 1)
     * work: a_1..a_L of a block (the kept, scaled values the next layer reads), with U only
     * h_1..h_{L-1} (the activations before the mask: their derivatives), then two delta
     * blocks. Without U (no dropout; net_gradients) there is no h, and each layer's
     * derivative is applied inside dense_backward, from a. */
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], K = arch->sizes[L];
    const ptrdiff_t maxw = cmlp_max_width(arch), H = FN(hidden_width_sum)(arch);
    const ptrdiff_t R = cmlp_block_rows(arch);
    ptrdiff_t i, r, j, r0, off, a_size = 0, h_off;
    real *d_cur, *d_prev, *tmp, *hbase;
    int32_t *idx; /* with BLAS: the first layer's sparse index, after the deltas (arch.c) */
    double total = 0;
    for (i = 1; i <= L; i++) a_size += R * arch->sizes[i];
    hbase = work + a_size;
    idx = (int32_t *)(hbase + (U != NULL ? R * H : 0) + 2 * R * maxw);
    for (r0 = 0; r0 < N; r0 += R) {
        const ptrdiff_t nb = N - r0 < R ? N - r0 : R;
        const real *x = X + r0 * n0, *in = x, *p = params, *y, *u = U ? U + r0 * H : NULL;
        real *a = work, *h = hbase;
        /* with BLAS, whether the first layer takes the sparse kernels for this block */
        const int sparse =
            arch->blas != NULL && FN(sparse_index)(idx, x, nb, n0, arch->sizes[1]);
        h_off = 0;
        for (i = 0; i < L; i++) {
            const ptrdiff_t I = arch->sizes[i], O = arch->sizes[i + 1];
            real *out = U != NULL && i < L - 1 ? h : a;
            if (arch->blas != NULL)
                FN(gemm_forward)(out, in, p, p + I * O, nb, I, O, arch->acts[i], i == 0 && sparse,
                                 idx, arch->blas);
            else
                FN(dense_forward)(out, in, p, p + I * O, nb, I, O, arch->acts[i]);
            if (U != NULL && i < L - 1) {
                /* hidden layer i+1: h = act(in W + b), a = h * keep / (1 - p) */
                const double pd = drop[i];
                const real scale = (real)(1.0 / (1.0 - pd)), pr = (real)pd;
                for (r = 0; r < nb; r++)
                    for (j = 0; j < O; j++)
                        a[r * O + j] = u[r * H + h_off + j] >= pr ? h[r * O + j] * scale : 0;
                h += R * O;
                h_off += O;
            }
            p += (I + 1) * O;
            in = a;
            a += R * O;
        }
        y = in;
        total += FN(loss_rows)(y, T + r0 * K, w == NULL ? NULL : w + r0, nb, K, arch->loss,
                               arch->acts[L - 1]);
        d_cur = hbase + (U != NULL ? R * H : 0);
        d_prev = d_cur + R * maxw;
        FN(output_delta)(d_cur, y, T + r0 * K, nb, K, arch->loss, arch->acts[L - 1]);
        if (w != NULL) FN(weight_rows)(d_cur, w + r0, nb, K); /* S_L of row r times w_r */
        off = cmlp_param_count(arch);
        a = work + a_size;
        for (i = L; i >= 1; i--) {
            const ptrdiff_t I = arch->sizes[i - 1], O = arch->sizes[i];
            const real *xin;
            const int act_x = i == 1 || U != NULL ? CMLP_IDENTITY : arch->acts[i - 2];
            off -= (I + 1) * O;
            a -= R * O; /* a_i */
            xin = i == 1 ? x : a - R * I;
            /* dx = dz W^T, then (with dropout) times the mask and the derivative at the
             * unmasked h_{i-1}; without dropout the derivative is taken inside, from a */
            if (arch->blas != NULL)
                FN(gemm_backward)(i == 1 ? NULL : d_prev, grad + off, grad + off + I * O, d_cur,
                                  xin, params + off, nb, I, O, act_x, i == 1 && sparse, idx,
                                  arch->blas);
            else
                FN(dense_backward)(i == 1 ? NULL : d_prev, grad + off, grad + off + I * O, d_cur,
                                   xin, params + off, nb, I, O, act_x);
            if (i > 1 && U != NULL) {
                const double pd = drop[i - 2];
                const real scale = (real)(1.0 / (1.0 - pd)), pr = (real)pd;
                h -= R * I; /* h_{i-1} */
                h_off -= I;
                for (r = 0; r < nb; r++)
                    for (j = 0; j < I; j++)
                        d_prev[r * I + j] *= u[r * H + h_off + j] >= pr ? scale : 0;
                FN(act_backward)(d_prev, h, nb * I, arch->acts[i - 2]);
            }
            tmp = d_cur;
            d_cur = d_prev;
            d_prev = tmp;
        }
    }
    return total;
}

/* The plain-SGD step of the minibatch drivers on the part [lo, hi) of the parameters, in one
 * pass: p -= c (g_0 + g_1 + ... + g_{ng-1}) (summed in that order), each g_k zeroed there;
 * with backup != NULL, backup = p before the step. Returns 1 if every new p is finite.
 * p, backup, g[k] (P) */
static int FN(sgd_sum_step)(real *p, real *const *g, int ng, real c, real *backup,
                            ptrdiff_t lo, ptrdiff_t hi)
{
    real *g0 = g[0], *g1 = ng > 1 ? g[1] : NULL;
    real acc = 0;
    ptrdiff_t j;
    int k;
    for (k = 2; k < ng; k++) { /* a third thread's gradients and beyond: into g_1 */
        real *gk = g[k];
        CMLP_SIMD
        for (j = lo; j < hi; j++) {
            g1[j] += gk[j];
            gk[j] = 0;
        }
    }
    if (g1 == NULL && backup != NULL) {
        CMLP_SIMD_SUM(acc)
        for (j = lo; j < hi; j++) {
            const real old = p[j], now = old - c * g0[j];
            backup[j] = old;
            p[j] = now;
            g0[j] = 0;
            acc += now * 0; /* NaN if now is not finite */
        }
    } else if (g1 == NULL) {
        CMLP_SIMD_SUM(acc)
        for (j = lo; j < hi; j++) {
            const real now = p[j] - c * g0[j];
            p[j] = now;
            g0[j] = 0;
            acc += now * 0;
        }
    } else {
        CMLP_SIMD_SUM(acc)
        for (j = lo; j < hi; j++) {
            const real old = p[j], now = old - c * (g0[j] + g1[j]);
            if (backup != NULL) backup[j] = old;
            p[j] = now;
            g0[j] = 0;
            g1[j] = 0;
            acc += now * 0;
        }
    }
    return acc == 0;
}

int FN(train_batches)(real *params, real *grad, real *state, real *work, const cmlp_rows *X,
                      const real *T, const real *w, const int64_t *perm, ptrdiff_t n,
                      ptrdiff_t B, const real *U, const double *drop, const cmlp_arch *arch,
                      cmlp_optim *opt, int stop_nonfinite, ptrdiff_t *done, double *loss_sum)
{
    /* params, grad (P)  state (2P)  X (N, n_0) dense or CSR  T (N, K)  w (N) or NULL
     * perm (n)  U (n, H) or NULL
     * work: Xb (B, n_0), Tb (B, K), wb (B), a backup of params (P), then the gradient work.
     * grad is zeroed here once and left zero after every step. */
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], K = arch->sizes[L];
    const ptrdiff_t P = cmlp_param_count(arch), H = FN(hidden_width_sum)(arch);
    const int plain_sgd = opt->kind == CMLP_OPT_SGD && opt->l1 == 0 && opt->l2 == 0;
    real *Xb = work, *Tb = work + B * n0, *wb = Tb + B * K, *backup = wb + B;
    real *gwork = backup + P;
    ptrdiff_t s, r, j;
    for (j = 0; j < P; j++) grad[j] = 0;
    for (s = 0; s < n; s += B) {
        const ptrdiff_t m = n - s < B ? n - s : B;
        double l, wsum = (double)m;
        real scale;
        int finite;
        if (w != NULL) {
            wsum = 0;
            for (r = 0; r < m; r++) {
                wb[r] = w[perm[s + r]];
                wsum += wb[r];
            }
            if (wsum == 0) continue; /* a batch of weight 0: no step at all */
        }
        scale = (real)(1.0 / wsum); /* the (weighted) mean over the batch */
        FP(gather_rows)(Xb, X, perm + s, 0, m, n0);
        for (r = 0; r < m; r++) {
            const real *ts = T + perm[s + r] * K;
            for (j = 0; j < K; j++) Tb[r * K + j] = ts[j];
        }
        l = FN(net_gradients_dropout)(grad, gwork, params, Xb, Tb, w == NULL ? NULL : wb,
                                      U == NULL ? NULL : U + s * H, drop, m, arch);
        if (stop_nonfinite && !isfinite(l)) {
            *done = s;
            return CMLP_NONFINITE;
        }
        if (plain_sgd) {
            /* optim_step's plain sgd, fused with the backup, the zeroing and the check */
            opt->t += 1;
            finite = FN(sgd_sum_step)(params, &grad, 1, (real)(opt->lr * (double)scale),
                                      stop_nonfinite ? backup : NULL, 0, P);
        } else {
            if (stop_nonfinite)
                for (j = 0; j < P; j++) backup[j] = params[j];
            FN(optim_step)(params, grad, state, opt, scale, arch);
            for (j = 0; j < P; j++) grad[j] = 0;
            finite = !stop_nonfinite || FN(all_finite)(params, P);
        }
        if (stop_nonfinite && !finite) {
            /* a finite loss can still give an update that overflows (float32): undo it */
            for (j = 0; j < P; j++) params[j] = backup[j];
            *done = s;
            return CMLP_NONFINITE;
        }
        *loss_sum += l;
    }
    *done = n;
    return CMLP_OK;
}

int FN(train_team)(cmlp_team *team, int tid)
{
    const cmlp_arch *arch = team->arch;
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], K = arch->sizes[L];
    const ptrdiff_t P = cmlp_param_count(arch), H = FN(hidden_width_sum)(arch);
    const int nt = team->n_threads;
    const ptrdiff_t n = team->n, B = team->B, rows = (B + nt - 1) / nt;
    /* this thread's part of the parameters */
    const ptrdiff_t lo = P * tid / nt, hi = P * (tid + 1) / nt;
    const real *T = (const real *)team->T;
    const real *U = (const real *)team->U, *w = (const real *)team->w;
    real *params = (real *)team->params, *state = (real *)team->state;
    real *backup = (real *)team->backup, *grad0 = (real *)team->grads[0];
    real *g = (real *)team->grads[tid];
    real *Xb = (real *)team->work[tid], *Tb = Xb + rows * n0, *wb = Tb + rows * K;
    real *gwork = wb + rows;
    const int64_t t0 = team->opt->t; /* read before the first barrier; thread 0 sets it last */
    const int plain_sgd = team->opt->kind == CMLP_OPT_SGD && team->opt->l1 == 0 &&
                          team->opt->l2 == 0;
    /* batch: the steps taken (a batch of weight 0 takes none) */
    ptrdiff_t s, r, j, k, batch = 0;
    for (s = 0; s < n; s += B) {
        const ptrdiff_t m = n - s < B ? n - s : B;
        const ptrdiff_t a = m * tid / nt, b = m * (tid + 1) / nt;
        double total = 0, wsum = (double)m;
        real scale;
        int bad = 0;
        if (w != NULL) {
            /* every thread sums the whole batch's weights in the same order: the same
             * scale everywhere, and the same decision to skip a batch of weight 0 */
            wsum = 0;
            for (r = 0; r < m; r++) wsum += w[team->perm[s + r]];
            if (wsum == 0) continue;
            for (r = a; r < b; r++) wb[r - a] = w[team->perm[s + r]];
        }
        scale = (real)(1.0 / wsum);
        FP(gather_rows)(Xb, &team->X, team->perm + s + a, 0, b - a, n0);
        for (r = a; r < b; r++) {
            const real *ts = T + team->perm[s + r] * K;
            for (j = 0; j < K; j++) Tb[(r - a) * K + j] = ts[j];
        }
        team->losses[tid] = b > a ? FN(net_gradients_dropout)(g, gwork, params, Xb, Tb,
                                                              w == NULL ? NULL : wb,
                                                              U == NULL ? NULL : U + (s + a) * H,
                                                              team->drop, b - a, arch)
                                  : 0.0;
        cmlp_barrier_wait(&team->barrier);
        for (k = 0; k < nt; k++) total += team->losses[k];
        if (team->stop_nonfinite && !isfinite(total)) {
            if (tid == 0) {
                team->status = CMLP_NONFINITE;
                team->done = s;
                team->opt->t = t0 + batch;
            }
            return CMLP_NONFINITE; /* every thread sees the same total */
        }
        /* this thread's part: the sum of the threads' gradients, in thread order, each
         * buffer zeroed as it is read, then the optimizer step */
        if (plain_sgd) {
            team->flags[tid] = !FN(sgd_sum_step)(params, (real *const *)team->grads, nt,
                                                 (real)(team->opt->lr * (double)scale),
                                                 team->stop_nonfinite ? backup : NULL, lo, hi);
        } else {
            for (k = 1; k < nt; k++) {
                real *gk = (real *)team->grads[k];
                CMLP_SIMD
                for (j = lo; j < hi; j++) {
                    grad0[j] += gk[j];
                    gk[j] = 0;
                }
            }
            if (team->stop_nonfinite)
                for (j = lo; j < hi; j++) backup[j] = params[j];
            FN(optim_step_range)(params, grad0, state, team->opt, scale, arch, lo, hi,
                                 t0 + batch + 1);
            for (j = lo; j < hi; j++) grad0[j] = 0;
            team->flags[tid] = team->stop_nonfinite && !FN(all_finite)(params + lo, hi - lo);
        }
        cmlp_barrier_wait(&team->barrier);
        if (team->stop_nonfinite) {
            for (k = 0; k < nt; k++) bad |= team->flags[k];
            if (bad) {
                /* the update overflowed somewhere: every thread undoes its part */
                for (j = lo; j < hi; j++) params[j] = backup[j];
                if (tid == 0) {
                    team->status = CMLP_NONFINITE;
                    team->done = s;
                    team->opt->t = t0 + batch + 1;
                }
                return CMLP_NONFINITE;
            }
        }
        if (tid == 0) team->loss_sum += total;
        batch++;
    }
    if (tid == 0) {
        team->status = CMLP_OK;
        team->done = n;
        team->opt->t = t0 + batch;
    }
    return CMLP_OK;
}

/* 1 if output row y and target row t name the same class (argmax, or the threshold of one
 * sigmoid (0.5) or tanh (0) unit) */
static int FN(same_class)(const real *y, const real *t, ptrdiff_t K, int out_act)
{
    ptrdiff_t j, ay = 0, at = 0;
    if (K == 1) {
        const real thr = out_act == CMLP_TANH ? 0 : R_LIT(0.5);
        return (y[0] > thr) == (t[0] > thr);
    }
    for (j = 1; j < K; j++) {
        if (y[j] > y[ay]) ay = j;
        if (t[j] > t[at]) at = j;
    }
    return ay == at;
}

double FN(net_evaluate)(real *work, const real *params, const real *X, const real *T,
                        const real *w, ptrdiff_t N, const cmlp_arch *arch, double *correct)
{
    /* params (P)  X (N, n_0)  T (N, K)  w (N) or NULL  work (cmlp_forward_work_size); as
     * net_loss, and sums the weights of the rows whose predicted class is the target's */
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], K = arch->sizes[L];
    const ptrdiff_t R = cmlp_block_rows(arch);
    real *buf1 = work + R * cmlp_max_width(arch);
    int32_t *idx = FN(forward_index)(work, arch);
    real *last = (L - 1) % 2 == 0 ? work : buf1;
    double total = 0, c = 0;
    ptrdiff_t r0, r;
    for (r0 = 0; r0 < N; r0 += R) {
        const ptrdiff_t nb = N - r0 < R ? N - r0 : R;
        const real *y = FN(block_forward)(last, work, buf1, idx, params, X + r0 * n0, nb, arch);
        total += FN(loss_rows)(y, T + r0 * K, w == NULL ? NULL : w + r0, nb, K, arch->loss,
                               arch->acts[L - 1]);
        for (r = 0; r < nb; r++)
            if (FN(same_class)(y + r * K, T + (r0 + r) * K, K, arch->acts[L - 1]))
                c += w == NULL ? 1.0 : (double)w[r0 + r];
    }
    *correct = c;
    return total;
}
