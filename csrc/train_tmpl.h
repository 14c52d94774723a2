/* train_tmpl.h -- minibatch training built from the layer kernels: gradients with inverted
 * dropout, the chunked minibatch driver, and the end-of-epoch evaluation; see cmlp.h. */

/* Units of hidden layer i (1-based, i < L) in the dropout draws: H = n_1 + ... + n_{L-1}. */
static ptrdiff_t FN(hidden_width_sum)(const cmlp_arch *arch)
{
    ptrdiff_t i, H = 0;
    for (i = 1; i < arch->n_layers; i++) H += arch->sizes[i];
    return H;
}

/* The training forward pass of nb rows x (nb, n_0): layer i's activations a_i into the block
 * at abase + cap (n_1 + ... + n_{i-1}), rows from row0 on (row stride n_i); with dropout
 * draws u (nb, H) (else NULL) the hidden layers' unmasked activations h_i into the same
 * places of hbase, and a_i = h_i * keep / (1 - p). sparse: sparse_index's mode for the first
 * layer's input x, idx holding what it needs (BLAS only; see gemm_forward). Returns a_L's
 * first row. */
static const real *FN(train_forward)(real *abase, real *hbase, ptrdiff_t cap, ptrdiff_t row0,
                                     const real *x, const real *params, const real *u,
                                     const double *drop, ptrdiff_t nb, int sparse,
                                     const int32_t *idx, const cmlp_arch *arch)
{
    const ptrdiff_t L = arch->n_layers, H = FN(hidden_width_sum)(arch);
    const real *in = x, *p = params;
    real *a = abase, *h = hbase;
    ptrdiff_t i, r, j, h_off = 0;
    for (i = 0; i < L; i++) {
        const ptrdiff_t I = arch->sizes[i], O = arch->sizes[i + 1];
        real *ar = a + row0 * O;
        real *out = u != NULL && i < L - 1 ? h + row0 * O : ar;
        if (arch->blas != NULL)
            FN(gemm_forward)(out, in, p, p + I * O, nb, I, O, arch->acts[i], i == 0 ? sparse : 0,
                             idx, arch->blas);
        else
            FN(dense_forward)(out, in, p, p + I * O, nb, I, O, arch->acts[i]);
        if (u != NULL && i < L - 1) {
            /* hidden layer i+1: h = act(in W + b), a = h * keep / (1 - p) */
            const double pd = drop[i];
            const real scale = (real)(1.0 / (1.0 - pd)), pr = (real)pd;
            for (r = 0; r < nb; r++)
                for (j = 0; j < O; j++)
                    ar[r * O + j] = u[r * H + h_off + j] >= pr ? out[r * O + j] * scale : 0;
            h += cap * O;
            h_off += O;
        }
        p += (I + 1) * O;
        in = ar;
        a += cap * O;
    }
    return in;
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
        const real *x = X + r0 * n0, *y, *u = U ? U + r0 * H : NULL;
        real *a, *h = hbase + R * H;
        /* with BLAS, how the first layer multiplies this block (sparse_index's mode) */
        const int sparse =
            arch->blas != NULL ? FN(sparse_index)(idx, x, nb, n0, arch->sizes[1], 1) : 0;
        y = FN(train_forward)(work, hbase, R, 0, x, params, u, drop, nb, sparse, idx, arch);
        h_off = H; /* the backward pass walks h and the draws from the last hidden layer */
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
                                  xin, params + off, nb, I, O, act_x, i == 1 ? sparse : 0, idx,
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

/* The summed weight of a team's batch of m rows perm (m without weights). Every thread sums
 * the whole batch's weights in the same order: the same scale everywhere, and the same
 * decision to skip a batch of weight 0. */
static double FN(batch_weight)(const real *w, const int64_t *perm, ptrdiff_t m)
{
    double wsum = 0;
    ptrdiff_t r;
    if (w == NULL) return (double)m;
    for (r = 0; r < m; r++) wsum += w[perm[r]];
    return wsum;
}

/* The end of a team's chunk: thread 0 records the status, the rows done and the step
 * count t (the others return the same status without writing). */
static int FN(team_end)(cmlp_team *team, int tid, int status, ptrdiff_t done, int64_t t)
{
    if (tid == 0) {
        team->status = status;
        team->done = done;
        team->opt->t = t;
    }
    return status;
}

/* The team without BLAS: each thread sums its rows' gradients into its own buffer; see
 * train_team in cmlp.h. */
static int FN(train_team_sum)(cmlp_team *team, int tid)
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
        const double wsum = FN(batch_weight)(w, team->perm + s, m);
        double total = 0;
        real scale;
        int bad = 0;
        if (wsum == 0) continue; /* a batch of weight 0: no step */
        if (w != NULL)
            for (r = a; r < b; r++) wb[r - a] = w[team->perm[s + r]];
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
        if (team->stop_nonfinite && !isfinite(total)) /* every thread sees the same total */
            return FN(team_end)(team, tid, CMLP_NONFINITE, s, t0 + batch);
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
                return FN(team_end)(team, tid, CMLP_NONFINITE, s, t0 + batch + 1);
            }
        }
        if (tid == 0) team->loss_sum += total;
        batch++;
    }
    return FN(team_end)(team, tid, CMLP_OK, n, t0 + batch);
}

