/* lesionseg reliability: leaks and state (NULL-PLAYING-NULL, model reloads),
 * hostile input through the element (odd and degenerate sizes in every
 * format with padded strides, ROIs outside the frame, a model replaced on
 * disk while playing, a Vulkan device that cannot be created) and threads
 * (the async worker busy while properties change and the element shuts
 * down). CI runs it plainly, under ASan/LSan and under TSan.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gstlesionsegmeta.h"
#include "plugin-fixture.h"
#include "rss.h"


/* ---- ThreadSanitizer and GLib's futex locks --------------------------------
 *
 * GLib on Linux implements GMutex, GRecMutex and GCond on futexes, which TSan
 * cannot see: every field guarded by GST_OBJECT_LOCK or the worker's lock
 * would be reported as a race. Under TSan this executable interposes the
 * lock calls (libgstreamer, the plugin and liblesionseg resolve them here
 * first), calls GLib's own and tells TSan about the acquire/release. */
#if defined(__SANITIZE_THREAD__)
#include <dlfcn.h>
void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
/* GLib's own function, looked up once; atomically, since several threads
 * take their first lock at the same time */
#define REAL(ret, name, ...) \
  static ret (*real_slot) (__VA_ARGS__); \
  ret (*real) (__VA_ARGS__) = __atomic_load_n (&real_slot, __ATOMIC_ACQUIRE); \
  if (G_UNLIKELY (real == NULL)) { \
    real = (ret (*) (__VA_ARGS__)) dlsym (RTLD_NEXT, name); \
    __atomic_store_n (&real_slot, real, __ATOMIC_RELEASE); \
  }
void g_mutex_lock (GMutex *m) { REAL (void, "g_mutex_lock", GMutex *); real (m); __tsan_acquire (m); }
void g_mutex_unlock (GMutex *m) { REAL (void, "g_mutex_unlock", GMutex *); __tsan_release (m); real (m); }
gboolean g_mutex_trylock (GMutex *m)
{
  REAL (gboolean, "g_mutex_trylock", GMutex *);
  gboolean ok = real (m);
  if (ok)
    __tsan_acquire (m);
  return ok;
}
void g_rec_mutex_lock (GRecMutex *m) { REAL (void, "g_rec_mutex_lock", GRecMutex *); real (m); __tsan_acquire (m); }
void g_rec_mutex_unlock (GRecMutex *m) { REAL (void, "g_rec_mutex_unlock", GRecMutex *); __tsan_release (m); real (m); }
gboolean g_rec_mutex_trylock (GRecMutex *m)
{
  REAL (gboolean, "g_rec_mutex_trylock", GRecMutex *);
  gboolean ok = real (m);
  if (ok)
    __tsan_acquire (m);
  return ok;
}
void g_cond_wait (GCond *c, GMutex *m)
{
  REAL (void, "g_cond_wait", GCond *, GMutex *);
  __tsan_release (m);
  real (c, m);
  __tsan_acquire (m);
}
gboolean g_cond_wait_until (GCond *c, GMutex *m, gint64 end)
{
  REAL (gboolean, "g_cond_wait_until", GCond *, GMutex *, gint64);
  __tsan_release (m);
  gboolean ok = real (c, m, end);
  __tsan_acquire (m);
  return ok;
}
#endif

static gchar *tiny_model;
static gchar *slow_model;

static const char *formats[] = {
  "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB", "ABGR", "RGB", "BGR", "I420", "NV12",
};

/* ---- helpers --------------------------------------------------------------- */

static GstElement *
launch (const char *desc)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  return pipeline;
}

static GstElement *
by_name (GstElement *pipeline, const char *name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  g_assert_nonnull (e);
  gst_object_unref (e);   /* the pipeline holds it */
  return e;
}

/* Fails the test on an ERROR message waiting on the bus. */
static void
assert_no_error_on_bus (GstElement *pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *m;
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR))) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (m, &err, &dbg);
    g_error ("ERROR from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), err->message, dbg);
  }
  gst_object_unref (bus);
}

