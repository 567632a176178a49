/* Masks: ls_mask_from_prob against a naive full upsample + threshold,
 * ls_mask_cleanup on hand-drawn masks, ls_mask_measure against hand-computed
 * values.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAD_BYTE 0x5a   /* row padding must come back untouched */

/* ---- upsampling --------------------------------------------------------- */

/* One axis of the sampling convention documented in lesionseg.h. */
static void
naive_axis (int n, int m, int i, int *a, int *b, float *l)
{
  double s = (i + 0.5) * ((double) n / m) - 0.5;
  if (s < 0)
    s = 0;
  *a = (int) floor (s);
  if (*a >= n - 1) {
    *a = *b = n - 1;
    *l = 0.0f;
  } else {
    *b = *a + 1;
    *l = (float) (s - *a);
  }
}

/* Every pixel interpolated, no shortcuts. */
static guint8 *
naive_mask (const float *prob, int pw, int ph, float t, int mw, int mh)
{
  guint8 *m = g_new (guint8, (gsize) mw * mh);
  for (int y = 0; y < mh; y++) {
    int y0, y1;
    float ly;
    naive_axis (ph, mh, y, &y0, &y1, &ly);
    for (int x = 0; x < mw; x++) {
      int x0, x1;
      float lx;
      naive_axis (pw, mw, x, &x0, &x1, &lx);
      const float top = (1.0f - lx) * prob[y0 * pw + x0] + lx * prob[y0 * pw + x1];
      const float bot = (1.0f - lx) * prob[y1 * pw + x0] + lx * prob[y1 * pw + x1];
      const float v = (1.0f - ly) * top + ly * bot;
      m[(gsize) y * mw + x] = v >= t ? 255 : 0;
    }
  }
  return m;
}

static guint8 *
padded_mask (int mh, int mstride)
{
  guint8 *m = g_new (guint8, (gsize) mstride * mh);
  memset (m, PAD_BYTE, (gsize) mstride * mh);
  return m;
}

/* Returns the number of 255 pixels. */
static gint64
check_upsample (const float *prob, int pw, int ph, float t, int mw, int mh, int pad)
{
  const int mstride = mw + pad;
  guint8 *got = padded_mask (mh, mstride);
  guint8 *want = naive_mask (prob, pw, ph, t, mw, mh);
  gint64 on = 0;

  ls_mask_from_prob (prob, pw, ph, t, got, mw, mh, mstride);
  for (int y = 0; y < mh; y++) {
    const guint8 *g = got + (gsize) y * mstride, *w = want + (gsize) y * mw;
    for (int x = 0; x < mw; x++) {
      if (g[x] != w[x])
        g_error ("%dx%d -> %dx%d, t = %g: pixel (%d, %d) is %d, naive says %d",
                 pw, ph, mw, mh, t, x, y, g[x], w[x]);
      on += w[x] != 0;
    }
    for (int x = mw; x < mstride; x++)
      g_assert_cmpint (g[x], ==, PAD_BYTE);
  }
  g_free (want);
  g_free (got);
  return on;
}

static float *
random_map (GRand *rand, int pw, int ph)
{
  float *p = g_new (float, (gsize) pw * ph);
  for (gsize i = 0; i < (gsize) pw * ph; i++)
    p[i] = (float) g_rand_double (rand);
  return p;
}

/* A smooth lesion-like blob: a Gaussian bump of width @r cells at (cx, cy),
 * with a weaker second bump so the region is not symmetric. */
