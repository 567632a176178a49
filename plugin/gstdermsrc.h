/* dermsrc: a synthetic dermatoscope camera with ground truth.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

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

GST_ELEMENT_REGISTER_DECLARE (dermsrc);

G_END_DECLS
