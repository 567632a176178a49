/* Micro-benchmark of the CPU kernels at the published model's shapes
 * (224 x 224 input, dims 128/320/512), to show that the non-GEMM work is
 * memory-bound-fast next to the ~0.1-0.2 s of GEMMs per frame.
 *
 * Built with the project (so that it follows the kernels' signatures):
 *
 *   OMP_NUM_THREADS=2 build/bench/kernels-bench
 *   build/bench/kernels-bench --erf-exhaustive   # erf on all 2^32 floats (~1 min)
 *
 * For each kernel it prints the best time of many calls, the bytes the
 * kernel must move (inputs read once, outputs written once) as GB/s, and a
 * memcpy of the same byte count on the same threads for scale. The network
 * column says how many times one frame calls the kernel at that shape.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

typedef void (*BenchFn) (void *ctx);

/* Best of at least 7 calls and about 0.3 s of calls, after a warm-up call
 * (page faults, thread pool start). The minimum, not the median: on a
 * shared 2-core machine an OpenMP barrier waiting for a preempted thread
 * costs a whole scheduler slice (~4-16 ms), which says nothing about the
 * kernel. Run on an idle machine for numbers that include thread jitter. */
static double
time_best (BenchFn fn, void *ctx)
{
  double t[512];
  int n = 0;
  double start = now_s ();
  fn (ctx);
  while (n < (int) G_N_ELEMENTS (t) && (n < 7 || now_s () - start < 0.3)) {
    double t0 = now_s ();
    fn (ctx);
    t[n++] = now_s () - t0;
  }
  qsort (t, n, sizeof t[0], cmp_double);
  return t[0];
}

/* A parallel memcpy of `bytes`, the bandwidth yardstick. */
typedef struct {
  char *dst, *src;
  gsize bytes;
} CopyCtx;

static void
copy_fn (void *p)
{
  CopyCtx *c = p;
  int nt = omp_get_max_threads ();
#pragma omp parallel for schedule(static)
  for (int t = 0; t < nt; t++) {
    gsize lo = c->bytes * t / nt, hi = c->bytes * (t + 1) / nt;
    memcpy (c->dst + lo, c->src + lo, hi - lo);
  }
}

static double
copy_time (gsize bytes)
{
  static CopyCtx c;
  static gsize have;
  if (bytes > have) {
    g_free (c.dst);
    g_free (c.src);
    c.dst = g_malloc (bytes);
    c.src = g_malloc (bytes);
    memset (c.dst, 1, bytes);
    memset (c.src, 2, bytes);
    have = bytes;
  }
  /* A copy of B bytes moves B in and B out: compare like with like. */
  c.bytes = bytes / 2;
  return time_best (copy_fn, &c);
}

static void
report (const char *name, int per_frame, double secs, gsize bytes, gsize elems)
{
  double copy = copy_time (bytes);
  printf ("%-44s %3dx %9.1f us %7.2f ns/elem %7.1f GB/s  (memcpy %7.1f us)\n",
          name, per_frame, secs * 1e6, secs * 1e9 / elems,
          bytes / secs * 1e-9, copy * 1e6);
}

static float *
rnd (gsize n, float lo, float hi)
{
  float *v = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * (float) g_random_double ();
  return v;
}

/* ---- one context struct for all kernels: fields used as each needs -------- */

typedef struct {
  float *x, *y, *w, *b, *scratch;
  const float *g[3];
  int n, c, h, wd, k, stride, pad, p, s;
  gsize count;
} Ctx;

static void b_ln (void *p) { Ctx *c = p; ls_cpu_layernorm (c->x, c->y, c->n, c->c, c->w, c->b); }
static void b_gelu (void *p) { Ctx *c = p; ls_cpu_gelu (c->x, c->y, c->count); }
static void b_sigmoid (void *p) { Ctx *c = p; ls_cpu_sigmoid (c->x, c->y, c->count); }
static void b_add (void *p) { Ctx *c = p; ls_cpu_add (c->y, c->x, c->count); }
static void b_add_bias (void *p) { Ctx *c = p; ls_cpu_add_bias (c->y, c->n, c->c, c->b); }
/* The softmaxes work in place: restore the input first so every call sees
 * realistic logits, and charge the copy to neither (it is timed apart). */
