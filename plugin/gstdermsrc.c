/* dermsrc: a synthetic dermatoscope camera with ground truth.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-dermsrc
 * @title: dermsrc
 *
 * Frames of a synthetic dermoscopy scene (liblesionseg's generator: skin,
 * pigment network, hair, bubbles, rulers, dermatoscope corners, camera
 * effects) seen through a slowly moving camera, with a #GstDermTruthMeta on
 * every buffer: the exact mask of the lesion's visible part at the frame's
 * size. A new lesion (a new scene from seed + lesion index) comes every
 * #GstDermSrc:lesion-duration seconds of stream time.
 *
 * Rendering a scene costs about 0.4 s per 1080p frame on two cores, far too
 * much for every frame. So dermsrc renders each lesion's scene once, on a
 * worker thread while the previous lesion plays, into a texture that covers
 * everything the camera can see, and makes each frame from it by an affine
 * warp (bilinear, fixed point) with the frame's gain and sensor noise, in
 * one pass that writes the output format and the mask. With pattern=still the
 * texture is the generator's image at the frame's size and the warp is the
 * identity, so frames are exactly ls_synth_generate's image.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 dermsrc ! video/x-raw,width=1280,height=720 ! videoconvert ! autovideosink
 * ]| A moving camera over a new lesion every 5 seconds.
 * |[
 * gst-launch-1.0 dermsrc is-live=true seed=7 lesion-duration=2 ! lesionseg message=true ! videoconvert ! autovideosink
 * ]| A live 30 fps camera that lesionseg segments and scores against the ground truth.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <math.h>
#include <string.h>
#include <time.h>
#include <gst/video/video.h>

#include "gstdermsrc.h"
#include "gstdermtruthmeta.h"
#include "synth.h"

GST_DEBUG_CATEGORY_STATIC (gst_derm_src_debug);
#define GST_CAT_DEFAULT gst_derm_src_debug

#define DEFAULT_SEED 0
#define DEFAULT_IS_LIVE FALSE
#define DEFAULT_PATTERN GST_DERM_SRC_PATTERN_MOVING
#define DEFAULT_LESION_DURATION 5.0

/* Camera motion limits, in the generator's scene units (the reference
 * frame's height). The moving texture covers all of it. */
#define PAN_MAX 0.06
#define ZOOM_RANGE 0.25       /* zoom in 1 .. 1 + ZOOM_RANGE */
#define ROT_MAX 0.12          /* radians */
#define GAIN_DRIFT 0.08       /* illumination gain in 1 +- GAIN_DRIFT */
/* Texels of a moving texture at most (the render takes ~0.2 s per million
 * on two cores); beyond it the texture has fewer texels than the frame has
 * pixels and the warp magnifies a little. */
#define MAX_TEXELS (4 * 1024 * 1024)
#define NOISE_SIZE 65536
#define HALF_SIZE_ABOVE (1280 * 720)      /* sensor-noise table, a power of two */

enum {
  PROP_0,
  PROP_SEED,
  PROP_IS_LIVE,
  PROP_PATTERN,
  PROP_LESION_DURATION,
};

#define VIDEO_CAPS \
  "video/x-raw, format = (string) { RGBx, RGBA, I420, NV12 }, " \
  "width = (int) [ 16, 16384 ], height = (int) [ 16, 16384 ], " \
  "framerate = (fraction) [ 0/1, 2147483647/1 ], pixel-aspect-ratio = (fraction) 1/1"

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (VIDEO_CAPS));

/* One lesion's scene, rendered for one output size and pattern. Texels are
 * R | G << 8 | B << 16 | M << 24 with M the mask (0/255). A scene point
 * (x, y) lies at texel coordinate (x * ppu + tw / 2 - 0.5, ...), texel
 * centres at integers. */
typedef struct {
  guint64 seed, lesion;
  gint width, height;
  GstDermSrcPattern pattern;

  gboolean done;          /* rendered (or failed) */
  guint32 *texels;
  gint tw, th;
  gdouble ppu;            /* texels per scene unit */
  gint factor;            /* frames are warped at 1 / factor of their size */
  GError *error;
} DermTexture;

struct _GstDermSrc {
  GstPushSrc parent;

  /* properties, under the object lock */
  guint64 seed;
  GstDermSrcPattern pattern;
  gdouble lesion_duration;

  /* negotiated format */
  GstVideoInfo info;
  gint yc[3], uc[3], vc[3];   /* RGB -> Y'CbCr, Q14 */
  gint yoff, coff;            /* offsets, Q14, with rounding */

  /* stream position, as videotestsrc keeps it */
  guint64 n_frames, accum_frames;
  GstClockTime running_time, accum_rtime;
  GstClockTime live_offset;   /* live: PTS minus stream time, set at the first frame */
  gboolean have_live_offset;

  /* scratch */
  guint32 *rows;              /* rows of warped RGBM */
  guint8 *planes;             /* half-size luma, mask and a row of sums */
  gsize planes_size;
  gint8 *noise;

  /* textures: @current belongs to the streaming thread; @next is what the
   * worker renders or has rendered (under @lock) */
  DermTexture *current;
  DermTexture *next;
  GThread *worker;
  GMutex lock;
  GCond cond;
  gboolean quit, flushing;
};

