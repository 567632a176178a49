/* The CPU backend: every Linear, patch-embedding conv and attention product
 * through cblas_sgemm, the rest through our own kernels (kernels.c), over one
 * activation arena planned by the graph.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "backend.h"
#include "kernels.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>

/* Node pairs this backend runs as one pass over memory (the graph stays
 * backend-neutral; Vulkan records the nodes one by one). Only where it was
 * measured to pay: dwconv + LN-GELU row by row was no faster (GELU's erf,
 * not memory, bounds it), so it is not here. */
typedef enum {
  FUSE_NONE,
  FUSE_SHUFFLE_LN_PROJECT,    /* the last pixel shuffle + LN, then the 1x1 conv */
  N_FUSIONS
} Fusion;

static const char *const fusion_names[N_FUSIONS] = {
  [FUSE_SHUFFLE_LN_PROJECT] = "pixel_shuffle_ln+project_one",
};

/* Profile slots: one per op kind, then one per fusion. */
#define N_PROFILE_SLOTS (LS_OP_N_KINDS + N_FUSIONS)

typedef struct {
  LsBackend parent;
  float *arena;
  int threads;
  Fusion *fusion;             /* per node: fused with the next node? */
  float *fused_out;           /* the logits of a fused pair, when they alias its input */
  gboolean profiling;
  double op_ms[N_PROFILE_SLOTS];
  int op_count[N_PROFILE_SLOTS];
} LsCpuBackend;

static float *
tensor_data (LsCpuBackend *self, int id)
{
  return self->arena + ls_graph_get_tensor (self->parent.graph, id)->offset;
}

/* rows [r0, r1) of y = bias, or += bias */
static void
bias_rows (float *y, int ld, int r0, int r1, int c, const float *bias, gboolean add)
{
  for (int i = r0; i < r1; i++) {
    float *row = y + (gsize) i * ld;
    if (add)
      for (int j = 0; j < c; j++)
        row[j] += bias[j];
    else
      memcpy (row, bias, (gsize) c * sizeof (float));
  }
}

/* Row-major C[m, n] (+)= op(A) op(B) (+ bias), with the m rows of C split
 * between our OpenMP threads, each writing the bias into its own rows and
 * then running single-threaded sgemm on them (one pass over C fewer than a
 * separate bias kernel). One slice a thread measured faster than smaller
 * dynamic chunks. OpenBLAS's own thread pool stays idle: two pools on two
 * cores spin against each other (measured 3x slower than one pool). */
static void
sgemm_rows (gboolean trans_a, gboolean trans_b, int m, int n, int k, const float *a, int lda,
            const float *b, int ldb, const float *bias, gboolean accumulate, float *c, int ldc)
{
  const double flops = 2.0 * m * n * k;
  const int threads = flops > 4e6 ? MIN (omp_get_max_threads (), MAX (1, m / 16)) : 1;
  const float beta = accumulate || bias ? 1.0f : 0.0f;

#pragma omp parallel num_threads (threads)
  {
    const int t = omp_get_thread_num (), nt = omp_get_num_threads ();
    const int begin = (int) ((gint64) m * t / nt), end = (int) ((gint64) m * (t + 1) / nt);
    if (end > begin) {
      if (bias)
        bias_rows (c, ldc, begin, end, n, bias, accumulate);
      /* row i of op(A) is row i of A, or column i of A when transposed */
      const float *a_rows = trans_a ? a + begin : a + (gsize) begin * lda;
      cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                   trans_b ? CblasTrans : CblasNoTrans, end - begin, n, k, 1.0f,
                   a_rows, lda, b, ldb, beta, c + (gsize) begin * ldc, ldc);
    }
  }
}

/* y[n, out] (+)= x[n, in] W^T + b, W [out, ldw] */
static void
gemm_linear (const float *x, int n, int in, const float *w, int ldw, const float *b,
             float *y, int out, gboolean accumulate)
{
  sgemm_rows (FALSE, TRUE, n, out, in, x, in, w, ldw, b, accumulate, y, out);
}

