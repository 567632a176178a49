/* One graph node -> its dispatches (one op, one shader, as in ncnn): the
 * GEMM tile and split-K choice, checked against the device's limits, and
 * the bindings and push constants of every shader.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

#include <stdlib.h>
#include <string.h>

/* ---- GEMM ----------------------------------------------------------------- */

/* Three kernels compute the same GEMM (flags, split-K and epilogue alike):
 *   tiled    gemm.glsl, the first one: TM x TN outputs per invocation
 *            read as scalars from one shared buffer;
 *   reg      gemm_reg.glsl: 4 x 4 blocks read as vec4s, the next slab
 *            fetched into registers during the multiply, two shared
 *            buffers (one barrier per slab);
 *   coopmat  gemm_coopmat.glsl: NV cooperative matrices, fp16 inputs,
 *            fp32 accumulation; only where LsVkCaps.coopmat says so.
 * Default: coopmat where usable, else reg. LS_VULKAN_GEMM=tiled|reg|coopmat
 * forces one (coopmat falls back to reg where unusable), LS_VULKAN_COOPMAT=0
 * turns coopmat off (vk-device.c), LS_VULKAN_GEMM_TILE=i forces the i-th
 * tile of the kernel's list where it fits, LS_VULKAN_GEMM_TILES=FILE names
 * a tile per GEMM shape (vk-tiles.c). LS_VULKAN_FP16=1 (with 16-bit
 * storage, LsVkCaps.fp16_weights) stores the Linear weights as fp16 for
 * the tiled and reg kernels (gemm_f16, gemm_reg_f16); coopmat reads them
 * as fp16 wherever the device has 16-bit storage (gemm_coopmat_f16,
 * LsVkCaps.coopmat_fp16_weights), since it multiplies fp16. */

typedef struct {
  /* tiled, reg: bm x bn x bk, each invocation tm x tn.
   * coopmat: bm x bn x bk, each subgroup wm x wn (in tm, tn). */
  uint32_t bm, bn, bk, tm, tn;
  /* left out of the choice by workgroup count (CPUs, integrated GPUs):
   * a candidate that bench/gpu-vulkan.sh times shape by shape, or a
   * kernel's tile for discrete GPUs (discrete_tile) */
  gboolean candidate;
} GemmTile;

/* Largest first; all 256 invocations. */
static const GemmTile gemm_tiles[] = {
  { 128, 128, 16, 8, 8, FALSE },
  { 64, 64, 16, 4, 4, FALSE },
  { 32, 32, 16, 2, 2, FALSE },
};

/* tm, tn multiples of 4; the 128 x 128 x 16 one needs 33 KiB of shared
 * memory (two buffers), the 128 x 128 x 8 one half of that. The
 * candidates are narrow tiles for the many GEMMs whose N is 128 or less. */
static const GemmTile reg_tiles[] = {
  { 128, 128, 16, 8, 8, FALSE },
  { 128, 128, 8, 8, 8, FALSE },
  { 64, 128, 16, 4, 8, FALSE },
  { 64, 64, 16, 4, 4, FALSE },
  { 32, 64, 16, 4, 4, FALSE },
  { 32, 32, 16, 4, 4, FALSE },
  { 128, 64, 16, 8, 4, TRUE },
  { 128, 32, 16, 8, 4, TRUE },
};

/* wm x wn per 32-wide subgroup. Candidates: twice the depth (half the
 * barriers a K), tall and narrow, four accumulators a subgroup on a
 * quarter of the workgroups, the smallest that fills a subgroup (the
 * discrete GPUs' tile), the two smallest at twice the depth, and tiles of
 * one fragment a subgroup on 8 or 16 subgroups (more loads in flight a
 * workgroup, fewer reads of A and B an output than the 32 x 32 tile). */
static const GemmTile coopmat_tiles[] = {
  { 128, 128, 32, 64, 32, FALSE },
  { 64, 128, 32, 32, 32, FALSE },
  { 64, 64, 32, 32, 32, FALSE },
  { 32, 64, 32, 16, 32, FALSE },
  { 64, 64, 64, 32, 32, TRUE },
  { 128, 64, 32, 64, 32, TRUE },
  { 128, 128, 32, 64, 64, TRUE },
  { 32, 32, 32, 16, 16, TRUE },
  { 32, 32, 64, 16, 16, TRUE },
  { 32, 64, 64, 16, 32, TRUE },
  { 64, 64, 32, 16, 16, TRUE },
  { 32, 64, 32, 16, 16, TRUE },
  { 64, 32, 32, 16, 16, TRUE },
  { 64, 64, 32, 32, 16, TRUE },
};

/* The tile a kernel takes on a discrete GPU (split-K then fills the
 * device), an index into its list above, or -1: by workgroup count, as
 * elsewhere. From tile sweeps on an H100 (each of the full config's 71
 * GEMMs timed alone with every tile; bench/RESULTS.md). At batch 1 these
 * GEMMs are latency bound: many small workgroups beat the tiles chosen
 * by workgroup count (coopmat 32 x 32 x 32: 0.80x their time in median;
 * reg 64 x 64: 2.90 against 4.78 ms in sum, 128 x 128 ran 4-16x slower).
 * Once the flags were specialization constants, the cooperative-matrix
 * sweep split by shape: 64 x 64 x 32 on 8 subgroups for the large and the
 * long GEMMs (0.75x the 32 x 32 x 32 tile on 784 x 1280 x 320, 0.78x on
 * 196 x 512 x 2048), 32 x 32 x 64 for the rest (0.81x on 3136 x 128 x 512),
 * 32 x 64 x 32 on 8 subgroups for the attention's context (long K of
 * tokens, exponentiated on load: 0.78x on 512 x 128 x 3136). This rule
 * summed to 1.34 ms over the 71 GEMMs, the best tile of each shape to
 * 1.31 ms, one tile for all to 1.46-1.50 ms. */