#define gst_derm_src_parent_class parent_class
G_DEFINE_TYPE (GstDermSrc, gst_derm_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (dermsrc, "dermsrc", GST_RANK_NONE, GST_TYPE_DERM_SRC);

GType
gst_derm_src_pattern_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_DERM_SRC_PATTERN_STILL, "The generator's still image at the reference framing", "still" },
    { GST_DERM_SRC_PATTERN_MOVING, "Slow pan, zoom and rotation, illumination drift, sensor noise",
      "moving" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstDermSrcPattern", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

/* ---- small deterministic helpers ------------------------------------------ */

static inline guint64
splitmix64 (guint64 x)
{
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* The camera @t seconds into a lesion: sums of slow sines, phases drawn
 * from the lesion's seed. */
static void
camera_at (guint64 scene_seed, gdouble t, guint64 frame, LsSynthCamera *cam)
{
  double ph[8];
  guint64 h = splitmix64 (scene_seed ^ 0xC0FFEEull);
  for (int i = 0; i < 8; i++)
    ph[i] = (double) ((h >> (8 * i)) & 0xff) / 256.0 * 2 * G_PI;
  const double w = 2 * G_PI;

  ls_synth_camera_init (cam);
  cam->pan_x = PAN_MAX * (0.7 * sin (w * t / 11.0 + ph[0]) + 0.3 * sin (w * t / 4.3 + ph[1]));
  cam->pan_y = PAN_MAX * (0.7 * sin (w * t / 13.0 + ph[2]) + 0.3 * sin (w * t / 5.1 + ph[3]));
  cam->zoom = 1.0 + ZOOM_RANGE * (0.5 + 0.5 * sin (w * t / 17.0 + ph[4]));
  cam->rotation = ROT_MAX * sin (w * t / 19.0 + ph[5]);
  cam->gain = 1.0 + GAIN_DRIFT * (0.6 * sin (w * t / 7.0 + ph[6]) + 0.4 * sin (w * t / 2.9 + ph[7]));
  cam->frame = frame;
}

/* ---- textures --------------------------------------------------------------- */

static void
texture_free (DermTexture *t)
{
  if (!t)
    return;
  g_free (t->texels);
  g_clear_error (&t->error);
  g_free (t);
}

static gboolean
texture_matches (const DermTexture *t, guint64 seed, guint64 lesion, gint width, gint height,
                 GstDermSrcPattern pattern)
{
  return t && t->seed == seed && t->lesion == lesion && t->width == width && t->height == height
      && t->pattern == pattern;
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
  if (t->pattern == GST_DERM_SRC_PATTERN_STILL) {
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

static gpointer
worker_main (gpointer data)
{
  GstDermSrc *src = data;

  g_mutex_lock (&src->lock);
  while (TRUE) {
    while (!src->quit && !(src->next && !src->next->done))
      g_cond_wait (&src->cond, &src->lock);
    if (src->quit)
      break;
    DermTexture *t = src->next;
    g_mutex_unlock (&src->lock);

    gint64 t0 = g_get_monotonic_time ();
    texture_render (t);
    GST_DEBUG_OBJECT (src, "lesion %" G_GUINT64_FORMAT ": %dx%d texture in %.0f ms", t->lesion,
                      t->tw, t->th, (g_get_monotonic_time () - t0) / 1000.0);

    g_mutex_lock (&src->lock);
    t->done = TRUE;
    g_cond_broadcast (&src->cond);
  }
  g_mutex_unlock (&src->lock);
  return NULL;
}

/* Makes @next the texture for this key, unless it already is. Never frees a
 * texture the worker is rendering. Called with the lock held. */
static void
request_texture_locked (GstDermSrc *src, guint64 seed, guint64 lesion, GstDermSrcPattern pattern)
{
  gint w = GST_VIDEO_INFO_WIDTH (&src->info), h = GST_VIDEO_INFO_HEIGHT (&src->info);
  if (texture_matches (src->next, seed, lesion, w, h, pattern))
    return;
  while (src->next && !src->next->done)
    g_cond_wait (&src->cond, &src->lock);
  texture_free (src->next);
  DermTexture *t = g_new0 (DermTexture, 1);
  t->seed = seed;
  t->lesion = lesion;
  t->width = w;
  t->height = h;
  t->pattern = pattern;
  src->next = t;
  g_cond_broadcast (&src->cond);
}

/* The texture for a frame of lesion @lesion: the current one, or the
 * prefetched one (waiting for the worker if it is not done yet). Afterwards
 * the next lesion's texture is requested. */
static GstFlowReturn
get_texture (GstDermSrc *src, guint64 seed, guint64 lesion, GstDermSrcPattern pattern,
             gboolean prefetch, DermTexture **out)
{
  gint w = GST_VIDEO_INFO_WIDTH (&src->info), h = GST_VIDEO_INFO_HEIGHT (&src->info);
  if (!texture_matches (src->current, seed, lesion, w, h, pattern)) {
    g_mutex_lock (&src->lock);
    request_texture_locked (src, seed, lesion, pattern);
    if (!src->next->done)
      GST_DEBUG_OBJECT (src, "waiting for lesion %" G_GUINT64_FORMAT "'s texture", lesion);
    while (!src->next->done && !src->flushing)
      g_cond_wait (&src->cond, &src->lock);
    if (src->flushing) {
      g_mutex_unlock (&src->lock);
      return GST_FLOW_FLUSHING;
    }
    texture_free (src->current);
    src->current = src->next;
    src->next = NULL;
    if (prefetch)
      request_texture_locked (src, seed, lesion + 1, pattern);
    g_mutex_unlock (&src->lock);

    if (src->current->error) {
      GST_ELEMENT_ERROR (src, RESOURCE, FAILED, ("Could not render the synthetic scene."),
                         ("%s", src->current->error->message));
      return GST_FLOW_ERROR;
    }
  }
  *out = src->current;
  return GST_FLOW_OK;
}

/* ---- one frame -------------------------------------------------------------- */

/* a + (b - a) * f / 256 on each byte of two packed pixels, f in 0..255 */
static inline guint32
lerp4 (guint32 a, guint32 b, guint32 f)
{
  guint32 g = 256 - f;
  guint32 rb = ((a & 0x00ff00ffu) * g + (b & 0x00ff00ffu) * f) >> 8;
  guint32 ga = ((a >> 8) & 0x00ff00ffu) * g + ((b >> 8) & 0x00ff00ffu) * f;
  return (rb & 0x00ff00ffu) | (ga & 0xff00ff00u);
}

static inline guint32
clamp255 (gint v)
{
  return (guint32) (v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Warps one row: texel coordinate (u, v) in 16.16 fixed point at the row's
 * first pixel, (du, dv) per pixel, packed RGBM out (M interpolated like the
 * colours: >= 128 inside the lesion). */
static void
warp_row (const DermTexture *t, gint32 u, gint32 v, gint32 du, gint32 dv, gint width,
          guint32 *out)
{
  const gint tw = t->tw, th = t->th;
  const guint32 *tex = t->texels;
  const gint64 ue = u + (gint64) du * (width - 1), ve = v + (gint64) dv * (width - 1);
  const gint64 ulim = (gint64) (tw - 2) << 16, vlim = (gint64) (th - 2) << 16;

  if (MIN (u, ue) >= 0 && MAX (u, ue) <= ulim && MIN (v, ve) >= 0 && MAX (v, ve) <= vlim) {
    /* the whole row reads inside the texture: no clamping (the usual case) */
    for (gint x = 0; x < width; x++, u += du, v += dv) {
      const guint32 *p0 = tex + (gsize) (v >> 16) * tw + (u >> 16);
      guint32 fx = (u >> 8) & 0xff, fy = (v >> 8) & 0xff;
      out[x] = lerp4 (lerp4 (p0[0], p0[1], fx), lerp4 (p0[tw], p0[tw + 1], fx), fy);
    }
    return;
  }

  const gint32 umax = (tw - 1) << 16, vmax = (th - 1) << 16;
  for (gint x = 0; x < width; x++, u += du, v += dv) {
    gint32 cu = CLAMP (u, 0, umax), cv = CLAMP (v, 0, vmax);
    gint ix = cu >> 16, iy = cv >> 16;
    const guint32 *p0 = tex + (gsize) iy * tw + ix;
    const guint32 *p1 = p0 + (iy < th - 1 ? tw : 0);
    gint dx = ix < tw - 1;
    guint32 fx = (cu >> 8) & 0xff, fy = (cv >> 8) & 0xff;
    out[x] = lerp4 (lerp4 (p0[0], p0[dx], fx), lerp4 (p1[0], p1[dx], fx), fy);
  }
}

/* The frame's illumination gain and sensor noise, in the output format's
 * terms: RGB through tables clamp (c * gain + n), Y'CbCr through the
 * conversion's coefficients (gain) and noise on luma only. */
#define NOISE_MAX 6
typedef struct _FrameTone {
  const gint8 *noise;         /* NULL: none (and gain 1) */
  guint8 lut[2 * NOISE_MAX + 1][256];
  gint yc[3], uc[3], vc[3];
} FrameTone;

static void
tone_init (FrameTone *tone, const GstDermSrc *src, gdouble gain, const gint8 *noise,
           gboolean rgb)
{
  tone->noise = noise;
  if (rgb && noise) {
    for (gint n = -NOISE_MAX; n <= NOISE_MAX; n++)
      for (gint c = 0; c < 256; c++)
        tone->lut[n + NOISE_MAX][c] = clamp255 ((gint) lround (c * gain) + n);
  }
  for (gint i = 0; i < 3; i++) {
    tone->yc[i] = (gint) lround (src->yc[i] * gain);
    tone->uc[i] = (gint) lround (src->uc[i] * gain);
    tone->vc[i] = (gint) lround (src->vc[i] * gain);
  }
}

static inline void
store32 (guint8 *out, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (out, &v, 4);
}

/* RGBM row out to RGBx / RGBA through the tone, and its mask */
static void
write_rgbx (const guint32 *in, gint width, const FrameTone *tone, guint noise_off, guint8 *out,
            guint8 *mask)
{
  if (!tone->noise) {
    for (gint x = 0; x < width; x++) {
      store32 (out + 4 * x, in[x] | 0xff000000u);
      mask[x] = (guint8) (0u - (in[x] >> 31));
    }
    return;
  }
  for (gint x = 0; x < width; x++) {
    const gint8 *n = tone->noise + ((noise_off + 3 * (guint) x) & (NOISE_SIZE - 1));
    guint32 p = in[x];
    guint32 r = tone->lut[n[0] + NOISE_MAX][p & 0xff];
    guint32 g = tone->lut[n[1] + NOISE_MAX][(p >> 8) & 0xff];
    guint32 b = tone->lut[n[2] + NOISE_MAX][(p >> 16) & 0xff];
    store32 (out + 4 * x, r | g << 8 | b << 16 | 0xff000000u);
    mask[x] = (guint8) (0u - (p >> 31));
  }
}

static inline guint8
to_y (const FrameTone *tone, gint yoff, guint32 p, gint n)
{
  gint r = p & 0xff, g = (p >> 8) & 0xff, b = (p >> 16) & 0xff;
  return clamp255 (((tone->yc[0] * r + tone->yc[1] * g + tone->yc[2] * b + yoff) >> 14) + n);
}

/* Y of one or two rows and the chroma of their 2x2 blocks (average of the
 * pixels there are), to planes u and v with @cstep bytes between samples. */
static void
write_yuv_rows (const GstDermSrc *src, const FrameTone *tone, const guint32 *r0,
                const guint32 *r1, gint width, guint noise_off, guint8 *y0, guint8 *y1,
                guint8 *u, guint8 *v, gint cstep)
{
  const gint8 *n0 = tone->noise, *zero = (const gint8 *) "\0\0";
  for (gint x = 0; x < width; x++) {
    const gint8 *n = n0 ? n0 + ((noise_off + 2 * (guint) x) & (NOISE_SIZE - 1)) : zero;
    y0[x] = to_y (tone, src->yoff, r0[x], n[0]);
    if (r1)
      y1[x] = to_y (tone, src->yoff, r1[x], n[1]);
  }
  const guint32 *rb = r1 ? r1 : r0;
  for (gint x = 0, c = 0; x < width; x += 2, c += cstep) {
    gint x1 = MIN (x + 1, width - 1);
    guint32 p[4] = { r0[x], r0[x1], rb[x], rb[x1] };
    gint r = 0, g = 0, b = 0;
    for (int i = 0; i < 4; i++) {
      r += p[i] & 0xff;
      g += (p[i] >> 8) & 0xff;
      b += (p[i] >> 16) & 0xff;
    }
    /* sums of four: the shift carries the / 4 */
    u[c] = clamp255 ((tone->uc[0] * r + tone->uc[1] * g + tone->uc[2] * b + 4 * src->coff) >> 16);
    v[c] = clamp255 ((tone->vc[0] * r + tone->vc[1] * g + tone->vc[2] * b + 4 * src->coff) >> 16);
  }
}

/* Where a frame's rows come from. With factor 2 the camera's view is warped
 * at half resolution (rows cached three at a time) and enlarged bilinearly
 * (pixel centres aligned, weights 1/4 and 3/4). */
typedef struct {
  const DermTexture *t;
  gint W, H, factor;
  gint lw, lh;                  /* the warped size */
  double a, b;                  /* frame pixel -> scene units */
  double pan_x, pan_y;
  gint32 du, dv;                /* per warped pixel, 16.16 texels */
  guint32 *low[3];              /* factor 2: warped rows ... */
  gint low_y[3];                /* ... and which they are */
  guint32 *vrow;                /* factor 2: two warped rows blended */
  const struct _FrameTone *tone; /* factor 2, RGB: applied to the warped rows */
  guint64 frame;
} FrameWarp;

/* Warped row @k: its pixel x is centred on frame point
 * (factor * (x + 0.5), factor * (k + 0.5)). */
static void
warp_frame_row (const FrameWarp *w, gint k, guint32 *out)
{
  const DermTexture *t = w->t;
  double pu = 0.5 * w->factor - 0.5 * w->W, pv = w->factor * (k + 0.5) - 0.5 * w->H;
  double sx = w->pan_x + w->a * pu - w->b * pv, sy = w->pan_y + w->b * pu + w->a * pv;
  double tu = sx * t->ppu + 0.5 * t->tw - 0.5, tv = sy * t->ppu + 0.5 * t->th - 0.5;
  warp_row (t, (gint32) lround (tu * 65536.0), (gint32) lround (tv * 65536.0), w->du, w->dv, w->lw,
            out);
}

static const guint32 *
low_row (FrameWarp *w, gint k)
{
  k = CLAMP (k, 0, w->lh - 1);
  gint slot = k % 3;
  if (w->low_y[slot] != k) {
    guint32 *row = w->low[slot];
    warp_frame_row (w, k, row);
    w->low_y[slot] = k;
    if (w->tone && w->tone->noise) {
      /* gain and noise at half size: the enlargement then smooths the
       * noise over 2 x 2 pixels, as demosaicing does in a camera */
      const FrameTone *tone = w->tone;
      guint off = (guint) splitmix64 (w->frame * 0x10000ull + (guint64) k);
      for (gint x = 0; x < w->lw; x++) {
        const gint8 *n = tone->noise + ((off + 3 * (guint) x) & (NOISE_SIZE - 1));
        guint32 p = row[x];
        row[x] = tone->lut[n[0] + NOISE_MAX][p & 0xff]
            | (guint32) tone->lut[n[1] + NOISE_MAX][(p >> 8) & 0xff] << 8
            | (guint32) tone->lut[n[2] + NOISE_MAX][(p >> 16) & 0xff] << 16 | (p & 0xff000000u);
      }
    }
  }
  return w->low[slot];
}

/* Frame row @y into @out (W pixels). */
static void
frame_row (FrameWarp *w, gint y, guint32 *out)
{
  if (w->factor == 1) {
    warp_frame_row (w, y, out);
    return;
  }
  /* rows k - 1, k (weight 3/4) for even y = 2k; k (3/4), k + 1 for odd */
  gint k = y / 2;
  const guint32 *r0, *r1;
  guint32 f;
  if (y % 2 == 0) {
    r0 = low_row (w, k - 1);
    r1 = low_row (w, k);
    f = 192;
  } else {
    r0 = low_row (w, k);
    r1 = low_row (w, k + 1);
    f = 64;
  }
  guint32 *v = w->vrow;
  for (gint j = 0; j < w->lw; j++)
    v[j] = lerp4 (r0[j], r1[j], f);
  const gint last = w->lw - 1;
  for (gint x = 0; x < w->W; x++) {
    gint j = x / 2;
    out[x] = x % 2 == 0 ? lerp4 (v[MAX (j - 1, 0)], v[j], 192)
                        : lerp4 (v[j], v[MIN (j + 1, last)], 64);
  }
}

/* One row of a byte plane enlarged twice (bilinear, weights 1/4 and 3/4):
 * rows @r0 and @r1 of @lw bytes, @r1 weighing @w1 quarters; then either
 * the sensor noise added or thresholded at 128 (a mask). */
static void
upsample2_row (const guint8 *r0, const guint8 *r1, gint w1, gint lw, gint width, guint16 *tmp,
               const gint8 *noise, gboolean threshold, guint8 *out)
{
  const gint w0 = 4 - w1;
  for (gint j = 0; j < lw; j++)
    tmp[j] = (guint16) (r0[j] * w0 + r1[j] * w1);
  for (gint j = 0; j < lw; j++) {
    gint l = tmp[MAX (j - 1, 0)], c = tmp[j], r = tmp[MIN (j + 1, lw - 1)];
    gint e = (l + 3 * c + 8) >> 4, o = (3 * c + r + 8) >> 4;
    gint x = 2 * j;
    if (threshold) {
      out[x] = e >= 128 ? 255 : 0;
      if (x + 1 < width)
        out[x + 1] = o >= 128 ? 255 : 0;
    } else {
      out[x] = clamp255 (e + (noise ? noise[x & (NOISE_SIZE - 1)] : 0));
      if (x + 1 < width)
        out[x + 1] = clamp255 (o + (noise ? noise[(x + 1) & (NOISE_SIZE - 1)] : 0));
    }
  }
}

/* Y'CbCr 4:2:0 from a half-size warp: chroma is the warped pixels'
 * (a chroma sample sits where a warped pixel does), luma and mask are
 * converted at half size and enlarged. */
static void
render_yuv_half (GstDermSrc *src, FrameWarp *w, const FrameTone *tone, guint64 frame_index,
                 GstVideoFrame *frame, guint8 *mask)
{
  const gint W = w->W, H = w->H, lw = w->lw, lh = w->lh;
  const gboolean i420 = GST_VIDEO_FRAME_FORMAT (frame) == GST_VIDEO_FORMAT_I420;
  gsize need = 2 * (gsize) lw * lh + 2 * (gsize) lw;
  if (src->planes_size < need) {
    g_free (src->planes);
    src->planes = g_malloc (need);
    src->planes_size = need;
  }
  guint8 *ylow = src->planes, *mlow = ylow + (gsize) lw * lh;
  guint16 *tmp = (guint16 *) (mlow + (gsize) lw * lh);
  guint32 *row = src->rows;

  for (gint k = 0; k < lh; k++) {
    warp_frame_row (w, k, row);
    guint8 *yl = ylow + (gsize) k * lw, *ml = mlow + (gsize) k * lw;
    guint8 *u = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 1)
        + (gsize) k * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 1);
    guint8 *v = i420 ? (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 2)
        + (gsize) k * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 2) : u + 1;
    const gint cstep = i420 ? 1 : 2;
    for (gint j = 0; j < lw; j++) {
      guint32 p = row[j];
      gint r = p & 0xff, g = (p >> 8) & 0xff, b = (p >> 16) & 0xff;
      yl[j] = to_y (tone, src->yoff, p, 0);
      ml[j] = (guint8) (0u - (p >> 31));
      u[j * cstep] = clamp255 ((tone->uc[0] * r + tone->uc[1] * g + tone->uc[2] * b + src->coff) >> 14);
      v[j * cstep] = clamp255 ((tone->vc[0] * r + tone->vc[1] * g + tone->vc[2] * b + src->coff) >> 14);
    }
  }

  guint8 *yp = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  const gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  for (gint y = 0; y < H; y++) {
    /* rows k - 1, k (3/4) for even y = 2k; k (3/4), k + 1 for odd */
    gint k = y / 2, k0, k1, w1;
    if (y % 2 == 0) {
      k0 = MAX (k - 1, 0);
      k1 = k;
      w1 = 3;
    } else {
      k0 = k;
      k1 = MIN (k + 1, lh - 1);
      w1 = 1;
    }
    const gint8 *noise = tone->noise
        ? tone->noise + (splitmix64 (frame_index * 0x10000ull + (guint64) y) & (NOISE_SIZE - 1))
        : NULL;
    /* the noise table is read at noise[x & (NOISE_SIZE - 1)] from here on:
     * keep the window inside it */
    if (noise && noise + W > tone->noise + NOISE_SIZE)
      noise = tone->noise;
    upsample2_row (ylow + (gsize) k0 * lw, ylow + (gsize) k1 * lw, w1, lw, W, tmp, noise, FALSE,
                   yp + (gsize) y * ys);
    upsample2_row (mlow + (gsize) k0 * lw, mlow + (gsize) k1 * lw, w1, lw, W, tmp, NULL, TRUE,
                   mask + (gsize) y * W);
  }
}

/* Fills @frame (and the @mask of width x height) with what @cam sees of @t.
 * A still camera reads the texture, which is the frame, as it is. */
static void
render_frame (GstDermSrc *src, const DermTexture *t, const LsSynthCamera *cam, gboolean still,
              GstVideoFrame *frame, guint8 *mask)
{
  const gint W = GST_VIDEO_FRAME_WIDTH (frame), H = GST_VIDEO_FRAME_HEIGHT (frame);
  const GstVideoFormat fmt = GST_VIDEO_FRAME_FORMAT (frame);
  const gboolean rgb = fmt == GST_VIDEO_FORMAT_RGBx || fmt == GST_VIDEO_FORMAT_RGBA;
  FrameTone tone;
  tone_init (&tone, src, still ? 1.0 : cam->gain, still ? NULL : src->noise, rgb);

  FrameWarp w = { .t = t, .W = W, .H = H, .factor = t->factor };
  if (!still) {
    const double k = 1.0 / (H * cam->zoom);
    w.a = cos (cam->rotation) * k;
    w.b = sin (cam->rotation) * k;
    w.pan_x = cam->pan_x;
    w.pan_y = cam->pan_y;
    w.du = (gint32) lround (w.a * w.factor * t->ppu * 65536.0);
    w.dv = (gint32) lround (w.b * w.factor * t->ppu * 65536.0);
    w.lw = (W + w.factor - 1) / w.factor;
    w.lh = (H + w.factor - 1) / w.factor;
    if (w.factor > 1) {
      for (gint i = 0; i < 3; i++) {
        w.low[i] = src->rows + (gsize) (2 + i) * W;
        w.low_y[i] = -1;
      }
      w.vrow = src->rows + (gsize) 5 * W;
    }
  }

  if (!still && !rgb && w.factor == 2) {
    render_yuv_half (src, &w, &tone, cam->frame, frame, mask);
    return;
  }
  FrameTone plain = { .noise = NULL };
  const FrameTone *out_tone = &tone;
  if (!still && rgb && w.factor == 2) {
    w.tone = &tone;
    w.frame = cam->frame;
    out_tone = &plain;
  }

  for (gint y = 0; y < H; y += 2) {
    const gint nrows = MIN (2, H - y);
    const guint32 *rows[2] = { NULL, NULL };
    const guint noise_off = (guint) splitmix64 (cam->frame * 0x10000ull + (guint64) y);
    for (gint i = 0; i < nrows; i++) {
      if (still) {
        rows[i] = t->texels + (gsize) (y + i) * t->tw;
      } else {
        guint32 *row = src->rows + (gsize) i * W;
        frame_row (&w, y + i, row);
        rows[i] = row;
      }
    }
    if (rgb) {
      for (gint i = 0; i < nrows; i++)
        write_rgbx (rows[i], W, out_tone, noise_off + (guint) i * 7919u,
                    (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0)
                    + (gsize) (y + i) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0),
                    mask + (gsize) (y + i) * W);
    } else {
      for (gint i = 0; i < nrows; i++) {
        guint8 *mrow = mask + (gsize) (y + i) * W;
        for (gint x = 0; x < W; x++)
          mrow[x] = (guint8) (0u - (rows[i][x] >> 31));
      }
      guint8 *yp = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
      gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
      guint8 *up = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 1)
          + (gsize) (y / 2) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 1);
      guint8 *vp, *y0 = yp + (gsize) y * ys;
      gint cstep;
      if (fmt == GST_VIDEO_FORMAT_I420) {
        vp = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 2)
            + (gsize) (y / 2) * GST_VIDEO_FRAME_PLANE_STRIDE (frame, 2);
        cstep = 1;
      } else {
        vp = up + 1;
        cstep = 2;
      }
      write_yuv_rows (src, &tone, rows[0], rows[1], W, noise_off, y0, y0 + ys, up, vp, cstep);
    }
  }
}

