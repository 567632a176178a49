/* The whole network against the PyTorch reference (tools/python), the
 * memory plan, and engines in parallel threads.
 *
 * The full-config and converter tests run the reference during the test:
 * /usr/bin/python3 with Debian's python3-torch must be there (CI installs
 * it). Without it they fail; they never pass by skipping.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "affine.h"
#include "engine-helper.h"
#include "graph.h"
#include "lesionseg.h"
#include "model-private.h"
#include "network.h"
#include "safetensors.h"
#include "tmp-dir.h"

static const LsConfig tiny_config = {
  .dims = { 16, 32, 48 }, .layers = { 1, 2, 1 }, .ffn_ratio = 4, .image_size = 64,
  .input_norm = LS_INPUT_NORM_MINMAX255, .iscf_scales = 3,
};
/* the published configuration */
static const LsConfig full_config = {
  .dims = { 128, 320, 512 }, .layers = { 2, 2, 2 }, .ffn_ratio = 4, .image_size = 224,
  .input_norm = LS_INPUT_NORM_MINMAX255, .iscf_scales = 3,
};

/* A golden tensor as f32 (caller frees). */
static float *
read_golden (LsSafetensors *st, const char *name, gint64 expected_numel)
{
  const LsStTensor *t = ls_safetensors_find (st, name);
  g_assert_nonnull (t);
  g_assert_cmpint (t->numel, ==, expected_numel);
  float *data = g_new (float, t->numel);
  ls_st_tensor_to_f32 (t, data);
  return data;
}

typedef struct {
  double max_abs;
  double mask_agreement;  /* fraction of pixels where logit > 0 agrees */
} Comparison;

/* Runs @model_path on the input of @io_path and compares with its logits. */
static Comparison
compare_with_golden (const char *model_path, const char *io_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LsModel) model = ls_model_load (model_path, &error);
  g_assert_no_error (error);
  g_autoptr (LsSafetensors) io = ls_safetensors_open (io_path, &error);
  g_assert_no_error (error);

  const LsStTensor *input = ls_safetensors_find (io, "input");
  g_assert_nonnull (input);
  g_assert_cmpint (input->ndim, ==, 4);
  const int h = (int) input->shape[2], w = (int) input->shape[3];

  g_autoptr (LsEngine) engine = test_engine_new (model, LS_BACKEND_CPU, w, h, 0);

  g_autofree float *x = read_golden (io, "input", (gint64) 3 * w * h);
  g_autofree float *expected = read_golden (io, "logits", (gint64) w * h);
  g_autofree float *logits = g_new (float, (gsize) w * h);
  g_assert_true (ls_engine_run_tensor (engine, x, logits, &error));
  g_assert_no_error (error);

  Comparison cmp = { 0, 0 };
  gsize agree = 0;
  for (gsize i = 0; i < (gsize) w * h; i++) {
    g_assert_true (isfinite (logits[i]));
    cmp.max_abs = MAX (cmp.max_abs, fabs ((double) logits[i] - expected[i]));
    agree += (logits[i] > 0) == (expected[i] > 0);
  }
  cmp.mask_agreement = (double) agree / ((double) w * h);
  g_test_message ("%s: max |C - PyTorch| = %.3g, masks agree on %.4f%% of pixels",
                  model_path, cmp.max_abs, 100 * cmp.mask_agreement);
  return cmp;
}

/* Runs a script of tools/python with /usr/bin/python3; fails the test with
 * the script's output when it fails. */
static void
run_python (const char *script, const char *const *args)
{
  const char *dir = g_getenv ("LS_PYTHON_DIR");
  g_assert_nonnull (dir);
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup ("/usr/bin/python3"));
  g_ptr_array_add (argv, g_build_filename (dir, script, NULL));
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;
  gboolean spawned = g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
                                   NULL, &out, &err, &status, &error);
  if (!spawned || !g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed (PyTorch reference: needs /usr/bin/python3 with python3-torch): %s\n%s%s",
             script, error ? error->message : "", out ? out : "", err ? err : "");
}

/* The committed tiny goldens (tests/data/tiny): 1e-4 absolute. */
static void
test_tiny_goldens (void)
{
  g_autofree char *model = g_build_filename (g_getenv ("LS_TEST_DATA"), "tiny", "model.safetensors", NULL);
  g_autofree char *io = g_build_filename (g_getenv ("LS_TEST_DATA"), "tiny", "io.safetensors", NULL);
  Comparison cmp = compare_with_golden (model, io);
  g_assert_cmpfloat (cmp.max_abs, <=, 1e-4);
}

