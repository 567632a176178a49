/* The SPIR-V of every shader, compiled by glslc at build time
 * (shaders/meson.build) and embedded here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

static const uint32_t gemm_spv[] =
#include "gemm.spv.h"
;
static const uint32_t gemm_reg_spv[] =
#include "gemm_reg.spv.h"
;
static const uint32_t gemm_f16_spv[] =
#include "gemm_f16.spv.h"
;
static const uint32_t gemm_reg_f16_spv[] =
#include "gemm_reg_f16.spv.h"
;
static const uint32_t effattn_context_reg_spv[] =
#include "effattn_context_reg.spv.h"
;
static const uint32_t effattn_apply_reg_spv[] =
#include "effattn_apply_reg.spv.h"
;
#ifdef LS_HAVE_NV_COOPMAT
static const uint32_t gemm_coopmat_spv[] =
#include "gemm_coopmat.spv.h"
;
static const uint32_t effattn_context_coopmat_spv[] =
#include "effattn_context_coopmat.spv.h"
;
static const uint32_t effattn_apply_coopmat_spv[] =
#include "effattn_apply_coopmat.spv.h"
;
static const uint32_t gemm_coopmat_f16_spv[] =
#include "gemm_coopmat_f16.spv.h"
;
#endif
static const uint32_t gemm_reduce_spv[] =
#include "gemm_reduce.spv.h"
;
static const uint32_t gemm_reduce_ln_spv[] =
#include "gemm_reduce_ln.spv.h"
;
static const uint32_t effattn_softmax_tokens_spv[] =
#include "effattn_softmax_tokens.spv.h"
;
static const uint32_t effattn_context_spv[] =
#include "effattn_context.spv.h"
;
static const uint32_t effattn_apply_spv[] =
#include "effattn_apply.spv.h"
;
static const uint32_t iscf_mean_spv[] =
#include "iscf_mean.spv.h"
;
static const uint32_t iscf_se_spv[] =
#include "iscf_se.spv.h"
;
static const uint32_t iscf_fuse_spv[] =
#include "iscf_fuse.spv.h"
;
static const uint32_t layernorm_spv[] =
#include "layernorm.spv.h"
;
static const uint32_t pixel_shuffle_ln_spv[] =
#include "pixel_shuffle_ln.spv.h"
;
static const uint32_t effattn_softmax_channels_spv[] =
#include "effattn_softmax_channels.spv.h"
;
static const uint32_t dwconv3x3_ln_gelu_spv[] =
#include "dwconv3x3_ln_gelu.spv.h"
;
static const uint32_t im2col_spv[] =
#include "im2col.spv.h"
;
static const uint32_t project_one_spv[] =
#include "project_one.spv.h"
;
static const uint32_t gelu_spv[] =
#include "gelu.spv.h"
;
static const uint32_t sigmoid_spv[] =
#include "sigmoid.spv.h"
;
static const uint32_t input_rgba8_spv[] =
#include "input_rgba8.spv.h"
;

#define SHADER(id, name) [id] = { #name, name##_spv, sizeof name##_spv }

const LsShaderCode ls_vk_shader_code[LS_N_SHADERS] = {
  SHADER (LS_SHADER_GEMM, gemm),
  SHADER (LS_SHADER_GEMM_REDUCE, gemm_reduce),
  SHADER (LS_SHADER_GEMM_REDUCE_LN, gemm_reduce_ln),
  SHADER (LS_SHADER_EFFATTN_SOFTMAX_TOKENS, effattn_softmax_tokens),
  SHADER (LS_SHADER_EFFATTN_CONTEXT, effattn_context),
  SHADER (LS_SHADER_EFFATTN_APPLY, effattn_apply),
  SHADER (LS_SHADER_ISCF_MEAN, iscf_mean),
  SHADER (LS_SHADER_ISCF_SE, iscf_se),
  SHADER (LS_SHADER_ISCF_FUSE, iscf_fuse),
  SHADER (LS_SHADER_LAYERNORM, layernorm),
  SHADER (LS_SHADER_PIXEL_SHUFFLE_LN, pixel_shuffle_ln),
  SHADER (LS_SHADER_EFFATTN_SOFTMAX_CHANNELS, effattn_softmax_channels),
  SHADER (LS_SHADER_DWCONV3X3_LN_GELU, dwconv3x3_ln_gelu),
  SHADER (LS_SHADER_IM2COL, im2col),
  SHADER (LS_SHADER_PROJECT_ONE, project_one),
  SHADER (LS_SHADER_GELU, gelu),
  SHADER (LS_SHADER_SIGMOID, sigmoid),
  SHADER (LS_SHADER_INPUT_RGBA8, input_rgba8),
  SHADER (LS_SHADER_GEMM_REG, gemm_reg),
  SHADER (LS_SHADER_EFFATTN_CONTEXT_REG, effattn_context_reg),
  SHADER (LS_SHADER_EFFATTN_APPLY_REG, effattn_apply_reg),
  SHADER (LS_SHADER_GEMM_F16, gemm_f16),
  SHADER (LS_SHADER_GEMM_REG_F16, gemm_reg_f16),
#ifdef LS_HAVE_NV_COOPMAT
  SHADER (LS_SHADER_GEMM_COOPMAT, gemm_coopmat),
  SHADER (LS_SHADER_EFFATTN_CONTEXT_COOPMAT, effattn_context_coopmat),
  SHADER (LS_SHADER_EFFATTN_APPLY_COOPMAT, effattn_apply_coopmat),
  SHADER (LS_SHADER_GEMM_COOPMAT_F16, gemm_coopmat_f16),
#else
  [LS_SHADER_GEMM_COOPMAT] = { "gemm_coopmat", NULL, 0 },
  [LS_SHADER_EFFATTN_CONTEXT_COOPMAT] = { "effattn_context_coopmat", NULL, 0 },
  [LS_SHADER_EFFATTN_APPLY_COOPMAT] = { "effattn_apply_coopmat", NULL, 0 },
  [LS_SHADER_GEMM_COOPMAT_F16] = { "gemm_coopmat_f16", NULL, 0 },
#endif
};
