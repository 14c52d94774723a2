/* kernels_avx2.c -- the kernels compiled for AVX2 (256-bit vectors; FMA is not enabled), chosen at run time by dispatch.c
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
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif

#define CMLP_ISA _avx2

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
typedef int cmlp_kernels_avx2_unused;
#endif
