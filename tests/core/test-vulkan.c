/* The Vulkan backend against the CPU backend, the way ggml's
 * test-backend-ops checks backends: every op on small odd shapes through a
 * single-node graph run by both backends, normalised mean squared error,
 * NaN/Inf checks and guard bands; then whole networks, replay and
 * selection. On CI this runs on lavapipe (a CPU Vulkan driver ~100x slower
 * than OpenBLAS), so shapes are small.
 *
 * A machine without a Vulkan device FAILS these tests: only a build
 * without Vulkan at all skips them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LS_HAVE_VULKAN
/* A TAP plan of no tests with a SKIP directive: meson reports SKIP. (Exit
 * code 77 means skip only to meson's exitcode protocol; under TAP it would
 * be an error.) */
int
main (void)
{
  printf ("1..0 # SKIP this build has no Vulkan backend\n");
  return 0;
}
#else

#include "backend.h"
#include "engine-helper.h"
#include "lesionseg.h"
#include "model-private.h"
#include "network.h"
#include "tmp-dir.h"
#include "vulkan-backend.h"

#define TOL_ELEMENTWISE 1e-7
#define TOL_GEMM 5e-4
#define TOL_FP16 5e-3       /* GEMMs reading fp16 weights (LS_VULKAN_FP16=1) */
#define GUARD 64            /* floats of guard band around every tensor */
#define SENTINEL 12345.0f

/* ---- single-node graphs ------------------------------------------------- */

/* The Linear / patch-embedding GEMM tolerance, and whether the Vulkan run
 * must have used fp16 weights: set by the fp16 tests. */
static double gemm_tol = TOL_GEMM;
static gboolean expect_fp16;

/* All tensors live in one arena, laid out by hand with guard bands between
 * them, and the whole arena is both the graph's input and its output: both
 * backends start from the same bytes and return all of them. */
typedef struct {
  LsGraph *graph;
  GRand *rand;
  GPtrArray *weights;
  gsize used;               /* floats laid out so far */
  int all;                  /* the [1, arena] tensor */
  gboolean compare[64];     /* per tensor id: compare after the run */
  gboolean ignore[64];      /* per tensor id: may differ (in-place scratch) */
  double tol[64];
} OpTest;

static OpTest *
op_test_new (void)
{
  OpTest *t = g_new0 (OpTest, 1);
  t->graph = ls_graph_new (32, 32);
  t->rand = g_rand_new_with_seed (42);
  t->weights = g_ptr_array_new_with_free_func (g_free);
  t->used = GUARD;
  return t;
}

static void
op_test_free (OpTest *t)
{
  ls_graph_free (t->graph);
  g_rand_free (t->rand);
  g_ptr_array_unref (t->weights);
  g_free (t);
}

static int
op_tensor (OpTest *t, int n, int c)
{
  int id = ls_graph_tensor (t->graph, n, c, "t");
  LsTensor *tensor = ls_graph_get_tensor (t->graph, id);
  tensor->offset = t->used;
  t->used += ((gsize) n * c + 15) / 16 * 16 + GUARD;
  return id;
}

/* Columns col .. col + c - 1 of @base, as a tensor (graph.h's views) */
static int
op_view (OpTest *t, int base, int col, int c)
{
  int id = ls_graph_view (t->graph, base, col, c, "view");
  LsTensor *view = ls_graph_get_tensor (t->graph, id);
  view->offset = ls_graph_get_tensor (t->graph, base)->offset + (gsize) col;
  return id;
}

static float *
op_weights (OpTest *t, gsize count, double lo, double hi)
{
  float *w = g_new (float, count);
  for (gsize i = 0; i < count; i++)
    w[i] = (float) g_rand_double_range (t->rand, lo, hi);
  g_ptr_array_add (t->weights, w);
  return w;
}

/* Adds the node under test: @op reading the @nsrc tensors of @src into
 * @dst. The caller sets the op's own fields. */
static LsNode *
op_node (OpTest *t, LsOpKind op, const char *name, int nsrc, const int *src, int dst)
{
  LsNode *node = ls_graph_add (t->graph, op, name);
  g_assert_cmpint (nsrc, <=, (int) G_N_ELEMENTS (node->src));
  for (int i = 0; i < nsrc; i++)
    node->src[i] = src[i];
  node->nsrc = nsrc;
  node->dst = dst;
  return node;
}

/* A LayerNorm's scale around 1 and shift around 0, over @c channels. */
static void
op_norm_weights (OpTest *t, LsNode *node, int c)
{
  node->w = op_weights (t, c, 0.5, 1.5);
  node->b = op_weights (t, c, -0.5, 0.5);
}

/* A Linear src [N, in] -> dst [N, out] with weights in [-0.5, 0.5) and a
 * bias in [-1, 1). */
static LsNode *
op_linear (OpTest *t, int src, int dst, int in, int out, gboolean accumulate)
{
  LsNode *node = op_node (t, LS_OP_LINEAR, "linear", 1, &src, dst);
  node->w = op_weights (t, (gsize) out * in, -0.5, 0.5);
  node->b = op_weights (t, out, -1, 1);
  node->in = in;
  node->out = out;
  node->ldw = in;
  node->accumulate = accumulate;
  return node;
}

static void
expect (OpTest *t, int tensor, double tol)
{
  t->compare[tensor] = TRUE;
  t->tol[tensor] = tol;
}

static LsBackend *
vulkan_backend (const LsGraph *graph)
{
  g_autoptr (GError) error = NULL;
  LsBackend *vk = ls_vulkan_backend_new (graph, -1, FALSE, &error);
  /* no skipping: a Vulkan build that finds no device is a failure */
  if (!vk)
    g_error ("no Vulkan backend: %s", error->message);
  return vk;
}

static double
nmse (const float *a, const float *ref, gsize n)
{
  double num = 0, den = 0;
  for (gsize i = 0; i < n; i++) {
    double d = (double) a[i] - ref[i];
    num += d * d;
    den += (double) ref[i] * ref[i];
  }
  return den > 0 ? num / den : num;
}

/* What the Vulkan backend recorded for a graph. */
typedef struct {
  int dispatches, barriers;
} VkCounts;

/* Runs the graph on both backends from the same random tensors (each
 * value @src_offset + [-2, 2)), checks every expected tensor (finite, NMSE
 * within its tolerance), that inputs and everything outside the tensors
 * (the guard bands) are as they were in the Vulkan arena, then frees @t.
 * The one sequence every single-node test ends with. */
