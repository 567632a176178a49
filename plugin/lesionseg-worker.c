/* lesionseg: the network's side — a job in, a published mask out, either on
 * the worker thread (async: the newest frame wins, nothing queues) or on the
 * streaming thread (sync).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg-worker.h"
#include "lesionseg-report.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

GST_DEBUG_CATEGORY_EXTERN (gst_lesion_seg_debug);
#define GST_CAT_DEFAULT gst_lesion_seg_debug

struct _LsegWorker {
  /* set by lseg_worker_new () */
  GstElement *element;               /* errors, messages and the debug log go here */
  LsEngine *engine;                  /* the element's; outlives the worker */
  int net_width, net_height;         /* the engine's input size */
  LsegNetworkTimeFunc network_time;

  /* the worker and its hand-over, under lock */
  GMutex lock;
  GCond cond;
  GThread *thread;
  gboolean stopping;
  gboolean busy;
  gboolean failed;
  LsegJob *pending;                  /* the newest frame waiting for the network */
  LsegJob *spare;                    /* a finished job kept for reuse */
  LsegResult *latest;                /* the newest finished mask */
  guint epoch;                       /* flushes so far: older jobs' masks are dropped */
  guint64 replaced;                  /* frames a newer one replaced before the network took them */
  gint64 busy_since;                 /* monotonic us when the worker took its job */
  double job_us;                     /* running mean of a job's time on the worker, us */

  /* the network's private state (worker, or streaming thread in sync mode) */
  float *prob, *ema;
  LsRect ema_roi;
  int ema_frame_width, ema_frame_height;
  guint ema_epoch;
  gboolean ema_valid;
  guint8 *roi_mask;
  gsize roi_mask_size;
  float *logits;
};

/* Runs on the worker in async mode, on the streaming thread in sync mode;
 * never both at once. Probability map -> smoothing -> threshold at ROI size
 * (bilinear, only inside the box that can reach the threshold) -> cleanup
 * -> measurements -> class map for the overlay. */
static LsegResult *
process_job (LsegWorker *w, const LsegJob *job, GError **error)
{
  const int nw = w->net_width, nh = w->net_height;
  const gsize n = (gsize) nw * nh;

  const gint64 t0 = g_get_monotonic_time ();
  if (!ls_engine_run_tensor (w->engine, job->tensor, w->logits, error))
    return NULL;
  const double ms = (g_get_monotonic_time () - t0) / 1000.0;

  for (gsize i = 0; i < n; i++)
    w->prob[i] = 1.0f / (1.0f + expf (-w->logits[i]));

  /* The average only means something over the same region of the same
   * frame size in the same stretch of the stream; anything else (another
   * ROI, frame size, or a flush between) starts it afresh. */
  const gboolean same = w->ema_valid && job->epoch == w->ema_epoch &&
      job->frame_width == w->ema_frame_width && job->frame_height == w->ema_frame_height &&
      memcmp (&w->ema_roi, &job->roi, sizeof job->roi) == 0;
  if (job->smoothing > 0 && same) {
    const float s = job->smoothing;
    for (gsize i = 0; i < n; i++)
      w->ema[i] = s * w->ema[i] + (1.0f - s) * w->prob[i];
  } else {
    memcpy (w->ema, w->prob, n * sizeof (float));
  }
  w->ema_roi = job->roi;
  w->ema_frame_width = job->frame_width;
  w->ema_frame_height = job->frame_height;
  w->ema_epoch = job->epoch;
  w->ema_valid = TRUE;
  const float *p = w->ema;

  const int rw = job->roi.width, rh = job->roi.height;
  const gsize rsize = (gsize) rw * rh;
  if (w->roi_mask_size < rsize) {
    g_free (w->roi_mask);
    w->roi_mask = g_malloc (rsize);
    w->roi_mask_size = rsize;
  }
  guint8 *mask = w->roi_mask;
  ls_mask_from_prob (p, nw, nh, job->threshold, mask, rw, rh, rw);
  if (job->cleanup)
    ls_mask_cleanup (mask, rw, rh, rw, LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION);
  LsMeasurements lm;
  LsShapeMeasurements shape;
  ls_mask_measure (mask, rw, rh, rw, p, nw, nh, &lm);
  ls_mask_measure_shape (mask, rw, rh, rw, &shape);

  guint8 *net = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    net[i] = p[i] >= job->threshold ? 255 : 0;
  if (job->cleanup)
    ls_mask_cleanup (net, nw, nh, nw, LS_CLEANUP_FILL_HOLES | LS_CLEANUP_LARGEST_REGION);

  LsegResult *r = lseg_result_new ();
  r->seq = job->seq;
  r->pts = job->pts;
  r->frame_width = job->frame_width;
  r->frame_height = job->frame_height;
  r->roi = job->roi;
  r->mask_net = g_bytes_new_take (net, n);
  r->net_width = nw;
  r->net_height = nh;
  r->threshold = job->threshold;
  r->backend = g_intern_string (ls_engine_get_backend_name (w->engine));
  lseg_class_map_build (&r->map, mask, rw, job->roi.x, job->roi.y, lm.bbox_x, lm.bbox_y,
                        lm.bbox_width, lm.bbox_height, job->contour_width);
  lseg_report_measure (job, mask, &lm, &shape, ms, &r->m);

  w->network_time (w->element, ms);

  GST_LOG_OBJECT (w->element, "frame %" G_GUINT64_FORMAT ": %.2f ms network, %.2f ms in all, "
                  "area %" G_GINT64_FORMAT, job->seq, ms,
                  (g_get_monotonic_time () - t0) / 1000.0, lm.area);
  if (job->message)
    lseg_report_post_message (w->element, job, r);
  return r;
}

