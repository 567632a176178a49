/* lesionseg: segments skin lesions in video and draws the mask over it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-lesionseg
 * @title: lesionseg
 *
 * Runs the lesion segmentation network (liblesionseg) on a video stream and
 * draws the mask over each frame in the frame's own format. Every frame that
 * has a mask carries a #GstLesionSegMeta (mask, ROI, measurements, age) and a
 * #GstVideoRegionOfInterestMeta of type "lesion" with the bounding box; with
 * #GstLesionSeg:message, each inference posts an element message named
 * "lesionseg" with the measurements (and Dice/IoU against the ground truth
 * dermsrc attaches).
 *
 * In async mode (the default for live pipelines) the streaming thread never
 * waits for the network: a worker thread takes the newest frame and every
 * outgoing frame carries the newest finished mask. In sync mode each frame
 * waits for its own mask and the element reports the inference time as
 * latency.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! video/x-raw,format=BGRx ! \
 *     lesionseg overlay=both opacity=0.4 message=true ! videoconvert ! autovideosink
 * ]|
 * |[
 * gst-launch-1.0 filesrc location=skin.webm ! decodebin ! videoconvert ! \
 *     lesionseg mode=sync roi="<480,120,960,840>" pixels-per-mm=20 ! \
 *     videoconvert ! vp8enc ! webmmux ! filesink location=annotated.webm
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstlesionseg.h"
#include "lesionseg-input.h"
#include "lesionseg-report.h"
#include "lesionseg-worker.h"

#include <string.h>

/* Not static: the worker logs and posts errors under the same category. */
GST_DEBUG_CATEGORY (gst_lesion_seg_debug);
#define GST_CAT_DEFAULT gst_lesion_seg_debug

#define MODEL_NAME "lesionseg-small.safetensors"

#define DEFAULT_BACKEND LS_BACKEND_AUTO
#define DEFAULT_DEVICE -1
#define DEFAULT_MODE GST_LESION_SEG_MODE_AUTO
#define DEFAULT_INTERVAL 1
#define DEFAULT_THRESHOLD 0.5f
#define DEFAULT_SMOOTHING 0.0f
#define DEFAULT_CLEANUP TRUE
#define DEFAULT_OVERLAY GST_LESION_SEG_OVERLAY_BOTH
#define DEFAULT_FILL_COLOR 0xff00e060u
#define DEFAULT_CONTOUR_COLOR 0xffffd000u
#define DEFAULT_OPACITY 0.35
#define DEFAULT_CONTOUR_WIDTH 3
#define DEFAULT_MESSAGE FALSE
#define DEFAULT_PIXELS_PER_MM 0.0

enum {
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_DEVICE,
  PROP_MODE,
  PROP_INTERVAL,
  PROP_ROI,
  PROP_THRESHOLD,
  PROP_SMOOTHING,
  PROP_CLEANUP,
  PROP_OVERLAY,
  PROP_FILL_COLOR,
  PROP_CONTOUR_COLOR,
  PROP_OPACITY,
  PROP_CONTOUR_WIDTH,
  PROP_MESSAGE,
  PROP_PIXELS_PER_MM,
  PROP_ACTIVE_BACKEND,
  PROP_INFERENCE_MS,
  PROP_MASK_AGE,
};

#define VIDEO_FORMATS "{ RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, ARGB, ABGR, RGB, BGR, I420, NV12 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

#define gst_lesion_seg_parent_class parent_class
G_DEFINE_TYPE (GstLesionSeg, gst_lesion_seg, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE (lesionseg, "lesionseg", GST_RANK_NONE, GST_TYPE_LESION_SEG);

/* ---- enums ------------------------------------------------------------ */

/* The three enum types differ only in their name and values. */
static GType
register_enum_once (GType *type, const gchar *name, const GEnumValue *values)
{
  if (g_once_init_enter (type))
    g_once_init_leave (type, g_enum_register_static (name, values));
  return *type;
}

#define GST_TYPE_LESION_SEG_MODE (gst_lesion_seg_mode_get_type ())
static GType
gst_lesion_seg_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_LESION_SEG_MODE_AUTO, "Async for live pipelines, else sync", "auto" },
    { GST_LESION_SEG_MODE_SYNC, "Each frame waits for its own mask", "sync" },
    { GST_LESION_SEG_MODE_ASYNC, "Frames carry the newest finished mask; never wait", "async" },
    { 0, NULL, NULL },
  };
  return register_enum_once (&type, "GstLesionSegMode", values);
}

