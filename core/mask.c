/* Probability map -> mask at frame size, cleanup, measurements.
 *
 * Upsampling runs on the streaming thread for every outgoing 1080p frame, so
 * its cost follows the lesion, not the frame: a coarse pass over the small
 * probability map finds the rectangle where the upsampled map can reach the
 * threshold, everything outside it is cleared with memset, and only the
 * inside is interpolated. Cleanup and the mean probability likewise work
 * inside the mask's bounding box.
 *
 * Sampling convention (shared by ls_mask_from_prob and ls_mask_measure, and
 * spelled out so tests can reproduce it bit for bit): per axis, mask pixel i
 * of m samples the map of n cells at s = (i + 0.5) * n / m - 0.5 (in double),
 * clamped below at 0; i0 = floor(s), l = (float) (s - i0), i1 = i0 + 1, and
 * at the right edge (i0 >= n - 1) i0 = i1 = n - 1 with l = 0. That is
 * PyTorch's bilinear with align_corners=False. The value, in float, is
 *   top = (1 - lx) * p[y0][x0] + lx * p[y0][x1]
 *   bot = (1 - lx) * p[y1][x0] + lx * p[y1][x1]
 *   v   = (1 - ly) * top + ly * bot.
 *
 * Connectivity in ls_mask_cleanup: foreground regions are 8-connected,
 * background 4-connected (the usual dual pair: a ring drawn with diagonal
 * steps encloses its hole, and two blobs touching at a corner are one).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- bilinear sampling ---------------------------------------------- */

/* Per-axis sample positions: i0[i], i1[i] and weights w0[i] = 1 - l, w1[i] = l. */
typedef struct {
  int *i0, *i1;
  float *w0, *w1;
} Lerp;

static void
lerp_init (Lerp *t, int n, int m)
{
  const double scale = (double) n / m;

  t->i0 = g_new (int, 2 * (gsize) m);
  t->i1 = t->i0 + m;
  t->w0 = g_new (float, 2 * (gsize) m);
  t->w1 = t->w0 + m;
  for (int i = 0; i < m; i++) {
    double s = (i + 0.5) * scale - 0.5;
    if (s < 0)
      s = 0;
    const int a = (int) s;
    float l;
    if (a >= n - 1) {
      t->i0[i] = t->i1[i] = n - 1;
      l = 0.0f;
    } else {
      t->i0[i] = a;
      t->i1[i] = a + 1;
      l = (float) (s - a);
    }
    t->w0[i] = 1.0f - l;
    t->w1[i] = l;
  }
}

static void
lerp_clear (Lerp *t)
{
  g_free (t->i0);
  g_free (t->w0);
}

/* dst[x - x0] for x in [x0, x1]: map row @prow interpolated horizontally. */
static void
lerp_row (const float *prow, const Lerp *lx, int x0, int x1, float *dst)
{
  for (int x = x0; x <= x1; x++)
    dst[x - x0] = lx->w0[x] * prow[lx->i0[x]] + lx->w1[x] * prow[lx->i1[x]];
}

/* Walks mask rows y0..y1 and hands each the vertical weights and the two
 * horizontally interpolated map rows it blends, over columns x0..x1. A map
 * row is interpolated once however many mask rows read it. */
typedef struct {
  const float *prob;
  int pw;
  const Lerp *lx, *ly;
  int x0, x1;
  float *buf[2];
  int buf_row[2];
} RowCache;

static void
row_cache_init (RowCache *c, const float *prob, int pw, const Lerp *lx, const Lerp *ly,
                int x0, int x1)
{
  c->prob = prob;
  c->pw = pw;
  c->lx = lx;
  c->ly = ly;
  c->x0 = x0;
  c->x1 = x1;
  c->buf[0] = g_new (float, 2 * (gsize) (x1 - x0 + 1));
  c->buf[1] = c->buf[0] + (x1 - x0 + 1);
  c->buf_row[0] = c->buf_row[1] = -1;
}

