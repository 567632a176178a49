#version 450
// Efficient attention, key softmax statistics: per channel of K [N, C] (row
// stride ld: K may be columns of the merged K/Q/V projection), an
// online (max, sum exp(k - max)) pair per token chunk. Softmax over tokens is
// a reduction down columns: workgroup (x, y) covers 64 channels and token
// chunk y; four lanes per channel keep a pair each, merged in shared
// memory and written as partials [chunks, C, 2] to dst. The context GEMM
// (effattn_context.comp) merges the chunks' pairs of its channels first
// and applies exp(k - max) / sum as it loads K, so K itself is never
// rewritten and no pass merges them on its own.
#include "common.glsl"
#include "math.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint n, c, ld, chunk_rows; } pc;

shared float sm[256], ss[256];

void main ()
{
  uint t = gl_LocalInvocationID.x;
  uint lane = t / 64u, ch = gl_WorkGroupID.x * 64u + t % 64u;
  uint r0 = gl_WorkGroupID.y * pc.chunk_rows, r1 = min (pc.n, r0 + pc.chunk_rows);
  float m = 0.0, s = 0.0;
  if (ch < pc.c) {
    for (uint r = r0 + lane; r < r1; r += 4u) {
      float x = src0[r * pc.ld + ch];
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
      ls_softmax_merge (m, s, sm[t + l * 64u], ss[t + l * 64u]);
    uint at = (gl_WorkGroupID.y * pc.c + ch) * 2u;
    dst[at] = m;
    dst[at + 1u] = s;
  }
}
