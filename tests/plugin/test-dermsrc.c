/* dermsrc: caps, timestamps, determinism, the ground-truth meta, lesions,
 * EOS, and gst-inspect.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <gst/gst.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "gstdermtruthmeta.h"
#include "synth.h"

#define g_assert_cmpint_eq(a, b) g_assert_cmpint ((a), ==, (b))
#define g_assert_cmpuint_eq(a, b) g_assert_cmpuint ((a), ==, (b))
#define g_assert_cmpstr_eq(a, b) g_assert_cmpstr ((a), ==, (b))

/* g_assert_true with a message: the test framework is GLib's (TAP) */
#define check(cond) g_assert_true (cond)
#define check_msg(cond, ...) \
  G_STMT_START { \
    if (!(cond)) { \
      g_autofree gchar *m_ = g_strdup_printf (__VA_ARGS__); \
      g_error ("%s:%d: %s: %s", __FILE__, __LINE__, #cond, m_); \
    } \
  } G_STMT_END

static const gchar *formats[] = { "RGBx", "RGBA", "I420", "NV12" };

/* A harness on dermsrc with @props (gst-launch syntax) and @caps downstream. */
static GstHarness *
src_harness (const gchar *props, const gchar *caps)
{
  GstHarness *h = gst_harness_new ("dermsrc");
  g_auto (GStrv) kv = g_strsplit (props ? props : "", " ", -1);
  for (gchar **p = kv; *p; p++) {
    gchar *eq = strchr (*p, '=');
    if (!eq)
      continue;
    *eq = '\0';
    gst_util_set_object_arg (G_OBJECT (h->element), *p, eq + 1);
  }
  gst_harness_set_sink_caps_str (h, caps);
  gst_harness_use_systemclock (h);
  gst_harness_play (h);
  return h;
}

static void
frame_info (GstHarness *h, GstVideoInfo *info)
{
  GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
  check (caps != NULL);
  check (gst_video_info_from_caps (info, caps));
  gst_caps_unref (caps);
}

/* ---- caps ------------------------------------------------------------------- */

static void
test_caps_formats_and_sizes (void)
{
  const gint sizes[][2] = { { 16, 16 }, { 17, 23 }, { 97, 61 }, { 640, 480 }, { 1281, 721 } };

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
      gint w = sizes[s][0], hgt = sizes[s][1];
      g_autofree gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,"
                                                "framerate=15/1", formats[f], w, hgt);
      GstHarness *h = src_harness ("lesion-duration=0", caps);
      for (int i = 0; i < 2; i++) {
        GstBuffer *buf = gst_harness_pull (h);
        check_msg (buf != NULL, "no buffer for %s", caps);
        GstVideoInfo info;
        frame_info (h, &info);
        g_assert_cmpstr_eq (gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&info)),
                                   formats[f]);
        g_assert_cmpint_eq (GST_VIDEO_INFO_WIDTH (&info), w);
        g_assert_cmpint_eq (GST_VIDEO_INFO_HEIGHT (&info), hgt);
        check (gst_buffer_get_size (buf) >= GST_VIDEO_INFO_SIZE (&info));

        GstDermTruthMeta *m = gst_buffer_find_derm_truth_meta (buf);
        check_msg (m != NULL, "no truth meta for %s", caps);
        g_assert_cmpint_eq (m->width, w);
        g_assert_cmpint_eq (m->height, hgt);
        check (m->stride >= w);
        for (gint y = 0; y < hgt; y++)
          for (gint x = 0; x < w; x++)
            check (m->mask[y * m->stride + x] == 0 || m->mask[y * m->stride + x] == 255);
        gst_buffer_unref (buf);
      }
      gst_harness_teardown (h);
    }
  }
}