/* Under w->lock. A mask of a frame from before a flush is dropped: the
 * stream it belongs to is gone. */
static void
publish (LsegWorker *w, const LsegJob *job, LsegResult *r)
{
  if (job->epoch != w->epoch) {
    lseg_result_unref (r);
    return;
  }
  LsegResult *old = w->latest;
  w->latest = r;
  lseg_result_unref (old);
}

/* The worker runs below the streaming thread: where the network and the
 * video share the CPU cores, a frame must never wait for a core the network
 * holds, while the network only loses a little refresh rate. Linux keeps a
 * nice value per thread, and the OpenMP team this thread starts for the CPU
 * backend inherits it. Raising one's own nice value needs no privilege. */
#define LSEG_WORKER_NICE 5

static void
lower_worker_priority (LsegWorker *w)
{
#ifdef __linux__
  errno = 0;
  const int nice_now = getpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid));
  if (errno == 0 && setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), nice_now + LSEG_WORKER_NICE) == 0)
    GST_DEBUG_OBJECT (w->element, "worker at nice %d", nice_now + LSEG_WORKER_NICE);
  else
    GST_DEBUG_OBJECT (w->element, "worker priority unchanged: %s", g_strerror (errno));
#endif
}

static gpointer
worker_main (gpointer data)
{
  LsegWorker *w = data;
  lower_worker_priority (w);

  g_mutex_lock (&w->lock);
  for (;;) {
    while (!w->stopping && w->pending == NULL)
      g_cond_wait (&w->cond, &w->lock);
    if (w->stopping)
      break;
    LsegJob *job = w->pending;
    w->pending = NULL;
    w->busy = TRUE;
    w->busy_since = g_get_monotonic_time ();
    g_mutex_unlock (&w->lock);

    GError *error = NULL;
    LsegResult *r = process_job (w, job, &error);
    if (r == NULL) {
      GST_ELEMENT_ERROR (w->element, LIBRARY, FAILED,
                         ("Lesion segmentation failed: %s", error->message), (NULL));
      g_clear_error (&error);
    }

    g_mutex_lock (&w->lock);
    w->busy = FALSE;
    const double took = (double) (g_get_monotonic_time () - w->busy_since);
    w->job_us = w->job_us > 0 ? 0.8 * w->job_us + 0.2 * took : took;
    if (r)
      publish (w, job, r);
    else
      w->failed = TRUE;
    if (w->spare == NULL)
      w->spare = job;
    else
      lseg_job_free (job);
    g_cond_broadcast (&w->cond);
  }
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* The worker thread starts in every mode: sync or async is only known at
 * the element's first buffer, and an idle thread costs nothing. */
LsegWorker *
lseg_worker_new (GstElement *element, LsEngine *engine, LsegNetworkTimeFunc network_time,
                 double *warmup_ms, GError **error)
{
  LsegWorker *w = g_new0 (LsegWorker, 1);
  w->element = element;
  w->engine = engine;
  w->net_width = ls_engine_get_width (engine);
  w->net_height = ls_engine_get_height (engine);
  w->network_time = network_time;
  g_mutex_init (&w->lock);
  g_cond_init (&w->cond);

  const gsize n = (gsize) w->net_width * w->net_height;
  w->prob = g_new (float, n);
  w->ema = g_new (float, n);
  w->logits = g_new (float, n);

  /* Two runs on a blank input: first-run costs (page faults, thread pool)
   * stay out of the stream, and the second gives sync mode a latency to
   * report. */
  float *blank = g_new0 (float, 3 * n);
  gboolean ok = ls_engine_run_tensor (engine, blank, w->logits, error);
  const gint64 t0 = g_get_monotonic_time ();
  ok = ok && ls_engine_run_tensor (engine, blank, w->logits, error);
  *warmup_ms = (g_get_monotonic_time () - t0) / 1000.0;
  g_free (blank);
  if (!ok) {
    lseg_worker_free (w);
    return NULL;
  }

  w->thread = g_thread_new ("lesionseg-worker", worker_main, w);
  return w;
}

void
lseg_worker_free (LsegWorker *w)
{
  if (w == NULL)
    return;
  if (w->thread) {
    g_mutex_lock (&w->lock);
    w->stopping = TRUE;
    g_cond_broadcast (&w->cond);
    g_mutex_unlock (&w->lock);
    g_thread_join (w->thread);
  }
  GST_DEBUG_OBJECT (w->element, "%" G_GUINT64_FORMAT " frames replaced before the network took them",
                    w->replaced);

  lseg_job_free (w->pending);
  lseg_job_free (w->spare);
  lseg_result_unref (w->latest);
  g_free (w->prob);
  g_free (w->ema);
  g_free (w->logits);
  g_free (w->roi_mask);
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->cond);
  g_free (w);
}

