/* Hostile input: frames of every odd shape, ROIs outside the frame, a
 * 2 GB model file, a model file changed on disk under a running engine, and
 * a replay of every committed fuzz input (corpus and regressions).
 *
 * Frames here are allocated to the exact byte the last pixel ends at,
 * stride * (height - 1) + width * bpp (the last row carries no padding), so
 * under AddressSanitizer any read past the frame is a heap overflow.
 *
 * NaN/Inf weights are refused at load in test-model-file.c; not repeated.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE   /* memfd_create, in the included fuzz target */

#include "lesionseg.h"
#include "model-private.h"
#include "safetensors.h"
#include "st-writer.h"
#include "model-fixture.h"
#include "engine-helper.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The library logs in its own domain (core/meson.build). */
#define LIB_LOG_DOMAIN "lesionseg"

static const LsPixelFormat all_formats[] = {
  LS_PIXEL_RGB, LS_PIXEL_BGR, LS_PIXEL_RGBA, LS_PIXEL_BGRA, LS_PIXEL_ARGB,
  LS_PIXEL_ABGR, LS_PIXEL_RGBX, LS_PIXEL_BGRX, LS_PIXEL_XRGB, LS_PIXEL_XBGR,
};

/* Byte offsets of R, G, B, written out here rather than taken from frame.c. */
static void
rgb_offsets (LsPixelFormat format, int off[3])
{
  switch (format) {
    case LS_PIXEL_RGB: case LS_PIXEL_RGBA: case LS_PIXEL_RGBX:
      off[0] = 0; off[1] = 1; off[2] = 2; break;
    case LS_PIXEL_BGR: case LS_PIXEL_BGRA: case LS_PIXEL_BGRX:
      off[0] = 2; off[1] = 1; off[2] = 0; break;
    case LS_PIXEL_ARGB: case LS_PIXEL_XRGB:
      off[0] = 1; off[1] = 2; off[2] = 3; break;
    case LS_PIXEL_ABGR: case LS_PIXEL_XBGR:
      off[0] = 3; off[1] = 2; off[2] = 1; break;
    default:
      g_assert_not_reached ();
  }
}

/* A frame in its own allocation of exactly the bytes it spans. */
typedef struct {
  LsImage image;
  gsize size;
} Frame;

/* Packs @rgb (w x h, 3 bytes a pixel) into @format with @pad bytes after
 * every row but the last; padding and A/X bytes are random. */
static Frame
frame_pack (GRand *rand, const guint8 *rgb, int w, int h, LsPixelFormat format, int pad)
{
  const int bpp = ls_pixel_format_bpp (format);
  const int stride = w * bpp + pad;
  const gsize size = (gsize) stride * (h - 1) + (gsize) w * bpp;
  guint8 *data = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_rand_int_range (rand, 0, 256);
  int off[3];
  rgb_offsets (format, off);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        data[(gsize) y * stride + (gsize) x * bpp + off[c]] = rgb[((gsize) y * w + x) * 3 + c];
  return (Frame) { { data, w, h, stride, format }, size };
}

static void
frame_clear (Frame *f)
{
  g_free ((guint8 *) f->image.data);
  f->image.data = NULL;
}

static guint8 *
random_rgb (GRand *rand, int w, int h)
{
  guint8 *rgb = g_malloc ((gsize) w * h * 3);
  for (gsize i = 0; i < (gsize) w * h * 3; i++)
    rgb[i] = (guint8) g_rand_int_range (rand, 0, 256);
  return rgb;
}

