/* lesionseg: segments skin lesions in video and draws the mask over it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "lesionseg.h"
#include "lesionseg-input.h"
#include "lesionseg-job.h"
#include "lesionseg-overlay.h"
#include "lesionseg-worker.h"

G_BEGIN_DECLS

#define GST_TYPE_LESION_SEG (gst_lesion_seg_get_type ())
G_DECLARE_FINAL_TYPE (GstLesionSeg, gst_lesion_seg, GST, LESION_SEG, GstVideoFilter)

typedef enum {
  GST_LESION_SEG_MODE_AUTO,
  GST_LESION_SEG_MODE_SYNC,
  GST_LESION_SEG_MODE_ASYNC,
} GstLesionSegMode;

typedef enum {
  GST_LESION_SEG_OVERLAY_NONE,
  GST_LESION_SEG_OVERLAY_FILL,
  GST_LESION_SEG_OVERLAY_CONTOUR,
  GST_LESION_SEG_OVERLAY_BOTH,
} GstLesionSegOverlay;

struct _GstLesionSeg {
  GstVideoFilter parent;

  /* properties, under the object lock */
  gchar *model_path;                 /* NULL: the bundled model */
  LsBackendKind backend;
  gint device;
  GstLesionSegMode mode;
  guint interval;
  gint roi[4];                       /* x, y, width, height; width 0 = whole frame */
  gboolean roi_warned;               /* told the bus this roi does not fit the frame */
  gfloat threshold;
  gfloat smoothing;
  gboolean cleanup;
  GstLesionSegOverlay overlay;
  guint32 fill_color, contour_color;
  gdouble opacity;
  gint contour_width;
  gboolean message;
  gdouble pixels_per_mm;
  gchar *active_backend;
  gdouble inference_ms;              /* the network's last time, kept after stop */
  guint mask_age;

  /* between start and stop */
  LsModel *model;
  LsEngine *engine;
  LsegWorker *worker;                /* the network: worker thread or in place */
  gboolean is_async;                 /* mode=auto: resolved at the first buffer */
  gboolean mode_resolved;            /* both written under the object lock */
  guint64 frame_count;
  GstClockTime reported_latency;     /* sync mode's, under the object lock */

  /* streaming thread only */
  LsegInput input;                   /* the network's input size, and scratch */
  LsegClassMap redraw;               /* latest's map at another contour width */
  LsegResult *redraw_for;
};

GST_ELEMENT_REGISTER_DECLARE (lesionseg);

G_END_DECLS
