/* dispatch.c -- run-time choice of the instruction-set variant of the kernels (see isa.h)
 * and the public, unsuffixed entry points declared in cmlp.h. */
#include <float.h>
#include <math.h>

#include "cmlp.h"
#include "isa.h"
#include "portable.h"

static int current_isa = -1; /* chosen on first use: the best the CPU has */

int cmlp_isa_available(int isa)
{
    if (isa == CMLP_ISA_BASE) return 1;
#if CMLP_MULTIVERSION
    __builtin_cpu_init();
    if (isa == CMLP_ISA_AVX2) return __builtin_cpu_supports("avx2") != 0;
    if (isa == CMLP_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
    return 0;
}

int cmlp_get_isa(void)
{
    if (current_isa < 0) {
        int isa = CMLP_N_ISA - 1;
        while (isa > CMLP_ISA_BASE && !cmlp_isa_available(isa)) isa--;
        current_isa = isa;
    }
    return current_isa;
}

int cmlp_set_isa(int isa)
{
    if (isa < 0 || isa >= CMLP_N_ISA || !cmlp_isa_available(isa)) return -1;
    current_isa = isa;
    return 0;
}

const char *cmlp_isa_name(int isa)
{
    switch (isa) {
    case CMLP_ISA_BASE: return "base";
    case CMLP_ISA_AVX2: return "avx2";
    case CMLP_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

#define CMLP_F64
#include "real.h"
#include "kernels_variants_decl.h"
#include "dispatch_tmpl.h"
#undef CMLP_F64

#define CMLP_F32
#include "real.h"
#include "kernels_variants_decl.h"
#include "dispatch_tmpl.h"
#undef CMLP_F32