static float *
to_tensor_ok (const LsImage *image, const LsRect *roi, int ow, int oh)
{
  float *out = g_new (float, 3 * (gsize) ow * oh);
  g_autoptr (GError) error = NULL;
  g_assert_true (ls_image_to_tensor (image, roi, LS_INPUT_NORM_MINMAX255, ow, oh, out, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < 3 * (gsize) ow * oh; i++)
    g_assert_true (out[i] >= 0.0f && out[i] <= 255.0f + 1e-3f);
  return out;
}

/* Asserts a refusal with LS_ERROR_INPUT whose message contains @needle,
 * and that @out was not written. */
static void
to_tensor_refused (const LsImage *image, const LsRect *roi, int ow, int oh, const char *needle)
{
  const gsize n = 3 * (gsize) MAX (ow, 1) * MAX (oh, 1);
  float *out = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    out[i] = 12345.0f;
  g_autoptr (GError) error = NULL;
  g_assert_false (ls_image_to_tensor (image, roi, LS_INPUT_NORM_MINMAX255, ow, oh, out, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_INPUT);
  if (strstr (error->message, needle) == NULL)
    g_error ("error message \"%s\" does not mention \"%s\"", error->message, needle);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat (out[i], ==, 12345.0f);
  g_free (out);
}

/* ---- frames ------------------------------------------------------------- */

/* Zero and negative sizes, in every format, with or without pixel data. */
static void
test_zero_size (void)
{
  static const guint8 pixels[16];
  for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++) {
    const int bpp = ls_pixel_format_bpp (all_formats[f]);
    const int sizes[][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 0, 211 }, { 333, 0 }, { -1, 1 },
                             { 1, -1 }, { G_MININT, 1 } };
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
      LsImage im = { pixels, sizes[s][0], sizes[s][1], 4 * bpp, all_formats[f] };
      g_autofree char *needle = g_strdup_printf ("frame size %dx%d is empty",
                                                 sizes[s][0], sizes[s][1]);
      to_tensor_refused (&im, NULL, 224, 224, needle);
      const LsRect roi = { 0, 0, 1, 1 };
      to_tensor_refused (&im, &roi, 224, 224, needle);
    }
    /* a 1x1 frame, a zero-size tensor */
    LsImage one = { pixels, 1, 1, bpp, all_formats[f] };
    to_tensor_refused (&one, NULL, 0, 224, "tensor size 0x224 is empty");
    to_tensor_refused (&one, NULL, 224, 0, "tensor size 224x0 is empty");
  }
}

/* A 1x1 frame in every format, alone in an allocation of bpp bytes: any
 * size of tensor, a constant image, so all zeros. Thin frames likewise. */
static void
test_one_pixel (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  const int sizes[][2] = { { 1, 1 }, { 1, 211 }, { 333, 1 } };
  for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
      const int w = sizes[s][0], h = sizes[s][1];
      g_autofree guint8 *rgb = random_rgb (rand, w, h);
      if (w == 1 && h == 1)
        rgb[0] = rgb[1] = rgb[2] = 77;   /* constant */
      Frame fr = frame_pack (rand, rgb, w, h, all_formats[f], 5);
      const int outs[][2] = { { 1, 1 }, { 224, 224 }, { 7, 300 } };
      for (guint o = 0; o < G_N_ELEMENTS (outs); o++) {
        g_autofree float *out = to_tensor_ok (&fr.image, NULL, outs[o][0], outs[o][1]);
        if (w == 1 && h == 1)
          for (gsize i = 0; i < 3 * (gsize) outs[o][0] * outs[o][1]; i++)
            g_assert_cmpfloat (out[i], ==, 0.0f);
      }
      const LsRect whole = { 0, 0, w, h };
      g_free (to_tensor_ok (&fr.image, &whole, 5, 5));
      frame_clear (&fr);
    }
}

/* 333x211 (odd in both axes, not a multiple of anything) in every format
 * and several row paddings gives exactly the tensor of the same pixels
 * packed as tight RGB, shrinking, enlarging and mixed. */
