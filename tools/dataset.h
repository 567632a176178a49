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
 * - the ISIC layout: images/ID.{jpg,jpeg,png,bmp} with
 *   masks/ID_segmentation.png (ISIC 2017's ID_superpixels.png are skipped);
 * - PH2's: IMDxxx.bmp with IMDxxx_lesion.bmp anywhere below @dir.
 * An image without its mask is an error naming both paths; so are two
 * files for one id, and a folder that cannot be read. */
GPtrArray *ls_dataset_list (const char *dir, GError **error);
