/* arch.c -- sizes of the flat parameter and work buffers for a network shape. */
#include "cmlp.h"

ptrdiff_t cmlp_param_count(const cmlp_arch *arch)
{
    ptrdiff_t i, P = 0;
    for (i = 0; i < arch->n_layers; i++) P += (arch->sizes[i] + 1) * arch->sizes[i + 1];
    return P;
}

ptrdiff_t cmlp_max_width(const cmlp_arch *arch)
{
    ptrdiff_t i, m = 0;
    for (i = 1; i <= arch->n_layers; i++) m = arch->sizes[i] > m ? arch->sizes[i] : m;
    return m;
}

static ptrdiff_t sum_widths(const cmlp_arch *arch)
{
    ptrdiff_t i, s = 0;
    for (i = 1; i <= arch->n_layers; i++) s += arch->sizes[i];
    return s;
}

/* hidden units: n_1 + ... + n_{L-1} */
static ptrdiff_t hidden_sum(const cmlp_arch *arch)
{
    return sum_widths(arch) - arch->sizes[arch->n_layers];
}

ptrdiff_t cmlp_block_rows(const cmlp_arch *arch)
{
    return arch->blas != NULL ? CMLP_GEMM_BLOCK : CMLP_BLOCK;
}

/* The sparse first-layer index of one block (gemm_tmpl.h): CSR row starts (R + 1) and
 * column indices (R n_0), CSC column starts (n_0 + 1) and row indices (R n_0), all int32,
 * counted here as one element each (a float32 slot, or half a float64 one), then one
 * element of alignment, the values by column (R n_0 elements) and the values by row (R n_0
 * elements). */
static ptrdiff_t index_size(const cmlp_arch *arch)
{
    const ptrdiff_t R = CMLP_GEMM_BLOCK, n0 = arch->sizes[0];
    return arch->blas != NULL ? 4 * R * n0 + R + n0 + 3 : 0;
}

ptrdiff_t cmlp_padded_width(ptrdiff_t n)
{
    return (n + CMLP_PAD - 1) / CMLP_PAD * CMLP_PAD;
}

ptrdiff_t cmlp_padded_param_count(const cmlp_arch *arch)
{
    ptrdiff_t i, P = 0;
    for (i = 0; i < arch->n_layers; i++)
        P += (arch->sizes[i] + 1) * cmlp_padded_width(arch->sizes[i + 1]);
    return P;
}

/* padded widths: one row of activations a_1..a_L and one delta per layer, then CMLP_PAD
 * elements of room for the alignment, then the padded copy of the parameters */
ptrdiff_t cmlp_sgd_work_size(const cmlp_arch *arch)
{
    ptrdiff_t i, widths = 0;
    for (i = 1; i <= arch->n_layers; i++) widths += cmlp_padded_width(arch->sizes[i]);
    return 2 * widths + CMLP_PAD + cmlp_padded_param_count(arch);
}

/* two blocks of activations, used in turn, then the sparse index */
ptrdiff_t cmlp_forward_work_size(const cmlp_arch *arch)
{
    return 2 * cmlp_block_rows(arch) * cmlp_max_width(arch) + index_size(arch);
}

/* a block of activations a_1..a_L, then two blocks of deltas, then the sparse index */
ptrdiff_t cmlp_gradient_work_size(const cmlp_arch *arch)
{
    return cmlp_block_rows(arch) * (sum_widths(arch) + 2 * cmlp_max_width(arch))
           + index_size(arch);
}

/* as cmlp_gradient_work_size, with a block of the hidden activations before the masks */
ptrdiff_t cmlp_dropout_work_size(const cmlp_arch *arch)
{
    return cmlp_gradient_work_size(arch) + cmlp_block_rows(arch) * hidden_sum(arch);
}

ptrdiff_t cmlp_team_work_size(const cmlp_arch *arch, ptrdiff_t B, int n_threads)
{
    const ptrdiff_t rows = (B + n_threads - 1) / n_threads;
    /* with BLAS: the index region, then n_0 bytes (train_team_split's touched rows) */
    if (arch->blas != NULL)
        return index_size(arch) + (arch->sizes[0] + 3) / 4;
    return rows * (arch->sizes[0] + arch->sizes[arch->n_layers] + 1)
           + cmlp_dropout_work_size(arch);
}

ptrdiff_t cmlp_team_shared_size(const cmlp_arch *arch, ptrdiff_t B)
{
    const ptrdiff_t C = B < CMLP_GEMM_BLOCK ? B : CMLP_GEMM_BLOCK;
    if (arch->blas == NULL) return 0;
    return C * (arch->sizes[0] + arch->sizes[arch->n_layers] + 1 + 2 * sum_widths(arch)
                + hidden_sum(arch));
}
