/* The paper's network (model-spec.md): which weights it has and how they are
 * wired into a graph. The only place that knows the architecture.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "graph.h"
#include "model-private.h"

/* Calls @fn for every tensor the forward pass of @config reads, with its
 * expected shape in PyTorch's layout (a 1x1 conv weight is [out, in, 1, 1]). */
typedef void (*LsTensorSpecFunc) (const char *name, int ndim, const gint64 *shape,
                                  gpointer user_data);
void ls_network_foreach_tensor (const LsConfig *config, LsTensorSpecFunc fn,
                                gpointer user_data);

/* TRUE for tensors that the authors' checkpoints carry but the forward pass
 * never reads (model-spec.md lists them); the loader ignores them silently. */
gboolean ls_network_tensor_is_unused (const char *name);

/* Builds the forward pass for a width x height input (multiples of 32) as a
 * graph over the model's weights. */
LsGraph *ls_network_build (const LsModel *model, int width, int height, GError **error);

/* Floating-point operations of one forward pass (a multiply-add counts 2). */
double ls_network_flops (const LsConfig *config, int width, int height);