/* CPU time of the calling thread, for the log: wall time says little on a
 * machine that is busy with the network beside us */
static gint64
thread_cpu_us (void)
{
  struct timespec ts;
  if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
    return 0;
  return (gint64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- GstBaseSrc ------------------------------------------------------------- */

static GstCaps *
gst_derm_src_fixate (GstBaseSrc *bsrc, GstCaps *caps)
{
  caps = gst_caps_make_writable (caps);
  caps = gst_caps_truncate (caps);
  GstStructure *s = gst_caps_get_structure (caps, 0);

  gst_structure_fixate_field_nearest_int (s, "width", 640);
  gst_structure_fixate_field_nearest_int (s, "height", 480);
  if (gst_structure_has_field (s, "framerate"))
    gst_structure_fixate_field_nearest_fraction (s, "framerate", 30, 1);
  else
    gst_structure_set (s, "framerate", GST_TYPE_FRACTION, 30, 1, NULL);
  if (gst_structure_has_field (s, "pixel-aspect-ratio"))
    gst_structure_fixate_field_nearest_fraction (s, "pixel-aspect-ratio", 1, 1);

  return GST_BASE_SRC_CLASS (parent_class)->fixate (bsrc, caps);
}

/* Integer RGB -> Y'CbCr for the negotiated matrix and range. */
static void
setup_yuv (GstDermSrc *src)
{
  gdouble kr, kb;
  if (!gst_video_color_matrix_get_Kr_Kb (src->info.colorimetry.matrix, &kr, &kb)) {
    kr = 0.299;     /* BT.601 when the caps leave it open */
    kb = 0.114;
  }
  gint off[GST_VIDEO_MAX_COMPONENTS], scale[GST_VIDEO_MAX_COMPONENTS];
  gst_video_color_range_offsets (src->info.colorimetry.range, src->info.finfo, off, scale);
  const double kg = 1.0 - kr - kb;
  const double ys = scale[0] / 255.0 * 16384.0;
  const double us = scale[1] / 255.0 / (2.0 * (1.0 - kb)) * 16384.0;
  const double vs = scale[2] / 255.0 / (2.0 * (1.0 - kr)) * 16384.0;
  src->yc[0] = lround (kr * ys);
  src->yc[1] = lround (kg * ys);
  src->yc[2] = lround (kb * ys);
  src->uc[0] = lround (-kr * us);
  src->uc[1] = lround (-kg * us);
  src->uc[2] = lround ((1.0 - kb) * us);
  src->vc[0] = lround ((1.0 - kr) * vs);
  src->vc[1] = lround (-kg * vs);
  src->vc[2] = lround (-kb * vs);
  src->yoff = (off[0] << 14) + 8192;
  src->coff = (off[1] << 14) + 8192;
}

static gboolean
gst_derm_src_set_caps (GstBaseSrc *bsrc, GstCaps *caps)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);
  GstVideoInfo info;

  if (!gst_video_info_from_caps (&info, caps)) {
    GST_ERROR_OBJECT (src, "invalid caps %" GST_PTR_FORMAT, caps);
    return FALSE;
  }
  GST_DEBUG_OBJECT (src, "caps %" GST_PTR_FORMAT, caps);

  /* keep the position across a renegotiation */
  if (src->info.fps_n > 0) {
    src->accum_frames += src->n_frames;
    src->accum_rtime += src->running_time;
  }
  src->n_frames = 0;
  src->running_time = 0;

  src->info = info;
  setup_yuv (src);
  g_free (src->rows);
  src->rows = g_new (guint32, 6 * (gsize) GST_VIDEO_INFO_WIDTH (&info));
  gst_base_src_set_blocksize (bsrc, GST_VIDEO_INFO_SIZE (&info));
  return TRUE;
}