static VkCounts
op_test_check (OpTest *t, double src_offset)
{
  LsGraph *g = t->graph;
  const gsize total = t->used + GUARD;
  t->all = ls_graph_tensor (g, 1, (int) total, "arena");
  g->input = g->output = t->all;
  g->arena_floats = total;
  ls_graph_find_ancestors (g);

  g_autofree float *init = g_new (float, total);
  g_autofree float *cpu_out = g_new (float, total);
  g_autofree float *vk_out = g_new (float, total);
  for (gsize i = 0; i < total; i++)
    init[i] = SENTINEL;
  for (int id = 0; id < t->all; id++) {
    const LsTensor *x = ls_graph_get_tensor (g, id);
    if (x->base >= 0)            /* its base holds it */
      continue;
    for (gsize i = 0; i < (gsize) x->n * x->c; i++)
      init[x->offset + i] = (float) (src_offset + g_rand_double_range (t->rand, -2, 2));
  }

  g_autoptr (GError) error = NULL;
  LsBackend *cpu = ls_cpu_backend_new (g, 1, &error);
  g_assert_no_error (error);
  LsBackend *vk = vulkan_backend (g);
  VkCounts counts;
  ls_vulkan_backend_get_counts (vk, &counts.dispatches, &counts.barriers);
  if (expect_fp16)
    g_assert_cmpint (ls_vulkan_backend_get_fp16_gemms (vk), >, 0);
  g_assert_true (cpu->klass->run (cpu, init, cpu_out, &error));
  g_assert_no_error (error);
  g_assert_true (vk->klass->run (vk, init, vk_out, &error));
  g_assert_no_error (error);

  g_autofree gboolean *covered = g_new0 (gboolean, total);
  for (int id = 0; id < t->all; id++) {
    const LsTensor *x = ls_graph_get_tensor (g, id);
    const gsize n = (gsize) x->n * x->c;
    if (x->base >= 0)
      continue;
    for (gsize i = 0; i < n; i++)
      covered[x->offset + i] = TRUE;
    if (t->ignore[id])
      continue;
    if (!t->compare[id]) {       /* an input: must be as it was */
      g_assert_cmpmem (vk_out + x->offset, n * 4, init + x->offset, n * 4);
      continue;
    }
    for (gsize i = 0; i < n; i++)
      if (!isfinite (vk_out[x->offset + i]))
        g_error ("tensor %d element %" G_GSIZE_FORMAT " is %g", id, i, vk_out[x->offset + i]);
    double e = nmse (vk_out + x->offset, cpu_out + x->offset, n);
    if (g_getenv ("LS_TEST_DUMP"))
      for (gsize i = 0; i < n; i++)
        if (fabsf (vk_out[x->offset + i] - cpu_out[x->offset + i]) > 1e-3f)
          printf ("# %d: [%" G_GSIZE_FORMAT "] vk %g cpu %g\n", id, i, vk_out[x->offset + i], cpu_out[x->offset + i]);
    g_test_message ("tensor %d [%d, %d]: nmse %.3g (tolerance %.0e)", id, x->n, x->c, e,
                    t->tol[id]);
    if (!(e <= t->tol[id]))
      g_error ("tensor %d [%d, %d]: nmse %.3g above %.0e (first: vulkan %g cpu %g, "
               "last: vulkan %g cpu %g)", id, x->n, x->c, e, t->tol[id], vk_out[x->offset],
               cpu_out[x->offset], vk_out[x->offset + n - 1], cpu_out[x->offset + n - 1]);
  }
  for (gsize i = 0; i < total; i++)   /* guard bands */
    if (!covered[i] && vk_out[i] != SENTINEL)
      g_error ("guard band at float %" G_GSIZE_FORMAT " overwritten: %g", i, vk_out[i]);

  cpu->klass->free (cpu);
  vk->klass->free (vk);
  op_test_free (t);
  return counts;
}

/* ---- per-op tests -------------------------------------------------------- */

typedef struct {
  int n, in, out, ldw;
  gboolean bias, accumulate;
} LinearCase;

static void
run_linear (const LinearCase *lc)
{
  OpTest *t = op_test_new ();
  int x = op_tensor (t, lc->n, lc->in);
  int y = op_tensor (t, lc->n, lc->out);
  LsNode *node = op_node (t, LS_OP_LINEAR, "linear", 1, &x, y);
  node->w = op_weights (t, (gsize) lc->out * lc->ldw, -0.5, 0.5);
  node->b = lc->bias ? op_weights (t, lc->out, -1, 1) : NULL;
  node->in = lc->in;
  node->out = lc->out;
  node->ldw = lc->ldw;
  node->accumulate = lc->accumulate;
  expect (t, y, gemm_tol);
  op_test_check (t, 0);
}

static const LinearCase linear_cases[] = {
  { 37, 29, 23, 31, TRUE, FALSE },    /* odd everything, a column slice of W */
  { 37, 29, 23, 29, FALSE, TRUE },
  { 64, 64, 48, 64, TRUE, TRUE },     /* vec4 loads */
  { 130, 132, 68, 264, TRUE, FALSE }, /* vec4, slice, several tiles */
  { 5, 600, 7, 600, TRUE, FALSE },    /* long K: split-K */
};

static void
test_linear (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (linear_cases); i++)
    run_linear (&linear_cases[i]);
}

/* Runs @cases under LS_VULKAN_GEMM=@kernel on each of its tiles 0 to
 * @n_tiles - 1 (LS_VULKAN_GEMM_TILE), each with split-K 1 and 3 and with
 * scalar and vec4 loads; unsets those variables afterwards. */
static void
sweep_gemm (const char *kernel, int n_tiles, const LinearCase *cases, guint n_cases)
{
  static const char *splits[] = { "1", "3" };
  static const char *vec4[] = { "0", "1" };
  g_setenv ("LS_VULKAN_GEMM", kernel, TRUE);
  for (int tile = 0; tile < n_tiles; tile++)
    for (guint b = 0; b < G_N_ELEMENTS (splits); b++)
      for (guint v = 0; v < G_N_ELEMENTS (vec4); v++) {
        g_autofree char *tile_name = g_strdup_printf ("%d", tile);
        g_setenv ("LS_VULKAN_GEMM_TILE", tile_name, TRUE);
        g_setenv ("LS_VULKAN_SPLIT_K", splits[b], TRUE);
        g_setenv ("LS_VULKAN_VEC4", vec4[v], TRUE);
        for (guint c = 0; c < n_cases; c++)
          run_linear (&cases[c]);
      }
  g_unsetenv ("LS_VULKAN_GEMM_TILE");
  g_unsetenv ("LS_VULKAN_SPLIT_K");
  g_unsetenv ("LS_VULKAN_VEC4");
  g_unsetenv ("LS_VULKAN_GEMM");
}

/* Every tile size and the split-K path of the first, scalar-read tiled
 * kernel, on two shapes of linear_cases (odd, and several tiles). */
static const LinearCase tiled_cases[] = {
  { 37, 29, 23, 31, TRUE, FALSE },
  { 130, 132, 68, 264, TRUE, FALSE },
};

static void
test_linear_tiles (void)
{
  sweep_gemm ("tiled", 3, tiled_cases, G_N_ELEMENTS (tiled_cases));
}

/* The register-blocked kernel (gemm_reg.glsl): every tile of its list,
 * the candidates the plan never picks by itself included, that fits this
 * device (on lavapipe's 32 KiB all but 128 x 128 x 16, which then falls
 * back to the automatic choice), split-K, vec4 and scalar loads, on shapes
 * that divide no tile. */
static const LinearCase reg_cases[] = {
  { 37, 29, 23, 31, TRUE, FALSE },    /* odd everything, a column slice of W */
  { 130, 132, 68, 264, TRUE, TRUE },  /* vec4, slice, accumulate */
  { 140, 36, 136, 36, FALSE, FALSE }, /* more than one 128 x 128 tile */
  { 5, 600, 7, 600, TRUE, TRUE },     /* long K */
};

static void
test_linear_reg (void)
{
  sweep_gemm ("reg", 8, reg_cases, G_N_ELEMENTS (reg_cases));
}

/* The cooperative-matrix kernel (fp16 inputs): where the device and the
 * build offer it; elsewhere (lavapipe) LS_VULKAN_GEMM=coopmat falls back
 * to the reg kernel and this repeats its checks. */
static void
test_linear_coopmat (void)
{
  /* all 14 coopmat tiles where a device has them (lavapipe: reg, whose 8
   * tiles the first indices force; the others leave the plan's choice) */
  static const char *tiles[] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
  };
  g_setenv ("LS_VULKAN_GEMM", "coopmat", TRUE);
  for (guint a = 0; a < G_N_ELEMENTS (tiles); a++) {
    g_setenv ("LS_VULKAN_GEMM_TILE", tiles[a], TRUE);
    for (guint c = 0; c < G_N_ELEMENTS (reg_cases); c++)
      run_linear (&reg_cases[c]);
  }
  g_setenv ("LS_VULKAN_SPLIT_K", "3", TRUE);
  run_linear (&reg_cases[3]);
  g_unsetenv ("LS_VULKAN_SPLIT_K");
  g_unsetenv ("LS_VULKAN_GEMM_TILE");
  g_unsetenv ("LS_VULKAN_GEMM");
}

/* fp16 weights (gemm_f16, gemm_reg_f16; 16-bit storage, which lavapipe
 * has): the tiled and reg kernels on every tile, split-K and vec4 / scalar
 * loads, and the patch-embedding convs, normalised MSE <= 5e-3 against the
 * CPU backend (about 3e-8 on lavapipe). */
static void run_conv_patch (int h, int w, int cin, int cout, int k, int stride, int pad,
                            gboolean planar);

