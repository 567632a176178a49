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

/* Runs on the worker in async mode, on the streaming thread in sync mode;
 * never both at once. Probability map -> smoothing -> threshold at ROI size
 * (bilinear, only inside the box that can reach the threshold) -> cleanup
 * -> measurements -> class map for the overlay. */
static LsegResult *
process_job (GstLesionSeg *self, const LsegJob *job, GError **error)
{
  const int nw = self->net_width, nh = self->net_height;
  const gsize n = (gsize) nw * nh;

  const gint64 t0 = g_get_monotonic_time ();
  if (!ls_engine_run_tensor (self->engine, job->tensor, self->logits, error))
    return NULL;
  const double ms = (g_get_monotonic_time () - t0) / 1000.0;

  for (gsize i = 0; i < n; i++)
    self->prob[i] = 1.0f / (1.0f + expf (-self->logits[i]));

  /* The average only means something over the same region of the same
   * frame size; anything else starts it afresh. */
  const gboolean same = self->ema_valid && memcmp (&self->ema_roi, &job->roi, sizeof job->roi) == 0;
  if (job->smoothing > 0 && same) {
    const float s = job->smoothing;
    for (gsize i = 0; i < n; i++)
      self->ema[i] = s * self->ema[i] + (1.0f - s) * self->prob[i];
  } else {
    memcpy (self->ema, self->prob, n * sizeof (float));
  }
  self->ema_roi = job->roi;
  self->ema_valid = TRUE;
  const float *p = self->ema;

  const int rw = job->roi.width, rh = job->roi.height;
  const gsize rsize = (gsize) rw * rh;
  if (self->roi_mask_size < rsize) {
    g_free (self->roi_mask);
    self->roi_mask = g_malloc (rsize);
    self->roi_mask_size = rsize;
  }
  guint8 *mask = self->roi_mask;
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
  r->backend = g_intern_string (ls_engine_get_backend_name (self->engine));
  lseg_class_map_build (&r->map, mask, rw, job->roi.x, job->roi.y, lm.bbox_x, lm.bbox_y,
                        lm.bbox_width, lm.bbox_height, job->contour_width);
  lseg_report_measure (job, mask, &lm, &shape, ms, &r->m);

  GST_OBJECT_LOCK (self);
  self->inference_ms = ms;
  GST_OBJECT_UNLOCK (self);

  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": %.2f ms network, %.2f ms in all, "
                  "area %" G_GINT64_FORMAT, job->seq, ms,
                  (g_get_monotonic_time () - t0) / 1000.0, lm.area);
  if (job->message)
    lseg_report_post_message (GST_ELEMENT (self), job, r);
  return r;
}

/* Under self->lock. */
static void
publish (GstLesionSeg *self, LsegResult *r)
{
  LsegResult *old = self->latest;
  self->latest = r;
  lseg_result_unref (old);
}

/* The worker runs below the streaming thread: where the network and the
 * video share the CPU cores, a frame must never wait for a core the network
 * holds, while the network only loses a little refresh rate. Linux keeps a
 * nice value per thread, and the OpenMP team this thread starts for the CPU
 * backend inherits it. Raising one's own nice value needs no privilege. */
#define LSEG_WORKER_NICE 5

static void
lower_worker_priority (GstLesionSeg *self)
{
#ifdef __linux__
  errno = 0;
  const int nice_now = getpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid));
  if (errno == 0 && setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), nice_now + LSEG_WORKER_NICE) == 0)
    GST_DEBUG_OBJECT (self, "worker at nice %d", nice_now + LSEG_WORKER_NICE);
  else
    GST_DEBUG_OBJECT (self, "worker priority unchanged: %s", g_strerror (errno));
#endif
}

static gpointer
worker_main (gpointer data)
{
  GstLesionSeg *self = data;
  lower_worker_priority (self);

  g_mutex_lock (&self->lock);
  for (;;) {
    while (!self->stopping && self->pending == NULL)
      g_cond_wait (&self->cond, &self->lock);
    if (self->stopping)
      break;
    LsegJob *job = self->pending;
    self->pending = NULL;
    self->busy = TRUE;
    self->busy_since = g_get_monotonic_time ();
    g_mutex_unlock (&self->lock);

    GError *error = NULL;
    LsegResult *r = process_job (self, job, &error);
    if (r == NULL) {
      GST_ELEMENT_ERROR (self, LIBRARY, FAILED,
                         ("Lesion segmentation failed: %s", error->message), (NULL));
      g_clear_error (&error);
    }

    g_mutex_lock (&self->lock);
    self->busy = FALSE;
    const double took = (double) (g_get_monotonic_time () - self->busy_since);
    self->job_us = self->job_us > 0 ? 0.8 * self->job_us + 0.2 * took : took;
    if (r)
      publish (self, r);
    else
      self->failed = TRUE;
    if (self->spare == NULL)
      self->spare = job;
    else
      lseg_job_free (job);
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* Needs self->engine and the network's size. The worker thread starts in
 * every mode: sync or async is only known at the first buffer, and an idle
 * thread costs nothing. */
gboolean
lseg_worker_start (GstLesionSeg *self, double *warmup_ms)
{
  const gsize n = (gsize) self->net_width * self->net_height;
  self->prob = g_new (float, n);
  self->ema = g_new (float, n);
  self->logits = g_new (float, n);
  self->ema_valid = FALSE;
  self->job_us = 0;
  self->failed = FALSE;
  self->stopping = FALSE;
  self->replaced = 0;

  /* Two runs on a blank input: first-run costs (page faults, thread pool)
   * stay out of the stream, and the second gives sync mode a latency to
   * report. */
  GError *error = NULL;
  float *blank = g_new0 (float, 3 * n);
  gboolean ok = ls_engine_run_tensor (self->engine, blank, self->logits, &error);
  const gint64 t0 = g_get_monotonic_time ();
  ok = ok && ls_engine_run_tensor (self->engine, blank, self->logits, &error);
  *warmup_ms = (g_get_monotonic_time () - t0) / 1000.0;
  g_free (blank);
  if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Lesion segmentation failed: %s", error->message),
                       (NULL));
    g_error_free (error);
    return FALSE;   /* lseg_worker_stop () frees what this made */
  }

  self->worker = g_thread_new ("lesionseg-worker", worker_main, self);
  return TRUE;
}