/* ---- the row-split team (with BLAS) ---- */

/* The rows [lo, hi) of layer i's I + 1 parameter rows (I rows of W_i, then b_i) that thread
 * tid of nt owns in the row-split team. */
static void FN(owned_rows)(ptrdiff_t I, int tid, int nt, ptrdiff_t *lo, ptrdiff_t *hi)
{
    *lo = (I + 1) * tid / nt;
    *hi = (I + 1) * (tid + 1) / nt;
}

/* Phase 1 of the row-split team, for rows [row0, row0 + nb) of a chunk whose shared blocks
 * hold cap rows per layer: forward (a_i into A, with dropout h_i into Hh), the loss, S_L
 * and the backprop recursion S_{i-1} = (S_i W_i^T) * A_{i-1}, every S_i into D (the same
 * layout as A). x, t, w: the rows' inputs, targets, weights (or NULL); u: their dropout
 * draws (or NULL). idx: this thread's index region, where the first layer's input index
 * stays for team_grads; *sparse_out is set to sparse_index's mode. Returns the rows' loss. */
static double FN(team_deltas)(real *A, real *Hh, real *D, int32_t *idx, int *sparse_out,
                              const real *x, const real *t, const real *w, const real *u,
                              const double *drop, ptrdiff_t cap, ptrdiff_t row0, ptrdiff_t nb,
                              const real *params, const cmlp_arch *arch)
{
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], K = arch->sizes[L];
    const ptrdiff_t H = FN(hidden_width_sum)(arch);
    const int sparse = *sparse_out = FN(sparse_index)(idx, x, nb, n0, arch->sizes[1], 1);
    const real *y = FN(train_forward)(A, Hh, cap, row0, x, params, u, drop, nb, sparse, idx,
                                      arch);
    ptrdiff_t i, r, j, off = cmlp_param_count(arch), aoff = 0, h_off = H;
    real *dL;
    double loss;
    for (i = 1; i < L; i++) aoff += cap * arch->sizes[i]; /* layer L's block */
    loss = FN(loss_rows)(y, t, w, nb, K, arch->loss, arch->acts[L - 1]);
    dL = D + aoff + row0 * K;
    FN(output_delta)(dL, y, t, nb, K, arch->loss, arch->acts[L - 1]);
    if (w != NULL) FN(weight_rows)(dL, w, nb, K);
    for (i = L; i >= 2; i--) {
        const ptrdiff_t I = arch->sizes[i - 1], O = arch->sizes[i];
        const real *dcur = D + aoff + row0 * O;
        real *dprev;
        off -= (I + 1) * O;
        aoff -= cap * I; /* layer i - 1's block */
        dprev = D + aoff + row0 * I;
        FN(gemm)(0, 1, nb, I, O, R_LIT(1.0), dcur, O, params + off, O, R_LIT(0.0), dprev, I,
                 arch->blas);
        if (u != NULL) {
            const double pd = drop[i - 2];
            const real scale = (real)(1.0 / (1.0 - pd)), pr = (real)pd;
            h_off -= I;
            for (r = 0; r < nb; r++)
                for (j = 0; j < I; j++)
                    dprev[r * I + j] *= u[r * H + h_off + j] >= pr ? scale : 0;
            FN(act_backward)(dprev, Hh + aoff + row0 * I, nb * I, arch->acts[i - 2]);
        } else {
            FN(act_backward)(dprev, A + aoff + row0 * I, nb * I, arch->acts[i - 2]);
        }
    }
    return loss;
}

