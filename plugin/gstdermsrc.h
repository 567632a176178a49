/* dermsrc: a synthetic dermatoscope camera with ground truth.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include "dermsrc-frame.h"

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

/* Camera motion limits, in the generator's scene units (the reference
 * frame's height). The moving texture covers all of it. */
#define PAN_MAX 0.06
#define ZOOM_RANGE 0.25       /* zoom in 1 .. 1 + ZOOM_RANGE */
#define ROT_MAX 0.12          /* radians */
#define GAIN_DRIFT 0.08       /* illumination gain in 1 +- GAIN_DRIFT */

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

  /* textures (dermsrc-texture.c): @current belongs to the streaming thread;
   * @next is what the worker renders or has rendered (under @lock) */
  DermTexture *current;
  DermTexture *next;
  GThread *worker;
  GMutex lock;
  GCond cond;
  gboolean quit, flushing;
};

GST_ELEMENT_REGISTER_DECLARE (dermsrc);

G_END_DECLS