static const float *
row_cache_get (RowCache *c, int prow)
{
  for (int k = 0; k < 2; k++)
    if (c->buf_row[k] == prow)
      return c->buf[k];
  /* Rows advance monotonically: evict whichever slot holds the older row. */
  const int k = c->buf_row[0] < c->buf_row[1] ? 0 : 1;
  lerp_row (c->prob + (gsize) prow * c->pw, c->lx, c->x0, c->x1, c->buf[k]);
  c->buf_row[k] = prow;
  return c->buf[k];
}

static void
row_cache_rows (RowCache *c, int y, const float **top, const float **bot)
{
  *top = row_cache_get (c, c->ly->i0[y]);
  *bot = row_cache_get (c, c->ly->i1[y]);
}

static void
row_cache_clear (RowCache *c)
{
  g_free (c->buf[0]);
}

/* ---- probability -> mask --------------------------------------------- */

/* The columns (or rows) i of the mask whose samples read a map cell in
 * [b0, b1]: i0, i1 never decrease, so it is one run. FALSE when empty. */
static gboolean
lerp_span (const int *i0, const int *i1, int m, int b0, int b1, int *lo, int *hi)
{
  int a = 0, b = m - 1;
  while (a < m && i1[a] < b0)
    a++;
  while (b >= 0 && i0[b] > b1)
    b--;
  *lo = a;
  *hi = b;
  return a <= b;
}

void
ls_mask_from_prob (const float *prob, int pw, int ph, float threshold,
                   guint8 *mask, int mw, int mh, int mstride)
{
  g_return_if_fail (prob != NULL && mask != NULL);
  g_return_if_fail (pw > 0 && ph > 0 && mw > 0 && mh > 0 && mstride >= mw);

  /* Coarse pass. An interpolated value is a convex combination of at most
   * four cells, so it can reach the threshold only next to a cell that does;
   * float rounding can push it a few ulps above its largest cell, hence the
   * margin of 8 ulps of the largest magnitude involved (conservative: a
   * larger box costs time, never changes a pixel). */
  float maxabs = fabsf (threshold);
  for (gsize i = 0; i < (gsize) pw * ph; i++)
    maxabs = MAX (maxabs, fabsf (prob[i]));
  const float reach = threshold - 8 * FLT_EPSILON * maxabs;

  int bx0 = pw, bx1 = -1, by0 = ph, by1 = -1;
  for (int y = 0; y < ph; y++) {
    const float *row = prob + (gsize) y * pw;
    int first = -1, last = -1;
    for (int x = 0; x < pw; x++)
      if (row[x] >= reach) {
        if (first < 0)
          first = x;
        last = x;
      }
    if (first >= 0) {
      bx0 = MIN (bx0, first);
      bx1 = MAX (bx1, last);
      by0 = MIN (by0, y);
      by1 = y;
    }
  }

  Lerp lx, ly;
  int x0 = 0, x1 = -1, y0 = 0, y1 = -1;
  /* the spans can be empty even with cells over the threshold: a mask
   * smaller than the map samples only some of its cells */
  const gboolean have_lerp = bx1 >= 0;
  gboolean any = have_lerp;
  if (have_lerp) {
    lerp_init (&lx, pw, mw);
    lerp_init (&ly, ph, mh);
    any = lerp_span (lx.i0, lx.i1, mw, bx0, bx1, &x0, &x1)
          && lerp_span (ly.i0, ly.i1, mh, by0, by1, &y0, &y1);
  }

  for (int y = 0; y < mh; y++) {
    guint8 *m = mask + (gsize) y * mstride;
    if (!any || y < y0 || y > y1) {
      memset (m, 0, mw);
      continue;
    }
    memset (m, 0, x0);
    memset (m + x1 + 1, 0, mw - x1 - 1);
  }

  if (!any) {
    if (have_lerp) {
      lerp_clear (&lx);
      lerp_clear (&ly);
    }
    return;
  }

  RowCache cache;
  row_cache_init (&cache, prob, pw, &lx, &ly, x0, x1);
  const int n = x1 - x0 + 1;
  for (int y = y0; y <= y1; y++) {
    const float *top, *bot;
    row_cache_rows (&cache, y, &top, &bot);
    const float w0 = ly.w0[y], w1 = ly.w1[y];
    guint8 *restrict m = mask + (gsize) y * mstride + x0;
#pragma omp simd
    for (int i = 0; i < n; i++)
      m[i] = (w0 * top[i] + w1 * bot[i]) >= threshold ? 255 : 0;
  }
  row_cache_clear (&cache);
  lerp_clear (&lx);
  lerp_clear (&ly);
}

