#version 450
// Efficient attention (and ISCF) application: dst[N, C] (+)= q G, q the
// channel-softmaxed queries (effattn_softmax_channels.comp), G the context.
#include "common.glsl"
#include "gemm.glsl"
