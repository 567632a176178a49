/* dermsrc: one frame from a lesion's texture — the camera's warp, its gain
 * and sensor noise, the output format and the ground-truth mask, in one pass.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dermsrc-frame.h"
#include "dermsrc-random.h"
#include "dermsrc-texture.h"

#include <math.h>
#include <string.h>

#define NOISE_SIZE 65536      /* sensor-noise table, a power of two */

void
dermsrc_frame_renderer_init (DermFrameRenderer *fr)
{
  memset (fr, 0, sizeof *fr);
  /* sensor noise: a fixed table of roughly Gaussian bytes (four uniform
   * 0..3 summed, less their mean: sd sqrt(5), about 2.2);
   * two bytes past NOISE_SIZE for the readers of n[1] and n[2] */
  fr->noise = g_malloc (NOISE_SIZE + 2);
  guint64 h = 0x5EED;
  for (gint i = 0; i < NOISE_SIZE + 2; i++) {
    h = dermsrc_splitmix64 (h);
    gint s = (gint) (h & 3) + (gint) ((h >> 2) & 3) + (gint) ((h >> 4) & 3) + (gint) ((h >> 6) & 3);
    fr->noise[i] = (gint8) (s - 6);
  }
}

void
dermsrc_frame_renderer_clear (DermFrameRenderer *fr)
{
  g_free (fr->rows);
  g_free (fr->planes);
  g_free (fr->noise);
  memset (fr, 0, sizeof *fr);
}

/* Integer RGB -> Y'CbCr for the negotiated matrix and range, and scratch
 * rows for the frame's width. */
void
dermsrc_frame_renderer_set_format (DermFrameRenderer *fr, const GstVideoInfo *info)
{
  gdouble kr, kb;
  if (!gst_video_color_matrix_get_Kr_Kb (info->colorimetry.matrix, &kr, &kb)) {
    kr = 0.299;     /* BT.601 when the caps leave it open */
    kb = 0.114;
  }
  gint off[GST_VIDEO_MAX_COMPONENTS], scale[GST_VIDEO_MAX_COMPONENTS];
  gst_video_color_range_offsets (info->colorimetry.range, info->finfo, off, scale);
  const double kg = 1.0 - kr - kb;
  const double ys = scale[0] / 255.0 * 16384.0;
  const double us = scale[1] / 255.0 / (2.0 * (1.0 - kb)) * 16384.0;
  const double vs = scale[2] / 255.0 / (2.0 * (1.0 - kr)) * 16384.0;
  fr->yc[0] = lround (kr * ys);
  fr->yc[1] = lround (kg * ys);
  fr->yc[2] = lround (kb * ys);
  fr->uc[0] = lround (-kr * us);
  fr->uc[1] = lround (-kg * us);
  fr->uc[2] = lround ((1.0 - kb) * us);
  fr->vc[0] = lround ((1.0 - kr) * vs);
  fr->vc[1] = lround (-kg * vs);
  fr->vc[2] = lround (-kb * vs);
  fr->yoff = (off[0] << 14) + 8192;
  fr->coff = (off[1] << 14) + 8192;

  /* two output rows, and with a half-size warp three warped rows and a
   * blend of two (dermsrc_render_frame) */
  g_free (fr->rows);
  fr->rows = g_new (guint32, 6 * (gsize) GST_VIDEO_INFO_WIDTH (info));
}

/* a + (b - a) * f / 256 on each byte of two packed pixels, f in 0..255 */
static inline guint32
lerp4 (guint32 a, guint32 b, guint32 f)
{
  guint32 g = 256 - f;
  guint32 rb = ((a & 0x00ff00ffu) * g + (b & 0x00ff00ffu) * f) >> 8;
  guint32 ga = ((a >> 8) & 0x00ff00ffu) * g + ((b >> 8) & 0x00ff00ffu) * f;
  return (rb & 0x00ff00ffu) | (ga & 0xff00ff00u);
}

