/* The CPU backend's kernels for everything that is not a GEMM.
 *
 * All of these are memory-bound except GELU (erf) and the softmaxes (exp),
 * so the rules are: one pass over the data where the math allows it,
 * contiguous inner loops over channels that gcc vectorises (`omp simd`
 * forces that at -O2, whose default cost model would otherwise refuse loops
 * with an unknown trip count, and it lets float reductions use vector lanes
 * without -ffast-math), and OpenMP threads only when the work pays for the
 * fork (a parallel region costs a few microseconds).
 *
 * erf and exp are our own branch-free approximations so that they vectorise:
 * glibc's erff is scalar and costs ~20 ns, which would make GELU alone cost
 * as much as all of the network's GEMMs on two cores.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Let gcc if-convert the selects in ls_exp/ls_erf: under the default
 * -ftrapping-math it sinks a multiply into a select's arm, then refuses to
 * speculate it (it might raise an FP flag), and the loop stays scalar. We
 * never read FP exception flags, and results are unchanged. Must precede
 * every function definition, including the headers' inline ones. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize ("no-trapping-math")
#endif

#include "kernels.h"

#include <glib.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#define LS_LN_EPS 1e-5f

/* Below this many float operations a kernel stays on the calling thread. */
#define LS_PAR_MIN_WORK (1 << 15)

/* dwconv channel block: the three source rows of one block (3 * W * 64
 * floats, 43 KiB at W = 56) stay in L1 while the row is produced. */
#define LS_DW_BLOCK 64

#define LS_ALWAYS_INLINE static inline __attribute__ ((always_inline))

/* ---- vectorisable exp and erf ------------------------------------------ */

LS_ALWAYS_INLINE float
ls_bits_to_float (uint32_t u)
{
  float f;
  memcpy (&f, &u, sizeof f);
  return f;
}

/* exp(x) for x in [-86.5, 88.72]; Cephes' expf (Cody-Waite reduction,
 * degree-7 polynomial), max relative error ~1e-7. The 2^n scale is applied
 * as 2^(n-1) * 2 so that n = 128 (x just below ln FLT_MAX) does not form an
 * infinite scale. */
LS_ALWAYS_INLINE float
ls_exp_core (float x)
{
  /* round to nearest by the 1.5 * 2^23 trick: rintf is a libcall without
   * SSE4.1, which would stop vectorisation. */
  float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float r2 = r * r;
  float p = (((((1.9875691500e-4f * r + 1.3981999507e-3f) * r
                + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r
              + 1.6666665459e-1f) * r + 5.0000001201e-1f) * r2 + r + 1.0f;
  int32_t n = (int32_t) fn;
  return p * ls_bits_to_float ((uint32_t) (n + 126) << 23) * 2.0f;
}

/* exp(x) for all floats: results below ~2.4e-38 flush to 0 (softmax and
 * sigmoid only ever add them to numbers >= 1), above ln FLT_MAX give inf,
 * NaN stays NaN. The clamps come first so the float->int conversion inside
 * never sees NaN or out-of-range values. */
LS_ALWAYS_INLINE float
ls_exp (float x)
{
  float xc = x < 88.72f ? x : 88.72f;   /* also maps NaN to a finite value */
  xc = xc > -86.5f ? xc : -86.5f;
  float r = ls_exp_core (xc);
  r = x > -86.5f ? r : 0.0f;
  r = x <= 88.72f ? r : INFINITY;
  return x == x ? r : x;
}

/* erf(x), max abs error 2.7e-7 over all 2^32 floats, checked exhaustively
 * against double erf for each clone (2.66e-7 baseline, 2.46e-7 with FMA;
 * bench/kernels-bench.c --erf-exhaustive; the unit test samples densely).
 * |x| < 0.75: Taylor series x P(x^2) to x^15, which avoids the cancellation
 * of 1 - (something near 1) at small x. Otherwise Abramowitz & Stegun
 * 7.1.26, 1 - t P(t) exp(-x^2) with t = 1 / (1 + p x), error <= 1.5e-7.
 * Both branches are computed and one selected: that is what vectorises.
 * |x| >= 4: 1 - erf(4) = 1.5e-8 rounds to 1 in float anyway. */
LS_ALWAYS_INLINE float
ls_erf (float x)
{
  float a = fabsf (x);
  a = a < 4.0f ? a : 4.0f;              /* NaN -> 4, restored below */
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float pt = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f
                 + t * (-1.453152027f + t * 1.061405429f))));
  float big = 1.0f - pt * ls_exp_core (-a * a);
  float z = a * a;
  float small = a * (1.1283791670955126f + z * (-0.37612638903183754f
                + z * (0.11283791670955126f + z * (-0.026866170645131252f
                + z * (0.005223977625442188f + z * (-0.0008548327023450852f
                + z * (0.00012055332981789664f
                + z * -1.492565035840625e-05f)))))));
  float e = a < 0.75f ? small : big;
  float r = copysignf (e, x);
  return x == x ? r : x;
}

