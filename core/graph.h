/* A forward pass as a list of nodes over [N, C] tensors, with the activation
 * memory planned once: tensors whose lifetimes do not overlap share arena
 * space. Backend-neutral: the CPU backend runs the list, the Vulkan backend
 * records it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* A token-major tensor: n rows (tokens) of c floats, row stride ld.
 *
 * A view (ls_graph_view) is columns col .. col + c - 1 of another tensor,
 * its base: ld is the base's c, and it has no storage of its own. Views
 * let one Linear compute K, Q (and V) side by side, and the attention read
 * each where it lies; only LS_OP_ATTN_CONTEXT and LS_OP_ATTN_APPLY read
 * them (ls_graph_plan checks). */
typedef struct {
  int n, c, ld;
  int base, col;         /* a view: base tensor and first column; else -1, 0 */
  gsize offset;          /* in floats, inside the activation arena */
  int first_use, last_use;  /* node indices, for the memory plan (not views) */
  const char *name;      /* static string, for profiles and debugging */
} LsTensor;

/* Arena offsets are multiples of 16 floats (64 bytes): cache lines, and the
 * alignment a Vulkan storage-buffer offset needs on every device we know.
 * A view's first column must keep it: col a multiple of this. */
#define LS_GRAPH_ALIGN 16

/* Floats from a tensor's first element to one past its last */
static inline gsize
ls_tensor_span (const LsTensor *t)
{
  return t->n > 0 ? (gsize) (t->n - 1) * t->ld + t->c : 0;
}

typedef enum {
  /* dst[N, out] (+)= src[N, in] W^T + b; W is [out, ldw] with the first `in`
   * columns used, so a concat before a Linear is two nodes on column slices
   * of one weight. b may be NULL. */
  LS_OP_LINEAR,
  /* patch embedding: im2col of src (an H x W grid, token-major, or the planar
   * network input) into a scratch tensor, then GEMM with W [out, in*k*k] + b */
  LS_OP_CONV_PATCH,
  LS_OP_LAYERNORM,        /* dst = LN(src) (w, b); in place allowed */
  /* MixFFN's middle, dst = GELU(LN(dwconv3x3(src) + b + src)) on the H x W
   * grid: the conv's w [C, 9] and b, the LayerNorm's w2 and b2; dst != src.
   * One op, so that no backend passes over the widest tensor twice. */
  LS_OP_DWCONV3X3_LN_GELU,
  /* Efficient attention, first half: softmaxes K = src[0] [N, C] over tokens
   * in place, then the context dst[C, Cv] = softmax_N(K)^T V, V = src[1]
   * [N, Cv] (Cv != C when the value Linear is folded; network.c). */
  LS_OP_ATTN_CONTEXT,
  /* Second half: dst[N, Cg] (+)= softmax_C(Q) G, Q = src[0] [N, C] with
   * the softmax over its channels, G = src[1] [C, Cg]. Q is left undefined
   * (the CPU backend softmaxes it in place, the Vulkan one on load). */
  LS_OP_ATTN_APPLY,
  /* ISCF: dst[C, C] = SE fusion of the contexts src[0..nsrc-1]. */
  LS_OP_ISCF_FUSE,
  LS_OP_PIXEL_SHUFFLE_LN, /* dst = LN(pixel_shuffle_p(src)) */
  LS_OP_PROJECT_ONE,      /* dst[N, 1] = src w + b: the last 1x1 conv */
  LS_OP_N_KINDS
} LsOpKind;

const char *ls_op_kind_name (LsOpKind kind);

#define LS_MAX_SRC 3

typedef struct {
  LsOpKind op;
  int src[LS_MAX_SRC];   /* tensor ids, -1 = none */
  int nsrc;
  int dst;
  int scratch;           /* tensor id of per-node scratch (im2col), -1 = none */
  const float *w, *b;    /* weights (model-owned) */
  const float *w2, *b2;  /* second weight pair (ISCF SE fc2, the LayerNorm after a dwconv) */
  const float *w3;       /* third (ISCF SE conv weight) */
  float fparam;          /* ISCF SE conv bias */
  int in, out, ldw;      /* LINEAR / CONV_PATCH sizes */
  int height, width;     /* grid of src for spatial ops */
  int k, stride, pad;    /* CONV_PATCH */
  int p;                 /* PIXEL_SHUFFLE_LN factor */
  gboolean accumulate;   /* dst += result instead of dst = result */
  gboolean planar_src;   /* CONV_PATCH reading the [3, H, W] network input */
  const char *name;
} LsNode;

typedef struct {
  GArray *tensors;       /* LsTensor */
  GArray *nodes;         /* LsNode */
  int input;             /* tensor id of the network input [3, H*W] planar */
  int output;            /* tensor id of the logits [H*W, 1] */
  int width, height;
  gsize arena_floats;    /* size of the planned activation arena */
  guint8 *ancestors;     /* [i * nodes + j]: node j's output reaches node i */
  GPtrArray *owned;      /* buffers the graph allocated (fused weights) */
} LsGraph;

LsGraph  *ls_graph_new      (int width, int height);
void      ls_graph_free     (LsGraph *graph);
int       ls_graph_tensor   (LsGraph *graph, int n, int c, const char *name);
/* Columns col .. col + c - 1 of tensor base (not itself a view; col a
 * multiple of LS_GRAPH_ALIGN) as a tensor of their own. */
int       ls_graph_view     (LsGraph *graph, int base, int col, int c, const char *name);
/* Appends a node and returns a pointer valid until the next append. */
LsNode   *ls_graph_add      (LsGraph *graph, LsOpKind op, const char *name);
/* Takes ownership of an ls_aligned_alloc'd buffer (folded weights). */
float    *ls_graph_own      (LsGraph *graph, float *buffer);
/* Computes lifetimes and assigns arena offsets (greedy by size, first fit);
 * call once after the last node. Two tensors share memory only if the
 * later one's writer depends on the earlier one's last reader, so that
 * sharing never orders two nodes the data leaves independent (a GPU runs
 * those side by side; the full config at 224x224 had 9 barriers more
 * without this rule). A view lives as long as its base, which holds it. */
void      ls_graph_plan     (LsGraph *graph);
/* The data's partial order behind ls_graph_depends: ls_graph_plan finds
 * it first; a graph laid out by hand (tests) calls this itself. */
void      ls_graph_find_ancestors (LsGraph *graph);
/* Whether node @later reads, through a chain of nodes, what node @earlier
 * wrote; FALSE before the ancestors are found */
gboolean  ls_graph_depends  (const LsGraph *graph, int later, int earlier);
/* Floating-point operations the nodes execute (a multiply-add counts 2):
 * after folding, fewer than the network's nominal count. */
double    ls_graph_flops    (const LsGraph *graph);

static inline LsTensor *
ls_graph_get_tensor (const LsGraph *graph, int id)
{
  return &g_array_index (graph->tensors, LsTensor, id);
}

static inline LsNode *
ls_graph_get_node (const LsGraph *graph, int index)
{
  return &g_array_index (graph->nodes, LsNode, index);
}

/* 64-byte aligned float buffers (free with ls_aligned_free). */
float *ls_aligned_alloc (gsize floats);
void   ls_aligned_free  (float *p);
