#version 450
// LS_OP_CONV_PATCH, first half: col[o, ci * k * k + ky * k + kx] =
// x(ci, oy * stride - pad + ky, ox * stride - pad + kx), zero outside the
// image; x is token-major [H * W, Cin] or, with `planar`, the network's
// [Cin, H, W] input planes. One invocation per col element (writes are
// coalesced; the reads are a gather either way).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Params {
  uint height, width, cin, k, stride, pad, wout, count, planar;
} pc;

void main ()
{
  uint i = flat_invocation ();
  if (i >= pc.count)
    return;
  uint kk = pc.k * pc.k, ncol = pc.cin * kk;
  uint col = i % ncol, o = i / ncol;
  uint ci = col / kk, r = col % kk;
  int iy = int ((o / pc.wout) * pc.stride + r / pc.k) - int (pc.pad);
  int ix = int ((o % pc.wout) * pc.stride + r % pc.k) - int (pc.pad);
  float v = 0.0;
  if (iy >= 0 && iy < int (pc.height) && ix >= 0 && ix < int (pc.width)) {
    uint pix = uint (iy) * pc.width + uint (ix);
    v = pc.planar != 0u ? src0[ci * pc.height * pc.width + pix] : src0[pix * pc.cin + ci];
  }
  dst[i] = v;
}
