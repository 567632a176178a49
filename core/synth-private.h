/* lesionseg: internals shared by the synthetic dermoscopy files.
 *
 * Randomness is xoshiro256** seeded through splitmix64, and noise is value
 * noise over an integer-hashed lattice: no libc rand, no GLib g_random, and
 * no state shared between threads, so every pixel is a pure function of the
 * seed and its position.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <math.h>
#include "lesionseg.h"

/* Fused multiply-adds would make images differ between CPUs that contract
 * a*b+c and those that do not. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize ("fp-contract=off")
#endif

G_BEGIN_DECLS

/* ---- PRNG ------------------------------------------------------------- */

typedef struct {
  guint64 s[4];
} LsRng;

static inline guint64
ls_splitmix64 (guint64 *x)
{
  guint64 z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Independent streams per part of the scene, so that switching artefacts off
 * (or adding a draw to one part) leaves the lesion of a seed unchanged. */
static inline void
ls_rng_init (LsRng *rng, guint64 seed, guint64 stream)
{
  guint64 x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  for (int i = 0; i < 4; i++)
    rng->s[i] = ls_splitmix64 (&x);
}

static inline guint64
ls_rng_next (LsRng *rng)
{
  guint64 *s = rng->s;
  guint64 r = s[1] * 5;
  r = ((r << 7) | (r >> 57)) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return r;
}

/* [0, 1) with 53 random bits */
static inline double
ls_rng_uniform (LsRng *rng)
{
  return (double) (ls_rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double
ls_rng_range (LsRng *rng, double a, double b)
{
  return a + (b - a) * ls_rng_uniform (rng);
}

static inline int
ls_rng_int (LsRng *rng, int n)
{
  return (int) (ls_rng_uniform (rng) * n);
}

static inline gboolean
ls_rng_bool (LsRng *rng, double p)
{
  return ls_rng_uniform (rng) < p;
}

/* with probability @p uniform over [a, b], else 0; draws twice either way */
static inline double
ls_bool_range (LsRng *rng, double p, double a, double b)
{
  gboolean on = ls_rng_bool (rng, p);
  double v = ls_rng_range (rng, a, b);
  return on ? v : 0.0;
}

/* Approximately normal: Irwin-Hall of 4, no transcendental functions. */
static inline double
ls_rng_normal (LsRng *rng)
{
  double s = 0;
  for (int i = 0; i < 4; i++)
    s += ls_rng_uniform (rng);
  return (s - 2.0) * 1.7320508075688772;
}

/* ---- hashed lattice noise --------------------------------------------- */

/* A 32-bit lattice hash (lowbias32 finaliser): noise needs speed more than
 * 64 bits of quality. */
static inline guint32
ls_hash2 (gint64 x, gint64 y, guint64 seed)
{
  guint32 h = (guint32) (seed ^ (seed >> 32)) ^ ((guint32) x * 0x8DA6B343u) ^ ((guint32) y * 0xD8163841u);
  h ^= h >> 16;
  h *= 0x7FEB352Du;
  h ^= h >> 15;
  h *= 0x846CA68Bu;
  return h ^ (h >> 16);
}

static inline double
ls_hash_unit (guint32 h)
{
  return (double) h * (1.0 / 4294967296.0);
}

/* Value noise in [-1, 1]. */
static inline double
ls_vnoise (double x, double y, guint64 seed)
{
  double fx = floor (x), fy = floor (y);
  gint64 ix = (gint64) fx, iy = (gint64) fy;
  double tx = x - fx, ty = y - fy;
  tx = tx * tx * (3.0 - 2.0 * tx);
  ty = ty * ty * (3.0 - 2.0 * ty);
  double a = ls_hash_unit (ls_hash2 (ix, iy, seed));
  double b = ls_hash_unit (ls_hash2 (ix + 1, iy, seed));
  double c = ls_hash_unit (ls_hash2 (ix, iy + 1, seed));
  double d = ls_hash_unit (ls_hash2 (ix + 1, iy + 1, seed));
  double ab = a + (b - a) * tx, cd = c + (d - c) * tx;
  return 2.0 * (ab + (cd - ab) * ty) - 1.0;
}

/* Fractal sum of @octaves value-noise layers, roughly in [-1, 1]. Each
 * octave is turned by ~37 degrees so the lattice axes do not show. */
static inline double
ls_fbm (double x, double y, int octaves, guint64 seed)
{
  double sum = 0, amp = 0.5, norm = 0;
  for (int o = 0; o < octaves; o++) {
    sum += amp * ls_vnoise (x, y, seed + (guint64) o * 0x632BE59BD9B4E019ull);
    norm += amp;
    double nx = 0.8 * x - 0.6 * y, ny = 0.6 * x + 0.8 * y;
    x = 2.03 * nx + 17.13;
    y = 2.03 * ny + 5.71;
    amp *= 0.5;
  }
  return sum / norm;
}

static inline double
ls_clamp (double v, double lo, double hi)
{
  return v < lo ? lo : (v > hi ? hi : v);
}

static inline double
ls_smoothstep (double e0, double e1, double x)
{
  double t = ls_clamp ((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}

/* ---- the scene -------------------------------------------------------- */

#define LS_SYNTH_HARMONICS 16   /* k = 1..16 of the lesion radius; 2..8 carry the shape */
#define LS_SYNTH_MAX_COLOURS 4
#define LS_SYNTH_MAX_HAIRS 40
#define LS_SYNTH_MAX_STROKES 128
#define LS_SYNTH_STROKE_POINTS 24
#define LS_SYNTH_MAX_BUBBLES 16
#define LS_SYNTH_MAX_SPECULAR 60
#define LS_SYNTH_REF_HEIGHT 384.0
#define LS_SYNTH_FTABLE 4096    /* f over the diamond angle, + 1 wrap entry */  /* pixel sizes in the ranges are at this height */

/* A polyline drawn with round caps: hair, ink, ruler lines and ticks. */
typedef struct {
  int n;
  double x[LS_SYNTH_STROKE_POINTS], y[LS_SYNTH_STROKE_POINTS];
  double width;       /* scene units */
  double rgb[3];
  double opacity;
} LsSynthStroke;

typedef struct {
  double x, y, r;
} LsSynthCircle;


struct _LsSynthScene {
  LsSynthParams params;
  double aspect;          /* reference width / height */
  LsSynthInfo info;

  /* lesion shape: inside where |p'| < R0 f(theta); p' = stretch(rotate(p - c)) */
  double cx, cy, r0;
  double cos_o, sin_o, sx, sy;
  double hc[LS_SYNTH_HARMONICS + 1], hs[LS_SYNTH_HARMONICS + 1];
  double fmin, fmax;
  double ftable[LS_SYNTH_FTABLE + 1];
  double ramp;            /* border ramp, fraction of R0 */
  double ramp_noise;

  /* skin */
  double skin[3];
  double skin_tex, skin_red, skin_lines, skin_freq;

  /* pigment: absorptions (-ln transmittance) sorted light to dark */
  int n_colours;
  double absorb[LS_SYNTH_MAX_COLOURS][3];
  double strength;
  double radial, mix_noise, mix_freq;
  gboolean blotch;
  double blotch_absorb[3], blotch_level, blotch_freq;
  double granular;
  double density_noise;
  double fade;            /* pigment thins toward the border by this much */
  double net_depth, net_cell, net_width, net_patch;   /* net_depth 0 = no network */
  double dot_cell, dot_prob, dot_radius, dot_depth;   /* dot_prob 0 = no dots */
  guint64 noise_seed;

  /* scene-attached artefacts */
  int n_strokes;
  LsSynthStroke strokes[LS_SYNTH_MAX_STROKES];
  int n_bubbles;
  LsSynthCircle bubbles[LS_SYNTH_MAX_BUBBLES];
  int n_specular;
  LsSynthCircle specular[LS_SYNTH_MAX_SPECULAR];

  /* camera, in screen space */
  gboolean corners;
  double corner_cx, corner_cy, corner_r, corner_soft, corner_level;
  double vignette;
  double grad_x, grad_y;
  double wb[3];
  double exposure;
  double blur;            /* sigma in reference pixels */
  double noise;           /* sigma in 8-bit levels */
};

/* Lesion radius factor f(theta) from the direction (c, s) = (cos, sin). */
static inline double
ls_synth_radius_factor (const LsSynthScene *scene, double c, double s)
{
  double f = 1.0, ck = c, sk = s;
  for (int k = 1; k <= LS_SYNTH_HARMONICS; k++) {
    f += scene->hc[k] * ck + scene->hs[k] * sk;
    double nc = ck * c - sk * s;
    sk = sk * c + ck * s;
    ck = nc;
  }
  return f;
}

/* A monotone stand-in for atan2 in [0, 4): no transcendental call per pixel,
 * so the mask is the same on every libm. */
static inline double
ls_diamond_angle (double x, double y)
{
  if (y >= 0)
    return x >= 0 ? y / (x + y) : 1.0 - x / (-x + y);
  return x < 0 ? 2.0 - y / (-x - y) : 3.0 + x / (x - y);
}

/* Normalised radius q of a scene point: < 1 inside the lesion. */
static inline double
ls_synth_lesion_q (const LsSynthScene *scene, double x, double y, double *f_out)
{
  double dx = x - scene->cx, dy = y - scene->cy;
  double lx = (scene->cos_o * dx + scene->sin_o * dy) / scene->sx;
  double ly = (-scene->sin_o * dx + scene->cos_o * dy) / scene->sy;
  double rho = sqrt (lx * lx + ly * ly);
  if (rho <= 1e-12) {
    *f_out = 1.0;
    return 0.0;
  }
  double t = ls_diamond_angle (lx, ly) * (LS_SYNTH_FTABLE / 4.0);
  int i = (int) t;
  if (i >= LS_SYNTH_FTABLE)
    i = LS_SYNTH_FTABLE - 1;
  double f = scene->ftable[i] + (t - i) * (scene->ftable[i + 1] - scene->ftable[i]);
  *f_out = f;
  return rho / (scene->r0 * f);
}

/* Absorption (-ln transmittance) at position @t in [0, 1] of the palette. */
static inline void
ls_synth_palette (const LsSynthScene *s, double t, double A[3])
{
  if (s->n_colours < 2) {
    for (int c = 0; c < 3; c++)
      A[c] = s->absorb[0][c];
    return;
  }
  double p = t * (s->n_colours - 1);
  int j = MIN ((int) p, s->n_colours - 2);
  double fr = p - j;
  for (int c = 0; c < 3; c++)
    A[c] = s->absorb[j][c] + fr * (s->absorb[j + 1][c] - s->absorb[j][c]);
}

/* Strength k <= 1 thins the pigment (its hue less than its darkness); above 1 part of the
 * extra absorption is grey, since scaling alone would saturate brown into
 * orange, and dark real lesions stay brown. */
static inline void
ls_synth_apply_strength (double A[3], double k)
{
  if (k <= 1.0) {
    /* faint real lesions keep much of their hue */
    double l = 0.299 * A[0] + 0.587 * A[1] + 0.114 * A[2], kc = sqrt (k);
    for (int c = 0; c < 3; c++)
      A[c] = k * l + kc * (A[c] - l);
  } else {
    double ks = sqrt (k);
    double l = (k - ks) * (0.299 * A[0] + 0.587 * A[1] + 0.114 * A[2]);
    for (int c = 0; c < 3; c++)
      A[c] = A[c] * ks + l;
  }
}

void ls_synth_scene_sample_lesion    (LsSynthScene *scene);
void ls_synth_scene_sample_colours   (LsSynthScene *scene);
void ls_synth_scene_sample_artefacts (LsSynthScene *scene);
void ls_synth_scene_sample_camera    (LsSynthScene *scene);

G_END_DECLS
