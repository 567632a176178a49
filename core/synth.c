/* lesionseg: one-shot synthetic dermoscopy images.
 *
 * A still image is a scene seen through the identity camera. The lesion is
 * star-shaped about a centre inside the frame, so its visible part is one
 * region without holes; the clean-up below only guards against pixel-level
 * corner cases of sampling a thin protrusion at pixel centres.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "synth-private.h"

void
ls_synth_params_init (LsSynthParams *params)
{
  memset (params, 0, sizeof *params);
  params->width = 512;
  params->height = 384;
}

/* Flood fill from @seed over pixels whose mask value is @value and whose
 * label is 0, writing @id; returns the count. 4-connected. */
static gint64
flood (const guint8 *mask, int W, int H, int stride, gint32 *label, gint32 *stack,
       int seed, guint8 value, gint32 id)
{
  gint64 count = 0;
  int top = 0;
  stack[top++] = seed;
  label[seed] = id;
  while (top > 0) {
    int p = stack[--top], x = p % W, y = p / W;
    count++;
    int nb[4] = { x > 0 ? p - 1 : -1, x < W - 1 ? p + 1 : -1,
                  y > 0 ? p - W : -1, y < H - 1 ? p + W : -1 };
    for (int i = 0; i < 4; i++) {
      int q = nb[i];
      if (q >= 0 && label[q] == 0 && mask[(q / W) * (gsize) stride + q % W] == value) {
        label[q] = id;
        stack[top++] = q;
      }
    }
  }
  return count;
}

/* Keeps the largest 4-connected region and fills every background pixel
 * that no 4-connected background path joins to the frame's edge. */
static void
mask_make_simple (guint8 *mask, int W, int H, int stride)
{
  gsize n = (gsize) W * H;
  gint32 *label = g_new0 (gint32, n);
  gint32 *stack = g_new (gint32, n);
  gint32 id = 0, best = 0;
  gint64 best_count = 0;
  for (gsize p = 0; p < n; p++)
    if (label[p] == 0 && mask[(p / W) * stride + p % W] == 255) {
      gint64 c = flood (mask, W, H, stride, label, stack, (int) p, 255, ++id);
      if (c > best_count) {
        best_count = c;
        best = id;
      }
    }
  if (id > 1)
    for (gsize p = 0; p < n; p++)
      if (label[p] > 0 && label[p] != best) {
        mask[(p / W) * stride + p % W] = 0;
        label[p] = 0;
      }
  /* background reachable from the edge gets -1; what stays 0 is a hole */
  for (gsize p = 0; p < n; p++) {
    int x = p % W, y = p / W;
    gboolean edge = x == 0 || y == 0 || x == W - 1 || y == H - 1;
    if (edge && label[p] == 0 && mask[(gsize) y * stride + x] == 0)
      flood (mask, W, H, stride, label, stack, (int) p, 0, -1);
  }
  for (gsize p = 0; p < n; p++)
    if (label[p] == 0)
      mask[(p / W) * stride + p % W] = 255;
  g_free (stack);
  g_free (label);
}

gboolean
ls_synth_generate (const LsSynthParams *params, guint8 *rgb, int rgb_stride,
                   guint8 *mask, int mask_stride, LsSynthInfo *info, GError **error)
{
  g_autoptr (LsSynthScene) scene = ls_synth_scene_new (params, error);
  if (!scene)
    return FALSE;
  const int W = params->width, H = params->height;
  guint8 *m = mask;
  int ms = mask_stride;
  g_autofree guint8 *own = NULL;
  if (!m) {
    m = own = g_new (guint8, (gsize) W * H);
    ms = W;
  }
  if (!ls_synth_scene_render (scene, NULL, W, H, rgb, rgb_stride, m, ms, error))
    return FALSE;
  mask_make_simple (m, W, H, ms);
  if (info) {
    gint64 count = 0;
    gboolean border = FALSE;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        if (m[(gsize) y * ms + x]) {
          count++;
          border |= x == 0 || y == 0 || x == W - 1 || y == H - 1;
        }
    ls_synth_scene_get_info (scene, info);
    info->area_fraction = (double) count / ((double) W * H);
    info->touches_border = border;
  }
  return TRUE;
}
