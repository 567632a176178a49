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
// then a vec4 is either wholly inside the matrix or wholly outside.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

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

layout(push_constant) uniform Params {
  uint M, N, K, lda, ldb, ldc, flags, k_chunk;
} pc;

shared float As[BK * (BM + 1)];
shared float Bs[BK * (BN + 1)];

#ifdef SOFTMAX_A
// softmax over tokens of column m of K, statistics from
// effattn_softmax_tokens.comp in src2: max at [m], 1 / sum at [M + m]
float a_value (float v, uint m)
{
  return ls_exp (v - src2[m]) * src2[pc.M + m];
}
#else
#define a_value(v, m) (v)
#endif

void load_a (uint tid, uint wg, uint tile_m, uint k0, uint kend)
{
  const uint AS = BM + 1;
  bool trans = (pc.flags & GEMM_TRANS_A) != 0u;
  if ((pc.flags & GEMM_VEC4_A) != 0u) {
    if (trans) {          // contiguous along m
      for (uint e = tid; e < BK * BM / 4u; e += wg) {
        uint kk = e / (BM / 4u), mm = (e % (BM / 4u)) * 4u;
        uint gk = k0 + kk, gm = tile_m + mm;
        vec4 v = vec4 (0.0);
        if (gk < kend && gm < pc.M) {
          v = src0_v4[(gk * pc.lda + gm) / 4u];
          v = vec4 (a_value (v.x, gm), a_value (v.y, gm + 1u),
                    a_value (v.z, gm + 2u), a_value (v.w, gm + 3u));
        }
        As[kk * AS + mm] = v.x;
        As[kk * AS + mm + 1u] = v.y;
        As[kk * AS + mm + 2u] = v.z;
        As[kk * AS + mm + 3u] = v.w;
      }
    } else {              // contiguous along k
      for (uint e = tid; e < BK * BM / 4u; e += wg) {
        uint mm = e / (BK / 4u), kk = (e % (BK / 4u)) * 4u;
        uint gk = k0 + kk, gm = tile_m + mm;
        vec4 v = vec4 (0.0);
        if (gk < kend && gm < pc.M) {
          v = src0_v4[(gm * pc.lda + gk) / 4u];
          v = vec4 (a_value (v.x, gm), a_value (v.y, gm), a_value (v.z, gm), a_value (v.w, gm));
        }
        As[kk * AS + mm] = v.x;
        As[(kk + 1u) * AS + mm] = v.y;
        As[(kk + 2u) * AS + mm] = v.z;
        As[(kk + 3u) * AS + mm] = v.w;
      }
    }
    return;
  }
  for (uint e = tid; e < BK * BM; e += wg) {
    uint mm, kk;
    if (trans) {
      kk = e / BM;
      mm = e % BM;
    } else {
      mm = e / BK;
      kk = e % BK;
    }
    uint gk = k0 + kk, gm = tile_m + mm;
    float v = 0.0;
    if (gk < kend && gm < pc.M)
      v = a_value (trans ? src0[gk * pc.lda + gm] : src0[gm * pc.lda + gk], gm);
    As[kk * AS + mm] = v;
  }
}

void load_b (uint tid, uint wg, uint tile_n, uint k0, uint kend)
{
  const uint BS = BN + 1;
  bool trans = (pc.flags & GEMM_TRANS_B) != 0u;
  if ((pc.flags & GEMM_VEC4_B) != 0u) {
    if (trans) {          // contiguous along k
      for (uint e = tid; e < BK * BN / 4u; e += wg) {
        uint nn = e / (BK / 4u), kk = (e % (BK / 4u)) * 4u;
        uint gk = k0 + kk, gn = tile_n + nn;
        vec4 v = vec4 (0.0);
        if (gk < kend && gn < pc.N)
          v = SRC1_V4((gn * pc.ldb + gk) / 4u);
        Bs[kk * BS + nn] = v.x;
        Bs[(kk + 1u) * BS + nn] = v.y;
        Bs[(kk + 2u) * BS + nn] = v.z;
        Bs[(kk + 3u) * BS + nn] = v.w;
      }
    } else {              // contiguous along n
      for (uint e = tid; e < BK * BN / 4u; e += wg) {
        uint kk = e / (BN / 4u), nn = (e % (BN / 4u)) * 4u;
        uint gk = k0 + kk, gn = tile_n + nn;
        vec4 v = vec4 (0.0);
        if (gk < kend && gn < pc.N)
          v = SRC1_V4((gk * pc.ldb + gn) / 4u);
        Bs[kk * BS + nn] = v.x;
        Bs[kk * BS + nn + 1u] = v.y;
        Bs[kk * BS + nn + 2u] = v.z;
        Bs[kk * BS + nn + 3u] = v.w;
      }
    }
    return;
  }
  for (uint e = tid; e < BK * BN; e += wg) {
    uint nn, kk;
    if (trans) {
      nn = e / BK;
      kk = e % BK;
    } else {
      kk = e / BN;
      nn = e % BN;
    }
    uint gk = k0 + kk, gn = tile_n + nn;
    float v = 0.0;
    if (gk < kend && gn < pc.N)
      v = trans ? SRC1(gn * pc.ldb + gk) : SRC1(gk * pc.ldb + gn);
    Bs[kk * BS + nn] = v;
  }
}

void main ()
{
  const uint TX = BN / TN, TY = BM / TM, WG = TX * TY;
  uint tid = gl_LocalInvocationID.x;
  uint tx = tid % TX, ty = tid / TX;
  uint tile_m = gl_WorkGroupID.y * BM, tile_n = gl_WorkGroupID.x * BN;
  uint kbegin = gl_WorkGroupID.z * pc.k_chunk;
  uint kend = min (pc.K, kbegin + pc.k_chunk);

  float acc[TM * TN];
  for (uint i = 0u; i < TM * TN; i++)
    acc[i] = 0.0;
  float a[TM], b[TN];

  for (uint k0 = kbegin; k0 < kend; k0 += BK) {
    load_a (tid, WG, tile_m, k0, kend);
    load_b (tid, WG, tile_n, k0, kend);
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

  uint base = gl_WorkGroupID.z * pc.M * pc.ldc;
  for (uint i = 0u; i < TM; i++) {
    uint gm = tile_m + ty + i * TY;
    if (gm >= pc.M)
      continue;
    for (uint j = 0u; j < TN; j++) {
      uint gn = tile_n + tx + j * TX;
      if (gn >= pc.N)
        continue;
      uint at = base + gm * pc.ldc + gn;
      float v = acc[i * TN + j];
      if ((pc.flags & GEMM_BIAS) != 0u)
        v += aux[gn];
      if ((pc.flags & GEMM_ACCUMULATE) != 0u)
        v += dst[at];
      dst[at] = v;
    }
  }
}
