/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eval-metrics.h"

void
ls_confusion_count (LsConfusion *c, const guint8 *pred, int pred_stride,
                    const guint8 *truth, int truth_stride, int width, int height)
{
  LsConfusion r = { 0, 0, 0, 0 };
  for (int y = 0; y < height; y++) {
    const guint8 *p = pred + (gsize) y * pred_stride, *t = truth + (gsize) y * truth_stride;
    for (int x = 0; x < width; x++) {
      gboolean pp = p[x] != 0, tt = t[x] != 0;
      r.tp += pp && tt;
      r.fp += pp && !tt;
      r.fn += !pp && tt;
      r.tn += !pp && !tt;
    }
  }
  *c = r;
}

void
ls_confusion_add (LsConfusion *sum, const LsConfusion *c)
{
  sum->tp += c->tp;
  sum->fp += c->fp;
  sum->fn += c->fn;
  sum->tn += c->tn;
}

static double
ratio (gint64 num, gint64 den, double if_empty)
{
  return den ? (double) num / (double) den : if_empty;
}

double
ls_confusion_dice (const LsConfusion *c)
{
  return ratio (2 * c->tp, 2 * c->tp + c->fp + c->fn, 1.0);
}

double
ls_confusion_jaccard (const LsConfusion *c)
{
  return ratio (c->tp, c->tp + c->fp + c->fn, 1.0);
}

double
ls_confusion_sensitivity (const LsConfusion *c)
{
  return ratio (c->tp, c->tp + c->fn, 1.0);
}

double
ls_confusion_specificity (const LsConfusion *c)
{
  return ratio (c->tn, c->tn + c->fp, 1.0);
}

double
ls_confusion_accuracy (const LsConfusion *c)
{
  return ratio (c->tp + c->tn, c->tp + c->tn + c->fp + c->fn, 1.0);
}

void
ls_eval_summary_add (LsEvalSummary *s, const LsConfusion *image)
{
  double j = ls_confusion_jaccard (image);
  ls_confusion_add (&s->pooled, image);
  s->sum_dice += ls_confusion_dice (image);
  s->sum_jaccard += j;
  if (j >= LS_ISIC_JACCARD_THRESHOLD)
    s->sum_thresholded_jaccard += j;
  else
    s->n_below_threshold++;
  s->n_images++;
}