static inline guint32
clamp255 (gint v)
{
  return (guint32) (v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Warps one row: texel coordinate (u, v) in 16.16 fixed point at the row's
 * first pixel, (du, dv) per pixel, packed RGBM out (M interpolated like the
 * colours: >= 128 inside the lesion). */
static void
warp_row (const DermTexture *t, gint32 u, gint32 v, gint32 du, gint32 dv, gint width,
          guint32 *out)
{
  const gint tw = t->tw, th = t->th;
  const guint32 *tex = t->texels;
  const gint64 ue = u + (gint64) du * (width - 1), ve = v + (gint64) dv * (width - 1);
  const gint64 ulim = (gint64) (tw - 2) << 16, vlim = (gint64) (th - 2) << 16;

  if (MIN (u, ue) >= 0 && MAX (u, ue) <= ulim && MIN (v, ve) >= 0 && MAX (v, ve) <= vlim) {
    /* the whole row reads inside the texture: no clamping (the usual case) */
    for (gint x = 0; x < width; x++, u += du, v += dv) {
      const guint32 *p0 = tex + (gsize) (v >> 16) * tw + (u >> 16);
      guint32 fx = (u >> 8) & 0xff, fy = (v >> 8) & 0xff;
      out[x] = lerp4 (lerp4 (p0[0], p0[1], fx), lerp4 (p0[tw], p0[tw + 1], fx), fy);
    }
    return;
  }

  const gint32 umax = (tw - 1) << 16, vmax = (th - 1) << 16;
  for (gint x = 0; x < width; x++, u += du, v += dv) {
    gint32 cu = CLAMP (u, 0, umax), cv = CLAMP (v, 0, vmax);
    gint ix = cu >> 16, iy = cv >> 16;
    const guint32 *p0 = tex + (gsize) iy * tw + ix;
    const guint32 *p1 = p0 + (iy < th - 1 ? tw : 0);
    gint dx = ix < tw - 1;
    guint32 fx = (cu >> 8) & 0xff, fy = (cv >> 8) & 0xff;
    out[x] = lerp4 (lerp4 (p0[0], p0[dx], fx), lerp4 (p1[0], p1[dx], fx), fy);
  }
}

/* The frame's illumination gain and sensor noise, in the output format's
 * terms: RGB through tables clamp (c * gain + n), Y'CbCr through the
 * conversion's coefficients (gain) and noise on luma only. */
#define NOISE_MAX 6
typedef struct _FrameTone {
  const gint8 *noise;         /* NULL: none (and gain 1) */
  guint8 lut[2 * NOISE_MAX + 1][256];
  gint yc[3], uc[3], vc[3];
} FrameTone;

static void
tone_init (FrameTone *tone, const DermFrameRenderer *fr, gdouble gain, const gint8 *noise,
           gboolean rgb)
{
  tone->noise = noise;
  if (rgb && noise) {
    for (gint n = -NOISE_MAX; n <= NOISE_MAX; n++)
      for (gint c = 0; c < 256; c++)
        tone->lut[n + NOISE_MAX][c] = clamp255 ((gint) lround (c * gain) + n);
  }
  for (gint i = 0; i < 3; i++) {
    tone->yc[i] = (gint) lround (fr->yc[i] * gain);
    tone->uc[i] = (gint) lround (fr->uc[i] * gain);
    tone->vc[i] = (gint) lround (fr->vc[i] * gain);
  }
}

static inline void
store32 (guint8 *out, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (out, &v, 4);
}

/* RGBM row out to RGBx / RGBA through the tone, and its mask */
static void
write_rgbx (const guint32 *in, gint width, const FrameTone *tone, guint noise_off, guint8 *out,
            guint8 *mask)
{
  if (!tone->noise) {
    for (gint x = 0; x < width; x++) {
      store32 (out + 4 * x, in[x] | 0xff000000u);
      mask[x] = (guint8) (0u - (in[x] >> 31));
    }
    return;
  }
  for (gint x = 0; x < width; x++) {
    const gint8 *n = tone->noise + ((noise_off + 3 * (guint) x) & (NOISE_SIZE - 1));
    guint32 p = in[x];
    guint32 r = tone->lut[n[0] + NOISE_MAX][p & 0xff];
    guint32 g = tone->lut[n[1] + NOISE_MAX][(p >> 8) & 0xff];
    guint32 b = tone->lut[n[2] + NOISE_MAX][(p >> 16) & 0xff];
    store32 (out + 4 * x, r | g << 8 | b << 16 | 0xff000000u);
    mask[x] = (guint8) (0u - (p >> 31));
  }
}

static inline guint8
to_y (const FrameTone *tone, gint yoff, guint32 p, gint n)
{
  gint r = p & 0xff, g = (p >> 8) & 0xff, b = (p >> 16) & 0xff;
  return clamp255 (((tone->yc[0] * r + tone->yc[1] * g + tone->yc[2] * b + yoff) >> 14) + n);
}

/* Y of one or two rows and the chroma of their 2x2 blocks (average of the
 * pixels there are), to planes u and v with @cstep bytes between samples. */
static void
write_yuv_rows (const DermFrameRenderer *fr, const FrameTone *tone, const guint32 *r0,
                const guint32 *r1, gint width, guint noise_off, guint8 *y0, guint8 *y1,
                guint8 *u, guint8 *v, gint cstep)
{
  const gint8 *n0 = tone->noise, *zero = (const gint8 *) "\0\0";
  for (gint x = 0; x < width; x++) {
    const gint8 *n = n0 ? n0 + ((noise_off + 2 * (guint) x) & (NOISE_SIZE - 1)) : zero;
    y0[x] = to_y (tone, fr->yoff, r0[x], n[0]);
    if (r1)
      y1[x] = to_y (tone, fr->yoff, r1[x], n[1]);
  }
  const guint32 *rb = r1 ? r1 : r0;
  for (gint x = 0, c = 0; x < width; x += 2, c += cstep) {
    gint x1 = MIN (x + 1, width - 1);
    guint32 p[4] = { r0[x], r0[x1], rb[x], rb[x1] };
    gint r = 0, g = 0, b = 0;
    for (int i = 0; i < 4; i++) {
      r += p[i] & 0xff;
      g += (p[i] >> 8) & 0xff;
      b += (p[i] >> 16) & 0xff;
    }
    /* sums of four: the shift carries the / 4 */
    u[c] = clamp255 ((tone->uc[0] * r + tone->uc[1] * g + tone->uc[2] * b + 4 * fr->coff) >> 16);
    v[c] = clamp255 ((tone->vc[0] * r + tone->vc[1] * g + tone->vc[2] * b + 4 * fr->coff) >> 16);
  }
}

/* Where a frame's rows come from. With factor 2 the camera's view is warped
 * at half resolution (rows cached three at a time) and enlarged bilinearly
 * (pixel centres aligned, weights 1/4 and 3/4). */
typedef struct {
  const DermTexture *t;
  gint W, H, factor;
  gint lw, lh;                  /* the warped size */
  double a, b;                  /* frame pixel -> scene units */
  double pan_x, pan_y;
  gint32 du, dv;                /* per warped pixel, 16.16 texels */
  guint32 *low[3];              /* factor 2: warped rows ... */
  gint low_y[3];                /* ... and which they are */
  guint32 *vrow;                /* factor 2: two warped rows blended */
  const struct _FrameTone *tone; /* factor 2, RGB: applied to the warped rows */
  guint64 frame;
} FrameWarp;

/* Warped row @k: its pixel x is centred on frame point
 * (factor * (x + 0.5), factor * (k + 0.5)). */
static void
warp_frame_row (const FrameWarp *w, gint k, guint32 *out)
{
  const DermTexture *t = w->t;
  double pu = 0.5 * w->factor - 0.5 * w->W, pv = w->factor * (k + 0.5) - 0.5 * w->H;
  double sx = w->pan_x + w->a * pu - w->b * pv, sy = w->pan_y + w->b * pu + w->a * pv;
  double tu = sx * t->ppu + 0.5 * t->tw - 0.5, tv = sy * t->ppu + 0.5 * t->th - 0.5;
  warp_row (t, (gint32) lround (tu * 65536.0), (gint32) lround (tv * 65536.0), w->du, w->dv, w->lw,
            out);
}

static const guint32 *
low_row (FrameWarp *w, gint k)
{
  k = CLAMP (k, 0, w->lh - 1);
  gint slot = k % 3;
  if (w->low_y[slot] != k) {
    guint32 *row = w->low[slot];
    warp_frame_row (w, k, row);
    w->low_y[slot] = k;
    if (w->tone && w->tone->noise) {
      /* gain and noise at half size: the enlargement then smooths the
       * noise over 2 x 2 pixels, as demosaicing does in a camera */
      const FrameTone *tone = w->tone;
      guint off = (guint) dermsrc_splitmix64 (w->frame * 0x10000ull + (guint64) k);
      for (gint x = 0; x < w->lw; x++) {
        const gint8 *n = tone->noise + ((off + 3 * (guint) x) & (NOISE_SIZE - 1));
        guint32 p = row[x];
        row[x] = tone->lut[n[0] + NOISE_MAX][p & 0xff]
            | (guint32) tone->lut[n[1] + NOISE_MAX][(p >> 8) & 0xff] << 8
            | (guint32) tone->lut[n[2] + NOISE_MAX][(p >> 16) & 0xff] << 16 | (p & 0xff000000u);
      }
    }
  }
  return w->low[slot];
}

/* Frame row @y into @out (W pixels). */
static void
frame_row (FrameWarp *w, gint y, guint32 *out)
{
  if (w->factor == 1) {
    warp_frame_row (w, y, out);
    return;
  }
  /* rows k - 1, k (weight 3/4) for even y = 2k; k (3/4), k + 1 for odd */
  gint k = y / 2;
  const guint32 *r0, *r1;
  guint32 f;
  if (y % 2 == 0) {
    r0 = low_row (w, k - 1);
    r1 = low_row (w, k);
    f = 192;
  } else {
    r0 = low_row (w, k);
    r1 = low_row (w, k + 1);
    f = 64;
  }
  guint32 *v = w->vrow;
  for (gint j = 0; j < w->lw; j++)
    v[j] = lerp4 (r0[j], r1[j], f);
  const gint last = w->lw - 1;
  for (gint x = 0; x < w->W; x++) {
    gint j = x / 2;
    out[x] = x % 2 == 0 ? lerp4 (v[MAX (j - 1, 0)], v[j], 192)
                        : lerp4 (v[j], v[MIN (j + 1, last)], 64);
  }
}

/* One row of a byte plane enlarged twice (bilinear, weights 1/4 and 3/4):
 * rows @r0 and @r1 of @lw bytes, @r1 weighing @w1 quarters; then either
 * the sensor noise added or thresholded at 128 (a mask). */
static void
upsample2_row (const guint8 *r0, const guint8 *r1, gint w1, gint lw, gint width, guint16 *tmp,
               const gint8 *noise, gboolean threshold, guint8 *out)
{
  const gint w0 = 4 - w1;
  for (gint j = 0; j < lw; j++)
    tmp[j] = (guint16) (r0[j] * w0 + r1[j] * w1);
  for (gint j = 0; j < lw; j++) {
    gint l = tmp[MAX (j - 1, 0)], c = tmp[j], r = tmp[MIN (j + 1, lw - 1)];
    gint e = (l + 3 * c + 8) >> 4, o = (3 * c + r + 8) >> 4;
    gint x = 2 * j;
    if (threshold) {
      out[x] = e >= 128 ? 255 : 0;
      if (x + 1 < width)
        out[x + 1] = o >= 128 ? 255 : 0;
    } else {
      out[x] = clamp255 (e + (noise ? noise[x & (NOISE_SIZE - 1)] : 0));
      if (x + 1 < width)
        out[x + 1] = clamp255 (o + (noise ? noise[(x + 1) & (NOISE_SIZE - 1)] : 0));
    }
  }
}

/* Y'CbCr 4:2:0 from a half-size warp: chroma is the warped pixels'
 * (a chroma sample sits where a warped pixel does), luma and mask are
 * converted at half size and enlarged. */
static void
render_yuv_half (DermFrameRenderer *fr, FrameWarp *w, const FrameTone *tone, guint64 frame_index,
                 GstVideoFrame *frame, guint8 *mask)
{
  const gint W = w->W, H = w->H, lw = w->lw, lh = w->lh;
  const gboolean i420 = GST_VIDEO_FRAME_FORMAT (frame) == GST_VIDEO_FORMAT_I420;
  gsize need = 2 * (gsize) lw * lh + 2 * (gsize) lw;
  if (fr->planes_size < need) {
    g_free (fr->planes);
    fr->planes = g_malloc (need);
    fr->planes_size = need;
  }
  guint8 *ylow = fr->planes, *mlow = ylow + (gsize) lw * lh;
  guint16 *tmp = (guint16 *) (mlow + (gsize) lw * lh);
  guint32 *row = fr->rows;

  for (gint k = 0; k < lh; k++) {
    warp_frame_row (w, k, row);
    guint8 *yl = ylow + (gsize) k * lw, *ml = mlow + (gsize) k * lw;
    guint8 *u = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 1)
        + (gsize) k * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 1);
    guint8 *v = i420 ? (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 2)
        + (gsize) k * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 2) : u + 1;
    const gint cstep = i420 ? 1 : 2;
    for (gint j = 0; j < lw; j++) {
      guint32 p = row[j];
      gint r = p & 0xff, g = (p >> 8) & 0xff, b = (p >> 16) & 0xff;
      yl[j] = to_y (tone, fr->yoff, p, 0);
      ml[j] = (guint8) (0u - (p >> 31));
      u[j * cstep] = clamp255 ((tone->uc[0] * r + tone->uc[1] * g + tone->uc[2] * b + fr->coff) >> 14);
      v[j * cstep] = clamp255 ((tone->vc[0] * r + tone->vc[1] * g + tone->vc[2] * b + fr->coff) >> 14);
    }
  }

  guint8 *yp = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  const gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  for (gint y = 0; y < H; y++) {
    /* rows k - 1, k (3/4) for even y = 2k; k (3/4), k + 1 for odd */
    gint k = y / 2, k0, k1, w1;
    if (y % 2 == 0) {
      k0 = MAX (k - 1, 0);
      k1 = k;
      w1 = 3;
    } else {
      k0 = k;
      k1 = MIN (k + 1, lh - 1);
      w1 = 1;
    }
    const gint8 *noise = tone->noise
        ? tone->noise
          + (dermsrc_splitmix64 (frame_index * 0x10000ull + (guint64) y) & (NOISE_SIZE - 1))
        : NULL;
    /* the noise table is read at noise[x & (NOISE_SIZE - 1)] from here on:
     * keep the window inside it */
    if (noise && noise + W > tone->noise + NOISE_SIZE)
      noise = tone->noise;
    upsample2_row (ylow + (gsize) k0 * lw, ylow + (gsize) k1 * lw, w1, lw, W, tmp, noise, FALSE,
                   yp + (gsize) y * ys);
    upsample2_row (mlow + (gsize) k0 * lw, mlow + (gsize) k1 * lw, w1, lw, W, tmp, NULL, TRUE,
                   mask + (gsize) y * W);
  }
}