static void
test_odd_sizes_padded (void)
{
  const int w = 333, h = 211;
  g_autoptr (GRand) rand = g_rand_new_with_seed (333);
  g_autofree guint8 *rgb = random_rgb (rand, w, h);
  const int outs[][2] = { { 224, 224 }, { 64, 48 }, { 401, 233 } };
  const int pads[] = { 0, 1, 3, 13, 64 };
  const LsRect roi = { 17, 9, 301, 187 };

  for (guint o = 0; o < G_N_ELEMENTS (outs); o++) {
    const int ow = outs[o][0], oh = outs[o][1];
    const gsize n = 3 * (gsize) ow * oh * sizeof (float);
    LsImage tight = { rgb, w, h, w * 3, LS_PIXEL_RGB };
    g_autofree float *ref = to_tensor_ok (&tight, NULL, ow, oh);
    g_autofree float *ref_roi = to_tensor_ok (&tight, &roi, ow, oh);
    for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++)
      for (guint p = 0; p < G_N_ELEMENTS (pads); p++) {
        Frame fr = frame_pack (rand, rgb, w, h, all_formats[f], pads[p]);
        g_autofree float *out = to_tensor_ok (&fr.image, NULL, ow, oh);
        g_assert_cmpmem (out, n, ref, n);
        g_autofree float *out_roi = to_tensor_ok (&fr.image, &roi, ow, oh);
        g_assert_cmpmem (out_roi, n, ref_roi, n);
        frame_clear (&fr);
      }
  }
}

/* ROIs partly or wholly outside the frame are refused, naming the ROI and
 * the frame, and nothing is read or written; a ROI touching the right and
 * bottom edges works and equals the same pixels cropped out. */
static void
test_roi_outside (void)
{
  const int w = 333, h = 211;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autofree guint8 *rgb = random_rgb (rand, w, h);

  for (guint f = 0; f < G_N_ELEMENTS (all_formats); f += 3) {
    Frame fr = frame_pack (rand, rgb, w, h, all_formats[f], 3);
    const LsRect outside[] = {
      { 300, 10, 50, 50 },     /* past the right edge */
      { 10, 200, 50, 50 },     /* past the bottom */
      { -10, 10, 50, 50 },     /* before the left */
      { 10, -5, 50, 50 },      /* above the top */
      { 283, 161, 51, 50 },    /* one pixel too wide at the corner */
      { 283, 161, 50, 51 },    /* one pixel too tall */
      { 333, 0, 1, 1 },        /* just right of the frame */
      { 0, 211, 1, 1 },        /* just below */
      { 400, 300, 10, 10 },    /* wholly outside */
      { -100, -100, 10, 10 },
      { -1, -1, 335, 213 },    /* around the frame */
      { G_MAXINT - 5, 0, 10, 10 },   /* x + width overflows int */
      { 0, G_MAXINT, 1, G_MAXINT },
      { G_MININT, G_MININT, G_MAXINT, G_MAXINT },
    };
    for (guint i = 0; i < G_N_ELEMENTS (outside); i++) {
      const LsRect *r = &outside[i];
      g_autofree char *needle =
        g_strdup_printf ("ROI %dx%d at (%d, %d) is not inside the 333x211 frame",
                         r->width, r->height, r->x, r->y);
      to_tensor_refused (&fr.image, r, 32, 32, needle);
    }
    const LsRect empty[] = { { 10, 10, 0, 5 }, { 10, 10, 5, -1 }, { 400, 400, 0, 0 } };
    for (guint i = 0; i < G_N_ELEMENTS (empty); i++) {
      g_autofree char *needle =
        g_strdup_printf ("ROI %dx%d at (%d, %d) is empty (frame 333x211)",
                         empty[i].width, empty[i].height, empty[i].x, empty[i].y);
      to_tensor_refused (&fr.image, &empty[i], 32, 32, needle);
    }

    /* the bottom-right corner, exactly inside: reads the frame's last byte */
    const LsRect corner = { 283, 161, 50, 50 };
    g_autofree guint8 *crop = g_malloc (50 * 50 * 3);
    for (int y = 0; y < 50; y++)
      memcpy (crop + (gsize) y * 150, rgb + ((gsize) (161 + y) * w + 283) * 3, 150);
    LsImage cropped = { crop, 50, 50, 150, LS_PIXEL_RGB };
    for (int size = 7; size <= 97; size += 45) {
      g_autofree float *a = to_tensor_ok (&fr.image, &corner, size, size);
      g_autofree float *b = to_tensor_ok (&cropped, NULL, size, size);
      g_assert_cmpmem (a, 3 * size * size * sizeof (float), b, 3 * size * size * sizeof (float));
    }
    frame_clear (&fr);
  }
}