/* Phase 2 of the row-split team: for every layer, grad's rows that thread tid owns (W_i's
 * rows [lo, hi), b_i if owned) += their gradient over the chunk's m rows: dW = x^T S over
 * the columns lo..hi of the layer's input, db = the column sums of S in row order. For the
 * first layer, when every thread's rows took the sparse kernels (team->sparse: 1, or -1
 * for a thread without rows in this chunk; mode 2 likewise takes the product over the
 * rows of W_1 in the chunk's union of nonzero columns), row k of
 * dW walks the threads' indexes in thread order, which lists the chunk's rows with a
 * nonzero input k in ascending order: the sum train_batches forms over the same block, bit
 * for bit. Xc: the chunk's inputs. touched (n_0): set to 1 for each owned row of W_1 whose
 * gradient may be nonzero (its input is nonzero in some row, or the GEMM path ran). */
static void FN(team_grads)(real *grad, const real *Xc, const real *A, const real *D,
                           unsigned char *touched, ptrdiff_t cap, ptrdiff_t m, int tid,
                           const cmlp_team *team)
{
    const cmlp_arch *arch = team->arch;
    const ptrdiff_t L = arch->n_layers;
    const int nt = team->n_threads;
    ptrdiff_t i, r, j, k, lo, hi, off = 0, aoff = 0, prev = 0;
    int t, mode = -1; /* the threads' common mode for the first layer's input, else 0 */
    for (t = 0; t < nt; t++)
        if (team->sparse[t] >= 0) mode = mode < 0 || mode == team->sparse[t] ? team->sparse[t] : 0;
    for (i = 1; i <= L; i++) {
        const ptrdiff_t I = arch->sizes[i - 1], O = arch->sizes[i];
        const real *Di = D + aoff, *xin = i == 1 ? Xc : A + prev;
        real *dW = grad + off, *db = grad + off + I * O;
        ptrdiff_t wh;
        FN(owned_rows)(I, tid, nt, &lo, &hi);
        wh = hi < I ? hi : I;
#if defined(CMLP_OWN_GEMM)
        if (wh > lo && m > 0 && i == 1 && mode == 2) {
            /* the owned rows in the chunk's union of nonzero columns (the union of the
             * threads' unions), listed after this thread's union in its region */
            int32_t *mine = (int32_t *)team->work[tid], *list = mine + 2 + 2 * I;
            ptrdiff_t nl = 0;
            for (k = lo; k < wh; k++) {
                int used = 0;
                for (t = 0; t < nt; t++)
                    if (team->sparse[t] >= 0)
                        used |= FN(union_flags)((const int32_t *)team->work[t], I)[k] != 0;
                if (used) {
                    list[nl++] = (int32_t)k;
                    touched[k] = 1;
                }
            }
            if (nl > 0)
                FN(mm_list)(nl, O, m, R_LIT(1.0), Xc, 1, I, Di, O, R_LIT(1.0), dW, O, NULL,
                            list);
        } else
#endif
        if (wh > lo && m > 0 && i == 1 && mode == 1) {
            for (k = lo; k < wh; k++) {
                real *row = dW + k * O;
                for (t = 0; t < nt; t++) {
                    /* thread t's rows [m t / nt, ...) of the chunk, by column */
                    const int32_t *idx = (const int32_t *)team->work[t];
                    const int32_t *colptr = FN(index_colptr)(idx, I), *rows = colptr + I + 1;
                    const real *cvals = FN(index_values)(idx, I);
                    const ptrdiff_t p0 = team->sparse[t] < 0 ? 0 : colptr[k];
                    const ptrdiff_t p1 = team->sparse[t] < 0 ? 0 : colptr[k + 1];
                    const real *dz = Di + m * t / nt * O;
                    if (p0 == p1) continue;
                    touched[k] = 1;
                    FN(sparse_grad_row)(row, rows, p0, p1, cvals, dz, O);
                }
            }
        } else if (wh > lo && m > 0) {
            FN(gemm)(1, 0, wh - lo, O, m, R_LIT(1.0), xin + lo, I, Di, O, R_LIT(1.0),
                     dW + lo * O, O, arch->blas);
            if (i == 1)
                for (j = lo; j < wh; j++) touched[j] = 1;
        }
        if (hi == I + 1)
            for (r = 0; r < m; r++) {
                const real *d = Di + r * O;
                CMLP_SIMD
                for (j = 0; j < O; j++) db[j] += d[j];
            }
        off += (I + 1) * O;
        prev = aoff;
        aoff += cap * O;
    }
}

