// One workgroup per row: LayerNorm over c channels, eps 1e-5, two-pass
// with the Chan-Golub-LeVeque correction exactly as the CPU backend
// (ls_ln_row in core/cpu/kernels.c); never E[x^2] - mean^2. Each thread
// writes only the elements it read, so in place (dst == src0) is safe.
// The including shader defines SRC_ROW_OFFSET(row), or LN_ROW_INPUT and
// after the include ln_row_input (row, i), the row's input computed
// (the first pass writes it to dst and the others read it back there,
// each invocation its own elements: no barrier needed); it may define
// LN_GELU.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

#include "row_reduce.glsl"

layout(push_constant) uniform Params {
  uint rows, c;
  uint width, p;    // pixel shuffle: grid width and factor
} pc;

#ifdef LN_ROW_INPUT
float ln_row_input (uint row, uint i);
#define LN_AGAIN(i) dst[d0 + (i)]
#else
#define LN_AGAIN(i) src0[so + (i)]
#endif

void main ()
{
  uint row = flat_group ();
  if (row >= pc.rows)
    return;                       // uniform across the workgroup
  uint t = gl_LocalInvocationID.x, c = pc.c;
  uint d0 = row * c;
#ifndef LN_ROW_INPUT
  uint so = SRC_ROW_OFFSET (row);
#endif

  float s = 0.0;
  for (uint i = t; i < c; i += ROW_THREADS) {
#ifdef LN_ROW_INPUT
    float v = ln_row_input (row, i);
    dst[d0 + i] = v;
#else
    float v = src0[so + i];
#endif
    s += v;
  }
  float mean = row_sum (0u, vec2 (s, 0.0)).x / float (c);

  float sd = 0.0, sd2 = 0.0;
  for (uint i = t; i < c; i += ROW_THREADS) {
    float d = LN_AGAIN (i) - mean;
    sd += d;
    sd2 += d * d;
  }
  vec2 sums = row_sum (1u, vec2 (sd, sd2));
  float lo = sums.x / float (c);
  float var = max ((sums.y - sums.x * lo) / float (c), 0.0);
  float rstd = 1.0 / sqrt (var + 1e-5);

  for (uint i = t; i < c; i += ROW_THREADS) {
    float y = (LN_AGAIN (i) - mean - lo) * rstd * aux[i] + aux2[i];
#ifdef LN_GELU
    y = ls_gelu (y);
#endif
    dst[d0 + i] = y;
  }
}