LS_ALWAYS_INLINE float
ls_gelu1 (float x)
{
  return 0.5f * x * (1.0f + ls_erf (x * 0.70710678118654752f));
}

/* ---- LayerNorm ------------------------------------------------------------ */

/* Two-pass LayerNorm of one row. The second pass also sums the deviations
 * d = x - mean: in exact arithmetic that sum is 0, in float it is the
 * rounding error of the first pass, and folding it back (the "corrected
 * two-pass" algorithm of Chan, Golub & LeVeque) makes the variance accurate
 * even when |mean| >> std. This is not E[x^2] - mean^2: the correction term
 * is tiny. The mean is kept as hi + lo (float mean plus that correction)
 * and subtracted in two steps: a float mean near 1000 is only good to
 * 3e-5, which would be 1e-4 of an output whose std is 0.3. */
LS_ALWAYS_INLINE void
ls_ln_stats (const float *x, int c, float *mean_hi, float *mean_lo, float *rstd)
{
  float sum = 0.0f;
#pragma omp simd reduction(+:sum)
  for (int i = 0; i < c; i++)
    sum += x[i];
  float mean = sum / (float) c;

  float sd = 0.0f, sd2 = 0.0f;
#pragma omp simd reduction(+:sd, sd2)
  for (int i = 0; i < c; i++) {
    float d = x[i] - mean;
    sd += d;
    sd2 += d * d;
  }
  float lo = sd / (float) c;
  float var = (sd2 - sd * lo) / (float) c;
  var = var > 0.0f ? var : 0.0f;
  *mean_hi = mean;
  *mean_lo = lo;
  *rstd = 1.0f / sqrtf (var + LS_LN_EPS);
}

LS_ALWAYS_INLINE void
ls_ln_row (const float *x, float *y, int c, const float *w, const float *b,
           gboolean gelu)
{
  float mean, lo, rstd;
  ls_ln_stats (x, c, &mean, &lo, &rstd);

  /* x and y may be the same row: each element is read before it is written
   * and no element is read again, so `omp simd` is safe without restrict. */
  if (gelu) {
#pragma omp simd
    for (int i = 0; i < c; i++)
      y[i] = ls_gelu1 ((x[i] - mean - lo) * rstd * w[i] + b[i]);
  } else {
#pragma omp simd
    for (int i = 0; i < c; i++)
      y[i] = (x[i] - mean - lo) * rstd * w[i] + b[i];
  }
}

/* The compute-bound loops (exp, erf, the LayerNorm passes, dwconv) run
 * 2-3x faster with AVX2+FMA or AVX-512 than with the x86-64 baseline the
 * library is built for, so they live in worker functions that gcc clones
 * per ISA and picks at load time (ifunc). The OpenMP loops stay outside
 * the clones and call a worker per row or chunk; an ifunc call costs a few
 * ns against >= 100 ns of work. Clones with FMA contract a*b+c, which moves
 * results by an ulp or so; tests/core/test-ops.c holds for every clone
 * (build with -DLS_NO_CLONES and -march=... to test one on any machine). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && defined(__linux__) && !defined(LS_NO_CLONES)
#define LS_CLONES \
  __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LS_CLONES
#endif

LS_CLONES static void
ln_rows (const float *x, float *y, int r0, int r1, int c,
         const float *w, const float *b)
{
  for (int r = r0; r < r1; r++)
    ls_ln_row (x + (gsize) r * c, y + (gsize) r * c, c, w, b, FALSE);
}

/* Row-parallel kernels hand each thread rows in groups, so that a worker
 * call covers at least a few thousand floats. */
static inline int
rows_per_task (int c)
{
  return MAX (1, 4096 / MAX (c, 1));
}

