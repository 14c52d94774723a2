/* portable.h -- compiler differences kept behind macros (gcc, clang, MSVC). */
#ifndef CMLP_PORTABLE_H
#define CMLP_PORTABLE_H

#if defined(_MSC_VER) && !defined(__clang__)
#define CMLP_RESTRICT __restrict
#else
#define CMLP_RESTRICT restrict
#endif

/* CMLP_SIMD_SUM(acc): let the compiler vectorise a sum reduction (it may reorder the
 * additions of this loop only; no -ffast-math anywhere). setup.py defines CMLP_OMP_SIMD
 * together with -fopenmp-simd, which needs no OpenMP runtime. Elsewhere it is a no-op. */
#if defined(CMLP_OMP_SIMD)
#define CMLP_PRAGMA(x) _Pragma(#x)
#define CMLP_SIMD_SUM(acc) CMLP_PRAGMA(omp simd reduction(+ : acc))
#define CMLP_SIMD CMLP_PRAGMA(omp simd)
#define CMLP_PRAGMA_SIMD_SUM4(a, b, c, d) CMLP_PRAGMA(omp simd reduction(+ : a, b, c, d))
#else
#define CMLP_PRAGMA_SIMD_SUM4(a, b, c, d)
#define CMLP_SIMD_SUM(acc)
#define CMLP_SIMD
#endif

#endif