static float *
blob_map (int pw, int ph, double cx, double cy, double r)
{
  float *p = g_new (float, (gsize) pw * ph);
  for (int y = 0; y < ph; y++)
    for (int x = 0; x < pw; x++) {
      const double d1 = ((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (r * r);
      const double d2 = ((x - cx - r) * (x - cx - r) + (y - cy) * (y - cy)) / (0.25 * r * r);
      p[y * pw + x] = (float) (0.95 * exp (-d1) + 0.5 * exp (-d2));
    }
  return p;
}

static void
test_upsample_random (void)
{
  GRand *rand = g_rand_new_with_seed (3);
  float *p = random_map (rand, 16, 12);
  check_upsample (p, 16, 12, 0.5f, 101, 77, 5);
  check_upsample (p, 16, 12, 0.3f, 101, 77, 0);
  check_upsample (p, 16, 12, 0.9f, 640, 480, 3);
  check_upsample (p, 16, 12, 0.5f, 16, 12, 1);    /* same size */
  check_upsample (p, 16, 12, 0.5f, 9, 7, 2);      /* smaller: same formula */
  check_upsample (p, 16, 12, 0.5f, 16, 300, 0);   /* one axis only */
  g_free (p);

  /* Sparse: a few hot cells in a cold map, near edges and corners. */
  p = g_new0 (float, 31 * 23);
  p[0] = 0.8f;
  p[30] = 0.7f;
  p[22 * 31 + 5] = 0.99f;
  p[11 * 31 + 15] = 0.6f;
  check_upsample (p, 31, 23, 0.5f, 333, 211, 7);
  check_upsample (p, 31, 23, 0.65f, 1920, 1080, 0);
  g_free (p);
  g_rand_free (rand);
}

static void
test_upsample_blob (void)
{
  float *p = blob_map (224, 224, 120.3, 97.8, 45);
  g_assert_cmpint (check_upsample (p, 224, 224, 0.5f, 1920, 1080, 0), >, 0);
  check_upsample (p, 224, 224, 0.5f, 640, 480, 64);
  check_upsample (p, 224, 224, 0.2f, 1279, 719, 1);
  g_free (p);

  /* Touching the map's border. */
  p = blob_map (56, 40, 2, 38, 10);
  check_upsample (p, 56, 40, 0.5f, 1920, 1080, 0);
  g_free (p);
}

static void
test_upsample_all_or_nothing (void)
{
  float p[12 * 9];
  const int mw = 200, mh = 150;

  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    p[i] = 0.2f;
  g_assert_cmpint (check_upsample (p, 12, 9, 0.5f, mw, mh, 3), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    p[i] = 0.9f;
  g_assert_cmpint (check_upsample (p, 12, 9, 0.5f, mw, mh, 3), ==, mw * mh);
  /* Everything exactly at the threshold counts as inside (p >= t). */
  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    p[i] = 0.5f;
  check_upsample (p, 12, 9, 0.5f, mw, mh, 0);
  /* Threshold 0: everything. */
  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    p[i] = 0.0f;
  g_assert_cmpint (check_upsample (p, 12, 9, 0.0f, mw, mh, 0), ==, mw * mh);

  float one = 0.7f;
  g_assert_cmpint (check_upsample (&one, 1, 1, 0.5f, 7, 5, 1), ==, 35);
  g_assert_cmpint (check_upsample (&one, 1, 1, 0.75f, 7, 5, 1), ==, 0);
}

/* Cells one ulp below the threshold: float rounding of the interpolation may
 * land some pixels on the threshold. The coarse pass must not have skipped
 * them, whatever the naive version finds. */
static void
test_upsample_near_threshold (void)
{
  const float t = 0.5f, below = nextafterf (t, 0.0f);
  float p[20 * 20];
  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    p[i] = 0.0f;
  for (int y = 5; y < 15; y++)
    for (int x = 5; x < 15; x++)
      p[y * 20 + x] = (x + y) % 3 ? below : nextafterf (below, 0.0f);
  check_upsample (p, 20, 20, t, 333, 257, 0);

  const float t2 = 0.3f;
  for (guint i = 0; i < G_N_ELEMENTS (p); i++)
    p[i] = (i % 7) ? nextafterf (t2, 0.0f) : 0.1f;
  check_upsample (p, 20, 20, t2, 999, 777, 0);
}

/* The grey view samples like the mask: grey >= 128 exactly where the mask
 * at threshold 127.5 / 255 is on, and values clamp and round. */
static void
test_prob_to_gray (void)
{
  GRand *rand = g_rand_new_with_seed (9);
  const int pw = 17, ph = 13, w = 211, h = 101, stride = 215;
  float *p = random_map (rand, pw, ph);
  p[0] = -0.5f;
  p[1] = 1.5f;
  p[2] = NAN;
  guint8 *g = padded_mask (h, stride);

  ls_prob_to_gray (p, pw, ph, g, w, h, stride);
  for (int y = 0; y < h; y++) {
    int y0, y1;
    float ly;
    naive_axis (ph, h, y, &y0, &y1, &ly);
    for (int x = 0; x < w; x++) {
      int x0, x1;
      float lx;
      naive_axis (pw, w, x, &x0, &x1, &lx);
      const double v = (1.0 - ly) * ((1.0 - lx) * p[y0 * pw + x0] + lx * p[y0 * pw + x1])
                        + ly * ((1.0 - lx) * p[y1 * pw + x0] + lx * p[y1 * pw + x1]);
      const int want = isnan (v) ? 0 : (int) CLAMP (floor (v * 255 + 0.5), 0, 255);
      g_assert_cmpint (abs (g[y * stride + x] - want), <=, 1);
    }
    for (int x = w; x < stride; x++)
      g_assert_cmpint (g[y * stride + x], ==, PAD_BYTE);
  }
  g_assert_cmpint (g[0], ==, 0);           /* p = -0.5 clamps */
  g_free (g);
  g_free (p);
  g_rand_free (rand);
}

/* ---- cleanup -------------------------------------------------------------- */

typedef struct {
  guint8 *data;
  int width, height, stride;
} Mask;

/* '#' = 255, '.' = 0; rows padded with PAD_BYTE. */
static Mask
mask_from_art (const char *const *art)
{
  Mask m = { NULL, (int) strlen (art[0]), 0, 0 };
  while (art[m.height])
    m.height++;
  m.stride = m.width + 3;
  m.data = padded_mask (m.height, m.stride);
  for (int y = 0; y < m.height; y++) {
    g_assert_cmpint (strlen (art[y]), ==, m.width);
    for (int x = 0; x < m.width; x++)
      m.data[y * m.stride + x] = art[y][x] == '#' ? 255 : 0;
  }
  return m;
}

static void
assert_mask_art (const Mask *m, const char *const *art)
{
  for (int y = 0; y < m->height; y++) {
    for (int x = 0; x < m->width; x++) {
      const guint8 want = art[y][x] == '#' ? 255 : 0;
      if (m->data[y * m->stride + x] != want) {
        GString *s = g_string_new (NULL);
        for (int yy = 0; yy < m->height; yy++) {
          for (int xx = 0; xx < m->width; xx++)
            g_string_append_c (s, m->data[yy * m->stride + xx] == 255 ? '#'
                               : m->data[yy * m->stride + xx] == 0 ? '.' : '?');
          g_string_append_c (s, '\n');
        }
        g_error ("pixel (%d, %d) differs; got:\n%s", x, y, s->str);
      }
    }
    for (int x = m->width; x < m->stride; x++)
      g_assert_cmpint (m->data[y * m->stride + x], ==, PAD_BYTE);
  }
}

static void
check_cleanup (const char *const *before, LsCleanupFlags flags, const char *const *after)
{
  Mask m = mask_from_art (before);
  ls_mask_cleanup (m.data, m.width, m.height, m.stride, flags);
  assert_mask_art (&m, after);
  g_free (m.data);
}

static void
test_fill_holes (void)
{
  static const char *ring[] = {
    "..........",
    ".######...",
    ".#....#...",
    ".#.##.#...",
    ".#....#...",
    ".######...",
    "..........",
    NULL };
  static const char *ring_filled[] = {
    "..........",
    ".######...",
    ".######...",
    ".######...",
    ".######...",
    ".######...",
    "..........",
    NULL };
  check_cleanup (ring, LS_CLEANUP_FILL_HOLES, ring_filled);

  /* A ring drawn with diagonal steps still encloses its hole: the
   * background is 4-connected. */
  static const char *diamond[] = {
    "....#....",
    "...#.#...",
    "..#...#..",
    "...#.#...",
    "....#....",
    NULL };
  static const char *diamond_filled[] = {
    "....#....",
    "...###...",
    "..#####..",
    "...###...",
    "....#....",
    NULL };
  check_cleanup (diamond, LS_CLEANUP_FILL_HOLES, diamond_filled);

  /* A hole open to the image border is not a hole. */
  static const char *open_c[] = {
    "......",
    "####..",
    "...#..",
    "...#..",
    "####..",
    NULL };
  check_cleanup (open_c, LS_CLEANUP_FILL_HOLES, open_c);

  /* The foreground's bounding box is the whole image: border pixels decide. */
  static const char *full[] = {
    "#######",
    "#..####",
    "#..#..#",
    "####..#",
    ".######",
    "##..###",
    NULL };
  static const char *full_filled[] = {
    "#######",
    "#######",
    "#######",
    "#######",
    ".######",
    "##..###",
    NULL };
  check_cleanup (full, LS_CLEANUP_FILL_HOLES, full_filled);

  /* Nothing, and nothing to do without the flag. */
  static const char *empty[] = { ".....", ".....", NULL };
  check_cleanup (empty, LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION, empty);
  check_cleanup (ring, LS_CLEANUP_NONE, ring);
}

static void
test_largest_region (void)
{
  static const char *two[] = {
    "##.......",
    "##...###.",
    ".....###.",
    "#....###.",
    NULL };
  static const char *two_kept[] = {
    ".........",
    ".....###.",
    ".....###.",
    ".....###.",
    NULL };
  check_cleanup (two, LS_CLEANUP_LARGEST_REGION, two_kept);

  /* Regions are 8-connected: the piece joined only at corners (5 pixels)
   * beats the square of 4. */
  static const char *diag[] = {
    "##.....##",
    "##....#..",
    "......#..",
    ".....#...",
    NULL };
  static const char *diag_kept[] = {
    ".......##",
    "......#..",
    "......#..",
    ".....#...",
    NULL };
  check_cleanup (diag, LS_CLEANUP_LARGEST_REGION, diag_kept);

  /* A tie keeps the region that starts first in raster order. */
  static const char *tie[] = {
    "....##",
    "##..##",
    "##....",
    NULL };
  static const char *tie_kept[] = {
    "....##",
    "....##",
    "......",
    NULL };
  check_cleanup (tie, LS_CLEANUP_LARGEST_REGION, tie_kept);

  /* Holes are filled first: the ring (16 pixels, 25 filled) beats the solid
   * block (20), and the speck inside it becomes part of it. Without filling
   * the block wins. */
  static const char *ring_vs_block[] = {
    "#####.......",
    "#...#.#####.",
    "#.#.#.#####.",
    "#...#.#####.",
    "#####.#####.",
    NULL };
  static const char *ring_kept[] = {
    "#####.......",
    "#####.......",
    "#####.......",
    "#####.......",
    "#####.......",
    NULL };
  check_cleanup (ring_vs_block, LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION, ring_kept);
  static const char *block_kept[] = {
    "............",
    "......#####.",
    "......#####.",
    "......#####.",
    "......#####.",
    NULL };
  check_cleanup (ring_vs_block, LS_CLEANUP_LARGEST_REGION, block_kept);
}

/* Cleanup of a noisy upsampled mask at frame size, against the definitions
 * computed the slow way (explicit-stack flood fills on the whole frame). */
static void
flood (guint8 *lab, const guint8 *m, int w, int h, int sx, int sy, guint8 val, guint8 mark,
       gboolean eight)
{
  GArray *stack = g_array_new (FALSE, FALSE, sizeof (int));
  int start = sy * w + sx;
  lab[start] = mark;
  g_array_append_val (stack, start);
  while (stack->len) {
    const int p = g_array_index (stack, int, stack->len - 1);
    g_array_set_size (stack, stack->len - 1);
    const int x = p % w, y = p / w;
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        if ((!dx && !dy) || (!eight && dx && dy))
          continue;
        const int nx = x + dx, ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= w || ny >= h)
          continue;
        const int q = ny * w + nx;
        if (m[q] == val && !lab[q]) {
          lab[q] = mark;
          g_array_append_val (stack, q);
        }
      }
  }
  g_array_free (stack, TRUE);
}

static void
test_cleanup_noisy (void)
{
  GRand *rand = g_rand_new_with_seed (11);
  const int pw = 40, ph = 30, w = 400, h = 300;
  float *p = random_map (rand, pw, ph);
  guint8 *m = g_new (guint8, w * h), *ref = g_new (guint8, w * h);
  guint8 *lab = g_new0 (guint8, w * h);

  ls_mask_from_prob (p, pw, ph, 0.55f, m, w, h, w);
  memcpy (ref, m, w * h);

  /* Fill holes: background not 4-reachable from the border. */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && !ref[y * w + x] && !lab[y * w + x])
        flood (lab, ref, w, h, x, y, 0, 1, FALSE);
  for (int i = 0; i < w * h; i++)
    if (!ref[i] && !lab[i])
      ref[i] = 255;
  /* Largest 8-connected region, first in raster order on a tie. */
  memset (lab, 0, w * h);
  int best = -1;
  gint64 best_size = 0;
  for (int i = 0; i < w * h; i++)
    if (ref[i] && !lab[i]) {
      flood (lab, ref, w, h, i % w, i / w, 255, 2, TRUE);
      gint64 size = 0;
      for (int j = 0; j < w * h; j++)
        size += lab[j] == 2;
      if (size > best_size) {
        best_size = size;
        best = i;
      }
      for (int j = 0; j < w * h; j++)
        if (lab[j] == 2)
          lab[j] = 3;
    }
  g_assert_cmpint (best, >=, 0);
  memset (lab, 0, w * h);
  flood (lab, ref, w, h, best % w, best / w, 255, 1, TRUE);
  for (int i = 0; i < w * h; i++)
    ref[i] = lab[i] ? 255 : 0;

  ls_mask_cleanup (m, w, h, w, LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION);
  g_assert_cmpmem (m, w * h, ref, w * h);

  g_free (lab);
  g_free (ref);
  g_free (m);
  g_free (p);
  g_rand_free (rand);
}