static void b_sm_tok (void *p) { Ctx *c = p; ls_cpu_softmax_tokens (c->y, c->n, c->c, c->c); }
static void b_sm_ch (void *p) { Ctx *c = p; ls_cpu_softmax_channels (c->y, c->n, c->c, c->c); }
static void b_dw (void *p) { Ctx *c = p; ls_cpu_dwconv3x3_ln_gelu (c->x, c->y, c->h, c->wd, c->c, c->w, c->b, c->w + 9 * c->c, c->b + c->c); }
static void b_im2col (void *p) { Ctx *c = p; ls_cpu_im2col (c->x, c->y, c->h, c->wd, c->c, c->k, c->stride, c->pad); }
static void b_im2col_planar (void *p) { Ctx *c = p; ls_cpu_im2col_planar (c->x, c->y, c->h, c->wd, c->c, c->k, c->stride, c->pad); }
static void b_shuffle (void *p) { Ctx *c = p; ls_cpu_pixel_shuffle_ln (c->x, c->y, c->h, c->wd, c->c, c->p, c->w, c->b); }
static void b_project (void *p) { Ctx *c = p; ls_cpu_project_one (c->x, c->y, c->n, c->c, c->w, 0.5f); }
static void
b_iscf (void *p)
{
  Ctx *c = p;
  ls_cpu_iscf_fuse (c->g, 3, c->c, c->w, c->w + 9, c->w + 12, c->w + 21,
                    c->w + 24, 0.1f, c->y);
}

/* Scalar glibc erff GELU, for the speed-up of the vector erf. */
static void
b_gelu_erff (void *p)
{
  Ctx *c = p;
#pragma omp parallel for schedule(static)
  for (gsize i = 0; i < c->count; i++)
    c->y[i] = 0.5f * c->x[i] * (1.0f + erff (c->x[i] * 0.70710678f));
}

static void
bench_rows (const char *kind, int per_frame, BenchFn fn, int n, int c,
            float lo, float hi, int passes_out)
{
  Ctx ctx = { 0 };
  gsize count = (gsize) n * c;
  ctx.x = rnd (count, lo, hi);
  ctx.y = rnd (count, lo, hi);
  ctx.w = rnd (c, 0.5f, 1.5f);
  ctx.b = rnd (c, -0.5f, 0.5f);
  ctx.n = n;
  ctx.c = c;
  ctx.count = count;
  char *name = g_strdup_printf ("%s [%d, %d]", kind, n, c);
  double t = time_best (fn, &ctx);
  report (name, per_frame, t, count * 4 * (1 + passes_out), count);
  g_free (name);
  g_free (ctx.x);
  g_free (ctx.y);
  g_free (ctx.w);
  g_free (ctx.b);
}

static void
bench_dwconv (int per_frame, int h, int w, int c)
{
  Ctx ctx = { 0 };
  gsize count = (gsize) h * w * c;
  ctx.x = rnd (count, -1, 1);
  ctx.y = rnd (count, -1, 1);
  ctx.w = rnd ((gsize) c * 10, -1, 1);   /* the conv's [C, 9], then the LayerNorm's */
  ctx.b = rnd ((gsize) c * 2, -1, 1);
  ctx.h = h;
  ctx.wd = w;
  ctx.c = c;
  char *name = g_strdup_printf ("dwconv3x3_ln_gelu %dx%dx%d", h, w, c);
  report (name, per_frame, time_best (b_dw, &ctx), count * 8, count);
  g_free (name);
  g_free (ctx.x);
  g_free (ctx.y);
  g_free (ctx.w);
  g_free (ctx.b);
}