/* A viewable map (debugging, the CLI's probability output): same sampling
 * as the mask, every pixel, p clamped to [0, 1] then round (p * 255). */
void
ls_prob_to_gray (const float *prob, int pw, int ph,
                 guint8 *out, int width, int height, int stride)
{
  g_return_if_fail (prob != NULL && out != NULL);
  g_return_if_fail (pw > 0 && ph > 0 && width > 0 && height > 0 && stride >= width);

  Lerp lx, ly;
  lerp_init (&lx, pw, width);
  lerp_init (&ly, ph, height);
  RowCache cache;
  row_cache_init (&cache, prob, pw, &lx, &ly, 0, width - 1);
  for (int y = 0; y < height; y++) {
    const float *top, *bot;
    row_cache_rows (&cache, y, &top, &bot);
    const float w0 = ly.w0[y], w1 = ly.w1[y];
    guint8 *restrict o = out + (gsize) y * stride;
    for (int x = 0; x < width; x++) {
      const float v = (w0 * top[x] + w1 * bot[x]) * 255.0f;
      /* The negated test also sends NaN to 0. */
      o[x] = !(v > 0.0f) ? 0 : v >= 255.0f ? 255 : (guint8) (v + 0.5f);
    }
  }
  row_cache_clear (&cache);
  lerp_clear (&lx);
  lerp_clear (&ly);
}

/* ---- bounding box ---------------------------------------------------- */

typedef struct {
  int x0, y0, x1, y1;   /* inclusive; x1 < x0 when empty */
} Box;

/* The first x in [x, end) whose pixel is not of the class @nonzero, or end.
 * Steps over whole 8-byte words that are all 0 or all 255 (what
 * ls_mask_from_prob writes); other nonzero values fall back to bytes, which
 * is slower but still right. */
static int
class_end (const guint8 *row, int x, int end, gboolean nonzero)
{
  const guint64 same = nonzero ? G_MAXUINT64 : 0;
  for (; x + 8 <= end; x += 8) {
    guint64 w;
    memcpy (&w, row + x, sizeof w);
    if (w != same)
      break;
  }
  while (x < end && (row[x] != 0) == nonzero)
    x++;
  return x;
}

/* The last nonzero x in [begin, end), or begin - 1. */
static int
last_nonzero (const guint8 *row, int begin, int end)
{
  int x = end;
  for (; x - 8 >= begin; x -= 8) {
    guint64 w;
    memcpy (&w, row + x - 8, sizeof w);
    if (w)
      break;
  }
  while (x > begin && !row[x - 1])
    x--;
  return x - 1;
}

/* Bounding box of the nonzero pixels. Each row is first tested with an OR
 * reduction (SIMD, no branch per pixel); a row with something in it is
 * searched only in the columns left and right of the box found so far. */
static Box
mask_bbox (const guint8 *mask, int width, int height, int stride)
{
  Box b = { width, height, -1, -1 };

  for (int y = 0; y < height; y++) {
    const guint8 *row = mask + (gsize) y * stride;
    guint8 any = 0;
#pragma omp simd reduction(|:any)
    for (int x = 0; x < width; x++)
      any |= row[x];
    if (!any)
      continue;
    b.x0 = MIN (b.x0, class_end (row, 0, b.x0, FALSE));
    b.x1 = MAX (b.x1, last_nonzero (row, b.x1 + 1, width));
    b.y0 = MIN (b.y0, y);
    b.y1 = y;
  }
  return b;
}

/* ---- connected components -------------------------------------------- */

/* Components are labelled as runs, not pixels: a lesion mask is a few runs
 * per row, so union-find over runs touches a few hundred nodes per frame
 * where a per-pixel labelling touches every pixel of the box twice. */