static void
test_caps_default_fixation (void)
{
  GstHarness *h = gst_harness_new ("dermsrc");
  g_object_set (h->element, "num-buffers", 1, NULL);
  gst_harness_play (h);
  GstBuffer *buf = gst_harness_pull (h);
  check (buf != NULL);
  GstVideoInfo info;
  frame_info (h, &info);
  g_assert_cmpint_eq (GST_VIDEO_INFO_WIDTH (&info), 640);
  g_assert_cmpint_eq (GST_VIDEO_INFO_HEIGHT (&info), 480);
  g_assert_cmpint_eq (GST_VIDEO_INFO_FPS_N (&info), 30);
  g_assert_cmpint_eq (GST_VIDEO_INFO_FPS_D (&info), 1);
  gst_buffer_unref (buf);
  gst_harness_teardown (h);
}

/* ---- pixels: still = the generator's image ------------------------------------ */

static void
generate (guint64 seed, gint w, gint h, guint8 *rgb, guint8 *mask)
{
  LsSynthParams p;
  ls_synth_params_init (&p);
  p.seed = seed;
  p.width = w;
  p.height = h;
  g_autoptr (GError) error = NULL;
  check_msg (ls_synth_generate (&p, rgb, w * 3, mask, w, NULL, &error), "%s",
               error ? error->message : "");
}

static void
test_still_is_the_generator (void)
{
  const gint sizes[][2] = { { 64, 48 }, { 97, 61 }, { 320, 240 } };
  const guint64 seeds[] = { 1, 42 };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    for (guint k = 0; k < G_N_ELEMENTS (seeds); k++) {
      const gint w = sizes[s][0], hgt = sizes[s][1];
      g_autofree guint8 *rgb = g_malloc ((gsize) w * hgt * 3);
      g_autofree guint8 *mask = g_malloc ((gsize) w * hgt);
      generate (seeds[k], w, hgt, rgb, mask);

      g_autofree gchar *props = g_strdup_printf ("pattern=still seed=%" G_GUINT64_FORMAT, seeds[k]);
      g_autofree gchar *caps = g_strdup_printf ("video/x-raw,format=RGBx,width=%d,height=%d", w, hgt);
      GstHarness *h = src_harness (props, caps);
      for (int i = 0; i < 3; i++) {
        GstBuffer *buf = gst_harness_pull (h);
        GstVideoInfo info;
        frame_info (h, &info);
        GstVideoFrame frame;
        check (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
        const guint8 *d = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
        const gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
        for (gint y = 0; y < hgt; y++)
          for (gint x = 0; x < w; x++)
            for (gint c = 0; c < 3; c++)
              g_assert_cmpint_eq (d[y * stride + 4 * x + c], rgb[(y * w + x) * 3 + c]);
        gst_video_frame_unmap (&frame);

        GstDermTruthMeta *m = gst_buffer_find_derm_truth_meta (buf);
        check (m != NULL);
        for (gint y = 0; y < hgt; y++)
          check_msg (memcmp (m->mask + y * m->stride, mask + y * w, w) == 0,
                       "mask row %d differs (seed %" G_GUINT64_FORMAT ", %dx%d)", y, seeds[k], w, hgt);
        gst_buffer_unref (buf);
      }
      gst_harness_teardown (h);
    }
  }
}

/* Y'CbCr output is the RGB one converted: compare the still image's luma and
 * chroma with BT.601 / BT.709 as the caps say. */