static void
cycle (GstElement *pipeline, GstState to)
{
  g_assert_cmpint (gst_element_set_state (pipeline, to), !=, GST_STATE_CHANGE_FAILURE);
  g_assert_cmpint (gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND), ==,
                   GST_STATE_CHANGE_SUCCESS);
}

/* ---- 1. leaks and state ------------------------------------------------------ */

/* 200 NULL-PLAYING-NULL cycles of dermsrc ! lesionseg ! fakesink. Each
 * PLAYING waits for preroll, so the element has started and seen frames;
 * async, so the worker may be mid-inference at the stop. */
static void
test_state_cycles_dermsrc (void)
{
  const int cycles = 200;
  gchar *desc = g_strdup_printf (
      "dermsrc ! video/x-raw,format=RGBx,width=160,height=120,framerate=30/1 ! "
      "lesionseg model=\"%s\" backend=cpu mode=async message=true ! fakesink", tiny_model);
  GstElement *pipeline = launch (desc);
  g_free (desc);
  gsize first = 0;
  for (int i = 0; i < cycles; i++) {
    cycle (pipeline, GST_STATE_PLAYING);
    g_usleep (2000);
    cycle (pipeline, GST_STATE_NULL);
    assert_no_error_on_bus (pipeline);
    if (i == 0)
      first = ls_test_rss_bytes ();
    if (i == 0 || i == 49 || i == 99 || i == 149)
      printf ("# after %d cycles: RSS %.1f MiB\n", i + 1, ls_test_rss_bytes () / 1048576.0);
  }
  ls_test_check_rss ("200 NULL-PLAYING-NULL cycles", first, ls_test_rss_bytes ());
  gst_object_unref (pipeline);
}

/* 50 model reloads: in READY, `model` alternates between two files, then
 * PLAYING runs frames through the new one. */
static void
test_model_reloads (void)
{
  const int reloads = 50;
  gchar *contents = NULL;
  gsize size = 0;
  g_assert_true (g_file_get_contents (tiny_model, &contents, &size, NULL));
  gchar *copy = g_build_filename (g_get_tmp_dir (), "ls-reliability-reload.safetensors", NULL);
  g_assert_true (g_file_set_contents (copy, contents, size, NULL));
  g_free (contents);

  gchar *desc = g_strdup_printf (
      "dermsrc ! video/x-raw,format=I420,width=128,height=96,framerate=30/1 ! "
      "lesionseg name=seg backend=cpu mode=sync ! fakesink name=sink");
  GstElement *pipeline = launch (desc);
  g_free (desc);
  GstElement *seg = by_name (pipeline, "seg");
  cycle (pipeline, GST_STATE_READY);
  gsize first = 0;
  for (int i = 0; i < reloads; i++) {
    g_object_set (seg, "model", i % 2 ? copy : tiny_model, NULL);
    cycle (pipeline, GST_STATE_PLAYING);
    g_usleep (5000);
    gchar *backend = NULL;
    g_object_get (seg, "active-backend", &backend, NULL);
    g_assert_cmpstr (backend, ==, "cpu");
    g_free (backend);
    cycle (pipeline, GST_STATE_READY);
    assert_no_error_on_bus (pipeline);
    if (i == 0)
      first = ls_test_rss_bytes ();
  }
  ls_test_check_rss ("50 model reloads in READY", first, ls_test_rss_bytes ());
  cycle (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_unlink (copy);
  g_free (copy);
}

/* ---- 2. hostile input through the element ------------------------------------ */

static GstHarness *
harness_new (const char *props)
{
  gchar *desc = g_strdup_printf ("lesionseg model=\"%s\" backend=cpu %s", tiny_model, props);
  GstHarness *h = gst_harness_new_parse (desc);
  g_free (desc);
  return h;
}

static GstElement *
harness_lesionseg (GstHarness *h)
{
  GstElement *e = gst_harness_find_element (h, "lesionseg");
  g_assert_nonnull (e);
  gst_object_unref (e);
  return e;
}

/* Bytes of a plane's row that belong to the picture (the rest of the
 * stride is padding). */
static gsize
plane_row_bytes (const GstVideoInfo *info, guint plane)
{
  gsize bytes = 0;
  for (guint c = 0; c < GST_VIDEO_INFO_N_COMPONENTS (info); c++) {
    if (GST_VIDEO_INFO_COMP_PLANE (info, c) != plane)
      continue;
    const gsize end = (gsize) GST_VIDEO_INFO_COMP_POFFSET (info, c)
                      + (gsize) GST_VIDEO_INFO_COMP_WIDTH (info, c) * GST_VIDEO_INFO_COMP_PSTRIDE (info, c);
    bytes = MAX (bytes, end);
  }
  return bytes;
}

/* A frame with padding right of each row (strides rounded up to 32 after 13
 * extra bytes) and a gap between planes, described by a GstVideoMeta. */
static GstBuffer *
padded_frame (const char *format, int w, int h, guint seed, GstVideoInfo *info)
{
  gst_video_info_set_format (info, gst_video_format_from_string (format), w, h);
  GstVideoAlignment align;
  gst_video_alignment_reset (&align);
  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++)
    align.stride_align[p] = 31;
  align.padding_right = 13;
  align.padding_bottom = 3;
  g_assert_true (gst_video_info_align (info, &align));
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize k = 0; k < map.size; k++)
    map.data[k] = (guint8) ((k * 2654435761u + seed * 97u) >> 13);
  gst_buffer_unmap (buf, &map);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT (info),
                                  GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info),
                                  GST_VIDEO_INFO_N_PLANES (info), info->offset, info->stride);
  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (seed, GST_SECOND, 30);
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  return buf;
}

