/* lesionseg: drawing a synthetic dermoscopy scene from its seed.
 *
 * Ranges come from the real ISIC 2017 training images (see
 * ../shared/data/README.md): lesion area fraction, lesion/skin luminance,
 * skin and lesion colours, dark corners, border contact. Each part draws from
 * its own PRNG stream, so switching artefacts or contrast knobs leaves the
 * lesion's shape of a seed unchanged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "synth-private.h"

enum { STREAM_LESION = 1, STREAM_COLOUR, STREAM_ARTEFACT, STREAM_CAMERA, STREAM_NOISE };

#define PX (1.0 / LS_SYNTH_REF_HEIGHT)   /* one reference pixel in scene units */
#define SHAPE_SAMPLES 720

/* ---- lesion shape ------------------------------------------------------ */

static void
shape_extent (const LsSynthScene *s, double *area, double bbox[4])
{
  double sum = 0;
  bbox[0] = bbox[2] = G_MAXDOUBLE;
  bbox[1] = bbox[3] = -G_MAXDOUBLE;
  for (int i = 0; i < SHAPE_SAMPLES; i++) {
    double th = 2.0 * G_PI * i / SHAPE_SAMPLES;
    double c = cos (th), sn = sin (th);
    double f = ls_synth_radius_factor (s, c, sn);
    sum += f * f;
    double lx = s->sx * f * c, ly = s->sy * f * sn;
    double x = s->cos_o * lx - s->sin_o * ly, y = s->sin_o * lx + s->cos_o * ly;
    bbox[0] = MIN (bbox[0], x);
    bbox[1] = MAX (bbox[1], x);
    bbox[2] = MIN (bbox[2], y);
    bbox[3] = MAX (bbox[3], y);
  }
  /* sx * sy == 1, so the stretch keeps the area of the polar shape */
  *area = 0.5 * sum * (2.0 * G_PI / SHAPE_SAMPLES);
}

