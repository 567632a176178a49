/* lesionseg bench --config full|tiny|MODEL [--backend B] [--iters N] [--profile]
 *                 [--check-cpu]
 *
 * Times whole forward passes (input already normalised, as the engine gets it
 * after pre-processing) and prints the median, the minimum, the achieved
 * GFLOP/s and the peak RSS. Timing belongs here, never in unit tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#ifdef LS_HAVE_OPENBLAS
#include <cblas.h>
#endif

#include "cli-args.h"
#include "commands.h"
#include "lesionseg.h"
#include "model-private.h"

static const LsConfig full_config = {
  .dims = { 128, 320, 512 }, .layers = { 2, 2, 2 }, .ffn_ratio = 4, .image_size = 224,
  .input_norm = LS_INPUT_NORM_MINMAX255, .iscf_scales = 3,
};
static const LsConfig tiny_config = {
  .dims = { 16, 32, 48 }, .layers = { 1, 1, 1 }, .ffn_ratio = 4, .image_size = 64,
  .input_norm = LS_INPUT_NORM_MINMAX255, .iscf_scales = 3,
};

static LsModel *
open_model (const char *name, GError **error)
{
  if (!strcmp (name, "full"))
    return ls_model_new_random (&full_config, 1);
  if (!strcmp (name, "tiny"))
    return ls_model_new_random (&tiny_config, 1);
  return ls_model_load (name, error);
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* --check-cpu: the same input through a CPU engine, compared with the
 * benchmarked backend's logits (parity on the device itself). */
static gboolean
check_against_cpu (LsModel *model, const LsEngineOptions *options, const float *input,
                   const float *logits, GError **error)
{
  LsEngineOptions cpu_options = *options;
  cpu_options.backend = LS_BACKEND_CPU;
  g_autoptr (LsEngine) cpu = ls_engine_new (model, &cpu_options, error);
  if (!cpu)
    return FALSE;
  const gsize n = (gsize) ls_engine_get_width (cpu) * ls_engine_get_height (cpu);
  g_autofree float *ref = g_new (float, n);
  if (!ls_engine_run_tensor (cpu, input, ref, error))
    return FALSE;
  double worst = 0, ref_max = 0;
  gsize same = 0, bad = 0;
  for (gsize i = 0; i < n; i++) {
    if (!isfinite (logits[i]))
      bad++;
    worst = MAX (worst, fabs ((double) logits[i] - ref[i]));
    ref_max = MAX (ref_max, fabs ((double) ref[i]));
    same += (logits[i] > 0) == (ref[i] > 0);
  }
  printf ("check against cpu: max abs diff %.3g (max |logit| %.3g), masks agree on %.3f%%, "
          "non-finite %" G_GSIZE_FORMAT "\n", worst, ref_max, 100.0 * same / n, bad);
  return TRUE;
}

/* The profile is printed in two passes: the first sums the time and finds
 * the longest op name (fused kinds such as "pixel_shuffle_ln+project_one"),
 * so that the columns line up. */
typedef struct {
  double total_ms;
  int name_width;
} ProfileSummary;

static void
sum_profile (const char *op, double ms, int count, gpointer user_data)
{
  ProfileSummary *sum = user_data;
  sum->total_ms += ms;
  sum->name_width = MAX (sum->name_width, (int) strlen (op));
}

static void
print_profile (const char *op, double ms, int count, gpointer user_data)
{
  const ProfileSummary *sum = user_data;
  printf ("  %-*s %8.2f ms %5.1f%% (%d nodes)\n", sum->name_width, op, ms,
          100.0 * ms / sum->total_ms, count);
}