static void
test_linear_fp16 (void)
{
  g_setenv ("LS_VULKAN_FP16", "1", TRUE);
  gemm_tol = TOL_FP16;
  expect_fp16 = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (linear_cases); i++)
    run_linear (&linear_cases[i]);
  sweep_gemm ("tiled", 6, reg_cases, G_N_ELEMENTS (reg_cases));
  sweep_gemm ("reg", 8, reg_cases, G_N_ELEMENTS (reg_cases));
  run_conv_patch (20, 12, 3, 16, 7, 4, 3, TRUE);
  run_conv_patch (10, 6, 5, 7, 3, 2, 1, FALSE);
  gemm_tol = TOL_GEMM;
  expect_fp16 = FALSE;
  g_unsetenv ("LS_VULKAN_FP16");
}

static void run_attn_context (int n, int c, int cv);
static void run_attn_apply (int n, int c, int cg, gboolean accumulate);

/* The attention GEMMs (softmax on load, transposed A, split-K) on each
 * kernel (coopmat where the device has it, else reg again). */
static void
test_attn_kernels (void)
{
  static const char *kernels[] = { "tiled", "reg", "coopmat" };
  for (guint i = 0; i < G_N_ELEMENTS (kernels); i++) {
    g_setenv ("LS_VULKAN_GEMM", kernels[i], TRUE);
    run_attn_context (301, 24, 24);
    run_attn_context (200, 64, 64);
    run_attn_context (300, 64, 37);
    run_attn_apply (77, 24, 24, FALSE);
    run_attn_apply (50, 33, 33, TRUE);
    run_attn_apply (100, 40, 19, TRUE);
    g_setenv ("LS_VULKAN_GEMM_TILE", "2", TRUE);   /* reg: 64 x 128 */
    run_attn_context (150, 132, 132);
    run_attn_context (150, 132, 40);
    run_attn_apply (140, 132, 132, TRUE);
    run_attn_apply (140, 132, 48, TRUE);
    g_unsetenv ("LS_VULKAN_GEMM_TILE");
  }
  g_unsetenv ("LS_VULKAN_GEMM");
}

static void
run_conv_patch (int h, int w, int cin, int cout, int k, int stride, int pad, gboolean planar)
{
  OpTest *t = op_test_new ();
  int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
  int x = planar ? op_tensor (t, cin, h * w) : op_tensor (t, h * w, cin);
  int col = op_tensor (t, ho * wo, cin * k * k);
  int y = op_tensor (t, ho * wo, cout);
  LsNode *node = op_node (t, LS_OP_CONV_PATCH, "conv", 1, &x, y);
  node->scratch = col;
  node->w = op_weights (t, (gsize) cout * cin * k * k, -0.3, 0.3);
  node->b = op_weights (t, cout, -1, 1);
  node->in = cin;
  node->out = cout;
  node->height = h;
  node->width = w;
  node->k = k;
  node->stride = stride;
  node->pad = pad;
  node->planar_src = planar;
  expect (t, col, TOL_ELEMENTWISE);
  expect (t, y, gemm_tol);
  op_test_check (t, 0);
}

static void
test_conv_patch (void)
{
  run_conv_patch (20, 12, 3, 16, 7, 4, 3, TRUE);
  run_conv_patch (10, 6, 5, 7, 3, 2, 1, FALSE);
  run_conv_patch (9, 7, 3, 5, 3, 2, 1, FALSE);
}

/* MixFFN's dwconv 3x3 + skip, LayerNorm and GELU: x on an h x w grid -> y */
static void
op_dwconv (OpTest *t, int x, int y, int h, int w, int c)
{
  LsNode *node = op_node (t, LS_OP_DWCONV3X3_LN_GELU, "dw", 1, &x, y);
  node->w = op_weights (t, (gsize) c * 9, -0.5, 0.5);
  node->b = op_weights (t, c, -0.5, 0.5);
  node->w2 = op_weights (t, c, 0.5, 1.5);
  node->b2 = op_weights (t, c, -0.5, 0.5);
  node->height = h;
  node->width = w;
}

static void
run_rows (LsOpKind op, int n, int c, gboolean in_place, double offset)
{
  OpTest *t = op_test_new ();
  int x = op_tensor (t, n, c);
  int y = in_place ? x : op_tensor (t, n, c);
  LsNode *node = op_node (t, op, "rows", 1, &x, y);
  op_norm_weights (t, node, c);
  expect (t, y, TOL_ELEMENTWISE);
  op_test_check (t, offset);
}

static void
test_layernorm (void)
{
  run_rows (LS_OP_LAYERNORM, 33, 45, FALSE, 0);
  run_rows (LS_OP_LAYERNORM, 7, 300, TRUE, 0);
  run_rows (LS_OP_LAYERNORM, 5, 64, FALSE, 100);   /* |mean| >> std */
  run_rows (LS_OP_LAYERNORM, 3, 1500, FALSE, 0);   /* the widest workgroup, 6 channels each */
}

/* LayerNorms folded into the GEMMs that read them (core/vulkan/vk-fuse.c):
 * x -> LN -> two Linears, the first one's output -> LN in place -> a
 * third Linear. Only the three GEMMs are dispatched (twice that with
 * split-K: their reduces), and what the Linears accumulate into equals the
 * CPU backend's. The LayerNorms' own outputs are never written on the GPU:
 * nothing else reads them. Returns the dispatches. */
static int
run_ln_fused (int n, int c, int hidden)
{
  OpTest *t = op_test_new ();
  int x = op_tensor (t, n, c), norm = op_tensor (t, n, c);
  int h = op_tensor (t, n, hidden), side = op_tensor (t, n, 19), y = op_tensor (t, n, 23);
  op_norm_weights (t, op_node (t, LS_OP_LAYERNORM, "norm", 1, &x, norm), c);
  op_linear (t, norm, h, c, hidden, FALSE);
  op_linear (t, norm, side, c, 19, TRUE);
  op_norm_weights (t, op_node (t, LS_OP_LAYERNORM, "norm-in-place", 1, &h, h), hidden);
  op_linear (t, h, y, hidden, 23, TRUE);
  t->ignore[norm] = t->ignore[h] = TRUE;
  expect (t, side, gemm_tol);
  expect (t, y, gemm_tol);
  return op_test_check (t, 0.5).dispatches;
}

static void
test_ln_fused (void)
{
  static const char *kernels[] = { "tiled", "reg" };
  for (guint i = 0; i < G_N_ELEMENTS (kernels); i++) {
    g_setenv ("LS_VULKAN_GEMM", kernels[i], TRUE);
    g_assert_cmpint (run_ln_fused (37, 45, 53), ==, 3);     /* scalar loads */
    g_assert_cmpint (run_ln_fused (140, 64, 132), ==, 3);   /* vec4, several row tiles */
    g_setenv ("LS_VULKAN_SPLIT_K", "3", TRUE);              /* statistics over all of K */
    g_assert_cmpint (run_ln_fused (37, 45, 53), ==, 6);
    g_unsetenv ("LS_VULKAN_SPLIT_K");
  }
  g_unsetenv ("LS_VULKAN_GEMM");
  g_setenv ("LS_VULKAN_FUSE_LN", "0", TRUE);
  g_assert_cmpint (run_ln_fused (37, 45, 53), ==, 5);
  g_unsetenv ("LS_VULKAN_FUSE_LN");
}

/* A split-K Linear whose output the next node normalises: the reduce sums
 * the slices and normalises each row in one dispatch (gemm_reduce_ln.comp),
 * into another tensor (x + fc2 -> LN -> t, the residual kept) or in place
 * (a patch embedding and its norm); both equal to the CPU backend's, with
 * LS_VULKAN_REDUCE_LN=0 one dispatch more. The LayerNorm's output is read
 * by a non-Linear (a depthwise conv), so it is never folded into GEMMs. */