static void
bench_im2col (int per_frame, gboolean planar, int h, int w, int cin, int k,
              int stride, int pad)
{
  Ctx ctx = { 0 };
  int hout = (h + 2 * pad - k) / stride + 1, wout = (w + 2 * pad - k) / stride + 1;
  gsize out = (gsize) hout * wout * cin * k * k, in = (gsize) h * w * cin;
  ctx.x = rnd (in, -1, 1);
  ctx.y = rnd (out, -1, 1);
  ctx.h = h;
  ctx.wd = w;
  ctx.c = cin;
  ctx.k = k;
  ctx.stride = stride;
  ctx.pad = pad;
  char *name = g_strdup_printf ("%s %dx%dx%d k%d s%d", planar ? "im2col_planar"
                                : "im2col", h, w, cin, k, stride);
  report (name, per_frame, time_best (planar ? b_im2col_planar : b_im2col,
                                        &ctx), (in + out) * 4, out);
  g_free (name);
  g_free (ctx.x);
  g_free (ctx.y);
}

static void
bench_shuffle (int per_frame, int h, int w, int c, int p)
{
  Ctx ctx = { 0 };
  gsize count = (gsize) h * w * p * p * c;
  ctx.x = rnd (count, -1, 1);
  ctx.y = rnd (count, -1, 1);
  ctx.w = rnd (c, 0.5f, 1.5f);
  ctx.b = rnd (c, -0.5f, 0.5f);
  ctx.h = h;
  ctx.wd = w;
  ctx.c = c;
  ctx.p = p;
  char *name = g_strdup_printf ("pixel_shuffle_ln %dx%d c=%d p=%d", h, w, c, p);
  report (name, per_frame, time_best (b_shuffle, &ctx), count * 8, count);
  g_free (name);
  g_free (ctx.x);
  g_free (ctx.y);
  g_free (ctx.w);
  g_free (ctx.b);
}

/* Softmax in place: time the kernel on data restored before each call by a
 * separately timed copy, and report kernel time = total - copy. */
typedef struct {
  Ctx *ctx;
  BenchFn fn;
} Restore;

static void
restore_then (void *p)
{
  Restore *r = p;
  memcpy (r->ctx->y, r->ctx->x, r->ctx->count * 4);
  if (r->fn)
    r->fn (r->ctx);
}

static void
bench_softmax (const char *kind, int per_frame, BenchFn fn, int n, int c)
{
  Ctx ctx = { 0 };
  gsize count = (gsize) n * c;
  ctx.x = rnd (count, -8, 8);
  ctx.y = g_new (float, count);
  ctx.n = n;
  ctx.c = c;
  ctx.count = count;
  Restore with = { &ctx, fn }, without = { &ctx, NULL };
  double t = time_best (restore_then, &with) - time_best (restore_then, &without);
  char *name = g_strdup_printf ("%s [%d, %d]", kind, n, c);
  report (name, per_frame, t, count * 8, count);
  g_free (name);
  g_free (ctx.x);
  g_free (ctx.y);
}

static void
bench_iscf (int per_frame, int d)
{
  Ctx ctx = { 0 };
  gsize dd = (gsize) d * d;
  float *g[3];
  for (int i = 0; i < 3; i++)
    ctx.g[i] = g[i] = rnd (dd, -1, 1);
  ctx.w = rnd (27, -1, 1);
  ctx.y = g_new (float, dd);
  ctx.c = d;
  char *name = g_strdup_printf ("iscf_fuse 3 x [%d, %d]", d, d);
  report (name, per_frame, time_best (b_iscf, &ctx), dd * 4 * 7, dd);
  g_free (name);
  for (int i = 0; i < 3; i++)
    g_free (g[i]);
  g_free (ctx.w);
  g_free (ctx.y);
}

static void
bench_project (int per_frame, int n, int c)
{
  Ctx ctx = { 0 };
  ctx.x = rnd ((gsize) n * c, -1, 1);
  ctx.y = g_new (float, n);
  ctx.w = rnd (c, -1, 1);
  ctx.n = n;
  ctx.c = c;
  char *name = g_strdup_printf ("project_one [%d, %d]", n, c);
  report (name, per_frame, time_best (b_project, &ctx),
          ((gsize) n * c + n) * 4, (gsize) n * c);
  g_free (name);
  g_free (ctx.x);
  g_free (ctx.y);
  g_free (ctx.w);
}

