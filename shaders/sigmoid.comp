#version 450
// dst = 1 / (1 + exp(-src0)) element-wise, exp as the CPU's.
#include "common.glsl"
#include "math.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint count; } pc;

void main ()
{
  uint i = flat_invocation ();
  if (i < pc.count)
    dst[i] = 1.0 / (1.0 + ls_exp (-src0[i]));
}