static int
run_reduce_ln (gboolean in_place, gboolean accumulate)
{
  OpTest *t = op_test_new ();
  const int n = 35, c = 24, k = 700;
  int x = op_tensor (t, n, k), y = op_tensor (t, n, c);
  int norm = in_place ? y : op_tensor (t, n, c), z = op_tensor (t, n, c);
  op_linear (t, x, y, k, c, accumulate);
  op_norm_weights (t, op_node (t, LS_OP_LAYERNORM, "norm", 1, &y, norm), c);
  op_dwconv (t, norm, z, 5, 7, c);
  expect (t, y, TOL_GEMM);
  if (!in_place)
    expect (t, norm, TOL_GEMM);
  expect (t, z, TOL_GEMM);
  return op_test_check (t, 0).dispatches;
}

static void
test_reduce_ln (void)
{
  g_setenv ("LS_VULKAN_SPLIT_K", "3", TRUE);
  for (int in_place = 0; in_place < 2; in_place++)
    for (int accumulate = 0; accumulate < 2; accumulate++) {
      g_assert_cmpint (run_reduce_ln (in_place, accumulate), ==, 3);
      g_setenv ("LS_VULKAN_REDUCE_LN", "0", TRUE);
      g_assert_cmpint (run_reduce_ln (in_place, accumulate), ==, 4);
      g_unsetenv ("LS_VULKAN_REDUCE_LN");
    }
  g_unsetenv ("LS_VULKAN_SPLIT_K");
}

/* A split-K GEMM whose only reader is the next Linear leaves its partials
 * unreduced, and that Linear sums them as it loads them (A_LOAD 2 in
 * gemm_fetch.glsl): the attention's context -> the Linear folded onto G.
 * Here x -> context (split in 3) -> Linear, and a plain Linear without
 * bias -> Linear: one dispatch fewer than with LS_VULKAN_SLICES_ON_LOAD=0,
 * and none fewer when the output has a second reader or a bias to add.
 * Results equal the CPU backend's; the unreduced output is never written
 * on the GPU, so it is not compared. */
static int
run_slices_on_load (gboolean context, gboolean bias, gboolean second_reader)
{
  OpTest *t = op_test_new ();
  const int n = 300, c = 24;
  int a = op_tensor (t, n, c), v = op_tensor (t, n, c), g = op_tensor (t, c, c);
  int y = op_tensor (t, c, 13), y2 = op_tensor (t, c, 5);
  if (context) {
    op_node (t, LS_OP_ATTN_CONTEXT, "context", 2, (const int[]) { a, v }, g);
    t->ignore[a] = TRUE;    /* softmaxed in place on the CPU */
  } else {
    int x = op_tensor (t, c, n);
    op_linear (t, x, g, n, c, FALSE)->b = bias ? op_weights (t, c, -1, 1) : NULL;
  }
  op_linear (t, g, y, c, 13, FALSE);
  if (second_reader)
    op_linear (t, g, y2, c, 5, FALSE);
  t->ignore[g] = !second_reader;
  expect (t, y, TOL_GEMM);
  if (second_reader) {
    expect (t, g, TOL_GEMM);
    expect (t, y2, TOL_GEMM);
  }
  return op_test_check (t, 0).dispatches;
}

static void
test_slices_on_load (void)
{
  g_setenv ("LS_VULKAN_SPLIT_K", "3", TRUE);
  for (int context = 0; context < 2; context++) {
    /* context: statistics, GEMM (+ reduce), Linear + its reduce */
    const int base = context ? 4 : 3;
    g_assert_cmpint (run_slices_on_load (context, FALSE, FALSE), ==, base);
    g_setenv ("LS_VULKAN_SLICES_ON_LOAD", "0", TRUE);
    g_assert_cmpint (run_slices_on_load (context, FALSE, FALSE), ==, base + 1);
    g_unsetenv ("LS_VULKAN_SLICES_ON_LOAD");
    g_assert_cmpint (run_slices_on_load (context, FALSE, TRUE), ==, base + 3);
  }
  g_assert_cmpint (run_slices_on_load (FALSE, TRUE, FALSE), ==, 4);
  g_unsetenv ("LS_VULKAN_SPLIT_K");
}

/* LayerNorms that must keep their own dispatch: one whose output a
 * non-Linear reads too, and one whose input a Linear overwrites before the
 * last Linear reads the output (folded, that Linear would normalise the
 * new values). Both run as the CPU backend does. */
static void
test_ln_not_fused (void)
{
  OpTest *t = op_test_new ();
  int x = op_tensor (t, 35, 19), norm = op_tensor (t, 35, 19);
  int dw = op_tensor (t, 35, 19), y = op_tensor (t, 35, 7);
  op_norm_weights (t, op_node (t, LS_OP_LAYERNORM, "norm", 1, &x, norm), 19);
  op_dwconv (t, norm, dw, 5, 7, 19);
  op_linear (t, norm, y, 19, 7, FALSE);
  expect (t, norm, TOL_ELEMENTWISE);
  expect (t, dw, TOL_ELEMENTWISE);
  expect (t, y, TOL_GEMM);
  g_assert_cmpint (op_test_check (t, 0).dispatches, ==, 3);

  t = op_test_new ();
  x = op_tensor (t, 33, 40);
  norm = op_tensor (t, 33, 40);
  y = op_tensor (t, 33, 29);
  op_norm_weights (t, op_node (t, LS_OP_LAYERNORM, "norm", 1, &x, norm), 40);
  op_linear (t, norm, x, 40, 40, TRUE);      /* x changes here */
  op_linear (t, norm, y, 40, 29, FALSE);
  expect (t, x, TOL_GEMM);
  expect (t, norm, TOL_ELEMENTWISE);
  expect (t, y, TOL_GEMM);
  g_assert_cmpint (op_test_check (t, 0).dispatches, ==, 3);
}

static void
run_dwconv_ln_gelu (int h, int w, int c, double offset)
{
  OpTest *t = op_test_new ();
  int x = op_tensor (t, h * w, c);
  int y = op_tensor (t, h * w, c);
  op_dwconv (t, x, y, h, w, c);
  expect (t, y, TOL_ELEMENTWISE);
  op_test_check (t, offset);
}

static void
test_dwconv_ln_gelu (void)
{
  run_dwconv_ln_gelu (5, 7, 19, 0);
  run_dwconv_ln_gelu (3, 4, 300, 0);     /* more channels than a row's invocations */
  run_dwconv_ln_gelu (1, 6, 64, 100);    /* |mean| >> std after the conv */
  run_dwconv_ln_gelu (2, 3, 1100, 0);    /* the widest workgroup, 5 channels each */
}

static void
run_attn_context (int n, int c, int cv)
{
  OpTest *t = op_test_new ();
  int k = op_tensor (t, n, c);
  int v = op_tensor (t, n, cv);
  int g = op_tensor (t, c, cv);
  op_node (t, LS_OP_ATTN_CONTEXT, "context", 2, (const int[]) { k, v }, g);
  t->ignore[k] = TRUE;      /* the CPU softmaxes K in place, the GPU on load */
  expect (t, g, TOL_GEMM);
  op_test_check (t, 0);
}

/* K and V as columns of one wider tensor (the merged K/Q/V Linear's
 * output): K at @k_col, V at @v_col of a [n, ld] base */
static void
run_attn_context_views (int n, int ld, int k_col, int c, int v_col, int cv)
{
  OpTest *t = op_test_new ();
  int base = op_tensor (t, n, ld);
  int k = op_view (t, base, k_col, c);
  int v = op_view (t, base, v_col, cv);
  int g = op_tensor (t, c, cv);
  op_node (t, LS_OP_ATTN_CONTEXT, "context", 2, (const int[]) { k, v }, g);
  t->ignore[base] = TRUE;   /* the CPU softmaxes K in place */
  expect (t, g, TOL_GEMM);
  op_test_check (t, 0);
}

static void
test_attn_context (void)
{
  run_attn_context_views (301, 80, 16, 24, 48, 17);
  run_attn_context_views (200, 192, 0, 64, 128, 64);
  run_attn_context (301, 24, 24);
  run_attn_context (200, 64, 64);
  run_attn_context (1000, 20, 20);
  run_attn_context (500, 48, 17);   /* the value Linear folded: V is the input */
}