#define GST_TYPE_LESION_SEG_OVERLAY (gst_lesion_seg_overlay_get_type ())
static GType
gst_lesion_seg_overlay_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { GST_LESION_SEG_OVERLAY_NONE, "Draw nothing (meta and messages only)", "none" },
    { GST_LESION_SEG_OVERLAY_FILL, "Fill the mask", "fill" },
    { GST_LESION_SEG_OVERLAY_CONTOUR, "Outline the mask", "contour" },
    { GST_LESION_SEG_OVERLAY_BOTH, "Fill and outline the mask", "both" },
    { 0, NULL, NULL },
  };
  return register_enum_once (&type, "GstLesionSegOverlay", values);
}

#define GST_TYPE_LESION_SEG_BACKEND (gst_lesion_seg_backend_get_type ())
static GType
gst_lesion_seg_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    { LS_BACKEND_AUTO, "Vulkan on a GPU, else the CPU (with a warning)", "auto" },
    { LS_BACKEND_CPU, "CPU (OpenBLAS)", "cpu" },
    { LS_BACKEND_VULKAN, "Vulkan compute (an error when unavailable)", "vulkan" },
    { 0, NULL, NULL },
  };
  return register_enum_once (&type, "GstLesionSegBackend", values);
}

/* ---- properties ------------------------------------------------------- */

static gchar *
default_model_path (void)
{
  const gchar *env = g_getenv ("LESIONSEG_MODEL");
  if (env && *env)
    return g_strdup (env);
  gchar *installed = g_build_filename (LS_MODEL_DIR, MODEL_NAME, NULL);
  if (g_file_test (installed, G_FILE_TEST_EXISTS))
    return installed;
  gchar *source = g_build_filename (LS_SOURCE_MODEL_DIR, MODEL_NAME, NULL);
  if (g_file_test (source, G_FILE_TEST_EXISTS)) {
    g_free (installed);
    return source;
  }
  g_free (source);
  return installed;   /* so that the error names where it should be */
}

static void
set_roi (GstLesionSeg *self, const GValue *value)
{
  const guint n = gst_value_array_get_size (value);
  gint r[4] = { 0, 0, 0, 0 };
  if (n != 0 && n != 4) {
    g_warning ("lesionseg: roi takes 4 values (x, y, width, height), got %u", n);
    return;
  }
  for (guint i = 0; i < n; i++)
    r[i] = g_value_get_int (gst_value_array_get_value (value, i));
  GST_OBJECT_LOCK (self);
  memcpy (self->roi, r, sizeof r);
  self->roi_warned = FALSE;
  GST_OBJECT_UNLOCK (self);
}

static void
get_roi (GstLesionSeg *self, GValue *value)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_INT);
  GST_OBJECT_LOCK (self);
  for (int i = 0; i < 4; i++) {
    g_value_set_int (&v, self->roi[i]);
    gst_value_array_append_value (value, &v);
  }
  GST_OBJECT_UNLOCK (self);
  g_value_unset (&v);
}

