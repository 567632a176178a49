/* A Linear layer as the pair (W, b), and two Linears in a row folded into
 * one at graph-build time. The network builder uses it to skip work that
 * PyTorch does (see network.c, "Folding").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "graph.h"

/* y = x W^T + b: W is [out, ldw] with the first `in` columns used, b is
 * [out] or NULL. w == NULL is the identity. */
typedef struct {
  const float *w, *b;
  int in, out, ldw;
} LsAffine;

#define LS_AFFINE_IDENTITY ((LsAffine) { NULL, NULL, 0, 0, 0 })

static inline gboolean
ls_affine_is_identity (LsAffine a)
{
  return a.w == NULL;
}

/* second(first(x)) as one affine map: W = W2 W1, b = W2 b1 + b2, summed in
 * double precision; the new buffers belong to @graph. Either side may be the
 * identity. */
LsAffine ls_affine_compose (LsGraph *graph, LsAffine first, LsAffine second);

/* The @count maps of one input side by side, x -> [f1(x), f2(x), ...]: their
 * weights' rows one under the other, their biases (0 where one has none)
 * end to end; the new buffers belong to @graph. None may be the identity. */
LsAffine ls_affine_stack (LsGraph *graph, const LsAffine *parts, int count);
