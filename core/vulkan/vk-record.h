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
/* How a recording is made; { 0 } is the plain one every frame replays. */
typedef struct {
  VkQueryPool queries;     /* a timestamp before the first dispatch and after
                            * every one (query i + 1 ends dispatch i), or none */
  gboolean serial;         /* a barrier before every dispatch, so that each
                            * timestamp step is one dispatch alone */
  guint8 *barrier_before;  /* out, optional, one per dispatch: 1 where a
                            * barrier precedes it */
} LsVkRecording;

/* Records the whole graph into one command buffer. */
gboolean ls_vk_program_record (LsVkProgram *prog, const LsVkRecording *how, VkCommandBuffer *out,
                               int *n_barriers, GError **error);
