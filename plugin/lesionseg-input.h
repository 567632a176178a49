/* lesionseg: a video frame into the network's input (pre-processing).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "gstlesionseg.h"
#include "lesionseg-job.h"

G_BEGIN_DECLS

LsRect lseg_input_frame_roi (const gint roi[4], int width, int height);
gboolean lseg_input_fill_tensor (GstLesionSeg *self, GstVideoFrame *frame, LsegJob *job,
                                 GError **error);
void lseg_input_copy_truth (GstBuffer *buffer, LsegJob *job);

G_END_DECLS
