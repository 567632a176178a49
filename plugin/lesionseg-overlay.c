/* lesionseg element internals: class map, overlay drawing, YUV ROI to RGB.
 *
 * Drawing runs on the streaming thread for every outgoing frame, so its
 * cost follows the lesion, not the frame: only the mask's bounding box is
 * visited, each byte through a 256-entry blend table. The contour comes
 * precomputed in the class map (built once per inference on the worker).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lesionseg-overlay.h"

#include <string.h>

/* ---- class map ------------------------------------------------------ */

/* Inner contour = inside minus the erosion of the mask by a square of
 * radius w (Chebyshev distance), done separably with run lengths clamped at
 * 255: a pixel survives the horizontal pass when the runs of inside pixels
 * ending at it from the left and from the right are both longer than w, and
 * the vertical pass likewise on the horizontal result. Outside the bounding
 * box is outside. */
static void
find_runs (LsegClassMap *map)
{
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (LsegRun));
  for (int j = 0; j < map->height; j++) {
    const guint8 *cls = map->classes + (gsize) j * map->width;
    for (int i = 0; i < map->width;) {
      int end = i + 1;
      while (end < map->width && cls[end] == cls[i])
        end++;
      if (cls[i] != LSEG_CLASS_OUTSIDE) {
        LsegRun r = { j, i, end - i, cls[i] };
        g_array_append_val (runs, r);
      }
      i = end;
    }
  }
  map->n_runs = runs->len;
  map->runs = (LsegRun *) g_array_free (runs, FALSE);
}

void
lseg_class_map_build (LsegClassMap *map, const guint8 *mask, int mstride, int ox, int oy,
                      int bx, int by, int bw, int bh, int contour_width)
{
  memset (map, 0, sizeof *map);
  map->contour_width = contour_width;
  if (bw <= 0 || bh <= 0)
    return;
  map->x = ox + bx;
  map->y = oy + by;
  map->width = bw;
  map->height = bh;
  map->classes = g_malloc ((gsize) bw * bh);

  const int w = CLAMP (contour_width, 1, 254);
  guint8 *up = g_malloc ((gsize) bw * bh);   /* vertical run of eroded-h pixels ending here */
  guint8 *run = g_malloc (bw);

  for (int j = 0; j < bh; j++) {
    const guint8 *m = mask + (gsize) (by + j) * mstride + bx;
    guint8 *u = up + (gsize) j * bw;
    const guint8 *uprev = j ? u - bw : NULL;
    int l = 0;
    for (int i = 0; i < bw; i++) {
      l = m[i] ? MIN (l + 1, 255) : 0;
      run[i] = l;
    }
    int r = 0;
    for (int i = bw - 1; i >= 0; i--) {
      r = m[i] ? MIN (r + 1, 255) : 0;
      const gboolean h = run[i] > w && r > w;
      u[i] = h ? (uprev ? MIN (uprev[i] + 1, 255) : 1) : 0;
    }
  }

  memset (run, 0, bw);   /* now: vertical run from below */
  for (int j = bh - 1; j >= 0; j--) {
    const guint8 *m = mask + (gsize) (by + j) * mstride + bx;
    const guint8 *u = up + (gsize) j * bw;
    guint8 *c = map->classes + (gsize) j * bw;
    for (int i = 0; i < bw; i++) {
      run[i] = u[i] ? MIN (run[i] + 1, 255) : 0;
      c[i] = !m[i] ? LSEG_CLASS_OUTSIDE
             : (u[i] > w && run[i] > w) ? LSEG_CLASS_INSIDE : LSEG_CLASS_CONTOUR;
    }
  }
  g_free (run);
  g_free (up);
  find_runs (map);
}

void
lseg_class_map_rebuild (LsegClassMap *dst, const LsegClassMap *src, int contour_width)
{
  if (src->classes == NULL) {
    memset (dst, 0, sizeof *dst);
    dst->contour_width = contour_width;
    return;
  }
  lseg_class_map_build (dst, src->classes, src->width, src->x, src->y, 0, 0,
                        src->width, src->height, contour_width);
}

