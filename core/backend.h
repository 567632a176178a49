/* The interface every backend implements: take a planned graph once, then
 * run it per frame.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "graph.h"
#include "lesionseg.h"

typedef struct _LsBackend LsBackend;

typedef struct {
  const char *name;
  /* Runs the graph: input is the planar [3, H, W] network input, logits the
   * [H * W] output. */
  gboolean (*run)      (LsBackend *backend, const float *input, float *logits, GError **error);
  void     (*set_profiling) (LsBackend *backend, gboolean enable);
  /* Time per op kind of the last profiled run (and of the input's upload,
   * as ls_engine_foreach_profile says). */
  void     (*foreach_profile) (LsBackend *backend, LsProfileFunc fn, gpointer user_data);
  void     (*free)     (LsBackend *backend);
} LsBackendClass;

struct _LsBackend {
  const LsBackendClass *klass;
  const LsGraph *graph;   /* owned by the engine, outlives the backend */
};

/* The CPU backend; @threads 0 = all cores. */
LsBackend *ls_cpu_backend_new (const LsGraph *graph, int threads, GError **error);
