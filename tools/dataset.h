/* Image/mask pairs of a segmentation data set on disk.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

typedef struct {
  char *name;        /* image id, e.g. ISIC_0000123 or IMD002 */
  char *image_path;
  char *mask_path;
} LsDatasetItem;

/* Lists the pairs of @dir, sorted by name, as LsDatasetItem*:
 * - the ISIC layout: images/ID.{jpg,png,bmp} with masks/ID_segmentation.png;
 * - PH2's: IMDxxx.bmp with IMDxxx_lesion.bmp anywhere below @dir.
 * An image without its mask is an error naming both paths. */
GPtrArray *ls_dataset_list (const char *dir, GError **error);
