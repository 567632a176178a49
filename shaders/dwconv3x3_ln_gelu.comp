#version 450
// LS_OP_DWCONV3X3_LN_GELU, MixFFN's middle: dst[n] = GELU(LN(d[n]) * w + b)
// with d[n, ch] = h[n, ch] + cb[ch] + the sum over the zero padded 3x3
// neighbourhood of cw[ch, ky, kx] h[neighbour, ch]; h = src0 on a
// (rows / width) x width grid, cw = src1 [C, 9], cb = src2, the
// LayerNorm's w and b = aux, aux2. A workgroup a row (token), as every
// LayerNorm (layernorm.glsl): its conv outputs are stored as the first
// LayerNorm pass computes them and normalised in place, so MixFFN's widest
// tensor is written once and read back from cache. Consecutive
// invocations take consecutive channels: every load is coalesced.
#include "common.glsl"
#include "math.glsl"
#define LN_GELU
#define LN_ROW_INPUT
#include "layernorm.glsl"

float ln_row_input (uint row, uint ch)
{
  uint c = pc.c, height = pc.rows / pc.width;
  int y = int (row / pc.width), x = int (row % pc.width);
  float acc = src0[row * c + ch] + src2[ch];
  for (int ky = 0; ky < 3; ky++) {
    int iy = y + ky - 1;
    if (iy < 0 || iy >= int (height))
      continue;
    for (int kx = 0; kx < 3; kx++) {
      int ix = x + kx - 1;
      if (ix < 0 || ix >= int (pc.width))
        continue;
      acc += src1[ch * 9u + uint (ky * 3 + kx)] * src0[(uint (iy) * pc.width + uint (ix)) * c + ch];
    }
  }
  return acc;
}