void
ls_synth_scene_sample_lesion (LsSynthScene *s)
{
  LsRng rng;
  ls_rng_init (&rng, s->params.seed, STREAM_LESION);

  /* r(theta) = R0 (1 + sum a_k cos (k theta + phi_k)): k = 2..8 carry the
   * shape, 9..16 a little roughness. Sum |a_k| < 0.5 keeps r > 0, so the
   * lesion is star-shaped about its centre: one region without holes. */
  double irregular = 0.03 + 0.32 * pow (ls_rng_uniform (&rng), 1.4);
  double w[LS_SYNTH_HARMONICS + 1] = { 0 }, wsum = 0;
  for (int k = 2; k <= 8; k++) {
    w[k] = ls_rng_uniform (&rng) / pow (k - 1.0, 0.7);
    wsum += w[k];
  }
  for (int k = 1; k <= LS_SYNTH_HARMONICS; k++) {
    double a;
    if (k == 1)
      a = 0.03 * ls_rng_uniform (&rng);
    else if (k <= 8)
      a = irregular * w[k] / wsum;
    else
      a = (0.004 + 0.05 * irregular) * ls_rng_uniform (&rng) * 8.0 / k;
    double phi = ls_rng_range (&rng, 0, 2.0 * G_PI);
    s->hc[k] = a * cos (phi);
    s->hs[k] = -a * sin (phi);
  }
  /* tabulate f over the diamond angle; the table, not the series, defines
   * the mask */
  s->fmin = G_MAXDOUBLE;
  s->fmax = 0;
  for (int i = 0; i <= LS_SYNTH_FTABLE; i++) {
    double p = 4.0 * (i % LS_SYNTH_FTABLE) / LS_SYNTH_FTABLE, x, y;
    if (p < 1) { x = 1 - p; y = p; }
    else if (p < 2) { x = 1 - p; y = 2 - p; }
    else if (p < 3) { x = p - 3; y = 2 - p; }
    else { x = p - 3; y = p - 4; }
    double n = sqrt (x * x + y * y);
    double f = ls_synth_radius_factor (s, x / n, y / n);
    s->ftable[i] = f;
    s->fmin = MIN (s->fmin, f);
    s->fmax = MAX (s->fmax, f);
  }

  /* elongated, the long axis mostly along the frame's long axis as a
   * dermatologist frames it */
  double elong = exp (log (1.9) * pow (ls_rng_uniform (&rng), 1.5));
  s->sx = sqrt (elong);
  s->sy = 1.0 / s->sx;
  double orient = ls_rng_bool (&rng, 0.6) ? 0.35 * ls_rng_normal (&rng)
                                          : ls_rng_range (&rng, -G_PI / 2, G_PI / 2);
  s->cos_o = cos (orient);
  s->sin_o = sin (orient);

  /* area fraction: log-uniform over 0.02-0.85 with its mass pushed up a
   * little, median ~0.19 (the real training set's is 0.28, the test set's
   * 0.06) */
  double u_area = ls_rng_uniform (&rng);
  double frac = s->params.area_fraction > 0 ? s->params.area_fraction
              : 0.02 * exp (log (0.85 / 0.02) * pow (u_area, 0.6));
  double unit_area, bb[4];
  shape_extent (s, &unit_area, bb);
  s->r0 = sqrt (frac * s->aspect / unit_area);

  double hw = s->aspect / 2, hh = 0.5, margin = 0.02;
  gboolean touch = ls_rng_bool (&rng, 0.10);
  double u_cx = ls_rng_normal (&rng), u_cy = ls_rng_normal (&rng);
  int side = ls_rng_int (&rng, 4);
  double overshoot = ls_rng_range (&rng, 0.03, 0.45);
  if (!touch) {
    double fit = MIN ((2 * (hw - margin)) / (bb[1] - bb[0]), (2 * (hh - margin)) / (bb[3] - bb[2]));
    s->r0 = MIN (s->r0, fit);
  }
  /* centre ranges that keep the whole shape inside the frame */
  double xlo = -hw + margin - bb[0] * s->r0, xhi = hw - margin - bb[1] * s->r0;
  double ylo = -hh + margin - bb[2] * s->r0, yhi = hh - margin - bb[3] * s->r0;
  s->cx = xlo <= xhi ? ls_clamp (0.5 * (xlo + xhi) + 0.3 * u_cx * (xhi - xlo), xlo, xhi) : 0;
  s->cy = ylo <= yhi ? ls_clamp (0.5 * (ylo + yhi) + 0.3 * u_cy * (yhi - ylo), ylo, yhi) : 0;
  if (touch) {
    /* push it over one edge, the centre staying in the frame so the visible
     * part stays one star-shaped region */
    double ext_x = (bb[1] - bb[0]) * s->r0, ext_y = (bb[3] - bb[2]) * s->r0;
    switch (side) {
      case 0: s->cx = -hw - bb[0] * s->r0 - overshoot * ext_x; break;
      case 1: s->cx = hw - bb[1] * s->r0 + overshoot * ext_x; break;
      case 2: s->cy = -hh - bb[2] * s->r0 - overshoot * ext_y; break;
      default: s->cy = hh - bb[3] * s->r0 + overshoot * ext_y; break;
    }
    s->cx = ls_clamp (s->cx, -hw + 0.03, hw - 0.03);
    s->cy = ls_clamp (s->cy, -hh + 0.03, hh - 0.03);
  }

  /* border: sharp to fuzzy */
  s->ramp = 0.01 + 0.07 * pow (ls_rng_uniform (&rng), 1.3);
  s->ramp_noise = ls_rng_range (&rng, 0.2, 1.0);
}

/* ---- colours ------------------------------------------------------------ */

