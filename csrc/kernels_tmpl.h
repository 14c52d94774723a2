/* kernels_tmpl.h -- every kernel template, in dependency order, for one precision and one
 * instruction set (see isa.h). Included by kernels_<isa>.c once per precision. */
#include "kernels_decl_tmpl.h"
#include "activation_tmpl.h"
#include "dense_tmpl.h"
#include "gemm_tmpl.h"
#include "loss_tmpl.h"
#include "optim_tmpl.h"
#include "epoch_tmpl.h"
#include "train_tmpl.h"