static void
gst_lesion_seg_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  GstLesionSeg *self = GST_LESION_SEG (object);

  if (prop_id == PROP_ROI) {
    set_roi (self, value);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_MODEL:
    g_free (self->model_path);
    self->model_path = g_value_dup_string (value);
    break;
  case PROP_BACKEND:
    self->backend = g_value_get_enum (value);
    break;
  case PROP_DEVICE:
    self->device = g_value_get_int (value);
    break;
  case PROP_MODE:
    self->mode = g_value_get_enum (value);
    break;
  case PROP_INTERVAL:
    self->interval = g_value_get_uint (value);
    break;
  case PROP_THRESHOLD:
    self->threshold = g_value_get_float (value);
    break;
  case PROP_SMOOTHING:
    self->smoothing = g_value_get_float (value);
    break;
  case PROP_CLEANUP:
    self->cleanup = g_value_get_boolean (value);
    break;
  case PROP_OVERLAY:
    self->overlay = g_value_get_enum (value);
    break;
  case PROP_FILL_COLOR:
    self->fill_color = g_value_get_uint (value);
    break;
  case PROP_CONTOUR_COLOR:
    self->contour_color = g_value_get_uint (value);
    break;
  case PROP_OPACITY:
    self->opacity = g_value_get_double (value);
    break;
  case PROP_CONTOUR_WIDTH:
    self->contour_width = g_value_get_int (value);
    break;
  case PROP_MESSAGE:
    self->message = g_value_get_boolean (value);
    break;
  case PROP_PIXELS_PER_MM:
    self->pixels_per_mm = g_value_get_double (value);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lesion_seg_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  GstLesionSeg *self = GST_LESION_SEG (object);

  if (prop_id == PROP_ROI) {
    get_roi (self, value);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
  case PROP_MODEL:
    if (self->model_path)
      g_value_set_string (value, self->model_path);
    else
      g_value_take_string (value, default_model_path ());
    break;
  case PROP_BACKEND:
    g_value_set_enum (value, self->backend);
    break;
  case PROP_DEVICE:
    g_value_set_int (value, self->device);
    break;
  case PROP_MODE:
    g_value_set_enum (value, self->mode);
    break;
  case PROP_INTERVAL:
    g_value_set_uint (value, self->interval);
    break;
  case PROP_THRESHOLD:
    g_value_set_float (value, self->threshold);
    break;
  case PROP_SMOOTHING:
    g_value_set_float (value, self->smoothing);
    break;
  case PROP_CLEANUP:
    g_value_set_boolean (value, self->cleanup);
    break;
  case PROP_OVERLAY:
    g_value_set_enum (value, self->overlay);
    break;
  case PROP_FILL_COLOR:
    g_value_set_uint (value, self->fill_color);
    break;
  case PROP_CONTOUR_COLOR:
    g_value_set_uint (value, self->contour_color);
    break;
  case PROP_OPACITY:
    g_value_set_double (value, self->opacity);
    break;
  case PROP_CONTOUR_WIDTH:
    g_value_set_int (value, self->contour_width);
    break;
  case PROP_MESSAGE:
    g_value_set_boolean (value, self->message);
    break;
  case PROP_PIXELS_PER_MM:
    g_value_set_double (value, self->pixels_per_mm);
    break;
  case PROP_ACTIVE_BACKEND:
    g_value_set_string (value, self->active_backend);
    break;
  case PROP_INFERENCE_MS:
    g_value_set_double (value, self->inference_ms);
    break;
  case PROP_MASK_AGE:
    g_value_set_uint (value, self->mask_age);
    break;
  default:
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    break;
  }
  GST_OBJECT_UNLOCK (self);
}


/* ---- start / stop ----------------------------------------------------- */

static void
post_load_error (GstLesionSeg *self, const gchar *path, const GError *error)
{
  if (g_error_matches (error, LS_ERROR, LS_ERROR_FILE)) {
    if (g_file_test (path, G_FILE_TEST_EXISTS))
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
                         ("Could not read the lesion model: %s", error->message),
                         ("model \"%s\"", path));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
                         ("Could not find the lesion model: %s", error->message),
                         ("model \"%s\"", path));
  } else {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
                       ("Invalid lesion model: %s", error->message), ("model \"%s\"", path));
  }
}

static LsEngine *
create_engine (GstLesionSeg *self, LsModel *model, LsBackendKind kind, int device)
{
  LsEngineOptions options;
  ls_engine_options_init (&options);
  options.device = device;
  GError *error = NULL;

  if (kind == LS_BACKEND_VULKAN) {
    options.backend = LS_BACKEND_VULKAN;
    LsEngine *engine = ls_engine_new (model, &options, &error);
    if (engine == NULL) {
      GST_ELEMENT_ERROR (self, LIBRARY, INIT,
                         ("The Vulkan backend is unavailable: %s", error->message), (NULL));
      g_error_free (error);
    }
    return engine;
  }

  options.backend = kind;
  LsEngine *engine = ls_engine_new (model, &options, &error);
  if (engine == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
                       ("Could not set up the network: %s", error->message), (NULL));
    g_error_free (error);
    return NULL;
  }
  if (kind == LS_BACKEND_AUTO && g_str_equal (ls_engine_get_backend_name (engine), "cpu")) {
    /* auto asks for a GPU first; the core decides whether one is usable
     * (a CPU-only Vulkan device is not worth it) and says why in its log. */
    GST_ELEMENT_WARNING (self, LIBRARY, INIT,
                         ("No usable Vulkan GPU: running the network on the CPU"),
                         ("backend=auto chose the CPU backend"));
  }
  return engine;
}