static gboolean
gst_derm_src_decide_allocation (GstBaseSrc *bsrc, GstQuery *query)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);
  GstBufferPool *pool = NULL;
  guint size, min, max;
  GstCaps *caps = NULL;

  gst_query_parse_allocation (query, &caps, NULL);
  gboolean update = gst_query_get_n_allocation_pools (query) > 0;
  if (update) {
    gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
    size = MAX (size, (guint) GST_VIDEO_INFO_SIZE (&src->info));
  } else {
    size = GST_VIDEO_INFO_SIZE (&src->info);
    min = max = 0;
  }
  if (!pool)
    pool = gst_video_buffer_pool_new ();

  GstStructure *config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  if (gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL))
    gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  if (!gst_buffer_pool_set_config (pool, config))
    GST_WARNING_OBJECT (src, "the buffer pool refused our configuration");

  if (update)
    gst_query_set_nth_allocation_pool (query, 0, pool, size, min, max);
  else
    gst_query_add_allocation_pool (query, pool, size, min, max);
  gst_object_unref (pool);

  return GST_BASE_SRC_CLASS (parent_class)->decide_allocation (bsrc, query);
}

static gboolean
gst_derm_src_query (GstBaseSrc *bsrc, GstQuery *query)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY:
      if (src->info.fps_n > 0) {
        /* a live camera delivers a frame one frame time after it starts it;
         * no upper bound (as videotestsrc): with max = min, any downstream
         * deadline (fakesink's 20 ms) made the pipeline's latency invalid */
        GstClockTime latency = gst_util_uint64_scale (GST_SECOND, src->info.fps_d, src->info.fps_n);
        gst_query_set_latency (query, gst_base_src_is_live (bsrc), latency, GST_CLOCK_TIME_NONE);
        return TRUE;
      }
      break;
    case GST_QUERY_CONVERT: {
      GstFormat sf, df;
      gint64 sv, dv;
      gst_query_parse_convert (query, &sf, &sv, &df, &dv);
      if (gst_video_info_convert (&src->info, sf, sv, df, &dv)) {
        gst_query_set_convert (query, sf, sv, df, dv);
        return TRUE;
      }
      break;
    }
    default:
      break;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

