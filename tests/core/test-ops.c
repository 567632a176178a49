/* Every CPU kernel against a naive double-precision loop written here,
 * independently of core/cpu/kernels.c, on odd shapes (channel counts that
 * are not multiples of any vector width or block, 1x1 grids, borders) and
 * on shapes large enough to take the kernels' threaded paths.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

/* ---- helpers -------------------------------------------------------------- */

static GRand *
new_rand (void)
{
  /* Fixed seed: a failure must reproduce. */
  return g_rand_new_with_seed (0x1e5105e9);
}

static float *
random_floats (GRand *rand, gsize count, double lo, double hi)
{
  float *v = g_new (float, count);
  for (gsize i = 0; i < count; i++)
    v[i] = (float) g_rand_double_range (rand, lo, hi);
  return v;
}

static float *
copy_floats (const float *src, gsize count)
{
  return g_memdup2 (src, count * sizeof (float));
}

/* Asserts |got - ref| <= atol + rtol |ref| everywhere, NaN never allowed;
 * logs the worst error so the TAP output shows the margin. */
static void
check_close (const char *what, const float *got, const double *ref, gsize count,
             double rtol, double atol)
{
  double worst = 0.0, worst_abs = 0.0;
  gsize worst_i = 0;
  for (gsize i = 0; i < count; i++) {
    double err = fabs ((double) got[i] - ref[i]);
    if (!isfinite (got[i]) && isfinite (ref[i]))
      g_error ("%s: element %" G_GSIZE_FORMAT " is %g, expected %.9g",
               what, i, got[i], ref[i]);
    double ratio = err / (atol + rtol * fabs (ref[i]));
    if (ratio > worst) {
      worst = ratio;
      worst_abs = err;
      worst_i = i;
    }
  }
  g_test_message ("%s: %" G_GSIZE_FORMAT " values, worst error %.3g "
                  "(%.3f of tolerance) at %" G_GSIZE_FORMAT,
                  what, count, worst_abs, worst, worst_i);
  if (worst > 1.0)
    g_error ("%s: element %" G_GSIZE_FORMAT " is %.9g, expected %.9g "
             "(error %.3g, rtol %g, atol %g)", what, worst_i,
             got[worst_i], ref[worst_i], worst_abs, rtol, atol);
}

static double
gelu_ref (double x)
{
  return 0.5 * x * (1.0 + erf (x / sqrt (2.0)));
}

/* LayerNorm of one row in double, textbook two-pass. */
static void
ln_ref_row (const float *x, double *y, int c, const float *w, const float *b,
            gboolean gelu)
{
  double mean = 0.0, var = 0.0;
  for (int i = 0; i < c; i++)
    mean += x[i];
  mean /= c;
  for (int i = 0; i < c; i++)
    var += (x[i] - mean) * (x[i] - mean);
  var /= c;
  double rstd = 1.0 / sqrt (var + 1e-5);
  for (int i = 0; i < c; i++) {
    double v = (x[i] - mean) * rstd * w[i] + b[i];
    y[i] = gelu ? gelu_ref (v) : v;
  }
}

/* ---- LayerNorm -------------------------------------------------------------- */

typedef struct {
  int n, c;
  double offset, spread;
} LnShape;

static const LnShape ln_shapes[] = {
  { 7, 13, 0.0, 1.0 },
  { 5, 1, 0.0, 1.0 },        /* one channel: variance 0, output is b */
  { 3, 8, 0.0, 1.0 },
  { 4, 2048, 0.0, 3.0 },     /* the widest LN of the published model */
  { 6, 301, 100.0, 1.0 },    /* |mean| >> std: where one-pass LN fails */
  { 3, 517, -1000.0, 0.5 },
  { 300, 257, 0.5, 2.0 },    /* threaded */
  { 2, 16, 0.0, 1e-4 },      /* variance far below eps */
};

