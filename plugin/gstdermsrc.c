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
#include <time.h>
#include <gst/video/video.h>

#include "gstdermsrc.h"
#include "dermsrc-camera.h"
#include "dermsrc-frame.h"
#include "dermsrc-random.h"
#include "dermsrc-texture.h"
#include "gstdermtruthmeta.h"
#include "synth.h"

GST_DEBUG_CATEGORY (gst_derm_src_debug);
#define GST_CAT_DEFAULT gst_derm_src_debug

#define DEFAULT_SEED 0
#define DEFAULT_IS_LIVE FALSE
#define DEFAULT_PATTERN GST_DERM_SRC_PATTERN_MOVING
#define DEFAULT_LESION_DURATION 5.0

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

/* The camera @t seconds into a lesion: sums of slow sines, phases drawn
 * from the lesion's seed. */
static void
camera_at (guint64 scene_seed, gdouble t, guint64 frame, LsSynthCamera *cam)
{
  double ph[8];
  guint64 h = dermsrc_splitmix64 (scene_seed ^ 0xC0FFEEull);
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

  GST_OBJECT_LOCK (src);   /* the queries read it on other threads */
  src->info = info;
  GST_OBJECT_UNLOCK (src);
  dermsrc_frame_renderer_set_format (&src->renderer, &info);
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
    case GST_QUERY_LATENCY: {
      GST_OBJECT_LOCK (src);
      const gint fps_n = src->info.fps_n, fps_d = src->info.fps_d;
      GST_OBJECT_UNLOCK (src);
      if (fps_n > 0) {
        /* a live camera delivers a frame one frame time after it starts it;
         * no upper bound (as videotestsrc): with max = min, any downstream
         * deadline (fakesink's 20 ms) made the pipeline's latency invalid */
        GstClockTime latency = gst_util_uint64_scale (GST_SECOND, fps_d, fps_n);
        gst_query_set_latency (query, gst_base_src_is_live (bsrc), latency, GST_CLOCK_TIME_NONE);
        return TRUE;
      }
      break;
    }
    case GST_QUERY_CONVERT: {
      GstFormat sf, df;
      gint64 sv, dv;
      gst_query_parse_convert (query, &sf, &sv, &df, &dv);
      GST_OBJECT_LOCK (src);
      const GstVideoInfo info = src->info;
      GST_OBJECT_UNLOCK (src);
      if (gst_video_info_convert (&info, sf, sv, df, &dv)) {
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

/* The camera only runs forwards; counting frames up through a reverse
 * segment would never reach its end. Refused as the event arrives, before
 * basesrc flushes: a seek failing after its flush leaves the stream with no
 * segment (GStreamer then warns of data flow before one). */
static gboolean
gst_derm_src_event (GstBaseSrc *bsrc, GstEvent *event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK) {
    gdouble rate;
    gst_event_parse_seek (event, &rate, NULL, NULL, NULL, NULL, NULL, NULL);
    if (rate < 0) {
      GST_WARNING_OBJECT (bsrc, "reverse playback (rate %f) is not supported", rate);
      return FALSE;
    }
  }
  return GST_BASE_SRC_CLASS (parent_class)->event (bsrc, event);
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

  gboolean still = pattern == GST_DERM_SRC_PATTERN_STILL;
  const DermTexture *tex;
  g_autoptr (GError) error = NULL;
  GstFlowReturn ret = dermsrc_texture_cache_get (&src->textures, seed, lesion,
                                                 GST_VIDEO_INFO_WIDTH (&src->info),
                                                 GST_VIDEO_INFO_HEIGHT (&src->info), still,
                                                 lesion_ns > 0, &tex, &error);
  if (ret == GST_FLOW_ERROR) {
    GST_ELEMENT_ERROR (src, RESOURCE, FAILED, ("Could not render the synthetic scene."),
                       ("%s", error->message));
    return ret;
  }
  if (ret != GST_FLOW_OK)
    return ret;

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
  dermsrc_render_frame (&src->renderer, tex, &cam, still, &frame, mask);
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

  GST_OBJECT_LOCK (src);
  gst_video_info_init (&src->info);
  GST_OBJECT_UNLOCK (src);
  src->n_frames = src->accum_frames = 0;
  src->running_time = src->accum_rtime = 0;
  src->have_live_offset = FALSE;

  dermsrc_frame_renderer_init (&src->renderer);
  dermsrc_texture_cache_start (&src->textures);
  return TRUE;
}

static gboolean
gst_derm_src_stop (GstBaseSrc *bsrc)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);

  dermsrc_texture_cache_stop (&src->textures);
  dermsrc_frame_renderer_clear (&src->renderer);
  GST_OBJECT_LOCK (src);
  gst_video_info_init (&src->info);
  GST_OBJECT_UNLOCK (src);
  return TRUE;
}

static gboolean
gst_derm_src_unlock (GstBaseSrc *bsrc)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);
  dermsrc_texture_cache_set_flushing (&src->textures, TRUE);
  return TRUE;
}

static gboolean
gst_derm_src_unlock_stop (GstBaseSrc *bsrc)
{
  GstDermSrc *src = GST_DERM_SRC (bsrc);
  dermsrc_texture_cache_set_flushing (&src->textures, FALSE);
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
  dermsrc_texture_cache_clear (&src->textures);
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
  basesrc_class->event = gst_derm_src_event;
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
  dermsrc_texture_cache_init (&src->textures, GST_OBJECT (src));
  gst_video_info_init (&src->info);

  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_TIME);
  gst_base_src_set_live (GST_BASE_SRC (src), DEFAULT_IS_LIVE);
}