void
ls_cpu_layernorm (const float *x, float *y, int n, int c,
                  const float *w, const float *b)
{
  int step = rows_per_task (c);
#pragma omp parallel for schedule(static) if ((gint64) n * c > LS_PAR_MIN_WORK)
  for (int r = 0; r < n; r += step)
    ln_rows (x, y, r, MIN (n, r + step), c, w, b);
}

/* ---- element-wise ------------------------------------------------------- */

/* Element-wise kernels split `count` into fixed chunks so the same loop
 * serves any size and each chunk's inner loop is a plain vector loop. */
#define LS_CHUNK 4096

LS_CLONES static void
gelu_span (const float *x, float *y, size_t count)
{
#pragma omp simd
  for (size_t i = 0; i < count; i++)
    y[i] = ls_gelu1 (x[i]);
}

LS_CLONES static void
sigmoid_span (const float *x, float *y, size_t count)
{
#pragma omp simd
  for (size_t i = 0; i < count; i++)
    y[i] = 1.0f / (1.0f + ls_exp (-x[i]));
}

void
ls_cpu_gelu (const float *x, float *y, size_t count)
{
  gint64 nchunks = (gint64) ((count + LS_CHUNK - 1) / LS_CHUNK);
#pragma omp parallel for schedule(static) if (count * 8 > LS_PAR_MIN_WORK)
  for (gint64 k = 0; k < nchunks; k++) {
    size_t lo = (size_t) k * LS_CHUNK;
    gelu_span (x + lo, y + lo, MIN (count - lo, (size_t) LS_CHUNK));
  }
}

void
ls_cpu_sigmoid (const float *x, float *y, size_t count)
{
  gint64 nchunks = (gint64) ((count + LS_CHUNK - 1) / LS_CHUNK);
#pragma omp parallel for schedule(static) if (count * 4 > LS_PAR_MIN_WORK)
  for (gint64 k = 0; k < nchunks; k++) {
    size_t lo = (size_t) k * LS_CHUNK;
    sigmoid_span (x + lo, y + lo, MIN (count - lo, (size_t) LS_CHUNK));
  }
}

void
ls_cpu_add (float *y, const float *x, size_t count)
{
  gint64 nchunks = (gint64) ((count + LS_CHUNK - 1) / LS_CHUNK);
#pragma omp parallel for schedule(static) if (count > 4 * LS_PAR_MIN_WORK)
  for (gint64 k = 0; k < nchunks; k++) {
    size_t lo = (size_t) k * LS_CHUNK;
    size_t hi = MIN (count, lo + LS_CHUNK);
#pragma omp simd
    for (size_t i = lo; i < hi; i++)
      y[i] += x[i];
  }
}

void
ls_cpu_add_bias (float *y, int n, int c, const float *bias)
{
#pragma omp parallel for schedule(static) if ((gint64) n * c > 4 * LS_PAR_MIN_WORK)
  for (int r = 0; r < n; r++) {
    float *row = y + (gsize) r * c;
#pragma omp simd
    for (int i = 0; i < c; i++)
      row[i] += bias[i];
  }
}

/* ---- softmax ------------------------------------------------------------ */

LS_CLONES static void
softmax_rows (float *x, int r0, int r1, int c, int ld)
{
  for (int r = r0; r < r1; r++) {
    float *row = x + (gsize) r * ld;
    float m = -INFINITY;
#pragma omp simd reduction(max:m)
    for (int i = 0; i < c; i++)
      m = row[i] > m ? row[i] : m;
    float s = 0.0f;
#pragma omp simd reduction(+:s)
    for (int i = 0; i < c; i++) {
      float e = ls_exp (row[i] - m);
      row[i] = e;
      s += e;
    }
    float inv = 1.0f / s;
#pragma omp simd
    for (int i = 0; i < c; i++)
      row[i] *= inv;
  }
}

void
ls_cpu_softmax_channels (float *x, int n, int c, int ld)
{
  int step = rows_per_task (c);
#pragma omp parallel for schedule(static) if ((gint64) n * c * 4 > LS_PAR_MIN_WORK)
  for (int r = 0; r < n; r += step)
    softmax_rows (x, r, MIN (n, r + step), c, ld);
}

/* Rows per partial sum in softmax_tokens: summing 3136+ exponentials into
 * one float per channel would lose ~sqrt(N) ulp; partial sums of 64 rows
 * added into the total keep it to a few ulp for any N. */
