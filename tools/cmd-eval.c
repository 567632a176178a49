/* lesionseg eval --model M [--backend B] DATASET_DIR
 *
 * Runs our engine (not PyTorch) over every image of a data set at the
 * model's input size, resizes each mask back to the image's own size, and
 * prints the metrics the paper reports (pooled over all pixels) and the
 * per-image ones the ISIC challenges use, one `name: value` line each.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "cli-args.h"
#include "commands.h"
#include "dataset.h"
#include "eval-metrics.h"
#include "image-io.h"
#include "lesionseg.h"

typedef struct {
  LsEngine *engine;
  float threshold;
  gboolean cleanup;
  const char *save_dir;
  FILE *csv;
  float *prob;
  LsEvalSummary summary;
  double network_ms;      /* engine time, all images */
} Evaluation;

static gboolean
evaluate_one (Evaluation *ev, const LsDatasetItem *item, GError **error)
{
  LsImage img;
  int tw, th;
  g_autoptr (GdkPixbuf) pixbuf = ls_cli_load_image (item->image_path, &img, error);
  if (!pixbuf)
    return FALSE;
  g_autofree guint8 *truth = ls_cli_load_mask (item->mask_path, &tw, &th, error);
  if (!truth)
    return FALSE;
  if (tw != img.width || th != img.height) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT, "%s is %dx%d but its image %s is %dx%d",
                 item->mask_path, tw, th, item->image_path, img.width, img.height);
    return FALSE;
  }

  gint64 start = g_get_monotonic_time ();
  if (!ls_engine_run (ev->engine, &img, NULL, ev->prob, error))
    return FALSE;
  ev->network_ms += (g_get_monotonic_time () - start) / 1000.0;

  const int pw = ls_engine_get_width (ev->engine), ph = ls_engine_get_height (ev->engine);
  g_autofree guint8 *pred = g_malloc ((gsize) img.width * img.height);
  ls_mask_from_prob (ev->prob, pw, ph, ev->threshold, pred, img.width, img.height, img.width);
  if (ev->cleanup)
    ls_mask_cleanup (pred, img.width, img.height, img.width,
                     LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION);

  LsConfusion c;
  ls_confusion_count (&c, pred, img.width, truth, img.width, img.width, img.height);
  ls_eval_summary_add (&ev->summary, &c);

  if (ev->csv)
    fprintf (ev->csv, "%s,%.5f,%.5f,%.5f,%.5f,%.5f,%.5f\n", item->name,
             ls_confusion_dice (&c), ls_confusion_jaccard (&c), ls_confusion_sensitivity (&c),
             ls_confusion_specificity (&c), ls_confusion_accuracy (&c),
             (double) (c.tp + c.fn) / ((double) img.width * img.height));
  if (ev->save_dir) {
    g_autofree guint8 *rgb = ls_cli_draw_overlay (&img, pred);
    g_autofree char *name = g_strconcat (item->name, "_overlay.png", NULL);
    g_autofree char *path = g_build_filename (ev->save_dir, name, NULL);
    if (!ls_cli_save_rgb_png (path, rgb, img.width, img.height, img.width * 3, error))
      return FALSE;
  }
  return TRUE;
}

static void
print_summary (const Evaluation *ev, double seconds)
{
  const LsEvalSummary *s = &ev->summary;
  const int n = s->n_images;
  printf ("images: %d\n", n);
  printf ("backend: %s\n", ls_engine_get_backend_name (ev->engine));
  printf ("DSC (pooled): %.4f\n", ls_confusion_dice (&s->pooled));
  printf ("SE (pooled): %.4f\n", ls_confusion_sensitivity (&s->pooled));
  printf ("SP (pooled): %.4f\n", ls_confusion_specificity (&s->pooled));
  printf ("ACC (pooled): %.4f\n", ls_confusion_accuracy (&s->pooled));
  printf ("Dice (mean per image): %.4f\n", s->sum_dice / n);
  printf ("Jaccard (mean per image): %.4f\n", s->sum_jaccard / n);
  printf ("Jaccard (ISIC thresholded at %.2f): %.4f\n", LS_ISIC_JACCARD_THRESHOLD,
          s->sum_thresholded_jaccard / n);
  printf ("images below %.2f Jaccard: %d\n", LS_ISIC_JACCARD_THRESHOLD, s->n_below_threshold);
  printf ("network: %.1f ms per image\n", ev->network_ms / n);
  printf ("throughput: %.1f images/s (with image decoding)\n", n / seconds);
}

