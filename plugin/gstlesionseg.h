/* lesionseg: segments skin lesions in video and draws the mask over it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "lesionseg.h"
#include "lesionseg-job.h"
#include "lesionseg-overlay.h"

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
  gdouble inference_ms;
  guint mask_age;

  /* between start and stop */
  LsModel *model;
  LsEngine *engine;
  int net_width, net_height;
  gboolean is_async;                 /* resolved at the first buffer */
  gboolean mode_resolved;
  guint64 frame_count;
  GstClockTime reported_latency;

  /* the worker and its hand-over, under lock (lesionseg-worker.c) */
  GMutex lock;
  GCond cond;
  GThread *worker;
  gboolean stopping;
  gboolean busy;
  gboolean failed;
  LsegJob *pending;                  /* the newest frame waiting for the network */
  LsegJob *spare;                    /* a finished job kept for reuse */
  LsegResult *latest;                /* the newest finished mask */
  guint64 replaced;                  /* frames a newer one replaced before the network took them */
  gint64 busy_since;                 /* monotonic us when the worker took its job */
  double job_us;                     /* running mean of a job's time on the worker, us */

  /* the network's private state (worker, or streaming thread in sync mode) */
  float *prob, *ema;
  LsRect ema_roi;
  gboolean ema_valid;
  guint8 *roi_mask;
  gsize roi_mask_size;
  float *logits;

  /* streaming thread only */
  guint8 *rgb;                       /* ROI of a YUV frame as RGB */
  gsize rgb_size;
  LsegClassMap redraw;               /* latest's map at another contour width */
  LsegResult *redraw_for;
};

GST_ELEMENT_REGISTER_DECLARE (lesionseg);

G_END_DECLS
