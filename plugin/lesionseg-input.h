/* lesionseg: a video frame into the network's input (pre-processing).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>

#include "lesionseg-job.h"

G_BEGIN_DECLS

/* What the streaming thread needs to turn frames into the network's input:
 * the network's input size and normalisation, and scratch for YUV frames. */
typedef struct {
  LsInputNorm norm;
  int net_width, net_height;
  guint8 *rgb;                       /* ROI of a YUV frame as RGB; only grows */
  gsize rgb_size;
} LsegInput;

void lseg_input_init (LsegInput *input, LsInputNorm norm, int net_width, int net_height);
void lseg_input_clear (LsegInput *input);

LsRect lseg_input_frame_roi (const gint roi[4], int width, int height);
gboolean lseg_input_fill_tensor (LsegInput *input, GstVideoFrame *frame, LsegJob *job,
                                 GError **error);
void lseg_input_copy_truth (GstBuffer *buffer, LsegJob *job);

G_END_DECLS
