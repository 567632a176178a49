#version 450
// Efficient attention, key softmax statistics: per channel of K [N, C],
// the max over tokens and 1 / sum exp(k - max). Softmax over tokens is a
// reduction down columns, so it runs in two passes:
//   mode 0: workgroup (x, y) covers 64 channels and token chunk y; four
//           lanes per channel keep an online (max, sum) pair, merged in
//           shared memory, written as partials [chunks, C, 2] to dst;
//   mode 1: one invocation per channel merges the chunks' partials (src0)
//           into dst[0..C) = max and dst[C..2C) = 1 / sum.
// The context GEMM (effattn_context.comp) applies exp(k - max) / sum as it
// loads K, so K itself is never rewritten.
#include "common.glsl"
#include "math.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint n, c, chunks, chunk_rows, mode; } pc;

shared float sm[256], ss[256];

// (m, s) with s = sum exp(x - m); merging rescales the smaller max's sum.
void merge (inout float m, inout float s, float m2, float s2)
{
  if (s2 == 0.0)
    return;
  if (s == 0.0) {
    m = m2;
    s = s2;
    return;
  }
  float mx = max (m, m2);
  s = s * ls_exp (m - mx) + s2 * ls_exp (m2 - mx);
  m = mx;
}

void main ()
{
  uint t = gl_LocalInvocationID.x;
  if (pc.mode == 1u) {
    uint ch = gl_WorkGroupID.x * 256u + t;
    if (ch >= pc.c)
      return;
    float m = 0.0, s = 0.0;
    for (uint k = 0u; k < pc.chunks; k++)
      merge (m, s, src0[(k * pc.c + ch) * 2u], src0[(k * pc.c + ch) * 2u + 1u]);
    dst[ch] = m;
    dst[pc.c + ch] = 1.0 / s;
    return;
  }

  uint lane = t / 64u, ch = gl_WorkGroupID.x * 64u + t % 64u;
  uint r0 = gl_WorkGroupID.y * pc.chunk_rows, r1 = min (pc.n, r0 + pc.chunk_rows);
  float m = 0.0, s = 0.0;
  if (ch < pc.c) {
    for (uint r = r0 + lane; r < r1; r += 4u) {
      float x = src0[r * pc.c + ch];
      if (s == 0.0) {
        m = x;
        s = 1.0;
      } else if (x > m) {
        s = s * ls_exp (m - x) + 1.0;
        m = x;
      } else {
        s += ls_exp (x - m);
      }
    }
  }
  sm[t] = m;
  ss[t] = s;
  barrier ();
  if (lane == 0u && ch < pc.c) {
    for (uint l = 1u; l < 4u; l++)
      merge (m, s, sm[t + l * 64u], ss[t + l * 64u]);
    uint at = (gl_WorkGroupID.y * pc.c + ch) * 2u;
    dst[at] = m;
    dst[at + 1u] = s;
  }
}
