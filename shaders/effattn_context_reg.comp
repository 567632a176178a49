#version 450
// effattn_context.comp on the register-blocked GEMM (gemm_reg.glsl).
#include "common.glsl"
#define KEY_SOFTMAX_A
#include "gemm_reg.glsl"
