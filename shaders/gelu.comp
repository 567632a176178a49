#version 450
// dst = GELU(src0) element-wise (exact-erf GELU, erf as ls_cpu_erf).
#include "common.glsl"
#include "math.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint count; } pc;

void main ()
{
  uint i = flat_invocation ();
  if (i < pc.count)
    dst[i] = ls_gelu (src0[i]);
}