static void
test_layernorm (void)
{
  GRand *rand = new_rand ();
  for (guint s = 0; s < G_N_ELEMENTS (ln_shapes); s++) {
    const LnShape *sh = &ln_shapes[s];
    gsize count = (gsize) sh->n * sh->c;
    float *x = random_floats (rand, count, sh->offset - sh->spread,
                              sh->offset + sh->spread);
    float *w = random_floats (rand, sh->c, 0.5, 1.5);
    float *b = random_floats (rand, sh->c, -0.5, 0.5);
    float *y = g_new (float, count);
    double *ref = g_new (double, count);
    for (int r = 0; r < sh->n; r++)
      ln_ref_row (x + (gsize) r * sh->c, ref + (gsize) r * sh->c, sh->c, w, b, FALSE);

    char *what = g_strdup_printf ("layernorm n=%d c=%d offset=%g", sh->n, sh->c, sh->offset);
    /* Outputs are O(1): 1e-5 relative to the output scale. */
    ls_cpu_layernorm (x, y, sh->n, sh->c, w, b);
    check_close (what, y, ref, count, 1e-5, 1e-5);

    /* In place. */
    float *xy = copy_floats (x, count);
    ls_cpu_layernorm (xy, xy, sh->n, sh->c, w, b);
    g_assert_cmpmem (xy, count * sizeof (float), y, count * sizeof (float));

    g_free (what);
    g_free (xy);
    g_free (x);
    g_free (w);
    g_free (b);
    g_free (y);
    g_free (ref);
  }
  g_rand_free (rand);
}

/* ---- erf, GELU, sigmoid --------------------------------------------------- */

static float
float_from_bits (guint32 u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* The kernel's erf is an approximation: its contract is max abs error
 * < 1e-6 over all floats. This samples every 1021st bit pattern (4.2 M
 * floats, every binade) plus a dense uniform sweep of [-6, 6], where the
 * approximation switches formulas. */
static void
test_erf (void)
{
  const gsize batch = 1 << 16;
  float *x = g_new (float, batch);
  float *y = g_new (float, batch);
  double worst = 0.0;
  float worst_x = 0.0f;
  guint64 u = 0;
  gsize dense = 0;
  const gsize n_dense = 2000000;

  while (u < G_GUINT64_CONSTANT (0x100000000) || dense < n_dense) {
    gsize m = 0;
    for (; m < batch && u < G_GUINT64_CONSTANT (0x100000000); m++, u += 1021)
      x[m] = float_from_bits ((guint32) u);
    for (; m < batch && dense < n_dense; m++, dense++)
      x[m] = (float) (-6.0 + 12.0 * dense / (n_dense - 1));
    ls_cpu_erf (x, y, m);
    for (gsize i = 0; i < m; i++) {
      if (isnan (x[i])) {
        g_assert_true (isnan (y[i]));
        continue;
      }
      double err = fabs ((double) y[i] - erf ((double) x[i]));
      if (!(err <= worst)) {
        worst = err;
        worst_x = x[i];
      }
    }
  }
  g_test_message ("erf: worst abs error %.3g at x = %.9g", worst, worst_x);
  g_assert_cmpfloat (worst, <, 1e-6);

  /* Special values: the sign of zero, infinities, NaN. */
  float sx[] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-30f };
  float sy[G_N_ELEMENTS (sx)];
  ls_cpu_erf (sx, sy, G_N_ELEMENTS (sx));
  g_assert_true (sy[0] == 0.0f && !signbit (sy[0]));
  g_assert_true (sy[1] == 0.0f && signbit (sy[1]));
  g_assert_cmpfloat (sy[2], ==, 1.0f);
  g_assert_cmpfloat (sy[3], ==, -1.0f);
  g_assert_true (isnan (sy[4]));
  g_assert_cmpfloat (fabsf (sy[5]), <, 1e-29f);
  g_assert_cmpfloat (fabsf (sy[6]), <, 1e-29f);

  g_free (x);
  g_free (y);
}

