#version 450
// LS_OP_DWCONV3X3_SKIP: dst[n, ch] = h[n, ch] + b[ch] + sum over the zero
// padded 3x3 neighbourhood of w[ch, ky, kx] h[neighbour, ch]; h = src0,
// w = aux [C, 9], b = aux2. One invocation per output element: neighbours
// of consecutive channels are consecutive, so every load is coalesced.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params { uint height, width, c; } pc;

void main ()
{
  uint i = flat_invocation ();
  uint c = pc.c;
  if (i >= pc.height * pc.width * c)
    return;
  uint ch = i % c, tok = i / c;
  int y = int (tok / pc.width), x = int (tok % pc.width);
  float acc = src0[i] + aux2[ch];
  for (int ky = 0; ky < 3; ky++) {
    int iy = y + ky - 1;
    if (iy < 0 || iy >= int (pc.height))
      continue;
    for (int kx = 0; kx < 3; kx++) {
      int ix = x + kx - 1;
      if (ix < 0 || ix >= int (pc.width))
        continue;
      acc += aux[ch * 9 + uint (ky * 3 + kx)] * src0[(uint (iy) * pc.width + uint (ix)) * c + ch];
    }
  }
  dst[i] = acc;
}
