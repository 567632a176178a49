/* The Vulkan backend: plans the graph once (dispatches, weights, scratch),
 * uploads the weights once, records the whole graph into one command
 * buffer, and per frame only copies the input in, replays that command
 * buffer and waits on a fence.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vulkan-backend.h"
#include "vk-record.h"

#include <string.h>

typedef struct {
  LsBackend parent;
  char *name;
  LsVkDevice *dev;
  LsVkPipelines pipelines;
  LsVkPlan plan;
  LsVkProgram prog;
  LsVkBuffer staging_in, staging_out;
  VkCommandBuffer cmd, cmd_profiled;
  VkQueryPool queries;
  guint8 *profiled_barrier;  /* per dispatch: a barrier precedes it (profiled) */
  char *profile_csv;         /* LS_VULKAN_PROFILE_CSV, read with the profiled recording */
  VkFence fence;
  int n_barriers;
  gboolean profiling;
  double op_ms[LS_OP_N_KINDS];
  double upload_ms;                  /* the input's staging copy, last profiled run */
  gboolean have_profile;             /* a profiled run has been read */
  int op_count[LS_OP_N_KINDS];
} LsVulkanBackend;

static gboolean
upload_weights (LsVulkanBackend *self, GError **error)
{
  LsVkPlan *plan = &self->plan;
  LsVkBuffer *buf = &self->prog.buffers[LS_VK_BUF_WEIGHTS];
  if (!ls_vk_buffer_init (self->dev, buf, plan->weight_bytes, LS_VK_MEMORY_DEVICE, error))
    return FALSE;
  /* assembled on the host, then one copy (one staging buffer on discrete
   * devices instead of hundreds) */
  g_autofree char *host = g_malloc0 (MAX (plan->weight_bytes, 4));
  for (guint i = 0; i < plan->weights->len; i++) {
    const LsVkWeight *w = &g_array_index (plan->weights, LsVkWeight, i);
    const float *src = w->owned ? w->owned : w->src;
    if (w->fp16) {
      uint16_t *dst = (uint16_t *) (host + w->offset);
      for (gsize k = 0; k < w->floats; k++)
        dst[k] = ls_vk_float_to_half (src[k]);
    } else {
      memcpy (host + w->offset, src, w->floats * 4);
    }
  }
  return ls_vk_buffer_upload (self->dev, buf, 0, host, plan->weight_bytes, error);
}

static gboolean
vulkan_setup (LsVulkanBackend *self, GError **error)
{
  const LsGraph *graph = self->parent.graph;
  LsVkDevice *dev = self->dev;

  ls_vk_plan_init (&self->plan, graph, &dev->caps);
  for (guint i = 0; i < graph->nodes->len; i++)
    if (!ls_vk_plan_node (&self->plan, (int) i, error))
      return FALSE;
  ls_vk_plan_schedule (&self->plan);
  if (!ls_vk_pipelines_init (&self->pipelines, dev, error) || !upload_weights (self, error))
    return FALSE;

  LsVkProgram *prog = &self->prog;
  prog->dev = dev;
  prog->pipelines = &self->pipelines;
  prog->plan = &self->plan;
  prog->input = ls_vk_plan_tensor (&self->plan, graph->input);
  prog->output = ls_vk_plan_tensor (&self->plan, graph->output);
  if (!ls_vk_buffer_init (dev, &prog->buffers[LS_VK_BUF_ARENA],
                          (VkDeviceSize) graph->arena_floats * 4, LS_VK_MEMORY_DEVICE, error)
      || !ls_vk_buffer_init (dev, &prog->buffers[LS_VK_BUF_SCRATCH], self->plan.scratch_bytes,
                             LS_VK_MEMORY_DEVICE, error))
    return FALSE;
  if (!prog->buffers[LS_VK_BUF_ARENA].mapped) {
    if (!ls_vk_buffer_init (dev, &self->staging_in, prog->input.size, LS_VK_MEMORY_STAGING, error)
        || !ls_vk_buffer_init (dev, &self->staging_out, prog->output.size, LS_VK_MEMORY_STAGING,
                               error))
      return FALSE;
    prog->staging_in = &self->staging_in;
    prog->staging_out = &self->staging_out;
  }
  const VkFenceCreateInfo fence = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  const LsVkRecording plain = { 0 };
  return ls_vk_program_bind (prog, error)
         && ls_vk_program_record (prog, &plain, &self->cmd, &self->n_barriers, error)
         && ls_vk_check (vkCreateFence (dev->device, &fence, NULL, &self->fence),
                         "vkCreateFence", error);
}