#define LS_SOFTMAX_SUM_ROWS 64

LS_CLONES static void
colmax_rows (const float *x, int r0, int r1, int c, int ld, float *restrict m)
{
  for (int i = 0; i < c; i++)
    m[i] = -INFINITY;
  for (int r = r0; r < r1; r++) {
    const float *row = x + (gsize) r * ld;
#pragma omp simd
    for (int i = 0; i < c; i++)
      m[i] = row[i] > m[i] ? row[i] : m[i];
  }
}

LS_CLONES static void
colexp_rows (float *x, int r0, int r1, int c, int ld, const float *restrict m,
             float *restrict sum, float *restrict part)
{
  for (int i = 0; i < c; i++)
    sum[i] = 0.0f;
  for (int rb = r0; rb < r1; rb += LS_SOFTMAX_SUM_ROWS) {
    for (int i = 0; i < c; i++)
      part[i] = 0.0f;
    int rend = MIN (r1, rb + LS_SOFTMAX_SUM_ROWS);
    for (int r = rb; r < rend; r++) {
      float *restrict row = x + (gsize) r * ld;
#pragma omp simd
      for (int i = 0; i < c; i++) {
        float e = ls_exp (row[i] - m[i]);
        row[i] = e;
        part[i] += e;
      }
    }
#pragma omp simd
    for (int i = 0; i < c; i++)
      sum[i] += part[i];
  }
}

static void
colscale_rows (float *x, int r0, int r1, int c, int ld, const float *restrict inv)
{
  for (int r = r0; r < r1; r++) {
    float *restrict row = x + (gsize) r * ld;
#pragma omp simd
    for (int i = 0; i < c; i++)
      row[i] *= inv[i];
  }
}

/* Softmax down the columns of [N, C]. Walking one column at a time would
 * touch one float per cache line, and blocks of columns walk the rows at a
 * stride of C floats, which at C = 512 aliases onto a few L2 sets. So each
 * thread streams its own contiguous band of whole rows three times (max,
 * exp and sum, scale), keeping per-channel max and sum vectors, and the
 * threads combine those vectors between sweeps. At N = 3136, C = 128 a
 * thread's band is 800 KiB and the later sweeps hit L2.
 *
 * Allocates (2 T + 2) C floats of scratch per call (T = threads): tiny
 * next to the N C floats it sweeps. */
void
ls_cpu_softmax_tokens (float *x, int n, int c, int ld)
{
  gboolean par = (gint64) n * c * 4 > LS_PAR_MIN_WORK;
  int tmax = par ? MAX (1, MIN (omp_get_max_threads (), n)) : 1;
  float *scratch = g_new (float, (gsize) c * (2 * tmax + 2));
  float *gmax = scratch, *ginv = scratch + c;

#pragma omp parallel num_threads(tmax) if (tmax > 1)
  {
    int t = omp_get_thread_num (), nt = omp_get_num_threads ();
    int r0 = (int) ((gint64) n * t / nt), r1 = (int) ((gint64) n * (t + 1) / nt);
    float *mine = scratch + (gsize) c * (2 + 2 * t);
    float *part = mine + c;

    colmax_rows (x, r0, r1, c, ld, mine);
#pragma omp barrier
#pragma omp for schedule(static)
    for (int i = 0; i < c; i++) {
      float m = -INFINITY;
      for (int u = 0; u < nt; u++) {
        float v = scratch[(gsize) c * (2 + 2 * u) + i];
        m = v > m ? v : m;
      }
      gmax[i] = m;
    }
    /* (implicit barrier: everyone needs all of gmax) */
    colexp_rows (x, r0, r1, c, ld, gmax, mine, part);
#pragma omp barrier
#pragma omp for schedule(static)
    for (int i = 0; i < c; i++) {
      float s = 0.0f;
      for (int u = 0; u < nt; u++)
        s += scratch[(gsize) c * (2 + 2 * u) + i];
      ginv[i] = 1.0f / s;
    }
    colscale_rows (x, r0, r1, c, ld, ginv);
  }
  g_free (scratch);
}

/* ---- depthwise 3x3 conv with skip --------------------------------------- */

