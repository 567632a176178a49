/* Plan -> GPU objects: pipelines and one descriptor set per dispatch (made
 * once), and the whole graph recorded into one command buffer that every
 * frame replays. Barriers go only where a dispatch touches a range that an
 * earlier dispatch since the last barrier wrote (or writes one that it
 * read): the last writer of every arena/scratch byte range is tracked.
 *
 * Before that, ls_vk_plan_schedule orders the dispatches by dependency
 * level, so that independent ones (split-K GEMMs on one input, each
 * with its own scratch, then their reduces) sit between the same two
 * barriers. The per-dispatch timestamps of --profile are then approximate
 * within such a group: its dispatches may overlap (a serial recording puts
 * a barrier before every dispatch to time each alone).
 *
 * The barriers are global VkMemoryBarriers rather than per-buffer ones:
 * no driver we know of tracks buffer ranges finer than that, and one
 * global barrier covers all the tensors that need it at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-record.h"

#include <stdlib.h>
#include <string.h>

gboolean
ls_vk_program_bind (LsVkProgram *prog, GError **error)
{
  LsVkDevice *dev = prog->dev;
  GArray *ds = prog->plan->dispatches;
  const uint32_t n = MAX (ds->len, 1);
  const VkDescriptorPoolSize size = {
    .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = n * LS_VK_BINDINGS,
  };
  const VkDescriptorPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = n, .poolSizeCount = 1, .pPoolSizes = &size,
  };
  if (!ls_vk_check (vkCreateDescriptorPool (dev->device, &pool_info, NULL, &prog->pool),
                    "vkCreateDescriptorPool", error))
    return FALSE;

  for (guint i = 0; i < ds->len; i++) {
    LsVkDispatch *d = &g_array_index (ds, LsVkDispatch, i);
    d->pipeline = ls_vk_pipeline_get (prog->pipelines, d->shader, d->spec, d->n_spec, error);
    if (!d->pipeline)
      return FALSE;
    const VkDescriptorSetAllocateInfo alloc = {
      .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
      .descriptorPool = prog->pool, .descriptorSetCount = 1,
      .pSetLayouts = &prog->pipelines->set_layout,
    };
    if (!ls_vk_check (vkAllocateDescriptorSets (dev->device, &alloc, &d->set),
                      "vkAllocateDescriptorSets", error))
      return FALSE;

    VkDescriptorBufferInfo info[LS_VK_BINDINGS];
    VkWriteDescriptorSet writes[LS_VK_BINDINGS];
    for (int b = 0; b < LS_VK_BINDINGS; b++) {
      const LsVkRange *r = &d->bind[b];
      if (r->buffer == LS_VK_BUF_NONE)     /* unused: any small valid range */
        info[b] = (VkDescriptorBufferInfo) { prog->buffers[LS_VK_BUF_WEIGHTS].buffer, 0, 64 };
      else
        info[b] = (VkDescriptorBufferInfo) {
          prog->buffers[r->buffer].buffer, r->offset, MAX (r->size, 4),
        };
      if (info[b].range > dev->caps.max_storage_range) {
        g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                     "vulkan: a %.1f MB tensor exceeds maxStorageBufferRange (%.1f MB) "
                     "of device \"%s\"; use a smaller input size", info[b].range / 1e6,
                     dev->caps.max_storage_range / 1e6, dev->caps.name);
        return FALSE;
      }
      writes[b] = (VkWriteDescriptorSet) {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = d->set,
        .dstBinding = (uint32_t) b, .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &info[b],
      };
    }
    vkUpdateDescriptorSets (dev->device, LS_VK_BINDINGS, writes, 0, NULL);
  }
  return TRUE;
}

/* ---- hazards -------------------------------------------------------------- */

typedef struct {
  GArray *written, *touched;   /* LsVkRange since the last barrier */
} Hazards;

