// What the three GEMM kernels (gemm.glsl, gemm_reg.glsl, gemm_coopmat.glsl)
// share: operands, flags and push constants, the loads from global memory,
// the transforms of A on load, and the epilogue (store_c).
//
// A BK-deep slab of an operand is cut into "slots" of 4 elements that are
// consecutive along the operand's contiguous dimension; invocation tid
// fetches slots tid, tid + WG, ... into vec4 registers (one vec4 load with
// GEMM_VEC4_*, else 4 scalar loads with per-element bounds), then the
// kernel stores them into its own shared-memory layout. Fetching the next
// slab before computing on the current one hides the global latency.
//
// Slot s of A: without TRANS_A (k contiguous) m = s / (BK/4), k = 4 (s % (BK/4));
// with TRANS_A (m contiguous) k = s / (BM/4), m = 4 (s % (BM/4)).
// Slot s of B: with TRANS_B (k contiguous) n = s / (BK/4), k = 4 (s % (BK/4));
// without (n contiguous) k = s / (BN/4), n = 4 (s % (BN/4)).
//
// A is transformed as it is loaded (a_value), so that no pass of its own
// (a dispatch and a barrier) computes it first:
// - KEY_SOFTMAX_A (attention context, A = K^T): softmax over the tokens,
//   statistics merged by row_stats from the per-chunk pairs that
//   effattn_softmax_tokens.comp leaves in binding 3;
// - QUERY_SOFTMAX_A (attention apply, A = Q): softmax over each row's
//   channels, statistics from row_stats below;
// - A_LOAD 1 (specialization constant 10): the LayerNorm whose output a
//   Linear would otherwise read: A's rows are the LayerNorm's input, gamma
//   is in binding 3 and beta in binding 5, statistics from row_stats
//   (core/vulkan/vk-fuse.c says when the host does this);
// - A_LOAD 2: A is the sum of a_chunks slices of M x lda (the split-K
//   partials of the GEMM before, whose reduce is then left out,
//   core/vulkan/vk-ops.c); without TRANS_A only.
// A constant, not a flag: a plain GEMM's pipeline is compiled without the
// transforms' code, and without the registers that code would hold in
// every GEMM's main loop.
//
// The including kernel declares BM, BN, BK and its workgroup size WG first.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

#include "math.glsl"

layout(std430, set = 0, binding = 1) readonly buffer Src0Vec4 { vec4 src0_v4[]; };
#ifdef LS_FP16_B
layout(std430, set = 0, binding = 2) readonly buffer Src1Vec4 { f16vec4 src1_v4[]; };
#define SRC1_V4(i) vec4 (src1_v4[i])
#else
layout(std430, set = 0, binding = 2) readonly buffer Src1Vec4 { vec4 src1_v4[]; };
#define SRC1_V4(i) src1_v4[i]
#endif

#define GEMM_TRANS_A 1u
#define GEMM_TRANS_B 2u
#define GEMM_ACCUMULATE 4u
#define GEMM_BIAS 8u
#define GEMM_VEC4_A 16u
#define GEMM_VEC4_B 32u

layout(constant_id = 10) const uint A_LOAD = 0u;   // 0 as stored, 1 LayerNorm, 2 slices summed

layout(push_constant) uniform Params {
  uint M, N, K, lda, ldb, ldc, flags, k_chunk;
  uint a_chunks;    // KEY_SOFTMAX_A: token chunks of effattn_softmax_tokens.comp;
                    // A_LOAD 2: the slices of A
} pc;

// The flags as a specialization constant where the host sets it (every
// branch on them then compiles away), else ~0u: from the push constants.
layout(constant_id = 11) const uint FLAGS = 0xffffffffu;
#define GEMM_FLAGS (FLAGS != 0xffffffffu ? FLAGS : pc.flags)

// Statistics of the workgroup's BM rows of A: LayerNorm mean and 1 / std,
// or softmax max and 1 / sum
shared float row_a[BM], row_b[BM];
shared float row_red[2u * WG];

