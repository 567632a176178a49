/* dermsrc: a synthetic dermatoscope camera with ground truth.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include "dermsrc-frame.h"
#include "dermsrc-texture.h"

G_BEGIN_DECLS

/**
 * GstDermSrcPattern:
 * @GST_DERM_SRC_PATTERN_STILL: the generator's still image at the reference
 *   framing, the same every frame (exactly ls_synth_generate's image)
 * @GST_DERM_SRC_PATTERN_MOVING: a hand-held camera: slow pan, zoom and
 *   rotation, illumination drift and per-frame sensor noise
 */
typedef enum {
  GST_DERM_SRC_PATTERN_STILL,
  GST_DERM_SRC_PATTERN_MOVING,
} GstDermSrcPattern;

#define GST_TYPE_DERM_SRC_PATTERN (gst_derm_src_pattern_get_type ())
GType gst_derm_src_pattern_get_type (void);

#define GST_TYPE_DERM_SRC (gst_derm_src_get_type ())
G_DECLARE_FINAL_TYPE (GstDermSrc, gst_derm_src, GST, DERM_SRC, GstPushSrc)

struct _GstDermSrc {
  GstPushSrc parent;

  /* properties, under the object lock */
  guint64 seed;
  GstDermSrcPattern pattern;
  gdouble lesion_duration;

  /* negotiated format */
  GstVideoInfo info;

  /* stream position, as videotestsrc keeps it */
  guint64 n_frames, accum_frames;
  GstClockTime running_time, accum_rtime;
  GstClockTime live_offset;   /* live: PTS minus stream time, set at the first frame */
  gboolean have_live_offset;

  /* the frame renderer (dermsrc-frame.c): the format's conversion, scratch
   * and noise; from start to stop */
  DermFrameRenderer renderer;

  /* each lesion's texture and the worker that renders it
   * (dermsrc-texture.c); the worker runs from start to stop */
  DermTextureCache textures;
};

GST_ELEMENT_REGISTER_DECLARE (dermsrc);

G_END_DECLS
