#version 450
// Efficient attention context: dst[C, C] = softmax_N(K)^T V, with the key
// softmax applied as K is loaded (statistics in src2). Split-K over the
// tokens: the product is only C x C, but sums over all N tokens.
#include "common.glsl"
#define KEY_SOFTMAX_A
#include "gemm.glsl"