/* Columns x0..x1 (inclusive) of box row y, all of one class. */
typedef struct {
  int y, x0, x1;
} Run;

typedef struct {
  Run *run;
  int n;
  int *row_start;   /* runs of box row y: row_start[y] .. row_start[y + 1] - 1 */
  int *root;        /* after label_runs(): the component of each run */
} Runs;

static int
uf_find (int *parent, int a)
{
  while (parent[a] != a) {
    parent[a] = parent[parent[a]];   /* path halving */
    a = parent[a];
  }
  return a;
}

/* The smaller index becomes the root, so a component's root is its first
 * run in raster order (used to break ties deterministically). */
static void
uf_union (int *parent, int a, int b)
{
  a = uf_find (parent, a);
  b = uf_find (parent, b);
  if (a < b)
    parent[b] = a;
  else if (b < a)
    parent[a] = b;
}

/* The runs of foreground (@fg: nonzero) or background (0) pixels in @box,
 * grouped into 8- or 4-connected components. */
static void
label_runs (const guint8 *mask, int stride, Box box, gboolean fg, gboolean eight, Runs *r)
{
  const int bw = box.x1 - box.x0 + 1, bh = box.y1 - box.y0 + 1;
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (Run));

  r->row_start = g_new (int, (gsize) bh + 1);
  for (int y = 0; y < bh; y++) {
    const guint8 *row = mask + (gsize) (box.y0 + y) * stride + box.x0;
    r->row_start[y] = (int) runs->len;
    for (int x = 0; x < bw;) {
      x = class_end (row, x, bw, !fg);
      if (x == bw)
        break;
      Run run = { y, x, x };
      x = class_end (row, x, bw, fg);
      run.x1 = x - 1;
      g_array_append_val (runs, run);
    }
  }
  r->row_start[bh] = (int) runs->len;
  r->n = (int) runs->len;
  r->run = (Run *) g_array_free (runs, FALSE);

  /* A run joins every run of the row above that it touches: overlapping
   * columns, or for 8-connectivity also diagonal neighbours (reach 1). Both
   * rows are sorted by column, so one forward sweep finds them. */
  const int reach = eight ? 1 : 0;
  int *parent = r->root = g_new (int, (gsize) r->n + 1);
  for (int i = 0; i < r->n; i++)
    parent[i] = i;
  for (int y = 1; y < bh; y++) {
    int p = r->row_start[y - 1];
    const int pend = r->row_start[y];
    for (int i = r->row_start[y]; i < r->row_start[y + 1]; i++) {
      const Run *a = &r->run[i];
      while (p < pend && r->run[p].x1 < a->x0 - reach)
        p++;
      for (int q = p; q < pend && r->run[q].x0 <= a->x1 + reach; q++)
        uf_union (parent, i, q);
    }
  }
  for (int i = 0; i < r->n; i++)
    parent[i] = uf_find (parent, i);
}

static void
runs_clear (Runs *r)
{
  g_free (r->run);
  g_free (r->row_start);
  g_free (r->root);
}

static void
fill_run (guint8 *mask, int stride, Box box, const Run *run, guint8 value)
{
  memset (mask + (gsize) (box.y0 + run->y) * stride + box.x0 + run->x0, value,
          run->x1 - run->x0 + 1);
}

/* Background regions that do not reach the image border become foreground.
 * Only the bounding box of the foreground grown by one pixel is labelled:
 * every background pixel on that box's rim is on the image border or outside
 * the foreground's bounding box, so connected to the border through the
 * all-background outside. */