static int
discrete_tile (LsVkGemmKernel kernel, LsShaderId shader, uint32_t m, uint32_t n, uint32_t k)
{
  switch (kernel) {
  case LS_VK_GEMM_COOPMAT:
    if (shader == LS_SHADER_EFFATTN_CONTEXT)
      return 11;                                      /* 32 x 64 x 32, 8 subgroups */
    if ((guint64) m * n >= 768 * 1024 || k >= 1024)
      return 13;                                      /* 64 x 64 x 32, 8 subgroups */
    return 8;                                         /* 32 x 32 x 64 */
  case LS_VK_GEMM_REG:
    return 3;
  case LS_VK_GEMM_TILED:
    break;
  }
  return -1;
}

enum {
  GEMM_TRANS_A = 1, GEMM_TRANS_B = 2, GEMM_ACCUMULATE = 4, GEMM_BIAS = 8,
  GEMM_VEC4_A = 16, GEMM_VEC4_B = 32,
};

/* How a GEMM transforms A as it loads it: specialization constant 10 of
 * every GEMM kernel (A_LOAD in shaders/gemm_fetch.glsl). */
typedef enum {
  A_AS_STORED, A_LAYERNORM, A_SLICES_SUMMED,
} ALoad;
/* The GEMM's flags, as in its push constants: specialization constant 11
 * (FLAGS in shaders/gemm_fetch.glsl), so that each GEMM's pipeline is
 * compiled for its own operand layout and epilogue; ~0 makes the kernel
 * read them from the push constants (LS_VULKAN_SPEC_FLAGS=0). */
#define FLAGS_SPEC_ID 11

typedef struct {
  LsShaderId shader;
  uint32_t m, n, k, lda, ldb, ldc, flags;
  ALoad a_load;
  uint32_t a_chunks;           /* the key softmax's token chunks */
  /* stats: the key softmax's per-chunk statistics, or with a LayerNorm on
   * load its gamma (and ln_beta its beta) */
  LsVkRange a, b, c, bias, stats, ln_beta;
  /* a Linear: B is this weight (b_floats floats), placed by plan_gemm as
   * fp16 for the fp32 kernels when LsVkCaps.fp16_weights, else fp32 (the
   * cooperative-matrix kernel reads fp32 and converts on load) */
  const float *b_weight;
  gsize b_floats;
} Gemm;

static uint32_t
tile_invocations (LsVkGemmKernel kernel, const LsVkCaps *caps, const GemmTile *t)
{
  if (kernel == LS_VK_GEMM_COOPMAT)
    return (t->bm / t->tm) * (t->bn / t->tn) * caps->subgroup_size;
  return (t->bm / t->tm) * (t->bn / t->tn);
}

static gboolean
tile_fits (LsVkGemmKernel kernel, const LsVkCaps *caps, const GemmTile *t)
{
  uint32_t invocations = tile_invocations (kernel, caps, t);
  uint32_t shared;
  switch (kernel) {
  case LS_VK_GEMM_TILED:
    shared = t->bk * (t->bm + 1 + t->bn + 1) * 4;
    break;
  case LS_VK_GEMM_REG:
    shared = 2 * t->bk * (t->bm + 4 + t->bn + 4) * 4;
    break;
  default:
    if (t->tm % caps->coopmat_m || t->tn % caps->coopmat_n || t->bk % caps->coopmat_k)
      return FALSE;
    shared = (t->bm + t->bn) * (t->bk + 8) * 2
             + (t->bm / t->tm) * (t->bn / t->tn) * caps->coopmat_m * caps->coopmat_n * 4;
    break;
  }
  /* every kernel: row statistics for the transforms of A on load (row_stats
   * in gemm_fetch.glsl: two floats a row, two an invocation) */
  shared += (2 * t->bm + 2 * invocations) * 4;
  return invocations <= caps->max_invocations && invocations <= caps->max_group_size[0]
         && shared <= caps->max_shared_memory;
}

/* Workgroups that keep the device busy: a rough count of its cores, since
 * Vulkan does not report one (LS_VULKAN_BUSY_GROUPS overrides it, so a
 * benchmark can sweep it on a card at hand). */
static guint64
busy_groups (const LsVkCaps *caps)
{
  int forced = ls_vk_env_int ("LS_VULKAN_BUSY_GROUPS", 0);
  if (forced > 0)
    return (guint64) forced;
  switch (caps->plan_type) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 256;
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 48;
  default: return 8;
  }
}

static LsVkGemmKernel
choose_kernel (const LsVkCaps *caps)
{
  const char *forced = g_getenv ("LS_VULKAN_GEMM");
  if (g_strcmp0 (forced, "tiled") == 0)
    return LS_VK_GEMM_TILED;
  if (g_strcmp0 (forced, "reg") == 0)
    return LS_VK_GEMM_REG;
  return caps->coopmat ? LS_VK_GEMM_COOPMAT : LS_VK_GEMM_REG;
}

