#version 450
// Network input from an 8-bit RGBA frame already at the network size
// (src0: one uint per pixel, R in the low byte): the three planes of
// [3, H * W] with the per-image min-max stretch to [0, 255] over all
// pixels and channels (input_norm "minmax255"; a flat image gives zeros,
// as core/frame.c does). One workgroup: the min and max need the whole
// frame before any output is written.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(std430, set = 0, binding = 1) readonly buffer Src0Bytes { uint src0_u32[]; };
layout(push_constant) uniform Params { uint pixels; } pc;

shared float lo_red[256], hi_red[256];

vec3 rgb (uint i)
{
  uint p = src0_u32[i];
  return vec3 (float (p & 255u), float ((p >> 8) & 255u), float ((p >> 16) & 255u));
}

void main ()
{
  uint t = gl_LocalInvocationID.x;
  float lo = 255.0, hi = 0.0;
  for (uint i = t; i < pc.pixels; i += 256u) {
    vec3 v = rgb (i);
    lo = min (lo, min (v.x, min (v.y, v.z)));
    hi = max (hi, max (v.x, max (v.y, v.z)));
  }
  lo_red[t] = lo;
  hi_red[t] = hi;
  barrier ();
  for (uint s = 128u; s > 0u; s >>= 1) {
    if (t < s) {
      lo_red[t] = min (lo_red[t], lo_red[t + s]);
      hi_red[t] = max (hi_red[t], hi_red[t + s]);
    }
    barrier ();
  }
  lo = lo_red[0];
  hi = hi_red[0];
  float scale = hi - lo > 1e-3 ? 255.0 / (hi - lo) : 0.0;
  for (uint i = t; i < pc.pixels; i += 256u) {
    vec3 v = (rgb (i) - lo) * scale;
    dst[i] = v.x;
    dst[pc.pixels + i] = v.y;
    dst[2u * pc.pixels + i] = v.z;
  }
}