/* A model of make_goldens.py's @config with seeded random weights and its
 * goldens for a @height x @width input (its --size H W), generated now by
 * the reference in a temporary directory, against the engine. */
static Comparison
compare_with_new_goldens (const char *config, int seed, int height, int width)
{
  g_autofree char *dir = tmp_dir_new ("lesionseg-test-XXXXXX");
  g_autofree char *seed_arg = g_strdup_printf ("%d", seed);
  g_autofree char *height_arg = g_strdup_printf ("%d", height);
  g_autofree char *width_arg = g_strdup_printf ("%d", width);
  const char *args[] = { "--config", config, "--seed", seed_arg, "--size", height_arg,
                         width_arg, "-o", dir, NULL };
  run_python ("make_goldens.py", args);
  g_autofree char *model = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *io = g_build_filename (dir, "io.safetensors", NULL);
  Comparison cmp = compare_with_golden (model, io);
  tmp_dir_remove (dir);
  return cmp;
}

/* A non-square input size through the same reference, generated now. */
static void
test_non_square (void)
{
  Comparison cmp = compare_with_new_goldens ("tiny", 11, 64, 96);
  g_assert_cmpfloat (cmp.max_abs, <=, 1e-4);
}

/* The published configuration with seeded random weights, 224 x 224. */
static void
test_full_config (void)
{
  Comparison cmp = compare_with_new_goldens ("full", 3, 224, 224);
  g_assert_cmpfloat (cmp.max_abs, <=, 1e-3);
  g_assert_cmpfloat (cmp.mask_agreement, >=, 0.999);
}

/* An authors'-format checkpoint (net.-prefixed state dict in a dict) through
 * convert.py gives the reference's output in C. */
static void
test_converter_round_trip (void)
{
  g_autofree char *dir = tmp_dir_new ("lesionseg-test-XXXXXX");
  const char *args[] = { "--config", "tiny", "--seed", "5", "--size", "64", "64",
                         "--authors-checkpoint", "-o", dir, NULL };
  run_python ("make_goldens.py", args);
  g_autofree char *ckpt = g_build_filename (dir, "authors.pt", NULL);
  g_autofree char *model = g_build_filename (dir, "converted.safetensors", NULL);
  const char *conv[] = { ckpt, "--trust", "-o", model, NULL };
  run_python ("convert.py", conv);
  g_autofree char *io = g_build_filename (dir, "io.safetensors", NULL);
  Comparison cmp = compare_with_golden (model, io);
  g_assert_cmpfloat (cmp.max_abs, <=, 1e-4);
  tmp_dir_remove (dir);
}

/* No two tensors alive at the same time share arena memory, two that share
 * it are ordered by the data anyway, and reuse makes the arena smaller than
 * all tensors together. Views (the attentions' K, Q
 * and V, columns of one Linear's output) lie inside their base. */
