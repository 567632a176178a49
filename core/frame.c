/* Frame -> network input: crop, resize, normalise.
 *
 * Runs on the streaming thread for every frame the network sees, so it is
 * written for one core and a 1080p frame: a separable resampler whose
 * per-axis taps are computed once per call (no division per pixel), a
 * vertical pass that streams whole source rows through SIMD-friendly loops,
 * then a short horizontal pass over one filtered row per output row.
 *
 * Resampling, per axis (so a ROI may shrink in x and grow in y):
 *  - shrinking (or equal size): area average. Output i covers the source
 *    interval [i*n/m, (i+1)*n/m) and each source pixel weighs by its overlap
 *    with it. The overlaps are computed in integers (units of 1/m), so the
 *    taps are exact up to the final float rounding. An equal size gives the
 *    identity.
 *  - enlarging: bilinear with pixel centres aligned (PIL, and PyTorch's
 *    align_corners=False): source position (i + 0.5) * n/m - 0.5, clamped to
 *    the image.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg.h"

#include <string.h>

int
ls_pixel_format_bpp (LsPixelFormat format)
{
  switch (format) {
    case LS_PIXEL_RGB:
    case LS_PIXEL_BGR:
      return 3;
    case LS_PIXEL_RGBA: case LS_PIXEL_BGRA: case LS_PIXEL_ARGB: case LS_PIXEL_ABGR:
    case LS_PIXEL_RGBX: case LS_PIXEL_BGRX: case LS_PIXEL_XRGB: case LS_PIXEL_XBGR:
      return 4;
  }
  return 0;
}

/* Byte offsets of R, G, B inside one pixel; FALSE for an unknown format. */
static gboolean
channel_offsets (LsPixelFormat format, int off[3])
{
  static const int table[][3] = {
    [LS_PIXEL_RGB] = { 0, 1, 2 },  [LS_PIXEL_BGR] = { 2, 1, 0 },
    [LS_PIXEL_RGBA] = { 0, 1, 2 }, [LS_PIXEL_BGRA] = { 2, 1, 0 },
    [LS_PIXEL_ARGB] = { 1, 2, 3 }, [LS_PIXEL_ABGR] = { 3, 2, 1 },
    [LS_PIXEL_RGBX] = { 0, 1, 2 }, [LS_PIXEL_BGRX] = { 2, 1, 0 },
    [LS_PIXEL_XRGB] = { 1, 2, 3 }, [LS_PIXEL_XBGR] = { 3, 2, 1 },
  };
  if ((unsigned) format >= G_N_ELEMENTS (table))
    return FALSE;
  memcpy (off, table[format], sizeof table[format]);
  return TRUE;
}

/* The vertical pass is most of the time; an AVX2 clone of it, picked at load
 * time, is ~12% faster on a 1080p frame than the x86-64 baseline (SSE2)
 * build. Needs ifunc, so x86-64 glibc only. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute (target_clones)
#define VERTICAL_CLONES __attribute__ ((target_clones ("avx2", "default")))
#endif
#endif
#ifndef VERTICAL_CLONES
#define VERTICAL_CLONES
#endif

/* The taps of one axis: output i reads count[i] source samples from
 * start[i] on, weighted by weight[i * max_taps + k]. */
typedef struct {
  int *start;
  int *count;
  float *weight;
  int max_taps;
} Taps;