/* One output row of the grid. Taps are transposed to [9][block] so the
 * inner loop reads weights contiguously; out-of-image taps read a zero row,
 * which keeps the inner loop free of branches. Channel blocks of 64 keep
 * the three source rows of a block (43 KiB at W = 56) in L1. */
LS_CLONES static void
dwconv_row (const float *h, float *z, int y, int height, int width, int c,
            const float *weight, const float *bias)
{
  float wt[9][LS_DW_BLOCK];
  float zero[LS_DW_BLOCK];
  memset (zero, 0, sizeof zero);
  for (int c0 = 0; c0 < c; c0 += LS_DW_BLOCK) {
    int cb = MIN (LS_DW_BLOCK, c - c0);
    for (int i = 0; i < cb; i++)
      for (int t = 0; t < 9; t++)
        wt[t][i] = weight[(gsize) (c0 + i) * 9 + t];
    const float *bb = bias + c0;
    for (int x = 0; x < width; x++) {
      const float *src[9];
      for (int ky = 0; ky < 3; ky++) {
        int iy = y + ky - 1;
        for (int kx = 0; kx < 3; kx++) {
          int ix = x + kx - 1;
          gboolean inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
          src[ky * 3 + kx] = inside
              ? h + ((gsize) iy * width + ix) * c + c0 : zero;
        }
      }
      const float *s0 = src[0], *s1 = src[1], *s2 = src[2];
      const float *s3 = src[3], *s4 = src[4], *s5 = src[5];
      const float *s6 = src[6], *s7 = src[7], *s8 = src[8];
      float *restrict out = z + ((gsize) y * width + x) * c + c0;
#pragma omp simd
      for (int i = 0; i < cb; i++)
        out[i] = s4[i] + bb[i]
            + wt[0][i] * s0[i] + wt[1][i] * s1[i] + wt[2][i] * s2[i]
            + wt[3][i] * s3[i] + wt[4][i] * s4[i] + wt[5][i] * s5[i]
            + wt[6][i] * s6[i] + wt[7][i] * s7[i] + wt[8][i] * s8[i];
    }
  }
}

/* A grid row is convolved into z, then normalised and GELU'd in place
 * while it is still in cache: the LayerNorm + GELU costs no pass of its
 * own over the [H*W, C] tensor (MixFFN's widest). */
LS_CLONES static void
dwconv_ln_gelu_row (const float *h, float *z, int y, int height, int width, int c,
                    const float *weight, const float *bias, const float *ln_w,
                    const float *ln_b)
{
  dwconv_row (h, z, y, height, width, c, weight, bias);
  float *row = z + (gsize) y * width * c;
  for (int x = 0; x < width; x++)
    ls_ln_row (row + (gsize) x * c, row + (gsize) x * c, c, ln_w, ln_b, TRUE);
}

void
ls_cpu_dwconv3x3_ln_gelu (const float *h, float *z, int height, int width, int c,
                          const float *weight, const float *bias, const float *ln_w,
                          const float *ln_b)
{
  /* the GELU costs ~10x a conv tap per element: thread as early as it does */
#pragma omp parallel for schedule(static) \
    if ((gint64) height * width * c * 20 > LS_PAR_MIN_WORK)
  for (int y = 0; y < height; y++)
    dwconv_ln_gelu_row (h, z, y, height, width, c, weight, bias, ln_w, ln_b);
}

/* ---- im2col --------------------------------------------------------------- */

void
ls_cpu_im2col (const float *x, float *col, int height, int width, int cin,
               int k, int stride, int pad)
{
  int hout = (height + 2 * pad - k) / stride + 1;
  int wout = (width + 2 * pad - k) / stride + 1;
  int kk = k * k;
  gsize ncol = (gsize) cin * kk;
#pragma omp parallel for schedule(static) \
    if ((gint64) hout * wout * (gint64) ncol > 2 * LS_PAR_MIN_WORK)
  for (int oy = 0; oy < hout; oy++) {
    for (int ox = 0; ox < wout; ox++) {
      float *dst = col + ((gsize) oy * wout + ox) * ncol;
      for (int ky = 0; ky < k; ky++) {
        int iy = oy * stride - pad + ky;
        for (int kx = 0; kx < k; kx++) {
          int ix = ox * stride - pad + kx;
          /* A token's channels are contiguous in x; in col they land kk
           * apart. The scattered side is the destination row, which is
           * small (cin * kk floats) and stays in L1. */
          float *d = dst + ky * k + kx;
          if (iy < 0 || iy >= height || ix < 0 || ix >= width) {
            for (int ci = 0; ci < cin; ci++)
              d[(gsize) ci * kk] = 0.0f;
          } else {
            const float *s = x + ((gsize) iy * width + ix) * cin;
            for (int ci = 0; ci < cin; ci++)
              d[(gsize) ci * kk] = s[ci];
          }
        }
      }
    }
  }
}