static void
test_memory_plan (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&full_config, 1);
  g_autoptr (GError) error = NULL;
  LsGraph *graph = ls_network_build (model, 224, 224, &error);
  g_assert_no_error (error);

  gsize total = 0;
  int views = 0, shared_pairs = 0;
  for (guint i = 0; i < graph->tensors->len; i++) {
    const LsTensor *a = ls_graph_get_tensor (graph, (int) i);
    if (a->base >= 0) {
      const LsTensor *base = ls_graph_get_tensor (graph, a->base);
      g_assert_cmpint (base->base, <, 0);
      g_assert_cmpint (a->ld, ==, base->c);
      g_assert_cmpint (a->n, ==, base->n);
      g_assert_cmpuint (a->offset, ==, base->offset + a->col);
      g_assert_cmpint (a->col + a->c, <=, base->c);
      g_assert_cmpint (a->offset % 16, ==, 0);
      views++;
      continue;
    }
    g_assert_cmpint (a->ld, ==, a->c);
    gsize a_size = (gsize) a->n * a->c;
    total += a_size;
    g_assert_cmpuint (a->offset + a_size, <=, graph->arena_floats);
    g_assert_cmpint (a->offset % 16, ==, 0);
    for (guint j = i + 1; j < graph->tensors->len; j++) {
      const LsTensor *b = ls_graph_get_tensor (graph, (int) j);
      if (b->base >= 0)
        continue;
      gboolean alive_together = a->first_use <= b->last_use && b->first_use <= a->last_use;
      gboolean share = a->offset < b->offset + (gsize) b->n * b->c &&
                       b->offset < a->offset + a_size;
      if (alive_together && share)
        g_error ("tensors %s and %s are alive together and share memory", a->name, b->name);
      /* sharing orders nothing the data leaves unordered (a GPU would
       * need a barrier for it): the later tensor's writer depends on the
       * earlier one's last reader */
      const LsTensor *early = a->last_use < b->first_use ? a : b, *late = early == a ? b : a;
      if (share && !ls_graph_depends (graph, late->first_use, early->last_use))
        g_error ("tensors %s and %s share memory, but node %d does not depend on node %d",
                 early->name, late->name, late->first_use, early->last_use);
      shared_pairs += share;
    }
  }
  g_test_message ("arena %.1f MB for %.1f MB of tensors, %d views, %d pairs sharing memory",
                  graph->arena_floats * 4e-6, total * 4e-6, views, shared_pairs);
  /* K and Q of every attention (the full config's channels are multiples
   * of 16), V too where it is computed */
  const LsConfig *cfg = &full_config;
  g_assert_cmpint (views, >=, 2 * (cfg->layers[0] + cfg->layers[1] + cfg->layers[2]
                                   + cfg->iscf_scales));
  g_assert_cmpuint (graph->arena_floats, <, total / 3);
  ls_graph_free (graph);
}

/* Two Linears folded into one give what running them in a row gives, with
 * and without biases, and the identity on either side changes nothing. */
static void
test_affine_compose (void)
{
  enum { IN = 5, MID = 7, OUT = 3 };
  float w1[MID * 6], b1[MID], w2[OUT * MID], b2[OUT], x[IN];
  for (int i = 0; i < MID * 6; i++)
    w1[i] = sinf (i * 0.7f);
  for (int i = 0; i < OUT * MID; i++)
    w2[i] = cosf (i * 0.3f);
  for (int i = 0; i < MID; i++)
    b1[i] = 0.1f * i;
  for (int i = 0; i < OUT; i++)
    b2[i] = -0.2f * i;
  for (int i = 0; i < IN; i++)
    x[i] = 1.0f - 0.3f * i;

  LsGraph *graph = ls_graph_new (32, 32);
  for (int with_bias = 0; with_bias < 4; with_bias++) {
    /* w1 has a row stride of 6 (a column slice, as the decoder's concat) */
    LsAffine first = { w1, with_bias & 1 ? b1 : NULL, IN, MID, 6 };
    LsAffine second = { w2, with_bias & 2 ? b2 : NULL, MID, OUT, MID };
    LsAffine both = ls_affine_compose (graph, first, second);
    g_assert_cmpint (both.in, ==, IN);
    g_assert_cmpint (both.out, ==, OUT);
    g_assert_true ((both.b != NULL) == (with_bias != 0));
    for (int o = 0; o < OUT; o++) {
      double expect = second.b ? second.b[o] : 0;
      for (int m = 0; m < MID; m++) {
        double h = first.b ? first.b[m] : 0;
        for (int i = 0; i < IN; i++)
          h += (double) w1[m * 6 + i] * x[i];
        expect += (double) w2[o * MID + m] * h;
      }
      double got = both.b ? both.b[o] : 0;
      for (int i = 0; i < IN; i++)
        got += (double) both.w[o * both.ldw + i] * x[i];
      g_assert_cmpfloat_with_epsilon (got, expect, 1e-5);
    }
  }
  LsAffine first = { w1, b1, IN, MID, 6 };
  g_assert_true (ls_affine_compose (graph, LS_AFFINE_IDENTITY, first).w == w1);
  g_assert_true (ls_affine_compose (graph, first, LS_AFFINE_IDENTITY).w == w1);
  ls_graph_free (graph);
}

/* Linears of one input stacked side by side give each part's output in
 * their columns: weights with a row stride, and a part without bias. */