static void
fill_holes (guint8 *mask, int width, int height, int stride)
{
  Box b = mask_bbox (mask, width, height, stride);
  if (b.x1 < 0)
    return;
  b.x0 = MAX (b.x0 - 1, 0);
  b.y0 = MAX (b.y0 - 1, 0);
  b.x1 = MIN (b.x1 + 1, width - 1);
  b.y1 = MIN (b.y1 + 1, height - 1);
  const int bw = b.x1 - b.x0 + 1, bh = b.y1 - b.y0 + 1;

  Runs r;
  label_runs (mask, stride, b, FALSE, FALSE, &r);
  guint8 *outside = g_new0 (guint8, (gsize) r.n + 1);
  for (int i = 0; i < r.n; i++) {
    const Run *run = &r.run[i];
    if (run->y == 0 || run->y == bh - 1 || run->x0 == 0 || run->x1 == bw - 1)
      outside[r.root[i]] = 1;
  }
  for (int i = 0; i < r.n; i++)
    if (!outside[r.root[i]])
      fill_run (mask, stride, b, &r.run[i], 255);

  g_free (outside);
  runs_clear (&r);
}

/* Keeps the largest 8-connected foreground region (on a tie, the one that
 * starts first in raster order). */
static void
keep_largest (guint8 *mask, int width, int height, int stride)
{
  const Box b = mask_bbox (mask, width, height, stride);
  if (b.x1 < 0)
    return;

  Runs r;
  label_runs (mask, stride, b, TRUE, TRUE, &r);
  gint64 *size = g_new0 (gint64, (gsize) r.n + 1);
  for (int i = 0; i < r.n; i++)
    size[r.root[i]] += r.run[i].x1 - r.run[i].x0 + 1;
  int best = 0;
  for (int i = 1; i < r.n; i++)
    if (size[i] > size[best])
      best = i;
  for (int i = 0; i < r.n; i++)
    if (r.root[i] != best)
      fill_run (mask, stride, b, &r.run[i], 0);

  g_free (size);
  runs_clear (&r);
}

/* Holes are filled first, so a ring-shaped detection competes for "largest"
 * with its filled area, and a speck inside a hole joins the region around
 * it instead of being judged on its own. */
void
ls_mask_cleanup (guint8 *mask, int width, int height, int stride, LsCleanupFlags flags)
{
  g_return_if_fail (mask != NULL);
  g_return_if_fail (width > 0 && height > 0 && stride >= width);

  if (flags & LS_CLEANUP_FILL_HOLES)
    fill_holes (mask, width, height, stride);
  if (flags & LS_CLEANUP_LARGEST_REGION)
    keep_largest (mask, width, height, stride);
}

/* ---- measurements ----------------------------------------------------- */

void
ls_mask_measure (const guint8 *mask, int width, int height, int stride,
                 const float *prob, int pw, int ph, LsMeasurements *out)
{
  g_return_if_fail (out != NULL);
  memset (out, 0, sizeof *out);
  g_return_if_fail (mask != NULL);
  g_return_if_fail (width > 0 && height > 0 && stride >= width);
  g_return_if_fail (prob == NULL || (pw > 0 && ph > 0));

  const Box b = mask_bbox (mask, width, height, stride);
  if (b.x1 < 0)
    return;

  /* One sweep over the runs of each bounding-box row: area and centroid
   * sums come from run ends in exact integers, and the probability is
   * blended only over the runs. */
  Lerp lx, ly;
  RowCache cache;
  if (prob != NULL) {
    lerp_init (&lx, pw, width);
    lerp_init (&ly, ph, height);
    row_cache_init (&cache, prob, pw, &lx, &ly, b.x0, b.x1);
  }

  gint64 area = 0, sum_x = 0, sum_y = 0;
  double total = 0;
  for (int y = b.y0; y <= b.y1; y++) {
    const guint8 *row = mask + (gsize) y * stride;
    const float *top = NULL, *bot = NULL;
    float w0 = 0, w1 = 0;
    if (prob != NULL) {
      row_cache_rows (&cache, y, &top, &bot);
      w0 = ly.w0[y];
      w1 = ly.w1[y];
    }
    for (int x = b.x0; x <= b.x1;) {
      x = class_end (row, x, b.x1 + 1, FALSE);
      if (x > b.x1)
        break;
      const int x0 = x;
      x = class_end (row, x, b.x1 + 1, TRUE);
      const gint64 n = x - x0;
      area += n;
      sum_x += n * (x0 + x - 1) / 2;   /* x0 + ... + (x - 1), always whole */
      sum_y += n * y;
      if (prob != NULL) {
        /* A float sum over one run (at most a row) is plenty for a mean;
         * runs add up in double. */
        float sp = 0;
#pragma omp simd reduction(+:sp)
        for (int i = x0 - b.x0; i < x - b.x0; i++)
          sp += w0 * top[i] + w1 * bot[i];
        total += sp;
      }
    }
  }

  out->area = area;
  out->bbox_x = b.x0;
  out->bbox_y = b.y0;
  out->bbox_width = b.x1 - b.x0 + 1;
  out->bbox_height = b.y1 - b.y0 + 1;
  out->centroid_x = (double) sum_x / area;
  out->centroid_y = (double) sum_y / area;
  out->equivalent_diameter = sqrt (4.0 * area / G_PI);

  if (prob != NULL) {
    out->mean_probability = total / area;
    row_cache_clear (&cache);
    lerp_clear (&lx);
    lerp_clear (&ly);
  }
}

