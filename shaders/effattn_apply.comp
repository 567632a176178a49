#version 450
// Efficient attention (and ISCF) application: dst[N, Cg] (+)= softmax_C(Q) G,
// G the context, with the query softmax over each token's channels taken
// as Q is loaded (row statistics in gemm_fetch.glsl): no pass of its own.
#include "common.glsl"
#define QUERY_SOFTMAX_A
#include "gemm.glsl"
