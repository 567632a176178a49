/* lesionseg-embed: runs a lesionseg pipeline the way capture software
 * would, and prints what it learns.
 *
 *   lesionseg-embed                      # dermsrc ! lesionseg ! appsink, 300 frames
 *   lesionseg-embed --seconds 60 'dermsrc is-live=true ! video/x-raw,width=1920,height=1080 ! lesionseg ! fakesink sync=true'
 *
 * It reads, from each sample an appsink hands over, the GstLesionSegMeta
 * (mask, its age, measurements) and the ground truth dermsrc attached; from
 * the bus, the `lesionseg` element messages (one per inference: area, Dice
 * against the ground truth, backend); and with pad probes on the lesionseg
 * element, buffers in and out and the streaming thread's time per frame.
 * At the end it prints a summary, one "key: value" a line.
 *
 * The pipeline needs a lesionseg element; an appsink is optional (without
 * one, only the bus and the probes are read). GstLesionSegMeta is found by
 * name: applications do not link the plugin.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <gst/gst.h>

#include "gstlesionsegmeta.h"
#include "gstdermtruthmeta.h"

#define DEFAULT_PIPELINE \
  "dermsrc num-buffers=300 ! lesionseg message=true ! videoconvert ! appsink name=sink sync=false"

typedef struct {
  GMutex lock;

  /* probes on lesionseg's pads (streaming thread) */
  guint64 in, out;
  gint64 t_in;                /* when the buffer being processed arrived */
  gint64 cpu_in_ns;           /* the streaming thread's CPU clock then */
  gdouble stream_ms_sum, stream_cpu_ms_sum;
  gint64 first_out_us, last_out_us;

  /* appsink samples */
  guint64 samples, with_meta, with_truth;
  gdouble age_sum;
  guint max_age;

  /* bus messages */
  guint64 inferences, with_dice;
  gdouble dice_sum, inference_ms_sum;
  gchar *backend;
  gint64 first_msg_us, last_msg_us;
} Stats;

/* CPU time of the calling thread: the element's own work on the streaming
 * thread, without the time other threads held the core (wall time has it). */
