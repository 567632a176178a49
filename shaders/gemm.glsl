// Tiled shared-memory GEMM, fp32 accumulation:
//   dst[m, n] (+)= sum_k A(m, k) B(k, n) (+ bias[n])
// A(m, k) = src0[m * lda + k], or src0[k * lda + m] with TRANS_A;
// B(k, n) = src1[k * ldb + n], or src1[n * ldb + k] with TRANS_B (a
// Linear's weight [out, in]). So LINEAR is X W^T, ATTN_CONTEXT is K^T V and
// ATTN_APPLY is Q G, all without a transpose pass.
//
// Tile sizes are specialization constants, chosen by the host from the
// device's limits (core/vulkan/vk-ops.c): a BM x BN tile per workgroup, BK
// deep, each invocation TM x TN outputs spread TY / TX apart so that its
// shared-memory reads hit consecutive banks. The shared tiles are stored
// k-major with one float of padding per row, so the transposed loads store
// without bank conflicts too.
//
// Split-K: workgroup z sums k in [z * k_chunk, (z + 1) * k_chunk) and
// writes its partial product at dst + z * M * ldc; gemm_reduce.comp adds
// the partials (and the epilogue). Without split-K there is one z.
//
// vec4 loads (VEC4_A / VEC4_B flags) when the host has checked that the
// operand's contiguous dimension and leading dimension are multiples of 4:
// then a vec4 is either wholly inside the matrix or wholly outside. The
// loads and the epilogue are gemm_fetch.glsl's, shared with the faster
// register-blocked and cooperative-matrix GEMMs.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
const uint TX = BN / TN, TY = BM / TM, WG = TX * TY;

#include "gemm_fetch.glsl"

shared float As[BK * (BM + 1)];
shared float Bs[BK * (BN + 1)];

// One BK-deep slab of A and of B into the k-major shared tiles: each slot
// of 4 elements (gemm_fetch.glsl) goes to 4 places along m / n, or along k.
void load_tiles (uint tid, uint wg, uint tile_m, uint tile_n, uint k0, uint kend)
{
  const uint AS = BM + 1u, BS = BN + 1u;
  bool ta = (GEMM_FLAGS & GEMM_TRANS_A) != 0u, tb = (GEMM_FLAGS & GEMM_TRANS_B) != 0u;
  for (uint s = tid; s < BK * BM / 4u; s += wg) {
    vec4 v = fetch_a (s, tile_m, k0, kend);
    uvec2 mk = slot_a (s);
    for (uint j = 0u; j < 4u; j++)
      As[ta ? mk.y * AS + mk.x + j : (mk.y + j) * AS + mk.x] = v[j];
  }
  for (uint s = tid; s < BK * BN / 4u; s += wg) {
    vec4 v = fetch_b (s, tile_n, k0, kend);
    uvec2 nk = slot_b (s);
    for (uint j = 0u; j < 4u; j++)
      Bs[tb ? (nk.y + j) * BS + nk.x : nk.y * BS + nk.x + j] = v[j];
  }
}

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint tx = tid % TX, ty = tid / TX;
  uint tile_m = gl_WorkGroupID.y * BM, tile_n = gl_WorkGroupID.x * BN;
  uint kbegin = gl_WorkGroupID.z * pc.k_chunk;
  uint kend = min (pc.K, kbegin + pc.k_chunk);
  row_stats (tid, tile_m);

  float acc[TM * TN];
  for (uint i = 0u; i < TM * TN; i++)
    acc[i] = 0.0;
  float a[TM], b[TN];

  for (uint k0 = kbegin; k0 < kend; k0 += BK) {
    load_tiles (tid, WG, tile_m, tile_n, k0, kend);
    barrier ();
    for (uint kk = 0u; kk < BK; kk++) {
      for (uint i = 0u; i < TM; i++)
        a[i] = As[kk * (BM + 1u) + ty + i * TY];
      for (uint j = 0u; j < TN; j++)
        b[j] = Bs[kk * (BN + 1u) + tx + j * TX];
      for (uint i = 0u; i < TM; i++)
        for (uint j = 0u; j < TN; j++)
          acc[i * TN + j] = fma (a[i], b[j], acc[i * TN + j]);
    }
    barrier ();
  }

  for (uint i = 0u; i < TM; i++)
    for (uint j = 0u; j < TN; j++)
      store_c (tile_m + ty + i * TY, tile_n + tx + j * TX, acc[i * TN + j]);
}