typedef enum {
  PIG_LIGHT_BROWN, PIG_BROWN, PIG_DARK_BROWN, PIG_BLACK_BLUE, PIG_BLUE_GREY,
  PIG_PINK_RED, PIG_WHITE_SCAR, N_PIGMENTS
} Pigment;

/* transmittance relative to the surrounding skin, per channel; brown is
 * the real training set's median lesion over its median skin colour */
static const double pigment_t[N_PIGMENTS][3] = {
  [PIG_LIGHT_BROWN] = { 0.92, 0.76, 0.63 },
  [PIG_BROWN]       = { 0.80, 0.58, 0.45 },
  [PIG_DARK_BROWN]  = { 0.52, 0.34, 0.26 },
  [PIG_BLACK_BLUE]  = { 0.30, 0.30, 0.37 },
  [PIG_BLUE_GREY]   = { 0.66, 0.69, 0.78 },
  [PIG_PINK_RED]    = { 0.97, 0.72, 0.74 },
  [PIG_WHITE_SCAR]  = { 1.10, 1.12, 1.14 },
};

static double
luma (const double c[3])
{
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}

static void
pigment_absorb (Pigment p, double out[3])
{
  for (int c = 0; c < 3; c++)
    out[c] = -log (pigment_t[p][c]);
}

/* mean lesion/skin luminance at strength @k over the palette ramp */
static double
palette_ratio (const LsSynthScene *s, double k)
{
  double sum = 0;
  const int steps = 32;
  for (int i = 0; i <= steps; i++) {
    double A[3], col[3];
    ls_synth_palette (s, (double) i / steps, A);
    ls_synth_apply_strength (A, k);
    for (int c = 0; c < 3; c++)
      col[c] = s->skin[c] * exp (-A[c]);
    sum += luma (col);
  }
  return sum / (steps + 1) / luma (s->skin);
}

