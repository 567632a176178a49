/* ls_image_to_tensor against a naive double-precision resampler.
 *
 * The reference builds dense per-axis weight matrices straight from the
 * definitions (area overlap when shrinking, align_corners=False bilinear
 * when enlarging), resamples separably in double and stretches min-max in
 * double; it shares no code with core/frame.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg.h"

#include <math.h>
#include <string.h>

/* ---- helpers ---------------------------------------------------------- */

/* Random RGB pixels, 3 bytes each, tightly packed. */
static guint8 *
random_rgb (GRand *rand, int w, int h)
{
  guint8 *rgb = g_new (guint8, (gsize) w * h * 3);
  for (gsize i = 0; i < (gsize) w * h * 3; i++)
    rgb[i] = (guint8) g_rand_int_range (rand, 0, 256);
  return rgb;
}

/* Packs RGB into @format with @pad bytes after each row; A/X bytes get
 * random values (they must not matter). */
static guint8 *
pack (GRand *rand, const guint8 *rgb, int w, int h, LsPixelFormat format, int pad,
      int *stride)
{
  const int bpp = ls_pixel_format_bpp (format);
  int ro, go, bo;
  switch (format) {
    case LS_PIXEL_RGB: case LS_PIXEL_RGBA: case LS_PIXEL_RGBX: ro = 0; go = 1; bo = 2; break;
    case LS_PIXEL_BGR: case LS_PIXEL_BGRA: case LS_PIXEL_BGRX: ro = 2; go = 1; bo = 0; break;
    case LS_PIXEL_ARGB: case LS_PIXEL_XRGB: ro = 1; go = 2; bo = 3; break;
    case LS_PIXEL_ABGR: case LS_PIXEL_XBGR: ro = 3; go = 2; bo = 1; break;
    default: g_assert_not_reached ();
  }
  *stride = w * bpp + pad;
  guint8 *data = g_new (guint8, (gsize) *stride * h);
  for (gsize i = 0; i < (gsize) *stride * h; i++)
    data[i] = (guint8) g_rand_int_range (rand, 0, 256);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const guint8 *s = rgb + ((gsize) y * w + x) * 3;
      guint8 *d = data + (gsize) y * *stride + (gsize) x * bpp;
      d[ro] = s[0];
      d[go] = s[1];
      d[bo] = s[2];
    }
  return data;
}

/* Weight of source sample j in output i, n source samples -> m outputs. */
static double
naive_weight (int n, int m, int i, int j)
{
  if (n >= m) {
    const double lo = (double) i * n / m, hi = (double) (i + 1) * n / m;
    const double overlap = fmin (j + 1.0, hi) - fmax ((double) j, lo);
    return overlap > 0 ? overlap * m / n : 0.0;
  }
  double s = (i + 0.5) * n / m - 0.5;
  s = fmin (fmax (s, 0.0), n - 1.0);
  const int i0 = (int) floor (s);
  const double l = s - i0;
  if (j == i0)
    return 1.0 - l;
  if (j == i0 + 1)
    return l;
  return 0.0;
}

/* Naive tensor of the ROI (rx, ry, rw, rh) of a w-wide RGB image. */
static double *
naive_tensor (const guint8 *rgb, int w, int rx, int ry, int rw, int rh, int ow, int oh)
{
  double *wx = g_new (double, (gsize) ow * rw), *wy = g_new (double, (gsize) oh * rh);
  for (int i = 0; i < ow; i++)
    for (int j = 0; j < rw; j++)
      wx[i * rw + j] = naive_weight (rw, ow, i, j);
  for (int i = 0; i < oh; i++)
    for (int j = 0; j < rh; j++)
      wy[i * rh + j] = naive_weight (rh, oh, i, j);

  double *tmp = g_new0 (double, (gsize) oh * rw * 3);
  for (int oy = 0; oy < oh; oy++)
    for (int y = 0; y < rh; y++)
      for (int x = 0; x < rw; x++)
        for (int c = 0; c < 3; c++)
          tmp[((gsize) oy * rw + x) * 3 + c] += wy[oy * rh + y]
              * rgb[((gsize) (ry + y) * w + rx + x) * 3 + c];

  const gsize plane = (gsize) ow * oh;
  double *out = g_new0 (double, 3 * plane);
  for (int oy = 0; oy < oh; oy++)
    for (int ox = 0; ox < ow; ox++)
      for (int x = 0; x < rw; x++)
        for (int c = 0; c < 3; c++)
          out[c * plane + (gsize) oy * ow + ox] += wx[ox * rw + x]
              * tmp[((gsize) oy * rw + x) * 3 + c];

  double lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE;
  for (gsize i = 0; i < 3 * plane; i++) {
    lo = MIN (lo, out[i]);
    hi = MAX (hi, out[i]);
  }
  for (gsize i = 0; i < 3 * plane; i++)
    out[i] = hi > lo ? (out[i] - lo) / (hi - lo) * 255 : 0.0;

  g_free (tmp);
  g_free (wx);
  g_free (wy);
  return out;
}