/* ---- exhaustive erf check ------------------------------------------------- */

static int
erf_exhaustive (void)
{
  double worst = 0.0;
  float worst_x = 0.0f;
  long nan_bad = 0;
#pragma omp parallel
  {
    float x[4096], y[4096];
    double w = 0.0;
    float wx = 0.0f;
    long nb = 0;
#pragma omp for schedule(dynamic, 16)
    for (gint64 blk = 0; blk < (G_GINT64_CONSTANT (1) << 32) / 4096; blk++) {
      for (int i = 0; i < 4096; i++) {
        guint32 u = (guint32) (blk * 4096 + i);
        memcpy (&x[i], &u, 4);
      }
      ls_cpu_erf (x, y, 4096);
      for (int i = 0; i < 4096; i++) {
        if (isnan (x[i])) {
          nb += !isnan (y[i]);
          continue;
        }
        double e = fabs ((double) y[i] - erf ((double) x[i]));
        if (!(e <= w)) {
          w = e;
          wx = x[i];
        }
      }
    }
#pragma omp critical
    {
      if (w > worst) {
        worst = w;
        worst_x = wx;
      }
      nan_bad += nb;
    }
  }
  printf ("erf over all 2^32 floats: max abs error %.4g at x = %.9g; "
          "NaN inputs not giving NaN: %ld\n", worst, worst_x, nan_bad);
  return worst < 1e-6 && nan_bad == 0 ? 0 : 1;
}

int
main (int argc, char **argv)
{
  if (argc > 1 && strcmp (argv[1], "--erf-exhaustive") == 0)
    return erf_exhaustive ();

  g_random_set_seed (7);
  printf ("%d OpenMP threads; shapes of the published config at 224x224; "
          "Nx = calls per frame\n\n", omp_get_max_threads ());

  /* LayerNorm: 3 per block + stage norm + patch-embed norm per stage. */
  bench_rows ("layernorm", 8, b_ln, 3136, 128, -2, 2, 1);
  bench_rows ("layernorm", 8, b_ln, 784, 320, -2, 2, 1);
  bench_rows ("layernorm", 8, b_ln, 196, 512, -2, 2, 1);
  bench_rows ("gelu", 0, b_gelu, 3136, 512, -4, 4, 1);
  bench_rows ("gelu with glibc erff (reference)", 0, b_gelu_erff, 3136, 512, -4, 4, 1);
  /* Mix-FFN's middle on its 4C channels: 4 per stage */
  bench_dwconv (4, 56, 56, 512);
  bench_dwconv (4, 28, 28, 1280);
  bench_dwconv (4, 14, 14, 2048);
  bench_softmax ("softmax_tokens", 2, b_sm_tok, 3136, 128);
  bench_softmax ("softmax_tokens", 1, b_sm_tok, 3136, 512);
  bench_softmax ("softmax_channels", 2, b_sm_ch, 3136, 128);
  bench_softmax ("softmax_channels", 1, b_sm_ch, 3136, 512);
  bench_im2col (1, TRUE, 224, 224, 3, 7, 4, 3);
  bench_im2col (1, FALSE, 56, 56, 128, 3, 2, 1);
  bench_im2col (1, FALSE, 28, 28, 320, 3, 2, 1);
  bench_shuffle (1, 14, 14, 256, 2);
  bench_shuffle (1, 28, 28, 160, 2);
  bench_shuffle (1, 56, 56, 128, 4);
  bench_iscf (1, 512);
  bench_project (1, 224 * 224, 128);
  bench_rows ("sigmoid", 1, b_sigmoid, 224 * 224, 1, -8, 8, 1);
  bench_rows ("add", 6, b_add, 3136, 128, -1, 1, 2);
  bench_rows ("add_bias", 0, b_add_bias, 3136, 512, -1, 1, 1);
  return 0;
}