static void
test_yuv_matches_rgb (void)
{
  const gint w = 65, hgt = 49;
  g_autofree guint8 *rgb = g_malloc ((gsize) w * hgt * 3);
  g_autofree guint8 *mask = g_malloc ((gsize) w * hgt);
  generate (5, w, hgt, rgb, mask);

  for (guint f = 2; f < G_N_ELEMENTS (formats); f++) {
    g_autofree gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d",
                                              formats[f], w, hgt);
    GstHarness *h = src_harness ("pattern=still seed=5", caps);
    GstBuffer *buf = gst_harness_pull (h);
    GstVideoInfo info;
    frame_info (h, &info);
    gdouble kr, kb;
    check (gst_video_color_matrix_get_Kr_Kb (info.colorimetry.matrix, &kr, &kb));
    gboolean full = info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
    GstVideoFrame frame;
    check (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
    const guint8 *yp = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
    const guint8 *up = GST_VIDEO_FRAME_PLANE_DATA (&frame, 1);
    const gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), us = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 1);
    for (gint y = 0; y < hgt; y++) {
      for (gint x = 0; x < w; x++) {
        const guint8 *p = rgb + (y * w + x) * 3;
        gdouble luma = kr * p[0] + (1 - kr - kb) * p[1] + kb * p[2];
        gdouble want = full ? luma : 16 + luma * 219 / 255;
        check_msg (ABS (yp[y * ys + x] - want) <= 1.0, "%s Y at %d,%d: %d, want %.1f",
                     formats[f], x, y, yp[y * ys + x], want);
        if (x % 2 == 0 && y % 2 == 0 && x + 1 < w && y + 1 < hgt) {
          /* the chroma sample of this 2x2 block: Cb from the mean */
          gdouble cb = 0;
          for (gint dy = 0; dy < 2; dy++)
            for (gint dx = 0; dx < 2; dx++) {
              const guint8 *q = rgb + ((y + dy) * w + x + dx) * 3;
              gdouble l = kr * q[0] + (1 - kr - kb) * q[1] + kb * q[2];
              cb += (q[2] - l) / (2 * (1 - kb)) / 4;
            }
          gdouble want_cb = 128 + cb * (full ? 1.0 : 224.0 / 255);
          gint got = f == 2 ? up[(y / 2) * us + x / 2] : up[(y / 2) * us + x];
          check_msg (ABS (got - want_cb) <= 1.0, "%s Cb at %d,%d: %d, want %.1f", formats[f],
                       x, y, got, want_cb);
        }
      }
    }
    gst_video_frame_unmap (&frame);
    gst_buffer_unref (buf);
    gst_harness_teardown (h);
  }
}

/* ---- timestamps -------------------------------------------------------------- */

static void
test_timestamps_not_live (void)
{
  GstHarness *h = src_harness ("lesion-duration=0",
                               "video/x-raw,format=I420,width=32,height=24,framerate=30000/1001");
  GstClockTime expect = 0;
  for (guint64 i = 0; i < 40; i++) {
    GstBuffer *buf = gst_harness_pull (h);
    GstClockTime next = gst_util_uint64_scale (i + 1, 1001 * GST_SECOND, 30000);
    g_assert_cmpuint_eq (GST_BUFFER_PTS (buf), expect);
    g_assert_cmpuint_eq (GST_BUFFER_DURATION (buf), next - expect);
    g_assert_cmpuint_eq (GST_BUFFER_OFFSET (buf), i);
    g_assert_cmpuint_eq (GST_BUFFER_OFFSET_END (buf), i + 1);
    expect = next;
    gst_buffer_unref (buf);
  }
  gst_harness_teardown (h);
}

static GstPadProbeReturn
collect_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GPtrArray *bufs = user_data;
  g_ptr_array_add (bufs, gst_buffer_ref (GST_PAD_PROBE_INFO_BUFFER (info)));
  return GST_PAD_PROBE_OK;
}

/* Runs @desc (whose source is named "src") to EOS; returns its buffers. */
static GPtrArray *
run_pipeline (const gchar *desc, gint64 *elapsed_us)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipe = gst_parse_launch (desc, &error);
  check_msg (pipe != NULL, "%s", error ? error->message : "");
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstPad *pad = gst_element_get_static_pad (src, "src");
  GPtrArray *bufs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_buffer, bufs, NULL);

  gint64 t0 = g_get_monotonic_time ();
  check (gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
                                                GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  check_msg (msg != NULL, "timeout");
  g_assert_cmpint_eq (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  if (elapsed_us)
    *elapsed_us = g_get_monotonic_time () - t0;
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pad);
  gst_object_unref (src);
  gst_object_unref (pipe);
  return bufs;
}

