/* A planned graph on the device: its buffers, descriptor sets and the
 * command buffer that replays it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "vk-private.h"

typedef struct {
  LsVkDevice *dev;
  LsVkPipelines *pipelines;
  LsVkPlan *plan;
  LsVkBuffer buffers[LS_VK_N_BUFS];  /* indexed by LsVkBufferId */
  VkDescriptorPool pool;
  LsVkRange input, output;           /* in the arena */
  LsVkBuffer *staging_in, *staging_out;  /* NULL on unified memory */
} LsVkProgram;

/* Pipelines and descriptor sets of every dispatch (buffers must exist). */
gboolean ls_vk_program_bind   (LsVkProgram *prog, GError **error);
/* Records the whole graph; with @queries, a timestamp before the first and
 * after every dispatch (query i + 1 ends dispatch i). */
gboolean ls_vk_program_record (LsVkProgram *prog, VkQueryPool queries, VkCommandBuffer *out,
                               int *n_barriers, GError **error);