static gboolean
overlaps (const GArray *set, const LsVkRange *r)
{
  for (guint i = 0; i < set->len; i++) {
    const LsVkRange *o = &g_array_index (set, LsVkRange, i);
    if (o->buffer == r->buffer && o->offset < r->offset + r->size
        && r->offset < o->offset + o->size)
      return TRUE;
  }
  return FALSE;
}

static gboolean
tracked (const LsVkRange *r)
{
  /* weights are written once before any frame; unused bindings not at all */
  return r->buffer == LS_VK_BUF_ARENA || r->buffer == LS_VK_BUF_SCRATCH;
}

/* TRUE when d must wait for earlier dispatches: it reads or writes what one
 * of them wrote (RAW, WAW), or writes what one of them read (WAR). */
static gboolean
needs_barrier (const Hazards *h, const LsVkDispatch *d)
{
  for (int b = 0; b < LS_VK_BINDINGS; b++) {
    const LsVkRange *r = &d->bind[b];
    if (!tracked (r))
      continue;
    if (overlaps (h->written, r))
      return TRUE;
    if ((d->writes & (1u << b)) && overlaps (h->touched, r))
      return TRUE;
  }
  return FALSE;
}

static void
note_dispatch (Hazards *h, const LsVkDispatch *d)
{
  for (int b = 0; b < LS_VK_BINDINGS; b++) {
    const LsVkRange *r = &d->bind[b];
    if (!tracked (r))
      continue;
    g_array_append_val (h->touched, *r);
    if (d->writes & (1u << b))
      g_array_append_val (h->written, *r);
  }
}

/* TRUE when dispatch b must stay after earlier dispatch a. */
static gboolean
conflicts (const LsVkDispatch *a, const LsVkDispatch *b)
{
  for (int i = 0; i < LS_VK_BINDINGS; i++) {
    const LsVkRange *ra = &a->bind[i];
    if (!tracked (ra))
      continue;
    for (int j = 0; j < LS_VK_BINDINGS; j++) {
      const LsVkRange *rb = &b->bind[j];
      if (!tracked (rb) || !((a->writes & (1u << i)) || (b->writes & (1u << j))))
        continue;
      if (ra->buffer == rb->buffer && ra->offset < rb->offset + rb->size
          && rb->offset < ra->offset + ra->size)
        return TRUE;
    }
  }
  return FALSE;
}

typedef struct {
  int level;
  guint index;
} Ranked;