/* Every byte outside the picture rows (padding right, gaps) unchanged. */
static void
check_padding (const GstVideoInfo *info, GstBuffer *before, GstBuffer *after, const char *what)
{
  GstMapInfo a, b;
  gst_buffer_map (before, &a, GST_MAP_READ);
  gst_buffer_map (after, &b, GST_MAP_READ);
  g_assert_cmpuint (a.size, ==, b.size);
  guint8 *picture = g_new0 (guint8, a.size);
  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (info); p++) {
    const gsize row = plane_row_bytes (info, p);
    const int comp = p == 0 ? 0 : (GST_VIDEO_INFO_IS_YUV (info) ? (int) p : 0);
    const int rows = GST_VIDEO_INFO_COMP_HEIGHT (info, comp);
    for (int y = 0; y < rows; y++)
      memset (picture + info->offset[p] + (gsize) y * info->stride[p], 1, row);
  }
  for (gsize k = 0; k < a.size; k++)
    if (!picture[k] && a.data[k] != b.data[k])
      g_error ("%s: padding byte %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
               " changed (0x%02x -> 0x%02x)", what, k, a.size, a.data[k], b.data[k]);
  g_free (picture);
  gst_buffer_unmap (before, &a);
  gst_buffer_unmap (after, &b);
}

/* 1x1, 2x2, 3x1, 1x3, 333x211 in every format, padded strides, sync and
 * async, overlay on (threshold=0: the mask is the whole ROI, contour and fill
 * reach every edge), with and without an ROI reaching past the frame. */