static const GemmTile *
kernel_tiles (LsVkGemmKernel kernel, int *count)
{
  switch (kernel) {
  case LS_VK_GEMM_TILED:
    *count = G_N_ELEMENTS (gemm_tiles);
    return gemm_tiles;
  case LS_VK_GEMM_REG:
    *count = G_N_ELEMENTS (reg_tiles);
    return reg_tiles;
  default:
    *count = G_N_ELEMENTS (coopmat_tiles);
    return coopmat_tiles;
  }
}

/* The tile LS_VULKAN_GEMM_TILE forces, else the one LS_VULKAN_GEMM_TILES
 * names for the shape, where it fits; else on a discrete GPU the kernel's
 * discrete_tile where it fits; else the largest that still gives the
 * device enough workgroups, else the smallest that fits. The big
 * tiles of reg and coopmat do 4x / 8x more work per workgroup than the
 * tiled kernel's, so half the workgroups suffice there. */
static const GemmTile *
choose_tile (LsVkPlan *plan, LsVkGemmKernel kernel, LsShaderId shader, uint32_t m, uint32_t n,
             uint32_t k)
{
  const LsVkCaps *caps = plan->caps;
  int count;
  const GemmTile *tiles = kernel_tiles (kernel, &count);
  int forced = ls_vk_env_int ("LS_VULKAN_GEMM_TILE", -1);
  if (forced >= 0 && forced < count && tile_fits (kernel, caps, &tiles[forced]))
    return &tiles[forced];
  int named = ls_vk_tiles_lookup (plan, kernel, m, n, k);
  if (named >= 0 && tile_fits (kernel, caps, &tiles[named])) {
    plan->gemm_from_file++;
    return &tiles[named];
  }
  if (named >= 0)
    g_warning ("vulkan: %s: %s tile %d does not fit device \"%s\"; the %ux%ux%u GEMM keeps "
               "the plan's tile", plan->tiles_path, ls_vk_gemm_kernel_names[kernel], named,
               caps->name, m, n, k);

  int discrete = discrete_tile (kernel, shader, m, n, k);
  if (caps->plan_type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU && discrete >= 0
      && tile_fits (kernel, caps, &tiles[discrete]))
    return &tiles[discrete];

  const guint64 enough = kernel == LS_VK_GEMM_TILED ? busy_groups (caps) : busy_groups (caps) / 2;
  const GemmTile *best = NULL;
  for (int i = 0; i < count; i++) {
    const GemmTile *t = &tiles[i];
    if (t->candidate || !tile_fits (kernel, caps, t))
      continue;
    best = t;
    guint64 groups = (guint64) LS_VK_DIV_UP (m, t->bm) * LS_VK_DIV_UP (n, t->bn);
    if (groups >= enough)
      break;
  }
  return best;
}

/* The shader of a GEMM for a kernel: LS_SHADER_GEMM, _EFFATTN_CONTEXT or
 * _EFFATTN_APPLY in its tiled form, mapped to the kernel's. */
