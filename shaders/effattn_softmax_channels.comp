#version 450
// Efficient attention, the query softmax written out: dst[n, c] =
// exp(q[n, c] - max) / sum over the row's channels, as the CPU backend
// (softmax_rows in core/cpu/kernels.c). Q is read where it lies (row stride
// ld: columns of the merged K/Q(/V) projection); dst is contiguous, so the
// attention's apply is a plain GEMM on it. Where the plan writes it
// (core/vulkan/vk-ops.c, discrete GPUs) it runs beside the key softmax and
// the context, between the same barriers. A workgroup a row, as the
// LayerNorms (layernorm.glsl), its sums on subgroups.
//
// SPDX-License-Identifier: LGPL-2.1-or-later
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "common.glsl"
#include "math.glsl"

layout(constant_id = 0) const uint THREADS = 128;
layout(local_size_x_id = 0) in;
layout(push_constant) uniform Params { uint rows, c, ld; } pc;

// a slot a subgroup, one array each for the max and the sum, so the sum
// needs no barrier before it writes
shared float red[2][THREADS];

void main ()
{
  uint row = flat_group ();
  if (row >= pc.rows)
    return;                       // uniform across the workgroup
  uint t = gl_LocalInvocationID.x, q0 = row * pc.ld, d0 = row * pc.c;

  float m = -3.402823466e38;
  for (uint i = t; i < pc.c; i += THREADS)
    m = max (m, src0[q0 + i]);
  m = subgroupMax (m);
  if (subgroupElect ())
    red[0][gl_SubgroupID] = m;
  barrier ();
  for (uint i = 0u; i < gl_NumSubgroups; i++)
    m = max (m, red[0][i]);

  float s = 0.0;
  for (uint i = t; i < pc.c; i += THREADS) {
    float e = ls_exp (src0[q0 + i] - m);
    dst[d0 + i] = e;
    s += e;
  }
  s = subgroupAdd (s);
  if (subgroupElect ())
    red[1][gl_SubgroupID] = s;
  barrier ();
  float sum = 0.0;
  for (uint i = 0u; i < gl_NumSubgroups; i++)
    sum += red[1][i];

  float inv = 1.0 / sum;
  for (uint i = t; i < pc.c; i += THREADS)
    dst[d0 + i] *= inv;             // each invocation its own elements
}