/* The worker's LsegNetworkTimeFunc: the inference-ms property. */
static void
network_time (GstElement *element, double ms)
{
  GstLesionSeg *self = GST_LESION_SEG (element);
  GST_OBJECT_LOCK (self);
  self->inference_ms = ms;
  GST_OBJECT_UNLOCK (self);
}

static gboolean gst_lesion_seg_stop (GstBaseTransform *trans);

static gboolean
gst_lesion_seg_start (GstBaseTransform *trans)
{
  GstLesionSeg *self = GST_LESION_SEG (trans);

  GST_OBJECT_LOCK (self);
  gchar *path = self->model_path ? g_strdup (self->model_path) : default_model_path ();
  const LsBackendKind kind = self->backend;
  const int device = self->device;
  GST_OBJECT_UNLOCK (self);

  GError *error = NULL;
  LsModel *model = ls_model_load (path, &error);
  if (model == NULL) {
    post_load_error (self, path, error);
    g_error_free (error);
    g_free (path);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "model %s: %" G_GINT64_FORMAT " parameters", path,
                   ls_model_get_param_count (model));
  g_free (path);

  LsEngine *engine = create_engine (self, model, kind, device);
  if (engine == NULL) {
    ls_model_unref (model);
    return FALSE;
  }

  self->model = model;
  self->engine = engine;
  const int net_width = ls_engine_get_width (engine), net_height = ls_engine_get_height (engine);
  lseg_input_init (&self->input, ls_model_get_config (model)->input_norm, net_width, net_height);
  self->frame_count = 0;

  double ms;
  self->worker = lseg_worker_new (GST_ELEMENT (self), engine, network_time, &ms, &error);
  if (self->worker == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Lesion segmentation failed: %s", error->message),
                       (NULL));
    g_error_free (error);
    /* GstBaseTransform calls stop () only after a start () that succeeded */
    gst_lesion_seg_stop (trans);
    return FALSE;
  }

  GST_OBJECT_LOCK (self);
  /* An explicit mode is known now, so that the first LATENCY query in sync
   * mode already counts the network; auto waits for the first buffer. */
  self->mode_resolved = self->mode != GST_LESION_SEG_MODE_AUTO;
  self->is_async = self->mode == GST_LESION_SEG_MODE_ASYNC;
  g_free (self->active_backend);
  self->active_backend = g_strdup (ls_engine_get_backend_name (engine));
  self->inference_ms = ms;
  self->mask_age = 0;
  self->reported_latency = (GstClockTime) (ms * 1.25 * GST_MSECOND);
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "backend %s, network %dx%d, %.2f ms a frame",
                   ls_engine_get_backend_name (engine), net_width, net_height, ms);
  return TRUE;
}

static gboolean
gst_lesion_seg_stop (GstBaseTransform *trans)
{
  GstLesionSeg *self = GST_LESION_SEG (trans);

  GST_DEBUG_OBJECT (self, "%" G_GUINT64_FORMAT " frames", self->frame_count);
  /* first: the worker uses the engine until it has stopped */
  g_clear_pointer (&self->worker, lseg_worker_free);
  g_clear_pointer (&self->redraw_for, lseg_result_unref);
  lseg_class_map_clear (&self->redraw);
  g_clear_pointer (&self->engine, ls_engine_free);
  g_clear_pointer (&self->model, ls_model_unref);
  lseg_input_clear (&self->input);
  GST_OBJECT_LOCK (self);
  self->mode_resolved = FALSE;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

/* ---- the streaming thread --------------------------------------------- */

static gboolean
upstream_is_live (GstLesionSeg *self)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live = FALSE;
  if (gst_pad_peer_query (GST_BASE_TRANSFORM_SINK_PAD (self), q))
    gst_query_parse_latency (q, &live, NULL, NULL);
  gst_query_unref (q);
  return live;
}

