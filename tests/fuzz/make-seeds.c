/* Writes the hand-made seed corpora:
 *   make-seeds MODEL_DIR FRAME_DIR
 * MODEL_DIR gets small valid model files in each dtype (st_small_config,
 * far smaller than the bundled models, so mutations reach the header often)
 * and one-tensor safetensors files; FRAME_DIR gets inputs for fuzz-frame
 * that decode to typical frames and masks (layout: see fuzz-frame.c).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "st-writer.h"

#include <math.h>
#include <string.h>

static void
write_file (const char *dir, const char *name, GBytes *bytes)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  st_write_bytes (path, bytes);
}

static void
model_seeds (const char *dir)
{
  const LsDType dtypes[] = { LS_DTYPE_F32, LS_DTYPE_F16, LS_DTYPE_BF16 };
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++) {
    g_autofree char *name = g_strdup_printf ("small-%s.safetensors", ls_dtype_name (dtypes[i]));
    g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 1 + i, dtypes[i], 0);
    g_autoptr (GBytes) b = st_writer_to_bytes (w);
    write_file (dir, name, b);
  }
  {
    g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 7, LS_DTYPE_F16,
                                                  ST_MODEL_WITH_UNUSED);
    g_autoptr (GBytes) b = st_writer_to_bytes (w);
    write_file (dir, "small-unused-F16.safetensors", b);
  }
  /* one tensor of each dtype, a 4-D one, an empty one, metadata only */
  const float v[12] = { 0, 1, -1, 0.5f, 1e-8f, 65504, -2, 3.25f, 1e30f, -0.0f, 7, 8 };
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++) {
    g_autoptr (StWriter) w = st_writer_new ();
    st_writer_set_metadata (w, "format", "pt");
    const gint64 shape[2] = { 3, 4 };
    st_writer_add (w, "t", dtypes[i], 2, shape, v);
    const gint64 shape4[4] = { 1, 2, 3, 2 };
    st_writer_add (w, "u.weight", dtypes[i], 4, shape4, v);
    const gint64 empty[1] = { 0 };
    st_writer_add (w, "e", dtypes[i], 1, empty, v);
    g_autoptr (GBytes) b = st_writer_to_bytes (w);
    g_autofree char *name = g_strdup_printf ("tensors-%s.safetensors", ls_dtype_name (dtypes[i]));
    write_file (dir, name, b);
  }
  {
    g_autoptr (StWriter) w = st_writer_new ();
    st_writer_set_config (w, &st_small_config);
    g_autoptr (GBytes) b = st_writer_to_bytes (w);
    write_file (dir, "metadata-only.safetensors", b);
  }
  {
    g_autoptr (GBytes) b = st_raw_file ("{}", -1, NULL, 0);
    write_file (dir, "empty-header.safetensors", b);
  }
}

/* One fuzz-frame image input: the fields in fuzz_image() order. */
static void
frame_seed (const char *dir, const char *name, int fmt, int w, int h, int pad, int roi_mode,
            int rx, int ry, int rw, int rh, int ow, int oh)
{
  GByteArray *a = g_byte_array_new ();
#define PUT1(v) do { guint8 b_ = (guint8) (v); g_byte_array_append (a, &b_, 1); } while (0)
#define PUT2(v) do { PUT1 ((v) & 0xff); PUT1 (((v) >> 8) & 0xff); } while (0)
  PUT1 (0);              /* image path */
  PUT1 (fmt);
  PUT2 (w + 4);
  PUT2 (h + 4);
  PUT1 (pad);
  PUT1 (roi_mode);
  PUT2 (rx); PUT2 (ry); PUT2 (rw); PUT2 (rh);
  PUT2 (ow + 2);
  PUT2 (oh + 2);
  PUT1 (0);              /* norm */
  for (int i = 0; i < 256; i++)
    PUT1 ((i * 97) ^ (i >> 3));
  g_autoptr (GBytes) b = g_byte_array_free_to_bytes (a);
  write_file (dir, name, b);
}

static void
mask_seed (const char *dir, const char *name, int mode, int pw, int ph, int mw, int mh,
           int pad, int flags)
{
  GByteArray *a = g_byte_array_new ();
  PUT1 (1);              /* mask path */
  PUT1 (mode);
  PUT1 (pw - 1);
  PUT1 (ph - 1);
  PUT2 (mw - 1);
  PUT2 (mh - 1);
  PUT1 (pad);
  PUT1 (flags);
  PUT1 (128);            /* threshold 0.5 */
  /* a blob with a hole in the middle */
  for (int y = 0; y < ph; y++)
    for (int x = 0; x < pw; x++) {
      double d = hypot (x - pw / 2.0, y - ph / 2.0) / (MIN (pw, ph) / 2.0);
      PUT1 (d < 0.2 ? 40 : d < 0.8 ? 230 : 10);
    }
  g_autoptr (GBytes) b = g_byte_array_free_to_bytes (a);
  write_file (dir, name, b);
}

static void
frame_seeds (const char *dir)
{
  frame_seed (dir, "rgba-64x48", 2, 64, 48, 0, 0, 0, 0, 0, 0, 32, 32);
  frame_seed (dir, "rgb-333x211-pad", 0, 333, 211, 13, 0, 0, 0, 0, 0, 224 - 2, 224 - 2);
  frame_seed (dir, "bgrx-roi-inside", 7, 100, 80, 4, 1, 10, 20, 50, 40, 32, 32);
  frame_seed (dir, "argb-roi-outside", 4, 100, 80, 0, 2, 90, 70, 20, 20, 32, 32);
  frame_seed (dir, "xbgr-1x1", 9, 1, 1, 3, 0, 0, 0, 0, 0, 7, 5);
  frame_seed (dir, "bgr-enlarge", 1, 5, 3, 1, 0, 0, 0, 0, 0, 64, 48);
  frame_seed (dir, "abgr-roi-extreme", 5, 40, 40, 0, 3, 6, 3, 6, 6, 16, 16);
  mask_seed (dir, "mask-blob", 0, 16, 16, 120, 90, 3, 3);
  mask_seed (dir, "mask-blob-noprob", 4, 7, 9, 333, 211, 0, 1);
  mask_seed (dir, "mask-raw", 2, 8, 8, 50, 50, 5, 2);
}

int
main (int argc, char **argv)
{
  if (argc != 3) {
    g_printerr ("usage: %s MODEL_DIR FRAME_DIR\n", argv[0]);
    return 2;
  }
  model_seeds (argv[1]);
  frame_seeds (argv[2]);
  return 0;
}