static void
gst_derm_src_get_times (GstBaseSrc *bsrc, GstBuffer *buffer, GstClockTime *start,
                        GstClockTime *end)
{
  /* live: basesrc waits for the clock to reach each frame's time */
  if (gst_base_src_is_live (bsrc)) {
    GstClockTime ts = GST_BUFFER_PTS (buffer);
    if (GST_CLOCK_TIME_IS_VALID (ts)) {
      GstClockTime d = GST_BUFFER_DURATION (buffer);
      *start = ts;
      *end = GST_CLOCK_TIME_IS_VALID (d) ? ts + d : GST_CLOCK_TIME_NONE;
      return;
    }
  }
  *start = *end = GST_CLOCK_TIME_NONE;
}

static gboolean
gst_derm_src_is_seekable (GstBaseSrc *bsrc)
{
  return !gst_base_src_is_live (bsrc);
}

static gboolean
gst_derm_src_do_seek (GstBaseSrc *bsrc, GstSegment *segment)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);

  segment->time = segment->start;
  src->accum_frames = 0;
  src->accum_rtime = 0;
  if (src->info.fps_n > 0) {
    src->n_frames = gst_util_uint64_scale (segment->position, src->info.fps_n,
                                           (guint64) src->info.fps_d * GST_SECOND);
    src->running_time = gst_util_uint64_scale (src->n_frames, (guint64) src->info.fps_d * GST_SECOND,
                                               src->info.fps_n);
  } else {
    src->n_frames = 0;
    src->running_time = 0;
  }
  return TRUE;
}