/* Sync mode delays every frame by the network's time: keep the reported
 * latency above it. */
static void
keep_latency_above (GstLesionSeg *self, gint64 network_us)
{
  const GstClockTime took = network_us * GST_USECOND;
  GST_OBJECT_LOCK (self);
  const gboolean raise = took > self->reported_latency;
  if (raise)
    self->reported_latency = took + took / 4;
  GST_OBJECT_UNLOCK (self);
  if (raise)
    gst_element_post_message (GST_ELEMENT (self), gst_message_new_latency (GST_OBJECT (self)));
}

/* The overlay in the frame's own format. A mask made at another contour
 * width is redrawn once and kept, not redrawn for every frame that shows
 * it. */
static void
draw_overlay (GstLesionSeg *self, GstVideoFrame *frame, LsegResult *r,
              GstLesionSegOverlay overlay, int contour_width, guint32 fill_color,
              guint32 contour_color, double opacity)
{
  const LsegClassMap *map = &r->map;
  if (map->contour_width != contour_width && map->classes) {
    /* contour-width changed since this mask was made */
    if (self->redraw_for != r || self->redraw.contour_width != contour_width) {
      lseg_class_map_clear (&self->redraw);
      lseg_class_map_rebuild (&self->redraw, map, contour_width);
      lseg_result_unref (self->redraw_for);
      self->redraw_for = lseg_result_ref (r);
    }
    map = &self->redraw;
  }
  lseg_overlay_draw (frame, map,
                     overlay == GST_LESION_SEG_OVERLAY_FILL || overlay == GST_LESION_SEG_OVERLAY_BOTH,
                     overlay == GST_LESION_SEG_OVERLAY_CONTOUR || overlay == GST_LESION_SEG_OVERLAY_BOTH,
                     fill_color, contour_color, opacity);
}