static LsShaderId
kernel_shader (LsShaderId shader, LsVkGemmKernel kernel)
{
  static const LsShaderId map[][3] = {
    { LS_SHADER_GEMM, LS_SHADER_GEMM_REG, LS_SHADER_GEMM_COOPMAT },
    { LS_SHADER_EFFATTN_CONTEXT, LS_SHADER_EFFATTN_CONTEXT_REG,
      LS_SHADER_EFFATTN_CONTEXT_COOPMAT },
    { LS_SHADER_EFFATTN_APPLY, LS_SHADER_EFFATTN_APPLY_REG, LS_SHADER_EFFATTN_APPLY_COOPMAT },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (map[i][0] == shader)
      return map[i][kernel];
  g_assert_not_reached ();
}

/* The node after @node, when @g (that node's GEMM) wrote all of the
 * node's output in whole rows and the next node reads that output first;
 * else -1. Also -1 where the environment variable @switch_name is 0, or
 * is unset and @by_default is FALSE. */
static int
next_reads_whole_output (const LsVkPlan *plan, int node, const Gemm *g, const char *switch_name,
                         gboolean by_default)
{
  const LsGraph *graph = plan->graph;
  const int next = node + 1;
  if (next >= (int) graph->nodes->len || !ls_vk_env_int (switch_name, by_default))
    return -1;
  const LsNode *gemm = ls_graph_get_node (graph, node);
  const LsTensor *out = ls_graph_get_tensor (graph, gemm->dst);
  if (ls_graph_get_node (graph, next)->src[0] != gemm->dst || g->ldc != g->n
      || (uint32_t) out->c != g->n || (uint32_t) out->n != g->m)
    return -1;
  return next;
}

/* The LayerNorm a split-K GEMM's reduce can take on, or -1: the next node
 * normalises what this node's GEMM wrote and has a dispatch of its own
 * (not folded into the GEMMs after it). The reduce then sums a row's
 * slices and normalises the row in one dispatch (gemm_reduce_ln.comp):
 * MixFFN's fc2 before the next LayerNorm, the attention's apply before
 * norm2, a patch embedding before its norm. LS_VULKAN_REDUCE_LN=0 keeps
 * them apart. */
static int
layernorm_after (const LsVkPlan *plan, int node, const Gemm *g)
{
  const int next = next_reads_whole_output (plan, node, g, "LS_VULKAN_REDUCE_LN", TRUE);
  if (next < 0 || ls_graph_get_node (plan->graph, next)->op != LS_OP_LAYERNORM
      || plan->ln_of[next] == next)
    return -1;
  return next;
}

/* Whether node @reader is the only one that reads @tensor (itself or
 * through a view), and the graph's output is another tensor */
static gboolean
only_reader (const LsGraph *graph, int tensor, int reader)
{
  if (tensor == graph->output)
    return FALSE;
  for (guint j = 0; j < graph->nodes->len; j++) {
    const LsNode *node = ls_graph_get_node (graph, (int) j);
    for (int k = 0; k < node->nsrc && (int) j != reader; k++) {
      const LsTensor *t = ls_graph_get_tensor (graph, node->src[k]);
      if (node->src[k] == tensor || t->base == tensor)
        return FALSE;
    }
  }
  return TRUE;
}

/* The Linear that can sum a split-K GEMM's partials as it loads them, so
 * that the GEMM needs no reduce, or -1: the next node, the only reader of
 * what this node's GEMM wrote (no bias or accumulation for a reduce to
 * add), reading it whole and not normalising it on load. The attention's
 * context G [C, C'] -> the Linear on it (the value and reprojection
 * weights folded onto G, network.c): one dispatch and one barrier an
 * attention, for a few extra reads of a small A. Not on a discrete GPU:
 * there each of the Linear's column tiles sums all slices again, and three
 * H100 runs timed the frame 0.02-0.10 ms faster with the reduce.
 * LS_VULKAN_SLICES_ON_LOAD=0 or =1 decides for any device. */
static int
slices_reader (const LsVkPlan *plan, int node, const Gemm *g, uint32_t flags)
{
  const LsGraph *graph = plan->graph;
  const int next = next_reads_whole_output (plan, node, g, "LS_VULKAN_SLICES_ON_LOAD",
                                            plan->caps->plan_type != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU);
  if (next < 0 || (flags & (GEMM_ACCUMULATE | GEMM_BIAS)))
    return -1;
  const LsNode *gemm = ls_graph_get_node (graph, node), *reader = ls_graph_get_node (graph, next);
  if (reader->op != LS_OP_LINEAR || plan->ln_of[next] >= 0
      || reader->in != ls_graph_get_tensor (graph, gemm->dst)->c
      || !only_reader (graph, gemm->dst, next))
    return -1;
  return next;
}

/* The workgroup of a shader that takes a row of c channels a workgroup
 * (shaders/row_reduce.glsl: layernorm.glsl's kind and
 * effattn_softmax_channels; ROW_THREADS, specialization constant 0): about four channels an invocation, 32 to 256 invocations.
 * A fixed 128 left the decoder's last LayerNorm (50176 rows of 128) one
 * channel an invocation, and the widest (196 rows of 2048) 16, on 196
 * workgroups. */
static void
set_row_threads (LsVkDispatch *d, uint32_t c)
{
  uint32_t threads = 32;
  while (threads < 256 && threads * 4 < c)
    threads *= 2;
  d->spec[0] = threads;
  d->n_spec = 1;
}

static gboolean
plan_gemm (LsVkPlan *plan, int node, const Gemm *g, GError **error)
{
  const LsVkCaps *caps = plan->caps;
  int tile_counts[3];
  for (int k = 0; k < 3; k++)
    kernel_tiles ((LsVkGemmKernel) k, &tile_counts[k]);
  if (!ls_vk_tiles_load (plan, tile_counts, error))
    return FALSE;
  LsVkGemmKernel kernel = choose_kernel (caps);
  const GemmTile *t = choose_tile (plan, kernel, g->shader, g->m, g->n, g->k);
  if (!t && kernel != LS_VK_GEMM_TILED) {
    kernel = LS_VK_GEMM_TILED;
    t = choose_tile (plan, kernel, g->shader, g->m, g->n, g->k);
  }
  if (!t) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: device \"%s\" fits no GEMM tile (shared memory %u B, "
                 "%u invocations)", caps->name, caps->max_shared_memory, caps->max_invocations);
    return FALSE;
  }
  plan->gemm_count[kernel]++;
  LsVkRange b = g->b;
  LsShaderId shader = kernel_shader (g->shader, kernel);
  if (g->b_weight) {
    if (kernel == LS_VK_GEMM_COOPMAT ? caps->coopmat_fp16_weights : caps->fp16_weights) {
      static const LsShaderId f16_shader[] = {
        [LS_VK_GEMM_TILED] = LS_SHADER_GEMM_F16, [LS_VK_GEMM_REG] = LS_SHADER_GEMM_REG_F16,
        [LS_VK_GEMM_COOPMAT] = LS_SHADER_GEMM_COOPMAT_F16,
      };
      b = ls_vk_plan_weight_f16 (plan, g->b_weight, g->b_floats);
      shader = f16_shader[kernel];
      plan->gemm_f16++;
    } else {
      b = ls_vk_plan_weight (plan, g->b_weight, g->b_floats);
    }
  }
  uint32_t flags = g->flags;
  /* vec4 loads along an operand's contiguous dimension */
  if (g->lda % 4 == 0 && ((flags & GEMM_TRANS_A) ? g->m % 4 == 0 : g->k % 4 == 0))
    flags |= GEMM_VEC4_A;
  if (g->ldb % 4 == 0 && ((flags & GEMM_TRANS_B) ? g->k % 4 == 0 : g->n % 4 == 0))
    flags |= GEMM_VEC4_B;
  if (!ls_vk_env_int ("LS_VULKAN_VEC4", 1))
    flags &= ~(uint32_t) (GEMM_VEC4_A | GEMM_VEC4_B);

  /* Split-K when the output has too few tiles to fill the device and K is
   * long: each split keeps >= 256 of K (LS_VULKAN_SPLIT_K forces a count). */
  guint64 tiles = (guint64) LS_VK_DIV_UP (g->m, t->bm) * LS_VK_DIV_UP (g->n, t->bn);
  uint32_t splits = 1;
  if (tiles < busy_groups (caps))
    splits = (uint32_t) MIN (LS_VK_DIV_UP (busy_groups (caps), tiles), g->k / 256);
  splits = (uint32_t) CLAMP (ls_vk_env_int ("LS_VULKAN_SPLIT_K", (int) splits), 1, 64);
  uint32_t k_chunk = LS_VK_DIV_UP (LS_VK_DIV_UP (g->k, splits), t->bk) * t->bk;
  splits = MAX (1, LS_VK_DIV_UP (g->k, k_chunk));

  /* a split GEMM writes partials: the reduce adds bias and accumulation */
  const uint32_t kernel_flags =
      splits == 1 ? flags : flags & ~(uint32_t) (GEMM_ACCUMULATE | GEMM_BIAS);

  LsVkDispatch *d = ls_vk_plan_add (plan, shader, node);
  /* 0-5 every kernel's, 6-9 the cooperative matrices' (0 for the others:
   * an ID a shader does not declare is ignored), 10 the load of A, 11 the
   * flags */
  const gboolean cm = kernel == LS_VK_GEMM_COOPMAT;
  const uint32_t spec[FLAGS_SPEC_ID + 1] = {
    tile_invocations (kernel, caps, t), t->bm, t->bn, t->bk, t->tm, t->tn,
    cm ? caps->coopmat_m : 0, cm ? caps->coopmat_n : 0, cm ? caps->coopmat_k : 0,
    cm ? caps->subgroup_size : 0, g->a_load,
    ls_vk_env_int ("LS_VULKAN_SPEC_FLAGS", 1) ? kernel_flags : ~(uint32_t) 0,
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (spec) <= LS_VK_MAX_SPEC);
  memcpy (d->spec, spec, sizeof spec);
  d->n_spec = G_N_ELEMENTS (spec);
  d->bind[1] = g->a;
  d->bind[2] = b;
  d->bind[3] = g->stats;
  d->bind[5] = g->ln_beta;
  d->groups[0] = LS_VK_DIV_UP (g->n, t->bn);
  d->groups[1] = LS_VK_DIV_UP (g->m, t->bm);
  d->groups[2] = splits;
  d->writes = 1;
  if (d->groups[1] > caps->max_group_count[1]) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: a %ux%u GEMM needs %u workgroups in y, device \"%s\" allows %u",
                 g->m, g->n, d->groups[1], caps->name, caps->max_group_count[1]);
    return FALSE;
  }

  if (splits == 1) {
    d->bind[0] = g->c;
    d->bind[4] = g->bias;
    uint32_t push[] = { g->m, g->n, g->k, g->lda, g->ldb, g->ldc, kernel_flags, k_chunk,
                        g->a_chunks };
    ls_vk_dispatch_push (d, push, sizeof push);
    return TRUE;
  }
  LsVkRange partials = ls_vk_plan_scratch (plan, (gsize) splits * g->m * g->n);
  d->bind[0] = partials;
  uint32_t push[] = {
    g->m, g->n, g->k, g->lda, g->ldb, g->n, kernel_flags, k_chunk, g->a_chunks,
  };
  ls_vk_dispatch_push (d, push, sizeof push);

  const int reader = slices_reader (plan, node, g, flags);
  if (reader >= 0) {
    /* no reduce: the scratch moves on with the partials to the reader */
    plan->slices.reader = reader;
    plan->slices.splits = splits;
    plan->slices.partials = partials;
    plan->slices.held = g_array_index (plan->scratch_live, LsVkRange, plan->scratch_live->len - 1);
    g_array_set_size (plan->scratch_live, plan->scratch_live->len - 1);
    return TRUE;
  }
  const int ln = layernorm_after (plan, node, g);
  if (ln >= 0) {
    const LsNode *norm = ls_graph_get_node (plan->graph, ln);
    d = ls_vk_plan_add (plan, LS_SHADER_GEMM_REDUCE_LN, node);
    d->bind[0] = ls_vk_plan_tensor (plan, norm->dst);
    d->bind[1] = partials;
    d->bind[2] = g->bias;
    d->bind[3] = g->c;
    d->bind[4] = ls_vk_plan_weight (plan, norm->w, g->n);
    d->bind[5] = ls_vk_plan_weight (plan, norm->b, g->n);
    d->writes = 1u << 0 | 1u << 3;
    uint32_t lpush[] = { g->m, g->n, splits, flags & (GEMM_ACCUMULATE | GEMM_BIAS) };
    ls_vk_dispatch_push (d, lpush, sizeof lpush);
    set_row_threads (d, g->n);
    ls_vk_dispatch_groups_flat (d, g->m);
    plan->ln_in_reduce = ln;
    return TRUE;
  }
  d = ls_vk_plan_add (plan, LS_SHADER_GEMM_REDUCE, node);
  d->bind[0] = g->c;
  d->bind[1] = partials;
  d->bind[4] = g->bias;
  d->writes = 1;
  uint32_t rpush[] = { g->m, g->n, g->ldc, splits, flags & (GEMM_ACCUMULATE | GEMM_BIAS) };
  ls_vk_dispatch_push (d, rpush, sizeof rpush);
  ls_vk_dispatch_groups_flat (d, LS_VK_DIV_UP ((guint64) g->m * g->n, 256));
  return TRUE;
}

