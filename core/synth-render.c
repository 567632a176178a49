/* lesionseg: rendering a synthetic dermoscopy scene through a camera.
 *
 * Four passes over a float RGB frame: skin and pigment per pixel (the mask
 * comes out of the same test, q < 1, and nothing later touches it), strokes
 * and bubbles drawn object by object, a Gaussian blur, and the screen-space
 * camera (illumination, dermatoscope corners, sensor noise, 8-bit rounding).
 * Every pixel is a pure function of the scene, the camera and its position,
 * so rows run in parallel and the result does not depend on thread count.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "synth-private.h"

/* scene point of pixel centre (px, py): (ox + a u - b v, oy + b u + a v)
 * with u = px + 0.5 - W/2, v = py + 0.5 - H/2 */
typedef struct {
  int width, height;
  double ox, oy, a, b;
  double px_per_unit;   /* output pixels per scene unit */
} Xform;

static void
xform_init (Xform *xf, const LsSynthCamera *cam, int width, int height)
{
  double k = 1.0 / (height * cam->zoom);
  xf->width = width;
  xf->height = height;
  xf->ox = cam->pan_x;
  xf->oy = cam->pan_y;
  xf->a = cos (cam->rotation) * k;
  xf->b = sin (cam->rotation) * k;
  xf->px_per_unit = height * cam->zoom;
}

/* scene point -> continuous pixel coordinate (pixel px spans [px, px+1)) */
static void
xform_to_pixel (const Xform *xf, double x, double y, double *pu, double *pv)
{
  double dx = x - xf->ox, dy = y - xf->oy, n = xf->a * xf->a + xf->b * xf->b;
  *pu = (xf->a * dx + xf->b * dy) / n + xf->width * 0.5;
  *pv = (-xf->b * dx + xf->a * dy) / n + xf->height * 0.5;
}

/* ---- skin and pigment --------------------------------------------------- */

#define SEED(s, k) ((s)->noise_seed + (guint64) (k) * 0x9E3779B97F4A7C15ull)

/* Low-frequency fields (skin tone, pigment mix, blotches) change over tens
 * of pixels: they are computed on a grid every GRID pixels and interpolated,
 * which saves most of the noise evaluations. */
#define GRID 4
enum { F_SKIN, F_MIX, F_BLOTCH, N_FIELDS };

typedef struct {
  int gw, gh;
  float *v;     /* gh x gw x N_FIELDS */
} Fields;

static void
fields_compute (const LsSynthScene *s, const Xform *xf, Fields *fl)
{
  fl->gw = xf->width / GRID + 2;
  fl->gh = xf->height / GRID + 2;
  fl->v = g_new (float, (gsize) fl->gw * fl->gh * N_FIELDS);
#pragma omp parallel for schedule(static)
  for (int j = 0; j < fl->gh; j++)
    for (int i = 0; i < fl->gw; i++) {
      double u = i * GRID - xf->width * 0.5, v = j * GRID - xf->height * 0.5;
      double x = xf->ox + xf->a * u - xf->b * v, y = xf->oy + xf->b * u + xf->a * v;
      float *o = &fl->v[((gsize) j * fl->gw + i) * N_FIELDS];
      o[F_SKIN] = (float) ls_fbm (x * s->skin_freq, y * s->skin_freq, 4, SEED (s, 1));
      o[F_MIX] = (float) ls_fbm (x * s->mix_freq, y * s->mix_freq, 4, SEED (s, 5));
      o[F_BLOTCH] = (float) ls_fbm (x * s->blotch_freq, y * s->blotch_freq, 3, SEED (s, 6));
    }
}

static inline void
fields_at (const Fields *fl, int px, int py, double out[N_FIELDS])
{
  double gx = (px + 0.5) / GRID, gy = (py + 0.5) / GRID;
  int i = (int) gx, j = (int) gy;
  double tx = gx - i, ty = gy - j;
  const float *a = &fl->v[((gsize) j * fl->gw + i) * N_FIELDS];
  const float *b = a + N_FIELDS, *c = a + (gsize) fl->gw * N_FIELDS, *d = c + N_FIELDS;
  for (int k = 0; k < N_FIELDS; k++) {
    double ab = a[k] + (b[k] - a[k]) * tx, cd = c[k] + (d[k] - c[k]) * tx;
    out[k] = ab + (cd - ab) * ty;
  }
}