/* Short strides are refused for every format, even by one byte. */
static void
test_short_stride (void)
{
  static guint8 pixels[333 * 4 * 2];
  for (guint f = 0; f < G_N_ELEMENTS (all_formats); f++) {
    const int bpp = ls_pixel_format_bpp (all_formats[f]);
    const int strides[] = { 333 * bpp - 1, 1, 0, -333 * bpp };
    for (guint s = 0; s < G_N_ELEMENTS (strides); s++) {
      LsImage im = { pixels, 333, 2, strides[s], all_formats[f] };
      g_autofree char *needle = g_strdup_printf ("frame stride %d bytes is shorter", strides[s]);
      to_tensor_refused (&im, NULL, 16, 16, needle);
    }
  }
}

/* ---- engines ------------------------------------------------------------ */

/* The engine passes frame errors on unchanged, and runs fine afterwards. */
static void
test_engine_refuses (void)
{
  g_autoptr (LsModel) model = ls_model_new_random (&st_small_config, 1);
  g_autoptr (LsEngine) engine = test_engine_new (model, LS_BACKEND_CPU, 0, 0, 1);
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  g_autofree guint8 *rgb = random_rgb (rand, 333, 211);
  Frame fr = frame_pack (rand, rgb, 333, 211, LS_PIXEL_BGRA, 1);
  const gsize n = 32 * 32;
  g_autofree float *prob = g_new (float, n);
  g_autofree float *first = g_new (float, n);
  GError *error = NULL;

  g_assert_true (ls_engine_run (engine, &fr.image, NULL, first, &error));
  g_assert_no_error (error);

  const LsRect outside = { 300, 200, 50, 50 };
  for (gsize i = 0; i < n; i++)
    prob[i] = -1.0f;
  g_assert_false (ls_engine_run (engine, &fr.image, &outside, prob, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "ROI 50x50 at (300, 200) is not inside the 333x211 frame"));
  g_clear_error (&error);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat (prob[i], ==, -1.0f);

  LsImage empty = fr.image;
  empty.width = 0;
  g_assert_false (ls_engine_run (engine, &empty, NULL, prob, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_INPUT);
  g_clear_error (&error);

  g_assert_true (ls_engine_run (engine, &fr.image, NULL, prob, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (prob, n * sizeof (float), first, n * sizeof (float));
  frame_clear (&fr);
}

/* ---- model files on disk ------------------------------------------------ */


/* Peak resident set (kB), from /proc/self/status. */
static gint64
vm_hwm_kb (void)
{
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  const char *line = strstr (status, "VmHWM:");
  g_assert_nonnull (line);
  return g_ascii_strtoll (line + strlen ("VmHWM:"), NULL, 10);
}

/* Lowers the peak back to the current RSS where the kernel allows it (Linux
 * 4.0+), so that the next reading is the peak of what follows. */
static void
reset_hwm (void)
{
  int fd = open ("/proc/self/clear_refs", O_WRONLY);
  if (fd >= 0) {
    if (write (fd, "5", 1) != 1)
      g_test_message ("could not reset VmHWM");
    close (fd);
  }
}

#define TWO_GB ((gint64) 2 << 30)

/* @header (may be NULL) then zeros up to 2 GB, as a sparse file: no disk
 * blocks for the zeros. */
static void
write_sparse (const char *path, const char *header)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  if (header != NULL) {
    const gsize hlen = strlen (header);
    const guint64 le = GUINT64_TO_LE ((guint64) hlen);
    g_assert_cmpint (write (fd, &le, 8), ==, 8);
    g_assert_cmpint (write (fd, header, hlen), ==, (gssize) hlen);
  }
  g_assert_cmpint (ftruncate (fd, TWO_GB), ==, 0);
  g_assert_cmpint (close (fd), ==, 0);
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_size, ==, TWO_GB);
  g_test_message ("%s: %" G_GINT64_FORMAT " bytes, %" G_GINT64_FORMAT " on disk", path,
                  (gint64) st.st_size, (gint64) st.st_blocks * 512);
}

/* Loads @path, which must fail with @code within a second and without the
 * peak RSS growing by more than 64 MB (the file is 2 GB). */
static void
load_refused_cheaply (const char *path, int code, const char *needle)
{
  reset_hwm ();
  const gint64 hwm0 = vm_hwm_kb ();
  const gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LsModel) model = ls_model_load (path, &error);
  const double seconds = (g_get_monotonic_time () - t0) / 1e6;
  const gint64 grew = vm_hwm_kb () - hwm0;
  g_assert_null (model);
  g_assert_error (error, LS_ERROR, code);
  g_assert_nonnull (strstr (error->message, path));
  if (strstr (error->message, needle) == NULL)
    g_error ("error message \"%s\" does not mention \"%s\"", error->message, needle);
  g_test_message ("%s in %.3f s, peak RSS +%" G_GINT64_FORMAT " kB", error->message, seconds,
                  grew);
  g_assert_cmpfloat (seconds, <, 1.0);
  g_assert_cmpint (grew, <, 64 * 1024);
}

