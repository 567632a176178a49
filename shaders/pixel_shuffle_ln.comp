#version 450
// LS_OP_PIXEL_SHUFFLE_LN: output pixel (oy, ox) takes channels
// (py * p + px) * c .. + c of grid cell (oy / p, ox / p), py = oy % p,
// px = ox % p, then LN(c). One row per output pixel: the shuffle is only an
// address computation.
#include "common.glsl"

uint shuffle_src_row (uint row);
#define SRC_ROW_OFFSET(row) shuffle_src_row (row)
#include "layernorm.glsl"

uint shuffle_src_row (uint row)
{
  uint wo = pc.width * pc.p;
  uint oy = row / wo, ox = row % wo;
  uint gy = oy / pc.p, py = oy % pc.p, gx = ox / pc.p, px = ox % pc.p;
  return (((gy * pc.width + gx) * pc.p + py) * pc.p + px) * pc.c;
}
