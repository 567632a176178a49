#version 450
// gemm.comp on NV cooperative matrices (gemm_coopmat.glsl); built only
// when glslc supports GL_NV_cooperative_matrix (meson.build).
#include "common.glsl"
#include "gemm_coopmat.glsl"