static GstFlowReturn
gst_derm_src_fill (GstPushSrc *psrc, GstBuffer *buffer)
{
  GstDermSrc *src = GST_DERM_SRC (psrc);
  GstBaseSrc *bsrc = GST_BASE_SRC (psrc);

  if (G_UNLIKELY (GST_VIDEO_INFO_FORMAT (&src->info) == GST_VIDEO_FORMAT_UNKNOWN))
    return GST_FLOW_NOT_NEGOTIATED;
  /* framerate 0/1: one still frame */
  if (src->info.fps_n == 0 && src->n_frames == 1)
    return GST_FLOW_EOS;

  GST_OBJECT_LOCK (src);
  guint64 seed = src->seed;
  GstDermSrcPattern pattern = src->pattern;
  gdouble lesion_duration = src->lesion_duration;
  GST_OBJECT_UNLOCK (src);

  /* where in the stream this frame is: lesion and camera follow stream time */
  GstClockTime pos = src->accum_rtime + src->running_time;
  guint64 lesion = 0;
  GstClockTime lesion_ns = lesion_duration > 0 ? (GstClockTime) (lesion_duration * GST_SECOND) : 0;
  if (lesion_ns > 0)
    lesion = pos / lesion_ns;
  gdouble t = (gdouble) (pos - lesion * lesion_ns) / GST_SECOND;
  guint64 frame_index = src->accum_frames + src->n_frames;

  DermTexture *tex;
  GstFlowReturn ret = get_texture (src, seed, lesion, pattern, lesion_ns > 0, &tex);
  if (ret != GST_FLOW_OK)
    return ret;

  gboolean still = pattern == GST_DERM_SRC_PATTERN_STILL;
  LsSynthCamera cam;
  if (still) {
    ls_synth_camera_init (&cam);
  } else {
    camera_at (seed + lesion, t, frame_index, &cam);
  }

  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &src->info, buffer, GST_MAP_WRITE)) {
    GST_ELEMENT_ERROR (src, RESOURCE, WRITE, (NULL), ("Could not map the output buffer"));
    return GST_FLOW_ERROR;
  }
  const gint W = GST_VIDEO_INFO_WIDTH (&src->info), H = GST_VIDEO_INFO_HEIGHT (&src->info);
  guint8 *mask = g_malloc ((gsize) W * H);
  gint64 t0 = g_get_monotonic_time (), c0 = thread_cpu_us ();
  render_frame (src, tex, &cam, still, &frame, mask);
  gst_video_frame_unmap (&frame);
  GST_LOG_OBJECT (src, "frame %" G_GUINT64_FORMAT " rendered in %.2f ms (%.2f ms CPU)",
                  frame_index, (g_get_monotonic_time () - t0) / 1000.0,
                  (thread_cpu_us () - c0) / 1000.0);

  /* the meta takes the mask as it is: no copy */
  g_autoptr (GBytes) truth = g_bytes_new_take (mask, (gsize) W * H);
  GstDermTruthMeta *meta = gst_buffer_add_derm_truth_meta_bytes (buffer, truth, W, H, W);
  meta->lesion_id = lesion;

  /* timestamps */
  GstClockTime next_time = src->info.fps_n > 0
      ? gst_util_uint64_scale (src->n_frames + 1, (guint64) src->info.fps_d * GST_SECOND,
                               src->info.fps_n)
      : GST_CLOCK_TIME_NONE;
  if (gst_base_src_is_live (bsrc) && !src->have_live_offset) {
    /* a live camera's first frame is stamped when it is ready, not at 0,
     * so that the rendering of the first scene does not make it late */
    src->live_offset = 0;
    GstClock *clock = gst_element_get_clock (GST_ELEMENT (src));
    if (clock) {
      GstClockTime now = gst_clock_get_time (clock);
      GstClockTime base = gst_element_get_base_time (GST_ELEMENT (src));
      if (now > base && now - base > pos)
        src->live_offset = now - base - pos;
      gst_object_unref (clock);
    }
    src->have_live_offset = TRUE;
  }
  GST_BUFFER_PTS (buffer) = pos + (gst_base_src_is_live (bsrc) ? src->live_offset : 0);
  GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = GST_CLOCK_TIME_IS_VALID (next_time)
      ? next_time - src->running_time : GST_CLOCK_TIME_NONE;
  GST_BUFFER_OFFSET (buffer) = frame_index;
  GST_BUFFER_OFFSET_END (buffer) = frame_index + 1;
  if (frame_index == 0)
    GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_DISCONT);

  src->n_frames++;
  src->running_time = GST_CLOCK_TIME_IS_VALID (next_time) ? next_time : src->running_time;
  return GST_FLOW_OK;
}

