#version 450
// LS_OP_LINEAR and the patch-embedding GEMM: dst (+)= X W^T (+ b).
#include "common.glsl"
#include "gemm.glsl"
