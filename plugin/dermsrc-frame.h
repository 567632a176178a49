/* dermsrc: one frame from a lesion's texture — the camera's warp, its gain
 * and sensor noise, the output format and the ground-truth mask.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>

#include "gstdermsrc.h"
#include "dermsrc-texture.h"
#include "synth.h"

G_BEGIN_DECLS

/* Fills @frame and its @mask (width x height, 0/255) with what @cam sees of @t. */
void dermsrc_render_frame (GstDermSrc *src, const DermTexture *t, const LsSynthCamera *cam,
                           gboolean still, GstVideoFrame *frame, guint8 *mask);

G_END_DECLS
