/* Image files for the CLI: anything GdkPixbuf reads in, PNG out.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gdk-pixbuf/gdk-pixbuf.h>
#include "lesionseg.h"

/* Loads PNG, JPEG, BMP, ... The LsImage points into the returned pixbuf. */
GdkPixbuf *ls_cli_load_image (const char *path, LsImage *image, GError **error);

/* Writes an 8-bit grey PNG. */
gboolean ls_cli_save_gray_png (const char *path, const guint8 *data, int width, int height,
                               int stride, GError **error);

/* Writes an 8-bit RGB PNG. */
gboolean ls_cli_save_rgb_png (const char *path, const guint8 *data, int width, int height,
                              int stride, GError **error);

/* Reads a ground-truth mask (any format GdkPixbuf reads): 255 where the
 * first channel is above 127, else 0; width * height bytes, no padding. */
guint8 *ls_cli_load_mask (const char *path, int *width, int *height, GError **error);

/* The image as packed RGB with the mask drawn over it: lesion pixels tinted,
 * its border in a solid colour. @mask is width bytes a row. */
guint8 *ls_cli_draw_overlay (const LsImage *image, const guint8 *mask);