static void
test_timestamps_live (void)
{
  gint64 elapsed;
  GPtrArray *bufs = run_pipeline ("dermsrc name=src is-live=true num-buffers=15 ! "
                                  "video/x-raw,width=64,height=48,framerate=30/1 ! "
                                  "fakesink sync=true", &elapsed);
  g_assert_cmpint_eq (bufs->len, 15);
  const GstClockTime d = gst_util_uint64_scale (1, GST_SECOND, 30);
  GstClockTime pts0 = GST_BUFFER_PTS (g_ptr_array_index (bufs, 0));
  check (GST_CLOCK_TIME_IS_VALID (pts0));
  for (guint i = 0; i < bufs->len; i++) {
    GstBuffer *b = g_ptr_array_index (bufs, i);
    GstClockTime want = pts0 + gst_util_uint64_scale (i, GST_SECOND, 30);
    g_assert_cmpuint_eq (GST_BUFFER_PTS (b), want);
    check (GST_BUFFER_DURATION (b) == d || GST_BUFFER_DURATION (b) == d + 1);
  }
  /* a live camera delivers at its pace: 15 frames take about half a second */
  check_msg (elapsed >= (gint64) (14 * d / 1000), "15 live frames in %" G_GINT64_FORMAT " us", elapsed);
  g_ptr_array_unref (bufs);
}

static void
test_latency_query (void)
{
  GstHarness *h = src_harness ("is-live=true", "video/x-raw,width=32,height=24,framerate=25/1");
  gst_buffer_unref (gst_harness_pull (h));
  GstQuery *q = gst_query_new_latency ();
  check (gst_pad_peer_query (h->sinkpad, q));
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency (q, &live, &min, &max);
  check (live);
  g_assert_cmpuint_eq (min, GST_SECOND / 25);
  g_assert_cmpuint_eq (max, GST_CLOCK_TIME_NONE);
  gst_query_unref (q);
  gst_harness_teardown (h);
}

/* ---- determinism, lesions ------------------------------------------------------ */

static GPtrArray *
pull_n (const gchar *props, const gchar *caps, guint n)
{
  GstHarness *h = src_harness (props, caps);
  GPtrArray *bufs = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (bufs, gst_harness_pull (h));
  gst_harness_teardown (h);
  return bufs;
}

static gboolean
same_content (GstBuffer *a, GstBuffer *b)
{
  GstMapInfo ma, mb;
  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  gboolean same = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  GstDermTruthMeta *ta = gst_buffer_find_derm_truth_meta (a), *tb = gst_buffer_find_derm_truth_meta (b);
  return same && memcmp (ta->mask, tb->mask, (gsize) ta->stride * ta->height) == 0;
}

static void
test_determinism_by_seed (void)
{
  const gchar *caps = "video/x-raw,format=NV12,width=160,height=120,framerate=10/1";
  GPtrArray *a = pull_n ("seed=11 lesion-duration=0.5", caps, 12);
  GPtrArray *b = pull_n ("seed=11 lesion-duration=0.5", caps, 12);
  GPtrArray *c = pull_n ("seed=12 lesion-duration=0.5", caps, 12);
  for (guint i = 0; i < a->len; i++) {
    check_msg (same_content (g_ptr_array_index (a, i), g_ptr_array_index (b, i)), "frame %u", i);
    check_msg (!(same_content (g_ptr_array_index (a, i), g_ptr_array_index (c, i))), "frame %u", i);
  }
  /* the camera moves: frames differ from one another */
  check (!(same_content (g_ptr_array_index (a, 0), g_ptr_array_index (a, 3))));
  g_ptr_array_unref (a);
  g_ptr_array_unref (b);
  g_ptr_array_unref (c);
}

