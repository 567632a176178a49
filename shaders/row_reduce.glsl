// A workgroup that holds one row (layernorm.glsl,
// effattn_softmax_channels.comp): ROW_THREADS invocations
// (specialization constant 0, set_row_threads in core/vulkan/vk-ops.c)
// and the row's sums and maxima over them, the same in every invocation.
// Each subgroup reduces its own without a barrier, then every invocation
// combines the subgroups' results in one order: one barrier a reduction
// where a tree over shared memory took nine, for rows too short to hide
// barriers behind their loads. Each of a shader's two reductions takes
// its own slot (0 or 1), so the second needs no barrier before it writes.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 0) const uint ROW_THREADS = 128;
layout(local_size_x_id = 0) in;

// a place a subgroup (a subgroup has at least one invocation)
shared vec2 row_red[2][ROW_THREADS];

vec2 row_sum (uint slot, vec2 v)
{
  vec2 s = subgroupAdd (v);
  if (subgroupElect ())
    row_red[slot][gl_SubgroupID] = s;
  barrier ();
  vec2 r = vec2 (0.0);
  for (uint i = 0u; i < gl_NumSubgroups; i++)
    r += row_red[slot][i];
  return r;
}

float row_max (uint slot, float v)
{
  float m = subgroupMax (v);
  if (subgroupElect ())
    row_red[slot][gl_SubgroupID].x = m;
  barrier ();
  for (uint i = 0u; i < gl_NumSubgroups; i++)
    m = max (m, row_red[slot][i].x);
  return m;
}
