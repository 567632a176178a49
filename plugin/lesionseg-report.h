/* lesionseg: what a finished mask tells the rest of the pipeline —
 * its measurements, the buffer metas and the "lesionseg" bus message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "lesionseg-job.h"

G_BEGIN_DECLS

void lseg_report_measure (const LsegJob *job, const guint8 *mask, const LsMeasurements *lm,
                          const LsShapeMeasurements *shape, double inference_ms,
                          GstLesionSegMeasurements *m);
void lseg_report_post_message (GstElement *element, const LsegJob *job, const LsegResult *r);
void lseg_report_attach_meta (GstBuffer *buffer, const LsegResult *r, guint age);

G_END_DECLS
