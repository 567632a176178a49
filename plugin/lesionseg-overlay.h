/* lesionseg element internals: the overlay's class map, drawing in the
 * frame's own format, and the ROI of a YUV frame to packed RGB.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/video/video.h>

G_BEGIN_DECLS

typedef enum {
  LSEG_CLASS_OUTSIDE = 0,
  LSEG_CLASS_INSIDE = 1,
  LSEG_CLASS_CONTOUR = 2,   /* inside, within contour_width of the outside */
} LsegClass;

/* A row segment of one class that is painted (inside or contour), in map
 * coordinates. */
typedef struct {
  int y, x, length;
  LsegClass cls;
} LsegRun;

/* What the overlay paints where, over the mask's bounding box only (in
 * frame pixels; everything outside it is outside). The runs are the same
 * map, found once on the worker so that drawing a frame does not scan the
 * box again. */
typedef struct {
  int x, y, width, height;
  int contour_width;
  guint8 *classes;          /* width x height LsegClass bytes, NULL when empty */
  LsegRun *runs;            /* the painted runs, row by row */
  guint n_runs;
} LsegClassMap;

/* From a 0/255 mask of mw x mh placed at (ox, oy) in the frame, whose
 * nonzero pixels lie in the bounding box bx, by, bw, bh (mask coordinates;
 * bw 0 = empty). */
void lseg_class_map_build (LsegClassMap *map, const guint8 *mask, int mstride,
                           int ox, int oy, int bx, int by, int bw, int bh, int contour_width);
/* The same map with another contour width. */
void lseg_class_map_rebuild (LsegClassMap *dst, const LsegClassMap *src, int contour_width);
void lseg_class_map_clear (LsegClassMap *map);

/* Blends the fill (where inside, alpha of @fill_argb times @opacity) and the
 * contour (alpha of @contour_argb) into the frame in its own format. Per
 * channel: v' = (v * (255 - a) + c * a + 127) / 255, with c the colour in the
 * frame's components (YUV through the frame's matrix and range). Chroma of
 * subsampled formats takes the class of the luma pixel it is sited on
 * (top-left of its block). */
void lseg_overlay_draw (GstVideoFrame *frame, const LsegClassMap *map, gboolean fill,
                        gboolean contour, guint32 fill_argb, guint32 contour_argb,
                        double opacity);

/* The alpha the fill is blended with. */
static inline guint
lseg_fill_alpha (guint32 argb, double opacity)
{
  const guint op = (guint) (CLAMP (opacity, 0.0, 1.0) * 255.0 + 0.5);
  return ((argb >> 24) * op + 127) / 255;
}

/* A colour in the frame's components (3 values), ARGB for RGB formats. */
void lseg_color_to_components (const GstVideoInfo *info, guint32 argb, guint8 out[3]);

/* Samples the rectangle @roi of an I420 or NV12 frame into a packed RGB
 * image of width x height (nearest sample of luma and chroma, converted
 * with the frame's matrix and range). */
void lseg_yuv_roi_to_rgb (const GstVideoFrame *frame, const GstVideoRectangle *roi,
                          guint8 *rgb, int width, int height, int stride);

G_END_DECLS