static void
run_attn_apply (int n, int c, int cg, gboolean accumulate)
{
  OpTest *t = op_test_new ();
  int q = op_tensor (t, n, c);
  int g = op_tensor (t, c, cg);
  int y = op_tensor (t, n, cg);
  LsNode *node = op_node (t, LS_OP_ATTN_APPLY, "apply", 2, (const int[]) { q, g }, y);
  node->accumulate = accumulate;
  t->ignore[q] = TRUE;               /* softmaxed in place on the CPU, on load on the GPU */
  expect (t, y, TOL_GEMM);
  op_test_check (t, 0);
}

/* Q as columns q_col .. q_col + c - 1 of a [n, ld] base */
static void
run_attn_apply_view (int n, int ld, int q_col, int c, int cg)
{
  OpTest *t = op_test_new ();
  int base = op_tensor (t, n, ld);
  int q = op_view (t, base, q_col, c);
  int g = op_tensor (t, c, cg);
  int y = op_tensor (t, n, cg);
  LsNode *node = op_node (t, LS_OP_ATTN_APPLY, "apply", 2, (const int[]) { q, g }, y);
  node->accumulate = TRUE;
  t->ignore[base] = TRUE;   /* the CPU softmaxes Q in place */
  expect (t, y, TOL_GEMM);
  op_test_check (t, 0);
}

/* Both ways of the query softmax: on load (lavapipe's plan) and written
 * out by its own dispatch before a plain GEMM (a discrete GPU's). */
static void
test_attn_apply (void)
{
  for (int apart = 0; apart < 2; apart++) {
    g_setenv ("LS_VULKAN_QUERY_SOFTMAX_APART", apart ? "1" : "0", TRUE);
    run_attn_apply_view (77, 96, 32, 32, 32);
    run_attn_apply_view (90, 64, 16, 40, 13);
    run_attn_apply (77, 24, 24, FALSE);
    run_attn_apply (50, 33, 33, TRUE);
    run_attn_apply (64, 64, 64, TRUE);
    run_attn_apply (90, 40, 13, TRUE);   /* the Linear after it folded into G */
    run_attn_apply (40, 700, 21, FALSE); /* rows wider than a workgroup's invocations */
  }
  g_unsetenv ("LS_VULKAN_QUERY_SOFTMAX_APART");
}

static void
run_iscf (int d, int s)
{
  OpTest *t = op_test_new ();
  int ctx[3];
  for (int i = 0; i < s; i++)
    ctx[i] = op_tensor (t, d, d);
  int y = op_tensor (t, d, d);
  LsNode *node = op_node (t, LS_OP_ISCF_FUSE, "iscf", s, ctx, y);
  node->w = op_weights (t, (gsize) s * s, -1, 1);
  node->b = op_weights (t, s, -1, 1);
  node->w2 = op_weights (t, (gsize) s * s, -1, 1);
  node->b2 = op_weights (t, s, -1, 1);
  node->w3 = op_weights (t, s, -1, 1);
  node->fparam = 0.25f;
  expect (t, y, TOL_ELEMENTWISE);
  op_test_check (t, 0.3);
}

static void
test_iscf (void)
{
  run_iscf (20, 3);
  run_iscf (70, 2);
  run_iscf (9, 1);
}

static void
run_pixel_shuffle (int h, int w, int c, int p)
{
  OpTest *t = op_test_new ();
  int x = op_tensor (t, h * w, p * p * c);
  int y = op_tensor (t, h * p * w * p, c);
  LsNode *node = op_node (t, LS_OP_PIXEL_SHUFFLE_LN, "shuffle", 1, &x, y);
  op_norm_weights (t, node, c);
  node->height = h;
  node->width = w;
  node->p = p;
  node->out = c;
  expect (t, y, TOL_ELEMENTWISE);
  op_test_check (t, 0);
}

static void
test_pixel_shuffle_ln (void)
{
  run_pixel_shuffle (3, 5, 6, 2);
  run_pixel_shuffle (2, 3, 9, 4);
}

static void
test_project_one (void)
{
  OpTest *t = op_test_new ();
  int x = op_tensor (t, 70, 33);
  int y = op_tensor (t, 70, 1);
  LsNode *node = op_node (t, LS_OP_PROJECT_ONE, "project", 1, &x, y);
  node->w = op_weights (t, 33, -1, 1);
  node->fparam = -0.5f;
  node->in = 33;
  expect (t, y, TOL_ELEMENTWISE);
  op_test_check (t, 0);
}

/* ---- whole networks ---------------------------------------------------- */

static const LsConfig tiny_config = {
  .dims = { 16, 32, 48 }, .layers = { 1, 1, 1 }, .ffn_ratio = 4, .image_size = 64,
  .input_norm = LS_INPUT_NORM_MINMAX255, .iscf_scales = 3,
};
static const LsConfig full_config = {
  .dims = { 128, 320, 512 }, .layers = { 2, 2, 2 }, .ffn_ratio = 4, .image_size = 224,
  .input_norm = LS_INPUT_NORM_MINMAX255, .iscf_scales = 3,
};

static void
random_input (float *x, gsize n, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (r, 0, 255);
  g_rand_free (r);
}

/* Both backends on one input: max |difference| and mask agreement. */
static void
compare_engines (LsEngine *cpu, LsEngine *vk, guint32 seed, double max_abs, double agree)
{
  const int w = ls_engine_get_width (cpu), h = ls_engine_get_height (cpu);
  const gsize n = (gsize) w * h;
  g_autofree float *input = g_new (float, 3 * n);
  g_autofree float *a = g_new (float, n);
  g_autofree float *b = g_new (float, n);
  g_autoptr (GError) error = NULL;
  random_input (input, 3 * n, seed);
  g_assert_true (ls_engine_run_tensor (cpu, input, a, &error));
  g_assert_true (ls_engine_run_tensor (vk, input, b, &error));
  double worst = 0;
  gsize same = 0;
  for (gsize i = 0; i < n; i++) {
    g_assert_true (isfinite (b[i]));
    worst = MAX (worst, fabs ((double) a[i] - b[i]));
    same += (a[i] > 0) == (b[i] > 0);
  }
  g_test_message ("seed %u: max |cpu - vulkan| %.3g, masks agree on %.3f%%", seed, worst,
                  100.0 * same / n);
  if (!(worst <= max_abs))
    g_error ("max |cpu - vulkan| %.3g above %.0e", worst, max_abs);
  g_assert_cmpfloat ((double) same / n, >=, agree);
}

/* An engine on each backend for @model at @size x @size, compared on @runs
 * inputs (seeds @seed, @seed + 1, ...) by compare_engines(). The same two
 * engines serve every run: the Vulkan one replays its recorded command
 * buffer. */
static void
compare_backends (LsModel *model, int size, guint32 seed, guint runs, double max_abs,
                  double agree)
{
  g_autoptr (LsEngine) cpu = test_engine_new (model, LS_BACKEND_CPU, size, size, 2);
  g_autoptr (LsEngine) vk = test_engine_new (model, LS_BACKEND_VULKAN, size, size, 2);
  /* really on Vulkan, not compared with itself */
  g_assert_true (g_str_has_prefix (ls_engine_get_backend_name (vk), "vulkan:"));
  for (guint i = 0; i < runs; i++)
    compare_engines (cpu, vk, seed + i, max_abs, agree);
}

/* The committed tiny model, with trained weights. */
static LsModel *
load_tiny_file (void)
{
  g_autofree char *path = g_build_filename (g_getenv ("LS_TEST_DATA"), "tiny",
                                            "model.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  LsModel *model = ls_model_load (path, &error);
  g_assert_no_error (error);
  return model;
}

static void
test_tiny_file (void)
{
  g_autoptr (LsModel) model = load_tiny_file ();
  compare_backends (model, 64, 1, 1, 1e-3, 0.999);
}

static void
test_tiny_random (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 3);
  compare_backends (model, 64, 2, 1, 1e-3, 0.999);
  /* another input size too */
  compare_backends (model, 96, 3, 1, 1e-3, 0.999);
}

/* The published configuration with seeded random weights, at 64x64 input:
 * at 224x224 lavapipe needs minutes for it (32.7 GFLOP at ~1-2 GFLOP/s). */
static void
test_full_random (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&full_config, 1);
  compare_backends (model, 64, 4, 1, 1e-2, 0.995);
}

