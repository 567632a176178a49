#version 450
// ISCF squeeze, first pass: workgroup (x, s) sums chunk x of context s
// (src0, src1, src2: each [d, d]) into dst[s * chunks + x]. Tree sums in
// shared memory keep the rounding error near log2(n) ulp, close to the
// CPU's double accumulation.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint count, chunks, chunk; } pc;

shared float red[256];

float load (uint s, uint i)
{
  return s == 0u ? src0[i] : s == 1u ? src1[i] : src2[i];
}

void main ()
{
  uint t = gl_LocalInvocationID.x, s = gl_WorkGroupID.y;
  uint i0 = gl_WorkGroupID.x * pc.chunk, i1 = min (pc.count, i0 + pc.chunk);
  float acc = 0.0;
  for (uint i = i0 + t; i < i1; i += 256u)
    acc += load (s, i);
  red[t] = acc;
  barrier ();
  for (uint k = 128u; k > 0u; k >>= 1) {
    if (t < k)
      red[t] += red[t + k];
    barrier ();
  }
  if (t == 0u)
    dst[s * pc.chunks + gl_WorkGroupID.x] = red[0];
}