static gint64
thread_cpu_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static GstPadProbeReturn
on_seg_sink (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Stats *st = user_data;
  g_mutex_lock (&st->lock);
  st->in++;
  st->t_in = g_get_monotonic_time ();
  st->cpu_in_ns = thread_cpu_ns ();
  g_mutex_unlock (&st->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_seg_src (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Stats *st = user_data;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&st->lock);
  st->out++;
  /* the element pushes from the thread that brought the frame in */
  st->stream_ms_sum += (now - st->t_in) / 1000.0;
  st->stream_cpu_ms_sum += (thread_cpu_ns () - st->cpu_in_ns) / 1e6;
  if (!st->first_out_us)
    st->first_out_us = now;
  st->last_out_us = now;
  g_mutex_unlock (&st->lock);
  return GST_PAD_PROBE_OK;
}

/* What capture software would do with a frame: read the mask and its
 * measurements. Here: count, and keep the mask's age. */
static GstFlowReturn
on_new_sample (GstElement *sink, gpointer user_data)
{
  Stats *st = user_data;
  GstSample *sample = NULL;
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  if (!sample)
    return GST_FLOW_EOS;

  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstLesionSegMeta *meta = gst_buffer_get_lesion_seg_meta (buf);
  GstDermTruthMeta *truth = gst_buffer_find_derm_truth_meta (buf);
  g_mutex_lock (&st->lock);
  st->samples++;
  if (meta) {
    st->with_meta++;
    st->age_sum += meta->age;
    st->max_age = MAX (st->max_age, meta->age);
    if (st->samples == 1 || st->samples % 100 == 0)
      g_print ("frame %" G_GUINT64_FORMAT ": mask %dx%d of ROI %d,%d %dx%d, age %u, area %"
               G_GINT64_FORMAT " px (%.1f %%)\n", st->samples, meta->mask_width,
               meta->mask_height, meta->roi.x, meta->roi.y, meta->roi.w, meta->roi.h, meta->age,
               meta->measurements.area_px, 100 * meta->measurements.area_fraction);
  }
  if (truth)
    st->with_truth++;
  g_mutex_unlock (&st->lock);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static void
on_element_message (Stats *st, const GstStructure *s)
{
  gdouble v;
  const gchar *backend;
  gint64 now = g_get_monotonic_time ();

  g_mutex_lock (&st->lock);
  st->inferences++;
  if (!st->first_msg_us)
    st->first_msg_us = now;
  st->last_msg_us = now;
  if (gst_structure_get_double (s, "dice", &v)) {
    st->dice_sum += v;
    st->with_dice++;
  }
  if (gst_structure_get_double (s, "inference-ms", &v))
    st->inference_ms_sum += v;
  if ((backend = gst_structure_get_string (s, "backend")) && !st->backend)
    st->backend = g_strdup (backend);
  g_mutex_unlock (&st->lock);
}

/* The first element of @factory in @pipeline, with a reference, or NULL. */
static GstElement *
find_by_factory (GstElement *pipeline, const char *factory)
{
  GValue item = G_VALUE_INIT;
  GstElement *found = NULL;
  GstIterator *it = gst_bin_iterate_all_by_element_factory_name (GST_BIN (pipeline), factory);
  if (it && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    found = g_value_dup_object (&item);
    g_value_unset (&item);
  }
  if (it)
    gst_iterator_free (it);
  return found;
}

int
main (int argc, char **argv)
{
  gdouble seconds = 0;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds,
      "Stop (with EOS) after this many seconds; 0 = run to the end", "S" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the summary", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[PIPELINE] - run a lesionseg pipeline");
  g_option_context_set_description (ctx, "Default pipeline: " DEFAULT_PIPELINE "\n");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }

  g_autofree gchar *desc = argc > 1 ? g_strjoinv (" ", argv + 1) : g_strdup (DEFAULT_PIPELINE);
  GstElement *pipeline = gst_parse_launch (desc, &error);
  if (!pipeline) {
    g_printerr ("could not build the pipeline: %s\n", error->message);
    return 1;
  }
  if (!GST_IS_BIN (pipeline)) {
    g_printerr ("the pipeline needs a lesionseg element\n");
    return 1;
  }
  GstElement *seg = find_by_factory (pipeline, "lesionseg");
  if (!seg) {
    g_printerr ("the pipeline has no lesionseg element\n");
    return 1;
  }

  Stats st = { 0 };
  g_mutex_init (&st.lock);
  GstPad *sinkpad = gst_element_get_static_pad (seg, "sink");
  GstPad *srcpad = gst_element_get_static_pad (seg, "src");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, on_seg_sink, &st, NULL);
  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER, on_seg_src, &st, NULL);
  GstElement *appsink = find_by_factory (pipeline, "appsink");
  if (appsink) {
    g_object_set (appsink, "emit-signals", TRUE, NULL);
    g_signal_connect (appsink, "new-sample", G_CALLBACK (on_new_sample), &st);
  }

  if (!quiet)
    g_print ("pipeline: %s\n", desc);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* the error message on the bus says why */
  }

  GstBus *bus = gst_element_get_bus (pipeline);
  gint64 start = g_get_monotonic_time ();
  gboolean eos_sent = FALSE, done = FALSE;
  int ret = 0;
  while (!done) {
    GstMessage *msg = gst_bus_timed_pop (bus, 50 * GST_MSECOND);
    if (seconds > 0 && !eos_sent && g_get_monotonic_time () - start >= seconds * 1e6) {
      gst_element_send_event (pipeline, gst_event_new_eos ());
      eos_sent = TRUE;
    }
    if (!msg)
      continue;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_EOS:
        done = TRUE;
        break;
      case GST_MESSAGE_ERROR: {
        g_autoptr (GError) err = NULL;
        g_autofree gchar *dbg = NULL;
        gst_message_parse_error (msg, &err, &dbg);
        g_printerr ("error from %s: %s\n%s\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
                    err->message, dbg ? dbg : "");
        ret = 1;
        done = TRUE;
        break;
      }
      case GST_MESSAGE_WARNING: {
        g_autoptr (GError) err = NULL;
        gst_message_parse_warning (msg, &err, NULL);
        g_printerr ("warning from %s: %s\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
        break;
      }
      case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure (msg);
        if (s && gst_structure_has_name (s, "lesionseg"))
          on_element_message (&st, s);
        break;
      }
      default:
        break;
    }
    gst_message_unref (msg);
  }
  gdouble wall = (g_get_monotonic_time () - start) / 1e6;
  gst_element_set_state (pipeline, GST_STATE_NULL);

  g_autofree gchar *active = NULL;
  g_object_get (seg, "active-backend", &active, NULL);
  gdouble span = (st.last_out_us - st.first_out_us) / 1e6;
  gdouble msg_span = (st.last_msg_us - st.first_msg_us) / 1e6;

  g_print ("frames: %" G_GUINT64_FORMAT "\n", st.out);
  g_print ("fps: %.2f\n", st.out > 1 && span > 0 ? (st.out - 1) / span : 0.0);
  g_print ("wall-seconds: %.2f\n", wall);
  g_print ("frames-in: %" G_GUINT64_FORMAT "\n", st.in);
  g_print ("frames-dropped: %" G_GUINT64_FORMAT "\n", st.in - st.out);
  g_print ("streaming-ms-per-frame: %.3f\n", st.out ? st.stream_ms_sum / st.out : 0.0);
  g_print ("streaming-cpu-ms-per-frame: %.3f\n", st.out ? st.stream_cpu_ms_sum / st.out : 0.0);
  g_print ("inferences: %" G_GUINT64_FORMAT "\n", st.inferences);
  g_print ("mask-refresh-hz: %.2f\n",
           st.inferences > 1 && msg_span > 0 ? (st.inferences - 1) / msg_span : 0.0);
  g_print ("inference-ms: %.1f\n", st.inferences ? st.inference_ms_sum / st.inferences : 0.0);
  if (st.with_dice)
    g_print ("mean-dice: %.4f\n", st.dice_sum / st.with_dice);
  else
    g_print ("mean-dice: n/a\n");
  g_print ("backend: %s\n", st.backend ? st.backend : active ? active : "?");
  if (appsink) {
    g_print ("samples: %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " with a mask, %"
             G_GUINT64_FORMAT " with ground truth)\n", st.samples, st.with_meta, st.with_truth);
    g_print ("mask-age: mean %.2f, max %u frames\n",
             st.with_meta ? st.age_sum / st.with_meta : 0.0, st.max_age);
  }

  g_free (st.backend);
  g_mutex_clear (&st.lock);
  if (appsink)
    gst_object_unref (appsink);
  gst_object_unref (sinkpad);
  gst_object_unref (srcpad);
  gst_object_unref (seg);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return ret;
}