static inline void
skin_colour (const LsSynthScene *s, double x, double y, double n1, double col[3])
{
  double ridge = 1.0 - fabs (ls_vnoise (x * 45.0, y * 45.0, SEED (s, 3)));
  double lines = ls_smoothstep (0.86, 1.0, ridge);
  double l = 1.0 + s->skin_tex * n1 + s->skin_lines * lines;
  double red = s->skin_red * (n1 > 0 ? n1 : 0);
  col[0] = s->skin[0] * l;
  col[1] = s->skin[1] * l * (1.0 - red);
  col[2] = s->skin[2] * l * (1.0 - 0.7 * red);
}

/* F2 - F1 of a jittered-lattice Voronoi diagram, in cell units: small on the
 * cell walls, which is where a pigment network's lines are. */
static inline double
voronoi_edge (double x, double y, guint64 seed)
{
  double fx = floor (x), fy = floor (y);
  gint64 ix = (gint64) fx, iy = (gint64) fy;
  double rx = x - fx, ry = y - fy, d1 = 1e9, d2 = 1e9;
  for (int dj = -1; dj <= 1; dj++)
    for (int di = -1; di <= 1; di++) {
      guint32 h = ls_hash2 (ix + di, iy + dj, seed);
      double cx = di + 0.1 + 0.8 * (double) (h & 0xffff) / 65536.0 - rx;
      double cy = dj + 0.1 + 0.8 * (double) ((h >> 16) & 0xffff) / 65536.0 - ry;
      double d = cx * cx + cy * cy;
      if (d < d1) {
        d2 = d1;
        d1 = d;
      } else if (d < d2) {
        d2 = d;
      }
    }
  return sqrt (d2) - sqrt (d1);
}

/* coverage of the dot (if any) in the lattice cell holding (x, y) */
static inline double
dot_coverage (const LsSynthScene *s, double x, double y, double local_prob, double soft)
{
  double gx = x / s->dot_cell, gy = y / s->dot_cell;
  double fx = floor (gx), fy = floor (gy);
  guint32 h = ls_hash2 ((gint64) fx, (gint64) fy, SEED (s, 9));
  if (ls_hash_unit (h) >= local_prob)
    return 0;
  guint32 h2 = ls_hash2 ((gint64) fx, (gint64) fy, SEED (s, 10));
  double r = s->dot_radius * (0.5 + (double) (h2 & 0x3ff) / 1024.0);
  double room = MAX (0.5 - r, 0.0);
  double cx = 0.5 + room * (2.0 * (double) ((h2 >> 10) & 0x3ff) / 1024.0 - 1.0);
  double cy = 0.5 + room * (2.0 * (double) ((h2 >> 20) & 0x3ff) / 1024.0 - 1.0);
  double dx = gx - fx - cx, dy = gy - fy - cy;
  return 1.0 - ls_smoothstep (r - soft, r + soft, sqrt (dx * dx + dy * dy));
}

/* brown and dark-brown absorption directions, about unit luminance */
static const double net_dir[3] = { 0.53, 1.03, 1.44 };
static const double dot_dir[3] = { 0.85, 1.06, 1.25 };

