/* dermsrc: one frame from a lesion's texture — the camera's warp, its gain
 * and sensor noise, the output format and the ground-truth mask.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>

#include "dermsrc-texture.h"
#include "synth.h"

G_BEGIN_DECLS

/* What rendering a frame needs beyond the texture and the camera: the
 * output format's conversion, scratch that lives from frame to frame and
 * the sensor-noise table. The element owns one per stream. */
typedef struct _DermFrameRenderer {
  /* the negotiated format's conversion */
  gint yc[3], uc[3], vc[3];   /* RGB -> Y'CbCr, Q14 */
  gint yoff, coff;            /* offsets, Q14, with rounding */

  /* scratch */
  guint32 *rows;              /* rows of warped RGBM */
  guint8 *planes;             /* half-size luma, mask and a row of sums */
  gsize planes_size;

  /* sensor noise: a fixed table, so that frames depend on the seed only */
  gint8 *noise;
} DermFrameRenderer;

/* Prepares @fr (zeroed or cleared) for a stream: builds the noise table. */
void dermsrc_frame_renderer_init (DermFrameRenderer *fr);
/* Frees what @fr holds and zeroes it; a zeroed @fr is fine. */
void dermsrc_frame_renderer_clear (DermFrameRenderer *fr);
/* Sets @fr up for frames of @info: the colour conversion and the scratch. */
void dermsrc_frame_renderer_set_format (DermFrameRenderer *fr, const GstVideoInfo *info);

/* Fills @frame and its @mask (width x height, 0/255) with what @cam sees of @t. */
void dermsrc_render_frame (DermFrameRenderer *fr, const DermTexture *t, const LsSynthCamera *cam,
                           gboolean still, GstVideoFrame *frame, guint8 *mask);

G_END_DECLS