/* ---- shape: perimeter, Feret diameter, asymmetry ---------------------- */

static inline gboolean
mask_at (const guint8 *mask, int width, int height, int stride, int x, int y)
{
  return x >= 0 && y >= 0 && x < width && y < height && mask[(gsize) y * stride + x] != 0;
}

/* Marching squares over the cells between pixel centres: a cell with one or
 * three inside corners holds a diagonal segment, two adjacent inside
 * corners a straight one, two opposite corners (a saddle) two diagonals.
 * Counted at their own lengths (1 and sqrt(1/2)) a straight digital border
 * comes out exact when axis-aligned or diagonal and up to 8.2% long in
 * between (22.5 degrees). The weights below are the least-squares fit over
 * all orientations (the idea of Vossepoel and Smeulders' chain-code
 * weights); by the symmetry of the two segment counts about 22.5 degrees
 * that fit keeps their ratio at sqrt(1/2), so it scales the whole length by
 * 0.9475: a straight border comes out between 5.25% short (0 and 45
 * degrees) and 2.6% long (22.5 degrees), and a border that turns through
 * all orientations, such as a disc's or a lesion's, within 1%. No local
 * weighting does better: a cell does not see its border's orientation. */
#define STRAIGHT_WEIGHT 0.9475
#define DIAGONAL_WEIGHT 0.6700

static double
shape_perimeter (const guint8 *mask, int width, int height, int stride, Box b)
{
  /* Rows of the box widened by one outside pixel each side, as 0/1 bytes,
   * so the cell loop is branch-free and vectorises. */
  const int n = b.x1 - b.x0 + 3;
  guint8 *top = g_malloc0 (n), *bot = g_malloc0 (n);
  gint64 straight = 0, diagonal = 0;
  for (int y = b.y0 - 1; y <= b.y1; y++) {
    guint8 *t = top;
    top = bot;
    bot = t;
    /* top now holds row y (it was the previous bottom); fill row y + 1 */
    if (y + 1 <= b.y1) {
      const guint8 *row = mask + (gsize) (y + 1) * stride + b.x0;
      for (int i = 0; i < n - 2; i++)
        bot[i + 1] = row[i] != 0;
    } else {
      memset (bot, 0, n);
    }
    gint64 s = 0, d = 0;
#pragma omp simd reduction(+:s, d)
    for (int i = 0; i < n - 1; i++) {
      const int k = top[i] + top[i + 1] + bot[i] + bot[i + 1];
      const int saddle = k == 2 && top[i] == bot[i + 1];
      d += (k & 1) + 2 * saddle;
      s += (k == 2) & !saddle;
    }
    straight += s;
    diagonal += d;
  }
  g_free (top);
  g_free (bot);
  (void) width;
  (void) height;
  return STRAIGHT_WEIGHT * straight + DIAGONAL_WEIGHT * diagonal;
}

typedef struct {
  gint64 x, y;
} Point;