static inline void
lesion_colour (const LsSynthScene *s, double x, double y, double q, double f,
               const double fld[N_FIELDS], double px_scene, double col[3])
{
  double d = (1.0 - q) * f;                 /* depth inside, in units of R0 */
  double edge_f = 1.0 / (3.0 * px_scene + 0.6 * s->ramp * s->r0);
  double en = s->ramp_noise * ls_vnoise (x * edge_f, y * edge_f, SEED (s, 4));
  double alpha = ls_smoothstep (-1.0, 1.0, d / s->ramp + en);
  if (alpha < 0.002)
    return;

  double m = fld[F_MIX];
  double tp = ls_clamp (0.5 + s->radial * (0.5 - q) + 0.6 * s->mix_noise * m, 0.0, 1.0);
  double A[3];
  ls_synth_palette (s, tp, A);
  if (s->blotch) {
    double w = 0.7 * ls_smoothstep (s->blotch_level, s->blotch_level + 0.35, fld[F_BLOTCH]);
    for (int c = 0; c < 3; c++)
      A[c] += w * (s->blotch_absorb[c] - A[c]);
  }
  double gran = 1.0 + s->granular * ls_vnoise (x / (3.0 * px_scene), y / (3.0 * px_scene), SEED (s, 7));
  double k = s->strength * (1.0 + s->density_noise * m) * gran
           * (1.0 - s->fade * ls_smoothstep (0.3, 1.0, q));
  ls_synth_apply_strength (A, k);
  double extra = 0, dots = 0;
  if (s->net_depth > 0) {
    double cell = s->net_cell * (1.0 + 0.3 * m);
    double e = voronoi_edge (x / cell + 0.25 * fld[F_BLOTCH], y / cell + 0.25 * fld[F_SKIN], SEED (s, 8));
    double line = 1.0 - ls_smoothstep (s->net_width * 0.5, s->net_width * 1.5, e);
    double patch = ls_smoothstep (-0.25, 0.25, m + s->net_patch);
    extra = s->net_depth * line * patch;
  }
  if (s->dot_prob > 0 && q < 1.0) {
    double local = s->dot_prob * ls_smoothstep (0.0, 0.4, fld[F_SKIN] + m + 0.3 * q);
    dots = s->dot_depth * dot_coverage (s, x, y, local, 0.8 * px_scene / s->dot_cell);
  }
  for (int c = 0; c < 3; c++)
    col[c] *= exp (-alpha * (A[c] + extra * net_dir[c] + dots * dot_dir[c]));
}

static void
render_base (const LsSynthScene *s, const Xform *xf, float *buf, guint8 *mask, int mstride)
{
  const int W = xf->width, H = xf->height;
  const double px_scene = 1.0 / xf->px_per_unit;
  const double q_max = 1.0 + 3.5 * s->ramp / s->fmin;
  const double rho_max = s->r0 * s->fmax * q_max;
  Fields fl;
  fields_compute (s, xf, &fl);

#pragma omp parallel for schedule(dynamic, 4)
  for (int py = 0; py < H; py++) {
    float *row = buf + (size_t) py * W * 3;
    guint8 *mrow = mask ? mask + (size_t) py * mstride : NULL;
    double v = py + 0.5 - H * 0.5;
    for (int px = 0; px < W; px++) {
      double u = px + 0.5 - W * 0.5;
      double x = xf->ox + xf->a * u - xf->b * v;
      double y = xf->oy + xf->b * u + xf->a * v;
      double col[3], fld[N_FIELDS];
      fields_at (&fl, px, py, fld);
      skin_colour (s, x, y, fld[F_SKIN], col);
      /* cheap reject before the harmonics */
      double dx = x - s->cx, dy = y - s->cy;
      double lx = (s->cos_o * dx + s->sin_o * dy) / s->sx;
      double ly = (-s->sin_o * dx + s->cos_o * dy) / s->sy;
      gboolean inside = FALSE;
      if (lx * lx + ly * ly < rho_max * rho_max) {
        double f, q = ls_synth_lesion_q (s, x, y, &f);
        inside = q < 1.0;
        if (q < q_max)
          lesion_colour (s, x, y, q, f, fld, px_scene, col);
      }
      if (mrow)
        mrow[px] = inside ? 255 : 0;
      row[3 * px + 0] = (float) col[0];
      row[3 * px + 1] = (float) col[1];
      row[3 * px + 2] = (float) col[2];
    }
  }
  g_free (fl.v);
}

/* ---- strokes, bubbles, specular dots ------------------------------------ */

