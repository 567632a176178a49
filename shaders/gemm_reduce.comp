#version 450
// Split-K reduction: dst[m, n] (+)= sum_z partial[z][m, n] (+ bias[n]),
// partials in src0 as [splits, M, N], the epilogue of gemm.glsl.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint M, N, ldc, splits, flags; } pc;

void main ()
{
  uint i = flat_invocation ();
  if (i >= pc.M * pc.N)
    return;
  uint m = i / pc.N, n = i % pc.N, mn = pc.M * pc.N;
  float v = 0.0;
  for (uint z = 0u; z < pc.splits; z++)
    v += src0[z * mn + i];
  uint at = m * pc.ldc + n;
  if ((pc.flags & 8u) != 0u)
    v += aux[n];
  if ((pc.flags & 4u) != 0u)
    v += dst[at];
  dst[at] = v;
}