static void
test_gelu (void)
{
  GRand *rand = new_rand ();
  gsize sizes[] = { 1, 7, 13, 4097, 100003 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    gsize n = sizes[s];
    float *x = random_floats (rand, n, -8.0, 8.0);
    if (n > 8) {
      x[0] = 0.0f;
      x[1] = 40.0f;
      x[2] = -40.0f;
      x[3] = 1e-20f;
    }
    float *y = g_new (float, n);
    double *ref = g_new (double, n);
    for (gsize i = 0; i < n; i++)
      ref[i] = gelu_ref (x[i]);
    ls_cpu_gelu (x, y, n);
    /* erf's 1e-6 abs error scales by |x| / 2 in GELU. */
    check_close ("gelu", y, ref, n, 1e-6, 2e-6);
    float *xy = copy_floats (x, n);
    ls_cpu_gelu (xy, xy, n);
    g_assert_cmpmem (xy, n * sizeof (float), y, n * sizeof (float));
    g_free (x);
    g_free (xy);
    g_free (y);
    g_free (ref);
  }
  float nan_in = NAN, nan_out = 0.0f;
  ls_cpu_gelu (&nan_in, &nan_out, 1);
  g_assert_true (isnan (nan_out));
  g_rand_free (rand);
}

static void
test_sigmoid (void)
{
  GRand *rand = new_rand ();
  gsize sizes[] = { 1, 13, 50001 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    gsize n = sizes[s];
    float *x = random_floats (rand, n, -30.0, 30.0);
    if (n > 8) {
      x[0] = 0.0f;
      x[1] = 200.0f;
      x[2] = -200.0f;
      x[3] = INFINITY;
      x[4] = -INFINITY;
      x[5] = -87.0f;
      x[6] = 88.5f;
    }
    float *y = g_new (float, n);
    double *ref = g_new (double, n);
    for (gsize i = 0; i < n; i++)
      ref[i] = 1.0 / (1.0 + exp (-(double) x[i]));
    ls_cpu_sigmoid (x, y, n);
    /* Relative: sigmoid(-30) = 9e-14 must be right too (up to the flush of
     * exp results below 2.4e-38, hence the tiny atol). */
    check_close ("sigmoid", y, ref, n, 1e-6, 1e-37);
    float *xy = copy_floats (x, n);
    ls_cpu_sigmoid (xy, xy, n);
    g_assert_cmpmem (xy, n * sizeof (float), y, n * sizeof (float));
    g_free (x);
    g_free (xy);
    g_free (y);
    g_free (ref);
  }
  g_rand_free (rand);
}

/* ---- add, add_bias ------------------------------------------------------- */

static void
test_add (void)
{
  GRand *rand = new_rand ();
  gsize sizes[] = { 1, 13, 300007 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    gsize n = sizes[s];
    float *x = random_floats (rand, n, -2.0, 2.0);
    float *y = random_floats (rand, n, -2.0, 2.0);
    double *ref = g_new (double, n);
    for (gsize i = 0; i < n; i++)
      ref[i] = (double) y[i] + x[i];
    ls_cpu_add (y, x, n);
    check_close ("add", y, ref, n, 1e-7, 1e-7);
    g_free (x);
    g_free (y);
    g_free (ref);
  }
  g_rand_free (rand);
}