static void
test_odd_sizes_padded (void)
{
  static const int sizes[][2] = { { 1, 1 }, { 2, 2 }, { 3, 1 }, { 1, 3 }, { 333, 211 }, { 17, 9 } };
  for (int mode = 0; mode < 2; mode++)
    for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
      for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
        const int w = sizes[s][0], h = sizes[s][1];
        GstHarness *hn = harness_new (mode ? "mode=async threshold=0 overlay=both contour-width=5"
                                           : "mode=sync threshold=0 overlay=both contour-width=5");
        GstElement *e = harness_lesionseg (hn);
        gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1",
                                       formats[f], w, h);
        gst_harness_set_src_caps_str (hn, caps);
        gchar *what = g_strdup_printf ("%s %dx%d %s", formats[f], w, h, mode ? "async" : "sync");
        for (guint i = 0; i < 6; i++) {
          if (i == 3)   /* partly outside on both axes */
            gst_util_set_object_arg (G_OBJECT (e), "roi", "<0,0,100000,100000>");
          if (i == 0)
            gst_util_set_object_arg (G_OBJECT (e), "roi", "<2147483000,2147483000,2147483000,2147483000>");
          GstVideoInfo info;
          GstBuffer *in = padded_frame (formats[f], w, h, i, &info);
          GstBuffer *keep = gst_buffer_copy_deep (in);
          g_assert_cmpint (gst_harness_push (hn, in), ==, GST_FLOW_OK);
          GstBuffer *out = gst_harness_pull (hn);
          check_padding (&info, keep, out, what);
          GstLesionSegMeta *m = gst_buffer_get_lesion_seg_meta (out);
          if (m) {
            g_assert_cmpint (m->roi.x, >=, 0);
            g_assert_cmpint (m->roi.y, >=, 0);
            g_assert_cmpint (m->roi.x + m->roi.w, <=, w);
            g_assert_cmpint (m->roi.y + m->roi.h, <=, h);
          } else {
            g_assert_true (mode == 1);   /* async: no mask yet is fine */
          }
          gst_buffer_unref (keep);
          gst_buffer_unref (out);
        }
        g_free (caps);
        g_free (what);
        gst_harness_teardown (hn);
      }
}

/* Width or height 0 in caps is refused at negotiation (the pad template
 * starts at 1), so a buffer after them is not processed. */
