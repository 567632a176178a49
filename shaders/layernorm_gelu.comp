#version 450
// LS_OP_LAYERNORM_GELU: dst[row] = GELU(LN(src0[row]) * w + b), exact-erf GELU.
#include "common.glsl"
#include "math.glsl"
#define LN_GELU
#define SRC_ROW_OFFSET(row) ((row) * pc.c)
#include "layernorm.glsl"