static gboolean
gst_derm_src_start (GstBaseSrc *bsrc)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);

  gst_video_info_init (&src->info);
  src->n_frames = src->accum_frames = 0;
  src->running_time = src->accum_rtime = 0;
  src->have_live_offset = FALSE;

  /* sensor noise: a fixed table of roughly Gaussian bytes, sd about 1.7 */
  src->noise = g_malloc (NOISE_SIZE + 2);
  guint64 h = 0x5EED;
  for (gint i = 0; i < NOISE_SIZE + 2; i++) {
    h = splitmix64 (h);
    gint s = (gint) (h & 3) + (gint) ((h >> 2) & 3) + (gint) ((h >> 4) & 3) + (gint) ((h >> 6) & 3);
    src->noise[i] = (gint8) (s - 6);
  }

  src->quit = FALSE;
  src->flushing = FALSE;
  src->worker = g_thread_new ("dermsrc-render", worker_main, src);
  return TRUE;
}

static gboolean
gst_derm_src_stop (GstBaseSrc *bsrc)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);

  g_mutex_lock (&src->lock);
  src->quit = TRUE;
  g_cond_broadcast (&src->cond);
  g_mutex_unlock (&src->lock);
  g_clear_pointer (&src->worker, g_thread_join);

  g_clear_pointer (&src->current, texture_free);
  g_clear_pointer (&src->next, texture_free);
  g_clear_pointer (&src->rows, g_free);
  g_clear_pointer (&src->planes, g_free);
  src->planes_size = 0;
  g_clear_pointer (&src->noise, g_free);
  gst_video_info_init (&src->info);
  return TRUE;
}

