/* Which LayerNorms the Vulkan backend folds into the GEMMs that read them.
 *
 * A LayerNorm whose output is read only by Linears, each taking it whole
 * as its input, needs no pass of its own: each of
 * those GEMMs reads the LayerNorm's input instead and normalises its rows
 * as it loads them (A_LOAD, shaders/gemm_fetch.glsl). On a GPU at batch
 * 1 that saves what costs most there, a dispatch and a barrier, and a
 * round trip of the tensor through memory; each GEMM workgroup recomputes
 * the statistics of its rows instead (two more reads of them, from cache).
 * In the published network at 224 x 224, 16 of its 26 qualify: the ones
 * before every MixFFN, the two before stage 3's attention (whose value
 * Linear is not folded away, network.c) and the decoder's norm_tr;
 * lavapipe then records 116 dispatches and 101 barriers instead of 132
 * and 117. (The LayerNorm + GELU inside each MixFFN is part of the
 * depthwise conv's dispatch, LS_OP_DWCONV3X3_LN_GELU.)
 *
 * Measured on an H100, that trade loses: the full config ran 4.07 ms a
 * frame folded and 3.59 ms not (bench/RESULTS.md), the normalisation being
 * redone by each of a GEMM's column tiles and split-K slices. On lavapipe
 * the two are even. So a discrete GPU does not fold; other devices do
 * (integrated GPUs unmeasured: there the saved memory traffic should
 * count most). LS_VULKAN_FUSE_LN=0 or =1 decides for any device.
 *
 * The LayerNorm's input must still hold the same values when the last of
 * those GEMMs runs: no node in between may write any byte of it. The arena
 * reuses memory between tensors, so this is checked on arena ranges, not
 * on tensor ids.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

static gboolean
node_uses (const LsNode *node, int tensor)
{
  for (int k = 0; k < node->nsrc; k++)
    if (node->src[k] == tensor)
      return TRUE;
  return node->dst == tensor || node->scratch == tensor;
}

/* A Linear that reads @tensor whole as its input and writes elsewhere */
static gboolean
reads_whole (const LsGraph *graph, const LsNode *node, int tensor)
{
  return node->op == LS_OP_LINEAR && node->nsrc == 1 && node->src[0] == tensor
         && node->dst != tensor && node->in == ls_graph_get_tensor (graph, tensor)->c;
}

static gboolean
overlaps (const LsGraph *graph, int a, int b)
{
  if (a < 0 || b < 0)
    return FALSE;
  const LsTensor *ta = ls_graph_get_tensor (graph, a), *tb = ls_graph_get_tensor (graph, b);
  return ta->offset < tb->offset + ls_tensor_span (tb)
         && tb->offset < ta->offset + ls_tensor_span (ta);
}

/* The last node that reads LayerNorm @ln's output, when all its readers are
 * Linears that can normalise on load and its input survives until then;
 * else -1. */
static int
last_fusable_reader (const LsGraph *graph, int ln)
{
  const LsNode *norm = ls_graph_get_node (graph, ln);
  const int out = norm->dst, in = norm->src[0];
  const int n = (int) graph->nodes->len;
  int last = -1;
  for (int j = ln + 1; j < n; j++) {
    const LsNode *node = ls_graph_get_node (graph, j);
    if (!node_uses (node, out))
      continue;
    if (!reads_whole (graph, node, out))
      return -1;
    last = j;
  }
  for (int j = ln + 1; j <= last; j++) {
    const LsNode *node = ls_graph_get_node (graph, j);
    if (overlaps (graph, node->dst, in) || overlaps (graph, node->scratch, in))
      return -1;
  }
  return last;
}

void
ls_vk_plan_fuse (LsVkPlan *plan)
{
  const LsGraph *graph = plan->graph;
  const int n = (int) graph->nodes->len;
  plan->ln_of = g_new (int, MAX (n, 1));
  for (int i = 0; i < n; i++)
    plan->ln_of[i] = -1;
  if (!ls_vk_env_int ("LS_VULKAN_FUSE_LN",
                      plan->caps->plan_type != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU))
    return;

  for (int i = 0; i < n; i++) {
    const LsNode *node = ls_graph_get_node (graph, i);
    if (node->op != LS_OP_LAYERNORM)
      continue;
    const int last = last_fusable_reader (graph, i);
    if (last < 0)
      continue;
    plan->ln_of[i] = i;
    for (int j = i + 1; j <= last; j++)
      if (node_uses (ls_graph_get_node (graph, j), node->dst))
        plan->ln_of[j] = i;
  }
}
