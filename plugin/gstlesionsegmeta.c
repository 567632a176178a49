/* GstLesionSegMeta: registration, copy and scale transforms.
 *
 * The mask is kept at the network's size and shared (GBytes) between every
 * buffer that carries the same inference, so adding the meta to each
 * outgoing frame costs a reference, not a copy. Scaling moves the ROI and
 * the frame-pixel measurements; the mask itself maps to the ROI, so it
 * stays as it is.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlesionsegmeta.h"

#include <math.h>
#include <string.h>

GType
gst_lesion_seg_meta_api_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type)) {
    /* Size and orientation dependent: videoscale transforms it, flips and
     * rotations (which cannot) drop it. */
    static const gchar *tags[] = { GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_SIZE_STR,
                                   GST_META_TAG_VIDEO_ORIENTATION_STR, NULL };
    GType t = gst_meta_api_type_register (GST_LESION_SEG_META_API_NAME, tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
lesion_seg_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstLesionSegMeta *m = (GstLesionSegMeta *) meta;
  m->mask = NULL;
  m->mask_bytes = NULL;
  m->mask_width = m->mask_height = m->mask_stride = 0;
  memset (&m->roi, 0, sizeof m->roi);
  m->threshold = 0.5f;
  memset (&m->measurements, 0, sizeof m->measurements);
  m->source_pts = GST_CLOCK_TIME_NONE;
  m->age = 0;
  m->backend = NULL;
  return TRUE;
}

static void
lesion_seg_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstLesionSegMeta *m = (GstLesionSegMeta *) meta;
  g_clear_pointer (&m->mask_bytes, g_bytes_unref);
  m->mask = NULL;
}

static void
scale_measurements (GstLesionSegMeta *m, double sx, double sy)
{
  GstLesionSegMeasurements *s = &m->measurements;
  const int x0 = (int) floor (s->bbox_x * sx), y0 = (int) floor (s->bbox_y * sy);
  const int x1 = (int) ceil ((s->bbox_x + s->bbox_width) * sx);
  const int y1 = (int) ceil ((s->bbox_y + s->bbox_height) * sy);
  if (s->bbox_width > 0 && s->bbox_height > 0) {
    s->bbox_x = x0;
    s->bbox_y = y0;
    s->bbox_width = MAX (1, x1 - x0);
    s->bbox_height = MAX (1, y1 - y0);
  }
  /* Pixel centres: x maps to (x + 0.5) * sx - 0.5. */
  if (s->area_px > 0) {
    s->centroid_x = (s->centroid_x + 0.5) * sx - 0.5;
    s->centroid_y = (s->centroid_y + 0.5) * sy - 0.5;
  }
  s->area_px = (gint64) llround (s->area_px * sx * sy);
  /* Exact for uniform scaling; the geometric mean for anisotropic. */
  s->max_diameter *= sqrt (sx * sy);

  const int rx0 = (int) floor (m->roi.x * sx + 0.5), ry0 = (int) floor (m->roi.y * sy + 0.5);
  const int rx1 = (int) floor ((m->roi.x + m->roi.w) * sx + 0.5);
  const int ry1 = (int) floor ((m->roi.y + m->roi.h) * sy + 0.5);
  m->roi.x = rx0;
  m->roi.y = ry0;
  m->roi.w = MAX (1, rx1 - rx0);
  m->roi.h = MAX (1, ry1 - ry0);
}

static gboolean
lesion_seg_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
                           gpointer data)
{
  GstLesionSegMeta *src = (GstLesionSegMeta *) meta;

  if (GST_META_TRANSFORM_IS_COPY (type)) {
    GstMetaTransformCopy *copy = data;
    if (copy->region)
      return FALSE;   /* a byte range of a frame has no lesion */
  } else if (!GST_VIDEO_META_TRANSFORM_IS_SCALE (type)) {
    return FALSE;
  }

  GstLesionSegMeta *dst = gst_buffer_add_lesion_seg_meta (dest, src->mask_bytes,
                                                          src->mask_width, src->mask_height,
                                                          src->mask_stride);
  if (dst == NULL)
    return FALSE;
  dst->roi = src->roi;
  dst->threshold = src->threshold;
  dst->measurements = src->measurements;
  dst->source_pts = src->source_pts;
  dst->age = src->age;
  dst->backend = src->backend;

  if (GST_VIDEO_META_TRANSFORM_IS_SCALE (type)) {
    GstVideoMetaTransform *t = data;
    const int iw = GST_VIDEO_INFO_WIDTH (t->in_info), ih = GST_VIDEO_INFO_HEIGHT (t->in_info);
    const int ow = GST_VIDEO_INFO_WIDTH (t->out_info), oh = GST_VIDEO_INFO_HEIGHT (t->out_info);
    if (iw > 0 && ih > 0)
      scale_measurements (dst, (double) ow / iw, (double) oh / ih);
  }
  return TRUE;
}

const GstMetaInfo *
gst_lesion_seg_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;
  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_LESION_SEG_META_API_TYPE, "GstLesionSegMeta",
                                               sizeof (GstLesionSegMeta),
                                               lesion_seg_meta_init, lesion_seg_meta_free,
                                               lesion_seg_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) mi);
  }
  return info;
}

GstLesionSegMeta *
gst_buffer_add_lesion_seg_meta (GstBuffer *buffer, GBytes *mask, gint mask_width,
                                gint mask_height, gint mask_stride)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (mask != NULL, NULL);
  g_return_val_if_fail (mask_width > 0 && mask_height > 0 && mask_stride >= mask_width, NULL);
  g_return_val_if_fail (g_bytes_get_size (mask) >= (gsize) mask_stride * mask_height, NULL);

  GstLesionSegMeta *m = (GstLesionSegMeta *) gst_buffer_add_meta (buffer,
                                                                  GST_LESION_SEG_META_INFO, NULL);
  if (m == NULL)
    return NULL;
  m->mask_bytes = g_bytes_ref (mask);
  m->mask = g_bytes_get_data (mask, NULL);
  m->mask_width = mask_width;
  m->mask_height = mask_height;
  m->mask_stride = mask_stride;
  return m;
}