void
ls_synth_scene_sample_colours (LsSynthScene *s)
{
  LsRng rng;
  ls_rng_init (&rng, s->params.seed, STREAM_COLOUR);

  /* skin from pale to dark: a tone ramp, then a pink or yellow tint */
  static const double tones[4][3] = {
    { 246, 220, 218 }, { 228, 194, 188 }, { 202, 174, 160 }, { 150, 134, 116 },
  };
  double tone = 3.0 * pow (ls_rng_uniform (&rng), 1.8);
  int ti = MIN ((int) tone, 2);
  double tf = tone - ti;
  double pink = 0.06 * ls_rng_normal (&rng);
  for (int c = 0; c < 3; c++)
    s->skin[c] = tones[ti][c] + tf * (tones[ti + 1][c] - tones[ti][c]);
  s->skin[1] *= 1.0 - ls_clamp (pink, -0.06, 0.10);
  s->skin[2] *= 1.0 - 0.5 * ls_clamp (pink, -0.06, 0.10) + 0.03 * ls_rng_normal (&rng);
  s->skin_tex = ls_rng_range (&rng, 0.02, 0.07);
  s->skin_red = ls_rng_range (&rng, 0.0, 0.08);
  s->skin_lines = ls_bool_range (&rng, 0.4, 0.01, 0.04);
  s->skin_freq = ls_rng_range (&rng, 3.0, 8.0);

  /* pigments: 1-4 of them along a light-to-dark ramp, maybe a blotch */
  static const double n_prob[4] = { 0.2, 0.35, 0.3, 0.15 };
  double u = ls_rng_uniform (&rng);
  int n = 1;
  for (double acc = n_prob[0]; n < 4 && u >= acc; n++)
    acc += n_prob[n];
  static const Pigment main_pig[] = {
    PIG_LIGHT_BROWN, PIG_LIGHT_BROWN, PIG_LIGHT_BROWN, PIG_BROWN, PIG_BROWN, PIG_BROWN,
    PIG_BROWN, PIG_DARK_BROWN, PIG_DARK_BROWN, PIG_DARK_BROWN, PIG_BLACK_BLUE, PIG_PINK_RED,
  };
  Pigment chosen[LS_SYNTH_MAX_COLOURS];
  for (int i = 0; i < n; i++)
    chosen[i] = main_pig[ls_rng_int (&rng, G_N_ELEMENTS (main_pig))];
  /* sort light to dark by transmitted luminance */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && luma (pigment_t[chosen[j]]) > luma (pigment_t[chosen[j - 1]]); j--) {
      Pigment t = chosen[j];
      chosen[j] = chosen[j - 1];
      chosen[j - 1] = t;
    }
  s->n_colours = n;
  for (int i = 0; i < n; i++)
    pigment_absorb (chosen[i], s->absorb[i]);

  s->radial = ls_rng_bool (&rng, 0.75) ? ls_rng_range (&rng, 0.2, 1.3) : ls_rng_range (&rng, -0.6, 0.2);
  s->mix_noise = ls_rng_range (&rng, 0.3, 1.2);
  s->mix_freq = ls_rng_range (&rng, 1.5, 4.0) / s->r0;
  static const Pigment blotch_pig[] = { PIG_BLUE_GREY, PIG_WHITE_SCAR, PIG_BLACK_BLUE, PIG_PINK_RED, PIG_DARK_BROWN };
  s->blotch = ls_rng_bool (&rng, 0.35);
  pigment_absorb (blotch_pig[ls_rng_int (&rng, G_N_ELEMENTS (blotch_pig))], s->blotch_absorb);
  s->blotch_level = ls_rng_range (&rng, 0.1, 0.45);
  s->blotch_freq = ls_rng_range (&rng, 1.5, 3.5) / s->r0;
  s->granular = ls_rng_range (&rng, 0.05, 0.5);
  s->density_noise = ls_rng_range (&rng, 0.1, 0.45);
  s->fade = ls_bool_range (&rng, 0.5, 0.0, 0.6);

  /* contrast: lesion/skin mean luminance, real p5..p95 0.40..0.96 */
  double u_low = ls_rng_uniform (&rng);
  double u_c1 = ls_rng_uniform (&rng), u_c2 = ls_rng_uniform (&rng);
  double u_lc = ls_rng_uniform (&rng);
  s->info.low_contrast = s->params.force_low_contrast || u_low < 0.2;
  double target = s->info.low_contrast ? 0.80 + 0.15 * u_lc : 0.22 + 0.30 * (u_c1 + u_c2);
  s->info.contrast = target;
  double lo = 0.0, hi = 8.0;
  for (int it = 0; it < 40; it++) {
    double mid = 0.5 * (lo + hi);
    if (palette_ratio (s, mid) > target)
      lo = mid;
    else
      hi = mid;
  }
  s->strength = 0.5 * (lo + hi);

  /* pigment network: cells 6-15 px, lines darkened 10-35% */
  gboolean net = ls_rng_bool (&rng, 0.45);
  s->net_cell = ls_rng_range (&rng, 6, 15) * PX;
  s->net_width = ls_rng_range (&rng, 0.08, 0.18);
  s->net_depth = net ? -log (1.0 - 0.10 - 0.25 * pow (ls_rng_uniform (&rng), 2.0)) : 0;
  s->net_patch = ls_rng_range (&rng, -0.3, 0.5);
  /* dots and globules */
  gboolean dots = ls_rng_bool (&rng, 0.45);
  s->dot_cell = ls_rng_range (&rng, 5, 14) * PX;
  s->dot_prob = dots ? ls_rng_range (&rng, 0.05, 0.3) : 0;
  s->dot_radius = ls_rng_range (&rng, 0.10, 0.25);
  s->dot_depth = ls_rng_range (&rng, 0.2, 0.8);

  s->noise_seed = ls_rng_next (&rng);
  for (int c = 0; c < 3; c++)
    s->info.skin_rgb[c] = (guint8) ls_clamp (s->skin[c] + 0.5, 0, 255);
  s->info.n_colours = n;
}

