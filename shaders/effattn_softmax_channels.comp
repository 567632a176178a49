#version 450
// Efficient attention, query softmax: each token's row of Q [N, C] becomes
// softmax over its channels, in place (binding 0), as the CPU backend does
// it. One workgroup per token.
#include "common.glsl"
#include "math.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform Params { uint n, c; } pc;

shared float red[64];

float reduce (float v, bool take_max)
{
  uint t = gl_LocalInvocationID.x;
  red[t] = v;
  barrier ();
  for (uint s = 32u; s > 0u; s >>= 1) {
    if (t < s)
      red[t] = take_max ? max (red[t], red[t + s]) : red[t] + red[t + s];
    barrier ();
  }
  float r = red[0];
  barrier ();
  return r;
}

void main ()
{
  uint row = flat_group ();
  if (row >= pc.n)
    return;
  uint t = gl_LocalInvocationID.x, base = row * pc.c;
  float m = -3.402823466e38;
  for (uint i = t; i < pc.c; i += 64u)
    m = max (m, dst[base + i]);
  m = reduce (m, true);
  float s = 0.0;
  for (uint i = t; i < pc.c; i += 64u)
    s += ls_exp (dst[base + i] - m);
  float inv = 1.0 / reduce (s, false);
  for (uint i = t; i < pc.c; i += 64u)
    dst[base + i] = ls_exp (dst[base + i] - m) * inv;
}
