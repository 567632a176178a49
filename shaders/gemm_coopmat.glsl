// GEMM on NVIDIA cooperative matrices (GL_NV_cooperative_matrix): the same
// operation, flags, push constants and split-K as gemm.glsl, with fp16
// inputs and fp32 accumulation. Only used where the device offers
// VK_NV_cooperative_matrix with shaderFloat16 and the fp16 x fp16 -> fp32
// fragment shape CM x CN x CK (vkGetPhysicalDeviceCooperativeMatrixPropertiesNV,
// chosen by core/vulkan/vk-ops.c).
//
// A BM x BN tile per workgroup of (BM/WM) x (BN/WN) subgroups, each
// owning a WM x WN block of (WM/CM) x (WN/CN) accumulator fragments.
// Operands are fetched as fp32 (gemm_fetch.glsl, the next slab while the
// current one is multiplied), converted to fp16 into shared memory: A as
// [m][k], B as [n][k] (a column-major K x N), rows padded by 8 halves.
// The epilogue goes through a per-subgroup fp32 staging fragment so that
// bias, accumulate and the bounds of odd shapes are applied per element.
//
// SPDX-License-Identifier: LGPL-2.1-or-later
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const uint WM = 64;
layout(constant_id = 5) const uint WN = 32;
layout(constant_id = 6) const uint CM = 16;
layout(constant_id = 7) const uint CN = 16;
layout(constant_id = 8) const uint CK = 16;
layout(constant_id = 9) const uint SG = 32;    // subgroup size

const uint WARPS_N = BN / WN;
const uint WG = (BM / WM) * WARPS_N * SG;

#include "gemm_fetch.glsl"

const uint FM = WM / CM, FN = WN / CN;
const uint STR = BK + 8u;                         // row stride, halves
const uint A_SLOTS = (BK * BM / 4u + WG - 1u) / WG;
const uint B_SLOTS = (BK * BN / 4u + WG - 1u) / WG;
shared float16_t As[BM * STR];
shared float16_t Bs[BN * STR];
shared float Cs[(BM / WM) * WARPS_N * CM * CN];

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

void stash (uint tid)
{
  bool ta = (GEMM_FLAGS & GEMM_TRANS_A) != 0u, tb = (GEMM_FLAGS & GEMM_TRANS_B) != 0u;
  for (uint i = 0u; i < A_SLOTS; i++) {
    uint s = tid + i * WG;
    if (s >= BK * BM / 4u)
      continue;
    uvec2 mk = slot_a (s);
    for (uint j = 0u; j < 4u; j++)
      As[ta ? (mk.x + j) * STR + mk.y : mk.x * STR + mk.y + j] = float16_t (ra[i][j]);
  }
  for (uint i = 0u; i < B_SLOTS; i++) {
    uint s = tid + i * WG;
    if (s >= BK * BN / 4u)
      continue;
    uvec2 nk = slot_b (s);
    for (uint j = 0u; j < 4u; j++)
      Bs[tb ? nk.x * STR + nk.y + j : (nk.x + j) * STR + nk.y] = float16_t (rb[i][j]);
  }
}

void main ()
{
  uint tid = gl_LocalInvocationID.x;
  uint warp = tid / SG, lane = tid % SG;
  uint wm = warp / WARPS_N, wn = warp % WARPS_N;
  uint tile_m = gl_WorkGroupID.y * BM, tile_n = gl_WorkGroupID.x * BN;
  uint kbegin = gl_WorkGroupID.z * pc.k_chunk;
  uint kend = min (pc.K, kbegin + pc.k_chunk);
  row_stats (tid, tile_m);

  fcoopmatNV<32, gl_ScopeSubgroup, CM, CN> acc[FM * FN];
  for (uint i = 0u; i < FM * FN; i++)
    acc[i] = fcoopmatNV<32, gl_ScopeSubgroup, CM, CN> (0.0);
  fcoopmatNV<16, gl_ScopeSubgroup, CM, CK> fa[FM];
  fcoopmatNV<16, gl_ScopeSubgroup, CK, CN> fb;

  fetch (tid, tile_m, tile_n, kbegin, kend);
  for (uint k0 = kbegin; k0 < kend; k0 += BK) {
    barrier ();
    stash (tid);
    barrier ();
    if (k0 + BK < kend)
      fetch (tid, tile_m, tile_n, k0 + BK, kend);
    for (uint kk = 0u; kk < BK; kk += CK) {
      for (uint i = 0u; i < FM; i++)
        coopMatLoadNV (fa[i], As, (wm * WM + i * CM) * STR + kk, STR, false);
      for (uint j = 0u; j < FN; j++) {
        coopMatLoadNV (fb, Bs, (wn * WN + j * CN) * STR + kk, STR, true);
        for (uint i = 0u; i < FM; i++)
          acc[i * FN + j] = coopMatMulAddNV (fa[i], fb, acc[i * FN + j]);
      }
    }
  }

  uint stage = warp * CM * CN;
  for (uint i = 0u; i < FM; i++)
    for (uint j = 0u; j < FN; j++) {
      coopMatStoreNV (acc[i * FN + j], Cs, stage, CN, false);
      subgroupBarrier ();
      for (uint e = lane; e < CM * CN; e += SG)
        store_c (tile_m + wm * WM + i * CM + e / CN, tile_n + wn * WN + j * CN + e % CN,
                 Cs[stage + e]);
      subgroupBarrier ();
    }
}