/* 2 GB of zeros: the header length reads 0, an empty header, no JSON
 * object. And 2 GB
 * behind a valid header whose one tensor spans all of it: the loader finds
 * the network's tensors missing before it converts anything. */
static void
test_sparse_2gb (Fixture *f, gconstpointer data)
{
  write_sparse (f->path, NULL);
  load_refused_cheaply (f->path, LS_ERROR_FORMAT, "header is not a JSON object");

  /* data section = 2 GB - 8 - header, header padded to 8 bytes */
  GString *h = g_string_new (NULL);
  const gint64 hlen = 256;
  const gint64 nbytes = TWO_GB - 8 - hlen;
  g_string_printf (h, "{\"__metadata__\":{\"arch\":\"" LS_ARCH "\",\"dims\":\"4,8,8\","
                   "\"layers\":\"1,1,1\"},\"zeros\":{\"dtype\":\"F32\",\"shape\":[%"
                   G_GINT64_FORMAT "],\"data_offsets\":[0,%" G_GINT64_FORMAT "]}}",
                   nbytes / 4, nbytes);
  g_assert_cmpint ((gint64) h->len, <=, hlen);
  while ((gint64) h->len < hlen)
    g_string_append_c (h, ' ');
  write_sparse (f->path, h->str);
  load_refused_cheaply (f->path, LS_ERROR_TENSOR, "is missing");
  g_string_free (h, TRUE);

  /* and the parser alone accepts it without touching the data */
  reset_hwm ();
  const gint64 hwm0 = vm_hwm_kb ();
  g_autoptr (GError) error = NULL;
  g_autoptr (LsSafetensors) st = ls_safetensors_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ls_safetensors_get_n_tensors (st), ==, 1);
  g_assert_cmpint (ls_safetensors_get_tensor (st, 0)->nbytes, ==, nbytes);
  g_assert_cmpint (vm_hwm_kb () - hwm0, <, 64 * 1024);
}

typedef struct {
  LsEngine *engine;
  const LsImage *image;
  const float *expected;
  gint runs;
  gint mismatches;
  gint stop;
} Runner;

static gpointer
runner_thread (gpointer p)
{
  Runner *r = p;
  const gsize n = (gsize) ls_engine_get_width (r->engine) * ls_engine_get_height (r->engine);
  g_autofree float *prob = g_new (float, n);
  while (!g_atomic_int_get (&r->stop)) {
    GError *error = NULL;
    if (!ls_engine_run (r->engine, r->image, NULL, prob, &error)) {
      g_printerr ("engine failed: %s\n", error->message);
      g_clear_error (&error);
      g_atomic_int_inc (&r->mismatches);
    } else if (memcmp (prob, r->expected, n * sizeof (float)) != 0) {
      g_atomic_int_inc (&r->mismatches);
    }
    g_atomic_int_inc (&r->runs);
  }
  return NULL;
}

