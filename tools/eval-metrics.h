/* Segmentation metrics as the paper and the ISIC challenges report them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* Pixel counts of one image (or pooled over many). */
typedef struct {
  gint64 tp, fp, fn, tn;
} LsConfusion;

/* Compares a predicted and a true mask (non-zero = lesion), both w x h with
 * row strides in bytes. */
void   ls_confusion_count (LsConfusion *c, const guint8 *pred, int pred_stride,
                           const guint8 *truth, int truth_stride, int width, int height);
void   ls_confusion_add   (LsConfusion *sum, const LsConfusion *c);

/* An empty truth predicted empty scores 1 (nothing to find, nothing found). */
double ls_confusion_dice        (const LsConfusion *c);
double ls_confusion_jaccard     (const LsConfusion *c);
double ls_confusion_sensitivity (const LsConfusion *c);
double ls_confusion_specificity (const LsConfusion *c);
double ls_confusion_accuracy    (const LsConfusion *c);

/* ISIC 2018's thresholded Jaccard: a per-image Jaccard below 0.65 counts 0. */
#define LS_ISIC_JACCARD_THRESHOLD 0.65

typedef struct {
  LsConfusion pooled;
  double sum_dice, sum_jaccard, sum_thresholded_jaccard;
  int n_images, n_below_threshold;
} LsEvalSummary;

void ls_eval_summary_add (LsEvalSummary *s, const LsConfusion *image);
