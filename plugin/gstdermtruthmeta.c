/* GstDermTruthMeta: registration, copy and scale.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <gst/video/video.h>

#include "gstdermtruthmeta.h"

GType
gst_derm_truth_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { GST_META_TAG_VIDEO_STR, GST_META_TAG_VIDEO_SIZE_STR, NULL };

  if (g_once_init_enter (&type)) {
    GType t = gst_meta_api_type_register (GST_DERM_TRUTH_META_API_NAME, tags);
    g_once_init_leave (&type, t);
  }
  return type;
}

static gboolean
derm_truth_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstDermTruthMeta *m = (GstDermTruthMeta *) meta;
  m->mask = NULL;
  m->width = m->height = m->stride = 0;
  m->lesion_id = 0;
  m->bytes = NULL;
  return TRUE;
}

static void
derm_truth_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  GstDermTruthMeta *m = (GstDermTruthMeta *) meta;
  m->mask = NULL;
  g_clear_pointer (&m->bytes, g_bytes_unref);
}

/* Copies @src's mask, resampled to @width x @height by nearest neighbour
 * (pixel centres aligned); a plain copy when the size is the same. */
static GstDermTruthMeta *
add_resampled (GstBuffer *dest, const GstDermTruthMeta *src, gint width, gint height)
{
  if (width == src->width && height == src->height) {
    GstDermTruthMeta *m = src->bytes
        ? gst_buffer_add_derm_truth_meta_bytes (dest, src->bytes, src->width, src->height,
                                                src->stride)
        : gst_buffer_add_derm_truth_meta (dest, src->mask, src->width, src->height,
                                          src->stride);
    if (m)
      m->lesion_id = src->lesion_id;
    return m;
  }

  if (width <= 0 || height <= 0 || !src->mask)
    return NULL;
  GstDermTruthMeta *m = (GstDermTruthMeta *) gst_buffer_add_meta (dest, GST_DERM_TRUTH_META_INFO,
                                                                  NULL);
  if (!m)
    return NULL;
  m->width = width;
  m->height = height;
  m->stride = width;
  m->lesion_id = src->lesion_id;
  guint8 *mask = g_malloc ((gsize) width * height);
  m->bytes = g_bytes_new_take (mask, (gsize) width * height);
  m->mask = mask;

  g_autofree gint *col = g_new (gint, width);
  for (gint x = 0; x < width; x++)
    col[x] = MIN ((gint) (((gint64) 2 * x + 1) * src->width / (2 * (gint64) width)), src->width - 1);
  for (gint y = 0; y < height; y++) {
    gint sy = MIN ((gint) (((gint64) 2 * y + 1) * src->height / (2 * (gint64) height)),
                   src->height - 1);
    const guint8 *s = src->mask + (gsize) sy * src->stride;
    guint8 *d = mask + (gsize) y * width;
    for (gint x = 0; x < width; x++)
      d[x] = s[col[x]];
  }
  return m;
}

static gboolean
derm_truth_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type,
                           gpointer data)
{
  GstDermTruthMeta *src = (GstDermTruthMeta *) meta;

  if (GST_META_TRANSFORM_IS_COPY (type)) {
    return add_resampled (dest, src, src->width, src->height) != NULL;
  } else if (GST_VIDEO_META_TRANSFORM_IS_SCALE (type)) {
    GstVideoMetaTransform *trans = data;
    /* the mask is at the frame's size; keep it there */
    return add_resampled (dest, src, GST_VIDEO_INFO_WIDTH (trans->out_info),
                          GST_VIDEO_INFO_HEIGHT (trans->out_info)) != NULL;
  }
  /* anything else (cropping, flipping) would move the lesion: drop the meta */
  return FALSE;
}

const GstMetaInfo *
gst_derm_truth_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter (&info)) {
    const GstMetaInfo *mi = gst_meta_register (GST_DERM_TRUTH_META_API_TYPE, "GstDermTruthMeta",
                                               sizeof (GstDermTruthMeta), derm_truth_meta_init,
                                               derm_truth_meta_free, derm_truth_meta_transform);
    g_once_init_leave (&info, mi);
  }
  return info;
}

GstDermTruthMeta *
gst_buffer_add_derm_truth_meta_bytes (GstBuffer *buffer, GBytes *bytes, gint width, gint height,
                                      gint stride)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0 && stride >= width, NULL);
  g_return_val_if_fail (g_bytes_get_size (bytes) >= (gsize) stride * (height - 1) + width, NULL);

  GstDermTruthMeta *m = (GstDermTruthMeta *) gst_buffer_add_meta (buffer, GST_DERM_TRUTH_META_INFO,
                                                                  NULL);
  if (!m)
    return NULL;
  m->width = width;
  m->height = height;
  m->stride = stride;
  m->bytes = g_bytes_ref (bytes);
  m->mask = g_bytes_get_data (bytes, NULL);
  return m;
}

GstDermTruthMeta *
gst_buffer_add_derm_truth_meta (GstBuffer *buffer, const guint8 *mask, gint width, gint height,
                                gint stride)
{
  g_return_val_if_fail (mask != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0 && stride >= width, NULL);

  guint8 *copy = g_malloc ((gsize) width * height);
  for (gint y = 0; y < height; y++)
    memcpy (copy + (gsize) y * width, mask + (gsize) y * stride, width);
  g_autoptr (GBytes) bytes = g_bytes_new_take (copy, (gsize) width * height);
  return gst_buffer_add_derm_truth_meta_bytes (buffer, bytes, width, height, width);
}