/* dst (+)= f(src) W^T + b, W [out, ldw]: the rows used are (out - 1) ldw +
 * in floats from w. f is the identity, or with @ln the LayerNorm (+ GELU)
 * of that node, applied as the rows of src are loaded (vk-fuse.c). */
static gboolean
plan_linear_gemm (LsVkPlan *plan, int node, LsVkRange a, int lda, int m, int in,
                  const float *w, int ldw, const float *b, LsVkRange c, int out,
                  gboolean accumulate, const LsNode *ln, GError **error)
{
  Gemm g = {
    .shader = LS_SHADER_GEMM,
    .m = (uint32_t) m, .n = (uint32_t) out, .k = (uint32_t) in,
    .lda = (uint32_t) lda, .ldb = (uint32_t) ldw, .ldc = (uint32_t) out,
    .flags = GEMM_TRANS_B | (accumulate ? GEMM_ACCUMULATE : 0) | (b ? GEMM_BIAS : 0),
    .a = a, .c = c,
    .b_weight = w, .b_floats = (gsize) (out - 1) * ldw + in,
  };
  if (b)
    g.bias = ls_vk_plan_weight (plan, b, (gsize) out);
  if (plan->slices.reader == node) {   /* A: the GEMM before's partials */
    g.a = plan->slices.partials;
    g.a_load = A_SLICES_SUMMED;
    g.a_chunks = plan->slices.splits;
    plan->slices.reader = -1;
  }
  if (ln) {
    g.a_load = A_LAYERNORM;
    g.stats = ls_vk_plan_weight (plan, ln->w, (gsize) in);
    g.ln_beta = ls_vk_plan_weight (plan, ln->b, (gsize) in);
  }
  return plan_gemm (plan, node, &g, error);
}