void
lseg_class_map_clear (LsegClassMap *map)
{
  g_clear_pointer (&map->classes, g_free);
  g_clear_pointer (&map->runs, g_free);
  map->n_runs = 0;
  map->width = map->height = 0;
}

/* ---- colours ---------------------------------------------------------- */

static void
yuv_coefficients (const GstVideoInfo *info, double *kr, double *kb,
                  int offset[4], int scale[4])
{
  gdouble r, b;
  if (!gst_video_color_matrix_get_Kr_Kb (info->colorimetry.matrix, &r, &b)) {
    r = 0.299;   /* BT.601 when the caps do not say */
    b = 0.114;
  }
  *kr = r;
  *kb = b;
  GstVideoColorRange range = info->colorimetry.range;
  if (range == GST_VIDEO_COLOR_RANGE_UNKNOWN)
    range = GST_VIDEO_COLOR_RANGE_16_235;
  gst_video_color_range_offsets (range, info->finfo, offset, scale);
}

static guint8
clamp_u8 (double v)
{
  return v <= 0 ? 0 : v >= 255 ? 255 : (guint8) (v + 0.5);
}

void
lseg_color_to_components (const GstVideoInfo *info, guint32 argb, guint8 out[3])
{
  const double R = ((argb >> 16) & 0xff) / 255.0, G = ((argb >> 8) & 0xff) / 255.0;
  const double B = (argb & 0xff) / 255.0;
  if (!GST_VIDEO_INFO_IS_YUV (info)) {
    out[0] = (argb >> 16) & 0xff;
    out[1] = (argb >> 8) & 0xff;
    out[2] = argb & 0xff;
    return;
  }
  double kr, kb;
  int offset[4], scale[4];
  yuv_coefficients (info, &kr, &kb, offset, scale);
  const double Y = kr * R + (1 - kr - kb) * G + kb * B;
  const double Pb = (B - Y) / (2 * (1 - kb)), Pr = (R - Y) / (2 * (1 - kr));
  out[0] = clamp_u8 (offset[0] + Y * scale[0]);
  out[1] = clamp_u8 (offset[1] + Pb * scale[1]);
  out[2] = clamp_u8 (offset[2] + Pr * scale[2]);
}

/* ---- drawing ---------------------------------------------------------- */

/* A colour at an opacity: out = (v (255 - a) + c a + 127) / 255 per
 * component, as a table for scattered pixels and as (alpha, comp) for runs
 * of 4-byte pixels (blend_run4). Both give the same bytes. */
typedef struct {
  guint8 lut[3][256];
  guint8 alpha, comp[3];
} Paint;

static void
paint_init (Paint *p, const guint8 c[3], guint a)
{
  p->alpha = (guint8) a;
  for (int k = 0; k < 3; k++) {
    p->comp[k] = c[k];
    for (guint v = 0; v < 256; v++)
      p->lut[k][v] = (guint8) ((v * (255 - a) + c[k] * a + 127) / 255);
  }
}

/* Four 4-byte pixels as 16 lanes of 16 bits (GCC/Clang vector extensions:
 * SSE2 pairs, one AVX2 register, NEON pairs). */
typedef guint8 V16u8 __attribute__ ((vector_size (16)));
typedef guint16 V16u16 __attribute__ ((vector_size (32)));

/* Per byte of four pixels: 255 - alpha and comp * alpha of the paint; the
 * byte that is no colour (x or alpha) gets alpha 0, which leaves it as is. */
typedef struct {
  V16u16 keep, add;
} RunPattern;

static void
run_pattern_init (RunPattern *r, const Paint *p, const int offset[3])
{
  for (int j = 0; j < 16; j++) {
    guint alpha = 0, comp = 0;
    for (int k = 0; k < 3; k++)
      if ((j & 3) == offset[k]) {
        alpha = p->alpha;
        comp = p->comp[k];
      }
    r->keep[j] = (guint16) (255 - alpha);
    r->add[j] = (guint16) (comp * alpha + 127);
  }
}

/* One paint over @count 4-byte pixels, four at a time in 16-bit lanes:
 * t = v (255 - a) + c a + 127 is at most 65152, and t / 255 is
 * (t + 1 + (t >> 8)) >> 8, exact for every t below 65535; so the bytes are
 * the table's. */
