/* isa.h -- the instruction sets the kernels are compiled for, and how.
 *
 * Wheels are built for baseline x86-64 (SSE2), which would leave AVX2 and AVX-512 unused.
 * So the kernel templates are compiled up to three times, into kernels_base.c,
 * kernels_avx2.c and kernels_avx512.c, the latter two with the compiler's target pragmas
 * (no per-file flags, no -march=native), and dispatch.c picks one at run time from the CPU.
 * The wider variants exist only on x86-64 with gcc or clang; elsewhere (arm64, MSVC) the
 * base variant is the only one, and it is what every platform is guaranteed to have.
 *
 * Floating-point contraction stays off in every variant (gcc's default in -std=c99 mode;
 * clang needs the STDC pragma), so no variant fuses a*b+c into one rounding. Variants
 * differ only in the order of the additions inside vectorised dot products.
 */
#ifndef CMLP_ISA_H
#define CMLP_ISA_H

#define CMLP_ISA_BASE 0
#define CMLP_ISA_AVX2 1
#define CMLP_ISA_AVX512 2
#define CMLP_N_ISA 3

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(CMLP_NO_MULTIVERSION)
#define CMLP_MULTIVERSION 1
#else
#define CMLP_MULTIVERSION 0
#endif

#endif