/* The profiled variant is recorded on first use: the plain one carries no
 * timestamps. LS_VULKAN_PROFILE_SERIAL=1 records it with a barrier before
 * every dispatch, so that each is timed alone (the frame then takes
 * longer than the plain one); LS_VULKAN_PROFILE_CSV is read here too, once. */
static gboolean
ensure_profiled (LsVulkanBackend *self, GError **error)
{
  if (self->cmd_profiled)
    return TRUE;
  if (!self->dev->caps.timestamps) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: device \"%s\" has no timestamps on its compute queue",
                 self->dev->caps.name);
    return FALSE;
  }
  const VkQueryPoolCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, .queryType = VK_QUERY_TYPE_TIMESTAMP,
    .queryCount = LS_VK_TIMESTAMPS (self->plan.dispatches->len),
  };
  if (!ls_vk_check (vkCreateQueryPool (self->dev->device, &info, NULL, &self->queries),
                    "vkCreateQueryPool", error))
    return FALSE;
  self->profiled_barrier = g_new0 (guint8, MAX (self->plan.dispatches->len, 1));
  const char *csv = g_getenv ("LS_VULKAN_PROFILE_CSV");
  self->profile_csv = csv && *csv ? g_strdup (csv) : NULL;
  const LsVkRecording how = {
    .queries = self->queries,
    .serial = ls_vk_env_int ("LS_VULKAN_PROFILE_SERIAL", 0) != 0,
    .barrier_before = self->profiled_barrier,
  };
  return ls_vk_program_record (&self->prog, &how, &self->cmd_profiled, NULL, error);
}

/* Sums the last run's timestamps per op kind, and writes them per
 * dispatch where LS_VULKAN_PROFILE_CSV named a file (vk-profile.c). */
static gboolean
read_profile (LsVulkanBackend *self, GError **error)
{
  GArray *ds = self->plan.dispatches;
  const guint n_ts = LS_VK_TIMESTAMPS (ds->len);
  g_autofree guint64 *all_ts = g_new0 (guint64, n_ts);
  memset (self->op_ms, 0, sizeof self->op_ms);
  memset (self->op_count, 0, sizeof self->op_count);
  if (!ls_vk_check (vkGetQueryPoolResults (self->dev->device, self->queries, 0, n_ts,
                                           n_ts * sizeof (guint64), all_ts,
                                           sizeof (guint64),
                                           VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                    "vkGetQueryPoolResults", error))
    return FALSE;
  const double ms_per_tick = self->dev->caps.timestamp_period / 1e6;
  /* the upload on its own: the first dispatch's time held it before (on
   * an H100 the first patch embedding's im2col took 41-109 us, the
   * second's, twice its size, 8 us) */
  self->upload_ms = (double) (all_ts[1] - all_ts[0]) * ms_per_tick;
  const guint64 *ts = all_ts + 1;    /* ts[i], ts[i + 1] around dispatch i */
  self->have_profile = TRUE;
  /* dispatches of one node may be interleaved with others' (scheduled by
   * dependency level): count each node once */
  g_autofree gboolean *seen = g_new0 (gboolean, MAX (self->parent.graph->nodes->len, 1));
  for (guint i = 0; i < ds->len; i++) {
    const LsVkDispatch *d = &g_array_index (ds, LsVkDispatch, i);
    LsOpKind op = ls_graph_get_node (self->parent.graph, d->node)->op;
    /* dispatches run back to back unless a barrier separates them, so a
     * dispatch's time is the step between consecutive timestamps */
    self->op_ms[op] += (double) (ts[i + 1] - ts[i]) * ms_per_tick;
    if (!seen[d->node])
      self->op_count[op]++;
    seen[d->node] = TRUE;
  }
  return !self->profile_csv
         || ls_vk_profile_write_csv (self->profile_csv, self->parent.graph, &self->plan, ts,
                                     ms_per_tick, self->profiled_barrier, error);
}

static gboolean
vulkan_run (LsBackend *backend, const float *input, float *logits, GError **error)
{
  LsVulkanBackend *self = (LsVulkanBackend *) backend;
  LsVkProgram *prog = &self->prog;
  LsVkDevice *dev = self->dev;

  if (self->profiling && !ensure_profiled (self, error))
    return FALSE;
  if (prog->staging_in)
    memcpy (prog->staging_in->mapped, input, prog->input.size);
  else
    memcpy ((char *) prog->buffers[LS_VK_BUF_ARENA].mapped + prog->input.offset, input,
            prog->input.size);

  VkCommandBuffer cmd = self->profiling ? self->cmd_profiled : self->cmd;
  const VkSubmitInfo submit = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd,
  };
  if (!ls_vk_check (vkQueueSubmit (dev->queue, 1, &submit, self->fence), "vkQueueSubmit", error))
    return FALSE;
  VkResult r = vkWaitForFences (dev->device, 1, &self->fence, VK_TRUE, UINT64_MAX);
  vkResetFences (dev->device, 1, &self->fence);
  if (r == VK_ERROR_DEVICE_LOST) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND, "vulkan: device \"%s\" lost", dev->caps.name);
    return FALSE;
  }
  if (!ls_vk_check (r, "vkWaitForFences", error))
    return FALSE;

  if (prog->staging_out)
    memcpy (logits, prog->staging_out->mapped, prog->output.size);
  else
    memcpy (logits, (char *) prog->buffers[LS_VK_BUF_ARENA].mapped + prog->output.offset,
            prog->output.size);
  return !self->profiling || read_profile (self, error);
}