/* ---- the other ops -------------------------------------------------------- */

/* A shader of layernorm.glsl's kind: a workgroup a row, w and b the
 * LayerNorm's */
static LsVkDispatch *
plan_rows (LsVkPlan *plan, LsShaderId shader, int node, LsVkRange src, LsVkRange dst,
           const float *w, const float *b, uint32_t rows, uint32_t c, uint32_t width,
           uint32_t p)
{
  LsVkDispatch *d = ls_vk_plan_add (plan, shader, node);
  d->bind[0] = dst;
  d->bind[1] = src;
  d->bind[4] = ls_vk_plan_weight (plan, w, c);
  d->bind[5] = ls_vk_plan_weight (plan, b, c);
  d->writes = 1;
  uint32_t push[] = { rows, c, width, p };
  ls_vk_dispatch_push (d, push, sizeof push);
  set_row_threads (d, c);
  ls_vk_dispatch_groups_flat (d, rows);
  return d;
}

static gboolean
plan_attn_context (LsVkPlan *plan, int node_index, const LsNode *node, GError **error)
{
  const LsTensor *k = ls_graph_get_tensor (plan->graph, node->src[0]);
  const LsTensor *v = ls_graph_get_tensor (plan->graph, node->src[1]);
  const uint32_t n = (uint32_t) k->n, c = (uint32_t) k->c, cv = (uint32_t) v->c;

  /* key softmax statistics: a (max, sum) pair per channel and token chunk;
   * the context GEMM merges its channels' pairs before it starts */
  uint32_t channel_groups = LS_VK_DIV_UP (c, 64);
  uint32_t chunks = (uint32_t) CLAMP (LS_VK_DIV_UP (busy_groups (plan->caps), channel_groups),
                                      1, 256);
  uint32_t chunk_rows = MAX (64, LS_VK_DIV_UP (n, chunks));
  chunks = LS_VK_DIV_UP (n, chunk_rows);
  LsVkRange partials = ls_vk_plan_scratch (plan, (gsize) chunks * c * 2);

  LsVkDispatch *d = ls_vk_plan_add (plan, LS_SHADER_EFFATTN_SOFTMAX_TOKENS, node_index);
  d->bind[0] = partials;
  d->bind[1] = ls_vk_plan_tensor (plan, node->src[0]);
  d->writes = 1;
  uint32_t push[] = { n, c, (uint32_t) k->ld, chunk_rows };
  ls_vk_dispatch_push (d, push, sizeof push);
  d->groups[0] = channel_groups;
  d->groups[1] = chunks;

  /* G = softmax_N(K)^T V: A = K transposed, split-K over the tokens */
  Gemm g = {
    .shader = LS_SHADER_EFFATTN_CONTEXT,
    .m = c, .n = cv, .k = n, .lda = (uint32_t) k->ld, .ldb = (uint32_t) v->ld,
    .ldc = (uint32_t) ls_graph_get_tensor (plan->graph, node->dst)->c,
    .flags = GEMM_TRANS_A,
    .a = ls_vk_plan_tensor (plan, node->src[0]),
    .b = ls_vk_plan_tensor (plan, node->src[1]),
    .c = ls_vk_plan_tensor (plan, node->dst),
    .stats = partials,
    .a_chunks = chunks,
  };
  return plan_gemm (plan, node_index, &g, error);
}

