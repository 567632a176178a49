/* lesionseg: a frame on its way to the network, and the mask that comes back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "lesionseg.h"
#include "lesionseg-overlay.h"
#include "gstlesionsegmeta.h"

G_BEGIN_DECLS

/* One frame on its way to the network: its ROI as the network's input, the
 * settings it was taken with, and its ground truth when it had one. Jobs
 * are reused (the element keeps a spare), so their buffers only grow. */
typedef struct _LsegJob {
  guint64 seq;
  guint epoch;             /* the worker's epoch when the job was taken (a flush ends one) */
  GstClockTime pts, stream_time, running_time;
  int frame_width, frame_height;
  LsRect roi;
  float *tensor;
  GBytes *truth;           /* frame_width x frame_height, compact; or NULL */
  float threshold, smoothing;
  gboolean cleanup, message;
  int contour_width;
  double pixels_per_mm;
} LsegJob;

/* A finished mask, shared by every frame that shows it. Immutable once
 * published, so the streaming thread reads it without a lock. */
typedef struct _LsegResult {
  guint64 seq;
  GstClockTime pts;
  int frame_width, frame_height;
  LsRect roi;
  GBytes *mask_net;
  int net_width, net_height;
  LsegClassMap map;
  GstLesionSegMeasurements m;
  float threshold;
  const char *backend;
} LsegResult;

LsegJob *lseg_job_new (int net_width, int net_height);
void lseg_job_free (LsegJob *job);

LsegResult *lseg_result_new (void);
LsegResult *lseg_result_ref (LsegResult *r);
void lseg_result_unref (LsegResult *r);

G_END_DECLS
