/* The lesionseg element under GstHarness, with the tiny test model (64 x 64).
 *
 * The overlay tests make the mask predictable without depending on the
 * random model: threshold=0 puts every pixel of the ROI in the mask (every
 * probability is >= 0), so the mask is exactly the ROI rectangle, and the
 * contour is the ring of contour-width pixels inside it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/controller/gstdirectcontrolbinding.h>
#include <gst/controller/gstinterpolationcontrolsource.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "gstlesionsegmeta.h"
#include "plugin-fixture.h"
#include "gstdermtruthmeta.h"
#include "lesionseg.h"
#include "rss.h"

static gchar *tiny_model;
static gchar *slow_model;   /* a bundled model: slow enough to keep the worker busy */

#define W 64
#define H 48
#define ROI_X 8
#define ROI_Y 6
#define ROI_W 32
#define ROI_H 24
#define CONTOUR 2
#define FILL_ARGB 0xff2080e0u
#define CONTOUR_ARGB 0xc0ff0000u
#define OPACITY 0.5

static const char *formats[] = {
  "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB", "ABGR", "RGB", "BGR", "I420", "NV12",
};

/* ---- helpers ------------------------------------------------------------ */

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
  gst_object_unref (e);   /* the harness holds it */
  return e;
}

static void
set_caps (GstHarness *h, const char *format, int w, int hgt)
{
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1",
                                 format, w, hgt);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
}

/* A frame whose every byte differs from its neighbours (so a blend that
 * lands one pixel off shows), PTS i frames of 30 fps. */
static GstBuffer *
make_frame (const char *format, int w, int hgt, guint i)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, gst_video_format_from_string (format), w, hgt);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (gsize k = 0; k < map.size; k++)
    map.data[k] = (guint8) ((k * 2654435761u + i * 97u) >> 13);
  gst_buffer_unmap (buf, &map);
  gst_buffer_add_video_meta (buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT (&info), w, hgt);
  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (i, GST_SECOND, 30);
  GST_BUFFER_DURATION (buf) = GST_SECOND / 30;
  return buf;
}

static guint8
blend (guint8 v, guint8 c, guint a)
{
  return (guint8) ((v * (255 - a) + c * a + 127) / 255);
}

static void
color_components (const GstVideoInfo *info, guint32 argb, guint8 out[3])
{
  const double R = ((argb >> 16) & 0xff) / 255.0, G = ((argb >> 8) & 0xff) / 255.0;
  const double B = (argb & 0xff) / 255.0;
  if (!GST_VIDEO_INFO_IS_YUV (info)) {
    out[0] = (argb >> 16) & 0xff;
    out[1] = (argb >> 8) & 0xff;
    out[2] = argb & 0xff;
    return;
  }
  gdouble kr, kb;
  g_assert_true (gst_video_color_matrix_get_Kr_Kb (info->colorimetry.matrix, &kr, &kb));
  gint off[4], scale[4];
  gst_video_color_range_offsets (info->colorimetry.range, info->finfo, off, scale);
  const double Y = kr * R + (1 - kr - kb) * G + kb * B;
  const double v[3] = { off[0] + Y * scale[0], off[1] + (B - Y) / (2 * (1 - kb)) * scale[1],
                        off[2] + (R - Y) / (2 * (1 - kr)) * scale[2] };
  for (int c = 0; c < 3; c++)
    out[c] = (guint8) CLAMP (floor (v[c] + 0.5), 0, 255);
}

static int contour_px = CONTOUR;   /* the contour width check_overlay expects */

/* 0 outside the ROI rectangle, 2 in its inner ring of contour_px pixels, 1 inside. */
static int
expected_class (int x, int y, int rx, int ry, int rw, int rh)
{
  if (x < rx || y < ry || x >= rx + rw || y >= ry + rh)
    return 0;
  if (x < rx + contour_px || y < ry + contour_px || x >= rx + rw - contour_px
      || y >= ry + rh - contour_px)
    return 2;
  return 1;
}

/* Checks every byte of @out against @in with the overlay @mode applied over
 * the rectangle (all bytes that no component of the overlay covers, such
 * as alpha and padding, unchanged). */
static void
check_overlay (const char *format, const char *mode, GstBuffer *in, GstBuffer *out,
               int rx, int ry, int rw, int rh)
{
  GstVideoInfo info;
  gchar *caps_str = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d", format, W, H);
  GstCaps *caps = gst_caps_from_string (caps_str);
  g_assert_true (gst_video_info_from_caps (&info, caps));
  gst_caps_unref (caps);
  g_free (caps_str);

  const gboolean fill = !strcmp (mode, "fill") || !strcmp (mode, "both");
  const gboolean contour = !strcmp (mode, "contour") || !strcmp (mode, "both");
  const guint fill_a = (0xff * (guint) (OPACITY * 255 + 0.5) + 127) / 255;
  const guint contour_a = CONTOUR_ARGB >> 24;
  guint8 fc[3], cc[3];
  color_components (&info, FILL_ARGB, fc);
  color_components (&info, CONTOUR_ARGB, cc);
  const int tol = GST_VIDEO_INFO_IS_YUV (&info) ? 1 : 0;

  GstVideoFrame fin, fexp;
  GstBuffer *expected = gst_buffer_copy_deep (in);
  g_assert_true (gst_video_frame_map (&fin, &info, in, GST_MAP_READ));
  g_assert_true (gst_video_frame_map (&fexp, &info, expected, GST_MAP_WRITE));
  for (int c = 0; c < 3; c++) {
    const int ws = GST_VIDEO_FORMAT_INFO_W_SUB (info.finfo, c);
    const int hs = GST_VIDEO_FORMAT_INFO_H_SUB (info.finfo, c);
    const int cw = GST_VIDEO_FRAME_COMP_WIDTH (&fin, c), ch = GST_VIDEO_FRAME_COMP_HEIGHT (&fin, c);
    for (int y = 0; y < ch; y++)
      for (int x = 0; x < cw; x++) {
        const int k = expected_class (x << ws, y << hs, rx, ry, rw, rh);
        guint8 *p = (guint8 *) GST_VIDEO_FRAME_COMP_DATA (&fexp, c)
                    + y * GST_VIDEO_FRAME_COMP_STRIDE (&fexp, c)
                    + x * GST_VIDEO_FRAME_COMP_PSTRIDE (&fexp, c);
        if (k == 2 && contour)
          *p = blend (*p, cc[c], contour_a);
        else if (k != 0 && fill)
          *p = blend (*p, fc[c], fill_a);
      }
  }
  gst_video_frame_unmap (&fexp);
  gst_video_frame_unmap (&fin);

  GstMapInfo me, mo;
  gst_buffer_map (expected, &me, GST_MAP_READ);
  gst_buffer_map (out, &mo, GST_MAP_READ);
  g_assert_cmpuint (me.size, ==, mo.size);
  for (gsize i = 0; i < me.size; i++)
    if (ABS ((int) me.data[i] - (int) mo.data[i]) > tol)
      g_error ("%s overlay=%s: byte %" G_GSIZE_FORMAT " is %u, expected %u", format, mode, i,
               mo.data[i], me.data[i]);
  gst_buffer_unmap (out, &mo);
  gst_buffer_unmap (expected, &me);
  gst_buffer_unref (expected);
}

