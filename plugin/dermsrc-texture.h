/* dermsrc: each lesion's scene, rendered once into a texture on a worker
 * thread while the previous lesion plays; the cache that owns the textures
 * and that thread, independent of the element.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* One lesion's scene, rendered for one output size, still or moving. Texels
 * are R | G << 8 | B << 16 | M << 24 with M the mask (0/255). A scene point
 * (x, y) lies at texel coordinate (x * ppu + tw / 2 - 0.5, ...), texel
 * centres at integers. */
typedef struct _DermTexture {
  guint64 seed, lesion;
  gint width, height;
  gboolean still;         /* the frame itself, else the moving camera's field */

  gboolean done;          /* rendered (or failed) */
  guint32 *texels;
  gint tw, th;
  gdouble ppu;            /* texels per scene unit */
  gint factor;            /* frames are warped at 1 / factor of their size */
  GError *error;
} DermTexture;

/* The textures and their render worker. The element embeds one: @current
 * belongs to the streaming thread; @next is what the worker renders or has
 * rendered (under @lock). */
typedef struct _DermTextureCache {
  DermTexture *current;
  DermTexture *next;
  GThread *worker;
  GMutex lock;
  GCond cond;
  gboolean quit, flushing;
  GstObject *log_object;  /* the owner, only to name it in the log: no reference */
} DermTextureCache;

/* Frees @t and its texels; NULL is fine. */
void dermsrc_texture_free (DermTexture *t);

/* Prepares @cache's lock and condition; @log_object names it in the log. */
void dermsrc_texture_cache_init (DermTextureCache *cache, GstObject *log_object);
/* Releases what init prepared; the worker must be stopped. */
void dermsrc_texture_cache_clear (DermTextureCache *cache);
/* Starts the render worker, not flushing (the element's start). */
void dermsrc_texture_cache_start (DermTextureCache *cache);
/* Ends and joins the worker and frees the textures (the element's stop). */
void dermsrc_texture_cache_stop (DermTextureCache *cache);
/* While @flushing, a get that waits for the worker returns at once with
 * GST_FLOW_FLUSHING (the element's unlock and unlock_stop). */
void dermsrc_texture_cache_set_flushing (DermTextureCache *cache, gboolean flushing);
/* The texture for a @width x @height frame of @lesion, waiting for the worker
 * if needed; with @prefetch, then asks the worker for the next lesion's.
 * GST_FLOW_OK with *@out (owned by @cache until the next get or stop),
 * GST_FLOW_FLUSHING, or GST_FLOW_ERROR with @error when the scene could not
 * be rendered. */
GstFlowReturn dermsrc_texture_cache_get (DermTextureCache *cache, guint64 seed, guint64 lesion,
                                         gint width, gint height, gboolean still,
                                         gboolean prefetch, const DermTexture **out,
                                         GError **error);

G_END_DECLS