/* The attention's apply A = softmax_channels(Q) G. On a discrete GPU the
 * query softmax is written out first (effattn_softmax_channels, beside the
 * context chain: no barrier more) and the apply is a plain GEMM: taken on
 * load, each of the apply's column tiles exponentiated all of Q again after
 * a prologue that read each row twice, and on an H100 the applies ran
 * 1.4-1.8x the time of plain GEMMs of their shapes (the frame: 0.07-0.10
 * ms slower than with the softmax apart). Elsewhere the softmax
 * stays on load, saving Q's write and read. LS_VULKAN_QUERY_SOFTMAX_APART=0
 * or =1 decides for any device. */
static gboolean
plan_attn_apply (LsVkPlan *plan, int node_index, const LsNode *node, GError **error)
{
  const LsTensor *q = ls_graph_get_tensor (plan->graph, node->src[0]);
  LsVkRange qr = ls_vk_plan_tensor (plan, node->src[0]);
  const LsTensor *dst = ls_graph_get_tensor (plan->graph, node->dst);
  const uint32_t n = (uint32_t) q->n, c = (uint32_t) q->c;
  const uint32_t cg = (uint32_t) ls_graph_get_tensor (plan->graph, node->src[1])->c;
  Gemm g = {
    .shader = LS_SHADER_EFFATTN_APPLY,
    .m = n, .n = cg, .k = c,
    .lda = (uint32_t) q->ld, .ldb = cg, .ldc = (uint32_t) dst->c,
    .flags = node->accumulate ? GEMM_ACCUMULATE : 0,
    .a = qr, .b = ls_vk_plan_tensor (plan, node->src[1]),
    .c = ls_vk_plan_tensor (plan, node->dst),
  };
  if (ls_vk_env_int ("LS_VULKAN_QUERY_SOFTMAX_APART",
                     plan->caps->plan_type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)) {
    LsVkDispatch *d = ls_vk_plan_add (plan, LS_SHADER_EFFATTN_SOFTMAX_CHANNELS, node_index);
    d->bind[0] = ls_vk_plan_scratch (plan, (gsize) n * c);
    d->bind[1] = qr;
    d->writes = 1;
    uint32_t push[] = { n, c, (uint32_t) q->ld };
    ls_vk_dispatch_push (d, push, sizeof push);
    set_row_threads (d, c);
    ls_vk_dispatch_groups_flat (d, n);
    g.shader = LS_SHADER_GEMM;
    g.a = d->bind[0];
    g.lda = c;
  }
  return plan_gemm (plan, node_index, &g, error);
}

static void
plan_iscf (LsVkPlan *plan, int node_index, const LsNode *node)
{
  const int s = node->nsrc;
  const uint32_t d = (uint32_t) ls_graph_get_tensor (plan->graph, node->dst)->c;
  const guint64 count = (guint64) d * d;
  const uint32_t chunk = 4096, chunks = (uint32_t) LS_VK_DIV_UP (count, chunk);
  LsVkRange partials = ls_vk_plan_scratch (plan, (gsize) s * chunks);
  LsVkRange coef = ls_vk_plan_scratch (plan, (gsize) s);

  LsVkDispatch *dp = ls_vk_plan_add (plan, LS_SHADER_ISCF_MEAN, node_index);
  dp->bind[0] = partials;
  for (int i = 0; i < s; i++)
    dp->bind[1 + i] = ls_vk_plan_tensor (plan, node->src[i]);
  dp->writes = 1;
  uint32_t push0[] = { (uint32_t) count, chunks, chunk };
  ls_vk_dispatch_push (dp, push0, sizeof push0);
  dp->groups[0] = chunks;
  dp->groups[1] = (uint32_t) s;

  /* the SE weights are a handful of floats: packed into one range */
  float se[3 * 3 * 2 + 3 * 3];
  int at = 0;
  for (int i = 0; i < s * s; i++)
    se[at++] = node->w[i];
  for (int i = 0; i < s; i++)
    se[at++] = node->b[i];
  for (int i = 0; i < s * s; i++)
    se[at++] = node->w2[i];
  for (int i = 0; i < s; i++)
    se[at++] = node->b2[i];
  for (int i = 0; i < s; i++)
    se[at++] = node->w3[i];
  dp = ls_vk_plan_add (plan, LS_SHADER_ISCF_SE, node_index);
  dp->bind[0] = coef;
  dp->bind[1] = partials;
  dp->bind[4] = ls_vk_plan_pack (plan, se, (gsize) at);
  dp->writes = 1;
  float inv_count = (float) (1.0 / (double) count);
  uint32_t push1[3] = { (uint32_t) s, chunks };
  memcpy (&push1[2], &inv_count, 4);
  ls_vk_dispatch_push (dp, push1, sizeof push1);

  dp = ls_vk_plan_add (plan, LS_SHADER_ISCF_FUSE, node_index);
  dp->bind[0] = ls_vk_plan_tensor (plan, node->dst);
  for (int i = 0; i < s; i++)
    dp->bind[1 + i] = ls_vk_plan_tensor (plan, node->src[i]);
  dp->bind[4] = coef;
  dp->writes = 1;
  uint32_t push2[3] = { (uint32_t) count, (uint32_t) s };
  memcpy (&push2[2], &node->fparam, 4);
  ls_vk_dispatch_push (dp, push2, sizeof push2);
  ls_vk_dispatch_groups_flat (dp, LS_VK_DIV_UP (count, 256));
}

