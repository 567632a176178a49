/* The peer every CPU figure is compared with: plain cblas_sgemm of one shape,
 * C[M, N] = A[M, K] B[K, N] (default 3136 x 512 x 512, the stage-1 tokens of a
 * 224 x 224 frame times the widest Linear of the published network).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>
#include <glib.h>

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  int m = argc > 1 ? atoi (argv[1]) : 3136;
  int n = argc > 2 ? atoi (argv[2]) : 512;
  int k = argc > 3 ? atoi (argv[3]) : 512;
  int iters = argc > 4 ? atoi (argv[4]) : 50;
  if (m < 1 || n < 1 || k < 1 || iters < 1) {
    fprintf (stderr, "usage: sgemm-bench [M N K ITERS]\n");
    return 2;
  }

  float *a = g_new (float, (gsize) m * k), *b = g_new (float, (gsize) k * n);
  float *c = g_new (float, (gsize) m * n);
  for (gsize i = 0; i < (gsize) m * k; i++)
    a[i] = (float) (i % 17) / 17.0f;
  for (gsize i = 0; i < (gsize) k * n; i++)
    b[i] = (float) (i % 13) / 13.0f;

  double *ms = g_new (double, iters);
  for (int i = -3; i < iters; i++) {
    gint64 start = g_get_monotonic_time ();
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
    if (i >= 0)
      ms[i] = (g_get_monotonic_time () - start) / 1000.0;
  }
  qsort (ms, iters, sizeof (double), compare_double);
  double median = ms[iters / 2], gflop = 2.0 * m * n * k / 1e9;
  printf ("sgemm %dx%dx%d: openblas %s, kernel %s, %d threads\n", m, n, k,
          openblas_get_config (), openblas_get_corename (), openblas_get_num_threads ());
  printf ("median: %.3f ms\nmin: %.3f ms\nGFLOP/s: %.1f (at the median)\n",
          median, ms[0], gflop / (median / 1000.0));
  g_free (a);
  g_free (b);
  g_free (c);
  g_free (ms);
  return 0;
}