static void
test_add_bias (void)
{
  GRand *rand = new_rand ();
  int shapes[][2] = { { 7, 13 }, { 1, 1 }, { 3, 64 }, { 1000, 131 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int n = shapes[s][0], c = shapes[s][1];
    gsize count = (gsize) n * c;
    float *y = random_floats (rand, count, -2.0, 2.0);
    float *bias = random_floats (rand, c, -2.0, 2.0);
    double *ref = g_new (double, count);
    for (int r = 0; r < n; r++)
      for (int i = 0; i < c; i++)
        ref[(gsize) r * c + i] = (double) y[(gsize) r * c + i] + bias[i];
    ls_cpu_add_bias (y, n, c, bias);
    check_close ("add_bias", y, ref, count, 1e-7, 1e-7);
    g_free (y);
    g_free (bias);
    g_free (ref);
  }
  g_rand_free (rand);
}

/* ---- softmax -------------------------------------------------------------- */

/* Reference softmax of `len` values at stride `stride`, in double. */
static void
softmax_ref (const float *x, double *y, int len, gsize stride)
{
  double m = -INFINITY, s = 0.0;
  for (int i = 0; i < len; i++)
    m = MAX (m, (double) x[i * stride]);
  for (int i = 0; i < len; i++)
    s += exp (x[i * stride] - m);
  for (int i = 0; i < len; i++)
    y[i * stride] = exp (x[i * stride] - m) / s;
}

typedef struct {
  int n, c;
  double scale;
} SoftmaxShape;

static const SoftmaxShape softmax_shapes[] = {
  { 7, 13, 3.0 },
  { 1, 1, 1.0 },
  { 5, 1, 1.0 },
  { 1, 9, 1.0 },
  { 33, 45, 5.0 },       /* one full channel block plus a remainder */
  { 300, 45, 2.0 },      /* threaded */
  { 600, 130, 2.0 },
  { 3136, 20, 4.0 },     /* stage-1 token count: long float sums */
  { 9, 11, 1000.0 },     /* large magnitudes: exp would overflow unshifted */
};

static void
run_softmax (gboolean over_tokens)
{
  GRand *rand = new_rand ();
  const char *name = over_tokens ? "softmax_tokens" : "softmax_channels";
  for (guint s = 0; s < G_N_ELEMENTS (softmax_shapes); s++) {
    const SoftmaxShape *sh = &softmax_shapes[s];
    int n = sh->n, c = sh->c;
    gsize count = (gsize) n * c;
    float *x = random_floats (rand, count, -sh->scale, sh->scale);
    double *ref = g_new (double, count);
    if (over_tokens)
      for (int i = 0; i < c; i++)
        softmax_ref (x + i, ref + i, n, c);
    else
      for (int r = 0; r < n; r++)
        softmax_ref (x + (gsize) r * c, ref + (gsize) r * c, c, 1);

    if (over_tokens)
      ls_cpu_softmax_tokens (x, n, c, c);
    else
      ls_cpu_softmax_channels (x, n, c, c);

    char *what = g_strdup_printf ("%s n=%d c=%d scale=%g", name, n, c,
                                  sh->scale);
    /* Relative: small probabilities must be right too. At scale 1000 the
     * smallest ones underflow to 0 in float (and in PyTorch). */
    check_close (what, x, ref, count, 1e-5, 1e-37);
    g_free (what);

    /* Each softmaxed vector sums to 1. */
    int groups = over_tokens ? c : n, len = over_tokens ? n : c;
    for (int g = 0; g < groups; g++) {
      double sum = 0.0;
      for (int i = 0; i < len; i++) {
        float v = over_tokens ? x[(gsize) i * c + g] : x[(gsize) g * c + i];
        g_assert_false (isnan (v));
        sum += v;
      }
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
    }
    g_free (x);
    g_free (ref);
  }

  /* Identical huge inputs: every column/row is uniform, never NaN. */
  int n = 17, c = 19;
  float *x = g_new (float, n * c);
  for (int i = 0; i < n * c; i++)
    x[i] = (i % 2) ? 1000.0f : -1000.0f;
  for (int i = 0; i < c; i++)
    x[i] = 1000.0f;              /* first row all large */
  if (over_tokens)
    ls_cpu_softmax_tokens (x, n, c, c);
  else
    ls_cpu_softmax_channels (x, n, c, c);
  for (int i = 0; i < n * c; i++)
    g_assert_false (isnan (x[i]));
  g_free (x);
  g_rand_free (rand);
}

static void
test_softmax_tokens (void)
{
  run_softmax (TRUE);
}

static void
test_softmax_channels (void)
{
  run_softmax (FALSE);
}

/* Both softmaxes on columns 32 .. 32 + c - 1 of a wider tensor (row stride
 * ld), as the attention reads K and Q out of one Linear's output: equal to
 * the softmax of those columns alone, and the other columns untouched. */
static void
test_softmax_strided (void)
{
  GRand *rand = new_rand ();
  const int n = 300, c = 40, ld = 112, col = 32;
  for (int over_tokens = 0; over_tokens < 2; over_tokens++) {
    float *wide = random_floats (rand, (gsize) n * ld, -3, 3);
    float *before = g_memdup2 (wide, sizeof (float) * n * ld);
    float *alone = g_new (float, (gsize) n * c);
    for (int r = 0; r < n; r++)
      memcpy (alone + (gsize) r * c, wide + (gsize) r * ld + col, sizeof (float) * c);
    if (over_tokens) {
      ls_cpu_softmax_tokens (wide + col, n, c, ld);
      ls_cpu_softmax_tokens (alone, n, c, c);
    } else {
      ls_cpu_softmax_channels (wide + col, n, c, ld);
      ls_cpu_softmax_channels (alone, n, c, c);
    }
    for (int r = 0; r < n; r++)
      for (int i = 0; i < ld; i++) {
        float got = wide[(gsize) r * ld + i];
        if (i >= col && i < col + c)
          g_assert_cmpfloat (got, ==, alone[(gsize) r * c + i - col]);
        else
          g_assert_cmpfloat (got, ==, before[(gsize) r * ld + i]);
      }
    g_free (wide);
    g_free (before);
    g_free (alone);
  }
  g_rand_free (rand);
}

/* ---- depthwise conv ------------------------------------------------------- */

/* MixFFN's middle against the textbook: the 3x3 depthwise conv with skip
 * in double, rounded to float, then LayerNorm and exact GELU in double. */
static void
test_dwconv_ln_gelu (void)
{
  GRand *rand = new_rand ();
  int shapes[][3] = {           /* height, width, channels */
    { 5, 3, 13 }, { 1, 1, 7 }, { 1, 5, 9 }, { 4, 1, 3 }, { 4, 4, 70 },
    { 3, 7, 64 }, { 2, 2, 130 }, { 20, 17, 70 },  /* threaded */
    { 2, 3, 2048 },             /* the published model's widest */
    { 3, 3, 1 },                /* one channel: LN gives its bias */
  };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int hh = shapes[s][0], ww = shapes[s][1], c = shapes[s][2];
    gsize count = (gsize) hh * ww * c;
    float *h = random_floats (rand, count, -1.0, 1.0);
    float *weight = random_floats (rand, (gsize) c * 9, -1.0, 1.0);
    float *bias = random_floats (rand, c, -1.0, 1.0);
    float *ln_w = random_floats (rand, c, 0.5, 1.5);
    float *ln_b = random_floats (rand, c, -0.5, 0.5);
    float *z = g_new (float, count);
    float *conv = g_new (float, count);
    double *ref = g_new (double, count);
    for (int y = 0; y < hh; y++)
      for (int x = 0; x < ww; x++)
        for (int ch = 0; ch < c; ch++) {
          double acc = bias[ch];
          for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
              int yy = y + dy, xx = x + dx;
              if (yy < 0 || yy >= hh || xx < 0 || xx >= ww)
                continue;
              acc += (double) weight[ch * 9 + (dy + 1) * 3 + (dx + 1)]
                  * h[((gsize) yy * ww + xx) * c + ch];
            }
          conv[((gsize) y * ww + x) * c + ch] =
              (float) (acc + h[((gsize) y * ww + x) * c + ch]);
        }
    for (int r = 0; r < hh * ww; r++)
      ln_ref_row (conv + (gsize) r * c, ref + (gsize) r * c, c, ln_w, ln_b, TRUE);
    ls_cpu_dwconv3x3_ln_gelu (h, z, hh, ww, c, weight, bias, ln_w, ln_b);
    char *what = g_strdup_printf ("dwconv3x3_ln_gelu %dx%d c=%d", hh, ww, c);
    /* O(1) outputs of a LayerNorm over sums of 11 O(1) terms */
    check_close (what, z, ref, count, 1e-5, 1e-5);
    g_free (what);
    g_free (h);
    g_free (weight);
    g_free (bias);
    g_free (ln_w);
    g_free (ln_b);
    g_free (z);
    g_free (conv);
    g_free (ref);
  }
  g_rand_free (rand);
}

