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
#define CMLP_SIMD_OR(acc) CMLP_PRAGMA(omp simd reduction(| : acc))
#define CMLP_SIMD CMLP_PRAGMA(omp simd)
#define CMLP_PRAGMA_SIMD_SUM4(a, b, c, d) CMLP_PRAGMA(omp simd reduction(+ : a, b, c, d))
#else
#define CMLP_PRAGMA_SIMD_SUM4(a, b, c, d)
#define CMLP_SIMD_SUM(acc)
#define CMLP_SIMD_OR(acc)
#define CMLP_SIMD
#endif

/* CMLP_NO_JAM: on a function whose loop around a vectorised inner loop must stay as written.
 * gcc's -O3 unroll-and-jam otherwise fuses two outer iterations into a scalar inner loop
 * (the sparse kernels of gemm_tmpl.h ran 3x slower). */
#if defined(__GNUC__) && !defined(__clang__)
#define CMLP_NO_JAM __attribute__((optimize("no-loop-unroll-and-jam")))
#else
#define CMLP_NO_JAM
#endif

#endif