static void
assert_close (const float *got, const double *want, gsize n, double tol)
{
  double worst = 0;
  gsize at = 0;
  for (gsize i = 0; i < n; i++) {
    const double d = fabs (got[i] - want[i]);
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  if (worst > tol)
    g_error ("element %" G_GSIZE_FORMAT ": got %.6f, want %.6f (|diff| %.3g > %.3g)",
             at, got[at], want[at], worst, tol);
}

/* Resamples the w x h RGB image @rgb (ROI or whole) in @format with row
 * padding and checks it against the naive reference. */
static void
check_resample_rgb (const guint8 *rgb, int w, int h, const LsRect *roi, int ow, int oh,
                    LsPixelFormat format, int pad)
{
  GRand *rand = g_rand_new_with_seed (w * 7919 + h * 31 + ow + format);
  int stride;
  guint8 *data = pack (rand, rgb, w, h, format, pad, &stride);
  LsImage image = { data, w, h, stride, format };
  float *out = g_new (float, 3 * (gsize) ow * oh);
  GError *error = NULL;

  g_assert_true (ls_image_to_tensor (&image, roi, LS_INPUT_NORM_MINMAX255, ow, oh, out, &error));
  g_assert_no_error (error);

  const LsRect r = roi ? *roi : (LsRect) { 0, 0, w, h };
  double *want = naive_tensor (rgb, w, r.x, r.y, r.width, r.height, ow, oh);
  assert_close (out, want, 3 * (gsize) ow * oh, 2e-3);

  g_free (want);
  g_free (out);
  g_free (data);
  g_rand_free (rand);
}

static void
check_resample (int w, int h, const LsRect *roi, int ow, int oh, LsPixelFormat format,
                int pad)
{
  GRand *rand = g_rand_new_with_seed (w * 131 + h);
  guint8 *rgb = random_rgb (rand, w, h);
  check_resample_rgb (rgb, w, h, roi, ow, oh, format, pad);
  g_free (rgb);
  g_rand_free (rand);
}

/* A tall image shrunk to @oh rows, whose bands of source rows alternate
 * between white (255) and dark ([0, 50]) per output row: the white bands
 * overflow a 16-bit sum of more than 257 rows, the dark ones keep the
 * contrast (and so the test's tolerance) sane. */
static void
check_tall_bright (int w, int h, int ow, int oh, LsPixelFormat format)
{
  GRand *rand = g_rand_new_with_seed (h);
  guint8 *rgb = g_new (guint8, (gsize) w * h * 3);
  for (int y = 0; y < h; y++) {
    const gboolean white = ((gint64) y * oh / h) % 2 == 0;
    for (int i = 0; i < w * 3; i++)
      rgb[(gsize) y * w * 3 + i] = (guint8) (white ? 255 : g_rand_int_range (rand, 0, 51));
  }
  check_resample_rgb (rgb, w, h, NULL, ow, oh, format, 0);
  g_free (rgb);
  g_rand_free (rand);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_shrink_odd (void)
{
  check_resample (333, 211, NULL, 64, 64, LS_PIXEL_RGBX, 12);
  check_resample (333, 211, NULL, 64, 64, LS_PIXEL_RGB, 1);
  /* Large ratios, where a 16-bit sum of the interior rows would overflow
   * (257 rows of 255 is the most it holds). */
  check_tall_bright (40, 1100, 8, 3, LS_PIXEL_BGRA);
  check_tall_bright (40, 260 * 3, 8, 3, LS_PIXEL_RGB);   /* 258 interior rows */
  check_tall_bright (40, 259 * 3, 8, 3, LS_PIXEL_RGB);   /* 257: just fits */
  check_resample (97, 13, NULL, 5, 4, LS_PIXEL_BGR, 3);
}

static void
test_enlarge (void)
{
  check_resample (7, 5, NULL, 64, 64, LS_PIXEL_RGB, 0);
  check_resample (7, 5, NULL, 64, 64, LS_PIXEL_XBGR, 5);
  check_resample (1, 1, NULL, 3, 2, LS_PIXEL_RGBA, 0);   /* constant: zeros */
}

static void
test_mixed_axes (void)
{
  /* Shrinks in x while enlarging in y, and the other way round. */
  check_resample (300, 20, NULL, 64, 64, LS_PIXEL_RGBX, 4);
  check_resample (20, 300, NULL, 64, 64, LS_PIXEL_BGR, 2);
}

static void
test_identity (void)
{
  check_resample (48, 40, NULL, 48, 40, LS_PIXEL_ARGB, 0);
}

static void
test_roi (void)
{
  const LsRect roi = { 101, 57, 150, 120 };
  check_resample (400, 300, &roi, 48, 40, LS_PIXEL_RGBX, 16);
  check_resample (400, 300, &roi, 224, 224, LS_PIXEL_RGB, 7);
  const LsRect corner = { 399, 299, 1, 1 };
  check_resample (400, 300, &corner, 4, 4, LS_PIXEL_BGRX, 0);
  const LsRect edge = { 0, 280, 400, 20 };
  check_resample (400, 300, &edge, 32, 32, LS_PIXEL_XRGB, 8);
}

/* The same colours in every pixel format, with different paddings, give the
 * identical tensor: A/X bytes and channel order must not leak in. */
static void
test_formats (void)
{
  static const LsPixelFormat formats[] = {
    LS_PIXEL_RGB, LS_PIXEL_BGR, LS_PIXEL_RGBA, LS_PIXEL_BGRA, LS_PIXEL_ARGB,
    LS_PIXEL_ABGR, LS_PIXEL_RGBX, LS_PIXEL_BGRX, LS_PIXEL_XRGB, LS_PIXEL_XBGR,
  };
  const int w = 131, h = 77, ow = 40, oh = 50;
  GRand *rand = g_rand_new_with_seed (42);
  guint8 *rgb = random_rgb (rand, w, h);
  const LsRect roi = { 3, 2, 120, 70 };
  float *first = NULL;

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    int stride;
    guint8 *data = pack (rand, rgb, w, h, formats[f], (int) f, &stride);
    LsImage image = { data, w, h, stride, formats[f] };
    float *out = g_new (float, 3 * ow * oh);
    GError *error = NULL;

    g_assert_cmpint (ls_pixel_format_bpp (formats[f]),
                     ==, formats[f] == LS_PIXEL_RGB || formats[f] == LS_PIXEL_BGR ? 3 : 4);
    g_assert_true (ls_image_to_tensor (&image, &roi, LS_INPUT_NORM_MINMAX255, ow, oh, out,
                                       &error));
    g_assert_no_error (error);
    if (first == NULL)
      first = out;
    else {
      g_assert_cmpmem (out, 3 * ow * oh * sizeof (float), first, 3 * ow * oh * sizeof (float));
      g_free (out);
    }
    g_free (data);
  }
  g_free (first);
  g_free (rgb);
  g_rand_free (rand);
}

static void
run_rgb (const guint8 *rgb, int w, int h, int ow, int oh, float *out)
{
  LsImage image = { rgb, w, h, w * 3, LS_PIXEL_RGB };
  GError *error = NULL;
  g_assert_true (ls_image_to_tensor (&image, NULL, LS_INPUT_NORM_MINMAX255, ow, oh, out, &error));
  g_assert_no_error (error);
}

/* The stretch reaches exactly 0 and (to an ulp) 255, over all channels
 * together: a dark red-only image keeps its channel ratios. */
static void
test_minmax_range (void)
{
  const int w = 90, h = 70, ow = 33, oh = 21;
  GRand *rand = g_rand_new_with_seed (7);
  guint8 *rgb = random_rgb (rand, w, h);
  float *out = g_new (float, 3 * ow * oh);

  /* Squeeze values into [40, 90]: the stretch must still span [0, 255]. */
  for (gsize i = 0; i < (gsize) w * h * 3; i++)
    rgb[i] = 40 + rgb[i] % 51;
  run_rgb (rgb, w, h, ow, oh, out);
  float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
  for (int i = 0; i < 3 * ow * oh; i++) {
    lo = MIN (lo, out[i]);
    hi = MAX (hi, out[i]);
  }
  g_assert_cmpfloat (lo, ==, 0.0f);
  g_assert_cmpfloat_with_epsilon (hi, 255.0f, 1e-3);

  /* Per-image, not per-channel: R in {10, 60}, G = B = 0 -> G, B planes are
   * the minimum (0), R maps 10 -> 42.5 and 60 -> 255. 1:1 so no filtering. */
  for (int i = 0; i < w * h; i++) {
    rgb[3 * i] = (i % 2) ? 60 : 10;
    rgb[3 * i + 1] = rgb[3 * i + 2] = 0;
  }
  float *same = g_new (float, 3 * w * h);
  run_rgb (rgb, w, h, w, h, same);
  for (int i = 0; i < w * h; i++) {
    g_assert_cmpfloat_with_epsilon (same[i], (i % 2) ? 255.0f : 42.5f, 1e-3);
    g_assert_cmpfloat (same[w * h + i], ==, 0.0f);
    g_assert_cmpfloat (same[2 * w * h + i], ==, 0.0f);
  }

  g_free (same);
  g_free (out);
  g_free (rgb);
  g_rand_free (rand);
}

/* A grey frame gives zeros even though the float filter leaves it uneven by
 * ~1e-5 (weights that do not sum to exactly 1); a single-colour frame is
 * stretched across channels. */
static void
test_constant (void)
{
  static const int sizes[][4] = {
    { 333, 211, 64, 64 }, { 1920, 1080, 224, 224 }, { 7, 5, 64, 64 }, { 300, 20, 64, 64 },
  };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    const int w = sizes[s][0], h = sizes[s][1], ow = sizes[s][2], oh = sizes[s][3];
    guint8 *rgb = g_new (guint8, (gsize) w * h * 3);
    float *out = g_new (float, 3 * ow * oh);

    memset (rgb, 173, (gsize) w * h * 3);
    run_rgb (rgb, w, h, ow, oh, out);
    for (int i = 0; i < 3 * ow * oh; i++)
      g_assert_cmpfloat (out[i], ==, 0.0f);

    for (gsize i = 0; i < (gsize) w * h; i++) {
      rgb[3 * i] = 10;
      rgb[3 * i + 1] = 200;
      rgb[3 * i + 2] = 30;
    }
    run_rgb (rgb, w, h, ow, oh, out);
    for (int i = 0; i < ow * oh; i++) {
      g_assert_cmpfloat_with_epsilon (out[i], 0.0f, 1e-3);
      g_assert_cmpfloat_with_epsilon (out[ow * oh + i], 255.0f, 1e-3);
      g_assert_cmpfloat_with_epsilon (out[2 * ow * oh + i], 20.0f / 190.0f * 255.0f, 1e-3);
    }
    g_free (out);
    g_free (rgb);
  }
}