static void
vulkan_set_profiling (LsBackend *backend, gboolean enable)
{
  ((LsVulkanBackend *) backend)->profiling = enable;
}

static void
vulkan_foreach_profile (LsBackend *backend, LsProfileFunc fn, gpointer user_data)
{
  LsVulkanBackend *self = (LsVulkanBackend *) backend;
  if (self->prog.staging_in && self->have_profile)
    fn ("input upload", self->upload_ms, 1, user_data);
  for (int k = 0; k < LS_OP_N_KINDS; k++)
    if (self->op_count[k])
      fn (ls_op_kind_name (k), self->op_ms[k], self->op_count[k], user_data);
}

static void
vulkan_free (LsBackend *backend)
{
  LsVulkanBackend *self = (LsVulkanBackend *) backend;
  LsVkDevice *dev = self->dev;
  if (dev) {
    VkDevice d = dev->device;
    vkDeviceWaitIdle (d);
    if (self->fence)
      vkDestroyFence (d, self->fence, NULL);
    if (self->queries)
      vkDestroyQueryPool (d, self->queries, NULL);
    if (self->cmd)
      vkFreeCommandBuffers (d, dev->command_pool, 1, &self->cmd);
    if (self->cmd_profiled)
      vkFreeCommandBuffers (d, dev->command_pool, 1, &self->cmd_profiled);
    if (self->prog.pool)
      vkDestroyDescriptorPool (d, self->prog.pool, NULL);
    for (int i = 0; i < LS_VK_N_BUFS; i++)
      ls_vk_buffer_clear (dev, &self->prog.buffers[i]);
    ls_vk_buffer_clear (dev, &self->staging_in);
    ls_vk_buffer_clear (dev, &self->staging_out);
    ls_vk_pipelines_clear (&self->pipelines);
    ls_vk_device_free (dev);
  }
  ls_vk_plan_clear (&self->plan);
  g_free (self->profiled_barrier);
  g_free (self->profile_csv);
  g_free (self->name);
  g_free (self);
}

static const LsBackendClass vulkan_class = {
  .name = "vulkan",
  .run = vulkan_run,
  .set_profiling = vulkan_set_profiling,
  .foreach_profile = vulkan_foreach_profile,
  .free = vulkan_free,
};