static gint64
cross (Point o, Point a, Point b)
{
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/* Every vertex of the convex hull is the leftmost or rightmost inside pixel
 * of its row, so the hull of those (at most two a row, already sorted by y)
 * is the mask's hull; the diameter is the largest distance between two hull
 * vertices. */
static double
shape_max_diameter (const guint8 *mask, int stride, Box b)
{
  const int rows = b.y1 - b.y0 + 1;
  Point *pts = g_new (Point, 2 * (gsize) rows);
  int n = 0;
  for (int y = b.y0; y <= b.y1; y++) {
    const guint8 *row = mask + (gsize) y * stride;
    const int first = class_end (row, b.x0, b.x1 + 1, FALSE);
    if (first > b.x1)
      continue;
    pts[n++] = (Point) { first, y };
    const int last = last_nonzero (row, first, b.x1 + 1);
    if (last != first)
      pts[n++] = (Point) { last, y };
  }
  /* Andrew's monotone chain wants points sorted by (x, y); sort by (y, x)
   * works the same with the axes swapped, and rows come in y order with
   * first < last inside each. */
  Point *hull = g_new (Point, 2 * (gsize) n + 1);
  int h = 0;
  for (int i = 0; i < n; i++) {
    while (h >= 2 && cross (hull[h - 2], hull[h - 1], pts[i]) <= 0)
      h--;
    hull[h++] = pts[i];
  }
  for (int i = n - 2, lower = h + 1; i >= 0; i--) {
    while (h >= lower && cross (hull[h - 2], hull[h - 1], pts[i]) <= 0)
      h--;
    hull[h++] = pts[i];
  }
  gint64 best = 0;
  for (int i = 0; i < h; i++)
    for (int j = i + 1; j < h; j++) {
      const gint64 dx = hull[i].x - hull[j].x, dy = hull[i].y - hull[j].y;
      best = MAX (best, dx * dx + dy * dy);
    }
  g_free (hull);
  g_free (pts);
  return sqrt ((double) best);
}

/* Inside pixels on a grid of every step-th row and column, as offsets from
 * (cx, cy): the sample an axis is judged on, collected once per grid. */
typedef struct {
  float *dx, *dy;
  gsize n;
} Sample;

static Sample
sample_inside (const guint8 *mask, int stride, Box b, double cx, double cy, int step)
{
  const gsize cap = (gsize) ((b.x1 - b.x0) / step + 1) * ((b.y1 - b.y0) / step + 1);
  Sample sm = { g_new (float, cap), g_new (float, cap), 0 };
  for (int y = b.y0; y <= b.y1; y += step) {
    const guint8 *row = mask + (gsize) y * stride;
    for (int x = b.x0; x <= b.x1; x += step)
      if (row[x]) {
        sm.dx[sm.n] = (float) (x - cx);
        sm.dy[sm.n] = (float) (y - cy);
        sm.n++;
      }
  }
  return sm;
}

static void
sample_clear (Sample *sm)
{
  g_free (sm->dx);
  g_free (sm->dy);
}

/* The share of the sample whose mirror image about the axis through (cx, cy)
 * at angle theta falls outside the mask, and the same about the
 * perpendicular axis: their mean. */
static double
mirror_mismatch (const guint8 *mask, int width, int height, int stride, const Sample *sm,
                 double cx, double cy, double theta)
{
  /* Reflection about the axis; about the perpendicular one it is the
   * negation. */
  const double c2 = cos (2 * theta), s2 = sin (2 * theta);
  gint64 out_axis = 0, out_perpendicular = 0;
  for (gsize i = 0; i < sm->n; i++) {
    const double dx = sm->dx[i], dy = sm->dy[i];
    const double rx = c2 * dx + s2 * dy, ry = s2 * dx - c2 * dy;
    out_axis += !mask_at (mask, width, height, stride,
                          (int) floor (cx + rx + 0.5), (int) floor (cy + ry + 0.5));
    out_perpendicular += !mask_at (mask, width, height, stride,
                                   (int) floor (cx - rx + 0.5), (int) floor (cy - ry + 0.5));
  }
  return sm->n ? (double) (out_axis + out_perpendicular) / (2.0 * sm->n) : 0.0;
}

/* The best of n angles on one sample: returns its angle, *best its value. */
static double
best_axis (const guint8 *mask, int width, int height, int stride, const Sample *sm,
           double cx, double cy, const double *angles, int n, double *best)
{
  double best_theta = angles[0];
  *best = G_MAXDOUBLE;
  for (int k = 0; k < n; k++) {
    const double v = mirror_mismatch (mask, width, height, stride, sm, cx, cy, angles[k]);
    if (v < *best) {
      *best = v;
      best_theta = angles[k];
    }
  }
  return best_theta;
}

/* The sampling step that visits about `samples` of the n inside pixels. */
static int
sample_step (double n, double samples)
{
  return MAX (1, (int) ceil (sqrt (n / samples)));
}

/* The ABCD rule's axes: the two perpendicular axes through the centroid
 * placed where the lesion is most symmetric. The principal axes of the
 * second moments are that place for ellipses and rectangles, but a shape
 * whose moments are the same in every direction (a square, a near-round
 * lesion) has none, and rounding noise would pick them. So the angle is
 * searched: every 5 degrees on a coarse sample; then every half degree
 * within 2 degrees of the best, and the principal axes, on a finer one;
 * the winner is measured on the full sample (at most 2^16 pixels). */
static double
shape_asymmetry (const guint8 *mask, int width, int height, int stride, Box b, gint64 *area)
{
  /* Moments from run ends, in exact integers where they fit. */
  double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (int y = b.y0; y <= b.y1; y++) {
    const guint8 *row = mask + (gsize) y * stride;
    for (int x = b.x0; x <= b.x1;) {
      x = class_end (row, x, b.x1 + 1, FALSE);
      if (x > b.x1)
        break;
      const int x0 = x;
      x = class_end (row, x, b.x1 + 1, TRUE);
      const double a = x0, e = x - 1, k = x - x0;
      const double s1 = k * (a + e) / 2;
      const double s2 = (e * (e + 1) * (2 * e + 1) - (a - 1) * a * (2 * a - 1)) / 6;
      n += k;
      sx += s1;
      sy += k * y;
      sxx += s2;
      syy += k * (double) y * y;
      sxy += s1 * y;
    }
  }
  *area = (gint64) n;
  const double cx = sx / n, cy = sy / n;
  const double mu20 = sxx / n - cx * cx, mu02 = syy / n - cy * cy, mu11 = sxy / n - cx * cy;
  const double principal = 0.5 * atan2 (2 * mu11, mu20 - mu02);

  const double degree = G_PI / 180;
  double angles[18], best;
  for (int k = 0; k < 18; k++)   /* the pair repeats every 90 degrees */
    angles[k] = k * 5 * degree;
  Sample sm = sample_inside (mask, stride, b, cx, cy, sample_step (n, 2048));
  double theta = best_axis (mask, width, height, stride, &sm, cx, cy, angles, 18, &best);
  sample_clear (&sm);

  for (int k = 0; k < 9; k++)
    angles[k] = theta + (k - 4) * 0.5 * degree;
  angles[9] = principal;
  sm = sample_inside (mask, stride, b, cx, cy, sample_step (n, 8192));
  theta = best_axis (mask, width, height, stride, &sm, cx, cy, angles, 10, &best);
  sample_clear (&sm);

  sm = sample_inside (mask, stride, b, cx, cy, sample_step (n, 65536));
  best = mirror_mismatch (mask, width, height, stride, &sm, cx, cy, theta);
  sample_clear (&sm);
  return best;
}

void
ls_mask_measure_shape (const guint8 *mask, int width, int height, int stride,
                       LsShapeMeasurements *out)
{
  g_return_if_fail (out != NULL);
  memset (out, 0, sizeof *out);
  g_return_if_fail (mask != NULL);
  g_return_if_fail (width > 0 && height > 0 && stride >= width);

  const Box b = mask_bbox (mask, width, height, stride);
  if (b.x1 < 0)
    return;

  gint64 area;
  out->asymmetry = shape_asymmetry (mask, width, height, stride, b, &area);
  out->perimeter = shape_perimeter (mask, width, height, stride, b);
  out->max_diameter = shape_max_diameter (mask, stride, b);
  out->border_irregularity = out->perimeter * out->perimeter / (4 * G_PI * area);
}