static GstFlowReturn
gst_lesion_seg_transform_frame_ip (GstVideoFilter *filter, GstVideoFrame *frame)
{
  GstLesionSeg *self = GST_LESION_SEG (filter);
  GstBaseTransform *trans = GST_BASE_TRANSFORM (filter);
  GstBuffer *buffer = frame->buffer;
  const int width = GST_VIDEO_FRAME_WIDTH (frame), height = GST_VIDEO_FRAME_HEIGHT (frame);
  const gint64 t0 = g_get_monotonic_time ();

  GST_OBJECT_LOCK (self);
  const gboolean resolved = self->mode_resolved;
  GST_OBJECT_UNLOCK (self);
  if (!resolved) {   /* mode=auto, the first buffer: is upstream live? */
    const gboolean live = upstream_is_live (self);
    GST_OBJECT_LOCK (self);
    self->is_async = live;
    self->mode_resolved = TRUE;
    GST_OBJECT_UNLOCK (self);
    GST_INFO_OBJECT (self, "running %s", live ? "async" : "sync");
  }

  GST_OBJECT_LOCK (self);
  const guint interval = MAX (1, self->interval);
  const LsRect roi = lseg_input_frame_roi (self->roi, width, height);
  gint asked[4];
  memcpy (asked, self->roi, sizeof asked);
  const gboolean roi_clipped = asked[2] > 0 && asked[3] > 0 && !self->roi_warned &&
      (roi.x != asked[0] || roi.y != asked[1] || roi.width != asked[2] || roi.height != asked[3]);
  self->roi_warned |= roi_clipped;
  const float threshold = self->threshold, smoothing = self->smoothing;
  const gboolean cleanup = self->cleanup, message = self->message;
  const GstLesionSegOverlay overlay = self->overlay;
  const guint32 fill_color = self->fill_color, contour_color = self->contour_color;
  const double opacity = self->opacity, pixels_per_mm = self->pixels_per_mm;
  const int contour_width = self->contour_width;
  GST_OBJECT_UNLOCK (self);

  if (roi_clipped)
    GST_ELEMENT_WARNING (self, STREAM, FORMAT,
        ("The region of interest does not fit the %dx%d frame", width, height),
        ("roi %d,%d %dx%d: using %d,%d %dx%d", asked[0], asked[1], asked[2], asked[3],
         roi.x, roi.y, roi.width, roi.height));

  const guint64 seq = self->frame_count++;
  gint64 network_us = 0;

  /* Async: a frame that a newer one would replace before the busy worker
   * is free again is not prepared at all (with a 40 ms network at 30 fps,
   * about every other frame). The network still gets the newest frame that
   * arrives before it is free, as before. */
  const GstVideoInfo *info = &filter->in_info;
  const gint64 frame_us = GST_VIDEO_INFO_FPS_N (info) > 0
      ? gst_util_uint64_scale_int (G_USEC_PER_SEC, GST_VIDEO_INFO_FPS_D (info),
                                   GST_VIDEO_INFO_FPS_N (info)) : 0;
  const gboolean stale = self->is_async && interval == 1 && frame_us > 0 &&
      lseg_worker_busy_for (self->worker, frame_us);

  if (seq % interval == 0 && !stale) {
    LsegJob *job = lseg_worker_take_job (self->worker);
    if (job == NULL)
      return GST_FLOW_ERROR;   /* the worker failed and has said why */

    job->seq = seq;
    job->pts = GST_BUFFER_PTS (buffer);
    job->stream_time = gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME, job->pts);
    job->running_time = gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME, job->pts);
    job->frame_width = width;
    job->frame_height = height;
    job->roi = roi;
    job->threshold = threshold;
    job->smoothing = smoothing;
    job->cleanup = cleanup;
    job->message = message;
    job->contour_width = contour_width;
    job->pixels_per_mm = pixels_per_mm;
    lseg_input_copy_truth (buffer, job);

    GError *error = NULL;
    if (!lseg_input_fill_tensor (&self->input, frame, job, &error)) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not prepare the frame: %s",
                         error->message), (NULL));
      g_error_free (error);
      lseg_job_free (job);
      return GST_FLOW_ERROR;
    }

    if (self->is_async) {
      lseg_worker_submit (self->worker, job);
    } else {
      if (!lseg_worker_run_sync (self->worker, job, &network_us))
        return GST_FLOW_ERROR;
      keep_latency_above (self, network_us);
    }
  }

  LsegResult *r = lseg_worker_latest (self->worker);
  guint age = 0;
  if (r && r->frame_width == width && r->frame_height == height) {
    age = (guint) (seq - r->seq);
    lseg_report_attach_meta (buffer, r, age);
    if (overlay != GST_LESION_SEG_OVERLAY_NONE)
      draw_overlay (self, frame, r, overlay, contour_width, fill_color, contour_color, opacity);
  }
  lseg_result_unref (r);

  GST_OBJECT_LOCK (self);
  self->mask_age = age;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %.3f ms on the streaming thread "
                  "(network excluded), mask age %u", seq,
                  (g_get_monotonic_time () - t0 - network_us) / 1000.0, age);
  return GST_FLOW_OK;
}

static gboolean
gst_lesion_seg_set_info (GstVideoFilter *filter, GstCaps *incaps, GstVideoInfo *in_info,
                         GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstLesionSeg *self = GST_LESION_SEG (filter);
  GST_OBJECT_LOCK (self);
  self->roi_warned = FALSE;   /* a new frame size: the ROI may fit now, or not */
  GST_OBJECT_UNLOCK (self);
  /* Nothing to rebuild: the network's input size is fixed, and masks of
   * another frame size are simply not drawn until a new one arrives. */
  GST_DEBUG_OBJECT (self, "%s %dx%d", gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (in_info)),
                    GST_VIDEO_INFO_WIDTH (in_info), GST_VIDEO_INFO_HEIGHT (in_info));
  return TRUE;
}

