/* lesionseg infer --model M [--backend B] IMAGE -o MASK.png [--prob P.png] [--overlay O.png]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <string.h>

#include "cli-args.h"
#include "commands.h"
#include "image-io.h"
#include "lesionseg.h"

int
ls_cmd_infer (int argc, char **argv)
{
  g_autofree char *model_path = NULL, *backend_name = NULL, *mask_path = NULL;
  g_autofree char *prob_path = NULL, *overlay_path = NULL;
  double threshold = 0.5;
  gboolean cleanup = FALSE;
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path, "Model file (safetensors)", "M" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend_name, "auto, cpu or vulkan", "B" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &mask_path, "Mask PNG (0/255, image size)", "MASK" },
    { "prob", 0, 0, G_OPTION_ARG_FILENAME, &prob_path, "Probability PNG (p*255)", "PROB" },
    { "overlay", 0, 0, G_OPTION_ARG_FILENAME, &overlay_path, "Image with the mask drawn", "OUT" },
    { "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &threshold, "Probability threshold (0.5)", "T" },
    { "cleanup", 0, 0, G_OPTION_ARG_NONE, &cleanup, "Fill holes, keep the largest region", NULL },
    { NULL }
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("IMAGE - segment the lesion in an image");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || !model_path ||
      !mask_path || !ls_cli_threshold_ok (threshold)) {
    fprintf (stderr, "lesionseg infer: %s\n", error ? error->message :
             "needs --model M, -o MASK.png, one IMAGE and a threshold in [0, 1]");
    return 2;
  }

  LsEngineOptions options;
  ls_engine_options_init (&options);
  if (backend_name && !ls_backend_kind_from_string (backend_name, &options.backend)) {
    fprintf (stderr, "lesionseg infer: unknown backend '%s' (auto, cpu, vulkan)\n", backend_name);
    return 2;
  }

  LsImage img;
  g_autoptr (GdkPixbuf) pixbuf = ls_cli_load_image (argv[1], &img, &error);
  g_autoptr (LsModel) model = pixbuf ? ls_model_load (model_path, &error) : NULL;
  g_autoptr (LsEngine) engine = model ? ls_engine_new (model, &options, &error) : NULL;
  if (!engine) {
    fprintf (stderr, "lesionseg infer: %s\n", error->message);
    return 1;
  }

  const int pw = ls_engine_get_width (engine), ph = ls_engine_get_height (engine);
  g_autofree float *prob = g_new (float, (gsize) pw * ph);
  g_autofree guint8 *mask = g_malloc ((gsize) img.width * img.height);
  if (!ls_engine_run (engine, &img, NULL, prob, &error)) {
    fprintf (stderr, "lesionseg infer: %s\n", error->message);
    return 1;
  }
  ls_mask_from_prob (prob, pw, ph, (float) threshold, mask, img.width, img.height, img.width);
  if (cleanup)
    ls_mask_cleanup (mask, img.width, img.height, img.width,
                     LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION);

  gboolean ok = ls_cli_save_gray_png (mask_path, mask, img.width, img.height, img.width, &error);
  if (ok && prob_path) {
    g_autofree guint8 *grey = g_malloc ((gsize) img.width * img.height);
    ls_prob_to_gray (prob, pw, ph, grey, img.width, img.height, img.width);
    ok = ls_cli_save_gray_png (prob_path, grey, img.width, img.height, img.width, &error);
  }
  if (ok && overlay_path) {
    g_autofree guint8 *rgb = ls_cli_draw_overlay (&img, mask);
    ok = ls_cli_save_rgb_png (overlay_path, rgb, img.width, img.height, img.width * 3, &error);
  }
  if (!ok) {
    fprintf (stderr, "lesionseg infer: %s\n", error->message);
    return 1;
  }

  LsMeasurements m;
  ls_mask_measure (mask, img.width, img.height, img.width, prob, pw, ph, &m);
  printf ("backend: %s\n", ls_engine_get_backend_name (engine));
  printf ("area: %" G_GINT64_FORMAT " px (%.1f%% of the image)\n", m.area,
          100.0 * m.area / ((double) img.width * img.height));
  printf ("bbox: %d,%d %dx%d\n", m.bbox_x, m.bbox_y, m.bbox_width, m.bbox_height);
  printf ("mean probability: %.3f\n", m.mean_probability);
  return 0;
}