static void
blend_run4 (guint8 *px, int count, const RunPattern *r)
{
  int i = 0;
  for (; i + 4 <= count; i += 4) {
    V16u8 bytes;
    memcpy (&bytes, px + (gsize) i * 4, sizeof bytes);
    V16u16 t = __builtin_convertvector (bytes, V16u16) * r->keep + r->add;
    t = (t + 1 + (t >> 8)) >> 8;
    bytes = __builtin_convertvector (t, V16u8);
    memcpy (px + (gsize) i * 4, &bytes, sizeof bytes);
  }
  for (int j = i * 4; j < count * 4; j++) {
    const guint t = px[j] * (guint) r->keep[j & 15] + r->add[j & 15];
    px[j] = (guint8) ((t + 1 + (t >> 8)) >> 8);
  }
}

/* 4-byte formats, run by run: each run one vectorised blend instead of a
 * table lookup per byte. */
static void
draw_packed4 (GstVideoFrame *frame, const LsegClassMap *map, const Paint *paint[3])
{
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  const int offset[3] = {
    GST_VIDEO_FRAME_COMP_POFFSET (frame, 0), GST_VIDEO_FRAME_COMP_POFFSET (frame, 1),
    GST_VIDEO_FRAME_COMP_POFFSET (frame, 2),
  };
  guint8 *base = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  RunPattern pattern[3];
  for (int k = 0; k < 3; k++)
    if (paint[k])
      run_pattern_init (&pattern[k], paint[k], offset);

  for (guint r = 0; r < map->n_runs; r++) {
    const LsegRun *run = &map->runs[r];
    if (paint[run->cls])
      blend_run4 (base + (gsize) (map->y + run->y) * stride + (gsize) (map->x + run->x) * 4,
                  run->length, &pattern[run->cls]);
  }
}

/* 3-byte formats, run by run, through the paint's table. */
static void
draw_packed (GstVideoFrame *frame, const LsegClassMap *map, const Paint *paint[3])
{
  const int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0);
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  const int o0 = GST_VIDEO_FRAME_COMP_POFFSET (frame, 0);
  const int o1 = GST_VIDEO_FRAME_COMP_POFFSET (frame, 1);
  const int o2 = GST_VIDEO_FRAME_COMP_POFFSET (frame, 2);
  guint8 *base = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);

  for (guint r = 0; r < map->n_runs; r++) {
    const LsegRun *run = &map->runs[r];
    const Paint *p = paint[run->cls];
    if (p == NULL)
      continue;
    guint8 *px = base + (gsize) (map->y + run->y) * stride + (gsize) (map->x + run->x) * pstride;
    for (int i = 0; i < run->length; i++, px += pstride) {
      px[o0] = p->lut[0][px[o0]];
      px[o1] = p->lut[1][px[o1]];
      px[o2] = p->lut[2][px[o2]];
    }
  }
}

/* Planar and semi-planar YUV: each component on its own, subsampled ones
 * at the luma pixel they are sited on. */
static void
draw_planar (GstVideoFrame *frame, const LsegClassMap *map, const Paint *paint[3])
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  for (int c = 0; c < 3; c++) {
    const int ws = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, c), hs = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, c);
    const int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, c);
    const int stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, c);
    guint8 *base = GST_VIDEO_FRAME_COMP_DATA (frame, c);
    for (guint r = 0; r < map->n_runs; r++) {
      const LsegRun *run = &map->runs[r];
      const Paint *p = paint[run->cls];
      const int y = map->y + run->y;
      /* a chroma row is sited on the first luma row of its block */
      if (p == NULL || (y & ((1 << hs) - 1)))
        continue;
      /* chroma sample cx is sited on luma pixel cx << ws: those inside the run */
      const int x0 = map->x + run->x, x1 = x0 + run->length;
      guint8 *px = base + (gsize) (y >> hs) * stride;
      for (int cx = (x0 + (1 << ws) - 1) >> ws; cx <= (x1 - 1) >> ws; cx++)
        px[cx * pstride] = p->lut[c][px[cx * pstride]];
    }
  }
}