static void
test_zero_size (void)
{
  GstHarness *h = harness_new ("mode=sync");
  g_assert_true (gst_harness_push_event (h, gst_event_new_stream_start ("zero")));
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=BGRx,width=0,height=0,framerate=30/1");
  /* the sticky event may be taken; the buffer after it is what must fail */
  gst_harness_push_event (h, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_harness_push_event (h, gst_event_new_segment (&segment));
  GstBuffer *empty = gst_buffer_new ();
  g_assert_cmpint (gst_harness_push (h, empty), !=, GST_FLOW_OK);
  gst_harness_teardown (h);
}

/* Buffers shorter than their caps say (empty, one byte, one row short): the
 * frame cannot be mapped, so GstVideoFilter passes the buffer on untouched
 * with a warning on the bus; nothing reads past its end (ASan stage). */
static void
test_short_buffers (void)
{
  const gsize sizes[] = { 0, 1, 64 * 4 * 47 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    GstHarness *h = harness_new ("mode=sync threshold=0");
    GstElement *e = harness_lesionseg (h);
    GstBus *bus = gst_bus_new ();
    gst_element_set_bus (e, bus);
    gst_harness_set_src_caps_str (h, "video/x-raw,format=BGRx,width=64,height=48,framerate=30/1");
    GstBuffer *b = gst_buffer_new_allocate (NULL, sizes[i], NULL);
    if (sizes[i])
      gst_buffer_memset (b, 0, 7, sizes[i]);
    g_assert_cmpint (gst_harness_push (h, b), ==, GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull (h);
    g_assert_cmpuint (gst_buffer_get_size (out), ==, sizes[i]);
    g_assert_null (gst_buffer_get_lesion_seg_meta (out));
    if (sizes[i]) {
      GstMapInfo map;
      g_assert_true (gst_buffer_map (out, &map, GST_MAP_READ));
      for (gsize k = 0; k < map.size; k++)
        g_assert_cmpuint (map.data[k], ==, 7);
      gst_buffer_unmap (out, &map);
    }
    gst_buffer_unref (out);
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
    g_assert_nonnull (msg);
    g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_WARNING);
    gst_message_unref (msg);
    gst_element_set_bus (e, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
}

/* ROI partly outside: clamped to the frame. Wholly outside: the whole
 * frame. Either way with a warning on the bus. */
static void
test_roi_outside (void)
{
  static const struct { const char *roi; int x, y, w, h; gboolean outside; } cases[] = {
    { "<40,30,100,100>", 40, 30, 24, 18, FALSE },       /* past right and bottom */
    { "<63,47,5,5>", 63, 47, 1, 1, FALSE },             /* one pixel left */
    { "<64,0,10,10>", 0, 0, 64, 48, TRUE },             /* just right of it */
    { "<1000,1000,10,10>", 0, 0, 64, 48, TRUE },        /* far away */
    { "<2147483647,2147483647,2147483647,2147483647>", 0, 0, 64, 48, TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstHarness *h = harness_new ("mode=sync threshold=0");
    GstElement *e = harness_lesionseg (h);
    GstBus *bus = gst_bus_new ();
    gst_element_set_bus (e, bus);
    gst_harness_set_src_caps_str (h, "video/x-raw,format=BGRx,width=64,height=48,framerate=30/1");
    gst_util_set_object_arg (G_OBJECT (e), "roi", cases[i].roi);
    GstVideoInfo info;
    g_assert_cmpint (gst_harness_push (h, padded_frame ("BGRx", 64, 48, i, &info)), ==, GST_FLOW_OK);
    GstBuffer *out = gst_harness_pull (h);
    GstLesionSegMeta *m = gst_buffer_get_lesion_seg_meta (out);
    g_assert_nonnull (m);
    g_assert_cmpint (m->roi.x, ==, cases[i].x);
    g_assert_cmpint (m->roi.y, ==, cases[i].y);
    g_assert_cmpint (m->roi.w, ==, cases[i].w);
    g_assert_cmpint (m->roi.h, ==, cases[i].h);
    gst_buffer_unref (out);
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR);
    g_assert_nonnull (msg);   /* clamped or replaced: the bus is told */
    g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_WARNING);
    gst_message_unref (msg);
    gst_element_set_bus (e, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
}

/* A model file replaced on disk while PLAYING: the loaded weights keep
 * working (the same input gives the same probabilities), whether the file
 * is rewritten in place (truncated, then zeros: what would SIGBUS a live
 * mmap) or renamed over; the next start reads the new file and says what
 * is wrong with it. */
static void
test_model_replaced (void)
{
  gchar *contents = NULL;
  gsize size = 0;
  g_assert_true (g_file_get_contents (tiny_model, &contents, &size, NULL));
  gchar *path = g_build_filename (g_get_tmp_dir (), "ls-reliability-replaced.safetensors", NULL);
  for (int how = 0; how < 2; how++) {
    g_assert_true (g_file_set_contents (path, contents, size, NULL));
    gchar *props = g_strdup_printf ("model=\"%s\" backend=cpu mode=sync threshold=0", path);
    gchar *desc = g_strdup_printf ("lesionseg %s", props);
    GstHarness *h = gst_harness_new_parse (desc);
    g_free (desc);
    g_free (props);
    gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
    GstVideoInfo info;
    double p[2];
    for (int k = 0; k < 2; k++) {
      if (k == 1) {
        if (how == 0) {
          FILE *fp = fopen (path, "wb");   /* truncates the file the model came from */
          g_assert_nonnull (fp);
          guint8 *zeros = g_malloc0 (size);
          g_assert_cmpuint (fwrite (zeros, 1, size / 2, fp), ==, size / 2);
          g_free (zeros);
          fclose (fp);
        } else {
          gchar *tmp = g_strconcat (path, ".new", NULL);
          g_assert_true (g_file_set_contents (tmp, "not a model", -1, NULL));
          g_assert_cmpint (g_rename (tmp, path), ==, 0);
          g_free (tmp);
        }
      }
      g_assert_cmpint (gst_harness_push (h, padded_frame ("RGB", 64, 48, 5, &info)), ==, GST_FLOW_OK);
      GstBuffer *out = gst_harness_pull (h);
      GstLesionSegMeta *m = gst_buffer_get_lesion_seg_meta (out);
      g_assert_nonnull (m);
      p[k] = m->measurements.mean_probability;
      gst_buffer_unref (out);
    }
    g_assert_cmpfloat (p[0], ==, p[1]);
    gst_harness_teardown (h);

    /* a fresh start refuses the replaced file with a message, no crash */
    GstElement *e = gst_element_factory_make ("lesionseg", NULL);
    g_object_set (e, "model", path, "backend", 1 /* cpu */, NULL);
    GstBus *bus = gst_bus_new ();
    gst_element_set_bus (e, bus);
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    g_assert_nonnull (msg);
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_test_message ("replaced model refused: %s", err->message);
    g_assert_nonnull (strstr (err->message, "model"));
    g_error_free (err);
    gst_message_unref (msg);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_element_set_bus (e, NULL);
    gst_object_unref (bus);
    gst_object_unref (e);
  }
  g_unlink (path);
  g_free (path);
  g_free (contents);
}

/* The core logs backend=auto's fallback with g_warning; g_test makes that
 * fatal. It is the expected report here: let it through, nothing else. */
static gboolean
allow_fallback_warning (const gchar *domain, GLogLevelFlags level, const gchar *message,
                        gpointer data)
{
  return !(g_strcmp0 (domain, "lesionseg") == 0 && strstr (message, "falling back"));
}

/* backend=auto with a Vulkan device that cannot be created (an index no
 * machine has): the CPU runs the network, a WARNING says so on the bus, no
 * ERROR, frames flow. */
static void
test_auto_fallback (void)
{
  g_test_log_set_fatal_handler (allow_fallback_warning, NULL);
  gchar *desc = g_strdup_printf (
      "dermsrc num-buffers=10 ! video/x-raw,width=96,height=64 ! "
      "lesionseg name=seg model=\"%s\" backend=auto device=4096 ! fakesink name=sink", tiny_model);
  GstElement *pipeline = launch (desc);
  g_free (desc);
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  gboolean warned = FALSE, eos = FALSE;
  while (!eos) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
    g_assert_nonnull (m);
    GError *err = NULL;
    gchar *dbg = NULL;
    switch (GST_MESSAGE_TYPE (m)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (m, &err, &dbg);
      g_error ("backend=auto with a bad device: ERROR %s (%s)", err->message, dbg);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (m, &err, &dbg);
      g_test_message ("warning: %s (%s)", err->message, dbg);
      warned = warned || strstr (err->message, "CPU") != NULL;
      g_error_free (err);
      g_free (dbg);
      break;
    default:
      eos = TRUE;
    }
    gst_message_unref (m);
  }
  gchar *backend = NULL;
  g_object_get (by_name (pipeline, "seg"), "active-backend", &backend, NULL);
  g_assert_cmpstr (backend, ==, "cpu");
  g_free (backend);
  g_assert_true (warned);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_test_log_set_fatal_handler (NULL, NULL);
}

/* ---- 3. threads ---------------------------------------------------------------- */

typedef struct {
  GstElement *e;
  gint stop;
  guint changes;
} Twiddler;

/* Changes every property that is mutable while PLAYING, as fast as it can,
 * from its own thread. */
static gpointer
twiddle (gpointer data)
{
  Twiddler *t = data;
  static const char *rois[] = { "<0,0,0,0>", "<10,10,50,40>", "<300,200,900,900>", "<5000,5000,1,1>" };
  guint i = 0;
  while (!g_atomic_int_get (&t->stop)) {
    g_object_set (t->e, "threshold", (gfloat) (i % 11) / 10.0f, "overlay", (gint) (i % 4),
                  "interval", 1 + i % 3, "contour-width", 1 + (gint) (i % 7),
                  "smoothing", (gfloat) (i % 3) * 0.3f, "cleanup", (gboolean) (i % 2),
                  "opacity", (i % 5) / 4.0, "message", (gboolean) (i % 2),
                  "pixels-per-mm", (double) (i % 4), "fill-color", 0xff000000u | i,
                  NULL);
    gst_util_set_object_arg (G_OBJECT (t->e), "roi", rois[i % G_N_ELEMENTS (rois)]);
    gdouble ms;
    guint age;
    gchar *backend = NULL;
    g_object_get (t->e, "inference-ms", &ms, "mask-age", &age, "active-backend", &backend, NULL);
    g_free (backend);
    i++;
    g_usleep (100);
  }
  t->changes = i;
  return NULL;
}

/* Async with the worker busy (frames pushed faster than the network runs),
 * properties changing from another thread, and the element torn down
 * mid-inference; then the same through a pipeline set to NULL while the
 * property thread still runs. */
static void
test_threads_shutdown (void)
{
  /* under a sanitizer the bundled model is far too slow: the tiny one at
   * a large frame still keeps the worker busy */
  const char *model = LS_SANITIZED ? tiny_model : slow_model;
  const int rounds = LS_SANITIZED ? 6 : 10, frames = LS_SANITIZED ? 40 : 60;
  for (int r = 0; r < rounds; r++) {
    gchar *desc = g_strdup_printf ("lesionseg model=\"%s\" backend=cpu mode=async", model);
    GstHarness *h = gst_harness_new_parse (desc);
    g_free (desc);
    Twiddler t = { gst_object_ref (harness_lesionseg (h)), 0, 0 };
    const char *format = formats[r % G_N_ELEMENTS (formats)];
    gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=640,height=480,framerate=30/1",
                                   format);
    gst_harness_set_src_caps_str (h, caps);
    g_free (caps);
    GThread *thread = g_thread_new ("twiddle", twiddle, &t);
    GstVideoInfo info;
    for (int i = 0; i < frames; i++) {
      g_assert_cmpint (gst_harness_push (h, padded_frame (format, 640, 480, i, &info)), ==, GST_FLOW_OK);
      gst_buffer_unref (gst_harness_pull (h));
    }
    /* tear down with the worker still on the last frame and properties
     * still changing */
    gst_harness_teardown (h);
    g_usleep (1000);
    g_atomic_int_set (&t.stop, 1);
    g_thread_join (thread);
    gst_object_unref (t.e);
  }

  /* a live pipeline set to NULL under a property storm, several times */
  gchar *desc = g_strdup_printf (
      "dermsrc is-live=true ! video/x-raw,format=NV12,width=320,height=240,framerate=30/1 ! "
      "lesionseg name=seg model=\"%s\" backend=cpu mode=async ! fakesink sync=true", tiny_model);
  GstElement *pipeline = launch (desc);
  g_free (desc);
  Twiddler t = { by_name (pipeline, "seg"), 0, 0 };
  GThread *thread = g_thread_new ("twiddle", twiddle, &t);
  for (int i = 0; i < (LS_SANITIZED ? 4 : 8); i++) {
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
    g_usleep (300 * 1000);
    cycle (pipeline, GST_STATE_NULL);
    assert_no_error_on_bus (pipeline);
  }
  g_atomic_int_set (&t.stop, 1);
  g_thread_join (thread);
  g_test_message ("%u property rounds during the pipeline cycles", t.changes);
  gst_object_unref (pipeline);
}

int
main (int argc, char **argv)
{
  lseg_test_init (&argc, &argv, &tiny_model, &slow_model);

  g_test_add_func ("/reliability/state-cycles-dermsrc", test_state_cycles_dermsrc);
  g_test_add_func ("/reliability/model-reloads", test_model_reloads);
  g_test_add_func ("/reliability/odd-sizes-padded", test_odd_sizes_padded);
  g_test_add_func ("/reliability/zero-size", test_zero_size);
  g_test_add_func ("/reliability/short-buffers", test_short_buffers);
  g_test_add_func ("/reliability/roi-outside", test_roi_outside);
  g_test_add_func ("/reliability/model-replaced", test_model_replaced);
  g_test_add_func ("/reliability/auto-fallback", test_auto_fallback);
  g_test_add_func ("/reliability/threads-shutdown", test_threads_shutdown);
  const int ret = g_test_run ();
  g_free (tiny_model);
  g_free (slow_model);
  return ret;
}