#if defined(KEY_SOFTMAX_A)
// The keys: row m of A is channel m of K; merge its token chunks' (max, sum)
// pairs, src2 [a_chunks, M, 2] (few chunks: P invocations a channel).
void key_row_stats (uint tid, uint tile_m)
{
  const uint P = max (WG / BM, 1u), ROWS = WG / P;   // rows per pass
  for (uint r0 = 0u; r0 < BM; r0 += ROWS) {
    uint r = r0 + tid / P, p = tid % P, gm = tile_m + r;
    bool live = tid < ROWS * P && r < BM && gm < pc.M;
    float mx = 0.0, sum = 0.0;
    if (live)
      for (uint c = p; c < pc.a_chunks; c += P)
        ls_softmax_merge (mx, sum, src2[(c * pc.M + gm) * 2u], src2[(c * pc.M + gm) * 2u + 1u]);
    row_red[2u * tid] = mx;
    row_red[2u * tid + 1u] = sum;
    barrier ();
    if (live && p == 0u) {
      for (uint i = 1u; i < P; i++)
        ls_softmax_merge (mx, sum, row_red[2u * (tid + i)], row_red[2u * (tid + i) + 1u]);
      row_a[r] = mx;
      row_b[r] = 1.0 / sum;
    }
    barrier ();
  }
}
#endif

// The statistics of rows tile_m .. tile_m + BM - 1 of A over all K columns
// (split-K or not). For the keys, merged from the token chunks' pairs. For
// the queries and LayerNorms, taken as the CPU backend (and layernorm.glsl)
// takes them: a first pass for the max (or the mean), a second for the sum
// of exponentials (or the deviations, with the Chan-Golub-LeVeque
// correction). P consecutive invocations share a row, reading consecutive
// columns; their partial results meet in row_red. Called by every
// invocation at the start of the kernel.
void row_stats (uint tid, uint tile_m)
{
#if defined(KEY_SOFTMAX_A)
  key_row_stats (tid, tile_m);
  return;
#endif
#if defined(QUERY_SOFTMAX_A)
  const bool ln = false;
#else
  if (A_LOAD != 1u)
    return;
  const bool ln = true;
#endif
  // All BM rows in one pass where the workgroup has an invocation for
  // each (P = WG / BM a row, at most 32), with vec4 loads where A allows
  // them (GEMM_VEC4_A without TRANS_A: K and lda multiples of 4). A row
  // per 32 invocations read whole cache lines but took BM / (WG / 32)
  // passes of four barriers each, one after the other: 8 with the small
  // tiles that discrete GPUs take (32 rows, 128 invocations; on an H100
  // one pass took the attention applies from 331 to 312 us).
  const uint P = clamp (WG / BM, 1u, 32u), ROWS = WG / P;
  const bool v4 = (GEMM_FLAGS & (GEMM_VEC4_A | GEMM_TRANS_A)) == GEMM_VEC4_A;
  const uint step = v4 ? 4u * P : P;
  const float lowest = -3.402823466e38;
  for (uint r0 = 0u; r0 < BM; r0 += ROWS) {
    uint r = r0 + tid / P, p = tid % P, gm = tile_m + r;
    bool live = tid < ROWS * P && r < BM && gm < pc.M;
    uint row = gm * pc.lda;

    float s = ln ? 0.0 : lowest;
    if (live)
      for (uint k = v4 ? 4u * p : p; k < pc.K; k += step) {
        vec4 x = v4 ? src0_v4[(row + k) / 4u] : vec4 (src0[row + k]);
        s = ln ? s + (v4 ? (x.x + x.y) + (x.z + x.w) : x.x)
               : max (s, max (max (x.x, x.y), max (x.z, x.w)));
      }
    row_red[tid] = s;
    barrier ();
    float first = ln ? 0.0 : lowest;         // mean, or max
    if (live) {
      for (uint i = 0u; i < P; i++)
        first = ln ? first + row_red[tid - p + i] : max (first, row_red[tid - p + i]);
      if (ln)
        first /= float (pc.K);
    }
    barrier ();

    float sd = 0.0, sd2 = 0.0;
    if (live)
      for (uint k = v4 ? 4u * p : p; k < pc.K; k += step) {
        // scalar: one deviation, the other three lanes 0
        vec4 d = (v4 ? src0_v4[(row + k) / 4u] : vec4 (src0[row + k], first, first, first))
                 - first;
        if (ln) {
          sd += (d.x + d.y) + (d.z + d.w);
          sd2 += dot (d, d);
        } else {
          sd += v4 ? (ls_exp (d.x) + ls_exp (d.y)) + (ls_exp (d.z) + ls_exp (d.w)) : ls_exp (d.x);
        }
      }
    row_red[2u * tid] = sd;
    row_red[2u * tid + 1u] = sd2;
    barrier ();
    if (live && p == 0u) {
      float a = 0.0, b = 0.0;
      for (uint i = 0u; i < P; i++) {
        a += row_red[2u * (tid + i)];
        b += row_red[2u * (tid + i) + 1u];
      }
      if (ln) {
        float lo = a / float (pc.K);
        row_a[r] = first + lo;
        row_b[r] = 1.0 / sqrt (max ((b - a * lo) / float (pc.K), 0.0) + 1e-5);
      } else {
        row_a[r] = first;
        row_b[r] = 1.0 / a;
      }
    }
    barrier ();
  }
}

