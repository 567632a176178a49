/* dermsrc: each lesion's scene, rendered once into a texture on a worker
 * thread while the previous lesion plays.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "gstdermsrc.h"

G_BEGIN_DECLS

/* One lesion's scene, rendered for one output size and pattern. Texels are
 * R | G << 8 | B << 16 | M << 24 with M the mask (0/255). A scene point
 * (x, y) lies at texel coordinate (x * ppu + tw / 2 - 0.5, ...), texel
 * centres at integers. */
struct _DermTexture {
  guint64 seed, lesion;
  gint width, height;
  GstDermSrcPattern pattern;

  gboolean done;          /* rendered (or failed) */
  guint32 *texels;
  gint tw, th;
  gdouble ppu;            /* texels per scene unit */
  gint factor;            /* frames are warped at 1 / factor of their size */
  GError *error;
};

/* Frees @t and its texels; NULL is fine. */
void dermsrc_texture_free (DermTexture *t);
/* The render worker's thread (@data: the GstDermSrc): renders @next until @quit. */
gpointer dermsrc_texture_worker_main (gpointer data);
/* The texture for a frame of @lesion, waiting for the worker if needed;
 * with @prefetch, then asks the worker for the next lesion's. */
GstFlowReturn dermsrc_get_texture (GstDermSrc *src, guint64 seed, guint64 lesion,
                                   GstDermSrcPattern pattern, gboolean prefetch,
                                   DermTexture **out);

G_END_DECLS