static LsBackend *
backend_new (const LsGraph *graph, int device, gboolean gpu_only, gboolean allow_coopmat,
             GError **error)
{
  LsVulkanBackend *self = g_new0 (LsVulkanBackend, 1);
  self->parent.klass = &vulkan_class;
  self->parent.graph = graph;
  self->dev = ls_vk_device_new (device, gpu_only, allow_coopmat, error);
  if (!self->dev)
    goto fail;
  GError *local = NULL;
  if (!vulkan_setup (self, &local)) {
    /* a driver that refuses the cooperative-matrix pipelines: the fp32
     * kernels instead, on a device opened without those extensions */
    if (self->plan.gemm_count[LS_VK_GEMM_COOPMAT] && allow_coopmat) {
      g_warning ("vulkan: cooperative-matrix GEMM unavailable (%s); using fp32 GEMMs",
                 local->message);
      g_error_free (local);
      vulkan_free (&self->parent);
      return backend_new (graph, device, gpu_only, FALSE, error);
    }
    g_propagate_error (error, local);
    goto fail;
  }
  self->name = g_strdup_printf ("vulkan:%s", self->dev->caps.name);
  /* which GEMM kernels run: shown by bench (--check-cpu runs with
   * G_MESSAGES_DEBUG=lesionseg); the fp16 one is always announced */
  const int *gc = self->plan.gemm_count;
  if (gc[LS_VK_GEMM_COOPMAT])
    g_message ("vulkan: GEMMs on NV cooperative matrices (fp16 inputs, fp32 accumulation, "
               "%ux%ux%u fragments): coopmat %d, reg %d, tiled %d; LS_VULKAN_COOPMAT=0 turns "
               "this off", self->dev->caps.coopmat_m, self->dev->caps.coopmat_n,
               self->dev->caps.coopmat_k, gc[LS_VK_GEMM_COOPMAT], gc[LS_VK_GEMM_REG],
               gc[LS_VK_GEMM_TILED]);
  else
    g_debug ("vulkan: GEMM path fp32: reg %d, tiled %d (coopmat %s)", gc[LS_VK_GEMM_REG],
             gc[LS_VK_GEMM_TILED], self->dev->caps.coopmat ? "usable, not chosen"
             : self->dev->caps.nv_coopmat ? "off" : "unsupported");
  if (self->plan.tiles_path)
    g_message ("vulkan: %d of %d GEMMs with their tile from %s (LS_VULKAN_GEMM_TILES)",
               self->plan.gemm_from_file, gc[0] + gc[1] + gc[2], self->plan.tiles_path);
  if (self->plan.gemm_f16 && gc[LS_VK_GEMM_COOPMAT])
    g_debug ("vulkan: %d Linear GEMMs read fp16 weights (16-bit storage; the cooperative "
             "matrices multiply fp16 anyway)", self->plan.gemm_f16);
  else if (self->plan.gemm_f16)
    g_message ("vulkan: %d Linear GEMMs (reg/tiled) read fp16 weights (16-bit storage, fp32 "
               "accumulation, LS_VULKAN_FP16=1)", self->plan.gemm_f16);
  else
    g_debug ("vulkan: fp16 weights off (16-bit storage %s)",
             self->dev->caps.fp16_storage ? "available, LS_VULKAN_FP16=1 turns them on"
             : "unsupported");
  int folded = 0;
  for (guint i = 0; i < graph->nodes->len; i++)
    folded += self->plan.ln_of[i] == (int) i;
  g_debug ("%s: %u dispatches, %d barriers, %d LayerNorms folded into GEMMs, weights %.1f MB, "
           "arena %.1f MB, scratch %.1f MB", self->name, self->plan.dispatches->len,
           self->n_barriers, folded, self->plan.weight_bytes / 1e6,
           graph->arena_floats * 4 / 1e6, self->plan.scratch_bytes / 1e6);
  return &self->parent;

fail:
  vulkan_free (&self->parent);
  return NULL;
}

LsBackend *
ls_vulkan_backend_new (const LsGraph *graph, int device, gboolean gpu_only, GError **error)
{
  return backend_new (graph, device, gpu_only, TRUE, error);
}

const char *
ls_vulkan_backend_get_name (LsBackend *backend)
{
  return ((LsVulkanBackend *) backend)->name;
}

void
ls_vulkan_backend_get_counts (LsBackend *backend, int *dispatches, int *barriers)
{
  LsVulkanBackend *self = (LsVulkanBackend *) backend;
  *dispatches = (int) self->plan.dispatches->len;
  *barriers = self->n_barriers;
}

int
ls_vulkan_backend_get_fp16_gemms (LsBackend *backend)
{
  return ((LsVulkanBackend *) backend)->plan.gemm_f16;
}
