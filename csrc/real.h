/* real.h -- precision macros for the kernel templates (*_tmpl.h).
 *
 * A kernel .c file includes its template twice: once with CMLP_F64 defined, once with
 * CMLP_F32, after including this header each time. `real` is the element type and
 * FN(name) appends the _f64/_f32 suffix.
 */
#undef real
#undef FN
#undef R_EXP
#undef R_EXPM1
#undef R_TANH
#undef R_EPS
#undef R_LIT

#if defined(CMLP_F32)
#define real float
#define FN(name) name##_f32
#define R_EXP expf
#define R_EXPM1 expm1f
#define R_TANH tanhf
#define R_EPS FLT_EPSILON
#define R_LIT(x) x##f
#elif defined(CMLP_F64)
#define real double
#define FN(name) name##_f64
#define R_EXP exp
#define R_EXPM1 expm1
#define R_TANH tanh
#define R_EPS DBL_EPSILON
#define R_LIT(x) x
#else
#error "define CMLP_F32 or CMLP_F64 before including real.h"
#endif
