/* loss.c -- float64 and float32 instantiations of loss_tmpl.h. */
#include <float.h>
#include <math.h>

#include "cmlp.h"
#include "portable.h"

#define CMLP_F64
#include "real.h"
#include "loss_tmpl.h"
#undef CMLP_F64

#define CMLP_F32
#include "real.h"
#include "loss_tmpl.h"
#undef CMLP_F32