void
ls_cpu_im2col_planar (const float *x, float *col, int height, int width, int cin,
                      int k, int stride, int pad)
{
  int hout = (height + 2 * pad - k) / stride + 1;
  int wout = (width + 2 * pad - k) / stride + 1;
  int kk = k * k;
  gsize ncol = (gsize) cin * kk;
  gsize plane = (gsize) height * width;
#pragma omp parallel for schedule(static) \
    if ((gint64) hout * wout * (gint64) ncol > 2 * LS_PAR_MIN_WORK)
  for (int oy = 0; oy < hout; oy++) {
    for (int ox = 0; ox < wout; ox++) {
      float *dst = col + ((gsize) oy * wout + ox) * ncol;
      for (int ci = 0; ci < cin; ci++) {
        for (int ky = 0; ky < k; ky++) {
          int iy = oy * stride - pad + ky;
          float *d = dst + (gsize) ci * kk + ky * k;
          if (iy < 0 || iy >= height) {
            for (int kx = 0; kx < k; kx++)
              d[kx] = 0.0f;
            continue;
          }
          const float *s = x + ci * plane + (gsize) iy * width;
          for (int kx = 0; kx < k; kx++) {
            int ix = ox * stride - pad + kx;
            d[kx] = ix >= 0 && ix < width ? s[ix] : 0.0f;
          }
        }
      }
    }
  }
}

/* ---- pixel shuffle + LayerNorm ------------------------------------------ */

/* One grid row: every (grid cell, sub-pixel) pair is one contiguous
 * c-float segment of x normalised into one contiguous output pixel, so the
 * shuffle costs nothing beyond the LayerNorm's own pass. */
LS_CLONES static void
shuffle_ln_row (const float *x, float *y, int gy, int width, int c, int p,
                const float *w, const float *b)
{
  int wo = width * p;
  gsize cin = (gsize) p * p * c;
  for (int py = 0; py < p; py++)
    for (int gx = 0; gx < width; gx++) {
      const float *cell = x + ((gsize) gy * width + gx) * cin;
      for (int px = 0; px < p; px++) {
        gsize pix = (gsize) (gy * p + py) * wo + (gsize) gx * p + px;
        ls_ln_row (cell + (gsize) (py * p + px) * c, y + pix * c, c, w, b,
                   FALSE);
      }
    }
}

void
ls_cpu_pixel_shuffle_ln (const float *x, float *y, int height, int width, int c,
                         int p, const float *w, const float *b)
{
#pragma omp parallel for schedule(static) \
    if ((gint64) height * width * p * p * c > LS_PAR_MIN_WORK)
  for (int gy = 0; gy < height; gy++)
    shuffle_ln_row (x, y, gy, width, c, p, w, b);
}

/* The last decoder LayerNorm and the final 1x1 conv of one grid row, never
 * writing the normalised pixels: with a = ln_w * proj_w,
 *   logit = rstd * sum_i (x_i - mean) a_i + (sum_i ln_b_i proj_w_i + proj_b). */
LS_CLONES static void
shuffle_ln_project_row (const float *x, float *logits, int gy, int width, int c, int p,
                        const float *a, float bias)
{
  int wo = width * p;
  gsize cin = (gsize) p * p * c;
  for (int py = 0; py < p; py++)
    for (int gx = 0; gx < width; gx++) {
      const float *cell = x + ((gsize) gy * width + gx) * cin;
      for (int px = 0; px < p; px++) {
        const float *v = cell + (gsize) (py * p + px) * c;
        float mean, lo, rstd, acc = 0.0f;
        ls_ln_stats (v, c, &mean, &lo, &rstd);
#pragma omp simd reduction(+:acc)
        for (int i = 0; i < c; i++)
          acc += (v[i] - mean - lo) * a[i];
        logits[(gsize) (gy * p + py) * wo + (gsize) gx * p + px] = acc * rstd + bias;
      }
    }
}

