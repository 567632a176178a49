/* lesionseg: a video frame into the network's input (pre-processing).
 *
 * Runs on the streaming thread: everything that needs the frame itself
 * happens here, so the worker only ever sees the job.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg-input.h"
#include "lesionseg-overlay.h"
#include "gstdermtruthmeta.h"

#include <string.h>

static LsPixelFormat
packed_format (GstVideoFormat format)
{
  switch (format) {
  case GST_VIDEO_FORMAT_RGBx: return LS_PIXEL_RGBX;
  case GST_VIDEO_FORMAT_BGRx: return LS_PIXEL_BGRX;
  case GST_VIDEO_FORMAT_xRGB: return LS_PIXEL_XRGB;
  case GST_VIDEO_FORMAT_xBGR: return LS_PIXEL_XBGR;
  case GST_VIDEO_FORMAT_RGBA: return LS_PIXEL_RGBA;
  case GST_VIDEO_FORMAT_BGRA: return LS_PIXEL_BGRA;
  case GST_VIDEO_FORMAT_ARGB: return LS_PIXEL_ARGB;
  case GST_VIDEO_FORMAT_ABGR: return LS_PIXEL_ABGR;
  case GST_VIDEO_FORMAT_RGB: return LS_PIXEL_RGB;
  case GST_VIDEO_FORMAT_BGR: return LS_PIXEL_BGR;
  default: return (LsPixelFormat) -1;
  }
}

/* The ROI property on this frame: clipped to it, the whole frame when unset
 * or outside. */
LsRect
lseg_input_frame_roi (const gint roi[4], int width, int height)
{
  LsRect r = { 0, 0, width, height };
  if (roi[2] <= 0 || roi[3] <= 0)
    return r;
  const int x0 = CLAMP (roi[0], 0, width), y0 = CLAMP (roi[1], 0, height);
  const int x1 = CLAMP ((gint64) roi[0] + roi[2], 0, width);
  const int y1 = CLAMP ((gint64) roi[1] + roi[3], 0, height);
  if (x1 - x0 < 1 || y1 - y0 < 1)
    return r;
  return (LsRect) { x0, y0, x1 - x0, y1 - y0 };
}

void
lseg_input_init (LsegInput *input, LsInputNorm norm, int net_width, int net_height)
{
  *input = (LsegInput) { norm, net_width, net_height, NULL, 0 };
}

void
lseg_input_clear (LsegInput *input)
{
  g_clear_pointer (&input->rgb, g_free);
  input->rgb_size = 0;
}

/* The frame's ROI into the network's input. Packed RGB goes straight to
 * ls_image_to_tensor; YUV is sampled into RGB at no more than twice the
 * network's size first (the area average then does the rest), so a 1080p
 * frame costs a few hundred thousand pixel conversions, not two million. */
gboolean
lseg_input_fill_tensor (LsegInput *input, GstVideoFrame *frame, LsegJob *job, GError **error)
{
  const GstVideoFormat format = GST_VIDEO_FRAME_FORMAT (frame);
  if (format != GST_VIDEO_FORMAT_I420 && format != GST_VIDEO_FORMAT_NV12) {
    const LsImage image = {
      GST_VIDEO_FRAME_PLANE_DATA (frame, 0), GST_VIDEO_FRAME_WIDTH (frame),
      GST_VIDEO_FRAME_HEIGHT (frame), GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0),
      packed_format (format),
    };
    return ls_image_to_tensor (&image, &job->roi, input->norm, input->net_width,
                               input->net_height, job->tensor, error);
  }

  const int w = MIN (job->roi.width, 2 * input->net_width);
  const int h = MIN (job->roi.height, 2 * input->net_height);
  const gsize size = (gsize) w * 3 * h;
  if (input->rgb_size < size) {
    g_free (input->rgb);
    input->rgb = g_malloc (size);
    input->rgb_size = size;
  }
  const GstVideoRectangle roi = { job->roi.x, job->roi.y, job->roi.width, job->roi.height };
  lseg_yuv_roi_to_rgb (frame, &roi, input->rgb, w, h, w * 3);
  const LsImage image = { input->rgb, w, h, w * 3, LS_PIXEL_RGB };
  return ls_image_to_tensor (&image, NULL, input->norm, input->net_width, input->net_height,
                             job->tensor, error);
}

/* dermsrc's ground truth, copied compact into the job so that the worker
 * can score the mask after the buffer is long gone. */
void
lseg_input_copy_truth (GstBuffer *buffer, LsegJob *job)
{
  g_clear_pointer (&job->truth, g_bytes_unref);
  GstDermTruthMeta *t = gst_buffer_get_derm_truth_meta (buffer);
  if (t == NULL || t->mask == NULL || t->width != job->frame_width
      || t->height != job->frame_height)
    return;
  const gsize size = (gsize) t->width * t->height;
  /* compact and at the start of its bytes (dermsrc's): shared, not copied */
  if (t->bytes && t->stride == t->width && t->mask == g_bytes_get_data (t->bytes, NULL)) {
    job->truth = g_bytes_ref (t->bytes);
    return;
  }
  guint8 *copy = g_malloc (size);
  for (int y = 0; y < t->height; y++)
    memcpy (copy + (gsize) y * t->width, t->mask + (gsize) y * t->stride, t->width);
  job->truth = g_bytes_new_take (copy, size);
}
