#version 450
// effattn_apply.comp on the register-blocked GEMM (gemm_reg.glsl).
#include "common.glsl"
#define QUERY_SOFTMAX_A
#include "gemm_reg.glsl"
