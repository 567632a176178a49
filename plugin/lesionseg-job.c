/* lesionseg: a frame on its way to the network, and the mask that comes back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg-job.h"

LsegJob *
lseg_job_new (int net_width, int net_height)
{
  LsegJob *job = g_new0 (LsegJob, 1);
  job->tensor = g_new (float, 3 * (gsize) net_width * net_height);
  return job;
}

void
lseg_job_free (LsegJob *job)
{
  if (job == NULL)
    return;
  g_free (job->tensor);
  g_clear_pointer (&job->truth, g_bytes_unref);
  g_free (job);
}

static void
result_clear (gpointer data)
{
  LsegResult *r = data;
  g_clear_pointer (&r->mask_net, g_bytes_unref);
  lseg_class_map_clear (&r->map);
}

/* Reference-counted because the worker publishes a result while frames on
 * the streaming thread (and the contour redraw) may still hold the last. */
LsegResult *
lseg_result_new (void)
{
  return g_atomic_rc_box_new0 (LsegResult);
}

LsegResult *
lseg_result_ref (LsegResult *r)
{
  return r ? g_atomic_rc_box_acquire (r) : NULL;
}

void
lseg_result_unref (LsegResult *r)
{
  if (r)
    g_atomic_rc_box_release_full (r, result_clear);
}