/* ---- im2col -------------------------------------------------------------- */

typedef struct {
  int h, w, cin, k, stride, pad;
} ConvShape;

static const ConvShape conv_shapes[] = {
  { 9, 7, 3, 7, 4, 3 },    /* stage-1 patch embedding on an odd grid */
  { 7, 5, 5, 3, 2, 1 },    /* stage-2/3 patch embedding */
  { 1, 1, 4, 3, 2, 1 },
  { 2, 3, 2, 7, 4, 3 },
  { 61, 45, 16, 3, 2, 1 }, /* threaded */
  { 30, 26, 3, 7, 4, 3 },
};

static void
run_im2col (gboolean planar)
{
  GRand *rand = new_rand ();
  for (guint s = 0; s < G_N_ELEMENTS (conv_shapes); s++) {
    const ConvShape *sh = &conv_shapes[s];
    int hout = (sh->h + 2 * sh->pad - sh->k) / sh->stride + 1;
    int wout = (sh->w + 2 * sh->pad - sh->k) / sh->stride + 1;
    int kk = sh->k * sh->k;
    gsize ncol = (gsize) sh->cin * kk;
    gsize count = (gsize) sh->h * sh->w * sh->cin;
    float *x = random_floats (rand, count, -1.0, 1.0);
    float *col = g_new (float, hout * wout * ncol);
    /* Poison, so a position the kernel forgets to write is caught. */
    for (gsize i = 0; i < hout * wout * ncol; i++)
      col[i] = NAN;

    if (planar)
      ls_cpu_im2col_planar (x, col, sh->h, sh->w, sh->cin, sh->k, sh->stride,
                            sh->pad);
    else
      ls_cpu_im2col (x, col, sh->h, sh->w, sh->cin, sh->k, sh->stride,
                     sh->pad);

    /* Column ci*k*k + ky*k + kx of output pixel (oy, ox) is input pixel
     * (oy*stride - pad + ky, ox*stride - pad + kx), channel ci, or 0. */
    for (int oy = 0; oy < hout; oy++)
      for (int ox = 0; ox < wout; ox++)
        for (int ci = 0; ci < sh->cin; ci++)
          for (int ky = 0; ky < sh->k; ky++)
            for (int kx = 0; kx < sh->k; kx++) {
              int iy = oy * sh->stride - sh->pad + ky;
              int ix = ox * sh->stride - sh->pad + kx;
              float expect = 0.0f;
              if (iy >= 0 && iy < sh->h && ix >= 0 && ix < sh->w)
                expect = planar
                    ? x[((gsize) ci * sh->h + iy) * sh->w + ix]
                    : x[((gsize) iy * sh->w + ix) * sh->cin + ci];
              float got = col[((gsize) oy * wout + ox) * ncol
                              + (gsize) ci * kk + ky * sh->k + kx];
              if (!(got == expect))
                g_error ("im2col%s %dx%d k=%d s=%d p=%d: (%d,%d) ci=%d "
                         "ky=%d kx=%d is %g, expected %g",
                         planar ? "_planar" : "", sh->h, sh->w, sh->k,
                         sh->stride, sh->pad, oy, ox, ci, ky, kx, got, expect);
            }
    g_free (x);
    g_free (col);
  }
  g_rand_free (rand);
}