static void
check_meta_rect (GstBuffer *out, int rx, int ry, int rw, int rh, GstClockTime source_pts,
                 guint age)
{
  GstLesionSegMeta *m = gst_buffer_get_lesion_seg_meta (out);
  g_assert_nonnull (m);
  g_assert_cmpint (m->roi.x, ==, rx);
  g_assert_cmpint (m->roi.y, ==, ry);
  g_assert_cmpint (m->roi.w, ==, rw);
  g_assert_cmpint (m->roi.h, ==, rh);
  g_assert_cmpint (m->mask_width, ==, 64);
  g_assert_cmpint (m->mask_height, ==, 64);
  for (int i = 0; i < m->mask_width * m->mask_height; i++)
    g_assert_cmpuint (m->mask[i], ==, 255);
  g_assert_cmpint (m->measurements.area_px, ==, (gint64) rw * rh);
  g_assert_cmpfloat (m->measurements.area_fraction, ==, 1.0);
  g_assert_cmpint (m->measurements.bbox_x, ==, rx);
  g_assert_cmpint (m->measurements.bbox_y, ==, ry);
  g_assert_cmpint (m->measurements.bbox_width, ==, rw);
  g_assert_cmpint (m->measurements.bbox_height, ==, rh);
  g_assert_cmpfloat_with_epsilon (m->measurements.centroid_x, rx + (rw - 1) / 2.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (m->measurements.centroid_y, ry + (rh - 1) / 2.0, 1e-9);
  g_assert_cmpuint (m->source_pts, ==, source_pts);
  g_assert_cmpuint (m->age, ==, age);

  GstVideoRegionOfInterestMeta *roi = gst_buffer_get_video_region_of_interest_meta (out);
  g_assert_nonnull (roi);
  g_assert_cmpstr (g_quark_to_string (roi->roi_type), ==, "lesion");
  g_assert_cmpuint (roi->x, ==, rx);
  g_assert_cmpuint (roi->y, ==, ry);
  g_assert_cmpuint (roi->w, ==, rw);
  g_assert_cmpuint (roi->h, ==, rh);
}

/* ---- overlay in every format --------------------------------------------- */

static void
test_formats_overlays (void)
{
  static const char *modes[] = { "none", "fill", "contour", "both" };
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    for (guint m = 0; m < G_N_ELEMENTS (modes); m++) {
      gchar *props = g_strdup_printf (
          "mode=sync threshold=0 cleanup=false roi=\"<%d,%d,%d,%d>\" overlay=%s "
          "fill-color=%u contour-color=%u opacity=%g contour-width=%d",
          ROI_X, ROI_Y, ROI_W, ROI_H, modes[m], FILL_ARGB, CONTOUR_ARGB, OPACITY, CONTOUR);
      GstHarness *h = harness_new (props);
      g_free (props);
      set_caps (h, formats[f], W, H);
      GstBuffer *in = make_frame (formats[f], W, H, 0);
      GstBuffer *keep = gst_buffer_copy_deep (in);
      g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
      GstBuffer *out = gst_harness_pull (h);
      check_overlay (formats[f], modes[m], keep, out, ROI_X, ROI_Y, ROI_W, ROI_H);
      check_meta_rect (out, ROI_X, ROI_Y, ROI_W, ROI_H, 0, 0);
      gst_buffer_unref (out);

      /* threshold=1: nothing is lesion, nothing is drawn, no ROI meta */
      if (m == 3) {
        g_object_set (harness_lesionseg (h), "threshold", 1.0f, NULL);
        in = make_frame (formats[f], W, H, 1);
        gst_buffer_unref (keep);
        keep = gst_buffer_copy_deep (in);
        g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
        out = gst_harness_pull (h);
        check_overlay (formats[f], "none", keep, out, 0, 0, 0, 0);
        GstLesionSegMeta *meta = gst_buffer_get_lesion_seg_meta (out);
        g_assert_nonnull (meta);
        g_assert_cmpint (meta->measurements.area_px, ==, 0);
        g_assert_null (gst_buffer_get_video_region_of_interest_meta (out));
        gst_buffer_unref (out);
      }
      gst_buffer_unref (keep);
      gst_harness_teardown (h);
    }
}

/* ---- async ---------------------------------------------------------------- */

static void
test_async (void)
{
  /* A bundled model at 640 x 480: the network takes far longer than a push. */
  gchar *desc = g_strdup_printf ("lesionseg model=\"%s\" backend=cpu mode=async", slow_model);
  GstHarness *h = gst_harness_new_parse (desc);
  g_free (desc);
  GstElement *e = harness_lesionseg (h);
  set_caps (h, "BGRx", 640, 480);

  double inference_ms;
  g_object_get (e, "inference-ms", &inference_ms, NULL);
  g_test_message ("network: %.1f ms a frame", inference_ms);

  /* A fast camera (500 fps) until a few masks have come back. */
  const int max_frames = 3000;
  double max_push = 0, total_push = 0;
  GHashTable *sources = g_hash_table_new (g_int64_hash, g_int64_equal);
  int with_mask = 0, n = 0;
  gint64 *keys = g_new (gint64, max_frames);
  for (int i = 0; i < max_frames && g_hash_table_size (sources) < 4; i++, n++) {
    GstBuffer *in = make_frame ("BGRx", 640, 480, i);
    const gint64 t0 = g_get_monotonic_time ();
    g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
    const double ms = (g_get_monotonic_time () - t0) / 1000.0;
    max_push = MAX (max_push, ms);
    total_push += ms;
    GstBuffer *out = gst_harness_pull (h);
    GstLesionSegMeta *m = gst_buffer_get_lesion_seg_meta (out);
    if (m) {
      with_mask++;
      /* the age is the distance to the frame the mask came from */
      const guint64 src = gst_util_uint64_scale_round (m->source_pts, 30, GST_SECOND);
      g_assert_cmpuint (src, <=, (guint64) i);
      g_assert_cmpuint (m->age, ==, (guint) (i - (int) src));
      guint age;
      g_object_get (e, "mask-age", &age, NULL);
      g_assert_cmpuint (age, ==, m->age);
      keys[i] = (gint64) src;
      g_hash_table_add (sources, &keys[i]);
    }
    gst_buffer_unref (out);
    g_usleep (2000);
  }
  g_object_get (e, "inference-ms", &inference_ms, NULL);
  g_test_message ("push: %.2f ms mean, %.2f ms max; %d of %d frames had a mask from %u inferences",
                  total_push / n, max_push, with_mask, n, g_hash_table_size (sources));
  /* Never waits for the network: every push is well under one inference. */
  g_assert_cmpfloat (max_push, <, MAX (inference_ms / 2, 5.0));
  g_assert_cmpfloat (inference_ms, >, 4 * total_push / n);
  /* Masks arrive and refresh, older than the frames they ride on. */
  g_assert_cmpint (with_mask, >, 0);
  g_assert_cmpuint (g_hash_table_size (sources), >=, 2);
  g_hash_table_unref (sources);
  g_free (keys);
  gst_harness_teardown (h);
}

/* ---- interval, sync ------------------------------------------------------- */

static void
test_interval (void)
{
  GstHarness *h = harness_new ("mode=sync interval=3 threshold=0 message=true");
  GstElement *e = harness_lesionseg (h);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  set_caps (h, "RGBA", W, H);
  for (int i = 0; i < 9; i++) {
    gst_harness_push (h, make_frame ("RGBA", W, H, i));
    GstBuffer *out = gst_harness_pull (h);
    const int src = i - i % 3;
    check_meta_rect (out, 0, 0, W, H, gst_util_uint64_scale (src, GST_SECOND, 30), i % 3);
    gst_buffer_unref (out);
  }
  /* one message per inference */
  int messages = 0;
  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    messages++;
    gst_message_unref (msg);
  }
  g_assert_cmpint (messages, ==, 3);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* Each frame gets the mask of its own content: the ROI moves every frame
 * (a property change while PLAYING) and each mask sits where its frame's
 * ROI was. Also checks the LATENCY answer. */
static void
test_sync_alignment (void)
{
  GstHarness *h = harness_new ("mode=sync threshold=0 overlay=fill "
                               "fill-color=0xff2080e0 opacity=0.5");
  GstElement *e = harness_lesionseg (h);
  set_caps (h, "RGBx", W, H);
  for (int i = 0; i < 8; i++) {
    gchar *roi = g_strdup_printf ("<%d,%d,%d,%d>", 2 * i, i, 20 + i, 16);
    gst_util_set_object_arg (G_OBJECT (e), "roi", roi);
    g_free (roi);
    GstBuffer *in = make_frame ("RGBx", W, H, i);
    GstBuffer *keep = gst_buffer_copy_deep (in);
    gst_harness_push (h, in);
    GstBuffer *out = gst_harness_pull (h);
    check_meta_rect (out, 2 * i, i, 20 + i, 16, GST_BUFFER_PTS (out), 0);
    check_overlay ("RGBx", "fill", keep, out, 2 * i, i, 20 + i, 16);
    gst_buffer_unref (keep);
    gst_buffer_unref (out);
  }

  GstQuery *q = gst_query_new_latency ();
  g_assert_true (gst_pad_peer_query (h->sinkpad, q));
  gboolean live;
  GstClockTime min, max;
  gst_query_parse_latency (q, &live, &min, &max);
  double ms;
  g_object_get (e, "inference-ms", &ms, NULL);
  g_test_message ("sync latency %" GST_TIME_FORMAT ", inference %.2f ms", GST_TIME_ARGS (min), ms);
  g_assert_cmpuint (min, >=, (GstClockTime) (ms * GST_MSECOND * 0.5));
  g_assert_cmpuint (min, >, 0);
  gst_query_unref (q);
  gst_harness_teardown (h);
}

/* mode=sync is known at start: the first LATENCY query, before any frame,
 * already counts the network (a sink with async=false asks only then). */
static void
test_sync_latency_before_first_frame (void)
{
  GstHarness *h = harness_new ("mode=sync");
  set_caps (h, "RGBx", W, H);
  GstQuery *q = gst_query_new_latency ();
  g_assert_true (gst_pad_peer_query (h->sinkpad, q));
  GstClockTime min;
  gst_query_parse_latency (q, NULL, &min, NULL);
  g_assert_cmpuint (min, >, 0);
  gst_query_unref (q);
  gst_harness_teardown (h);
}

/* ---- properties while PLAYING, caps changes --------------------------------- */

static void
test_properties_playing (void)
{
  GstHarness *h = harness_new ("mode=sync threshold=0 overlay=none");
  GstElement *e = harness_lesionseg (h);
  set_caps (h, "BGRA", W, H);
  GstBuffer *in, *keep, *out;

  /* overlay none -> nothing drawn, meta still there */
  in = make_frame ("BGRA", W, H, 0);
  keep = gst_buffer_copy_deep (in);
  gst_harness_push (h, in);
  out = gst_harness_pull (h);
  check_overlay ("BGRA", "none", keep, out, 0, 0, 0, 0);
  check_meta_rect (out, 0, 0, W, H, 0, 0);
  gst_buffer_unref (keep);
  gst_buffer_unref (out);

  /* overlay, colours, opacity, contour width, roi: the very next frame */
  g_object_set (e, "overlay", 3, "fill-color", FILL_ARGB, "contour-color", CONTOUR_ARGB,
                "opacity", OPACITY, "contour-width", CONTOUR, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "roi", "<8,6,32,24>");
  in = make_frame ("BGRA", W, H, 1);
  keep = gst_buffer_copy_deep (in);
  gst_harness_push (h, in);
  out = gst_harness_pull (h);
  check_overlay ("BGRA", "both", keep, out, ROI_X, ROI_Y, ROI_W, ROI_H);
  gst_buffer_unref (keep);
  gst_buffer_unref (out);

  /* contour-width changed while a mask made with the old one is shown
   * (interval): the old mask is redrawn with the new width */
  g_object_set (e, "interval", 100, NULL);
  g_object_set (e, "contour-width", 5, NULL);
  in = make_frame ("BGRA", W, H, 2);
  keep = gst_buffer_copy_deep (in);
  gst_harness_push (h, in);
  out = gst_harness_pull (h);
  g_assert_cmpuint (gst_buffer_get_lesion_seg_meta (out)->age, ==, 1);
  contour_px = 5;
  check_overlay ("BGRA", "both", keep, out, ROI_X, ROI_Y, ROI_W, ROI_H);
  contour_px = CONTOUR;
  gst_buffer_unref (keep);
  gst_buffer_unref (out);
  g_object_set (e, "interval", 1, "contour-width", CONTOUR, NULL);

  /* threshold: 1 makes the mask empty from the next inference on */
  g_object_set (e, "threshold", 1.0f, NULL);
  in = make_frame ("BGRA", W, H, 3);
  keep = gst_buffer_copy_deep (in);
  gst_harness_push (h, in);
  out = gst_harness_pull (h);
  check_overlay ("BGRA", "none", keep, out, 0, 0, 0, 0);
  g_assert_cmpint (gst_buffer_get_lesion_seg_meta (out)->measurements.area_px, ==, 0);
  g_assert_cmpfloat (gst_buffer_get_lesion_seg_meta (out)->threshold, ==, 1.0f);
  gst_buffer_unref (keep);
  gst_buffer_unref (out);

  /* smoothing: the mean probability moves only part of the way to a new
   * frame's; 0 again follows it at once */
  g_object_set (e, "threshold", 0.0f, "smoothing", 0.0f, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "roi", "<0,0,0,0>");
  double p[4];
  for (int i = 0; i < 4; i++) {
    if (i == 2)
      g_object_set (e, "smoothing", 0.9f, NULL);
    /* frames 0-1 one image, 2-3 a flat grey one */
    GstBuffer *b = make_frame ("BGRA", W, H, 10);
    if (i >= 2)
      gst_buffer_memset (b, 0, 128, gst_buffer_get_size (b));
    gst_harness_push (h, b);
    out = gst_harness_pull (h);
    p[i] = gst_buffer_get_lesion_seg_meta (out)->measurements.mean_probability;
    gst_buffer_unref (out);
  }
  GstHarness *ref = harness_new ("mode=sync threshold=0");
  set_caps (ref, "BGRA", W, H);
  GstBuffer *flat = make_frame ("BGRA", W, H, 0);
  gst_buffer_memset (flat, 0, 128, gst_buffer_get_size (flat));
  gst_harness_push (ref, flat);
  out = gst_harness_pull (ref);
  const double target = gst_buffer_get_lesion_seg_meta (out)->measurements.mean_probability;
  gst_buffer_unref (out);
  gst_harness_teardown (ref);
  g_test_message ("smoothing: %.5f %.5f -> %.5f %.5f (unsmoothed %.5f)", p[0], p[1], p[2], p[3],
                  target);
  g_assert_cmpfloat (fabs (p[0] - p[1]), <, 1e-6);
  if (fabs (target - p[1]) > 1e-4) {
    g_assert_cmpfloat_with_epsilon (p[2], 0.9 * p[1] + 0.1 * target, 1e-4);
    g_assert_cmpfloat (fabs (p[3] - target), <, fabs (p[2] - target));
  }
  gst_harness_teardown (h);
}

static void
test_resolution_change (void)
{
  for (int async = 0; async < 2; async++) {
    GstHarness *h = harness_new (async ? "mode=async threshold=0" : "mode=sync threshold=0");
    set_caps (h, "I420", W, H);
    for (int i = 0; i < 3; i++) {
      gst_harness_push (h, make_frame ("I420", W, H, i));
      gst_buffer_unref (gst_harness_pull (h));
    }
    set_caps (h, "NV12", 96, 72);
    gboolean seen = FALSE;
    for (int i = 3; i < 200 && !seen; i++) {
      GstBuffer *in = make_frame ("NV12", 96, 72, i);
      g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
      GstBuffer *out = gst_harness_pull (h);
      g_assert_cmpuint (gst_buffer_get_size (out), ==, 96 * 72 * 3 / 2);
      GstLesionSegMeta *m = gst_buffer_get_lesion_seg_meta (out);
      /* a mask of the old size never rides on a new frame */
      if (m) {
        g_assert_cmpint (m->roi.w, ==, 96);
        g_assert_cmpint (m->roi.h, ==, 72);
        g_assert_cmpint (m->measurements.area_px, ==, 96 * 72);
        seen = TRUE;
      }
      gst_buffer_unref (out);
      if (async)
        g_usleep (2000);
    }
    g_assert_true (seen);
    gst_harness_teardown (h);
  }
}

/* ---- errors ---------------------------------------------------------------- */

static gchar *
write_temp (const char *name, const guint8 *data, gsize size)
{
  gchar *path = g_build_filename (g_get_tmp_dir (), name, NULL);
  g_assert_true (g_file_set_contents (path, (const gchar *) data, size, NULL));
  return path;
}

/* The tiny model with its metadata edited: @from replaced by @to. */
static gchar *
edited_model (const char *name, const char *from, const char *to)
{
  gchar *data;
  gsize size;
  g_assert_true (g_file_get_contents (tiny_model, &data, &size, NULL));
  guint64 n;
  memcpy (&n, data, 8);
  n = GUINT64_FROM_LE (n);
  gchar *header = g_strndup (data + 8, n);
  gchar **parts = g_strsplit (header, from, 2);
  g_assert_nonnull (parts[1]);
  gchar *edited = g_strjoinv (to, parts);
  const guint64 m = strlen (edited);
  GByteArray *out = g_byte_array_new ();
  const guint64 le = GUINT64_TO_LE (m);
  g_byte_array_append (out, (const guint8 *) &le, 8);
  g_byte_array_append (out, (const guint8 *) edited, m);
  g_byte_array_append (out, (const guint8 *) data + 8 + n, size - 8 - n);
  gchar *path = write_temp (name, out->data, out->len);
  g_byte_array_unref (out);
  g_free (edited);
  g_strfreev (parts);
  g_free (header);
  g_free (data);
  return path;
}

static void
check_model_error (const char *path)
{
  /* what the core says about this file */
  GError *core = NULL;
  LsModel *model = ls_model_load (path, &core);
  g_assert_null (model);
  g_assert_nonnull (core);

  GstElement *e = gst_element_factory_make ("lesionseg", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model", path, NULL);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  GError *err = NULL;
  gchar *debug = NULL;
  gst_message_parse_error (msg, &err, &debug);
  g_test_message ("%s: %s (%s)", path, err->message, debug);
  g_assert_true (err->domain == GST_RESOURCE_ERROR);
  g_assert_nonnull (strstr (err->message, core->message));
  g_error_free (err);
  g_free (debug);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  g_error_free (core);
}

static void
test_model_errors (void)
{
  check_model_error ("/nonexistent/lesionseg-model.safetensors");

  static const guint8 garbage[] = "this is not a safetensors file, nowhere near";
  gchar *corrupt = write_temp ("lesionseg-test-corrupt.safetensors", garbage, sizeof garbage);
  check_model_error (corrupt);

  /* a truncated copy: header promises more than there is */
  gchar *data;
  gsize size;
  g_assert_true (g_file_get_contents (tiny_model, &data, &size, NULL));
  gchar *truncated = write_temp ("lesionseg-test-truncated.safetensors", (guint8 *) data, size / 2);
  g_free (data);
  check_model_error (truncated);

  /* another architecture, and this one with the wrong widths */
  gchar *arch = edited_model ("lesionseg-test-arch.safetensors", "iscf-effformer", "unet-resnet34");
  check_model_error (arch);
  gchar *dims = edited_model ("lesionseg-test-dims.safetensors", "16,32,48", "32,64,96");
  check_model_error (dims);

  /* an unreadable file (unless we are root) */
  if (getuid () != 0) {
    gchar *unreadable = write_temp ("lesionseg-test-unreadable.safetensors", garbage, sizeof garbage);
    g_chmod (unreadable, 0);
    check_model_error (unreadable);
    g_unlink (unreadable);
    g_free (unreadable);
  }
  for (gchar **p = (gchar *[]) { corrupt, truncated, arch, dims, NULL }; *p; p++) {
    g_unlink (*p);
    g_free (*p);
  }

  /* backend=vulkan on a build or machine without it: an error quoting the
   * core; wherever Vulkan works, it simply starts */
  GstElement *e = gst_element_factory_make ("lesionseg", NULL);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  g_object_set (e, "model", tiny_model, "backend", 2, NULL);
  GstStateChangeReturn ret = gst_element_set_state (e, GST_STATE_PAUSED);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    g_assert_nonnull (msg);
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_assert_nonnull (strstr (err->message, "Vulkan"));
    g_error_free (err);
    gst_message_unref (msg);
  } else {
    gchar *active;
    g_object_get (e, "active-backend", &active, NULL);
    g_assert_true (g_str_has_prefix (active, "vulkan:"));
    g_free (active);
  }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

/* ---- state cycles ---------------------------------------------------------- */

static void
test_state_cycles (void)
{
  gchar *desc = g_strdup_printf (
      "videotestsrc pattern=ball ! video/x-raw,format=I420,width=96,height=64 ! "
      "lesionseg model=\"%s\" backend=cpu mode=async message=true ! fakesink", tiny_model);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  g_assert_no_error (error);
  gsize before = 0;
  for (int i = 0; i < 200; i++) {
    g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                     GST_STATE_CHANGE_FAILURE);
    g_assert_cmpint (gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE), ==,
                     GST_STATE_CHANGE_SUCCESS);
    g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_NULL), ==,
                     GST_STATE_CHANGE_SUCCESS);
    if (i == 0)
      before = ls_test_rss_bytes ();
  }
  ls_test_check_rss ("200 NULL-PLAYING-NULL cycles", before, ls_test_rss_bytes ());
  gst_object_unref (pipeline);
}

