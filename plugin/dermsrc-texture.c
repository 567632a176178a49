/* dermsrc: each lesion's scene, rendered once into a texture on a worker
 * thread while the previous lesion plays, so that a frame only warps it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dermsrc-texture.h"
#include "dermsrc-camera.h"
#include "synth.h"

#include <math.h>

GST_DEBUG_CATEGORY_EXTERN (gst_derm_src_debug);
#define GST_CAT_DEFAULT gst_derm_src_debug

/* Texels of a moving texture at most (the render takes ~0.2 s per million
 * on two cores); beyond it the texture has fewer texels than the frame has
 * pixels and the warp magnifies a little. */
#define MAX_TEXELS (4 * 1024 * 1024)
#define HALF_SIZE_ABOVE (1280 * 720)

void
dermsrc_texture_free (DermTexture *t)
{
  if (!t)
    return;
  g_free (t->texels);
  g_clear_error (&t->error);
  g_free (t);
}

static gboolean
texture_matches (const DermTexture *t, guint64 seed, guint64 lesion, gint width, gint height,
                 gboolean still)
{
  return t && t->seed == seed && t->lesion == lesion && t->width == width && t->height == height
      && t->still == still;
}

/* Renders @t's scene: the frame itself for a still camera, else a wider
 * field that holds every framing camera_at can produce. Runs on the worker. */
static void
texture_render (DermTexture *t)
{
  LsSynthParams params;
  ls_synth_params_init (&params);
  params.seed = t->seed + t->lesion;
  params.width = t->width;
  params.height = t->height;

  g_autoptr (LsSynthScene) scene = ls_synth_scene_new (&params, &t->error);
  if (!scene)
    return;

  LsSynthCamera cam;
  ls_synth_camera_init (&cam);
  t->factor = 1;
  if (t->still) {
    t->tw = t->width;
    t->th = t->height;
    t->ppu = t->height;
  } else {
    /* Warping costs ~10 ns a pixel: frames larger than 720p are warped at
     * half size and enlarged, and their texture has half the density. */
    if ((gint64) t->width * t->height > HALF_SIZE_ABOVE)
      t->factor = 2;
    /* half extents of the frame at zoom 1, rotated by up to ROT_MAX, panned */
    double hx = 0.5 * t->width / t->height, hy = 0.5;
    double ex = hx * cos (ROT_MAX) + hy * sin (ROT_MAX) + PAN_MAX;
    double ey = hx * sin (ROT_MAX) + hy * cos (ROT_MAX) + PAN_MAX;
    double ppu = (double) t->height / t->factor;
    double texels = (2 * ex * ppu) * (2 * ey * ppu);
    if (texels > MAX_TEXELS)
      ppu *= sqrt (MAX_TEXELS / texels);
    t->ppu = ppu;
    t->tw = MAX (16, (gint) ceil (2 * ex * ppu) + 2);
    t->th = MAX (16, (gint) ceil (2 * ey * ppu) + 2);
    cam.zoom = ppu / t->th;  /* the texture's height spans th / ppu scene units */
  }

  gsize n = (gsize) t->tw * t->th;
  g_autofree guint8 *rgb = g_malloc (n * 3);
  g_autofree guint8 *mask = g_malloc (n);
  if (!ls_synth_scene_render (scene, &cam, t->tw, t->th, rgb, t->tw * 3, mask, t->tw, &t->error))
    return;
  t->texels = g_malloc (n * sizeof (guint32));
  for (gsize i = 0; i < n; i++)
    t->texels[i] = rgb[3 * i] | (guint32) rgb[3 * i + 1] << 8 | (guint32) rgb[3 * i + 2] << 16
        | (guint32) (mask[i] ? 255u : 0u) << 24;
}

/* The render worker's thread (@data: the cache): renders @next until @quit. */
static gpointer
worker_main (gpointer data)
{
  DermTextureCache *cache = data;

  g_mutex_lock (&cache->lock);
  while (TRUE) {
    while (!cache->quit && !(cache->next && !cache->next->done))
      g_cond_wait (&cache->cond, &cache->lock);
    if (cache->quit)
      break;
    DermTexture *t = cache->next;
    g_mutex_unlock (&cache->lock);

    gint64 t0 = g_get_monotonic_time ();
    texture_render (t);
    GST_DEBUG_OBJECT (cache->log_object, "lesion %" G_GUINT64_FORMAT ": %dx%d texture in %.0f ms",
                      t->lesion, t->tw, t->th, (g_get_monotonic_time () - t0) / 1000.0);

    g_mutex_lock (&cache->lock);
    t->done = TRUE;
    g_cond_broadcast (&cache->cond);
  }
  g_mutex_unlock (&cache->lock);
  return NULL;
}

