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
  plan->weight_index_f16 = g_hash_table_new (g_direct_hash, g_direct_equal);
  plan->scratch_free = g_array_new (FALSE, FALSE, sizeof (LsVkHole));
  plan->scratch_live = g_array_new (FALSE, FALSE, sizeof (LsVkRange));
  plan->align = LS_VK_ALIGN;
  plan->node = -1;
  plan->ln_in_reduce = -1;
  plan->slices.reader = -1;

  ls_vk_plan_fuse (plan);
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
  g_hash_table_unref (plan->weight_index_f16);
  g_array_unref (plan->scratch_free);
  g_array_unref (plan->scratch_live);
  g_free (plan->ln_of);
  if (plan->tiles)
    g_hash_table_unref (plan->tiles);
  g_free (plan->tiles_path);
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
    LS_VK_BUF_ARENA, (VkDeviceSize) t->offset * 4, (VkDeviceSize) ls_tensor_span (t) * 4,
  };
}

static LsVkRange
add_weight (LsVkPlan *plan, const float *src, float *owned, gsize floats, gboolean fp16)
{
  const VkDeviceSize bytes = (VkDeviceSize) floats * (fp16 ? 2 : 4);
  LsVkWeight w = { .src = src, .owned = owned, .floats = floats, .fp16 = fp16 };
  w.offset = align_up (plan->weight_bytes, plan->align);
  plan->weight_bytes = w.offset + bytes;
  g_array_append_val (plan->weights, w);
  return (LsVkRange) { LS_VK_BUF_WEIGHTS, w.offset, bytes };
}

static LsVkRange
weight (LsVkPlan *plan, GHashTable *index_of, const float *w, gsize floats, gboolean fp16)
{
  guint index = GPOINTER_TO_UINT (g_hash_table_lookup (index_of, w));
  if (index) {
    const LsVkWeight *old = &g_array_index (plan->weights, LsVkWeight, index - 1);
    if (old->floats >= floats)
      return (LsVkRange) { LS_VK_BUF_WEIGHTS, old->offset, floats * (fp16 ? 2 : 4) };
  }
  LsVkRange r = add_weight (plan, w, NULL, floats, fp16);
  g_hash_table_insert (index_of, (gpointer) w, GUINT_TO_POINTER (plan->weights->len));
  return r;
}

LsVkRange
ls_vk_plan_weight (LsVkPlan *plan, const float *w, gsize floats)
{
  return weight (plan, plan->weight_index, w, floats, FALSE);
}

LsVkRange
ls_vk_plan_weight_f16 (LsVkPlan *plan, const float *w, gsize floats)
{
  return weight (plan, plan->weight_index_f16, w, floats, TRUE);
}

uint16_t
ls_vk_float_to_half (float v)
{
  union { float f; uint32_t u; } in = { .f = v };
  const uint32_t sign = (in.u >> 16) & 0x8000u;
  const uint32_t abs = in.u & 0x7fffffffu;
  if (abs >= 0x7f800000u)                      /* Inf, NaN (kept quiet) */
    return (uint16_t) (sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u)                      /* rounds to >= 65520: Inf */
    return (uint16_t) (sign | 0x7c00u);
  if (abs < 0x38800000u) {                     /* below 2^-14: subnormal or 0 */
    if (abs < 0x33000000u)                     /* below 2^-25: rounds to 0 */
      return (uint16_t) sign;
    const uint32_t shift = 126u - (abs >> 23);   /* 14..24 */
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    uint32_t h = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (h & 1u)))
      h++;
    return (uint16_t) (sign | h);
  }
  /* normal: rebias the exponent, round 13 mantissa bits to nearest even
   * (a carry into the exponent is the right result) */
  uint32_t h = ((abs - 0x38000000u) >> 13);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
    h++;
  return (uint16_t) (sign | h);
}

LsVkRange
ls_vk_plan_pack (LsVkPlan *plan, const float *values, gsize floats)
{
  return add_weight (plan, NULL, g_memdup2 (values, floats * 4), floats, FALSE);
}

/* First fit among the holes the current node may reuse, else the end of
 * the buffer grows. */
LsVkRange
ls_vk_plan_scratch (LsVkPlan *plan, gsize floats)
{
  const VkDeviceSize size = align_up ((VkDeviceSize) floats * 4, plan->align);
  LsVkRange r = { LS_VK_BUF_SCRATCH, 0, size };
  gboolean found = FALSE;
  for (guint i = 0; i < plan->scratch_free->len; i++) {
    LsVkHole *hole = &g_array_index (plan->scratch_free, LsVkHole, i);
    if (hole->size < size || !ls_graph_depends (plan->graph, plan->node, hole->freed_by))
      continue;
    r.offset = hole->offset;
    hole->offset += size;
    hole->size -= size;
    if (hole->size == 0)
      g_array_remove_index (plan->scratch_free, i);
    found = TRUE;
    break;
  }
  if (!found) {
    r.offset = plan->scratch_bytes;
    plan->scratch_bytes += size;
  }
  g_array_append_val (plan->scratch_live, r);
  r.size = (VkDeviceSize) floats * 4;
  return r;
}

/* The scratch of the node planned so far is dead: its ranges become holes
 * tagged with that node (never merged: holes of different nodes have
 * different reusers). A range a node took from a hole of node j goes back
 * tagged with that node, and its later users depend on it, hence on j. */
void
ls_vk_plan_next_node (LsVkPlan *plan, int node)
{
  for (guint i = 0; i < plan->scratch_live->len; i++) {
    const LsVkRange *r = &g_array_index (plan->scratch_live, LsVkRange, i);
    LsVkHole hole = { r->offset, r->size, plan->node };
    g_array_append_val (plan->scratch_free, hole);
  }
  g_array_set_size (plan->scratch_live, 0);
  /* partials that this node sums as it loads them live until it is done */
  if (plan->slices.reader == node)
    g_array_append_val (plan->scratch_live, plan->slices.held);
  plan->node = node;
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