static void
test_affine_stack (void)
{
  enum { IN = 5, OUT0 = 3, OUT1 = 4 };
  float w0[OUT0 * 7], b0[OUT0], w1[OUT1 * IN], x[IN];
  for (int i = 0; i < OUT0 * 7; i++)
    w0[i] = sinf (i * 0.7f);
  for (int i = 0; i < OUT1 * IN; i++)
    w1[i] = cosf (i * 0.3f);
  for (int i = 0; i < OUT0; i++)
    b0[i] = 0.5f + i;
  for (int i = 0; i < IN; i++)
    x[i] = 1.0f - 0.3f * i;

  LsGraph *graph = ls_graph_new (32, 32);
  const LsAffine parts[2] = { { w0, b0, IN, OUT0, 7 }, { w1, NULL, IN, OUT1, IN } };
  LsAffine both = ls_affine_stack (graph, parts, 2);
  g_assert_cmpint (both.in, ==, IN);
  g_assert_cmpint (both.out, ==, OUT0 + OUT1);
  g_assert_nonnull (both.b);
  for (int o = 0; o < both.out; o++) {
    const LsAffine *p = &parts[o < OUT0 ? 0 : 1];
    int row = o < OUT0 ? o : o - OUT0;
    double expect = p->b ? p->b[row] : 0, got = both.b[o];
    for (int i = 0; i < IN; i++) {
      expect += (double) p->w[row * p->ldw + i] * x[i];
      got += (double) both.w[o * both.ldw + i] * x[i];
    }
    g_assert_cmpfloat (got, ==, expect);
  }
  /* no part with a bias: none stacked */
  const LsAffine plain[2] = { { w1, NULL, IN, OUT1, IN }, { w1, NULL, IN, OUT1, IN } };
  g_assert_null (ls_affine_stack (graph, plain, 2).b);
  ls_graph_free (graph);
}

static int
count_linears (LsModel *model, int size)
{
  g_autoptr (GError) error = NULL;
  LsGraph *graph = ls_network_build (model, size, size, &error);
  g_assert_no_error (error);
  int linears = 0;
  for (guint i = 0; i < graph->nodes->len; i++)
    linears += ls_graph_get_node (graph, (int) i)->op == LS_OP_LINEAR;
  ls_graph_free (graph);
  return linears;
}

/* K, Q (and V) of each attention from one Linear, read as views, give the
 * logits that three Linears give (LS_GRAPH_MERGE_QKV=0), with one Linear
 * an attention instead of two or three: the tiny config at 64 x 64 has
 * V computed on its last stage (16 tokens, 48 channels) and folded elsewhere. */
static void
test_merged_projections (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 5);
  const int n = 64 * 64;
  g_autofree float *input = g_new (float, 3 * n);
  g_autofree float *merged = g_new (float, n);
  g_autofree float *apart = g_new (float, n);
  for (int i = 0; i < 3 * n; i++)
    input[i] = (float) ((i * 37) % 256);
  g_autoptr (GError) error = NULL;

  int merged_linears = count_linears (model, 64);
  g_autoptr (LsEngine) a = test_engine_new (model, LS_BACKEND_CPU, 64, 64, 2);
  g_assert_true (ls_engine_run_tensor (a, input, merged, &error));

  g_setenv ("LS_GRAPH_MERGE_QKV", "0", TRUE);
  int apart_linears = count_linears (model, 64);
  g_autoptr (LsEngine) b = test_engine_new (model, LS_BACKEND_CPU, 64, 64, 2);
  g_unsetenv ("LS_GRAPH_MERGE_QKV");
  g_assert_true (ls_engine_run_tensor (b, input, apart, &error));

  /* 4 blocks and 3 ISCF attentions; the last stage's block and ISCF
   * attention compute V as well (one more Linear each when apart) */
  g_test_message ("Linears: %d merged, %d apart", merged_linears, apart_linears);
  g_assert_cmpint (apart_linears - merged_linears, ==, 4 + 3 + 2);
  double worst = 0;
  for (int i = 0; i < n; i++)
    worst = MAX (worst, fabs ((double) merged[i] - apart[i]));
  g_test_message ("max |merged - apart| %.3g", worst);
  g_assert_cmpfloat (worst, <=, 1e-5);
}

/* The folds around the attention are taken where they save work: the full
 * config at 224x224 executes well under the network's count, and no size
 * ever executes more than the network as published. */