/* Lets the runner finish at least two more whole runs. */
static void
wait_runs (Runner *r)
{
  const int target = g_atomic_int_get (&r->runs) + 2;
  const gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (g_atomic_int_get (&r->runs) < target) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (1000);
  }
}

/* The model copies its weights at load: while an engine runs in another
 * thread, its model file is truncated in place, overwritten with garbage in
 * place, replaced by another model (rename over it) and removed; every run
 * still gives the first run's output bit for bit (a model reading from a
 * mapping would die of SIGBUS at the truncation). Loading the path again
 * really gets the new model. */
static void
test_file_replaced_while_running (Fixture *f, gconstpointer data)
{
  st_write_model (f->path, &st_small_config, 21, LS_DTYPE_F16, 0);
  g_autoptr (GError) error = NULL;
  LsModel *model = ls_model_load (f->path, &error);
  g_assert_no_error (error);
  LsEngine *engine = test_engine_new (model, LS_BACKEND_CPU, 0, 0, 1);
  ls_model_unref (model);   /* the engine holds its own reference */

  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autofree guint8 *rgb = random_rgb (rand, 97, 61);
  Frame fr = frame_pack (rand, rgb, 97, 61, LS_PIXEL_XRGB, 7);
  const gsize n = 32 * 32;
  g_autofree float *expected = g_new (float, n);
  g_assert_true (ls_engine_run (engine, &fr.image, NULL, expected, &error));
  g_assert_no_error (error);

  Runner r = { engine, &fr.image, expected, 0, 0, 0 };
  GThread *thread = g_thread_new ("runner", runner_thread, &r);
  wait_runs (&r);

  /* truncated in place */
  GStatBuf st;
  g_assert_cmpint (g_stat (f->path, &st), ==, 0);
  g_assert_cmpint (truncate (f->path, 0), ==, 0);
  wait_runs (&r);

  /* garbage written over it in place, at its old length */
  int fd = open (f->path, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_autofree guint8 *junk = g_malloc ((gsize) st.st_size);
  for (gsize i = 0; i < (gsize) st.st_size; i++)
    junk[i] = (guint8) g_rand_int (rand);
  g_assert_cmpint (write (fd, junk, (gsize) st.st_size), ==, (gssize) st.st_size);
  g_assert_cmpint (close (fd), ==, 0);
  wait_runs (&r);

  /* another model renamed over it */
  g_autofree char *tmp = g_strconcat (f->path, ".new", NULL);
  st_write_model (tmp, &st_small_config, 22, LS_DTYPE_F32, 0);
  g_assert_cmpint (g_rename (tmp, f->path), ==, 0);
  wait_runs (&r);

  /* the path now holds a different model: its output differs */
  {
    g_autoptr (LsModel) other = ls_model_load (f->path, &error);
    g_assert_no_error (error);
    g_autoptr (LsEngine) other_engine = test_engine_new (other, LS_BACKEND_CPU, 0, 0, 1);
    g_autofree float *prob = g_new (float, n);
    g_assert_true (ls_engine_run (other_engine, &fr.image, NULL, prob, &error));
    g_assert_no_error (error);
    g_assert_true (memcmp (prob, expected, n * sizeof (float)) != 0);
  }

  /* and gone */
  g_assert_cmpint (g_remove (f->path), ==, 0);
  wait_runs (&r);

  g_atomic_int_set (&r.stop, 1);
  g_thread_join (thread);
  g_test_message ("%d runs while the file changed, %d mismatches", r.runs, r.mismatches);
  g_assert_cmpint (r.mismatches, ==, 0);
  g_assert_cmpint (r.runs, >=, 10);

  ls_engine_free (engine);
  frame_clear (&fr);
}

/* ---- fuzz inputs -------------------------------------------------------- */

/* The libFuzzer targets themselves, built here without libFuzzer: every
 * committed input (seed corpus and regressions) goes through the same
 * checks in every build, and under -Db_sanitize=address,undefined in CI. */
#define LLVMFuzzerInitialize fuzz_frame_init
#define LLVMFuzzerTestOneInput fuzz_frame_one
#include "../fuzz/fuzz-frame.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerInitialize fuzz_model_file_init
#define LLVMFuzzerTestOneInput fuzz_model_file_one
#include "../fuzz/fuzz-model-file.c"
#undef LLVMFuzzerInitialize
#undef LLVMFuzzerTestOneInput

typedef int (*FuzzOne) (const uint8_t *data, size_t size);

static gboolean
not_fatal_lib_warning (const char *domain, GLogLevelFlags level, const char *message,
                       gpointer user_data)
{
  return !(g_strcmp0 (domain, LIB_LOG_DOMAIN) == 0 && (level & G_LOG_LEVEL_WARNING));
}

static void
drop_log (const char *domain, GLogLevelFlags level, const char *message, gpointer user_data)
{
}

/* Runs every file of tests/fuzz/<kind>/<target>/ through @one; returns how
 * many. */
static guint
replay_dir (const char *kind, const char *target, FuzzOne one)
{
  const char *data_dir = g_getenv ("LS_TEST_DATA");
  g_assert_nonnull (data_dir);
  g_autofree char *dir = g_build_filename (data_dir, "..", "fuzz", kind, target, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    return 0;
  guint count = 0;
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR) || g_str_has_suffix (name, ".md"))
      continue;
    g_autofree char *contents = NULL;
    gsize len;
    g_assert_true (g_file_get_contents (path, &contents, &len, &error));
    g_test_message ("%s/%s/%s (%" G_GSIZE_FORMAT " bytes)", kind, target, name, len);
    /* an exact-size copy: the file buffer has a trailing NUL */
    g_autofree guint8 *exact = g_memdup2 (contents, len);
    one (exact, len);
    count++;
  }
  return count;
}

