#version 450
// effattn_context.comp on NV cooperative matrices (gemm_coopmat.glsl); built only
// when glslc supports GL_NV_cooperative_matrix (meson.build).
#include "common.glsl"
#define KEY_SOFTMAX_A
#include "gemm_coopmat.glsl"