/* Fills @frame (and the @mask of width x height) with what @cam sees of @t.
 * A still camera reads the texture, which is the frame, as it is. */
void
dermsrc_render_frame (DermFrameRenderer *fr, const DermTexture *t, const LsSynthCamera *cam,
                      gboolean still, GstVideoFrame *frame, guint8 *mask)
{
  const gint W = GST_VIDEO_FRAME_WIDTH (frame), H = GST_VIDEO_FRAME_HEIGHT (frame);
  const GstVideoFormat fmt = GST_VIDEO_FRAME_FORMAT (frame);
  const gboolean rgb = fmt == GST_VIDEO_FORMAT_RGBx || fmt == GST_VIDEO_FORMAT_RGBA;
  FrameTone tone;
  tone_init (&tone, fr, still ? 1.0 : cam->gain, still ? NULL : fr->noise, rgb);

  FrameWarp w = { .t = t, .W = W, .H = H, .factor = t->factor };
  if (!still) {
    const double k = 1.0 / (H * cam->zoom);
    w.a = cos (cam->rotation) * k;
    w.b = sin (cam->rotation) * k;
    w.pan_x = cam->pan_x;
    w.pan_y = cam->pan_y;
    w.du = (gint32) lround (w.a * w.factor * t->ppu * 65536.0);
    w.dv = (gint32) lround (w.b * w.factor * t->ppu * 65536.0);
    w.lw = (W + w.factor - 1) / w.factor;
    w.lh = (H + w.factor - 1) / w.factor;
    if (w.factor > 1) {
      for (gint i = 0; i < 3; i++) {
        w.low[i] = fr->rows + (gsize) (2 + i) * W;
        w.low_y[i] = -1;
      }
      w.vrow = fr->rows + (gsize) 5 * W;
    }
  }

  if (!still && !rgb && w.factor == 2) {
    render_yuv_half (fr, &w, &tone, cam->frame, frame, mask);
    return;
  }
  FrameTone plain = { .noise = NULL };
  const FrameTone *out_tone = &tone;
  if (!still && rgb && w.factor == 2) {
    w.tone = &tone;
    w.frame = cam->frame;
    out_tone = &plain;
  }

  for (gint y = 0; y < H; y += 2) {
    const gint nrows = MIN (2, H - y);
    const guint32 *rows[2] = { NULL, NULL };
    const guint noise_off = (guint) dermsrc_splitmix64 (cam->frame * 0x10000ull + (guint64) y);
    for (gint i = 0; i < nrows; i++) {
      if (still) {
        rows[i] = t->texels + (gsize) (y + i) * t->tw;
      } else {
        guint32 *row = fr->rows + (gsize) i * W;
        frame_row (&w, y + i, row);
        rows[i] = row;
      }
    }
    if (rgb) {
      for (gint i = 0; i < nrows; i++)
        write_rgbx (rows[i], W, out_tone, noise_off + (guint) i * 7919u,
                    (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0)
                    + (gsize) (y + i) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0),
                    mask + (gsize) (y + i) * W);
    } else {
      for (gint i = 0; i < nrows; i++) {
        guint8 *mrow = mask + (gsize) (y + i) * W;
        for (gint x = 0; x < W; x++)
          mrow[x] = (guint8) (0u - (rows[i][x] >> 31));
      }
      guint8 *yp = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
      gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
      guint8 *up = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 1)
          + (gsize) (y / 2) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 1);
      guint8 *vp, *y0 = yp + (gsize) y * ys;
      gint cstep;
      if (fmt == GST_VIDEO_FORMAT_I420) {
        vp = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 2)
            + (gsize) (y / 2) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 2);
        cstep = 1;
      } else {
        vp = up + 1;
        cstep = 2;
      }
      write_yuv_rows (fr, &tone, rows[0], rows[1], W, noise_off, y0, y0 + ys, up, vp, cstep);
    }
  }
}