/* ---- meta through videoscale ------------------------------------------------ */

static void
test_meta_videoscale (void)
{
  gchar *desc = g_strdup_printf (
      "lesionseg model=\"%s\" backend=cpu mode=sync threshold=0 roi=\"<8,6,32,24>\" ! videoscale",
      tiny_model);
  GstHarness *h = gst_harness_new_parse (desc);
  g_free (desc);
  set_caps (h, "RGBx", W, H);
  gst_harness_set_sink_caps_str (h, "video/x-raw,format=RGBx,width=128,height=72");
  gst_harness_push (h, make_frame ("RGBx", W, H, 0));
  GstBuffer *out = gst_harness_pull (h);

  int n = 0;
  gpointer state = NULL;
  GstMeta *meta;
  while ((meta = gst_buffer_iterate_meta_filtered (out, &state, gst_lesion_seg_meta_api_lookup ())))
    n++;
  g_assert_cmpint (n, ==, 1);
  GstLesionSegMeta *m = gst_buffer_get_lesion_seg_meta (out);
  /* x doubles, y grows by 1.5 */
  g_assert_cmpint (m->roi.x, ==, 16);
  g_assert_cmpint (m->roi.y, ==, 9);
  g_assert_cmpint (m->roi.w, ==, 64);
  g_assert_cmpint (m->roi.h, ==, 36);
  g_assert_cmpint (m->measurements.bbox_x, ==, 16);
  g_assert_cmpint (m->measurements.bbox_width, ==, 64);
  g_assert_cmpint (m->measurements.bbox_height, ==, 36);
  g_assert_cmpint (m->measurements.area_px, ==, 32 * 24 * 3);
  g_assert_cmpfloat (m->measurements.area_fraction, ==, 1.0);
  g_assert_cmpint (m->mask_width, ==, 64);
  g_assert_cmpuint (m->mask[0], ==, 255);
  GstVideoRegionOfInterestMeta *roi = gst_buffer_get_video_region_of_interest_meta (out);
  g_assert_nonnull (roi);
  g_assert_cmpuint (roi->x, ==, 16);
  g_assert_cmpuint (roi->w, ==, 64);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* ---- the bus message --------------------------------------------------------- */

/* The ground-truth meta belongs to dermsrc, in the same plugin; creating a
 * dermsrc registers it, and the test reaches it by name without linking. */
static const GstMetaInfo *
truth_meta_info (void)
{
  GstElement *src = gst_element_factory_make ("dermsrc", NULL);
  g_assert_nonnull (src);
  gst_object_unref (src);
  const GstMetaInfo *info = gst_meta_get_info ("GstDermTruthMeta");
  g_assert_nonnull (info);
  return info;
}

/* ---- flushing seeks, controlled properties -------------------------------- */

/* The mean probability the next inference message on @bus reports. */
static double
pop_mean_probability (GstBus *bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  g_assert_nonnull (msg);
  double p = -1;
  g_assert_true (gst_structure_get_double (gst_message_get_structure (msg),
                                           "mean-probability", &p));
  gst_message_unref (msg);
  return p;
}

/* The mean probability of the one inference that pushing @in through @h
 * makes (mode=sync, message=true); @in is consumed. */
static double
mean_probability_of (GstHarness *h, GstBus *bus, GstBuffer *in)
{
  gst_harness_push (h, in);
  gst_buffer_unref (gst_harness_pull (h));
  return pop_mean_probability (bus);
}

/* What a fresh element (no history to average) says of @in at @w x @hgt. */
static double
fresh_mean_probability (const char *props, int w, int hgt, GstBuffer *in)
{
  GstHarness *h = harness_new (props);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (harness_lesionseg (h), bus);
  set_caps (h, "RGBA", w, hgt);
  const double p = mean_probability_of (h, bus, in);
  gst_element_set_bus (harness_lesionseg (h), NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  return p;
}

/* After a flushing seek the old mask is neither shown (interval 10 would
 * have kept it for 9 frames) nor averaged into the new one. */
static void
test_flush (void)
{
  const char *props = "mode=sync interval=10 threshold=0 smoothing=0.9 message=true";
  GstHarness *h = harness_new (props);
  GstElement *e = harness_lesionseg (h);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  set_caps (h, "RGBA", W, H);
  for (int i = 0; i < 4; i++) {
    gst_harness_push (h, make_frame ("RGBA", W, H, i));
    gst_buffer_unref (gst_harness_pull (h));
  }
  gst_bus_set_flushing (bus, TRUE);
  gst_bus_set_flushing (bus, FALSE);

  g_assert_true (gst_harness_push_event (h, gst_event_new_flush_start ()));
  g_assert_true (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  g_assert_true (gst_harness_push_event (h, gst_event_new_segment (&segment)));

  GstBuffer *after = make_frame ("RGBA", W, H, 50);
  const GstClockTime pts = GST_BUFFER_PTS (after);
  const double want = fresh_mean_probability (props, W, H, gst_buffer_copy_deep (after));
  gst_harness_push (h, after);
  GstBuffer *out = gst_harness_pull (h);
  check_meta_rect (out, 0, 0, W, H, pts, 0);
  gst_buffer_unref (out);
  const double got = pop_mean_probability (bus);
  g_test_message ("mean probability after the flush %.6f, fresh %.6f", got, want);
  g_assert_cmpfloat_with_epsilon (got, want, 1e-6);

  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* The smoothing average restarts when the frame size changes, even where
 * the (clipped) ROI stays the same rectangle. */
static void
test_smoothing_restarts_on_new_size (void)
{
  const char *props = "mode=sync threshold=0 smoothing=0.9 message=true roi=<0,0,32,24>";
  GstHarness *h = harness_new (props);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (harness_lesionseg (h), bus);
  set_caps (h, "RGBA", W, H);
  for (int i = 0; i < 3; i++)
    mean_probability_of (h, bus, make_frame ("RGBA", W, H, i));

  set_caps (h, "RGBA", 2 * W, 2 * H);
  GstBuffer *big = make_frame ("RGBA", 2 * W, 2 * H, 9);
  const double want = fresh_mean_probability (props, 2 * W, 2 * H, gst_buffer_copy_deep (big));
  const double got = mean_probability_of (h, bus, big);
  g_test_message ("mean probability at the new size %.6f, fresh %.6f", got, want);
  g_assert_cmpfloat_with_epsilon (got, want, 1e-6);

  gst_element_set_bus (harness_lesionseg (h), NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* GST_PARAM_CONTROLLABLE means something: opacity follows a control
 * source at each frame's stream time, and draws with that value. */
static void
test_controlled_opacity (void)
{
  GstHarness *h = harness_new ("mode=sync threshold=0 overlay=fill opacity=1");
  GstElement *e = harness_lesionseg (h);
  GstControlSource *cs = gst_interpolation_control_source_new ();
  g_object_set (cs, "mode", GST_INTERPOLATION_MODE_LINEAR, NULL);
  GstTimedValueControlSource *tv = GST_TIMED_VALUE_CONTROL_SOURCE (cs);
  g_assert_true (gst_timed_value_control_source_set (tv, 0, 0.0));
  g_assert_true (gst_timed_value_control_source_set (tv, GST_SECOND, 1.0));
  g_assert_true (gst_object_add_control_binding (GST_OBJECT (e),
      gst_direct_control_binding_new (GST_OBJECT (e), "opacity", cs)));
  set_caps (h, "RGBA", W, H);

  for (int i = 0; i <= 30; i += 15) {   /* 0, 0.5 and 1 s */
    GstBuffer *in = make_frame ("RGBA", W, H, i);
    GstBuffer *keep = gst_buffer_copy_deep (in);
    gst_harness_push (h, in);
    GstBuffer *out = gst_harness_pull (h);
    double opacity;
    g_object_get (e, "opacity", &opacity, NULL);
    g_assert_cmpfloat_with_epsilon (opacity, i / 30.0, 1e-9);
    GstMapInfo a, b;
    gst_buffer_map (keep, &a, GST_MAP_READ);
    gst_buffer_map (out, &b, GST_MAP_READ);
    /* opacity 0 leaves the frame as it came; otherwise the fill shows */
    g_assert_true ((memcmp (a.data, b.data, a.size) == 0) == (i == 0));
    gst_buffer_unmap (keep, &a);
    gst_buffer_unmap (out, &b);
    gst_buffer_unref (keep);
    gst_buffer_unref (out);
  }
  gst_object_unref (cs);
  gst_harness_teardown (h);
}

static void
test_message_fields (void)
{
  GstHarness *h = harness_new ("mode=sync threshold=0 message=true pixels-per-mm=4");
  GstElement *e = harness_lesionseg (h);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (e, bus);
  set_caps (h, "RGB", W, H);

  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  segment.base = 10 * GST_SECOND;
  segment.time = 100 * GST_SECOND;
  gst_harness_push_event (h, gst_event_new_segment (&segment));

  GstBuffer *in = make_frame ("RGB", W, H, 3);
  const GstMetaInfo *truth_info = truth_meta_info ();
  if (truth_info) {
    /* padded rows: the element must read the stride */
    const int stride = W + 3;
    guint8 *mask = g_malloc0 ((gsize) stride * H);
    for (int y = 0; y < 24; y++)
      memset (mask + y * stride, 255, 32);
    g_autoptr (GBytes) bytes = g_bytes_new_take (mask, (gsize) stride * H);
    GstDermTruthMeta *t = (GstDermTruthMeta *) gst_buffer_add_meta (in, truth_info, NULL);
    t->width = W;
    t->height = H;
    t->stride = stride;
    t->bytes = g_bytes_ref (bytes);
    t->mask = g_bytes_get_data (bytes, NULL);
  } else {
    g_test_message ("no GstDermTruthMeta registered: dice/iou not checked");
  }
  gst_harness_push (h, in);
  gst_buffer_unref (gst_harness_pull (h));

  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  g_assert_nonnull (msg);
  const GstStructure *s = gst_message_get_structure (msg);
  g_assert_true (gst_structure_has_name (s, "lesionseg"));
  gchar *str = gst_structure_to_string (s);
  g_test_message ("%s", str);
  g_free (str);

  static const struct { const char *name; GType type; } fields[] = {
    { "timestamp", G_TYPE_UINT64 }, { "stream-time", G_TYPE_UINT64 },
    { "running-time", G_TYPE_UINT64 }, { "area-px", G_TYPE_INT64 },
    { "area-fraction", G_TYPE_DOUBLE }, { "area-mm2", G_TYPE_DOUBLE },
    { "bbox-x", G_TYPE_INT }, { "bbox-y", G_TYPE_INT }, { "bbox-width", G_TYPE_INT },
    { "bbox-height", G_TYPE_INT }, { "centroid-x", G_TYPE_DOUBLE },
    { "centroid-y", G_TYPE_DOUBLE }, { "max-diameter", G_TYPE_DOUBLE },
    { "mean-probability", G_TYPE_DOUBLE }, { "asymmetry", G_TYPE_DOUBLE },
    { "border-irregularity", G_TYPE_DOUBLE }, { "inference-ms", G_TYPE_DOUBLE },
    { "backend", G_TYPE_STRING },
  };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    g_assert_true (gst_structure_has_field_typed (s, fields[i].name, fields[i].type));

  guint64 ts, st, rt;
  gst_structure_get_uint64 (s, "timestamp", &ts);
  gst_structure_get_uint64 (s, "stream-time", &st);
  gst_structure_get_uint64 (s, "running-time", &rt);
  const GstClockTime pts = gst_util_uint64_scale (3, GST_SECOND, 30);
  g_assert_cmpuint (ts, ==, pts);
  g_assert_cmpuint (st, ==, 100 * GST_SECOND + pts);
  g_assert_cmpuint (rt, ==, 10 * GST_SECOND + pts);

  gint64 area;
  double v;
  gst_structure_get_int64 (s, "area-px", &area);
  g_assert_cmpint (area, ==, W * H);
  gst_structure_get_double (s, "area-mm2", &v);
  g_assert_cmpfloat_with_epsilon (v, W * H / 16.0, 1e-9);
  gst_structure_get_double (s, "max-diameter", &v);
  g_assert_cmpfloat_with_epsilon (v, sqrt (63.0 * 63 + 47 * 47), 1e-9);
  gst_structure_get_double (s, "asymmetry", &v);
  g_assert_cmpfloat (v, ==, 0.0);
  gst_structure_get_double (s, "border-irregularity", &v);
  g_assert_cmpfloat (v, >, 1.0);
  gst_structure_get_double (s, "mean-probability", &v);
  g_assert_cmpfloat (v, >, 0.0);
  g_assert_cmpfloat (v, <, 1.0);
  gchar *active;
  g_object_get (e, "active-backend", &active, NULL);
  g_assert_cmpstr (gst_structure_get_string (s, "backend"), ==, active);
  g_free (active);

  if (truth_info) {
    /* our mask: the whole frame (3072 px); truth: 32 x 24 = 768 px inside it */
    double dice, iou;
    g_assert_true (gst_structure_get_double (s, "dice", &dice));
    g_assert_true (gst_structure_get_double (s, "iou", &iou));
    g_assert_cmpfloat_with_epsilon (dice, 2.0 * 768 / (3072 + 768), 1e-12);
    g_assert_cmpfloat_with_epsilon (iou, 768.0 / 3072, 1e-12);
  }
  g_assert_false (gst_structure_has_field (s, "dice") && !truth_info);
  gst_message_unref (msg);

  /* no pixels-per-mm, no area-mm2 */
  g_object_set (e, "pixels-per-mm", 0.0, NULL);
  gst_harness_push (h, make_frame ("RGB", W, H, 4));
  gst_buffer_unref (gst_harness_pull (h));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  g_assert_nonnull (msg);
  g_assert_false (gst_structure_has_field (gst_message_get_structure (msg), "area-mm2"));
  g_assert_false (gst_structure_has_field (gst_message_get_structure (msg), "dice"));
  gst_message_unref (msg);

  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

/* ---- gst-inspect ------------------------------------------------------------ */

static void
test_inspect (void)
{
  gchar *argv[] = { "gst-inspect-1.0", "lesionseg", NULL };
  gchar *out = NULL, *err = NULL;
  gint status;
  GError *error = NULL;
  g_assert_true (g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("gst-inspect-1.0 lesionseg failed:\n%s\n%s", out, err);
  g_assert_null (strstr (out, "WARNING"));
  g_assert_null (strstr (out, "CRITICAL"));
  g_assert_null (strstr (err, "WARNING"));
  g_assert_null (strstr (err, "CRITICAL"));
  static const char *expect[] = {
    "Filter/Analyzer/Video", "model", "backend", "device", "mode", "interval", "roi",
    "threshold", "smoothing", "cleanup", "overlay", "fill-color", "contour-color", "opacity",
    "contour-width", "message", "pixels-per-mm", "active-backend", "inference-ms", "mask-age",
    "I420", "NV12", "xBGR", "changeable in NULL, READY, PAUSED or PLAYING state",
    "changeable only in NULL or READY state",
  };
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    if (!strstr (out, expect[i]))
      g_error ("gst-inspect-1.0 lesionseg does not list \"%s\":\n%s", expect[i], out);
  g_free (out);
  g_free (err);
}

int
main (int argc, char **argv)
{
  lseg_test_init (&argc, &argv, &tiny_model, &slow_model);

  g_test_add_func ("/lesionseg/formats-overlays", test_formats_overlays);
  g_test_add_func ("/lesionseg/async", test_async);
  g_test_add_func ("/lesionseg/interval", test_interval);
  g_test_add_func ("/lesionseg/sync-alignment", test_sync_alignment);
  g_test_add_func ("/lesionseg/properties-playing", test_properties_playing);
  g_test_add_func ("/lesionseg/resolution-change", test_resolution_change);
  g_test_add_func ("/lesionseg/model-errors", test_model_errors);
  g_test_add_func ("/lesionseg/state-cycles", test_state_cycles);
  g_test_add_func ("/lesionseg/meta-videoscale", test_meta_videoscale);
  g_test_add_func ("/lesionseg/message-fields", test_message_fields);
  g_test_add_func ("/lesionseg/sync-latency-before-first-frame",
                   test_sync_latency_before_first_frame);
  g_test_add_func ("/lesionseg/flush", test_flush);
  g_test_add_func ("/lesionseg/smoothing-restarts-on-new-size", test_smoothing_restarts_on_new_size);
  g_test_add_func ("/lesionseg/controlled-opacity", test_controlled_opacity);
  g_test_add_func ("/lesionseg/inspect", test_inspect);
  const int ret = g_test_run ();
  g_free (tiny_model);
  g_free (slow_model);
  return ret;
}