// A(m, k) as the GEMM multiplies it; r = m - tile_m
float a_value (float v, uint r, uint k)
{
#if defined(KEY_SOFTMAX_A) || defined(QUERY_SOFTMAX_A)
  return ls_exp (v - row_a[r]) * row_b[r];
#else
  if (A_LOAD != 1u)
    return v;
  return (v - row_a[r]) * row_b[r] * src2[k] + aux2[k];
#endif
}

// (row, col) of slot s in an operand tile: a = major index (m or n), k.
uvec2 slot_a (uint s)
{
  if ((GEMM_FLAGS & GEMM_TRANS_A) != 0u)
    return uvec2 (4u * (s % (BM / 4u)), s / (BM / 4u));
  return uvec2 (s / (BK / 4u), 4u * (s % (BK / 4u)));
}

uvec2 slot_b (uint s)
{
  if ((GEMM_FLAGS & GEMM_TRANS_B) != 0u)
    return uvec2 (s / (BK / 4u), 4u * (s % (BK / 4u)));
  return uvec2 (4u * (s % (BN / 4u)), s / (BN / 4u));
}

vec4 fetch_a (uint s, uint tile_m, uint k0, uint kend)
{
  uvec2 mk = slot_a (s);
  uint gm = tile_m + mk.x, gk = k0 + mk.y;
  bool trans = (GEMM_FLAGS & GEMM_TRANS_A) != 0u;
  vec4 v = vec4 (0.0);
  if ((GEMM_FLAGS & GEMM_VEC4_A) != 0u) {
    if (gk < kend && gm < pc.M) {
      if (trans) {
        v = src0_v4[(gk * pc.lda + gm) / 4u];
        v = vec4 (a_value (v.x, mk.x, gk), a_value (v.y, mk.x + 1u, gk),
                  a_value (v.z, mk.x + 2u, gk), a_value (v.w, mk.x + 3u, gk));
      } else if (A_LOAD == 2u) {
        for (uint z = 0u; z < pc.a_chunks; z++)
          v += src0_v4[(z * pc.M * pc.lda + gm * pc.lda + gk) / 4u];
      } else {
        v = src0_v4[(gm * pc.lda + gk) / 4u];
        v = vec4 (a_value (v.x, mk.x, gk), a_value (v.y, mk.x, gk + 1u),
                  a_value (v.z, mk.x, gk + 2u), a_value (v.w, mk.x, gk + 3u));
      }
    }
    return v;
  }
  for (uint j = 0u; j < 4u; j++) {
    uint m = trans ? gm + j : gm, k = trans ? gk : gk + j;
    if (k >= kend || m >= pc.M)
      continue;
    if (A_LOAD == 2u)
      for (uint z = 0u; z < pc.a_chunks; z++)
        v[j] += src0[z * pc.M * pc.lda + m * pc.lda + k];
    else
      v[j] = a_value (trans ? src0[k * pc.lda + m] : src0[m * pc.lda + k], m - tile_m, k);
  }
  return v;
}

vec4 fetch_b (uint s, uint tile_n, uint k0, uint kend)
{
  uvec2 nk = slot_b (s);
  uint gn = tile_n + nk.x, gk = k0 + nk.y;
  bool trans = (GEMM_FLAGS & GEMM_TRANS_B) != 0u;
  vec4 v = vec4 (0.0);
  if ((GEMM_FLAGS & GEMM_VEC4_B) != 0u) {
    if (gk < kend && gn < pc.N)
      v = trans ? SRC1_V4((gn * pc.ldb + gk) / 4u) : SRC1_V4((gk * pc.ldb + gn) / 4u);
    return v;
  }
  for (uint j = 0u; j < 4u; j++) {
    uint n = trans ? gn : gn + j, k = trans ? gk + j : gk;
    if (k < kend && n < pc.N)
      v[j] = trans ? SRC1(n * pc.ldb + k) : SRC1(k * pc.ldb + n);
  }
  return v;
}

// the epilogue of one output element (split-K partials get no flags)
void store_c (uint gm, uint gn, float v)
{
  if (gm >= pc.M || gn >= pc.N)
    return;
  uint at = gl_WorkGroupID.z * pc.M * pc.ldc + gm * pc.ldc + gn;
  if ((GEMM_FLAGS & GEMM_BIAS) != 0u)
    v += aux[gn];
  if ((GEMM_FLAGS & GEMM_ACCUMULATE) != 0u)
    v += dst[at];
  dst[at] = v;
}