/* fp16 weights end to end (LS_VULKAN_FP16=1): the full config at 64x64
 * within 1e-2 of the CPU backend with masks agreeing on >= 99.5%, and the
 * tiny configs held to the same fp16 budget (on lavapipe they move 1.5e-3
 * to 2.5e-3: over the 1e-3 of the fp32 path, which is why fp16 weights are
 * not the default). Each first checks that fp16 GEMMs are planned. */
static void
assert_fp16_planned (LsModel *model)
{
  g_autoptr (GError) error = NULL;
  LsGraph *graph = ls_network_build (model, 64, 64, &error);
  g_assert_no_error (error);
  LsBackend *vk = vulkan_backend (graph);
  int n = ls_vulkan_backend_get_fp16_gemms (vk);
  g_test_message ("%d GEMMs on fp16 weights", n);
  g_assert_cmpint (n, >, 0);
  vk->klass->free (vk);
  ls_graph_free (graph);
}

static void
test_tiny_fp16 (void)
{
  g_setenv ("LS_VULKAN_FP16", "1", TRUE);
  g_autoptr (LsModel) trained = load_tiny_file ();
  assert_fp16_planned (trained);
  compare_backends (trained, 64, 1, 1, 1e-2, 0.995);
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 3);
  compare_backends (model, 96, 3, 1, 1e-2, 0.995);
  g_unsetenv ("LS_VULKAN_FP16");
}

static void
test_full_fp16 (void)
{
  g_setenv ("LS_VULKAN_FP16", "1", TRUE);
  g_autoptr (LsModel) model = ls_model_new_random (&full_config, 1);
  assert_fp16_planned (model);
  compare_backends (model, 64, 4, 1, 1e-2, 0.995);
  g_unsetenv ("LS_VULKAN_FP16");
}

/* One recorded command buffer replayed on 20 different inputs equals 20
 * fresh CPU runs. */
static void
test_replay (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 5);
  compare_backends (model, 64, 100, 20, 1e-3, 0.999);
}

/* The discrete-GPU path (device-local buffers, staging copies recorded
 * into the command buffer) forced on whatever device this is. */
/* A discrete GPU's plan on lavapipe (LS_VULKAN_PLAN_AS_DISCRETE=1): 256
 * busy workgroups, so split-K on most GEMMs; the reg kernel's discrete
 * tile; the query softmax written out; the context's split-K reduced;
 * LayerNorms not folded. What lavapipe cannot run of it is the
 * cooperative-matrix kernel (its tiles: test_linear_coopmat on a device
 * that has it, and bench/gpu-vulkan.sh's parity on a lent GPU). */
static int network_barriers (const char *reorder, const char *split_k, int *dispatches);

static void
test_discrete_plan (void)
{
  int plain = 0, discrete = 0;
  network_barriers ("1", NULL, &plain);
  g_setenv ("LS_VULKAN_PLAN_AS_DISCRETE", "1", TRUE);
  network_barriers ("1", NULL, &discrete);
  g_test_message ("tiny config at 64x64: %d dispatches, %d as a discrete GPU's plan", plain,
                  discrete);
  g_assert_cmpint (discrete, >, plain);   /* split-K reduces, the query softmaxes */
  g_autoptr (LsModel) tiny = ls_model_new_random (&tiny_config, 12);
  compare_backends (tiny, 64, 300, 2, 1e-3, 0.999);
  g_autoptr (LsModel) full = ls_model_new_random (&full_config, 13);
  compare_backends (full, 64, 310, 1, 1e-2, 0.995);
  g_unsetenv ("LS_VULKAN_PLAN_AS_DISCRETE");
}

static void
test_staging (void)
{
  g_setenv ("LS_VULKAN_STAGING", "1", TRUE);
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 8);
  compare_backends (model, 64, 200, 3, 1e-3, 0.999);
  g_unsetenv ("LS_VULKAN_STAGING");
}

static void
count_profile (const char *op, double ms, int count, gpointer user_data)
{
  g_assert_cmpfloat (ms, >=, 0);
  g_assert_cmpint (count, >, 0);
  *(int *) user_data += 1;
}

/* The tiny config (seeded random weights) at 64x64 on Vulkan */
static LsEngine *
tiny_vulkan_engine (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 6);
  return test_engine_new (model, LS_BACKEND_VULKAN, 64, 64, 2);
}

/* One run of @vk (64x64) on a zero input */
static gboolean
run_zeros (LsEngine *vk, GError **error)
{
  g_autofree float *input = g_new0 (float, 3 * 64 * 64);
  g_autofree float *logits = g_new (float, 64 * 64);
  return ls_engine_run_tensor (vk, input, logits, error);
}

/* The op kinds the profile of one run reports */
static int
profiled_kinds (void)
{
  g_autoptr (LsEngine) vk = tiny_vulkan_engine ();
  g_autoptr (GError) error = NULL;
  ls_engine_set_profiling (vk, TRUE);
  g_assert_true (run_zeros (vk, &error));
  int kinds = 0;
  ls_engine_foreach_profile (vk, count_profile, &kinds);
  ls_engine_set_profiling (vk, FALSE);
  g_assert_true (run_zeros (vk, &error));
  return kinds;
}

static void
test_profile (void)
{
  /* the network uses every op, and some LayerNorms keep their own
   * dispatch with LayerNorms folded into GEMMs too */
  g_setenv ("LS_VULKAN_FUSE_LN", "0", TRUE);
  g_assert_cmpint (profiled_kinds (), ==, LS_OP_N_KINDS);
  g_setenv ("LS_VULKAN_FUSE_LN", "1", TRUE);
  g_assert_cmpint (profiled_kinds (), ==, LS_OP_N_KINDS);
  g_unsetenv ("LS_VULKAN_FUSE_LN");
  /* with a staging copy of the input (a discrete GPU's path) the copy is
   * reported on its own, not in the first dispatch's time */
  g_setenv ("LS_VULKAN_STAGING", "1", TRUE);
  g_assert_cmpint (profiled_kinds (), ==, LS_OP_N_KINDS + 1);
  g_unsetenv ("LS_VULKAN_STAGING");
}

/* The rows of the per-dispatch profile (LS_VULKAN_PROFILE_CSV) of one run
 * of the tiny config, with @serial as LS_VULKAN_PROFILE_SERIAL; checks that
 * there is one row per dispatch and returns how many start with a barrier. */
static int
profile_csv_barriers (const char *serial, int *dispatches, int *plain_barriers)
{
  g_autofree char *dir = tmp_dir_new ("ls-profile-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "profile.csv", NULL);
  g_setenv ("LS_VULKAN_PROFILE_CSV", path, TRUE);
  g_setenv ("LS_VULKAN_PROFILE_SERIAL", serial, TRUE);
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 6);
  g_autoptr (GError) error = NULL;
  LsGraph *graph = ls_network_build (model, 64, 64, &error);
  g_assert_no_error (error);
  LsBackend *vk = vulkan_backend (graph);
  ls_vulkan_backend_get_counts (vk, dispatches, plain_barriers);
  g_autofree float *input = g_new0 (float, 3 * 64 * 64);
  g_autofree float *logits = g_new (float, 64 * 64);
  vk->klass->set_profiling (vk, TRUE);
  g_assert_true (vk->klass->run (vk, input, logits, &error));
  g_assert_no_error (error);

  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_auto (GStrv) lines = g_strsplit (g_strchomp (text), "\n", -1);
  g_assert_cmpstr (lines[0], ==, "dispatch,node,op,shader,groups_x,groups_y,groups_z,barrier,"
                                 "us,spec,push");
  g_assert_cmpint (g_strv_length (lines), ==, *dispatches + 1);
  int barriers = 0;
  for (int i = 1; lines[i]; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
    g_assert_cmpint (g_strv_length (f), ==, 11);
    g_assert_cmpint (atoi (f[0]), ==, i - 1);
    g_assert_cmpuint (strlen (f[1]), >, 0);      /* the graph node */
    g_assert_cmpuint (strlen (f[3]), >, 0);      /* the shader */
    g_assert_cmpint (atoi (f[4]) * atoi (f[5]) * atoi (f[6]), >, 0);
    g_assert_cmpfloat (g_ascii_strtod (f[8], NULL), >=, 0);
    g_assert_cmpuint (strlen (f[10]), >, 0);     /* every shader takes push constants */
    barriers += atoi (f[7]);
  }
  vk->klass->free (vk);
  ls_graph_free (graph);
  g_unsetenv ("LS_VULKAN_PROFILE_CSV");
  g_unsetenv ("LS_VULKAN_PROFILE_SERIAL");
  tmp_dir_remove (dir);
  return barriers;
}