static void
test_new_lesion_after_duration (void)
{
  /* 10 fps, a lesion every 0.3 s: frames 0-2 lesion 0, 3-5 lesion 1, ... */
  GPtrArray *a = pull_n ("seed=3 lesion-duration=0.3 pattern=still",
                         "video/x-raw,format=RGBx,width=96,height=72,framerate=10/1", 9);
  for (guint i = 0; i < a->len; i++) {
    GstDermTruthMeta *m = gst_buffer_find_derm_truth_meta (g_ptr_array_index (a, i));
    g_assert_cmpuint_eq (m->lesion_id, i / 3);
  }
  check (same_content (g_ptr_array_index (a, 0), g_ptr_array_index (a, 2)));
  check (!(same_content (g_ptr_array_index (a, 2), g_ptr_array_index (a, 3))));
  check (!(same_content (g_ptr_array_index (a, 5), g_ptr_array_index (a, 6))));

  /* lesion i is seed + i: the second lesion of seed 3 is the first of seed 4 */
  GPtrArray *b = pull_n ("seed=4 lesion-duration=0.3 pattern=still",
                         "video/x-raw,format=RGBx,width=96,height=72,framerate=10/1", 1);
  GstMapInfo ma, mb;
  gst_buffer_map (g_ptr_array_index (a, 3), &ma, GST_MAP_READ);
  gst_buffer_map (g_ptr_array_index (b, 0), &mb, GST_MAP_READ);
  check (memcmp (ma.data, mb.data, ma.size) == 0);
  gst_buffer_unmap (g_ptr_array_index (a, 3), &ma);
  gst_buffer_unmap (g_ptr_array_index (b, 0), &mb);
  g_ptr_array_unref (a);
  g_ptr_array_unref (b);
}

/* The moving camera's mask follows its image: the lesion (seed 3: a dark
 * one) is darker inside the mask than outside, at every frame, also at a
 * size warped at half resolution. */
static void
test_moving_mask_follows_image (void)
{
  const gint sizes[][2] = { { 320, 240 }, { 1440, 810 } };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    g_autofree gchar *caps = g_strdup_printf ("video/x-raw,format=I420,width=%d,height=%d,"
                                              "framerate=5/1", sizes[s][0], sizes[s][1]);
    GstHarness *h = src_harness ("seed=3 lesion-duration=0", caps);
    guint64 first_area = 0;
    gboolean moved = FALSE;
    for (int i = 0; i < 8; i++) {
      GstBuffer *buf = gst_harness_pull (h);
      GstVideoInfo info;
      frame_info (h, &info);
      GstDermTruthMeta *m = gst_buffer_find_derm_truth_meta (buf);
      check (m && m->width == sizes[s][0] && m->height == sizes[s][1]);
      GstVideoFrame frame;
      check (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
      const guint8 *yp = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
      gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
      double in = 0, out = 0;
      guint64 n_in = 0, n_out = 0;
      for (gint y = 0; y < m->height; y++)
        for (gint x = 0; x < m->width; x++) {
          if (m->mask[y * m->stride + x]) {
            in += yp[y * ys + x];
            n_in++;
          } else {
            out += yp[y * ys + x];
            n_out++;
          }
        }
      gst_video_frame_unmap (&frame);
      check (n_in > 0 && n_out > 0);
      check_msg (in / n_in < out / n_out - 20, "frame %d: luma %.1f inside, %.1f outside", i,
                   in / n_in, out / n_out);
      if (i == 0)
        first_area = n_in;
      else if (n_in != first_area)
        moved = TRUE;
      gst_buffer_unref (buf);
    }
    check_msg (moved, "the camera did not move");
    gst_harness_teardown (h);
  }
}

/* ---- EOS, still frames, meta through videoscale --------------------------------- */