void
ls_cpu_pixel_shuffle_ln_project (const float *x, float *logits, int height, int width,
                                 int c, int p, const float *ln_w, const float *ln_b,
                                 const float *proj_w, float proj_b)
{
  g_autofree float *a = g_new (float, c);
  double bias = proj_b;
  for (int i = 0; i < c; i++) {
    a[i] = ln_w[i] * proj_w[i];
    bias += (double) ln_b[i] * proj_w[i];
  }
#pragma omp parallel for schedule(static) \
    if ((gint64) height * width * p * p * c > LS_PAR_MIN_WORK)
  for (int gy = 0; gy < height; gy++)
    shuffle_ln_project_row (x, logits, gy, width, c, p, a, (float) bias);
}

/* ---- ISCF fusion -------------------------------------------------------- */

#define LS_ISCF_MAX_SCALES 8

void
ls_cpu_iscf_fuse (const float *const *g, int s, int d,
                  const float *fc1_w, const float *fc1_b,
                  const float *fc2_w, const float *fc2_b,
                  const float *conv_w, float conv_b, float *out)
{
  g_return_if_fail (s >= 1 && s <= LS_ISCF_MAX_SCALES);
  gsize dd = (gsize) d * d;
  double m[LS_ISCF_MAX_SCALES];
  float hid[LS_ISCF_MAX_SCALES], coef[LS_ISCF_MAX_SCALES];

  /* The means are over d^2 (262144) entries: float lanes per row, double
   * across rows, so the squeeze is exact to float precision. */
  for (int i = 0; i < s; i++) {
    const float *gi = g[i];
    double acc = 0.0;
#pragma omp parallel for schedule(static) reduction(+:acc) \
    if (dd > 4 * LS_PAR_MIN_WORK)
    for (int r = 0; r < d; r++) {
      float rs = 0.0f;
#pragma omp simd reduction(+:rs)
      for (int j = 0; j < d; j++)
        rs += gi[(gsize) r * d + j];
      acc += rs;
    }
    m[i] = acc / (double) dd;
  }

  for (int o = 0; o < s; o++) {
    double a = fc1_b[o];
    for (int i = 0; i < s; i++)
      a += (double) fc1_w[o * s + i] * m[i];
    hid[o] = a > 0.0 ? (float) a : 0.0f;
  }
  for (int o = 0; o < s; o++) {
    double a = fc2_b[o];
    for (int i = 0; i < s; i++)
      a += (double) fc2_w[o * s + i] * hid[i];
    coef[o] = (float) (conv_w[o] / (1.0 + exp (-a)));
  }

  /* out = sum_i coef_i G_i + conv_b, one pass writing out. */
#pragma omp parallel for schedule(static) if (dd * s > 2 * LS_PAR_MIN_WORK)
  for (int r = 0; r < d; r++) {
    gsize off = (gsize) r * d;
    float *restrict o = out + off;
    const float *g0 = g[0] + off;
    float c0 = coef[0];
#pragma omp simd
    for (int j = 0; j < d; j++)
      o[j] = c0 * g0[j] + conv_b;
    for (int i = 1; i < s; i++) {
      const float *gi = g[i] + off;
      float ci = coef[i];
#pragma omp simd
      for (int j = 0; j < d; j++)
        o[j] += ci * gi[j];
    }
  }
}

/* ---- final projection --------------------------------------------------- */

void
ls_cpu_project_one (const float *x, float *y, int n, int c,
                    const float *w, float b)
{
#pragma omp parallel for schedule(static) if ((gint64) n * c > LS_PAR_MIN_WORK)
  for (int r = 0; r < n; r++) {
    const float *row = x + (gsize) r * c;
    float acc = 0.0f;
#pragma omp simd reduction(+:acc)
    for (int i = 0; i < c; i++)
      acc += row[i] * w[i];
    y[r] = acc + b;
  }
}

/* ---- erf, exposed for tests ---------------------------------------------- */

/* Cloned like gelu_span, so that a test of ls_cpu_erf checks the erf that
 * GELU really runs on this machine. */
LS_CLONES static void
erf_span (const float *x, float *y, size_t count)
{
#pragma omp simd
  for (size_t i = 0; i < count; i++)
    y[i] = ls_erf (x[i]);
}

void
ls_cpu_erf (const float *x, float *y, size_t count)
{
  erf_span (x, y, count);
}
