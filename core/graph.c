/* Graph construction and the activation memory plan.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "graph.h"

#include <string.h>

static const char *const op_names[LS_OP_N_KINDS] = {
  [LS_OP_LINEAR] = "linear",
  [LS_OP_CONV_PATCH] = "conv_patch",
  [LS_OP_LAYERNORM] = "layernorm",
  [LS_OP_DWCONV3X3_LN_GELU] = "dwconv3x3_ln_gelu",
  [LS_OP_ATTN_CONTEXT] = "attn_context",
  [LS_OP_ATTN_APPLY] = "attn_apply",
  [LS_OP_ISCF_FUSE] = "iscf_fuse",
  [LS_OP_PIXEL_SHUFFLE_LN] = "pixel_shuffle_ln",
  [LS_OP_PROJECT_ONE] = "project_one",
};

const char *
ls_op_kind_name (LsOpKind kind)
{
  return kind < LS_OP_N_KINDS ? op_names[kind] : "unknown";
}

LsGraph *
ls_graph_new (int width, int height)
{
  LsGraph *g = g_new0 (LsGraph, 1);
  g->tensors = g_array_new (FALSE, TRUE, sizeof (LsTensor));
  g->nodes = g_array_new (FALSE, TRUE, sizeof (LsNode));
  g->owned = g_ptr_array_new_with_free_func ((GDestroyNotify) ls_aligned_free);
  g->width = width;
  g->height = height;
  g->input = g->output = -1;
  return g;
}

void
ls_graph_free (LsGraph *graph)
{
  if (!graph)
    return;
  g_array_unref (graph->tensors);
  g_array_unref (graph->nodes);
  g_free (graph->ancestors);
  g_ptr_array_unref (graph->owned);
  g_free (graph);
}

int
ls_graph_tensor (LsGraph *graph, int n, int c, const char *name)
{
  LsTensor t = {
    .n = n, .c = c, .ld = c, .base = -1, .name = name, .first_use = -1, .last_use = -1,
  };
  g_array_append_val (graph->tensors, t);
  return (int) graph->tensors->len - 1;
}

int
ls_graph_view (LsGraph *graph, int base, int col, int c, const char *name)
{
  const LsTensor *b = ls_graph_get_tensor (graph, base);
  g_return_val_if_fail (b->base < 0, -1);
  g_return_val_if_fail (col % LS_GRAPH_ALIGN == 0 && c > 0 && col + c <= b->c, -1);
  LsTensor t = {
    .n = b->n, .c = c, .ld = b->c, .base = base, .col = col, .name = name,
    .first_use = -1, .last_use = -1,
  };
  g_array_append_val (graph->tensors, t);
  return (int) graph->tensors->len - 1;
}

LsNode *
ls_graph_add (LsGraph *graph, LsOpKind op, const char *name)
{
  LsNode node = {
    .op = op, .name = name, .dst = -1, .scratch = -1,
    .src = { -1, -1, -1 },
  };
  g_array_append_val (graph->nodes, node);
  return &g_array_index (graph->nodes, LsNode, graph->nodes->len - 1);
}

float *
ls_graph_own (LsGraph *graph, float *buffer)
{
  g_ptr_array_add (graph->owned, buffer);
  return buffer;
}

static void
touch (LsGraph *graph, int id, int node)
{
  if (id < 0)
    return;
  LsTensor *t = ls_graph_get_tensor (graph, id);
  if (t->base >= 0)
    t = ls_graph_get_tensor (graph, t->base);
  if (t->first_use < 0 || node < t->first_use)
    t->first_use = node;
  if (node > t->last_use)
    t->last_use = node;
}

static gsize
tensor_floats (const LsTensor *t)
{
  gsize size = (gsize) t->n * (gsize) t->c;
  return (size + LS_GRAPH_ALIGN - 1) / LS_GRAPH_ALIGN * LS_GRAPH_ALIGN;
}

static int
compare_by_size_desc (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const LsGraph *graph = user_data;
  gsize sa = tensor_floats (ls_graph_get_tensor (graph, *(const int *) a));
  gsize sb = tensor_floats (ls_graph_get_tensor (graph, *(const int *) b));
  return sa < sb ? 1 : sa > sb ? -1 : *(const int *) a - *(const int *) b;
}

/* The data's partial order: node i reads a tensor (a view's base, or the
 * tensor it accumulates into) last written by node j, and all of j's
 * ancestors. */
void
ls_graph_find_ancestors (LsGraph *graph)
{
  const guint n = graph->nodes->len;
  g_free (graph->ancestors);
  graph->ancestors = g_new0 (guint8, (gsize) MAX (n, 1) * MAX (n, 1));
  g_autofree int *writer = g_new (int, MAX (graph->tensors->len, 1));
  for (guint t = 0; t < graph->tensors->len; t++)
    writer[t] = -1;
  for (guint i = 0; i < n; i++) {
    const LsNode *node = ls_graph_get_node (graph, (int) i);
    guint8 *row = graph->ancestors + (gsize) i * n;
    int reads[LS_MAX_SRC + 1], nreads = 0;
    for (int k = 0; k < node->nsrc; k++)
      reads[nreads++] = node->src[k];
    if (node->accumulate)
      reads[nreads++] = node->dst;
    for (int k = 0; k < nreads; k++) {
      if (reads[k] < 0)
        continue;
      const LsTensor *t = ls_graph_get_tensor (graph, reads[k]);
      int j = writer[t->base >= 0 ? t->base : reads[k]];
      if (j < 0)
        continue;
      row[j] = 1;
      const guint8 *up = graph->ancestors + (gsize) j * n;
      for (guint a = 0; a < n; a++)
        row[a] |= up[a];
    }
    writer[node->dst] = (int) i;
  }
}