static void
taps_init (Taps *t, int n, int m)
{
  if (n >= m) {
    /* An interval of length n/m at any offset touches at most
     * ceil(n/m) + 1 source pixels. */
    t->max_taps = (n + m - 1) / m + 1;
  } else {
    t->max_taps = 2;
  }
  t->start = g_new (int, 2 * (gsize) m);
  t->count = t->start + m;
  t->weight = g_new0 (float, (gsize) m * t->max_taps);

  if (n >= m) {
    const double inv_n = 1.0 / n;
    for (int i = 0; i < m; i++) {
      /* In units of 1/m the output covers [lo, hi), source j covers
       * [j*m, (j+1)*m); weight = overlap / (n/m) = overlap_units / n. */
      const gint64 lo = (gint64) i * n, hi = lo + n;
      const int first = (int) (lo / m), last = (int) ((hi - 1) / m);
      float *w = t->weight + (gsize) i * t->max_taps;
      t->start[i] = first;
      t->count[i] = last - first + 1;
      for (int j = first; j <= last; j++) {
        const gint64 a = MAX (lo, (gint64) j * m), b = MIN (hi, (gint64) (j + 1) * m);
        w[j - first] = (float) ((double) (b - a) * inv_n);
      }
    }
  } else {
    const double scale = (double) n / m;
    for (int i = 0; i < m; i++) {
      float *w = t->weight + (gsize) i * 2;
      double s = (i + 0.5) * scale - 0.5;
      if (s < 0)
        s = 0;
      int i0 = (int) s;
      const double l = s - i0;
      if (i0 >= n - 1 || l == 0) {
        /* At the right edge both neighbours are the last pixel; on a sample
         * exactly on a pixel centre the second tap would weigh 0. */
        t->start[i] = MIN (i0, n - 1);
        t->count[i] = 1;
        w[0] = 1.0f;
      } else {
        t->start[i] = i0;
        t->count[i] = 2;
        w[0] = (float) (1.0 - l);
        w[1] = (float) l;
      }
    }
  }
}

static void
taps_clear (Taps *t)
{
  g_free (t->start);
  g_free (t->weight);
}

/* acc[0..n) = weighted sum of the source rows that output row @oy reads.
 * The A/X bytes of 4-byte formats go along: skipping them would break the
 * contiguous loops that the compiler turns into SIMD.
 *
 * When shrinking, every row strictly inside an output row's interval has the
 * same weight (m/n), so those rows are first summed exactly as 16-bit
 * integers (cheap: no conversion to float per row) and converted once; only
 * the two partially covered edge rows take their own float weights. That
 * halves the float work of a 1080p -> 224 pass. @sum holds n integers. */
VERTICAL_CLONES static void
vertical_pass (const guint8 *restrict src, gsize stride, const Taps *ty, int oy,
               gsize n, float *restrict acc, guint16 *restrict sum)
{
  const float *w = ty->weight + (gsize) oy * ty->max_taps;
  const guint8 *restrict row = src + (gsize) ty->start[oy] * stride;
  const int count = ty->count[oy];

  /* 257 rows of 255 still fit in 16 bits. */
  if (count >= 4 && count - 2 <= 257) {
    const guint8 *restrict a = row + stride, *restrict b = a + stride;
#pragma omp simd
    for (gsize i = 0; i < n; i++)
      sum[i] = (guint16) (a[i] + b[i]);
    for (int k = 3; k < count - 1; k++) {
      const guint8 *restrict c = row + (gsize) k * stride;
#pragma omp simd
      for (gsize i = 0; i < n; i++)
        sum[i] += c[i];
    }
    const guint8 *restrict last = row + (gsize) (count - 1) * stride;
    const float w0 = w[0], wm = w[1], wl = w[count - 1];
#pragma omp simd
    for (gsize i = 0; i < n; i++)
      acc[i] = w0 * row[i] + wm * sum[i] + wl * last[i];
    return;
  }

  const float w0 = w[0];
#pragma omp simd
  for (gsize i = 0; i < n; i++)
    acc[i] = w0 * row[i];
  for (int k = 1; k < count; k++) {
    const float wk = w[k];
    row += stride;
#pragma omp simd
    for (gsize i = 0; i < n; i++)
      acc[i] += wk * row[i];
  }
}

/* Four floats, one pixel's channels (GCC/Clang vector extension: a single
 * SSE/NEON register where there is one, plain scalars elsewhere). */
typedef float v4f __attribute__ ((vector_size (16)));

/* Filters one vertically filtered row horizontally into the three output
 * planes and keeps the running minimum and maximum. Each tap adds a whole
 * pixel as one 4-lane vector: for 3-byte formats the fourth lane reads the
 * next pixel's first channel (or the padding float after the row) and is
 * ignored. */
static void
horizontal_pass (const float *restrict acc, const Taps *tx, int width, int bpp,
                 const int off[3], float *restrict r, float *restrict g,
                 float *restrict b, float *lo, float *hi)
{
  float mn = *lo, mx = *hi;

  for (int ox = 0; ox < width; ox++) {
    const float *w = tx->weight + (gsize) ox * tx->max_taps;
    const float *p = acc + (gsize) tx->start[ox] * bpp;
    const int count = tx->count[ox];
    v4f s = { 0, 0, 0, 0 };

    for (int k = 0; k < count; k++, p += bpp) {
      v4f v;
      memcpy (&v, p, sizeof v);   /* unaligned load */
      s += w[k] * v;
    }

    r[ox] = s[off[0]];
    g[ox] = s[off[1]];
    b[ox] = s[off[2]];
    mn = MIN (mn, MIN (r[ox], MIN (g[ox], b[ox])));
    mx = MAX (mx, MAX (r[ox], MAX (g[ox], b[ox])));
  }
  *lo = mn;
  *hi = mx;
}