static void
blend_pixel (float *p, const double rgb[3], double a)
{
  for (int c = 0; c < 3; c++)
    p[c] = (float) (p[c] + a * (rgb[c] - p[c]));
}

/* Coverage of a stroke is accumulated with max into @cov before one blend,
 * so overlapping segment joints do not darken twice. */
static void
draw_stroke (const LsSynthStroke *st, const Xform *xf, float *buf, float *cov)
{
  const int W = xf->width, H = xf->height;
  double pu[LS_SYNTH_STROKE_POINTS], pv[LS_SYNTH_STROKE_POINTS];
  double hw = 0.5 * st->width * xf->px_per_unit;
  double gain = MIN (1.0, 2.0 * hw);    /* thinner than a pixel: fainter */
  hw = MAX (hw, 0.5);
  int x0 = W, x1 = -1, y0 = H, y1 = -1;
  for (int i = 0; i < st->n; i++)
    xform_to_pixel (xf, st->x[i], st->y[i], &pu[i], &pv[i]);
  int nseg = MAX (st->n - 1, 1);
  for (int i = 0; i < nseg; i++) {
    int j = MIN (i + 1, st->n - 1);
    double ax = pu[i], ay = pv[i], bx = pu[j], by = pv[j];
    int sx0 = MAX (0, (int) floor (MIN (ax, bx) - hw - 1));
    int sx1 = MIN (W - 1, (int) ceil (MAX (ax, bx) + hw + 1));
    int sy0 = MAX (0, (int) floor (MIN (ay, by) - hw - 1));
    int sy1 = MIN (H - 1, (int) ceil (MAX (ay, by) + hw + 1));
    if (sx0 > sx1 || sy0 > sy1)
      continue;
    x0 = MIN (x0, sx0); x1 = MAX (x1, sx1);
    y0 = MIN (y0, sy0); y1 = MAX (y1, sy1);
    double ex = bx - ax, ey = by - ay, len2 = ex * ex + ey * ey;
    for (int py = sy0; py <= sy1; py++)
      for (int px = sx0; px <= sx1; px++) {
        double cx = px + 0.5 - ax, cy = py + 0.5 - ay;
        double t = len2 > 0 ? ls_clamp ((cx * ex + cy * ey) / len2, 0.0, 1.0) : 0.0;
        double ddx = cx - t * ex, ddy = cy - t * ey;
        double c = ls_clamp (hw + 0.5 - sqrt (ddx * ddx + ddy * ddy), 0.0, 1.0);
        float *cp = &cov[(size_t) py * W + px];
        if (c > *cp)
          *cp = (float) c;
      }
  }
  for (int py = y0; py <= y1; py++)
    for (int px = x0; px <= x1; px++) {
      float *cp = &cov[(size_t) py * W + px];
      if (*cp > 0)
        blend_pixel (&buf[((size_t) py * W + px) * 3], st->rgb, st->opacity * gain * *cp);
      *cp = 0;
    }
}

/* a gel bubble: slightly brighter inside, a bright rim, a dark inner ring
 * and a small highlight */
static void
draw_bubble (const LsSynthCircle *b, const Xform *xf, float *buf)
{
  const int W = xf->width, H = xf->height;
  double cu, cv, r = b->r * xf->px_per_unit;
  xform_to_pixel (xf, b->x, b->y, &cu, &cv);
  double rim = MAX (0.7, 0.07 * r);
  double hu = cu - 0.45 * r, hv = cv - 0.45 * r, hr = MAX (0.6, 0.14 * r);
  static const double white[3] = { 250, 250, 250 };
  int x0 = MAX (0, (int) floor (cu - r - 2)), x1 = MIN (W - 1, (int) ceil (cu + r + 2));
  int y0 = MAX (0, (int) floor (cv - r - 2)), y1 = MIN (H - 1, (int) ceil (cv + r + 2));
  for (int py = y0; py <= y1; py++)
    for (int px = x0; px <= x1; px++) {
      float *p = &buf[((size_t) py * W + px) * 3];
      double du = px + 0.5 - cu, dv = py + 0.5 - cv, d = sqrt (du * du + dv * dv);
      double ring = 1.0 - ls_smoothstep (0, rim, fabs (d - r));
      double inner = 1.0 - ls_smoothstep (0, rim, fabs (d - r + 2.0 * rim));
      double in = 1.0 - ls_smoothstep (r - 0.5, r + 0.5, d);
      double scale = (1.0 + 0.04 * in) * (1.0 - 0.15 * inner);
      for (int c = 0; c < 3; c++)
        p[c] = (float) (p[c] * scale);
      blend_pixel (p, white, 0.55 * ring);
      double eu = px + 0.5 - hu, ev = py + 0.5 - hv;
      double hl = 1.0 - ls_smoothstep (hr - 0.5, hr + 0.5, sqrt (eu * eu + ev * ev));
      blend_pixel (p, white, 0.6 * hl);
    }
}

