/* lesionseg: what a finished mask tells the rest of the pipeline —
 * its measurements, the buffer metas and the "lesionseg" bus message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg-report.h"

#include <gst/video/video.h>

/* Dice and IoU of the ROI's mask against the whole frame's ground truth:
 * truth outside the ROI counts as missed. */
static void
intersect_truth (const LsegJob *job, const guint8 *mask, gint64 area,
                 GstLesionSegMeasurements *m)
{
  const int fw = job->frame_width;
  const guint8 *truth_mask = g_bytes_get_data (job->truth, NULL);
  gint64 truth = 0, inter = 0;
  for (int y = 0; y < job->frame_height; y++) {
    const guint8 *t = truth_mask + (gsize) y * fw;
    for (int x = 0; x < fw; x++)
      truth += t[x] != 0;
  }
  for (int y = 0; y < job->roi.height; y++) {
    const guint8 *t = truth_mask + (gsize) (job->roi.y + y) * fw + job->roi.x;
    const guint8 *k = mask + (gsize) y * job->roi.width;
    for (int x = 0; x < job->roi.width; x++)
      inter += (t[x] != 0) & (k[x] != 0);
  }
  const gint64 uni = area + truth - inter;
  m->has_truth = TRUE;
  m->dice = area + truth > 0 ? 2.0 * inter / (double) (area + truth) : 1.0;
  m->iou = uni > 0 ? (double) inter / (double) uni : 1.0;
}

/* The library measures the ROI-sized mask; the meta and the message speak
 * in frame pixels, so the positions move by the ROI's origin here. */
void
lseg_report_measure (const LsegJob *job, const guint8 *mask, const LsMeasurements *lm,
                     const LsShapeMeasurements *shape, double inference_ms,
                     GstLesionSegMeasurements *m)
{
  const gsize rsize = (gsize) job->roi.width * job->roi.height;
  m->area_px = lm->area;
  m->area_fraction = (double) lm->area / (double) rsize;
  if (job->pixels_per_mm > 0)
    m->area_mm2 = lm->area / (job->pixels_per_mm * job->pixels_per_mm);
  if (lm->area > 0) {
    m->bbox_x = lm->bbox_x + job->roi.x;
    m->bbox_y = lm->bbox_y + job->roi.y;
    m->bbox_width = lm->bbox_width;
    m->bbox_height = lm->bbox_height;
    m->centroid_x = lm->centroid_x + job->roi.x;
    m->centroid_y = lm->centroid_y + job->roi.y;
  }
  m->max_diameter = shape->max_diameter;
  m->mean_probability = lm->mean_probability;
  m->asymmetry = shape->asymmetry;
  m->border_irregularity = shape->border_irregularity;
  m->inference_ms = inference_ms;
  if (job->truth)
    intersect_truth (job, mask, lm->area, m);
}

/* One message per inference (not per frame), stamped with the times of the
 * frame the mask was computed from. */
void
lseg_report_post_message (GstElement *element, const LsegJob *job, const LsegResult *r)
{
  const GstLesionSegMeasurements *m = &r->m;
  GstStructure *s = gst_structure_new ("lesionseg",
      "timestamp", G_TYPE_UINT64, job->pts,
      "stream-time", G_TYPE_UINT64, job->stream_time,
      "running-time", G_TYPE_UINT64, job->running_time,
      "area-px", G_TYPE_INT64, m->area_px,
      "area-fraction", G_TYPE_DOUBLE, m->area_fraction, NULL);
  if (job->pixels_per_mm > 0)
    gst_structure_set (s, "area-mm2", G_TYPE_DOUBLE, m->area_mm2, NULL);
  gst_structure_set (s,
      "bbox-x", G_TYPE_INT, m->bbox_x,
      "bbox-y", G_TYPE_INT, m->bbox_y,
      "bbox-width", G_TYPE_INT, m->bbox_width,
      "bbox-height", G_TYPE_INT, m->bbox_height,
      "centroid-x", G_TYPE_DOUBLE, m->centroid_x,
      "centroid-y", G_TYPE_DOUBLE, m->centroid_y,
      "max-diameter", G_TYPE_DOUBLE, m->max_diameter,
      "mean-probability", G_TYPE_DOUBLE, m->mean_probability,
      "asymmetry", G_TYPE_DOUBLE, m->asymmetry,
      "border-irregularity", G_TYPE_DOUBLE, m->border_irregularity,
      "inference-ms", G_TYPE_DOUBLE, m->inference_ms,
      "backend", G_TYPE_STRING, r->backend, NULL);
  if (m->has_truth)
    gst_structure_set (s, "dice", G_TYPE_DOUBLE, m->dice, "iou", G_TYPE_DOUBLE, m->iou, NULL);
  gst_element_post_message (element, gst_message_new_element (GST_OBJECT (element), s));
}

/* Every frame that shows a mask carries it, even an old one: the age says
 * how many frames ago it was computed. The ROI meta is only for a mask
 * that found something. */
void
lseg_report_attach_meta (GstBuffer *buffer, const LsegResult *r, guint age)
{
  GstLesionSegMeta *meta = gst_buffer_add_lesion_seg_meta (buffer, r->mask_net, r->net_width,
                                                           r->net_height, r->net_width);
  meta->roi = (GstVideoRectangle) { r->roi.x, r->roi.y, r->roi.width, r->roi.height };
  meta->threshold = r->threshold;
  meta->measurements = r->m;
  meta->source_pts = r->pts;
  meta->age = age;
  meta->backend = r->backend;
  if (r->m.area_px > 0)
    gst_buffer_add_video_region_of_interest_meta (buffer, "lesion", r->m.bbox_x, r->m.bbox_y,
                                                  r->m.bbox_width, r->m.bbox_height);
}
