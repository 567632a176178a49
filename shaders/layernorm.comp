#version 450
// LS_OP_LAYERNORM: dst[row] = LN(src0[row]) * w + b (w = aux, b = aux2).
#include "common.glsl"
#define SRC_ROW_OFFSET(row) ((row) * pc.c)
#include "layernorm.glsl"