gboolean
ls_graph_depends (const LsGraph *graph, int later, int earlier)
{
  const int n = (int) graph->nodes->len;
  return graph->ancestors && later >= 0 && later < n && earlier >= 0 && earlier < n
         && graph->ancestors[(gsize) later * n + earlier];
}

/* Whether a and b may share memory: one's life ends before the other's
 * begins, and the later one's writer depends on the earlier one's last
 * reader (the input, written before the first node, has first_use -1). */
static gboolean
may_share (const LsGraph *graph, const LsTensor *a, const LsTensor *b)
{
  if (a->last_use < b->first_use)
    return ls_graph_depends (graph, b->first_use, a->last_use);
  if (b->last_use < a->first_use)
    return ls_graph_depends (graph, a->first_use, b->last_use);
  return FALSE;
}

/* Greedy by size: the largest tensors are placed first, each at the lowest
 * offset that does not collide with an already placed tensor it may not
 * share with. Near optimal for the chain-like graphs of this network. */
void
ls_graph_plan (LsGraph *graph)
{
  const int n_nodes = (int) graph->nodes->len;
  const int n_tensors = (int) graph->tensors->len;

  for (int i = 0; i < n_nodes; i++) {
    const LsNode *node = ls_graph_get_node (graph, i);
    for (int s = 0; s < node->nsrc; s++) {
      /* the backends honour a row stride only where the attention reads */
      g_assert (node->op == LS_OP_ATTN_CONTEXT || node->op == LS_OP_ATTN_APPLY
                || ls_graph_get_tensor (graph, node->src[s])->base < 0);
      touch (graph, node->src[s], i);
    }
    g_assert (ls_graph_get_tensor (graph, node->dst)->base < 0);
    touch (graph, node->dst, i);
    touch (graph, node->scratch, i);
  }
  /* the input is written before the first node, the output read after the last */
  touch (graph, graph->input, 0);
  ls_graph_get_tensor (graph, graph->input)->first_use = -1;
  touch (graph, graph->output, n_nodes);

  ls_graph_find_ancestors (graph);

  g_autofree int *order = g_new (int, n_tensors);
  int n_live = 0;
  for (int i = 0; i < n_tensors; i++)
    if (ls_graph_get_tensor (graph, i)->last_use >= 0)
      order[n_live++] = i;
  g_qsort_with_data (order, n_live, sizeof (int), compare_by_size_desc, graph);

  /* placed[] holds the tensors already given an offset, sorted by offset */
  g_autofree int *placed = g_new (int, n_tensors);
  int n_placed = 0;
  gsize arena = 0;

  for (int i = 0; i < n_live; i++) {
    LsTensor *t = ls_graph_get_tensor (graph, order[i]);
    gsize size = tensor_floats (t);
    gsize offset = 0;

    for (int j = 0; j < n_placed; j++) {
      const LsTensor *o = ls_graph_get_tensor (graph, placed[j]);
      if (may_share (graph, t, o))
        continue;
      if (offset + size <= o->offset)
        break;                  /* fits in the gap below o */
      offset = MAX (offset, o->offset + tensor_floats (o));
    }
    t->offset = offset;

    int at = n_placed;
    while (at > 0 && ls_graph_get_tensor (graph, placed[at - 1])->offset > offset) {
      placed[at] = placed[at - 1];
      at--;
    }
    placed[at] = order[i];
    n_placed++;
    arena = MAX (arena, offset + size);
  }
  for (int i = 0; i < n_tensors; i++) {
    LsTensor *t = ls_graph_get_tensor (graph, i);
    if (t->base >= 0)
      t->offset = ls_graph_get_tensor (graph, t->base)->offset + (gsize) t->col;
  }
  graph->arena_floats = arena;
}

double
ls_graph_flops (const LsGraph *graph)
{
  double flops = 0;
  for (guint i = 0; i < graph->nodes->len; i++) {
    const LsNode *node = ls_graph_get_node (graph, (int) i);
    const LsTensor *src = node->nsrc > 0 ? ls_graph_get_tensor (graph, node->src[0]) : NULL;
    const LsTensor *dst = ls_graph_get_tensor (graph, node->dst);
    switch (node->op) {
    case LS_OP_LINEAR:
      flops += 2.0 * src->n * node->in * node->out;
      break;
    case LS_OP_CONV_PATCH:
      flops += 2.0 * dst->n * node->in * node->k * node->k * node->out;
      break;
    case LS_OP_ATTN_CONTEXT:   /* [Ck, N] x [N, Cv] */
    case LS_OP_ATTN_APPLY:     /* [N, Cq] x [Cq, Cg] */
      flops += 2.0 * src->n * src->c * ls_graph_get_tensor (graph, node->src[1])->c;
      break;
    case LS_OP_DWCONV3X3_LN_GELU:
      flops += 2.0 * 9 * src->n * src->c;
      break;
    case LS_OP_PROJECT_ONE:
      flops += 2.0 * src->n * src->c;
      break;
    default:                   /* normalisations and shuffles: no multiply-adds counted */
      break;
    }
  }
  return flops;
}
