/* Folding two Linears into one (affine.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "affine.h"

#include <cblas.h>
#include <string.h>

static double *
to_double (const float *w, int rows, int cols, int ld)
{
  double *d = g_new (double, (gsize) rows * cols);
  for (int i = 0; i < rows; i++)
    for (int j = 0; j < cols; j++)
      d[(gsize) i * cols + j] = w[(gsize) i * ld + j];
  return d;
}

LsAffine
ls_affine_compose (LsGraph *graph, LsAffine first, LsAffine second)
{
  if (ls_affine_is_identity (first))
    return second;
  if (ls_affine_is_identity (second))
    return first;
  g_return_val_if_fail (second.in == first.out, LS_AFFINE_IDENTITY);

  const int in = first.in, mid = first.out, out = second.out;
  g_autofree double *w1 = to_double (first.w, mid, in, first.ldw);
  g_autofree double *w2 = to_double (second.w, out, mid, second.ldw);
  g_autofree double *w = g_new (double, (gsize) out * in);
  /* Double precision and a good dgemm: the fold costs a few milliseconds
   * per engine and adds no rounding an f32 forward pass would notice. */
  cblas_dgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, out, in, mid, 1.0, w2, mid, w1, in,
               0.0, w, in);

  LsAffine r = { .in = in, .out = out, .ldw = in };
  float *wf = ls_graph_own (graph, ls_aligned_alloc ((gsize) out * in));
  for (gsize i = 0; i < (gsize) out * in; i++)
    wf[i] = (float) w[i];
  r.w = wf;

  if (first.b || second.b) {
    float *bf = ls_graph_own (graph, ls_aligned_alloc ((gsize) out));
    for (int o = 0; o < out; o++) {
      double acc = second.b ? second.b[o] : 0.0;
      if (first.b)
        for (int k = 0; k < mid; k++)
          acc += w2[(gsize) o * mid + k] * first.b[k];
      bf[o] = (float) acc;
    }
    r.b = bf;
  }
  return r;
}

LsAffine
ls_affine_stack (LsGraph *graph, const LsAffine *parts, int count)
{
  g_return_val_if_fail (count > 0, LS_AFFINE_IDENTITY);
  const int in = parts[0].in;
  int out = 0;
  gboolean bias = FALSE;
  for (int p = 0; p < count; p++) {
    g_return_val_if_fail (!ls_affine_is_identity (parts[p]) && parts[p].in == in,
                          LS_AFFINE_IDENTITY);
    out += parts[p].out;
    bias |= parts[p].b != NULL;
  }

  LsAffine r = { .in = in, .out = out, .ldw = in };
  float *w = ls_graph_own (graph, ls_aligned_alloc ((gsize) out * in));
  float *b = bias ? ls_graph_own (graph, ls_aligned_alloc ((gsize) out)) : NULL;
  int row = 0;
  for (int p = 0; p < count; p++) {
    for (int o = 0; o < parts[p].out; o++, row++) {
      memcpy (w + (gsize) row * in, parts[p].w + (gsize) o * parts[p].ldw, sizeof (float) * in);
      if (b)
        b[row] = parts[p].b ? parts[p].b[o] : 0.0f;
    }
  }
  r.w = w;
  r.b = b;
  return r;
}