/* ---- artefacts --------------------------------------------------------- */

static LsSynthStroke *
add_stroke (LsSynthScene *s)
{
  if (s->n_strokes >= LS_SYNTH_MAX_STROKES)
    return NULL;
  LsSynthStroke *st = &s->strokes[s->n_strokes++];
  memset (st, 0, sizeof *st);
  return st;
}

/* a curved strand: a walk whose heading bends smoothly */
static void
sample_hair (LsSynthScene *s, LsRng *rng, gboolean light)
{
  LsSynthStroke *st = add_stroke (s);
  if (!st)
    return;
  double hw = s->aspect / 2;
  double x = ls_rng_range (rng, -hw - 0.1, hw + 0.1), y = ls_rng_range (rng, -0.6, 0.6);
  double heading = ls_rng_range (rng, 0, 2 * G_PI);
  double len = ls_rng_range (rng, 0.25, 1.6);
  double bend = ls_rng_range (rng, -2.5, 2.5), bend2 = ls_rng_range (rng, -4, 4);
  double step = len / (LS_SYNTH_STROKE_POINTS - 1);
  st->n = LS_SYNTH_STROKE_POINTS;
  for (int i = 0; i < st->n; i++) {
    st->x[i] = x;
    st->y[i] = y;
    double t = (double) i / (st->n - 1);
    heading += (bend + bend2 * (t - 0.5)) * step;
    x += step * cos (heading);
    y += step * sin (heading);
  }
  double wpx = 1.0 + 2.0 * ls_rng_uniform (rng);
  st->width = wpx * PX;
  double g = light ? ls_rng_range (rng, 175, 235) : ls_rng_range (rng, 12, 60);
  st->rgb[0] = g * ls_rng_range (rng, 1.0, 1.15);
  st->rgb[1] = g;
  st->rgb[2] = g * ls_rng_range (rng, 0.8, 1.0);
  st->opacity = ls_rng_range (rng, 0.7, 0.97);
}

static void
sample_ruler (LsSynthScene *s, LsRng *rng)
{
  double hw = s->aspect / 2;
  gboolean vertical = ls_rng_bool (rng, 0.4);
  double edge = ls_rng_range (rng, 0.40, 0.47) * (ls_rng_bool (rng, 0.5) ? 1 : -1);
  double start = ls_rng_range (rng, -0.6, 0.0), len = ls_rng_range (rng, 0.3, 1.0);
  double tick = ls_rng_range (rng, 7, 12) * PX;   /* one millimetre */
  double g = ls_rng_range (rng, 20, 80), op = ls_rng_range (rng, 0.6, 0.9);
  double wpx = ls_rng_range (rng, 0.8, 1.6) * PX;
  /* (ax, ay) along the ruler, (nx, ny) toward the frame's inside */
  double ax = vertical ? 0 : 1, ay = vertical ? 1 : 0;
  double ox = vertical ? edge * hw * 2 : start * hw, oy = vertical ? start : edge;
  double nx = vertical ? (edge > 0 ? -1 : 1) : 0, ny = vertical ? 0 : (edge > 0 ? -1 : 1);
  LsSynthStroke *line = add_stroke (s);
  if (!line)
    return;
  line->n = 2;
  line->x[0] = ox; line->y[0] = oy;
  line->x[1] = ox + ax * len; line->y[1] = oy + ay * len;
  line->width = wpx;
  line->rgb[0] = line->rgb[1] = line->rgb[2] = g;
  line->opacity = op;
  for (int i = 0; i * tick <= len; i++) {
    LsSynthStroke *t = add_stroke (s);
    if (!t)
      return;
    double tl = (i % 10 == 0 ? 3.0 : i % 5 == 0 ? 2.2 : 1.3) * tick;
    t->n = 2;
    t->x[0] = ox + ax * i * tick; t->y[0] = oy + ay * i * tick;
    t->x[1] = t->x[0] + nx * tl; t->y[1] = t->y[0] + ny * tl;
    t->width = wpx;
    t->rgb[0] = t->rgb[1] = t->rgb[2] = g;
    t->opacity = op;
  }
}

