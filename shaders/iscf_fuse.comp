#version 450
// ISCF fusion: dst = sum_s coef[s] G_s + conv_b, G_s = src0..src2, coef
// from iscf_se (aux). Element-wise over the d x d context.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint count, scales; float conv_b; } pc;

void main ()
{
  uint i = flat_invocation ();
  if (i >= pc.count)
    return;
  float v = aux[0] * src0[i] + pc.conv_b;
  if (pc.scales > 1u)
    v += aux[1] * src1[i];
  if (pc.scales > 2u)
    v += aux[2] * src2[i];
  dst[i] = v;
}