static void
draw_specular (const LsSynthCircle *sp, const Xform *xf, float *buf)
{
  const int W = xf->width, H = xf->height;
  double cu, cv, r = MAX (0.5, sp->r * xf->px_per_unit);
  static const double white[3] = { 252, 252, 250 };
  xform_to_pixel (xf, sp->x, sp->y, &cu, &cv);
  int x0 = MAX (0, (int) floor (cu - r - 1)), x1 = MIN (W - 1, (int) ceil (cu + r + 1));
  int y0 = MAX (0, (int) floor (cv - r - 1)), y1 = MIN (H - 1, (int) ceil (cv + r + 1));
  for (int py = y0; py <= y1; py++)
    for (int px = x0; px <= x1; px++) {
      double du = px + 0.5 - cu, dv = py + 0.5 - cv;
      double c = ls_clamp (r + 0.5 - sqrt (du * du + dv * dv), 0.0, 1.0);
      if (c > 0)
        blend_pixel (&buf[((size_t) py * W + px) * 3], white, 0.85 * c);
    }
}

static void
render_objects (const LsSynthScene *s, const Xform *xf, float *buf)
{
  if (s->n_strokes > 0) {
    float *cov = g_new0 (float, (size_t) xf->width * xf->height);
    for (int i = 0; i < s->n_strokes; i++)
      draw_stroke (&s->strokes[i], xf, buf, cov);
    g_free (cov);
  }
  for (int i = 0; i < s->n_bubbles; i++)
    draw_bubble (&s->bubbles[i], xf, buf);
  for (int i = 0; i < s->n_specular; i++)
    draw_specular (&s->specular[i], xf, buf);
}

/* ---- camera -------------------------------------------------------------- */

static void
gaussian_blur (float *buf, int W, int H, double sigma)
{
  int r = (int) ceil (2.5 * sigma);
  if (sigma < 0.25 || r < 1)
    return;
  r = MIN (r, 32);
  float k[65];
  double sum = 0;
  for (int i = -r; i <= r; i++)
    sum += k[i + r] = (float) exp (-0.5 * i * i / (sigma * sigma));
  for (int i = 0; i <= 2 * r; i++)
    k[i] = (float) (k[i] / sum);
  float *tmp = g_new (float, (size_t) W * H * 3);

#pragma omp parallel
  {
    /* one edge-padded row per thread, so the taps need no clamping */
    float *pad = g_new (float, (size_t) (W + 2 * r) * 3);
#pragma omp for schedule(static)
    for (int y = 0; y < H; y++) {
      const float *src = buf + (size_t) y * W * 3;
      float *dst = tmp + (size_t) y * W * 3;
      for (int x = -r; x < W + r; x++)
        memcpy (&pad[(x + r) * 3], &src[CLAMP (x, 0, W - 1) * 3], 3 * sizeof (float));
      for (int x = 0; x < W * 3; x++) {
        float acc = 0;
        for (int i = 0; i <= 2 * r; i++)
          acc += k[i] * pad[x + i * 3];
        dst[x] = acc;
      }
    }
    g_free (pad);
  }
#pragma omp parallel for schedule(static)
  for (int y = 0; y < H; y++) {
    float *dst = buf + (size_t) y * W * 3;
    for (int x = 0; x < W * 3; x++)
      dst[x] = 0;
    for (int i = -r; i <= r; i++) {
      const float *src = tmp + (size_t) CLAMP (y + i, 0, H - 1) * W * 3;
      for (int x = 0; x < W * 3; x++)
        dst[x] += k[i + r] * src[x];
    }
  }
  g_free (tmp);
}

