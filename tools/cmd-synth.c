/* lesionseg synth: writes synthetic dermoscopy images with their masks in
 * the ISIC layout (images/NAME.jpg, masks/NAME_segmentation.png).
 *
 * Image i gets seed S + i and the name synth_<seed>, so runs with disjoint
 * seed ranges never collide and any file can be regenerated from its name.
 * A pair already there is never overwritten unless --overwrite says so:
 * it may come from another size or version of the generator.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "lesionseg.h"
#include "commands.h"
#include "image-io.h"
#include "cli-args.h"

static char *
image_path (const char *outdir, guint64 seed)
{
  return g_strdup_printf ("%s/images/synth_%07" G_GUINT64_FORMAT ".jpg", outdir, seed);
}

static char *
mask_path (const char *outdir, guint64 seed)
{
  return g_strdup_printf ("%s/masks/synth_%07" G_GUINT64_FORMAT "_segmentation.png", outdir, seed);
}

/* The number of the run's files already in @outdir; *first names one. */
static int
count_existing (const char *outdir, gint64 seed, int count, char **first)
{
  int n = 0;
  for (int i = 0; i < count; i++) {
    char *paths[2] = { image_path (outdir, seed + i), mask_path (outdir, seed + i) };
    for (int k = 0; k < 2; k++) {
      if (g_file_test (paths[k], G_FILE_TEST_EXISTS) && n++ == 0)
        *first = g_strdup (paths[k]);
      g_free (paths[k]);
    }
  }
  return n;
}

static gboolean
write_pair (const char *outdir, guint64 seed, const guint8 *rgb, const guint8 *mask,
            int w, int h, GError **error)
{
  g_autofree char *jpg = image_path (outdir, seed);
  g_autofree char *png = mask_path (outdir, seed);
  g_autoptr (GdkPixbuf) pb = gdk_pixbuf_new_from_data (rgb, GDK_COLORSPACE_RGB, FALSE, 8,
                                                        w, h, w * 3, NULL, NULL);
  if (!gdk_pixbuf_save (pb, jpg, "jpeg", error, "quality", "90", NULL))
    return FALSE;
  return ls_cli_save_gray_png (png, mask, w, h, w, error);
}

int
ls_cmd_synth (int argc, char **argv)
{
  gint count = 100, jobs = 0;
  gint64 seed = 0;
  gboolean overwrite = FALSE;
  g_autofree char *size = NULL;
  g_auto (GStrv) rest = NULL;
  GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count, "Number of images (default 100)", "N" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the first image; image i uses S+i (default 0)", "S" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "Image size (default 512x384)", "WxH" },
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, "Images made in parallel (default: all cores)", "J" },
    { "overwrite", 0, 0, G_OPTION_ARG_NONE, &overwrite, "Replace pairs already in OUTDIR", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &rest, NULL, "OUTDIR" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("OUTDIR - write synthetic dermoscopy images");
  g_option_context_set_summary (ctx,
      "Writes OUTDIR/images/synth_SEED.jpg and OUTDIR/masks/synth_SEED_segmentation.png\n"
      "(the ISIC layout); the same seed always gives the same pair.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("lesionseg synth: %s\n", error->message);
    return 2;
  }
  int w = 512, h = 384;
  if (size && !ls_cli_parse_size (size, 16, 16384, &w, &h)) {
    g_printerr ("lesionseg synth: --size '%s' is not WxH with sides in 16..16384\n", size);
    return 2;
  }
  if (!rest || !rest[0] || rest[1]) {
    g_printerr ("lesionseg synth: give exactly one OUTDIR (see --help)\n");
    return 2;
  }
  if (count < 0 || seed < 0 || jobs < 0) {
    g_printerr ("lesionseg synth: --count, --seed and --jobs must not be negative\n");
    return 2;
  }
  const char *outdir = rest[0];
  g_autofree char *imgdir = g_build_filename (outdir, "images", NULL);
  g_autofree char *maskdir = g_build_filename (outdir, "masks", NULL);
  if (g_mkdir_with_parents (imgdir, 0755) != 0 || g_mkdir_with_parents (maskdir, 0755) != 0) {
    g_printerr ("lesionseg synth: cannot create %s: %s\n", outdir, g_strerror (errno));
    return 1;
  }
  g_autofree char *first = NULL;
  const int existing = overwrite ? 0 : count_existing (outdir, seed, count, &first);
  if (existing) {
    g_printerr ("lesionseg synth: %s and %d other file(s) of seeds %" G_GINT64_FORMAT "..%"
                G_GINT64_FORMAT " are already there; nothing written (--overwrite replaces "
                "them, another --seed or OUTDIR keeps them)\n", first, existing - 1, seed,
                seed + count - 1);
    return 1;
  }
  if (jobs == 0)
    jobs = (int) g_get_num_processors ();

  gint64 t0 = g_get_monotonic_time ();
  GError *first_error = NULL;
  gint failed = 0;
  /* one image per thread; each image's own parallel loops then run serially */
#pragma omp parallel num_threads(jobs)
  {
    guint8 *rgb = g_malloc ((gsize) w * h * 3), *mask = g_malloc ((gsize) w * h);
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < count; i++) {
      if (g_atomic_int_get (&failed))
        continue;
      LsSynthParams p;
      ls_synth_params_init (&p);
      p.seed = (guint64) seed + (guint64) i;
      p.width = w;
      p.height = h;
      GError *err = NULL;
      if (!ls_synth_generate (&p, rgb, w * 3, mask, w, NULL, &err)
          || !write_pair (outdir, p.seed, rgb, mask, w, h, &err)) {
#pragma omp critical
        {
          if (!first_error)
            first_error = err;
          else
            g_error_free (err);
        }
        g_atomic_int_set (&failed, 1);
      }
    }
    g_free (rgb);
    g_free (mask);
  }
  if (first_error) {
    g_printerr ("lesionseg synth: %s\n", first_error->message);
    g_error_free (first_error);
    return 1;
  }
  double s = (g_get_monotonic_time () - t0) / 1e6;
  g_print ("wrote %d image pairs to %s in %.1f s (%.0f per minute, %d jobs)\n",
           count, outdir, s, s > 0 ? count / s * 60 : 0.0, jobs);
  return 0;
}
