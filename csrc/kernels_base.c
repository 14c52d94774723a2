/* kernels_base.c -- the kernels for the baseline instruction set of the target (SSE2 on
 * x86-64, NEON on arm64): the variant every platform has. See isa.h. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "cmlp.h"
#include "isa.h"
#include "portable.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define CMLP_ISA _base

#define CMLP_F64
#include "real.h"
#include "kernels_tmpl.h"
#undef CMLP_F64

#define CMLP_F32
#include "real.h"
#include "kernels_tmpl.h"
#undef CMLP_F32