static void
test_fuzz_replay (void)
{
  if (g_getenv ("LS_TEST_DATA") == NULL) {
    g_test_skip ("LS_TEST_DATA not set");
    return;
  }
  int argc = 0;
  char **argv = NULL;
  fuzz_model_file_init (&argc, &argv);
  fuzz_frame_init (&argc, &argv);
  /* the fuzz targets' handler drops warnings and aborts on criticals; here
   * g_test's own fatal handling does that */
  g_log_set_default_handler (g_log_default_handler, NULL);
  g_test_log_set_fatal_handler (not_fatal_lib_warning, NULL);
  guint handler = g_log_set_handler (LIB_LOG_DOMAIN, G_LOG_LEVEL_WARNING, drop_log, NULL);

  guint n = 0;
  n += replay_dir ("regressions", "frame", fuzz_frame_one);
  n += replay_dir ("regressions", "model-file", fuzz_model_file_one);
  n += replay_dir ("corpus", "frame", fuzz_frame_one);
  n += replay_dir ("corpus", "model-file", fuzz_model_file_one);

  g_log_remove_handler (LIB_LOG_DOMAIN, handler);
  g_test_log_set_fatal_handler (NULL, NULL);
  g_test_message ("%u fuzz inputs replayed", n);
  g_assert_cmpuint (n, >=, 20);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hostile/frame/zero-size", test_zero_size);
  g_test_add_func ("/hostile/frame/one-pixel", test_one_pixel);
  g_test_add_func ("/hostile/frame/odd-sizes-padded", test_odd_sizes_padded);
  g_test_add_func ("/hostile/frame/roi-outside", test_roi_outside);
  g_test_add_func ("/hostile/frame/short-stride", test_short_stride);
  g_test_add_func ("/hostile/engine/refuses", test_engine_refuses);
  g_test_add ("/hostile/model/sparse-2gb", Fixture, NULL, fixture_setup, test_sparse_2gb,
              fixture_teardown);
  g_test_add ("/hostile/model/replaced-while-running", Fixture, NULL, fixture_setup,
              test_file_replaced_while_running, fixture_teardown);
  g_test_add_func ("/hostile/fuzz-replay", test_fuzz_replay);
  return g_test_run ();
}