static void
expect_input_error (const LsImage *image, const LsRect *roi, int ow, int oh,
                    const char *needle)
{
  float out[3 * 4 * 4];
  GError *error = NULL;
  g_assert_false (ls_image_to_tensor (image, roi, LS_INPUT_NORM_MINMAX255, ow, oh, out, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_INPUT);
  if (strstr (error->message, needle) == NULL)
    g_error ("error \"%s\" does not mention \"%s\"", error->message, needle);
  g_test_message ("expected error: %s", error->message);
  g_clear_error (&error);
}

static void
test_errors (void)
{
  static guint8 pixels[64 * 48 * 4];
  const LsImage good = { pixels, 64, 48, 64 * 4, LS_PIXEL_RGBA };
  LsImage im;

  im = good; im.data = NULL;
  expect_input_error (&im, NULL, 4, 4, "no pixel data");
  im = good; im.width = 0;
  expect_input_error (&im, NULL, 4, 4, "0x48");
  im = good; im.height = -3;
  expect_input_error (&im, NULL, 4, 4, "64x-3");
  im = good; im.stride = 64 * 4 - 1;
  expect_input_error (&im, NULL, 4, 4, "255");
  im = good; im.format = LS_PIXEL_RGB; im.stride = 64 * 3 - 2;
  expect_input_error (&im, NULL, 4, 4, "192 bytes");
  im = good; im.format = (LsPixelFormat) 99;
  expect_input_error (&im, NULL, 4, 4, "pixel format 99");
  expect_input_error (&good, NULL, 0, 4, "tensor size 0x4");

  const LsRect outside_right = { 60, 0, 5, 10 };
  expect_input_error (&good, &outside_right, 4, 4, "5x10 at (60, 0) is not inside the 64x48");
  const LsRect outside_bottom = { 0, 40, 10, 9 };
  expect_input_error (&good, &outside_bottom, 4, 4, "not inside the 64x48");
  const LsRect negative = { -1, 0, 10, 10 };
  expect_input_error (&good, &negative, 4, 4, "(-1, 0)");
  const LsRect huge = { 10, 10, G_MAXINT, 10 };   /* x + width overflows int */
  expect_input_error (&good, &huge, 4, 4, "not inside");
  const LsRect empty = { 10, 10, 0, 5 };
  expect_input_error (&good, &empty, 4, 4, "0x5 at (10, 10) is empty");

  /* The whole frame as an explicit ROI is fine. */
  const LsRect all = { 0, 0, 64, 48 };
  float out[3 * 4 * 4];
  GError *error = NULL;
  g_assert_true (ls_image_to_tensor (&good, &all, LS_INPUT_NORM_MINMAX255, 4, 4, out, &error));
  g_assert_no_error (error);
}

/* Timing of the case the plugin lives on; run with -m perf. */
static void
test_perf_1080p (void)
{
  if (!g_test_perf ()) {
    g_test_skip ("run with -m perf");
    return;
  }
  const int w = 1920, h = 1080;
  GRand *rand = g_rand_new_with_seed (1);
  guint8 *data = g_new (guint8, (gsize) w * h * 4);
  for (gsize i = 0; i < (gsize) w * h * 4; i++)
    data[i] = (guint8) g_rand_int (rand);
  float *out = g_new (float, 3 * 224 * 224);
  static const struct { LsPixelFormat format; int bpp; const char *name; } cases[] = {
    { LS_PIXEL_RGBX, 4, "RGBx" }, { LS_PIXEL_RGB, 3, "RGB" },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    LsImage image = { data, w, h, w * cases[c].bpp, cases[c].format };
    double best = G_MAXDOUBLE;
    for (int it = 0; it < 50; it++) {
      g_test_timer_start ();
      g_assert_true (ls_image_to_tensor (&image, NULL, LS_INPUT_NORM_MINMAX255, 224, 224,
                                         out, NULL));
      best = MIN (best, g_test_timer_elapsed ());
    }
    g_test_minimized_result (best * 1e3, "1920x1080 %s -> 224x224: %.3f ms (best of 50)",
                             cases[c].name, best * 1e3);
  }
  g_free (out);
  g_free (data);
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/frame/shrink-odd", test_shrink_odd);
  g_test_add_func ("/frame/enlarge", test_enlarge);
  g_test_add_func ("/frame/mixed-axes", test_mixed_axes);
  g_test_add_func ("/frame/identity", test_identity);
  g_test_add_func ("/frame/roi", test_roi);
  g_test_add_func ("/frame/formats", test_formats);
  g_test_add_func ("/frame/minmax-range", test_minmax_range);
  g_test_add_func ("/frame/constant", test_constant);
  g_test_add_func ("/frame/errors", test_errors);
  g_test_add_func ("/frame/perf-1080p", test_perf_1080p);
  return g_test_run ();
}
