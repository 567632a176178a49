// Register-blocked fp32 GEMM, double-buffered: the same operation, flags,
// push constants and split-K as gemm.glsl, faster on large shapes.
//
// Each invocation computes TM x TN outputs as (TM/4) x (TN/4) blocks of
// 4 x 4, the blocks TY*4 / TX*4 apart, reading its operands from shared
// memory as vec4s. The next BK slab is fetched from global memory into
// registers (gemm_fetch.glsl) while the current one is multiplied, then
// stored into the other of two shared buffers: one barrier per slab.
// Shared tiles are k-major, rows padded by one vec4.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 8;
layout(constant_id = 5) const uint TN = 8;

const uint WG = (BM / TM) * (BN / TN);

#include "gemm_fetch.glsl"

const uint AS4 = BM / 4u + 1u, BS4 = BN / 4u + 1u;   // row strides, vec4s
const uint A_SLOTS = (BK * BM / 4u + WG - 1u) / WG;  // per invocation
const uint B_SLOTS = (BK * BN / 4u + WG - 1u) / WG;
shared vec4 As[2u * BK * AS4];
shared vec4 Bs[2u * BK * BS4];

vec4 ra[A_SLOTS], rb[B_SLOTS];

void fetch (uint tid, uint tile_m, uint tile_n, uint k0, uint kend)
{
  for (uint i = 0u; i < A_SLOTS; i++) {
    uint s = tid + i * WG;
    if (s < BK * BM / 4u)
      ra[i] = fetch_a (s, tile_m, k0, kend);
  }
  for (uint i = 0u; i < B_SLOTS; i++) {
    uint s = tid + i * WG;
    if (s < BK * BN / 4u)
      rb[i] = fetch_b (s, tile_n, k0, kend);
  }
}

void stash (uint tid, uint buf)
{
  bool ta = (GEMM_FLAGS & GEMM_TRANS_A) != 0u, tb = (GEMM_FLAGS & GEMM_TRANS_B) != 0u;
  for (uint i = 0u; i < A_SLOTS; i++) {
    uint s = tid + i * WG;
    if (s >= BK * BM / 4u)
      continue;
    uvec2 mk = slot_a (s);
    uint base = buf * BK * AS4;
    if (ta)
      As[base + mk.y * AS4 + mk.x / 4u] = ra[i];
    else
      for (uint j = 0u; j < 4u; j++)
        As[base + (mk.y + j) * AS4 + mk.x / 4u][mk.x % 4u] = ra[i][j];
  }
  for (uint i = 0u; i < B_SLOTS; i++) {
    uint s = tid + i * WG;
    if (s >= BK * BN / 4u)
      continue;
    uvec2 nk = slot_b (s);
    uint base = buf * BK * BS4;
    if (!tb)
      Bs[base + nk.y * BS4 + nk.x / 4u] = rb[i];
    else
      for (uint j = 0u; j < 4u; j++)
        Bs[base + (nk.y + j) * BS4 + nk.x / 4u][nk.x % 4u] = rb[i][j];
  }
}

void main ()
{
  const uint TX = BN / TN, TY = BM / TM;
  uint tid = gl_LocalInvocationID.x;
  uint tx = tid % TX, ty = tid / TX;
  uint tile_m = gl_WorkGroupID.y * BM, tile_n = gl_WorkGroupID.x * BN;
  uint kbegin = gl_WorkGroupID.z * pc.k_chunk;
  uint kend = min (pc.K, kbegin + pc.k_chunk);
  row_stats (tid, tile_m);

  vec4 acc[TM * TN / 4u];
  for (uint i = 0u; i < TM * TN / 4u; i++)
    acc[i] = vec4 (0.0);
  vec4 a[TM / 4u], b[TN / 4u];

  fetch (tid, tile_m, tile_n, kbegin, kend);
  stash (tid, 0u);
  barrier ();
  uint buf = 0u;
  for (uint k0 = kbegin; k0 < kend; k0 += BK) {
    bool more = k0 + BK < kend;
    if (more)
      fetch (tid, tile_m, tile_n, k0 + BK, kend);
    uint abase = buf * BK * AS4, bbase = buf * BK * BS4;
    for (uint kk = 0u; kk < BK; kk++) {
      for (uint i = 0u; i < TM / 4u; i++)
        a[i] = As[abase + kk * AS4 + i * TY + ty];
      for (uint j = 0u; j < TN / 4u; j++)
        b[j] = Bs[bbase + kk * BS4 + j * TX + tx];
      for (uint i = 0u; i < TM / 4u; i++)
        for (uint r = 0u; r < 4u; r++)
          for (uint j = 0u; j < TN / 4u; j++) {
            uint at = (i * 4u + r) * (TN / 4u) + j;
            acc[at] = fma (vec4 (a[i][r]), b[j], acc[at]);
          }
    }
    if (more)
      stash (tid, buf ^ 1u);
    barrier ();
    buf ^= 1u;
  }

  for (uint i = 0u; i < TM / 4u; i++)
    for (uint r = 0u; r < 4u; r++) {
      uint gm = tile_m + (i * TY + ty) * 4u + r;
      for (uint j = 0u; j < TN / 4u; j++) {
        uint gn = tile_n + (j * TX + tx) * 4u;
        vec4 v = acc[(i * 4u + r) * (TN / 4u) + j];
        for (uint c = 0u; c < 4u; c++)
          store_c (gm, gn + c, v[c]);
      }
    }
}
