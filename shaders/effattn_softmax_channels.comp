#version 450
// Efficient attention, the query softmax written out: dst[n, c] =
// exp(q[n, c] - max) / sum over the row's channels, as the CPU backend
// (softmax_rows in core/cpu/kernels.c). Q is read where it lies (row stride
// ld: columns of the merged K/Q(/V) projection); dst is contiguous, so the
// attention's apply is a plain GEMM on it. Where the plan writes it
// (core/vulkan/vk-ops.c, discrete GPUs) it runs beside the key softmax and
// the context, between the same barriers. A workgroup a row, as the
// LayerNorms (row_reduce.glsl).
//
// SPDX-License-Identifier: LGPL-2.1-or-later
#include "common.glsl"
#include "math.glsl"
#include "row_reduce.glsl"

layout(push_constant) uniform Params { uint rows, c, ld; } pc;

void main ()
{
  uint row = flat_group ();
  if (row >= pc.rows)
    return;                       // uniform across the workgroup
  uint t = gl_LocalInvocationID.x, q0 = row * pc.ld, d0 = row * pc.c;

  float m = -3.402823466e38;
  for (uint i = t; i < pc.c; i += ROW_THREADS)
    m = max (m, src0[q0 + i]);
  m = row_max (0u, m);

  float s = 0.0;
  for (uint i = t; i < pc.c; i += ROW_THREADS) {
    float e = ls_exp (src0[q0 + i] - m);
    dst[d0 + i] = e;
    s += e;
  }
  float sum = row_sum (1u, vec2 (s, 0.0)).x;

  float inv = 1.0 / sum;
  for (uint i = t; i < pc.c; i += ROW_THREADS)
    dst[d0 + i] *= inv;             // each invocation its own elements
}
