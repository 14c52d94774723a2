/* kernels_avx512.c -- the kernels compiled for AVX-512 (F, VL, BW, DQ; 512-bit vectors; contraction stays off), chosen at run time by dispatch.c
 * when the CPU has it. Empty where CMLP_MULTIVERSION is 0. See isa.h. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cmlp.h"
#include "isa.h"
#include "portable.h"

#if CMLP_MULTIVERSION

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq")
#endif

#define CMLP_ISA _avx512
#define CMLP_OWN_GEMM 1 /* gemm_tmpl.h's register-blocked product */

#define CMLP_F64
#include "real.h"
#include "kernels_tmpl.h"
#undef CMLP_F64

#define CMLP_F32
#include "real.h"
#include "kernels_tmpl.h"
#undef CMLP_F32

#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#else
/* ISO C forbids an empty translation unit */
typedef int cmlp_kernels_avx512_unused;
#endif