static void
run_node (LsCpuBackend *self, const LsNode *node)
{
  const LsGraph *graph = self->parent.graph;
  const LsTensor *src = node->nsrc > 0 ? ls_graph_get_tensor (graph, node->src[0]) : NULL;
  const LsTensor *dst = ls_graph_get_tensor (graph, node->dst);
  float *x = node->nsrc > 0 ? tensor_data (self, node->src[0]) : NULL;
  float *y = tensor_data (self, node->dst);

  switch (node->op) {
  case LS_OP_LINEAR:
    gemm_linear (x, src->n, node->in, node->w, node->ldw, node->b, y, node->out,
                 node->accumulate);
    break;

  case LS_OP_CONV_PATCH: {
    float *col = tensor_data (self, node->scratch);
    int kk = node->in * node->k * node->k;
    if (node->planar_src)
      ls_cpu_im2col_planar (x, col, node->height, node->width, node->in,
                            node->k, node->stride, node->pad);
    else
      ls_cpu_im2col (x, col, node->height, node->width, node->in,
                     node->k, node->stride, node->pad);
    gemm_linear (col, dst->n, kk, node->w, kk, node->b, y, node->out, FALSE);
    break;
  }

  case LS_OP_LAYERNORM:
    ls_cpu_layernorm (x, y, src->n, src->c, node->w, node->b);
    break;

  case LS_OP_DWCONV3X3_LN_GELU:
    ls_cpu_dwconv3x3_ln_gelu (x, y, node->height, node->width, src->c, node->w, node->b,
                              node->w2, node->b2);
    break;

  case LS_OP_ATTN_CONTEXT: {
    const float *v = tensor_data (self, node->src[1]);
    const int cv = ls_graph_get_tensor (graph, node->src[1])->c;
    const int ldv = ls_graph_get_tensor (graph, node->src[1])->ld;
    ls_cpu_softmax_tokens (x, src->n, src->c, src->ld);
    sgemm_rows (TRUE, FALSE, src->c, cv, src->n, x, src->ld, v, ldv, NULL, FALSE, y, dst->c);
    break;
  }

  case LS_OP_ATTN_APPLY: {
    const float *g = tensor_data (self, node->src[1]);
    const int cg = ls_graph_get_tensor (graph, node->src[1])->c;
    ls_cpu_softmax_channels (x, src->n, src->c, src->ld);
    sgemm_rows (FALSE, FALSE, src->n, cg, src->c, x, src->ld, g, cg, NULL, node->accumulate, y,
                dst->c);
    break;
  }

  case LS_OP_ISCF_FUSE: {
    const float *contexts[LS_MAX_SRC];
    for (int i = 0; i < node->nsrc; i++)
      contexts[i] = tensor_data (self, node->src[i]);
    ls_cpu_iscf_fuse (contexts, node->nsrc, dst->c, node->w, node->b, node->w2, node->b2,
                      node->w3, node->fparam, y);
    break;
  }

  case LS_OP_PIXEL_SHUFFLE_LN:
    ls_cpu_pixel_shuffle_ln (x, y, node->height, node->width, node->out, node->p,
                             node->w, node->b);
    break;

  case LS_OP_PROJECT_ONE:
    ls_cpu_project_one (x, y, src->n, src->c, node->w, node->fparam);
    break;

  case LS_OP_N_KINDS:
    g_assert_not_reached ();
  }
}

static gboolean
tensors_overlap (const LsTensor *a, const LsTensor *b)
{
  return a->offset < b->offset + ls_tensor_span (b) && b->offset < a->offset + ls_tensor_span (a);
}

static Fusion
fusion_with_next (const LsGraph *graph, int i)
{
  if (i + 1 >= (int) graph->nodes->len)
    return FUSE_NONE;
  const LsNode *a = ls_graph_get_node (graph, i), *b = ls_graph_get_node (graph, i + 1);
  /* the normalised pixels are never stored: nothing else may read them */
  if (a->op == LS_OP_PIXEL_SHUFFLE_LN && b->op == LS_OP_PROJECT_ONE && b->src[0] == a->dst &&
      ls_graph_get_tensor (graph, a->dst)->last_use == i + 1 && a->dst != graph->output)
    return FUSE_SHUFFLE_LN_PROJECT;
  return FUSE_NONE;
}

static void
run_fused (LsCpuBackend *self, Fusion fusion, const LsNode *a, const LsNode *b)
{
  const float *x = tensor_data (self, a->src[0]);

  switch (fusion) {
  case FUSE_SHUFFLE_LN_PROJECT: {
    /* The plan may have put the logits where the shuffle's input lives (in
     * the graph that input dies before the logits are born): write them
     * aside then, and copy (H*W floats against the input's 16x that). */
    const LsTensor *in = ls_graph_get_tensor (self->parent.graph, a->src[0]);
    const LsTensor *out = ls_graph_get_tensor (self->parent.graph, b->dst);
    const gboolean alias = tensors_overlap (in, out);
    float *y = alias ? self->fused_out : tensor_data (self, b->dst);
    ls_cpu_pixel_shuffle_ln_project (x, y, a->height, a->width, a->out, a->p, a->w, a->b, b->w,
                                     b->fparam);
    if (alias)
      memcpy (tensor_data (self, b->dst), y, (gsize) out->n * out->c * sizeof (float));
    break;
  }
  case FUSE_NONE:
  case N_FUSIONS:
    g_assert_not_reached ();
  }
}