static void
test_im2col (void)
{
  run_im2col (FALSE);
}

static void
test_im2col_planar (void)
{
  run_im2col (TRUE);
}

/* ---- pixel shuffle + LN ----------------------------------------------------- */

static void
test_pixel_shuffle_ln (void)
{
  GRand *rand = new_rand ();
  int shapes[][4] = {           /* height, width, c, p */
    { 3, 5, 13, 2 }, { 2, 3, 7, 4 }, { 1, 1, 9, 4 }, { 1, 1, 1, 2 },
    { 14, 9, 40, 2 },           /* threaded */
  };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int hh = shapes[s][0], ww = shapes[s][1], c = shapes[s][2];
    int p = shapes[s][3];
    gsize cin = (gsize) p * p * c;
    gsize count = (gsize) hh * ww * cin;
    int ho = hh * p, wo = ww * p;
    float *x = random_floats (rand, count, -2.0, 3.0);
    float *w = random_floats (rand, c, 0.5, 1.5);
    float *b = random_floats (rand, c, -0.5, 0.5);
    float *y = g_new (float, count);
    double *ref = g_new (double, count);
    float *shuffled = g_new (float, count);
    /* Build the shuffled tensor pixel by pixel from the output side. */
    for (int oy = 0; oy < ho; oy++)
      for (int ox = 0; ox < wo; ox++)
        for (int ch = 0; ch < c; ch++) {
          int gy = oy / p, py = oy % p, gx = ox / p, px = ox % p;
          shuffled[((gsize) oy * wo + ox) * c + ch] =
              x[((gsize) gy * ww + gx) * cin + (gsize) (py * p + px) * c + ch];
        }
    for (int i = 0; i < ho * wo; i++)
      ln_ref_row (shuffled + (gsize) i * c, ref + (gsize) i * c, c, w, b, FALSE);
    ls_cpu_pixel_shuffle_ln (x, y, hh, ww, c, p, w, b);
    char *what = g_strdup_printf ("pixel_shuffle_ln %dx%d c=%d p=%d",
                                  hh, ww, c, p);
    check_close (what, y, ref, count, 1e-5, 1e-5);
    g_free (what);

    /* fused with the final 1x1 conv: the logits of the reference pixels */
    float *proj = random_floats (rand, c, -1.0, 1.0);
    float *logits = g_new (float, (gsize) ho * wo);
    double *ref_logits = g_new (double, (gsize) ho * wo);
    for (int i = 0; i < ho * wo; i++) {
      ref_logits[i] = 0.25;
      for (int ch = 0; ch < c; ch++)
        ref_logits[i] += ref[(gsize) i * c + ch] * proj[ch];
    }
    ls_cpu_pixel_shuffle_ln_project (x, logits, hh, ww, c, p, w, b, proj, 0.25f);
    what = g_strdup_printf ("pixel_shuffle_ln_project %dx%d c=%d p=%d", hh, ww, c, p);
    check_close (what, logits, ref_logits, (gsize) ho * wo, 1e-5, 1e-5 * sqrt (c));
    g_free (what);
    g_free (proj);
    g_free (logits);
    g_free (ref_logits);

    g_free (x);
    g_free (w);
    g_free (b);
    g_free (y);
    g_free (ref);
    g_free (shuffled);
  }
  g_rand_free (rand);
}

