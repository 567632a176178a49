/* The plan: a graph turned into a list of dispatches, each with its
 * pipeline, bindings (ranges of the weights, arena and scratch buffers),
 * push constants and workgroup counts. Built once per engine; vk-record.c
 * turns it into descriptor sets and one command buffer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

#include <string.h>

/* Binding offsets: tensors come 64-byte aligned from graph.c, and weights
 * and scratch are placed at the same alignment (the device's
 * minStorageBufferOffsetAlignment was checked to be at most 64). */
#define LS_VK_ALIGN 64

static VkDeviceSize
align_up (VkDeviceSize v, VkDeviceSize a)
{
  return (v + a - 1) / a * a;
}

void
ls_vk_plan_init (LsVkPlan *plan, const LsGraph *graph, const LsVkCaps *caps)
{
  memset (plan, 0, sizeof *plan);
  plan->graph = graph;
  plan->caps = caps;
  plan->dispatches = g_array_new (FALSE, TRUE, sizeof (LsVkDispatch));
  plan->weights = g_array_new (FALSE, TRUE, sizeof (LsVkWeight));
  plan->weight_index = g_hash_table_new (g_direct_hash, g_direct_equal);
  plan->align = LS_VK_ALIGN;
}

void
ls_vk_plan_clear (LsVkPlan *plan)
{
  if (!plan->dispatches)
    return;
  for (guint i = 0; i < plan->weights->len; i++)
    g_free (g_array_index (plan->weights, LsVkWeight, i).owned);
  g_array_unref (plan->dispatches);
  g_array_unref (plan->weights);
  g_hash_table_unref (plan->weight_index);
  memset (plan, 0, sizeof *plan);
}

LsVkDispatch *
ls_vk_plan_add (LsVkPlan *plan, LsShaderId shader, int node)
{
  LsVkDispatch d = { .shader = shader, .node = node, .groups = { 1, 1, 1 } };
  g_array_append_val (plan->dispatches, d);
  return &g_array_index (plan->dispatches, LsVkDispatch, plan->dispatches->len - 1);
}

LsVkRange
ls_vk_plan_tensor (LsVkPlan *plan, int tensor_id)
{
  const LsTensor *t = ls_graph_get_tensor (plan->graph, tensor_id);
  return (LsVkRange) {
    LS_VK_BUF_ARENA, (VkDeviceSize) t->offset * 4, (VkDeviceSize) t->n * t->c * 4,
  };
}

static LsVkRange
add_weight (LsVkPlan *plan, const float *src, float *owned, gsize floats)
{
  LsVkWeight w = { .src = src, .owned = owned, .floats = floats };
  w.offset = align_up (plan->weight_bytes, plan->align);
  plan->weight_bytes = w.offset + floats * 4;
  g_array_append_val (plan->weights, w);
  return (LsVkRange) { LS_VK_BUF_WEIGHTS, w.offset, floats * 4 };
}

LsVkRange
ls_vk_plan_weight (LsVkPlan *plan, const float *w, gsize floats)
{
  guint index = GPOINTER_TO_UINT (g_hash_table_lookup (plan->weight_index, w));
  if (index) {
    const LsVkWeight *old = &g_array_index (plan->weights, LsVkWeight, index - 1);
    if (old->floats >= floats)
      return (LsVkRange) { LS_VK_BUF_WEIGHTS, old->offset, floats * 4 };
  }
  LsVkRange r = add_weight (plan, w, NULL, floats);
  g_hash_table_insert (plan->weight_index, (gpointer) w, GUINT_TO_POINTER (plan->weights->len));
  return r;
}

LsVkRange
ls_vk_plan_pack (LsVkPlan *plan, const float *values, gsize floats)
{
  return add_weight (plan, NULL, g_memdup2 (values, floats * 4), floats);
}

LsVkRange
ls_vk_plan_scratch (LsVkPlan *plan, gsize floats)
{
  VkDeviceSize offset = align_up (plan->scratch_used, plan->align);
  plan->scratch_used = offset + floats * 4;
  plan->scratch_bytes = MAX (plan->scratch_bytes, plan->scratch_used);
  return (LsVkRange) { LS_VK_BUF_SCRATCH, offset, floats * 4 };
}

void
ls_vk_plan_next_node (LsVkPlan *plan)
{
  plan->scratch_used = 0;
}

void
ls_vk_dispatch_push (LsVkDispatch *d, const void *params, gsize size)
{
  g_assert (size <= LS_VK_PUSH_BYTES);
  memcpy (d->push, params, size);
  d->push_size = (uint32_t) size;
}

void
ls_vk_dispatch_groups_flat (LsVkDispatch *d, guint64 groups)
{
  guint64 x = MIN (MAX (groups, 1), 65535);
  d->groups[0] = (uint32_t) x;
  d->groups[1] = (uint32_t) ((groups + x - 1) / x);
  d->groups[2] = 1;
}