int
ls_cmd_eval (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *backend_name = NULL, *csv_path = NULL, *save_dir = NULL;
  double threshold = 0.5;
  gboolean cleanup = FALSE;
  int limit = 0;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path, "Model file (safetensors)", "M" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend_name, "auto, cpu or vulkan", "B" },
    { "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &threshold, "Probability threshold (0.5)", "T" },
    { "cleanup", 0, 0, G_OPTION_ARG_NONE, &cleanup, "Fill holes, keep the largest region", NULL },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv_path, "Per-image rows to this CSV file", "FILE" },
    { "save", 0, 0, G_OPTION_ARG_FILENAME, &save_dir, "Write overlays into DIR", "DIR" },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, "Only the first N images", "N" },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("DATASET_DIR - metrics over a data set");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || !model_path ||
      !ls_cli_threshold_ok (threshold) || limit < 0) {
    fprintf (stderr, "lesionseg eval: %s\n", error ? error->message :
             "needs --model M, one DATASET_DIR and a threshold in [0, 1]");
    return 2;
  }

  LsEngineOptions options;
  ls_engine_options_init (&options);
  if (backend_name && !ls_backend_kind_from_string (backend_name, &options.backend)) {
    fprintf (stderr, "lesionseg eval: unknown backend '%s' (auto, cpu, vulkan)\n", backend_name);
    return 2;
  }
  g_autoptr (GPtrArray) items = ls_dataset_list (argv[1], &error);
  g_autoptr (LsModel) model = items ? ls_model_load (model_path, &error) : NULL;
  g_autoptr (LsEngine) engine = model ? ls_engine_new (model, &options, &error) : NULL;
  if (!engine) {
    fprintf (stderr, "lesionseg eval: %s\n", error->message);
    return 1;
  }
  if (save_dir && g_mkdir_with_parents (save_dir, 0755) != 0) {
    fprintf (stderr, "lesionseg eval: cannot create %s: %s\n", save_dir, g_strerror (errno));
    return 1;
  }

  g_autofree float *prob = g_new (float, (gsize) ls_engine_get_width (engine) *
                                         ls_engine_get_height (engine));
  Evaluation ev = { .engine = engine, .threshold = (float) threshold, .cleanup = cleanup,
                    .save_dir = save_dir, .prob = prob };
  if (csv_path) {
    ev.csv = fopen (csv_path, "w");
    if (!ev.csv) {
      fprintf (stderr, "lesionseg eval: cannot write %s: %s\n", csv_path, g_strerror (errno));
      return 1;
    }
    fprintf (ev.csv, "image,dice,jaccard,sensitivity,specificity,accuracy,truth_fraction\n");
  }

  const guint n = limit ? MIN ((guint) limit, items->len) : items->len;
  gint64 start = g_get_monotonic_time ();
  int status = 0;
  for (guint i = 0; i < n && status == 0; i++)
    if (!evaluate_one (&ev, g_ptr_array_index (items, i), &error)) {
      fprintf (stderr, "lesionseg eval: %s\n", error->message);
      status = 1;
    }
  /* a full disk must not pass for a written CSV */
  if (ev.csv && (ferror (ev.csv) | fclose (ev.csv)) && status == 0) {
    fprintf (stderr, "lesionseg eval: writing %s failed: %s\n", csv_path, g_strerror (errno));
    status = 1;
  }
  if (status == 0)
    print_summary (&ev, (g_get_monotonic_time () - start) / 1e6);
  return status;
}