static void
test_num_buffers_eos (void)
{
  GPtrArray *bufs = run_pipeline ("dermsrc name=src num-buffers=7 ! "
                                  "video/x-raw,width=48,height=32 ! fakesink", NULL);
  g_assert_cmpint_eq (bufs->len, 7);
  g_ptr_array_unref (bufs);

  /* framerate 0/1: one still frame, then EOS */
  bufs = run_pipeline ("dermsrc name=src ! video/x-raw,width=48,height=32,framerate=0/1 ! "
                       "fakesink", NULL);
  g_assert_cmpint_eq (bufs->len, 1);
  check (!GST_BUFFER_DURATION_IS_VALID (g_ptr_array_index (bufs, 0)));
  g_ptr_array_unref (bufs);
}

static GstPadProbeReturn
record_pts (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  const GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
  g_array_append_val ((GArray *) user_data, pts);
  return GST_PAD_PROBE_OK;
}

/* Seeks: forwards to [1 s, 2 s) gives exactly those frames, then EOS; a
 * reverse seek is refused (counting frames up through it never ended). */
static void
test_seek (void)
{
  GstElement *pipeline = gst_parse_launch ("dermsrc ! video/x-raw,width=48,height=32,"
                                           "framerate=10/1 ! fakesink name=sink sync=false", NULL);
  g_assert_nonnull (pipeline);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PAUSED), !=,
                   GST_STATE_CHANGE_FAILURE);
  g_assert_cmpint (gst_element_get_state (pipeline, NULL, NULL, 10 * GST_SECOND), ==,
                   GST_STATE_CHANGE_SUCCESS);

  check (!gst_element_seek (pipeline, -1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
                            GST_SEEK_TYPE_SET, GST_SECOND, GST_SEEK_TYPE_SET, 2 * GST_SECOND));
  check (gst_element_seek (pipeline, 1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH,
                           GST_SEEK_TYPE_SET, GST_SECOND, GST_SEEK_TYPE_SET, 2 * GST_SECOND));
  g_assert_cmpint (gst_element_get_state (pipeline, NULL, NULL, 10 * GST_SECOND), ==,
                   GST_STATE_CHANGE_SUCCESS);
  /* from here on: what the sink gets after the seek's preroll */
  GArray *pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, record_pts, pts, NULL);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 20 * GST_SECOND,
                                                GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  /* the prerolled frame at 1 s was taken before the probe; then 1.1 .. 1.9 s */
  g_assert_cmpuint (pts->len, ==, 9);
  for (guint i = 0; i < pts->len; i++)
    g_assert_cmpuint (g_array_index (pts, GstClockTime, i), ==, GST_SECOND + (i + 1) * GST_SECOND / 10);
  g_array_unref (pts);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}

static void
test_meta_through_videoscale (void)
{
  GstHarness *h = gst_harness_new_parse ("dermsrc pattern=still seed=1 num-buffers=2 ! "
                                         "capsfilter caps=video/x-raw,width=128,height=96 ! "
                                         "videoconvert ! videoscale ! "
                                         "capsfilter caps=video/x-raw,format=I420,width=64,height=48");
  gst_harness_play (h);
  GstBuffer *buf = gst_harness_pull (h);
  GstDermTruthMeta *m = gst_buffer_find_derm_truth_meta (buf);
  check (m != NULL);
  g_assert_cmpint_eq (m->width, 64);
  g_assert_cmpint_eq (m->height, 48);

  /* nearest neighbour of the 128 x 96 mask */
  guint8 full[128 * 96];
  g_autofree guint8 *rgb = g_malloc (128 * 96 * 3);
  generate (1, 128, 96, rgb, full);
  for (gint y = 0; y < 48; y++)
    for (gint x = 0; x < 64; x++)
      g_assert_cmpint_eq (m->mask[y * m->stride + x], full[(2 * y + 1) * 128 + 2 * x + 1]);
  gst_buffer_unref (buf);
  gst_harness_teardown (h);
}

/* ---- gst-inspect ------------------------------------------------------------------ */