static void
test_profile_csv (void)
{
  /* the profiled recording places its barriers as the plain one does;
   * serial, one before every dispatch but the first */
  int dispatches, plain;
  g_assert_cmpint (profile_csv_barriers ("0", &dispatches, &plain), ==, plain);
  g_assert_cmpint (plain, <, dispatches - 1);
  g_assert_cmpint (profile_csv_barriers ("1", &dispatches, &plain), ==, dispatches - 1);

  /* a profile that cannot be written fails the run, naming the file */
  g_setenv ("LS_VULKAN_PROFILE_CSV", "/nonexistent-ls-dir/profile.csv", TRUE);
  g_autoptr (LsEngine) vk = tiny_vulkan_engine ();
  g_autoptr (GError) error = NULL;
  ls_engine_set_profiling (vk, TRUE);
  g_assert_false (run_zeros (vk, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "/nonexistent-ls-dir/profile.csv"));
  g_unsetenv ("LS_VULKAN_PROFILE_CSV");
}

/* The tile (specialization constants 1 and 2: BM, BN) of the first GEMM of
 * node @node in the tiny config's plan at 64x64, read from a profiled run's
 * CSV */
static void
planned_tile (const char *node, guint *bm, guint *bn)
{
  g_autofree char *dir = tmp_dir_new ("ls-tiles-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "profile.csv", NULL);
  g_setenv ("LS_VULKAN_PROFILE_CSV", path, TRUE);
  g_autoptr (LsEngine) vk = tiny_vulkan_engine ();
  g_autoptr (GError) error = NULL;
  ls_engine_set_profiling (vk, TRUE);
  g_assert_true (run_zeros (vk, &error));
  g_unsetenv ("LS_VULKAN_PROFILE_CSV");

  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_auto (GStrv) lines = g_strsplit (g_strchomp (text), "\n", -1);
  *bm = *bn = 0;
  for (int i = 1; lines[i] && *bm == 0; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
    if (g_strcmp0 (f[1], node) == 0 && g_str_has_prefix (f[3], "gemm")) {
      g_auto (GStrv) spec = g_strsplit (f[9], " ", -1);
      *bm = (guint) atoi (spec[1]);
      *bn = (guint) atoi (spec[2]);
    }
  }
  g_assert_cmpuint (*bm, >, 0);
  tmp_dir_remove (dir);
}

/* Vulkan backend creation with LS_VULKAN_GEMM_TILES holding @text: the
 * error it fails with, or NULL */
static GError *
tiles_file_error (const char *text)
{
  g_autofree char *dir = tmp_dir_new ("ls-tiles-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "tiles.txt", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_setenv ("LS_VULKAN_GEMM_TILES", path, TRUE);
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 6);
  GError *error = NULL;
  LsGraph *graph = ls_network_build (model, 64, 64, &error);
  g_assert_no_error (error);
  LsBackend *vk = ls_vulkan_backend_new (graph, -1, FALSE, &error);
  if (vk)
    vk->klass->free (vk);
  ls_graph_free (graph);
  g_unsetenv ("LS_VULKAN_GEMM_TILES");
  tmp_dir_remove (dir);
  return error;
}

/* LS_VULKAN_GEMM_TILES names a tile per GEMM shape: the first patch
 * embedding's GEMM (256 x 16 x 147 at 64x64) gets a 128 x 128 tile from
 * whichever kernel runs it, which the plan itself never gives so small a
 * GEMM, and the logits stay the CPU backend's. A file that cannot be read
 * or parsed fails engine creation, naming file, line and fault. */
static void
test_gemm_tiles_file (void)
{
  const char *node = "backbone.patch_embed1.proj";
  guint bm, bn;
  planned_tile (node, &bm, &bn);
  g_test_message ("%s: the plan's tile %ux%u", node, bm, bn);
  g_assert_false (bm == 128 && bn == 128);

  g_autofree char *dir = tmp_dir_new ("ls-tiles-XXXXXX");
  g_autofree char *path = g_build_filename (dir, "tiles.txt", NULL);
  g_assert_true (g_file_set_contents (path,
                                      "# KERNEL M N K TILE\n"
                                      "tiled 256 16 147 0\n"
                                      "reg   256 16 147 1   # 128x128x8, fits lavapipe\n"
                                      "\n"
                                      "coopmat 256 16 147 0\n", -1, NULL));
  g_setenv ("LS_VULKAN_GEMM_TILES", path, TRUE);
  planned_tile (node, &bm, &bn);
  g_test_message ("%s: with %s, %ux%u", node, path, bm, bn);
  g_assert_cmpuint (bm, ==, 128);
  g_assert_cmpuint (bn, ==, 128);
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 6);
  compare_backends (model, 64, 9, 1, 1e-3, 0.999);
  g_unsetenv ("LS_VULKAN_GEMM_TILES");
  tmp_dir_remove (dir);

  g_setenv ("LS_VULKAN_GEMM_TILES", "/nonexistent-ls-dir/tiles.txt", TRUE);
  g_autoptr (LsModel) tiny = ls_model_new_random (&tiny_config, 6);
  LsGraph *graph = ls_network_build (tiny, 64, 64, NULL);
  g_autoptr (GError) missing = NULL;
  g_assert_null (ls_vulkan_backend_new (graph, -1, FALSE, &missing));
  g_assert_error (missing, LS_ERROR, LS_ERROR_FILE);
  g_assert_nonnull (strstr (missing->message, "/nonexistent-ls-dir/tiles.txt"));
  ls_graph_free (graph);
  g_unsetenv ("LS_VULKAN_GEMM_TILES");

  static const struct { const char *text, *says; } bad[] = {
    { "reg 256 16 147 0\nreg 256 16 0\n", "line 2: expected 'KERNEL M N K TILE'" },
    { "gpu 256 16 147 0\n", "found 'gpu 256 16 147 0'" },
    { "reg 256 16 147 -1\n", "line 1" },
    { "reg 0 16 147 1\n", "line 1" },
    { "reg 256 16 147 99\n", "tile 99 of reg, which has tiles 0 to" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = tiles_file_error (bad[i].text);
    g_assert_error (error, LS_ERROR, LS_ERROR_FILE);
    g_test_message ("%s", error->message);
    if (!strstr (error->message, bad[i].says))
      g_error ("'%s' not in: %s", bad[i].says, error->message);
  }
  g_assert_null (tiles_file_error ("# only a comment\n\n"));
}

/* Barriers only where a dispatch depends on an earlier one: independent
 * dispatches (the split-K slices and reduces of Linears on one input)
 * share one.
 * Scratch is planned with liveness (each split-K node its own partials)
 * and dispatches are scheduled by dependency level; LS_VULKAN_REORDER=0
 * keeps the planned order (still with per-node scratch). Counts on
 * lavapipe at 64x64 (scheduled / planned order / before per-node scratch):
 * tiny config 118 dispatches, 94 / 97 / 97 barriers; with every GEMM split
 * in 3, 166 dispatches, 120 / 138 / 156; full config 212 dispatches,
 * 165 / 178 / 191. Since then the Linears around the attention were folded
 * (full config: 204 dispatches, 159 barriers), LayerNorms folded into
 * the GEMMs that read them (174 and 129; vk-fuse.c), and the query softmax
 * taken on load (165 and 129), and the key softmax's chunks merged by the
 * context GEMM (156 and 122; tiny config 85 dispatches, 72 / 72 barriers,
 * split in 3 127 dispatches, 96 / 108), and K, Q (and V) computed by one
 * Linear, with arena memory shared only between tensors the data orders
 * anyway (graph.c; tiny config 77 dispatches, 64 / 71 barriers, split in
 * 3 113, 91 / 106), split-K reduces that normalise their rows for the
 * LayerNorm after them (split in 3: 107, 85 / 100), and the context's
 * partials summed by the Linear that reads them (102, 82 / 95). */
static int
network_barriers (const char *reorder, const char *split_k, int *dispatches)
{
  g_setenv ("LS_VULKAN_REORDER", reorder, TRUE);
  if (split_k)
    g_setenv ("LS_VULKAN_SPLIT_K", split_k, TRUE);
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 9);
  g_autoptr (GError) error = NULL;
  LsGraph *graph = ls_network_build (model, 64, 64, &error);
  g_assert_no_error (error);
  LsBackend *vk = vulkan_backend (graph);
  int barriers = 0;
  ls_vulkan_backend_get_counts (vk, dispatches, &barriers);
  g_test_message ("reorder %s, split-K %s: %d dispatches, %d barriers", reorder,
                  split_k ? split_k : "auto", *dispatches, barriers);
  vk->klass->free (vk);
  ls_graph_free (graph);
  g_unsetenv ("LS_VULKAN_REORDER");
  g_unsetenv ("LS_VULKAN_SPLIT_K");
  return barriers;
}

