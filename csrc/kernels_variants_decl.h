/* kernels_variants_decl.h -- prototypes of every instruction-set variant of the kernels, in
 * the precision selected by real.h (see isa.h). Included by dispatch.c once per precision. */
#define CMLP_ISA _base
#include "kernels_decl_tmpl.h"
#undef CMLP_ISA
#if CMLP_MULTIVERSION
#define CMLP_ISA _avx2
#include "kernels_decl_tmpl.h"
#undef CMLP_ISA
#define CMLP_ISA _avx512
#include "kernels_decl_tmpl.h"
#undef CMLP_ISA
#endif