static void
test_inspect_clean (void)
{
  g_autofree gchar *inspect = g_find_program_in_path ("gst-inspect-1.0");
  if (!inspect) {
    g_test_skip ("gst-inspect-1.0 is not installed");
    return;
  }
  gchar *argv[] = { inspect, (gchar *) "dermsrc", NULL };
  g_autofree gchar *out = NULL, *err = NULL;
  gint status;
  g_autoptr (GError) error = NULL;
  check_msg (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                             &error), "%s", error ? error->message : "");
  check_msg (g_spawn_check_wait_status (status, NULL), "gst-inspect-1.0 failed: %s", err);
  check_msg (err == NULL || *err == '\0', "gst-inspect-1.0 dermsrc wrote: %s", err);
  const gchar *expect[] = { "Source/Video", "seed", "is-live", "pattern", "lesion-duration",
                            "num-buffers", "still", "moving", "RGBx", "I420", "NV12", "RGBA" };
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    check_msg (strstr (out, expect[i]) != NULL, "gst-inspect-1.0 does not list %s", expect[i]);
  check (!(strstr (out, "WARNING") || strstr (out, "CRITICAL")));
}

/* ---- against lesionseg ------------------------------------------------------ */

/* dermsrc's ground truth scores the bundled model's masks live: the model
 * was trained on this generator's images (other seeds), so its Dice on
 * them must be high (0.98 pooled on 500 held-out synthetic images). */
static void
test_lesionseg_dice (void)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (
      "dermsrc num-buffers=12 seed=4242 pattern=moving ! video/x-raw,width=320,height=240 ! "
      "lesionseg mode=sync message=true backend=cpu ! fakesink", &error);
  g_assert_no_error (error);
  GstBus *bus = gst_element_get_bus (pipeline);
  check (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);

  double sum_dice = 0;
  int n = 0;
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    check_msg (msg != NULL, "no EOS within 60 s");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      g_error ("pipeline error: %s", err->message);
    }
    gboolean eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
    const GstStructure *st = gst_message_get_structure (msg);
    double dice;
    if (st && gst_structure_has_name (st, "lesionseg")) {
      check_msg (gst_structure_get_double (st, "dice", &dice),
                 "a lesionseg message without dice on a buffer with ground truth");
      sum_dice += dice;
      n++;
    }
    gst_message_unref (msg);
    if (eos)
      break;
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);

  check_msg (n == 12, "%d lesionseg messages for 12 frames", n);
  g_test_message ("mean Dice of the bundled model on dermsrc: %.4f", sum_dice / n);
  check_msg (sum_dice / n >= 0.9, "mean Dice %.4f below 0.9", sum_dice / n);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);

  g_test_add_func ("/dermsrc/caps-formats-and-sizes", test_caps_formats_and_sizes);
  g_test_add_func ("/dermsrc/caps-default-fixation", test_caps_default_fixation);
  g_test_add_func ("/dermsrc/still-is-the-generator", test_still_is_the_generator);
  g_test_add_func ("/dermsrc/yuv-matches-rgb", test_yuv_matches_rgb);
  g_test_add_func ("/dermsrc/timestamps-not-live", test_timestamps_not_live);
  g_test_add_func ("/dermsrc/timestamps-live", test_timestamps_live);
  g_test_add_func ("/dermsrc/latency-query", test_latency_query);
  g_test_add_func ("/dermsrc/determinism-by-seed", test_determinism_by_seed);
  g_test_add_func ("/dermsrc/new-lesion-after-duration", test_new_lesion_after_duration);
  g_test_add_func ("/dermsrc/moving-mask-follows-image", test_moving_mask_follows_image);
  g_test_add_func ("/dermsrc/num-buffers-eos", test_num_buffers_eos);
  g_test_add_func ("/dermsrc/seek", test_seek);
  g_test_add_func ("/dermsrc/meta-through-videoscale", test_meta_through_videoscale);
  g_test_add_func ("/dermsrc/inspect-clean", test_inspect_clean);
  g_test_add_func ("/dermsrc/lesionseg-dice", test_lesionseg_dice);
  return g_test_run ();
}