#ifndef CMLP_TEAM_OPS /* once for both precisions */
#define CMLP_TEAM_OPS
enum { TEAM_STEP, TEAM_UNDO, TEAM_ZERO };
#endif

/* op on the parameter rows thread tid owns (owned_rows of every layer): TEAM_ZERO: grad = 0;
 * TEAM_UNDO: params = backup; TEAM_STEP: the optimizer step (batch scale, step number t),
 * with backup = params before it if stop_nonfinite, and the gradient zeroed. Plain SGD's
 * step and undo take only the runs of W_1's rows whose touched flag is set (and b_1): the
 * others' gradient is zero, p - c 0 = p, and no backup of them was taken in this batch.
 * Returns 1 if a step left a non-finite value (checked if stop_nonfinite). */
static int FN(team_owned)(cmlp_team *team, int tid, int op, const unsigned char *touched,
                          real scale, int64_t t)
{
    const cmlp_arch *arch = team->arch;
    const cmlp_optim *opt = team->opt;
    const int plain_sgd = opt->kind == CMLP_OPT_SGD && opt->l1 == 0 && opt->l2 == 0;
    const real c = (real)(opt->lr * (double)scale);
    real *params = (real *)team->params, *grad = (real *)team->grads[0];
    real *backup = (real *)team->backup, *save = team->stop_nonfinite ? backup : NULL;
    ptrdiff_t i, j, lo, hi, k0, k1, off = 0;
    int bad = 0;
    for (i = 1; i <= arch->n_layers; i++) {
        const ptrdiff_t I = arch->sizes[i - 1], O = arch->sizes[i];
        const int skip = i == 1 && plain_sgd && op != TEAM_ZERO;
        FN(owned_rows)(I, tid, team->n_threads, &lo, &hi);
        for (k0 = lo; k0 < hi; k0 = k1) { /* runs of rows; row I is b_i (never skipped) */
            ptrdiff_t s0, s1;
            if (skip && k0 < I && !touched[k0]) {
                k1 = k0 + 1;
                continue;
            }
            for (k1 = k0 + 1; k1 < hi && !(skip && k1 < I && !touched[k1]); k1++) {}
            s0 = off + k0 * O;
            s1 = off + k1 * O;
            if (op == TEAM_ZERO) {
                for (j = s0; j < s1; j++) grad[j] = 0;
            } else if (op == TEAM_UNDO) {
                for (j = s0; j < s1; j++) params[j] = backup[j];
            } else if (plain_sgd) {
                bad |= !FN(sgd_sum_step)(params, &grad, 1, c, save, s0, s1);
            } else {
                if (save != NULL)
                    for (j = s0; j < s1; j++) backup[j] = params[j];
                FN(optim_step_range)(params, grad, (real *)team->state, opt, scale, arch, s0,
                                     s1, t);
                for (j = s0; j < s1; j++) grad[j] = 0;
                bad |= save != NULL && !FN(all_finite)(params + s0, s1 - s0);
            }
        }
        off += (I + 1) * O;
    }
    return bad;
}

/* The team with BLAS; see train_team in cmlp.h. A batch is taken in chunks of at most R =
 * CMLP_GEMM_BLOCK rows (train_batches' blocks): phase 1 (team_deltas) on thread tid's rows
 * of the chunk into the shared blocks, a barrier, phase 2 (team_grads) over the whole
 * chunk for the parameter rows it owns, a barrier before the next chunk; then the
 * optimizer step on its rows, and a barrier. One gradient buffer, no reduction. */