/* x = (x - min) / (max - min) * 255 over all three planes.
 *
 * A spread below 1e-3 of an 8-bit level counts as a constant image and gives
 * zeros: the float filter alone leaves a constant image uneven by ~1e-5
 * levels, which the stretch would blow up into full-range noise (a black
 * frame from a capped camera would feed the network garbage). The reference
 * pipeline resized to 8 bits before stretching, so it rounded away anything
 * under half a level anyway. */
static void
normalise_minmax255 (float *out, gsize n, float lo, float hi)
{
  if (!(hi - lo > 1e-3f)) {
    memset (out, 0, n * sizeof (float));
    return;
  }
  const float scale = 255.0f / (hi - lo);
#pragma omp simd
  for (gsize i = 0; i < n; i++)
    out[i] = (out[i] - lo) * scale;
}

gboolean
ls_image_to_tensor (const LsImage *image, const LsRect *roi, LsInputNorm norm,
                    int width, int height, float *out, GError **error)
{
  g_return_val_if_fail (image != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  int off[3];
  if (!channel_offsets (image->format, off)) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT, "unknown pixel format %d",
                 (int) image->format);
    return FALSE;
  }
  const int bpp = ls_pixel_format_bpp (image->format);

  if (image->data == NULL) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT, "frame has no pixel data");
    return FALSE;
  }
  if (image->width <= 0 || image->height <= 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT, "frame size %dx%d is empty",
                 image->width, image->height);
    return FALSE;
  }
  if ((gint64) image->stride < (gint64) image->width * bpp) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                 "frame stride %d bytes is shorter than a row of %d pixels "
                 "at %d bytes each (%" G_GINT64_FORMAT " bytes)", image->stride,
                 image->width, bpp, (gint64) image->width * bpp);
    return FALSE;
  }
  if (width <= 0 || height <= 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT, "tensor size %dx%d is empty",
                 width, height);
    return FALSE;
  }
  if (norm != LS_INPUT_NORM_MINMAX255) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT, "unknown input normalisation %d",
                 (int) norm);
    return FALSE;
  }

  LsRect r = { 0, 0, image->width, image->height };
  if (roi != NULL) {
    r = *roi;
    if (r.width <= 0 || r.height <= 0) {
      g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                   "ROI %dx%d at (%d, %d) is empty (frame %dx%d)",
                   r.width, r.height, r.x, r.y, image->width, image->height);
      return FALSE;
    }
    if (r.x < 0 || r.y < 0 || (gint64) r.x + r.width > image->width
        || (gint64) r.y + r.height > image->height) {
      g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                   "ROI %dx%d at (%d, %d) is not inside the %dx%d frame",
                   r.width, r.height, r.x, r.y, image->width, image->height);
      return FALSE;
    }
  }

  Taps tx, ty;
  taps_init (&tx, r.width, width);
  taps_init (&ty, r.height, height);

  const gsize stride = (gsize) image->stride;
  const guint8 *src = image->data + (gsize) r.y * stride + (gsize) r.x * bpp;
  const gsize n = (gsize) r.width * bpp;
  const gsize plane = (gsize) width * height;
  float *acc = g_new0 (float, n + 1);   /* + 1: see horizontal_pass() */
  guint16 *sum = g_new (guint16, n);
  float lo = G_MAXFLOAT, hi = -G_MAXFLOAT;

  for (int oy = 0; oy < height; oy++) {
    float *rp = out + (gsize) oy * width;

    vertical_pass (src, stride, &ty, oy, n, acc, sum);
    horizontal_pass (acc, &tx, width, bpp, off, rp, rp + plane, rp + 2 * plane, &lo, &hi);
  }

  normalise_minmax255 (out, 3 * plane, lo, hi);

  g_free (acc);
  g_free (sum);
  taps_clear (&tx);
  taps_clear (&ty);
  return TRUE;
}