static void
test_barriers (void)
{
  int dispatches = 0, planned_dispatches = 0;
  int barriers = network_barriers ("1", NULL, &dispatches);
  int planned = network_barriers ("0", NULL, &planned_dispatches);
  g_assert_cmpint (dispatches, ==, planned_dispatches);
  g_assert_cmpint (barriers, >, 0);
  g_assert_cmpint (barriers, <, dispatches);
  /* unsplit, the planned order is already level by level here (the query
   * softmax, which the schedule used to move, is taken on load now) */
  g_assert_cmpint (barriers, <=, planned);
  /* every GEMM split in 3: one more dispatch (the reduce) per GEMM, but
   * independent GEMMs and reduces share barriers */
  int split_dispatches = 0, split_planned_dispatches = 0;
  int split = network_barriers ("1", "3", &split_dispatches);
  int split_planned = network_barriers ("0", "3", &split_planned_dispatches);
  g_assert_cmpint (split, <, split_planned);
  g_assert_cmpint (split_dispatches - split, >, dispatches - barriers);

  /* the query softmax written out (a discrete GPU's plan): one dispatch
   * more an attention, run beside the context chain, so no barrier more */
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 9);
  g_autoptr (GError) error = NULL;
  LsGraph *graph = ls_network_build (model, 64, 64, &error);
  g_assert_no_error (error);
  int attentions = 0;
  for (guint i = 0; i < graph->nodes->len; i++)
    attentions += ls_graph_get_node (graph, (int) i)->op == LS_OP_ATTN_APPLY;
  ls_graph_free (graph);
  g_assert_cmpint (attentions, >, 0);
  g_setenv ("LS_VULKAN_QUERY_SOFTMAX_APART", "1", TRUE);
  int apart_dispatches = 0;
  int apart = network_barriers ("1", NULL, &apart_dispatches);
  g_unsetenv ("LS_VULKAN_QUERY_SOFTMAX_APART");
  g_assert_cmpint (apart_dispatches, ==, dispatches + attentions);
  g_assert_cmpint (apart, ==, barriers);
}

/* Three split-K Linears on one input (Q, K and V): each has its own
 * partials in scratch, so the three GEMMs run under one barrier and the
 * three reduces under the next: exactly one barrier, and the results equal
 * the CPU backend's. */
static void
test_barriers_qkv (void)
{
  g_setenv ("LS_VULKAN_SPLIT_K", "3", TRUE);
  OpTest *t = op_test_new ();
  int x = op_tensor (t, 37, 600);
  for (int i = 0; i < 3; i++) {
    int y = op_tensor (t, 37, 23);
    op_linear (t, x, y, 600, 23, FALSE);
    expect (t, y, TOL_GEMM);
  }
  VkCounts counts = op_test_check (t, 0);
  g_test_message ("Q, K, V split-K: %d dispatches, %d barriers", counts.dispatches,
                  counts.barriers);
  g_assert_cmpint (counts.dispatches, ==, 6);
  g_assert_cmpint (counts.barriers, ==, 1);
  g_unsetenv ("LS_VULKAN_SPLIT_K");
}

/* auto takes Vulkan only on a real GPU; backend=vulkan any device. */
static void
test_selection (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 7);
  g_autoptr (LsEngine) vk = test_engine_new (model, LS_BACKEND_VULKAN, 64, 64, 2);
  g_autoptr (LsEngine) automatic = test_engine_new (model, LS_BACKEND_AUTO, 64, 64, 2);
  const char *name = ls_engine_get_backend_name (automatic);
  g_test_message ("vulkan: %s; auto: %s", ls_engine_get_backend_name (vk), name);
  gboolean cpu_device = strstr (ls_engine_get_backend_name (vk), "llvmpipe") != NULL;
  if (cpu_device)
    g_assert_cmpstr (name, ==, "cpu");

  g_autoptr (GError) error = NULL;
  LsEngineOptions options;
  ls_engine_options_init (&options);
  options.backend = LS_BACKEND_VULKAN;
  options.device = 99;
  LsEngine *none = ls_engine_new (model, &options, &error);
  g_assert_null (none);
  g_assert_error (error, LS_ERROR, LS_ERROR_BACKEND);
  g_assert_nonnull (strstr (error->message, "device index 99"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vulkan/op/linear", test_linear);
  g_test_add_func ("/vulkan/op/linear-tiles", test_linear_tiles);
  g_test_add_func ("/vulkan/op/linear-reg", test_linear_reg);
  g_test_add_func ("/vulkan/op/linear-coopmat", test_linear_coopmat);
  g_test_add_func ("/vulkan/op/linear-fp16", test_linear_fp16);
  g_test_add_func ("/vulkan/op/attn-kernels", test_attn_kernels);
  g_test_add_func ("/vulkan/op/conv-patch", test_conv_patch);
  g_test_add_func ("/vulkan/op/layernorm", test_layernorm);
  g_test_add_func ("/vulkan/op/layernorm-fused", test_ln_fused);
  g_test_add_func ("/vulkan/op/layernorm-not-fused", test_ln_not_fused);
  g_test_add_func ("/vulkan/op/dwconv3x3-ln-gelu", test_dwconv_ln_gelu);
  g_test_add_func ("/vulkan/op/reduce-layernorm", test_reduce_ln);
  g_test_add_func ("/vulkan/op/split-k-slices-on-load", test_slices_on_load);
  g_test_add_func ("/vulkan/op/attn-context", test_attn_context);
  g_test_add_func ("/vulkan/op/attn-apply", test_attn_apply);
  g_test_add_func ("/vulkan/op/iscf-fuse", test_iscf);
  g_test_add_func ("/vulkan/op/pixel-shuffle-ln", test_pixel_shuffle_ln);
  g_test_add_func ("/vulkan/op/project-one", test_project_one);
  g_test_add_func ("/vulkan/net/tiny-file", test_tiny_file);
  g_test_add_func ("/vulkan/net/tiny-random", test_tiny_random);
  g_test_add_func ("/vulkan/net/replay", test_replay);
  g_test_add_func ("/vulkan/net/staging", test_staging);
  g_test_add_func ("/vulkan/net/discrete-plan", test_discrete_plan);
  g_test_add_func ("/vulkan/net/profile", test_profile);
  g_test_add_func ("/vulkan/net/profile-csv", test_profile_csv);
  g_test_add_func ("/vulkan/net/gemm-tiles-file", test_gemm_tiles_file);
  g_test_add_func ("/vulkan/net/barriers", test_barriers);
  g_test_add_func ("/vulkan/op/barriers-qkv", test_barriers_qkv);
  g_test_add_func ("/vulkan/net/selection", test_selection);
  g_test_add_func ("/vulkan/net/full-random-64", test_full_random);
  g_test_add_func ("/vulkan/net/tiny-fp16", test_tiny_fp16);
  g_test_add_func ("/vulkan/net/full-random-64-fp16", test_full_fp16);
  return g_test_run ();
}
#endif