/* ---- ISCF fusion ---------------------------------------------------------- */

static void
test_iscf_fuse (void)
{
  GRand *rand = new_rand ();
  int shapes[][2] = { { 3, 13 }, { 1, 5 }, { 2, 64 }, { 3, 300 } };
  for (guint sh = 0; sh < G_N_ELEMENTS (shapes); sh++) {
    int s = shapes[sh][0], d = shapes[sh][1];
    gsize dd = (gsize) d * d;
    float *g[3];
    for (int i = 0; i < s; i++)
      g[i] = random_floats (rand, dd, -0.5 + i, 1.0 + i);
    float *fc1_w = random_floats (rand, s * s, -1.0, 1.0);
    float *fc1_b = random_floats (rand, s, -0.5, 0.5);
    float *fc2_w = random_floats (rand, s * s, -1.0, 1.0);
    float *fc2_b = random_floats (rand, s, -0.5, 0.5);
    float *conv_w = random_floats (rand, s, -1.0, 1.0);
    float conv_b = 0.25f;
    float *out = g_new (float, dd);
    double *ref = g_new (double, dd);

    double m[3], hid[3], e[3];
    for (int i = 0; i < s; i++) {
      m[i] = 0.0;
      for (gsize j = 0; j < dd; j++)
        m[i] += g[i][j];
      m[i] /= (double) dd;
    }
    for (int o = 0; o < s; o++) {
      double a = fc1_b[o];
      for (int i = 0; i < s; i++)
        a += (double) fc1_w[o * s + i] * m[i];
      hid[o] = MAX (a, 0.0);
    }
    for (int o = 0; o < s; o++) {
      double a = fc2_b[o];
      for (int i = 0; i < s; i++)
        a += (double) fc2_w[o * s + i] * hid[i];
      e[o] = 1.0 / (1.0 + exp (-a));
    }
    for (gsize j = 0; j < dd; j++) {
      double acc = conv_b;
      for (int i = 0; i < s; i++)
        acc += conv_w[i] * e[i] * g[i][j];
      ref[j] = acc;
    }

    ls_cpu_iscf_fuse ((const float *const *) g, s, d, fc1_w, fc1_b, fc2_w,
                      fc2_b, conv_w, conv_b, out);
    char *what = g_strdup_printf ("iscf_fuse s=%d d=%d", s, d);
    check_close (what, out, ref, dd, 1e-5, 1e-6);
    g_free (what);
    for (int i = 0; i < s; i++)
      g_free (g[i]);
    g_free (fc1_w);
    g_free (fc1_b);
    g_free (fc2_w);
    g_free (fc2_b);
    g_free (conv_w);
    g_free (out);
    g_free (ref);
  }
  g_rand_free (rand);
}