void
lseg_overlay_draw (GstVideoFrame *frame, const LsegClassMap *map, gboolean fill,
                   gboolean contour, guint32 fill_argb, guint32 contour_argb, double opacity)
{
  if (map->classes == NULL || (!fill && !contour))
    return;
  /* A map from an older frame size never reaches here, but stay inside. */
  if (map->x < 0 || map->y < 0 || map->x + map->width > GST_VIDEO_FRAME_WIDTH (frame)
      || map->y + map->height > GST_VIDEO_FRAME_HEIGHT (frame))
    return;

  Paint fill_paint, contour_paint;
  const Paint *paint[3] = { NULL, NULL, NULL };
  guint8 comp[3];
  if (fill) {
    const guint a = lseg_fill_alpha (fill_argb, opacity);
    if (a > 0) {
      lseg_color_to_components (&frame->info, fill_argb, comp);
      paint_init (&fill_paint, comp, a);
      paint[LSEG_CLASS_INSIDE] = paint[LSEG_CLASS_CONTOUR] = &fill_paint;
    }
  }
  if (contour) {
    const guint a = contour_argb >> 24;
    lseg_color_to_components (&frame->info, contour_argb, comp);
    paint_init (&contour_paint, comp, a);
    paint[LSEG_CLASS_CONTOUR] = a > 0 ? &contour_paint : paint[LSEG_CLASS_INSIDE];
  }
  if (paint[LSEG_CLASS_INSIDE] == NULL && paint[LSEG_CLASS_CONTOUR] == NULL)
    return;

  if (GST_VIDEO_INFO_IS_YUV (&frame->info))
    draw_planar (frame, map, paint);
  else if (GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 0) == 4)
    draw_packed4 (frame, map, paint);
  else
    draw_packed (frame, map, paint);
}

/* ---- YUV ROI to RGB --------------------------------------------------- */

void
lseg_yuv_roi_to_rgb (const GstVideoFrame *frame, const GstVideoRectangle *roi, guint8 *rgb,
                     int width, int height, int stride)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  double kr, kb;
  int offset[4], scale[4];
  yuv_coefficients (&frame->info, &kr, &kb, offset, scale);
  const double ys = 255.0 / scale[0], us = 1.0 / scale[1], vs = 1.0 / scale[2];
  const double rv = 2 * (1 - kr) * 255, bu = 2 * (1 - kb) * 255;
  const double gu = -bu * kb / (1 - kr - kb), gv = -rv * kr / (1 - kr - kb);

  const guint8 *yp = GST_VIDEO_FRAME_COMP_DATA (frame, 0);
  const guint8 *up = GST_VIDEO_FRAME_COMP_DATA (frame, 1);
  const guint8 *vp = GST_VIDEO_FRAME_COMP_DATA (frame, 2);
  const int ystride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 0);
  const int ustride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 1);
  const int vstride = GST_VIDEO_FRAME_COMP_STRIDE (frame, 2);
  const int upstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 1);
  const int vpstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, 2);
  const int ws = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, 1), hs = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, 1);

  int *sx = g_new (int, width);
  for (int i = 0; i < width; i++)
    sx[i] = roi->x + (int) ((i + 0.5) * roi->w / width);
  for (int j = 0; j < height; j++) {
    const int y = roi->y + (int) ((j + 0.5) * roi->h / height);
    const guint8 *yr = yp + (gsize) y * ystride;
    const guint8 *ur = up + (gsize) (y >> hs) * ustride;
    const guint8 *vr = vp + (gsize) (y >> hs) * vstride;
    guint8 *o = rgb + (gsize) j * stride;
    for (int i = 0; i < width; i++, o += 3) {
      const int x = sx[i];
      const double Y = (yr[x] - offset[0]) * ys;
      const double U = (ur[(x >> ws) * upstride] - offset[1]) * us;
      const double V = (vr[(x >> ws) * vpstride] - offset[2]) * vs;
      o[0] = clamp_u8 (Y + rv * V);
      o[1] = clamp_u8 (Y + gu * U + gv * V);
      o[2] = clamp_u8 (Y + bu * U);
    }
  }
  g_free (sx);
}
