/* LsEngine: one model, one input size, one backend, its own memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "backend.h"
#include "cpu/kernels.h"
#include "model-private.h"
#include "network.h"
#ifdef LS_HAVE_VULKAN
#include "vulkan/vulkan-backend.h"
#endif

#include <string.h>

struct _LsEngine {
  LsModel *model;
  LsGraph *graph;
  LsBackend *backend;
  char *backend_name;
  float *input;          /* [3, H, W] normalised frame */
};

void
ls_engine_options_init (LsEngineOptions *options)
{
  memset (options, 0, sizeof *options);
  options->backend = LS_BACKEND_AUTO;
  options->device = -1;
}

gboolean
ls_backend_kind_from_string (const char *name, LsBackendKind *kind)
{
  static const struct { const char *name; LsBackendKind kind; } names[] = {
    { "auto", LS_BACKEND_AUTO }, { "cpu", LS_BACKEND_CPU }, { "vulkan", LS_BACKEND_VULKAN },
  };
  for (guint i = 0; name && i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (name, names[i].name) == 0) {
      *kind = names[i].kind;
      return TRUE;
    }
  return FALSE;
}

#ifdef LS_HAVE_VULKAN
/* auto: Vulkan on a real GPU only (lavapipe runs GEMM ~100x slower than
 * OpenBLAS). No Vulkan at all, or only a CPU device, is an ordinary
 * machine and picks the CPU quietly; a GPU that is there but unusable (old
 * driver, missing feature) is worth a warning. */
static LsBackend *
create_auto_backend (const LsGraph *graph, const LsEngineOptions *options, char **name,
                     GError **error)
{
  g_autoptr (GError) vk_error = NULL;
  LsBackend *backend = ls_vulkan_backend_new (graph, options->device, TRUE, &vk_error);
  if (backend) {
    g_free (*name);
    *name = g_strdup (ls_vulkan_backend_get_name (backend));
    return backend;
  }
  /* A GPU that fails is worth a message; no GPU at all is the normal case
   * on a CPU machine. Not a g_warning: callers (the plugin posts a bus
   * warning) decide how loud a fallback is, and a library must not abort
   * programs that run with fatal warnings. */
  if (strstr (vk_error->message, "no GPU") || strstr (vk_error->message, "no Vulkan"))
    g_info ("backend auto: %s; using the CPU", vk_error->message);
  else
    g_message ("backend auto: %s; falling back to the CPU", vk_error->message);
  return ls_cpu_backend_new (graph, options->threads, error);
}
#endif

/* Creates the backend and its name ("cpu", "vulkan:<device>"). */
static LsBackend *
create_backend (const LsGraph *graph, const LsEngineOptions *options, char **name,
                GError **error)
{
  *name = g_strdup ("cpu");
  switch (options->backend) {
  case LS_BACKEND_VULKAN: {
#ifdef LS_HAVE_VULKAN
    LsBackend *backend = ls_vulkan_backend_new (graph, options->device, FALSE, error);
    if (backend) {
      g_free (*name);
      *name = g_strdup (ls_vulkan_backend_get_name (backend));
    }
    return backend;
#else
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "the Vulkan backend is not part of this build of liblesionseg "
                 "(built without Vulkan headers or glslc)");
    return NULL;
#endif
  }
  case LS_BACKEND_AUTO:
#ifdef LS_HAVE_VULKAN
    return create_auto_backend (graph, options, name, error);
#endif
  case LS_BACKEND_CPU:
    return ls_cpu_backend_new (graph, options->threads, error);
  }
  g_set_error (error, LS_ERROR, LS_ERROR_BACKEND, "unknown backend %d", options->backend);
  return NULL;
}

LsEngine *
ls_engine_new (LsModel *model, const LsEngineOptions *options, GError **error)
{
  LsEngineOptions defaults;
  g_return_val_if_fail (model != NULL, NULL);

  if (!options) {
    ls_engine_options_init (&defaults);
    options = &defaults;
  }
  const LsConfig *cfg = ls_model_get_config (model);
  int width = options->width ? options->width : cfg->image_size;
  int height = options->height ? options->height : cfg->image_size;

  LsGraph *graph = ls_network_build (model, width, height, error);
  if (!graph)
    return NULL;
  char *backend_name = NULL;
  LsBackend *backend = create_backend (graph, options, &backend_name, error);
  if (!backend) {
    g_free (backend_name);
    ls_graph_free (graph);
    return NULL;
  }

  LsEngine *engine = g_new0 (LsEngine, 1);
  engine->model = ls_model_ref (model);
  engine->graph = graph;
  engine->backend = backend;
  engine->backend_name = backend_name;
  engine->input = ls_aligned_alloc ((gsize) 3 * width * height);
  return engine;
}

void
ls_engine_free (LsEngine *engine)
{
  if (!engine)
    return;
  engine->backend->klass->free (engine->backend);
  ls_graph_free (engine->graph);
  ls_model_unref (engine->model);
  ls_aligned_free (engine->input);
  g_free (engine->backend_name);
  g_free (engine);
}

int
ls_engine_get_width (const LsEngine *engine)
{
  return engine->graph->width;
}

int
ls_engine_get_height (const LsEngine *engine)
{
  return engine->graph->height;
}

const char *
ls_engine_get_backend_name (const LsEngine *engine)
{
  return engine->backend_name;
}

double
ls_engine_get_gflop (const LsEngine *engine)
{
  return ls_graph_flops (engine->graph) / 1e9;
}

LsModel *
ls_engine_get_model (const LsEngine *engine)
{
  return engine->model;
}

gboolean
ls_engine_run_tensor (LsEngine *engine, const float *input, float *logits, GError **error)
{
  return engine->backend->klass->run (engine->backend, input, logits, error);
}

gboolean
ls_engine_run (LsEngine *engine, const LsImage *image, const LsRect *roi, float *prob,
               GError **error)
{
  const int w = engine->graph->width, h = engine->graph->height;
  if (!ls_image_to_tensor (image, roi, ls_model_get_config (engine->model)->input_norm,
                           w, h, engine->input, error))
    return FALSE;
  if (!ls_engine_run_tensor (engine, engine->input, prob, error))
    return FALSE;
  ls_cpu_sigmoid (prob, prob, (gsize) w * h);
  return TRUE;
}

void
ls_engine_set_profiling (LsEngine *engine, gboolean enable)
{
  engine->backend->klass->set_profiling (engine->backend, enable);
}

void
ls_engine_foreach_profile (LsEngine *engine, LsProfileFunc fn, gpointer user_data)
{
  engine->backend->klass->foreach_profile (engine->backend, fn, user_data);
}