static int
compare_ranked (gconstpointer pa, gconstpointer pb)
{
  const Ranked *a = pa, *b = pb;
  if (a->level != b->level)
    return a->level < b->level ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

void
ls_vk_plan_schedule (LsVkPlan *plan)
{
  const char *env = g_getenv ("LS_VULKAN_REORDER");
  if (env && g_strcmp0 (env, "0") == 0)
    return;
  GArray *ds = plan->dispatches;
  const guint n = ds->len;
  g_autofree Ranked *rank = g_new (Ranked, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    const LsVkDispatch *d = &g_array_index (ds, LsVkDispatch, i);
    int level = 0;
    for (guint j = 0; j < i; j++)
      if (rank[j].level >= level
          && conflicts (&g_array_index (ds, LsVkDispatch, j), d))
        level = rank[j].level + 1;
    rank[i] = (Ranked) { level, i };
  }
  /* conflicting dispatches have increasing levels: sorting by level (then
   * planned order) keeps every one of them in order */
  qsort (rank, n, sizeof *rank, compare_ranked);
  GArray *sorted = g_array_sized_new (FALSE, FALSE, sizeof (LsVkDispatch), n);
  for (guint i = 0; i < n; i++)
    g_array_append_val (sorted, g_array_index (ds, LsVkDispatch, rank[i].index));
  g_array_unref (ds);
  plan->dispatches = sorted;
}

static void
barrier (VkCommandBuffer cmd, VkPipelineStageFlags src_stage, VkAccessFlags src_access,
         VkPipelineStageFlags dst_stage, VkAccessFlags dst_access)
{
  const VkMemoryBarrier mb = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = src_access, .dstAccessMask = dst_access,
  };
  vkCmdPipelineBarrier (cmd, src_stage, dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

/* ---- recording ------------------------------------------------------------ */

static void
copy_range (VkCommandBuffer cmd, VkBuffer src, VkDeviceSize src_offset, VkBuffer dst,
            VkDeviceSize dst_offset, VkDeviceSize size)
{
  const VkBufferCopy region = { src_offset, dst_offset, size };
  vkCmdCopyBuffer (cmd, src, dst, 1, &region);
}

gboolean
ls_vk_program_record (LsVkProgram *prog, const LsVkRecording *how, VkCommandBuffer *out,
                      int *n_barriers, GError **error)
{
  const VkQueryPool queries = how->queries;
  LsVkDevice *dev = prog->dev;
  const VkBuffer arena = prog->buffers[LS_VK_BUF_ARENA].buffer;
  const VkPipelineStageFlags compute = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
  const VkAccessFlags rw = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  const VkCommandBufferAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = dev->command_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkCommandBuffer cmd;
  if (!ls_vk_check (vkAllocateCommandBuffers (dev->device, &alloc, &cmd),
                    "vkAllocateCommandBuffers", error))
    return FALSE;
  *out = cmd;
  const VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
  if (!ls_vk_check (vkBeginCommandBuffer (cmd, &begin), "vkBeginCommandBuffer", error))
    return FALSE;

  GArray *ds = prog->plan->dispatches;
  /* timestamps: 0 before the input's upload, 1 after it, 2 + i after
   * dispatch i (LS_VK_TIMESTAMPS) */
  if (queries) {
    vkCmdResetQueryPool (cmd, queries, 0, LS_VK_TIMESTAMPS (ds->len));
    vkCmdWriteTimestamp (cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries, 0);
  }
  if (prog->staging_in) {
    copy_range (cmd, prog->staging_in->buffer, 0, arena, prog->input.offset, prog->input.size);
    barrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, compute, rw);
  }
  if (queries)
    vkCmdWriteTimestamp (cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries, 1);

  Hazards h = {
    g_array_new (FALSE, FALSE, sizeof (LsVkRange)), g_array_new (FALSE, FALSE, sizeof (LsVkRange)),
  };
  int barriers = 0;
  for (guint i = 0; i < ds->len; i++) {
    const LsVkDispatch *d = &g_array_index (ds, LsVkDispatch, i);
    const gboolean needed = (how->serial && i > 0) || needs_barrier (&h, d);
    if (needed) {
      barrier (cmd, compute, VK_ACCESS_SHADER_WRITE_BIT, compute, rw);
      g_array_set_size (h.written, 0);
      g_array_set_size (h.touched, 0);
      barriers++;
    }
    if (how->barrier_before)
      how->barrier_before[i] = needed;
    note_dispatch (&h, d);
    vkCmdBindPipeline (cmd, VK_PIPELINE_BIND_POINT_COMPUTE, d->pipeline);
    vkCmdBindDescriptorSets (cmd, VK_PIPELINE_BIND_POINT_COMPUTE, prog->pipelines->layout, 0, 1,
                             &d->set, 0, NULL);
    if (d->push_size)
      vkCmdPushConstants (cmd, prog->pipelines->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                          d->push_size, d->push);
    vkCmdDispatch (cmd, d->groups[0], d->groups[1], d->groups[2]);
    if (queries)
      vkCmdWriteTimestamp (cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries, i + 2);
  }
  g_array_unref (h.written);
  g_array_unref (h.touched);

  if (prog->staging_out) {
    barrier (cmd, compute, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
             VK_ACCESS_TRANSFER_READ_BIT);
    copy_range (cmd, arena, prog->output.offset, prog->staging_out->buffer, 0, prog->output.size);
    barrier (cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
             VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
  } else {
    barrier (cmd, compute, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
             VK_ACCESS_HOST_READ_BIT);
  }
  if (n_barriers)
    *n_barriers = barriers;
  return ls_vk_check (vkEndCommandBuffer (cmd), "vkEndCommandBuffer", error);
}