static gboolean
gst_lesion_seg_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstLesionSeg *self = GST_LESION_SEG (trans);

  if (direction != GST_PAD_SRC || GST_QUERY_TYPE (query) != GST_QUERY_LATENCY)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);

  if (!GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query))
    return FALSE;
  GST_OBJECT_LOCK (self);
  const gboolean in_place = self->mode_resolved && !self->is_async;
  const GstClockTime ours = self->reported_latency;
  GST_OBJECT_UNLOCK (self);
  if (in_place) {
    gboolean live;
    GstClockTime min, max;
    gst_query_parse_latency (query, &live, &min, &max);
    min += ours;
    if (GST_CLOCK_TIME_IS_VALID (max))
      max += ours;
    GST_DEBUG_OBJECT (self, "adding %" GST_TIME_FORMAT " of inference latency",
                      GST_TIME_ARGS (ours));
    gst_query_set_latency (query, live, min, max);
  }
  return TRUE;
}

/* A flushing seek: the masks of the frames before it must not be drawn on
 * the frames after it, nor averaged into their masks, and the first frame
 * after it is segmented whatever the interval. */
static gboolean
gst_lesion_seg_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstLesionSeg *self = GST_LESION_SEG (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP && self->worker) {
    lseg_worker_flush (self->worker);
    self->frame_count = 0;
    g_clear_pointer (&self->redraw_for, lseg_result_unref);
    lseg_class_map_clear (&self->redraw);
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* The controllable properties (threshold, smoothing, colours, opacity)
 * follow their control sources, if any, at each frame's stream time. */
static void
gst_lesion_seg_before_transform (GstBaseTransform *trans, GstBuffer *buffer)
{
  const GstClockTime stream_time = gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME,
                                                               GST_BUFFER_PTS (buffer));
  if (GST_CLOCK_TIME_IS_VALID (stream_time))
    gst_object_sync_values (GST_OBJECT (trans), stream_time);
}

/* ---- class ------------------------------------------------------------ */