static void
sample_ink (LsSynthScene *s, LsRng *rng)
{
  int n = 1 + ls_rng_int (rng, 3);
  double rgb[3] = { ls_rng_range (rng, 60, 120), ls_rng_range (rng, 40, 80), ls_rng_range (rng, 120, 170) };
  for (int k = 0; k < n; k++) {
    LsSynthStroke *st = add_stroke (s);
    if (!st)
      return;
    /* an arc around the lesion, or a dot beside it */
    double ang = ls_rng_range (rng, 0, 2 * G_PI);
    double rr = s->r0 * s->fmax * ls_rng_range (rng, 1.15, 1.6);
    if (ls_rng_bool (rng, 0.6)) {
      double span = ls_rng_range (rng, 0.3, 1.5);
      st->n = 12;
      for (int i = 0; i < st->n; i++) {
        double a = ang + span * i / (st->n - 1);
        st->x[i] = s->cx + rr * cos (a);
        st->y[i] = s->cy + rr * sin (a);
      }
      st->width = ls_rng_range (rng, 3, 8) * PX;
    } else {
      st->n = 1;
      st->x[0] = s->cx + rr * cos (ang);
      st->y[0] = s->cy + rr * sin (ang);
      st->width = ls_rng_range (rng, 5, 14) * PX;
    }
    memcpy (st->rgb, rgb, sizeof rgb);
    st->opacity = ls_rng_range (rng, 0.5, 0.85);
  }
}

void
ls_synth_scene_sample_artefacts (LsSynthScene *s)
{
  LsRng rng;
  ls_rng_init (&rng, s->params.seed, STREAM_ARTEFACT);
  gboolean hair = ls_rng_bool (&rng, 0.4);
  int n_hairs = hair ? 1 + (int) (39 * pow (ls_rng_uniform (&rng), 2.0)) : 0;
  gboolean light = ls_rng_bool (&rng, 0.2);
  gboolean corners = ls_rng_bool (&rng, 0.25);
  gboolean bubbles = ls_rng_bool (&rng, 0.12);
  gboolean specular = ls_rng_bool (&rng, 0.15);
  gboolean ruler = ls_rng_bool (&rng, 0.06);
  gboolean ink = ls_rng_bool (&rng, 0.04);
  double hw = s->aspect / 2, half_diag = sqrt (hw * hw + 0.25);

  s->corner_cx = ls_rng_range (&rng, -0.04, 0.04);
  s->corner_cy = ls_rng_range (&rng, -0.04, 0.04);
  s->corner_r = half_diag * ls_rng_range (&rng, 0.72, 1.0);
  s->corner_soft = ls_rng_range (&rng, 0.005, 0.04);
  s->corner_level = ls_rng_range (&rng, 2, 30);

  if (s->params.no_artefacts)
    return;
  s->corners = corners;
  s->info.dark_corners = corners;
  for (int i = 0; i < n_hairs; i++)
    sample_hair (s, &rng, light && ls_rng_bool (&rng, 0.8));
  s->info.n_hairs = n_hairs;
  if (bubbles) {
    double bx = ls_rng_range (&rng, -hw, hw), by = ls_rng_range (&rng, -0.5, 0.5);
    s->n_bubbles = 1 + ls_rng_int (&rng, 8);
    for (int i = 0; i < s->n_bubbles; i++) {
      s->bubbles[i].x = bx + 0.25 * ls_rng_normal (&rng);
      s->bubbles[i].y = by + 0.2 * ls_rng_normal (&rng);
      s->bubbles[i].r = (3 + 25 * pow (ls_rng_uniform (&rng), 2.5)) * PX;
    }
  }
  if (specular) {
    s->n_specular = 5 + ls_rng_int (&rng, LS_SYNTH_MAX_SPECULAR - 5);
    for (int i = 0; i < s->n_specular; i++) {
      s->specular[i].x = ls_rng_range (&rng, -hw, hw);
      s->specular[i].y = ls_rng_range (&rng, -0.5, 0.5);
      s->specular[i].r = ls_rng_range (&rng, 0.5, 2.0) * PX;
    }
  }
  if (ruler)
    sample_ruler (s, &rng);
  if (ink)
    sample_ink (s, &rng);
}

