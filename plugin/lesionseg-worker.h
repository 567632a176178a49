/* lesionseg: the network's side — a job in, a published mask out, either on
 * the worker thread (async: the newest frame wins, nothing queues) or on the
 * streaming thread (sync).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "lesionseg-job.h"

G_BEGIN_DECLS

/* The worker thread, its hand-over with the streaming thread and the
 * network's private buffers; one per started element. */
typedef struct _LsegWorker LsegWorker;

/* Told each job's network time, on the thread that ran it (the worker, or
 * the streaming thread in sync mode), before the job's message is posted.
 * A callback rather than a getter, so that the element keeps the last
 * figure after the worker is gone without reading a worker being freed. */
typedef void (*LsegNetworkTimeFunc) (GstElement *element, double ms);

/* @element is only for errors, bus messages and the debug log; @engine
 * (whose input size the jobs have) must outlive the worker. NULL with
 * @error set when the warm-up failed. */
LsegWorker *lseg_worker_new (GstElement *element, LsEngine *engine,
                             LsegNetworkTimeFunc network_time, double *warmup_ms, GError **error);
void lseg_worker_free (LsegWorker *w);

LsegJob *lseg_worker_take_job (LsegWorker *w);
void lseg_worker_submit (LsegWorker *w, LsegJob *job);
/* Async: TRUE when the worker is expected to still be busy @us from now, so
 * that a frame prepared now would be replaced by a newer one before the
 * network took it. */
gboolean lseg_worker_busy_for (LsegWorker *w, gint64 us);
gboolean lseg_worker_run_sync (LsegWorker *w, LsegJob *job, gint64 *network_us);
LsegResult *lseg_worker_latest (LsegWorker *w);
void lseg_worker_flush (LsegWorker *w);

G_END_DECLS