static gboolean
cpu_run (LsBackend *backend, const float *input, float *logits, GError **error)
{
  LsCpuBackend *self = (LsCpuBackend *) backend;
  const LsGraph *graph = backend->graph;
  const LsTensor *in = ls_graph_get_tensor (graph, graph->input);
  const LsTensor *out = ls_graph_get_tensor (graph, graph->output);

  /* OpenMP's thread count is per calling thread: set it for this engine's
   * runs only, so engines in different threads do not interfere. */
  if (self->threads > 0)
    omp_set_num_threads (self->threads);

  memcpy (self->arena + in->offset, input, (gsize) in->n * in->c * sizeof (float));
  if (self->profiling) {
    memset (self->op_ms, 0, sizeof self->op_ms);
    memset (self->op_count, 0, sizeof self->op_count);
  }
  for (guint i = 0; i < graph->nodes->len; i++) {
    const LsNode *node = ls_graph_get_node (graph, (int) i);
    const Fusion fusion = self->fusion[i];
    gint64 start = self->profiling ? g_get_monotonic_time () : 0;
    int slot = node->op;
    if (fusion != FUSE_NONE) {
      run_fused (self, fusion, node, ls_graph_get_node (graph, (int) ++i));
      slot = LS_OP_N_KINDS + fusion;
    } else {
      run_node (self, node);
    }
    if (self->profiling) {
      self->op_ms[slot] += (g_get_monotonic_time () - start) / 1000.0;
      self->op_count[slot]++;
    }
  }
  memcpy (logits, self->arena + out->offset, (gsize) out->n * out->c * sizeof (float));
  return TRUE;
}

static void
cpu_set_profiling (LsBackend *backend, gboolean enable)
{
  ((LsCpuBackend *) backend)->profiling = enable;
}

static void
cpu_foreach_profile (LsBackend *backend, LsProfileFunc fn, gpointer user_data)
{
  LsCpuBackend *self = (LsCpuBackend *) backend;
  for (int k = 0; k < N_PROFILE_SLOTS; k++)
    if (self->op_count[k])
      fn (k < LS_OP_N_KINDS ? ls_op_kind_name (k) : fusion_names[k - LS_OP_N_KINDS],
          self->op_ms[k], self->op_count[k], user_data);
}

static void
cpu_free (LsBackend *backend)
{
  LsCpuBackend *self = (LsCpuBackend *) backend;
  ls_aligned_free (self->arena);
  g_free (self->fusion);
  ls_aligned_free (self->fused_out);
  g_free (self);
}

static const LsBackendClass cpu_class = {
  .name = "cpu",
  .run = cpu_run,
  .set_profiling = cpu_set_profiling,
  .foreach_profile = cpu_foreach_profile,
  .free = cpu_free,
};

#ifdef LS_HAVE_OPENBLAS
/* OpenBLAS 0.3.21 takes some virtualised AVX-512 CPUs for a Prescott and
 * then runs its SSE3 kernels, 3-4x slower here. It picks its kernels when it
 * is loaded, before any of our code runs, so all a library can do is say so,
 * once, with the fix. */
static void
check_openblas_kernels (void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    const char *core = openblas_get_corename ();
    if (core && g_ascii_strcasecmp (core, "prescott") == 0) {
      __builtin_cpu_init ();
      const char *better = __builtin_cpu_supports ("avx512f") ? "SkylakeX"
                         : __builtin_cpu_supports ("avx2") ? "Haswell" : NULL;
      if (better)
        g_message ("cpu: OpenBLAS chose its Prescott (SSE3) kernels on a CPU with %s; "
                   "OPENBLAS_CORETYPE=%s in the environment makes the network several "
                   "times faster", better[0] == 'S' ? "AVX-512" : "AVX2", better);
    }
    g_once_init_leave (&once, 1);
  }
#endif
}
#endif

LsBackend *
ls_cpu_backend_new (const LsGraph *graph, int threads, GError **error)
{
  float *arena = ls_aligned_alloc (graph->arena_floats);
  if (!arena) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "cpu: cannot allocate the %.1f MB activation arena",
                 graph->arena_floats * 4.0 / 1e6);
    return NULL;
  }
#ifdef LS_HAVE_OPENBLAS
  /* Parallelism is ours (sgemm_rows): OpenBLAS runs in the calling thread. */
  openblas_set_num_threads (1);
  check_openblas_kernels ();
#endif
  LsCpuBackend *self = g_new0 (LsCpuBackend, 1);
  self->parent.klass = &cpu_class;
  self->parent.graph = graph;
  self->arena = arena;
  self->threads = threads;
  self->fusion = g_new0 (Fusion, graph->nodes->len);
  gsize aside = 0;
  for (guint i = 0; i < graph->nodes->len; i++)
    if ((self->fusion[i] = fusion_with_next (graph, (int) i)) != FUSE_NONE) {
      const LsTensor *out = ls_graph_get_tensor (graph, ls_graph_get_node (graph, (int) ++i)->dst);
      aside = MAX (aside, (gsize) out->n * out->c);
    }
  self->fused_out = aside ? ls_aligned_alloc (aside) : NULL;
  return &self->parent;
}