void
dermsrc_texture_cache_init (DermTextureCache *cache, GstObject *log_object)
{
  *cache = (DermTextureCache) { 0 };
  g_mutex_init (&cache->lock);
  g_cond_init (&cache->cond);
  cache->log_object = log_object;
}

void
dermsrc_texture_cache_clear (DermTextureCache *cache)
{
  g_mutex_clear (&cache->lock);
  g_cond_clear (&cache->cond);
}

void
dermsrc_texture_cache_start (DermTextureCache *cache)
{
  cache->quit = FALSE;
  cache->flushing = FALSE;
  cache->worker = g_thread_new ("dermsrc-render", worker_main, cache);
}

void
dermsrc_texture_cache_stop (DermTextureCache *cache)
{
  g_mutex_lock (&cache->lock);
  cache->quit = TRUE;
  g_cond_broadcast (&cache->cond);
  g_mutex_unlock (&cache->lock);
  g_clear_pointer (&cache->worker, g_thread_join);

  g_clear_pointer (&cache->current, dermsrc_texture_free);
  g_clear_pointer (&cache->next, dermsrc_texture_free);
}

void
dermsrc_texture_cache_set_flushing (DermTextureCache *cache, gboolean flushing)
{
  g_mutex_lock (&cache->lock);
  cache->flushing = flushing;
  /* wakes a get that waits for the worker, so that it sees the flag */
  g_cond_broadcast (&cache->cond);
  g_mutex_unlock (&cache->lock);
}

/* Makes @next the texture for this key, unless it already is. Never frees a
 * texture the worker is rendering: waits for it, unless a flush starts
 * (then FALSE: a seek must not wait for a render it does not need).
 * Called with the lock held. */
static gboolean
request_texture_locked (DermTextureCache *cache, guint64 seed, guint64 lesion, gint width,
                        gint height, gboolean still)
{
  if (texture_matches (cache->next, seed, lesion, width, height, still))
    return TRUE;
  while (cache->next && !cache->next->done && !cache->flushing)
    g_cond_wait (&cache->cond, &cache->lock);
  if (cache->next && !cache->next->done)
    return FALSE;
  dermsrc_texture_free (cache->next);
  DermTexture *t = g_new0 (DermTexture, 1);
  t->seed = seed;
  t->lesion = lesion;
  t->width = width;
  t->height = height;
  t->still = still;
  cache->next = t;
  g_cond_broadcast (&cache->cond);
  return TRUE;
}

/* The texture for a frame of lesion @lesion: the current one, or the
 * prefetched one (waiting for the worker if it is not done yet). Afterwards
 * the next lesion's texture is requested. */
GstFlowReturn
dermsrc_texture_cache_get (DermTextureCache *cache, guint64 seed, guint64 lesion, gint width,
                           gint height, gboolean still, gboolean prefetch,
                           const DermTexture **out, GError **error)
{
  if (!texture_matches (cache->current, seed, lesion, width, height, still)) {
    g_mutex_lock (&cache->lock);
    if (!request_texture_locked (cache, seed, lesion, width, height, still)) {
      g_mutex_unlock (&cache->lock);
      return GST_FLOW_FLUSHING;
    }
    if (!cache->next->done)
      GST_DEBUG_OBJECT (cache->log_object, "waiting for lesion %" G_GUINT64_FORMAT "'s texture",
                        lesion);
    while (!cache->next->done && !cache->flushing)
      g_cond_wait (&cache->cond, &cache->lock);
    if (cache->flushing) {
      g_mutex_unlock (&cache->lock);
      return GST_FLOW_FLUSHING;
    }
    dermsrc_texture_free (cache->current);
    cache->current = cache->next;
    cache->next = NULL;
    if (prefetch)   /* next is free now: this never waits */
      request_texture_locked (cache, seed, lesion + 1, width, height, still);
    g_mutex_unlock (&cache->lock);
  }
  /* Also for a texture that was already current: a failed render stays
   * current, and a restart after a flush would otherwise warp no texels. */
  if (cache->current->error) {
    g_propagate_error (error, g_error_copy (cache->current->error));
    return GST_FLOW_ERROR;
  }
  *out = cache->current;
  return GST_FLOW_OK;
}
