#version 450
// Split-K reduction and the LayerNorm that reads its output, in one pass:
// C[m] (+)= sum_z partial[z][m] (+ bias) as gemm_reduce.comp, then
// dst[m] = LN(C[m]) * w + b. Partials in src0 as [splits, M, N], bias in
// src1, C (M x N, whole rows) in binding 3, the LayerNorm's w and b in aux
// and aux2; push constants rows = M, c = N, width = splits, p = the GEMM's
// flags. A workgroup a row (layernorm.glsl): each invocation stores the
// sums of its channels in C and in dst as the first LayerNorm pass reads
// them. dst may be C itself (a LayerNorm in place). One dispatch and one
// barrier fewer than a reduce followed by a LayerNorm (core/vulkan/vk-ops.c
// says when the plan does this).
#define LS_WRITE_SRC2
#include "common.glsl"
#define LN_ROW_INPUT
#include "layernorm.glsl"

float ln_row_input (uint row, uint n)
{
  uint at = row * pc.c + n, mn = pc.rows * pc.c;
  float v = 0.0;
  for (uint z = 0u; z < pc.width; z++)
    v += src0[z * mn + at];
  if ((pc.p & 8u) != 0u)
    v += src1[n];
  if ((pc.p & 4u) != 0u)
    v += src2[at];
  src2[at] = v;
  return v;
}
