/* lesionseg: the network's side — a job in, a published mask out, either on
 * the worker thread (async: the newest frame wins, nothing queues) or on the
 * streaming thread (sync).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "gstlesionseg.h"
#include "lesionseg-job.h"

G_BEGIN_DECLS

gboolean lseg_worker_start (GstLesionSeg *self, double *warmup_ms);
void lseg_worker_stop (GstLesionSeg *self);

LsegJob *lseg_worker_take_job (GstLesionSeg *self);
void lseg_worker_submit (GstLesionSeg *self, LsegJob *job);
/* Async: TRUE when the worker is expected to still be busy @us from now, so
 * that a frame prepared now would be replaced by a newer one before the
 * network took it. */
gboolean lseg_worker_busy_for (GstLesionSeg *self, gint64 us);
gboolean lseg_worker_run_sync (GstLesionSeg *self, LsegJob *job, gint64 *network_us);
LsegResult *lseg_worker_latest (GstLesionSeg *self);

G_END_DECLS