static void
gst_lesion_seg_finalize (GObject *object)
{
  GstLesionSeg *self = GST_LESION_SEG (object);
  g_free (self->model_path);
  g_free (self->active_backend);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_lesion_seg_init (GstLesionSeg *self)
{
  self->backend = DEFAULT_BACKEND;
  self->device = DEFAULT_DEVICE;
  self->mode = DEFAULT_MODE;
  self->interval = DEFAULT_INTERVAL;
  self->threshold = DEFAULT_THRESHOLD;
  self->smoothing = DEFAULT_SMOOTHING;
  self->cleanup = DEFAULT_CLEANUP;
  self->overlay = DEFAULT_OVERLAY;
  self->fill_color = DEFAULT_FILL_COLOR;
  self->contour_color = DEFAULT_CONTOUR_COLOR;
  self->opacity = DEFAULT_OPACITY;
  self->contour_width = DEFAULT_CONTOUR_WIDTH;
  self->message = DEFAULT_MESSAGE;
  self->pixels_per_mm = DEFAULT_PIXELS_PER_MM;
}

static void
gst_lesion_seg_class_init (GstLesionSegClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;
  const GParamFlags playing = rw | GST_PARAM_MUTABLE_PLAYING;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  GST_DEBUG_CATEGORY_INIT (gst_lesion_seg_debug, "lesionseg", 0, "Skin-lesion segmentation");

  gobject_class->set_property = gst_lesion_seg_set_property;
  gobject_class->get_property = gst_lesion_seg_get_property;
  gobject_class->finalize = gst_lesion_seg_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Model file (safetensors); unset: $LESIONSEG_MODEL, else the bundled "
          LS_MODEL_DIR "/" MODEL_NAME " (or the source tree's when run uninstalled)",
          NULL, ready));
  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend", "Where the network runs",
          GST_TYPE_LESION_SEG_BACKEND, DEFAULT_BACKEND, ready));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_int ("device", "Device", "Vulkan device index (-1 = choose)",
          -1, G_MAXINT, DEFAULT_DEVICE, ready));
  g_object_class_install_property (gobject_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
          "Whether frames wait for their own mask (sync) or carry the newest one (async)",
          GST_TYPE_LESION_SEG_MODE, DEFAULT_MODE, ready));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval", "Run the network on every Nth frame",
          1, G_MAXUINT, DEFAULT_INTERVAL, playing));
  g_object_class_install_property (gobject_class, PROP_ROI,
      gst_param_spec_array ("roi", "Region of interest",
          "x, y, width, height of the region sent to the network, e.g. \"<0,0,640,480>\" "
          "(width or height 0, or empty: the whole frame)",
          g_param_spec_int ("roi-value", "ROI value", "One of x, y, width, height",
              0, G_MAXINT, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS),
          playing));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_float ("threshold", "Threshold",
          "Lesion probability at and above which a pixel is in the mask",
          0.0f, 1.0f, DEFAULT_THRESHOLD, playing | GST_PARAM_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_SMOOTHING,
      g_param_spec_float ("smoothing", "Smoothing",
          "Weight of the past in an exponential moving average of the probabilities "
          "between inferences (0 = off)",
          0.0f, 0.99f, DEFAULT_SMOOTHING, playing | GST_PARAM_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_CLEANUP,
      g_param_spec_boolean ("cleanup", "Cleanup",
          "Fill holes in the mask and keep only its largest region", DEFAULT_CLEANUP, playing));
  g_object_class_install_property (gobject_class, PROP_OVERLAY,
      g_param_spec_enum ("overlay", "Overlay", "What to draw over the frame",
          GST_TYPE_LESION_SEG_OVERLAY, DEFAULT_OVERLAY, playing));
  g_object_class_install_property (gobject_class, PROP_FILL_COLOR,
      g_param_spec_uint ("fill-color", "Fill color", "Fill colour, big-endian ARGB",
          0, G_MAXUINT32, DEFAULT_FILL_COLOR, playing | GST_PARAM_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_CONTOUR_COLOR,
      g_param_spec_uint ("contour-color", "Contour color", "Contour colour, big-endian ARGB",
          0, G_MAXUINT32, DEFAULT_CONTOUR_COLOR, playing | GST_PARAM_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_OPACITY,
      g_param_spec_double ("opacity", "Opacity",
          "Opacity of the fill (times the fill colour's alpha)",
          0.0, 1.0, DEFAULT_OPACITY, playing | GST_PARAM_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_CONTOUR_WIDTH,
      g_param_spec_int ("contour-width", "Contour width",
          "Width of the contour in frame pixels, drawn inside the mask",
          1, 64, DEFAULT_CONTOUR_WIDTH, playing));
  g_object_class_install_property (gobject_class, PROP_MESSAGE,
      g_param_spec_boolean ("message", "Message",
          "Post an element message \"lesionseg\" with the measurements of each inference",
          DEFAULT_MESSAGE, playing));
  g_object_class_install_property (gobject_class, PROP_PIXELS_PER_MM,
      g_param_spec_double ("pixels-per-mm", "Pixels per mm",
          "Frame pixels per millimetre of skin, for area-mm2 (0 = unknown)",
          0.0, G_MAXDOUBLE, DEFAULT_PIXELS_PER_MM, playing));
  g_object_class_install_property (gobject_class, PROP_ACTIVE_BACKEND,
      g_param_spec_string ("active-backend", "Active backend",
          "The backend the network runs on (\"cpu\" or \"vulkan:<device>\"), once started",
          NULL, ro));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_MS,
      g_param_spec_double ("inference-ms", "Inference time",
          "Milliseconds the last inference took", 0.0, G_MAXDOUBLE, 0.0, ro));
  g_object_class_install_property (gobject_class, PROP_MASK_AGE,
      g_param_spec_uint ("mask-age", "Mask age",
          "Frames between the last outgoing frame and the frame its mask was computed from",
          0, G_MAXUINT, 0, ro));

  gst_element_class_set_static_metadata (element_class, "Skin lesion segmentation",
      "Filter/Analyzer/Video",
      "Segments skin lesions in dermatoscope video, draws the mask and measures it",
      "lesionseg developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_lesion_seg_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_lesion_seg_stop);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_lesion_seg_query);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_lesion_seg_sink_event);
  trans_class->before_transform = GST_DEBUG_FUNCPTR (gst_lesion_seg_before_transform);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_lesion_seg_set_info);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR (gst_lesion_seg_transform_frame_ip);

  gst_type_mark_as_plugin_api (GST_TYPE_LESION_SEG_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LESION_SEG_OVERLAY, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_LESION_SEG_BACKEND, 0);
}