/* ---- measurements ---------------------------------------------------------- */

static void
test_measure_rectangle (void)
{
  const int w = 40, h = 30, stride = 43;
  guint8 *m = padded_mask (h, stride);
  for (int y = 0; y < h; y++)
    memset (m + y * stride, 0, w);
  /* x 10..29, y 5..14 */
  for (int y = 5; y < 15; y++)
    memset (m + y * stride + 10, 255, 20);

  /* Same size map, p = 0.01 * x + 0.002 * y: samples at pixel centres hit
   * the cells, so the mean is p at the centroid. */
  float *p = g_new (float, w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      p[y * w + x] = 0.01f * x + 0.002f * y;

  LsMeasurements r;
  ls_mask_measure (m, w, h, stride, p, w, h, &r);
  g_assert_cmpint (r.area, ==, 200);
  g_assert_cmpint (r.bbox_x, ==, 10);
  g_assert_cmpint (r.bbox_y, ==, 5);
  g_assert_cmpint (r.bbox_width, ==, 20);
  g_assert_cmpint (r.bbox_height, ==, 10);
  g_assert_cmpfloat_with_epsilon (r.centroid_x, 19.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (r.centroid_y, 9.5, 1e-12);
  g_assert_cmpfloat_with_epsilon (r.equivalent_diameter, 15.957691216057308, 1e-9); /* sqrt(800/pi) */
  g_assert_cmpfloat_with_epsilon (r.mean_probability, 0.195 + 0.019, 1e-6);

  /* A constant 2x2 map upsampled to the frame: the mean is that constant. */
  const float c[4] = { 0.8f, 0.8f, 0.8f, 0.8f };
  ls_mask_measure (m, w, h, stride, c, 2, 2, &r);
  g_assert_cmpfloat_with_epsilon (r.mean_probability, 0.8, 1e-6);
  /* A ramp on a 2x1 map, p = 0 and 1: frame column x samples
   * s = (x + 0.5) / 20 - 0.5, clamped to [0, 1], which is 0 for x <= 9,
   * 0.025, 0.075, ..., 0.975 for x = 10..29 and 1 from x = 30 on. */
  const float ramp[2] = { 0.0f, 1.0f };
  ls_mask_measure (m, w, h, stride, ramp, 2, 1, &r);
  g_assert_cmpfloat_with_epsilon (r.mean_probability, 0.5, 1e-6);
  /* Moved right by 10 columns to x = 20..39, half of them past the clamp:
   * (sum of 0.525 + 0.05 k, k = 0..9) + 10 * 1, over 20. */
  for (int y = 5; y < 15; y++) {
    memset (m + y * stride + 10, 0, 10);
    memset (m + y * stride + 30, 255, 10);
  }
  ls_mask_measure (m, w, h, stride, ramp, 2, 1, &r);
  g_assert_cmpfloat_with_epsilon (r.mean_probability, (10 * 0.525 + 0.05 * 45 + 10) / 20, 1e-6);
  g_assert_cmpfloat_with_epsilon (r.centroid_x, 29.5, 1e-12);
  g_assert_cmpint (r.bbox_x, ==, 20);
  /* No map: no mean, the rest as before. */
  ls_mask_measure (m, w, h, stride, NULL, 0, 0, &r);
  g_assert_cmpfloat (r.mean_probability, ==, 0.0);
  g_assert_cmpint (r.area, ==, 200);

  g_free (p);
  g_free (m);
}

static void
test_measure_disc (void)
{
  /* Pixels with (x - 50)^2 + (y - 40)^2 <= 20^2: the lattice points in a
   * disc of radius 20, 1257 of them (Gauss's circle problem, OEIS A000328:
   * 1, 5, 13, 29, 49, ..., a(20) = 1257). Symmetric about (50, 40); spans
   * x 30..70, y 20..60. */
  const int w = 100, h = 80;
  guint8 *m = g_new0 (guint8, w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if ((x - 50) * (x - 50) + (y - 40) * (y - 40) <= 400)
        m[y * w + x] = 255;
  const float half = 0.5f;

  LsMeasurements r;
  ls_mask_measure (m, w, h, w, &half, 1, 1, &r);
  g_assert_cmpint (r.area, ==, 1257);
  g_assert_cmpint (r.bbox_x, ==, 30);
  g_assert_cmpint (r.bbox_y, ==, 20);
  g_assert_cmpint (r.bbox_width, ==, 41);
  g_assert_cmpint (r.bbox_height, ==, 41);
  g_assert_cmpfloat_with_epsilon (r.centroid_x, 50.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (r.centroid_y, 40.0, 1e-12);
  /* sqrt(4 * 1257 / pi) = 40.0058..., the disc's own diameter to 0.01%. */
  g_assert_cmpfloat_with_epsilon (r.equivalent_diameter, 40.00573, 1e-4);
  g_assert_cmpfloat_with_epsilon (r.mean_probability, 0.5, 1e-7);
  g_free (m);
}

static void
test_measure_empty (void)
{
  guint8 m[6 * 4] = { 0 };
  const float p[4] = { 0.9f, 0.9f, 0.9f, 0.9f };
  LsMeasurements r, zero;
  memset (&zero, 0, sizeof zero);
  memset (&r, 0x77, sizeof r);
  ls_mask_measure (m, 6, 4, 6, p, 2, 2, &r);
  g_assert_cmpmem (&r, sizeof r, &zero, sizeof zero);
}

/* A noisy mask with values other than 255 (any nonzero byte is inside) and
 * a random map, against per-pixel sums in double. */
static void
test_measure_random (void)
{
  GRand *rand = g_rand_new_with_seed (5);
  const int pw = 13, ph = 11, w = 301, h = 203, stride = 307;
  float *p = random_map (rand, pw, ph);
  guint8 *m = padded_mask (h, stride);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      m[y * stride + x] = (x > 20 && x < 290 && y > 7 && g_rand_int_range (rand, 0, 3))
                          ? (guint8) g_rand_int_range (rand, 1, 256) : 0;

  gint64 area = 0;
  double sx = 0, sy = 0, sp = 0;
  int x0 = w, x1 = -1, y0 = h, y1 = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      if (!m[y * stride + x])
        continue;
      int ax, bx, ay, by;
      float lx, ly;
      naive_axis (pw, w, x, &ax, &bx, &lx);
      naive_axis (ph, h, y, &ay, &by, &ly);
      area++;
      sx += x;
      sy += y;
      sp += (1.0 - ly) * ((1.0 - lx) * p[ay * pw + ax] + lx * p[ay * pw + bx])
            + ly * ((1.0 - lx) * p[by * pw + ax] + lx * p[by * pw + bx]);
      x0 = MIN (x0, x);
      x1 = MAX (x1, x);
      y0 = MIN (y0, y);
      y1 = MAX (y1, y);
    }

  LsMeasurements r;
  ls_mask_measure (m, w, h, stride, p, pw, ph, &r);
  g_assert_cmpint (r.area, ==, area);
  g_assert_cmpint (r.bbox_x, ==, x0);
  g_assert_cmpint (r.bbox_y, ==, y0);
  g_assert_cmpint (r.bbox_width, ==, x1 - x0 + 1);
  g_assert_cmpint (r.bbox_height, ==, y1 - y0 + 1);
  g_assert_cmpfloat_with_epsilon (r.centroid_x, sx / area, 1e-9);
  g_assert_cmpfloat_with_epsilon (r.centroid_y, sy / area, 1e-9);
  g_assert_cmpfloat_with_epsilon (r.equivalent_diameter, sqrt (4.0 * area / G_PI), 1e-9);
  g_assert_cmpfloat_with_epsilon (r.mean_probability, sp / area, 1e-5);

  g_free (m);
  g_free (p);
  g_rand_free (rand);
}

/* ---- timing (run with -m perf) ------------------------------------------- */

static void
test_perf (void)
{
  if (!g_test_perf ()) {
    g_test_skip ("run with -m perf");
    return;
  }
  const int w = 1920, h = 1080;
  guint8 *m = g_new (guint8, w * h);

  /* Lesions of a typical size: Gaussian widths of 40 and 80 cells. */
  for (int size = 40; size <= 80; size += 40) {
    float *p = blob_map (224, 224, 110, 115, size);
    double best = G_MAXDOUBLE, best_clean = G_MAXDOUBLE, best_measure = G_MAXDOUBLE;
    LsMeasurements r;

    for (int it = 0; it < 50; it++) {
      g_test_timer_start ();
      ls_mask_from_prob (p, 224, 224, 0.5f, m, w, h, w);
      best = MIN (best, g_test_timer_elapsed ());
      g_test_timer_start ();
      ls_mask_cleanup (m, w, h, w, LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION);
      best_clean = MIN (best_clean, g_test_timer_elapsed ());
      g_test_timer_start ();
      ls_mask_measure (m, w, h, w, p, 224, 224, &r);
      best_measure = MIN (best_measure, g_test_timer_elapsed ());
    }
    g_test_message ("lesion bbox %dx%d, %.1f%% of the frame", r.bbox_width, r.bbox_height,
                    100.0 * r.area / (w * h));
    g_test_minimized_result (best * 1e3, "ls_mask_from_prob 224x224 -> 1920x1080: %.3f ms",
                             best * 1e3);
    g_test_minimized_result (best_clean * 1e3,
                             "ls_mask_cleanup (fill + largest) 1920x1080: %.3f ms",
                             best_clean * 1e3);
    g_test_minimized_result (best_measure * 1e3, "ls_mask_measure 1920x1080: %.3f ms",
                             best_measure * 1e3);
    g_free (p);
  }
  g_free (m);
}

/* ---- shape ------------------------------------------------------------ */

static guint8 *
draw_ellipse (int w, int h, double cx, double cy, double a, double b, double angle)
{
  guint8 *m = g_malloc0 ((gsize) w * h);
  const double c = cos (angle), s = sin (angle);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const double u = (x - cx) * c + (y - cy) * s, v = -(x - cx) * s + (y - cy) * c;
      if (u * u / (a * a) + v * v / (b * b) <= 1.0)
        m[(gsize) y * w + x] = 255;
    }
  return m;
}

static void
test_shape_disc_and_ellipse (void)
{
  const int w = 300, h = 240;
  LsShapeMeasurements s;

  guint8 *m = draw_ellipse (w, h, 150.3, 119.6, 80, 80, 0);
  ls_mask_measure_shape (m, w, h, w, &s);
  g_assert_cmpfloat_with_epsilon (s.perimeter, 2 * G_PI * 80, 0.01 * 2 * G_PI * 80);
  g_assert_cmpfloat_with_epsilon (s.max_diameter, 160, 1.5);
  g_assert_cmpfloat (s.asymmetry, <, 0.01);
  g_assert_cmpfloat_with_epsilon (s.border_irregularity, 1.0, 0.05);
  g_free (m);

  /* A tilted ellipse is symmetric about its own axes, not the image's. */
  m = draw_ellipse (w, h, 140, 120, 110, 40, 0.5);
  ls_mask_measure_shape (m, w, h, w, &s);
  g_assert_cmpfloat_with_epsilon (s.max_diameter, 220, 2.0);
  g_assert_cmpfloat (s.asymmetry, <, 0.02);
  g_free (m);
}

static void
test_shape_rectangle (void)
{
  const int w = 64, h = 48, stride = 80;
  guint8 *m = g_malloc0 ((gsize) stride * h);
  for (int y = 10; y < 30; y++)
    memset (m + y * stride + 5, 255, 40);
  LsShapeMeasurements s;
  ls_mask_measure_shape (m, w, h, stride, &s);
  /* Straight cells between the outer pixel centres plus four corner
   * diagonals, each at the weight lesionseg.h gives it. */
  g_assert_cmpfloat_with_epsilon (s.perimeter, 0.9475 * 2 * (39 + 19) + 0.67 * 4, 1e-9);
  g_assert_cmpfloat_with_epsilon (s.max_diameter, sqrt (39.0 * 39 + 19 * 19), 1e-9);
  g_assert_cmpfloat (s.asymmetry, ==, 0.0);
  g_assert_cmpfloat_with_epsilon (s.border_irregularity,
                                  s.perimeter * s.perimeter / (4 * G_PI * 800), 1e-9);

  /* One pixel: a diamond of four diagonals, no diameter. */
  memset (m, 0, (gsize) stride * h);
  m[7 * stride + 9] = 1;
  ls_mask_measure_shape (m, w, h, stride, &s);
  g_assert_cmpfloat_with_epsilon (s.perimeter, 4 * 0.67, 1e-9);
  g_assert_cmpfloat (s.max_diameter, ==, 0.0);
  g_assert_cmpfloat (s.asymmetry, ==, 0.0);

  /* Touching the image's edge: outside counts as outside. */
  memset (m, 0, (gsize) stride * h);
  for (int y = 0; y < h; y++)
    memset (m + y * stride, 255, w);
  ls_mask_measure_shape (m, w, h, stride, &s);
  g_assert_cmpfloat_with_epsilon (s.perimeter, 0.9475 * 2 * (63 + 47) + 0.67 * 4, 1e-9);
  g_free (m);
}

static void
test_shape_irregular (void)
{
  const int w = 200, h = 200;
  guint8 *m = g_malloc0 ((gsize) w * h);
  LsShapeMeasurements s;

  /* An L: mirrored about either principal axis it misses itself a lot. */
  for (int y = 20; y < 180; y++)
    memset (m + y * w + 20, 255, 40);
  for (int y = 140; y < 180; y++)
    memset (m + y * w + 60, 255, 120);
  ls_mask_measure_shape (m, w, h, w, &s);
  g_assert_cmpfloat (s.asymmetry, >, 0.2);
  g_assert_cmpfloat (s.asymmetry, <=, 1.0);
  g_assert_cmpfloat_with_epsilon (s.max_diameter, sqrt (159.0 * 159 + 159 * 159), 1e-9);

  /* A star with deep spikes has a long border for its area. */
  memset (m, 0, (gsize) w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const double r = hypot (x - 100, y - 100), a = atan2 (y - 100, x - 100);
      if (r <= 50 + 40 * cos (12 * a))
        m[(gsize) y * w + x] = 255;
    }
  ls_mask_measure_shape (m, w, h, w, &s);
  g_assert_cmpfloat (s.border_irregularity, >, 2.0);
  g_assert_cmpfloat (s.asymmetry, <, 0.05);   /* spikes are symmetric */
  g_free (m);

  /* Empty: all zero. */
  m = g_malloc0 ((gsize) w * h);
  s.perimeter = 1;
  ls_mask_measure_shape (m, w, h, w, &s);
  g_assert_cmpfloat (s.perimeter, ==, 0.0);
  g_assert_cmpfloat (s.max_diameter, ==, 0.0);
  g_assert_cmpfloat (s.asymmetry, ==, 0.0);
  g_assert_cmpfloat (s.border_irregularity, ==, 0.0);
  g_free (m);
}

/* A square's second moments are the same in every direction, so they name
 * no axes; the most symmetric pair (its own) must be found at any angle.
 * (Taking the moments' axes gave up to 0.17 here; now at most 0.005.) */
static void
test_shape_square_any_angle (void)
{
  const int w = 240, h = 240;
  for (int deg = 0; deg < 90; deg += 7) {
    const double c = cos (deg * G_PI / 180), sn = sin (deg * G_PI / 180);
    guint8 *m = g_malloc0 ((gsize) w * h);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        const double u = (x - 119.7) * c + (y - 120.2) * sn;
        const double v = -(x - 119.7) * sn + (y - 120.2) * c;
        if (fabs (u) <= 70 && fabs (v) <= 70)
          m[(gsize) y * w + x] = 255;
      }
    LsShapeMeasurements s;
    ls_mask_measure_shape (m, w, h, w, &s);
    if (s.asymmetry >= 0.01)
      g_error ("square turned %d degrees: asymmetry %.4f", deg, s.asymmetry);
    g_free (m);
  }
}

static void
test_shape_perf (void)
{
  /* A lesion filling half a 1080p frame: the worker measures it per inference. */
  const int w = 1920, h = 1080;
  guint8 *m = draw_ellipse (w, h, 960, 540, 700, 450, 0.3);
  LsShapeMeasurements s;
  double best = G_MAXDOUBLE;
  for (int i = 0; i < 3; i++) {
    const gint64 t0 = g_get_monotonic_time ();
    ls_mask_measure_shape (m, w, h, w, &s);
    best = MIN (best, (g_get_monotonic_time () - t0) / 1e6);
  }
  g_assert_cmpfloat (s.asymmetry, <, 0.01);
  g_test_minimized_result (best * 1e3, "ls_mask_measure_shape 1920x1080: %.3f ms", best * 1e3);
  g_free (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mask/upsample/random", test_upsample_random);
  g_test_add_func ("/mask/upsample/blob", test_upsample_blob);
  g_test_add_func ("/mask/upsample/all-or-nothing", test_upsample_all_or_nothing);
  g_test_add_func ("/mask/upsample/near-threshold", test_upsample_near_threshold);
  g_test_add_func ("/mask/prob-to-gray", test_prob_to_gray);
  g_test_add_func ("/mask/cleanup/fill-holes", test_fill_holes);
  g_test_add_func ("/mask/cleanup/largest-region", test_largest_region);
  g_test_add_func ("/mask/cleanup/noisy", test_cleanup_noisy);
  g_test_add_func ("/mask/measure/rectangle", test_measure_rectangle);
  g_test_add_func ("/mask/measure/disc", test_measure_disc);
  g_test_add_func ("/mask/measure/empty", test_measure_empty);
  g_test_add_func ("/mask/measure/random", test_measure_random);
  g_test_add_func ("/mask/shape/disc-ellipse", test_shape_disc_and_ellipse);
  g_test_add_func ("/mask/shape/rectangle", test_shape_rectangle);
  g_test_add_func ("/mask/shape/irregular", test_shape_irregular);
  g_test_add_func ("/mask/shape/square-any-angle", test_shape_square_any_angle);
  g_test_add_func ("/mask/shape/perf", test_shape_perf);
  g_test_add_func ("/mask/perf", test_perf);
  return g_test_run ();
}