/* ---- camera ------------------------------------------------------------ */

void
ls_synth_scene_sample_camera (LsSynthScene *s)
{
  LsRng rng;
  ls_rng_init (&rng, s->params.seed, STREAM_CAMERA);
  s->vignette = ls_rng_range (&rng, 0.0, 0.45);
  double ga = ls_rng_range (&rng, 0, 2 * G_PI), gm = ls_rng_range (&rng, 0.0, 0.2);
  s->grad_x = gm * cos (ga);
  s->grad_y = gm * sin (ga);
  /* white balance: real skin ranges from yellowish to a cold blue cast */
  s->wb[0] = 1.0;
  s->wb[1] = exp (0.03 * ls_rng_normal (&rng));
  s->wb[2] = exp (0.06 * ls_rng_normal (&rng));
  if (ls_rng_bool (&rng, 0.12)) {
    s->wb[1] *= 1.05;
    s->wb[2] *= 1.16;
  }
  s->exposure = exp (0.08 * ls_rng_normal (&rng));
  s->blur = ls_rng_range (&rng, 0.3, 1.6);
  s->noise = ls_rng_range (&rng, 0.8, 4.0);
}

/* Area fraction and border contact in the reference frame, from a coarse
 * grid; ls_synth_generate replaces them with the exact pixel counts. */
static void
estimate_coverage (LsSynthScene *s)
{
  const int rows = 64, cols = MAX (1, (int) (64 * s->aspect + 0.5));
  int inside = 0;
  gboolean border = FALSE;
  for (int j = 0; j < rows; j++)
    for (int i = 0; i < cols; i++) {
      double f, x = ((i + 0.5) / cols - 0.5) * s->aspect, y = (j + 0.5) / rows - 0.5;
      if (ls_synth_lesion_q (s, x, y, &f) < 1.0) {
        inside++;
        border |= i == 0 || j == 0 || i == cols - 1 || j == rows - 1;
      }
    }
  s->info.area_fraction = (double) inside / (rows * cols);
  s->info.touches_border = border;
}

/* ---- public ------------------------------------------------------------ */

void
ls_synth_camera_init (LsSynthCamera *camera)
{
  memset (camera, 0, sizeof *camera);
  camera->zoom = 1.0;
  camera->gain = 1.0;
}

LsSynthScene *
ls_synth_scene_new (const LsSynthParams *params, GError **error)
{
  if (params->width < 16 || params->height < 16 || params->width > 16384 || params->height > 16384) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                 "synthetic image size %dx%d is outside 16..16384", params->width, params->height);
    return NULL;
  }
  if (params->area_fraction > 1.0) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                 "lesion area fraction %g is above 1", params->area_fraction);
    return NULL;
  }
  LsSynthScene *s = g_new0 (LsSynthScene, 1);
  s->params = *params;
  s->aspect = (double) params->width / params->height;
  ls_synth_scene_sample_lesion (s);
  ls_synth_scene_sample_colours (s);
  ls_synth_scene_sample_artefacts (s);
  ls_synth_scene_sample_camera (s);
  estimate_coverage (s);
  return s;
}

void
ls_synth_scene_free (LsSynthScene *scene)
{
  g_free (scene);
}

void
ls_synth_scene_get_info (const LsSynthScene *scene, LsSynthInfo *info)
{
  *info = scene->info;
}
