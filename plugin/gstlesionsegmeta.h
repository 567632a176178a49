/* GstLesionSegMeta: the lesion mask and measurements lesionseg attaches to
 * every buffer it has a mask for.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_LESION_SEG_META_API_TYPE (gst_lesion_seg_meta_api_get_type ())
#define GST_LESION_SEG_META_INFO (gst_lesion_seg_meta_get_info ())

/**
 * GstLesionSegMeasurements:
 * @area_px: mask pixels, in frame pixels
 * @area_fraction: @area_px over the ROI's area
 * @area_mm2: area in mm^2, 0 when the element's pixels-per-mm is unknown
 * @bbox_x: bounding box of the mask in frame pixels (0 size when empty)
 * @centroid_x: mean position of the mask's pixels in frame pixels
 * @max_diameter: largest distance between two mask pixels (frame pixels)
 * @mean_probability: mean lesion probability inside the mask
 * @asymmetry: mask vs its mirror about its most symmetric pair of
 *   perpendicular axes (as the ABCD rule places them), 0..1
 * @border_irregularity: perimeter^2 / (4 pi area), about 1 for a disc
 * @inference_ms: time the network took for this mask
 * @has_truth: the frame carried a ground-truth mask; @dice and @iou are set
 *
 * Everything that is in frame pixels follows the buffer through scaling.
 */
typedef struct {
  gint64 area_px;
  gdouble area_fraction;
  gdouble area_mm2;
  gint bbox_x, bbox_y, bbox_width, bbox_height;
  gdouble centroid_x, centroid_y;
  gdouble max_diameter;
  gdouble mean_probability;
  gdouble asymmetry;
  gdouble border_irregularity;
  gdouble inference_ms;
  gboolean has_truth;
  gdouble dice, iou;
} GstLesionSegMeasurements;

/**
 * GstLesionSegMeta:
 * @meta: parent
 * @mask: the thresholded (and cleaned) mask, GRAY8 0/255, at the network's
 *   size, @mask_stride bytes a row; read-only, shared between buffers
 * @roi: the rectangle of the frame, in frame pixels, the mask covers
 * @threshold: the threshold it was made with
 * @measurements: measurements of the mask at frame resolution
 * @source_pts: PTS of the frame the mask was computed from
 * @age: frames between that frame and this buffer's (0: its own mask)
 * @backend: "cpu" or "vulkan:<device>" (an interned string)
 */
typedef struct {
  GstMeta meta;

  const guint8 *mask;
  gint mask_width, mask_height, mask_stride;
  GstVideoRectangle roi;
  gfloat threshold;
  GstLesionSegMeasurements measurements;
  GstClockTime source_pts;
  guint age;
  const gchar *backend;

  /*< private >*/
  GBytes *mask_bytes;
  gpointer _gst_reserved[GST_PADDING];
} GstLesionSegMeta;

#define GST_LESION_SEG_META_API_NAME "GstLesionSegMetaAPI"

/* Registration, for the plugin itself (these live in the plugin module). */
GType gst_lesion_seg_meta_api_get_type (void);
const GstMetaInfo *gst_lesion_seg_meta_get_info (void);

/* Adds a meta sharing @mask (mask_height rows of mask_stride bytes); every
 * other field is for the caller to fill in. */
GstLesionSegMeta *gst_buffer_add_lesion_seg_meta (GstBuffer *buffer, GBytes *mask,
                                                  gint mask_width, gint mask_height,
                                                  gint mask_stride);

/* Applications (capture software, examples/embed.c, tests) do not link the
 * plugin: they find the API by name, registered once the plugin is loaded
 * (0 before that, and then no buffer carries the meta anyway). */
static inline GType
gst_lesion_seg_meta_api_lookup (void)
{
  return g_type_from_name (GST_LESION_SEG_META_API_NAME);
}

static inline GstLesionSegMeta *
gst_buffer_get_lesion_seg_meta (GstBuffer *buffer)
{
  const GType api = gst_lesion_seg_meta_api_lookup ();
  return api ? (GstLesionSegMeta *) gst_buffer_get_meta (buffer, api) : NULL;
}

G_END_DECLS
