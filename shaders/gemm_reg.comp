#version 450
// LS_OP_LINEAR and the patch-embedding GEMM, register-blocked (gemm_reg.glsl).
#include "common.glsl"
#include "gemm_reg.glsl"