/* A job for the next frame: the spare when there is one, so that the tensor
 * and truth buffers are reused. NULL once the worker has failed (it has
 * posted the error; the streaming thread only stops). */
LsegJob *
lseg_worker_take_job (LsegWorker *w)
{
  g_mutex_lock (&w->lock);
  LsegJob *job = w->spare;
  w->spare = NULL;
  const gboolean failed = w->failed;
  const guint epoch = w->epoch;
  g_mutex_unlock (&w->lock);
  if (failed) {
    lseg_job_free (job);
    return NULL;
  }
  if (job == NULL)
    job = lseg_job_new (w->net_width, w->net_height);
  job->epoch = epoch;
  return job;
}

/* A flush (a seek): the frames before it are gone, so is their mask. The
 * waiting frame is dropped, the mask being made will not be published, and
 * the smoothing average starts afresh. */
void
lseg_worker_flush (LsegWorker *w)
{
  g_mutex_lock (&w->lock);
  w->epoch++;
  if (w->pending) {
    if (w->spare == NULL)
      w->spare = w->pending;
    else
      lseg_job_free (w->pending);
    w->pending = NULL;
  }
  g_clear_pointer (&w->latest, lseg_result_unref);
  g_mutex_unlock (&w->lock);
}

/* Async: hands the job to the worker and returns at once. */
void
lseg_worker_submit (LsegWorker *w, LsegJob *job)
{
  g_mutex_lock (&w->lock);
  if (w->pending) {
    /* The worker is still busy: the newer frame takes the waiting one's
     * place, nothing queues. */
    w->replaced++;
    if (w->spare == NULL)
      w->spare = w->pending;
    else
      lseg_job_free (w->pending);
  }
  w->pending = job;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
}

gboolean
lseg_worker_busy_for (LsegWorker *w, gint64 us)
{
  g_mutex_lock (&w->lock);
  const gboolean busy = w->busy && w->job_us > 0 &&
      w->busy_since + (gint64) w->job_us > g_get_monotonic_time () + us;
  g_mutex_unlock (&w->lock);
  return busy;
}

/* Sync: runs the job on the calling (streaming) thread and publishes the
 * mask before returning. *network_us is how long that took, so that the
 * caller can tell its own time apart and report it as latency. */
gboolean
lseg_worker_run_sync (LsegWorker *w, LsegJob *job, gint64 *network_us)
{
  GError *error = NULL;
  const gint64 n0 = g_get_monotonic_time ();
  LsegResult *r = process_job (w, job, &error);
  *network_us = g_get_monotonic_time () - n0;
  g_mutex_lock (&w->lock);
  if (r)
    publish (w, job, r);
  w->spare = job;
  g_mutex_unlock (&w->lock);
  if (r == NULL) {
    GST_ELEMENT_ERROR (w->element, LIBRARY, FAILED, ("Lesion segmentation failed: %s",
                       error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  return TRUE;
}

/* The newest finished mask, with a reference, or NULL before the first. */
LsegResult *
lseg_worker_latest (LsegWorker *w)
{
  g_mutex_lock (&w->lock);
  LsegResult *r = lseg_result_ref (w->latest);
  g_mutex_unlock (&w->lock);
  return r;
}
