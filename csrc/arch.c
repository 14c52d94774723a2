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

/* one row of activations a_1..a_L, two deltas, then a copy of the parameters */
ptrdiff_t cmlp_sgd_work_size(const cmlp_arch *arch)
{
    return sum_widths(arch) + 2 * cmlp_max_width(arch) + cmlp_param_count(arch);
}

/* two blocks of activations, used in turn */
ptrdiff_t cmlp_forward_work_size(const cmlp_arch *arch)
{
    return 2 * CMLP_BLOCK * cmlp_max_width(arch);
}

/* a block of activations a_1..a_L, then two blocks of deltas */
ptrdiff_t cmlp_gradient_work_size(const cmlp_arch *arch)
{
    return CMLP_BLOCK * (sum_widths(arch) + 2 * cmlp_max_width(arch));
}
