/* 64-byte aligned float buffers: one cache line, and the widest SIMD load
 * (AVX-512) never splits across two.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "graph.h"

#define LS_ALIGNMENT 64
#define LS_ALIGNMENT_FLOATS (LS_ALIGNMENT / sizeof (float))

float *
ls_aligned_alloc (gsize floats)
{
  /* Round up to whole cache lines (and at least one), zero-filled, so a
   * vector kernel may read the tail of the last line without touching
   * memory it does not own or values that are undefined. */
  gsize padded = MAX (floats, 1);
  if (padded > G_MAXSIZE - LS_ALIGNMENT_FLOATS)
    g_error ("ls_aligned_alloc: %" G_GSIZE_FORMAT " floats is too many", floats);
  padded = (padded + LS_ALIGNMENT_FLOATS - 1) / LS_ALIGNMENT_FLOATS * LS_ALIGNMENT_FLOATS;
  return g_aligned_alloc0 (padded, sizeof (float), LS_ALIGNMENT);
}

void
ls_aligned_free (float *p)
{
  g_aligned_free (p);
}