/* zero-mean, unit-variance triangular noise from 20 bits of a hash */
static inline double
hash_noise (guint64 h, int c)
{
  h >>= 20 * c;
  return ((double) (h & 0x3ff) + (double) ((h >> 10) & 0x3ff) - 1023.0) * (2.449489742783178 / 1024.0);
}

static void
render_camera (const LsSynthScene *s, const LsSynthCamera *cam, int W, int H,
               const float *buf, guint8 *rgb, int rgb_stride)
{
  const double half_diag2 = 0.25 * ((double) W * W / ((double) H * H) + 1.0);
  const double level = s->exposure * cam->gain;
  const guint64 nseed = SEED (s, 11) ^ (cam->frame * 0xD6E8FEB86659FD93ull);

#pragma omp parallel for schedule(static)
  for (int py = 0; py < H; py++) {
    const float *src = buf + (size_t) py * W * 3;
    guint8 *dst = rgb + (size_t) py * rgb_stride;
    double sy = (py + 0.5 - H * 0.5) / H;
    for (int px = 0; px < W; px++) {
      double sx = (px + 0.5 - W * 0.5) / H;
      double illum = level * (1.0 + s->grad_x * sx + s->grad_y * sy)
                   * (1.0 - s->vignette * (sx * sx + sy * sy) / half_diag2);
      double dark = 0;
      if (s->corners) {
        double cx = sx - s->corner_cx, cy = sy - s->corner_cy;
        dark = ls_smoothstep (s->corner_r - s->corner_soft, s->corner_r + s->corner_soft,
                              sqrt (cx * cx + cy * cy));
      }
      guint64 h = ls_hash2 (px, py, nseed) | ((guint64) ls_hash2 (px, py, nseed + 1) << 32);
      for (int c = 0; c < 3; c++) {
        double v = src[px * 3 + c] * illum * s->wb[c];
        v += dark * (s->corner_level - v);
        v += s->noise * hash_noise (h, c);
        dst[px * 3 + c] = (guint8) ls_clamp (floor (v + 0.5), 0, 255);
      }
    }
  }
}

/* ---- public ------------------------------------------------------------- */

gboolean
ls_synth_scene_render (const LsSynthScene *scene, const LsSynthCamera *camera,
                       int width, int height, guint8 *rgb, int rgb_stride,
                       guint8 *mask, int mask_stride, GError **error)
{
  LsSynthCamera identity;
  if (!camera) {
    ls_synth_camera_init (&identity);
    camera = &identity;
  }
  if (width < 16 || height < 16 || width > 16384 || height > 16384) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                 "synthetic frame size %dx%d is outside 16..16384", width, height);
    return FALSE;
  }
  if (!rgb || rgb_stride < width * 3 || (mask && mask_stride < width)) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT, "synthetic frame: bad buffer or stride");
    return FALSE;
  }
  if (!(camera->zoom > 0) || !isfinite (camera->pan_x) || !isfinite (camera->pan_y)
      || !isfinite (camera->rotation) || !(camera->gain >= 0)) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                 "synthetic camera: zoom must be > 0, gain >= 0, pan and rotation finite");
    return FALSE;
  }
  Xform xf;
  xform_init (&xf, camera, width, height);
  float *buf = g_new (float, (size_t) width * height * 3);
  render_base (scene, &xf, buf, mask, mask_stride);
  render_objects (scene, &xf, buf);
  gaussian_blur (buf, width, height, scene->blur * height / LS_SYNTH_REF_HEIGHT);
  render_camera (scene, camera, width, height, buf, rgb, rgb_stride);
  g_free (buf);
  return TRUE;
}