void
lseg_worker_stop (GstLesionSeg *self)
{
  if (self->worker) {
    g_mutex_lock (&self->lock);
    self->stopping = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    g_thread_join (self->worker);
    self->worker = NULL;
  }
  GST_DEBUG_OBJECT (self, "%" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
                    " replaced before the network took them", self->frame_count, self->replaced);

  g_clear_pointer (&self->pending, lseg_job_free);
  g_clear_pointer (&self->spare, lseg_job_free);
  g_clear_pointer (&self->latest, lseg_result_unref);
  g_clear_pointer (&self->prob, g_free);
  g_clear_pointer (&self->ema, g_free);
  g_clear_pointer (&self->logits, g_free);
  g_clear_pointer (&self->roi_mask, g_free);
  self->roi_mask_size = 0;
}

/* A job for the next frame: the spare when there is one, so that the tensor
 * and truth buffers are reused. NULL once the worker has failed (it has
 * posted the error; the streaming thread only stops). */
LsegJob *
lseg_worker_take_job (GstLesionSeg *self)
{
  g_mutex_lock (&self->lock);
  LsegJob *job = self->spare;
  self->spare = NULL;
  const gboolean failed = self->failed;
  g_mutex_unlock (&self->lock);
  if (failed) {
    lseg_job_free (job);
    return NULL;
  }
  if (job == NULL)
    job = lseg_job_new (self->net_width, self->net_height);
  return job;
}

/* Async: hands the job to the worker and returns at once. */
void
lseg_worker_submit (GstLesionSeg *self, LsegJob *job)
{
  g_mutex_lock (&self->lock);
  if (self->pending) {
    /* The worker is still busy: the newer frame takes the waiting one's
     * place, nothing queues. */
    self->replaced++;
    if (self->spare == NULL)
      self->spare = self->pending;
    else
      lseg_job_free (self->pending);
  }
  self->pending = job;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

gboolean
lseg_worker_busy_for (GstLesionSeg *self, gint64 us)
{
  g_mutex_lock (&self->lock);
  const gboolean busy = self->busy && self->job_us > 0 &&
      self->busy_since + (gint64) self->job_us > g_get_monotonic_time () + us;
  g_mutex_unlock (&self->lock);
  return busy;
}

/* Sync: runs the job on the calling (streaming) thread and publishes the
 * mask before returning. *network_us is how long that took, so that the
 * caller can tell its own time apart. */
gboolean
lseg_worker_run_sync (GstLesionSeg *self, LsegJob *job, gint64 *network_us)
{
  GError *error = NULL;
  const gint64 n0 = g_get_monotonic_time ();
  LsegResult *r = process_job (self, job, &error);
  *network_us = g_get_monotonic_time () - n0;
  g_mutex_lock (&self->lock);
  if (r)
    publish (self, r);
  self->spare = job;
  g_mutex_unlock (&self->lock);
  if (r == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, ("Lesion segmentation failed: %s",
                       error->message), (NULL));
    g_error_free (error);
    return FALSE;
  }
  /* Sync mode delays every frame by this much: keep the reported
   * latency above it. */
  const GstClockTime took = *network_us * GST_USECOND;
  if (took > self->reported_latency) {
    self->reported_latency = took + took / 4;
    gst_element_post_message (GST_ELEMENT (self),
                              gst_message_new_latency (GST_OBJECT (self)));
  }
  return TRUE;
}

/* The newest finished mask, with a reference, or NULL before the first. */
LsegResult *
lseg_worker_latest (GstLesionSeg *self)
{
  g_mutex_lock (&self->lock);
  LsegResult *r = lseg_result_ref (self->latest);
  g_mutex_unlock (&self->lock);
  return r;
}