static gboolean
gst_derm_src_unlock (GstBaseSrc *bsrc)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);
  g_mutex_lock (&src->lock);
  src->flushing = TRUE;
  g_cond_broadcast (&src->cond);
  g_mutex_unlock (&src->lock);
  return TRUE;
}

static gboolean
gst_derm_src_unlock_stop (GstBaseSrc *bsrc)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);
  g_mutex_lock (&src->lock);
  src->flushing = FALSE;
  g_mutex_unlock (&src->lock);
  return TRUE;
}

/* ---- GObject ---------------------------------------------------------------- */

static void
gst_derm_src_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstDermSrc *src = GST_DERM_SRC (object);

  switch (prop_id) {
    case PROP_SEED:
      GST_OBJECT_LOCK (src);
      src->seed = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (src);
      break;
    case PROP_IS_LIVE:
      gst_base_src_set_live (GST_BASE_SRC (src), g_value_get_boolean (value));
      break;
    case PROP_PATTERN:
      GST_OBJECT_LOCK (src);
      src->pattern = g_value_get_enum (value);
      GST_OBJECT_UNLOCK (src);
      break;
    case PROP_LESION_DURATION:
      GST_OBJECT_LOCK (src);
      src->lesion_duration = g_value_get_double (value);
      GST_OBJECT_UNLOCK (src);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_derm_src_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstDermSrc *src = GST_DERM_SRC (object);

  switch (prop_id) {
    case PROP_SEED:
      GST_OBJECT_LOCK (src);
      g_value_set_uint64 (value, src->seed);
      GST_OBJECT_UNLOCK (src);
      break;
    case PROP_IS_LIVE:
      g_value_set_boolean (value, gst_base_src_is_live (GST_BASE_SRC (src)));
      break;
    case PROP_PATTERN:
      GST_OBJECT_LOCK (src);
      g_value_set_enum (value, src->pattern);
      GST_OBJECT_UNLOCK (src);
      break;
    case PROP_LESION_DURATION:
      GST_OBJECT_LOCK (src);
      g_value_set_double (value, src->lesion_duration);
      GST_OBJECT_UNLOCK (src);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_derm_src_finalize (GObject *object)
{
  GstDermSrc *src = GST_DERM_SRC (object);
  g_mutex_clear (&src->lock);
  g_cond_clear (&src->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_derm_src_class_init (GstDermSrcClass *klass)
{
  /* register the ground-truth meta with the element, so that applications
   * (and lesionseg) find it by name without linking this plugin */
  gst_derm_truth_meta_get_info ();
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_derm_src_set_property;
  gobject_class->get_property = gst_derm_src_get_property;
  gobject_class->finalize = gst_derm_src_finalize;

  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed",
          "Seed of the first lesion's scene; lesion i is drawn from seed + i",
          0, G_MAXUINT64, DEFAULT_SEED,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_IS_LIVE,
      g_param_spec_boolean ("is-live", "Is live",
          "Act as a live camera: frames at the clock's pace, stamped with the running time",
          DEFAULT_IS_LIVE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PATTERN,
      g_param_spec_enum ("pattern", "Pattern",
          "How the camera moves over the scene", GST_TYPE_DERM_SRC_PATTERN, DEFAULT_PATTERN,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_LESION_DURATION,
      g_param_spec_double ("lesion-duration", "Lesion duration",
          "Seconds of stream time per lesion; 0 = one lesion for the whole stream",
          0.0, 86400.0, DEFAULT_LESION_DURATION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_set_static_metadata (element_class,
      "Synthetic dermatoscope camera", "Source/Video",
      "Synthetic dermoscopy video of skin lesions under a moving camera, with the ground-truth "
      "lesion mask on every buffer",
      "lesionseg developers");
  gst_element_class_add_static_pad_template (element_class, &src_template);

  basesrc_class->fixate = gst_derm_src_fixate;
  basesrc_class->set_caps = gst_derm_src_set_caps;
  basesrc_class->decide_allocation = gst_derm_src_decide_allocation;
  basesrc_class->query = gst_derm_src_query;
  basesrc_class->get_times = gst_derm_src_get_times;
  basesrc_class->is_seekable = gst_derm_src_is_seekable;
  basesrc_class->do_seek = gst_derm_src_do_seek;
  basesrc_class->start = gst_derm_src_start;
  basesrc_class->stop = gst_derm_src_stop;
  basesrc_class->unlock = gst_derm_src_unlock;
  basesrc_class->unlock_stop = gst_derm_src_unlock_stop;
  pushsrc_class->fill = gst_derm_src_fill;

  GST_DEBUG_CATEGORY_INIT (gst_derm_src_debug, "dermsrc", 0, "synthetic dermatoscope camera");
  gst_type_mark_as_plugin_api (GST_TYPE_DERM_SRC_PATTERN, 0);
}

static void
gst_derm_src_init (GstDermSrc *src)
{
  src->seed = DEFAULT_SEED;
  src->pattern = DEFAULT_PATTERN;
  src->lesion_duration = DEFAULT_LESION_DURATION;
  g_mutex_init (&src->lock);
  g_cond_init (&src->cond);
  gst_video_info_init (&src->info);

  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_TIME);
  gst_base_src_set_live (GST_BASE_SRC (src), DEFAULT_IS_LIVE);
}
