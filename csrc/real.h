/* real.h -- precision macros for the kernel templates (*_tmpl.h).
 *
 * kernels_<isa>.c includes the templates twice: once with CMLP_F64 defined, once with
 * CMLP_F32, after including this header each time. `real` is the element type and
 * FN(name) appends the precision and instruction-set suffixes: dense_forward_f64_avx2.
 * The unsuffixed public names (dense_forward_f64) are the dispatchers in dispatch.c;
 * FP(name) appends the precision only.
 */
#define CMLP_CAT3_(a, b, c) a##b##c
#define CMLP_CAT3(a, b, c) CMLP_CAT3_(a, b, c)
#undef real
#undef FN
#undef FP
#undef R_EXP
#undef R_EXPM1
#undef R_TANH
#undef R_EPS
#undef R_LIT

#if defined(CMLP_F32)
#define real float
#define FN(name) CMLP_CAT3(name, _f32, CMLP_ISA)
#define FP(name) name##_f32
#define R_EXP expf
#define R_EXPM1 expm1f
#define R_TANH tanhf
#define R_EPS FLT_EPSILON
#define R_LIT(x) x##f
#elif defined(CMLP_F64)
#define real double
#define FN(name) CMLP_CAT3(name, _f64, CMLP_ISA)
#define FP(name) name##_f64
#define R_EXP exp
#define R_EXPM1 expm1
#define R_TANH tanh
#define R_EPS DBL_EPSILON
#define R_LIT(x) x
#else
#error "define CMLP_F32 or CMLP_F64 before including real.h"
#endif