static void
test_folding_saves_work (void)
{
  static const int sizes[][2] = { { 224, 224 }, { 32, 32 }, { 64, 256 }, { 512, 384 } };
  g_autoptr (LsModel) model = ls_model_new_random (&full_config, 1);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autoptr (GError) error = NULL;
    LsGraph *graph = ls_network_build (model, sizes[i][0], sizes[i][1], &error);
    g_assert_no_error (error);
    double executed = ls_graph_flops (graph);
    double nominal = ls_network_flops (&full_config, sizes[i][0], sizes[i][1]);
    g_test_message ("%dx%d: %.2f of %.2f GFLOP executed", sizes[i][0], sizes[i][1],
                    executed / 1e9, nominal / 1e9);
    g_assert_cmpfloat (executed, <=, nominal);
    if (i == 0)
      g_assert_cmpfloat (executed, <, 0.75 * nominal);
    ls_graph_free (graph);
  }
}

/* Input sizes the network cannot take are refused with a message. */
static void
test_bad_input_size (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 1);
  LsEngineOptions options;
  ls_engine_options_init (&options);
  options.width = 100;
  options.height = 64;
  g_autoptr (GError) error = NULL;
  LsEngine *engine = ls_engine_new (model, &options, &error);
  g_assert_null (engine);
  g_assert_error (error, LS_ERROR, LS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "100x64"));
}

typedef struct {
  LsModel *model;
  float *inputs;          /* n_runs inputs of 3 * 64 * 64 */
  float *outputs;         /* n_runs outputs of 64 * 64 */
  int n_runs;
} ThreadJob;

static gpointer
run_engine_thread (gpointer data)
{
  ThreadJob *job = data;
  g_autoptr (LsEngine) engine = test_engine_new (job->model, LS_BACKEND_CPU, 0, 0, 1);
  for (int i = 0; i < job->n_runs; i++)
    g_assert_true (ls_engine_run_tensor (engine, job->inputs + (gsize) i * 3 * 64 * 64,
                                         job->outputs + (gsize) i * 64 * 64, NULL));
  return NULL;
}

/* Two engines on one model in two threads give what one engine gives alone. */
static void
test_two_engines_two_threads (void)
{
  enum { RUNS = 10, IN = 3 * 64 * 64, OUT = 64 * 64 };
  g_autoptr (LsModel) model = ls_model_new_random (&tiny_config, 2);
  g_autofree float *inputs = g_new (float, 2 * RUNS * IN);
  g_autofree float *outputs = g_new (float, 2 * RUNS * OUT);
  g_autofree float *reference = g_new (float, 2 * RUNS * OUT);
  GRand *rand = g_rand_new_with_seed (9);
  for (gsize i = 0; i < 2 * RUNS * IN; i++)
    inputs[i] = (float) g_rand_double_range (rand, 0, 255);
  g_rand_free (rand);

  ThreadJob alone = { model, inputs, reference, 2 * RUNS };
  run_engine_thread (&alone);

  ThreadJob jobs[2] = {
    { model, inputs, outputs, RUNS },
    { model, inputs + RUNS * IN, outputs + RUNS * OUT, RUNS },
  };
  GThread *threads[2];
  for (int t = 0; t < 2; t++)
    threads[t] = g_thread_new ("engine", run_engine_thread, &jobs[t]);
  for (int t = 0; t < 2; t++)
    g_thread_join (threads[t]);

  for (gsize i = 0; i < 2 * RUNS * OUT; i++)
    g_assert_cmpfloat_with_epsilon (outputs[i], reference[i], 1e-5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/network/tiny-goldens", test_tiny_goldens);
  g_test_add_func ("/network/non-square", test_non_square);
  g_test_add_func ("/network/full-config", test_full_config);
  g_test_add_func ("/network/converter-round-trip", test_converter_round_trip);
  g_test_add_func ("/network/memory-plan", test_memory_plan);
  g_test_add_func ("/network/affine-compose", test_affine_compose);
  g_test_add_func ("/network/affine-stack", test_affine_stack);
  g_test_add_func ("/network/merged-projections", test_merged_projections);
  g_test_add_func ("/network/folding-saves-work", test_folding_saves_work);
  g_test_add_func ("/network/bad-input-size", test_bad_input_size);
  g_test_add_func ("/network/two-engines-two-threads", test_two_engines_two_threads);
  return g_test_run ();
}
