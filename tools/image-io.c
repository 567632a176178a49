/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "image-io.h"

#include <png.h>

GdkPixbuf *
ls_cli_load_image (const char *path, LsImage *image, GError **error)
{
  GdkPixbuf *pixbuf = gdk_pixbuf_new_from_file (path, error);
  if (!pixbuf)
    return NULL;
  if (gdk_pixbuf_get_bits_per_sample (pixbuf) != 8 ||
      gdk_pixbuf_get_colorspace (pixbuf) != GDK_COLORSPACE_RGB) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                 "%s: only 8-bit RGB images are supported", path);
    g_object_unref (pixbuf);
    return NULL;
  }
  image->data = gdk_pixbuf_read_pixels (pixbuf);
  image->width = gdk_pixbuf_get_width (pixbuf);
  image->height = gdk_pixbuf_get_height (pixbuf);
  image->stride = gdk_pixbuf_get_rowstride (pixbuf);
  image->format = gdk_pixbuf_get_has_alpha (pixbuf) ? LS_PIXEL_RGBA : LS_PIXEL_RGB;
  return pixbuf;
}

static gboolean
save_png (const char *path, const guint8 *data, int width, int height, int stride,
          png_uint_32 format, GError **error)
{
  png_image png = { .version = PNG_IMAGE_VERSION, .width = (png_uint_32) width,
                    .height = (png_uint_32) height, .format = format };
  if (!png_image_write_to_file (&png, path, 0, data, stride, NULL)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s: cannot write PNG: %s",
                 path, png.message);
    png_image_free (&png);
    return FALSE;
  }
  return TRUE;
}

gboolean
ls_cli_save_gray_png (const char *path, const guint8 *data, int width, int height,
                      int stride, GError **error)
{
  return save_png (path, data, width, height, stride, PNG_FORMAT_GRAY, error);
}

gboolean
ls_cli_save_rgb_png (const char *path, const guint8 *data, int width, int height,
                     int stride, GError **error)
{
  return save_png (path, data, width, height, stride, PNG_FORMAT_RGB, error);
}

guint8 *
ls_cli_load_mask (const char *path, int *width, int *height, GError **error)
{
  LsImage img;
  g_autoptr (GdkPixbuf) pixbuf = ls_cli_load_image (path, &img, error);
  if (!pixbuf)
    return NULL;
  const int bpp = ls_pixel_format_bpp (img.format);
  guint8 *mask = g_malloc ((gsize) img.width * img.height);
  for (int y = 0; y < img.height; y++)
    for (int x = 0; x < img.width; x++)
      mask[(gsize) y * img.width + x] = img.data[(gsize) y * img.stride + (gsize) x * bpp] > 127 ? 255 : 0;
  *width = img.width;
  *height = img.height;
  return mask;
}

guint8 *
ls_cli_draw_overlay (const LsImage *img, const guint8 *mask)
{
  static const guint8 fill[3] = { 0, 255, 120 }, line[3] = { 255, 255, 0 };
  const int w = img->width, h = img->height, bpp = ls_pixel_format_bpp (img->format);
  guint8 *out = g_malloc ((gsize) w * h * 3);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      const guint8 *src = img->data + (gsize) y * img->stride + (gsize) x * bpp;
      guint8 *dst = out + ((gsize) y * w + x) * 3;
      const guint8 *m = mask + (gsize) y * w + x;
      gboolean in = *m != 0;
      gboolean edge = in && (x == 0 || y == 0 || x == w - 1 || y == h - 1 ||
                             !m[-1] || !m[1] || !m[-w] || !m[w]);
      for (int c = 0; c < 3; c++)
        dst[c] = edge ? line[c] : in ? (guint8) ((src[c] * 3 + fill[c] * 2) / 5) : src[c];
    }
  return out;
}