int
ls_cmd_bench (int argc, char **argv)
{
  g_autofree char *config = NULL, *backend_name = NULL, *size = NULL;
  int iters = 20, warmup = 2, threads = 0;
  gboolean profile = FALSE, check_cpu = FALSE;
  const GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
      "full or tiny (seeded random weights), or a model file", "C" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend_name, "auto, cpu or vulkan", "B" },
    { "iters", 'n', 0, G_OPTION_ARG_INT, &iters, "Timed runs (20)", "N" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup, "Untimed runs first (2)", "N" },
    { "size", 's', 0, G_OPTION_ARG_STRING, &size, "Input WxH (the model's size)", "WxH" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "CPU threads (all cores)", "N" },
    { "profile", 'p', 0, G_OPTION_ARG_NONE, &profile, "Time per op kind", NULL },
    { "check-cpu", 0, 0, G_OPTION_ARG_NONE, &check_cpu,
      "Also run the CPU backend on the same input and compare the logits", NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- time the network");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 1 || iters < 1 ||
      warmup < 0 || threads < 0) {
    fprintf (stderr, "lesionseg bench: %s\n", error ? error->message : "bad arguments");
    return 2;
  }

  LsEngineOptions options;
  ls_engine_options_init (&options);
  options.threads = threads;
  if (backend_name && !ls_backend_kind_from_string (backend_name, &options.backend)) {
    fprintf (stderr, "lesionseg bench: unknown backend '%s' (auto, cpu, vulkan)\n", backend_name);
    return 2;
  }
  if (size && !ls_cli_parse_size (size, 32, 16384, &options.width, &options.height)) {
    fprintf (stderr, "lesionseg bench: --size '%s' is not WxH with sides in 32..16384\n", size);
    return 2;
  }

  g_autoptr (LsModel) model = open_model (config ? config : "full", &error);
  g_autoptr (LsEngine) engine = model ? ls_engine_new (model, &options, &error) : NULL;
  if (!engine) {
    fprintf (stderr, "lesionseg bench: %s\n", error->message);
    return 1;
  }

  const int w = ls_engine_get_width (engine), h = ls_engine_get_height (engine);
  const double gflop = ls_model_get_gflop (model, w, h);
  g_autofree float *input = g_new (float, (gsize) 3 * w * h);
  g_autofree float *logits = g_new (float, (gsize) w * h);
  for (gsize i = 0; i < (gsize) 3 * w * h; i++)
    input[i] = (float) ((i * 2654435761u) % 256);

  printf ("model: %s\n", config ? config : "full");
  printf ("backend: %s\n", ls_engine_get_backend_name (engine));
  printf ("input: %dx%d\n", w, h);
#ifdef LS_HAVE_OPENBLAS
  printf ("openblas: %s, kernel %s, %d threads\n", openblas_get_config (),
          openblas_get_corename (), openblas_get_num_threads ());
#endif
  const double executed = ls_engine_get_gflop (engine);
  printf ("GFLOP per frame: %.2f (the network's), %.2f executed (%.0f%% after folding)\n",
          gflop, executed, 100.0 * executed / gflop);

  g_autofree double *ms = g_new (double, iters);
  for (int i = 0; i < warmup + iters; i++) {
    if (i == warmup + iters - 1 && profile)
      ls_engine_set_profiling (engine, TRUE);
    gint64 start = g_get_monotonic_time ();
    if (!ls_engine_run_tensor (engine, input, logits, &error)) {
      fprintf (stderr, "lesionseg bench: %s\n", error->message);
      return 1;
    }
    if (i >= warmup)
      ms[i - warmup] = (g_get_monotonic_time () - start) / 1000.0;
  }
  qsort (ms, iters, sizeof (double), compare_double);
  double median = iters % 2 ? ms[iters / 2] : (ms[iters / 2 - 1] + ms[iters / 2]) / 2;

  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  printf ("iterations: %d\n", iters);
  printf ("median: %.2f ms\n", median);
  printf ("min: %.2f ms\n", ms[0]);
  printf ("GFLOP/s: %.1f (the network's GFLOP at the median)\n", gflop / (median / 1000.0));
  printf ("executed GFLOP/s: %.1f (at the median)\n", executed / (median / 1000.0));
  printf ("peak RSS: %.1f MB\n", usage.ru_maxrss / 1024.0);

  if (check_cpu && !check_against_cpu (model, &options, input, logits, &error)) {
    fprintf (stderr, "lesionseg bench: %s\n", error->message);
    return 1;
  }
  if (profile) {
    ProfileSummary sum = { 0 };
    ls_engine_foreach_profile (engine, sum_profile, &sum);
    printf ("profile (last run, %.2f ms in ops):\n", sum.total_ms);
    ls_engine_foreach_profile (engine, print_profile, &sum);
  }
  return 0;
}