/* ---- final projection ----------------------------------------------------- */

static void
test_project_one (void)
{
  GRand *rand = new_rand ();
  int shapes[][2] = { { 7, 13 }, { 1, 1 }, { 100, 128 }, { 1000, 67 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int n = shapes[s][0], c = shapes[s][1];
    float *x = random_floats (rand, (gsize) n * c, -1.0, 1.0);
    float *w = random_floats (rand, c, -1.0, 1.0);
    float b = -0.375f;
    float *y = g_new (float, n);
    double *ref = g_new (double, n);
    double scale = 0.0;
    for (int r = 0; r < n; r++) {
      double acc = b;
      for (int i = 0; i < c; i++) {
        acc += (double) x[(gsize) r * c + i] * w[i];
        scale = MAX (scale, fabs ((double) x[(gsize) r * c + i] * w[i]));
      }
      ref[r] = acc;
    }
    ls_cpu_project_one (x, y, n, c, w, b);
    char *what = g_strdup_printf ("project_one n=%d c=%d", n, c);
    /* A float dot product of c terms: error relative to the terms' size. */
    check_close (what, y, ref, n, 1e-6, 1e-6 * MAX (scale, 1.0) * sqrt (c));
    g_free (what);
    g_free (x);
    g_free (w);
    g_free (y);
    g_free (ref);
  }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops/layernorm", test_layernorm);
  g_test_add_func ("/ops/erf", test_erf);
  g_test_add_func ("/ops/gelu", test_gelu);
  g_test_add_func ("/ops/sigmoid", test_sigmoid);
  g_test_add_func ("/ops/add", test_add);
  g_test_add_func ("/ops/add-bias", test_add_bias);
  g_test_add_func ("/ops/softmax-tokens", test_softmax_tokens);
  g_test_add_func ("/ops/softmax-channels", test_softmax_channels);
  g_test_add_func ("/ops/softmax-strided", test_softmax_strided);
  g_test_add_func ("/ops/dwconv3x3-ln-gelu", test_dwconv_ln_gelu);
  g_test_add_func ("/ops/im2col", test_im2col);
  g_test_add_func ("/ops/im2col-planar", test_im2col_planar);
  g_test_add_func ("/ops/pixel-shuffle-ln", test_pixel_shuffle_ln);   /* and + project */
  g_test_add_func ("/ops/iscf-fuse", test_iscf_fuse);
  g_test_add_func ("/ops/project-one", test_project_one);
  return g_test_run ();
}
