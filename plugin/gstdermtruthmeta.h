/* GstDermTruthMeta: the ground-truth lesion mask of a synthetic frame.
 *
 * dermsrc attaches one to every buffer it makes: the exact 0/255 mask of the
 * lesion's visible part at the frame's own size, so that an analyser further
 * down (lesionseg) can score its own mask live. The mask lives in a GBytes:
 * a copy of the buffer (and an analyser that keeps the mask for later) takes
 * a reference, never a copy of the bytes. It carries the "video" and "size"
 * tags: videoconvert keeps it as it is and videoscale scales it (nearest
 * neighbour).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _GstDermTruthMeta GstDermTruthMeta;

/**
 * GstDermTruthMeta:
 * @meta: parent #GstMeta
 * @mask: @height rows of @stride bytes, the first @width of each a pixel:
 *   255 inside the lesion, 0 outside; inside @bytes
 * @bytes: owns the mask; take a reference to keep it beyond the buffer
 * @width: mask width, the frame's width
 * @height: mask height, the frame's height
 * @stride: bytes from one mask row to the next
 * @lesion_id: which lesion of the stream (dermsrc: the lesion's index since
 *   the start; a new lesion every lesion-duration seconds)
 */
struct _GstDermTruthMeta {
  GstMeta meta;

  const guint8 *mask;
  gint width, height, stride;
  guint64 lesion_id;
  GBytes *bytes;
};

GType gst_derm_truth_meta_api_get_type (void);
#define GST_DERM_TRUTH_META_API_TYPE (gst_derm_truth_meta_api_get_type ())

const GstMetaInfo *gst_derm_truth_meta_get_info (void);
#define GST_DERM_TRUTH_META_INFO (gst_derm_truth_meta_get_info ())

#define GST_DERM_TRUTH_META_API_NAME "GstDermTruthMetaAPI"

/* For code inside the plugin module (the functions above live there). */
#define gst_buffer_get_derm_truth_meta(b) \
  ((GstDermTruthMeta *) gst_buffer_get_meta ((b), GST_DERM_TRUTH_META_API_TYPE))

/* Applications and tests do not link the plugin: they find the API by name,
 * registered once the plugin is loaded (0 before, when no buffer can carry
 * the meta anyway). */
static inline GstDermTruthMeta *
gst_buffer_find_derm_truth_meta (GstBuffer *buffer)
{
  const GType api = g_type_from_name (GST_DERM_TRUTH_META_API_NAME);
  return api ? (GstDermTruthMeta *) gst_buffer_get_meta (buffer, api) : NULL;
}

/* Adds a copy of @mask (@width x @height, rows @stride bytes apart) to
 * @buffer; lesion_id starts at 0. Returns NULL on an empty or NULL mask. */
/* Copies @mask (compact rows) into a new meta on @buffer. */
GstDermTruthMeta *gst_buffer_add_derm_truth_meta (GstBuffer *buffer, const guint8 *mask,
                                                  gint width, gint height, gint stride);
/* Shares @bytes (@height rows of @stride bytes, a reference is taken). */
GstDermTruthMeta *gst_buffer_add_derm_truth_meta_bytes (GstBuffer *buffer, GBytes *bytes,
                                                        gint width, gint height, gint stride);

G_END_DECLS