static int FN(train_team_split)(cmlp_team *team, int tid)
{
    const cmlp_arch *arch = team->arch;
    const ptrdiff_t L = arch->n_layers, n0 = arch->sizes[0], K = arch->sizes[L];
    const ptrdiff_t H = FN(hidden_width_sum)(arch);
    const int nt = team->n_threads;
    const ptrdiff_t n = team->n, B = team->B;
    const ptrdiff_t cap = B < CMLP_GEMM_BLOCK ? B : CMLP_GEMM_BLOCK;
    const real *T = (const real *)team->T;
    const real *U = (const real *)team->U, *w = (const real *)team->w;
    real *params = (real *)team->params, *grad = (real *)team->grads[0];
    real *region = (real *)team->work[tid];
    /* after the index region: which of W_1's rows the batch touched (arch.c) */
    unsigned char *touched = (unsigned char *)(region + cmlp_team_work_size(arch, team->B,
                                                                            team->n_threads)
                                               - (n0 + sizeof(real) - 1) / sizeof(real));
    real *Xc = (real *)team->shared, *Tc = Xc + cap * n0, *wc = Tc + cap * K, *A = wc + cap;
    real *Hh, *D;
    const int64_t t0 = team->opt->t; /* read before the first barrier; thread 0 sets it last */
    ptrdiff_t s, r, j, k, c0, i, batch = 0, SW = 0;
    for (i = 1; i <= L; i++) SW += arch->sizes[i];
    Hh = A + cap * SW;
    D = Hh + cap * H;
    for (s = 0; s < n; s += B) {
        const ptrdiff_t m = n - s < B ? n - s : B;
        const double wsum = FN(batch_weight)(w, team->perm + s, m);
        double total = 0;
        real scale;
        int bad;
        if (wsum == 0) continue; /* a batch of weight 0: no step */
        scale = (real)(1.0 / wsum);
        for (r = 0; r < n0; r++) touched[r] = 0;
        for (c0 = 0; c0 < m; c0 += cap) {
            const ptrdiff_t mc = m - c0 < cap ? m - c0 : cap;
            const ptrdiff_t a = mc * tid / nt, b = mc * (tid + 1) / nt;
            const int64_t *rows = team->perm + s + c0;
            FP(gather_rows)(Xc + a * n0, &team->X, rows + a, 0, b - a, n0);
            for (r = a; r < b; r++) {
                const real *ts = T + rows[r] * K;
                for (j = 0; j < K; j++) Tc[r * K + j] = ts[j];
                if (w != NULL) wc[r] = w[rows[r]];
            }
            team->sparse[tid] = -1; /* no rows: nothing indexed, nothing to add */
            team->losses[tid] =
                b > a ? FN(team_deltas)(A, Hh, D, (int32_t *)region, &team->sparse[tid],
                                        Xc + a * n0, Tc + a * K,
                                        w == NULL ? NULL : wc + a,
                                        U == NULL ? NULL : U + (s + c0 + a) * H, team->drop,
                                        cap, a, b - a, params, arch)
                      : 0.0;
            cmlp_barrier_wait(&team->barrier);
            for (k = 0; k < nt; k++) total += team->losses[k];
            if (team->stop_nonfinite && !isfinite(total)) {
                /* every thread sees the same total; earlier chunks' sums are dropped */
                FN(team_owned)(team, tid, TEAM_ZERO, touched, scale, 0);
                return FN(team_end)(team, tid, CMLP_NONFINITE, s, t0 + batch);
            }
            FN(team_grads)(grad, Xc, A, D, touched, cap, mc, tid, team);
            if (c0 + cap < m) cmlp_barrier_wait(&team->barrier); /* the blocks are reused */
        }
        /* the optimizer step on this thread's rows of every layer */
        bad = FN(team_owned)(team, tid, TEAM_STEP, touched, scale, t0 + batch + 1);
        team->flags[tid] = bad && team->stop_nonfinite;
        cmlp_barrier_wait(&team->barrier);
        if (team->stop_nonfinite) {
            bad = 0;
            for (k = 0; k < nt; k++) bad |= team->flags[k];
            if (bad) {
                /* the update overflowed somewhere: every thread undoes its part */
                FN(team_owned)(team, tid, TEAM_UNDO, touched, scale, 0);
                return FN(team_end)(team, tid, CMLP_NONFINITE, s, t0 + batch + 1);
            }
        }
        if (tid == 0) team->loss_sum += total;
        batch++;
    }
    return FN(team_end)(team, tid, CMLP_OK, n, t0 + batch);
}

int FN(train_team)(cmlp_team *team, int tid)
{
    return team->arch->blas != NULL ? FN(train_team_split)(team, tid)
                                    : FN(train_team_sum)(team, tid);
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