static gboolean
plan_conv_patch (LsVkPlan *plan, int node_index, const LsNode *node, GError **error)
{
  const LsTensor *dst = ls_graph_get_tensor (plan->graph, node->dst);
  const int wout = (node->width + 2 * node->pad - node->k) / node->stride + 1;
  const int kk = node->in * node->k * node->k;
  const guint64 count = (guint64) dst->n * kk;
  LsVkRange col = ls_vk_plan_tensor (plan, node->scratch);

  LsVkDispatch *d = ls_vk_plan_add (plan, LS_SHADER_IM2COL, node_index);
  d->bind[0] = col;
  d->bind[1] = ls_vk_plan_tensor (plan, node->src[0]);
  d->writes = 1;
  uint32_t push[] = {
    (uint32_t) node->height, (uint32_t) node->width, (uint32_t) node->in, (uint32_t) node->k,
    (uint32_t) node->stride, (uint32_t) node->pad, (uint32_t) wout, (uint32_t) count,
    (uint32_t) node->planar_src,
  };
  ls_vk_dispatch_push (d, push, sizeof push);
  ls_vk_dispatch_groups_flat (d, LS_VK_DIV_UP (count, 256));

  return plan_linear_gemm (plan, node_index, col, kk, dst->n, kk, node->w, kk, node->b,
                           ls_vk_plan_tensor (plan, node->dst), node->out, FALSE, NULL,
                           error);
}

gboolean
ls_vk_plan_node (LsVkPlan *plan, int node_index, GError **error)
{
  const LsGraph *graph = plan->graph;
  const LsNode *node = ls_graph_get_node (graph, node_index);
  const LsTensor *src = node->nsrc > 0 ? ls_graph_get_tensor (graph, node->src[0]) : NULL;
  const LsTensor *dst = ls_graph_get_tensor (graph, node->dst);
  ls_vk_plan_next_node (plan, node_index);

  const int ln = plan->ln_of[node_index];
  switch (node->op) {
  case LS_OP_LINEAR: {
    /* after a folded LayerNorm: read its input and normalise on load */
    const LsNode *norm = ln >= 0 ? ls_graph_get_node (graph, ln) : NULL;
    const int a = norm ? norm->src[0] : node->src[0];
    return plan_linear_gemm (plan, node_index, ls_vk_plan_tensor (plan, a), src->c, src->n,
                             node->in, node->w, node->ldw, node->b,
                             ls_vk_plan_tensor (plan, node->dst), node->out, node->accumulate,
                             norm, error);
  }
  case LS_OP_CONV_PATCH:
    return plan_conv_patch (plan, node_index, node, error);
  case LS_OP_LAYERNORM:
    /* folded into the GEMMs that read it, or done by the reduce before */
    if (ln == node_index || plan->ln_in_reduce == node_index)
      return TRUE;
    plan_rows (plan, LS_SHADER_LAYERNORM, node_index, ls_vk_plan_tensor (plan, node->src[0]),
               ls_vk_plan_tensor (plan, node->dst), node->w, node->b, (uint32_t) src->n,
               (uint32_t) src->c, 0, 0);
    return TRUE;
  case LS_OP_PIXEL_SHUFFLE_LN:
    plan_rows (plan, LS_SHADER_PIXEL_SHUFFLE_LN, node_index,
               ls_vk_plan_tensor (plan, node->src[0]), ls_vk_plan_tensor (plan, node->dst),
               node->w, node->b, (uint32_t) dst->n, (uint32_t) node->out,
               (uint32_t) node->width, (uint32_t) node->p);
    return TRUE;
  case LS_OP_DWCONV3X3_LN_GELU: {
    /* the LayerNorm's weights where plan_rows puts them, the conv's in
     * bindings 2 and 3 */
    LsVkDispatch *d = plan_rows (plan, LS_SHADER_DWCONV3X3_LN_GELU, node_index,
                                 ls_vk_plan_tensor (plan, node->src[0]),
                                 ls_vk_plan_tensor (plan, node->dst), node->w2, node->b2,
                                 (uint32_t) src->n, (uint32_t) src->c, (uint32_t) node->width, 0);
    d->bind[2] = ls_vk_plan_weight (plan, node->w, (gsize) src->c * 9);
    d->bind[3] = ls_vk_plan_weight (plan, node->b, (gsize) src->c);
    return TRUE;
  }
  case LS_OP_ATTN_CONTEXT:
    return plan_attn_context (plan, node_index, node, error);
  case LS_OP_ATTN_APPLY:
    return plan_attn_apply (plan, node_index, node, error);
  case LS_OP_ISCF_FUSE:
    plan_iscf (plan, node_index, node);
    return TRUE;
  case LS_OP_PROJECT_ONE: {
    LsVkDispatch *d = ls_vk_plan_add (plan, LS_SHADER_PROJECT_ONE, node_index);
    d->bind[0] = ls_vk_plan_tensor (plan, node->dst);
    d->bind[1] = ls_vk_plan_tensor (plan, node->src[0]);
    d->bind[4] = ls_vk_plan_weight (plan, node->w, (gsize) src->c);
    d->writes = 1;
    uint32_t push[3] = { (uint32_t) src->n, (uint32_t) src->c };
    memcpy (&push[2], &node->fparam, 4);
    ls_vk_dispatch_push (d, push, sizeof push);
    ls_vk_dispatch_groups_flat (d, LS_VK_DIV_UP ((guint64) src->n, 8));
    return TRUE;
  }
  case LS_OP_N_KINDS:
    break;
  }
  g_set_error (error, LS_ERROR, LS_ERROR_BACKEND, "vulkan: no shader for op %s",
               ls_op_kind_name (node->op));
  return FALSE;
}
