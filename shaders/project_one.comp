#version 450
// LS_OP_PROJECT_ONE: dst[n] = dot(src0[n, :], w) + b. Eight tokens per
// workgroup, 32 lanes striding over each token's channels, so the loads of
// a token's row are contiguous.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint n, c; float bias; } pc;

shared float red[256];

void main ()
{
  uint t = gl_LocalInvocationID.x, lane = t % 32u, slot = t / 32u;
  uint tok = flat_group () * 8u + slot;
  float acc = 0.0;
  if (tok < pc.n)
    for (uint i = lane; i < pc.c; i += 32u)
      acc += src0[tok * pc.c + i] * aux[i];
  red[t] = acc;
  barrier ();
  for (uint s = 16u; s > 0u; s >>= 1) {
    if (lane < s)
      red[t] += red[t + s];
    barrier ();
  }
  if (lane == 0u && tok < pc.n)
    dst[tok] = red[t] + pc.bias;
}
