/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "dataset.h"

#include <string.h>

#include "lesionseg.h"

static void
item_free (LsDatasetItem *item)
{
  g_free (item->name);
  g_free (item->image_path);
  g_free (item->mask_path);
  g_free (item);
}

static int
compare_items (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(LsDatasetItem *const *) a)->name, (*(LsDatasetItem *const *) b)->name);
}

static gboolean
is_image_name (const char *name)
{
  static const char *const ext[] = { ".jpg", ".jpeg", ".png", ".bmp" };
  g_autofree char *lower = g_ascii_strdown (name, -1);
  for (guint i = 0; i < G_N_ELEMENTS (ext); i++)
    if (g_str_has_suffix (lower, ext[i]))
      return TRUE;
  return FALSE;
}

static GPtrArray *
list_isic (const char *dir, GError **error)
{
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autoptr (GDir) d = g_dir_open (images, 0, error);
  if (!d)
    return NULL;
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  const char *file;
  while ((file = g_dir_read_name (d))) {
    if (!is_image_name (file))
      continue;
    LsDatasetItem *item = g_new0 (LsDatasetItem, 1);
    item->name = g_strndup (file, strrchr (file, '.') - file);
    item->image_path = g_build_filename (images, file, NULL);
    g_autofree char *mask_name = g_strconcat (item->name, "_segmentation.png", NULL);
    item->mask_path = g_build_filename (dir, "masks", mask_name, NULL);
    g_ptr_array_add (items, item);
    if (!g_file_test (item->mask_path, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, LS_ERROR, LS_ERROR_FILE, "%s: no mask %s for this image",
                   item->image_path, item->mask_path);
      return NULL;
    }
  }
  return g_steal_pointer (&items);
}

/* PH2: every IMDxxx.bmp and IMDxxx_lesion.bmp below dir, at any depth */
static void
walk_ph2 (const char *dir, GHashTable *images, GHashTable *masks, int depth)
{
  g_autoptr (GDir) d = depth < 8 ? g_dir_open (dir, 0, NULL) : NULL;
  const char *file;
  while (d && (file = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, file, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      walk_ph2 (path, images, masks, depth + 1);
    } else if (g_str_has_prefix (file, "IMD") && g_str_has_suffix (file, "_lesion.bmp")) {
      g_hash_table_insert (masks, g_strndup (file, strlen (file) - strlen ("_lesion.bmp")),
                           g_steal_pointer (&path));
    } else if (g_str_has_prefix (file, "IMD") && g_str_has_suffix (file, ".bmp") &&
               !strchr (file, '_')) {
      g_hash_table_insert (images, g_strndup (file, strlen (file) - 4), g_steal_pointer (&path));
    }
  }
}

static GPtrArray *
list_ph2 (const char *dir, GError **error)
{
  g_autoptr (GHashTable) images = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) masks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  walk_ph2 (dir, images, masks, 0);

  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, images);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    const char *mask = g_hash_table_lookup (masks, key);
    if (!mask) {
      g_set_error (error, LS_ERROR, LS_ERROR_FILE, "%s: no %s_lesion.bmp for this image",
                   (const char *) value, (const char *) key);
      return NULL;
    }
    LsDatasetItem *item = g_new0 (LsDatasetItem, 1);
    item->name = g_strdup (key);
    item->image_path = g_strdup (value);
    item->mask_path = g_strdup (mask);
    g_ptr_array_add (items, item);
  }
  return g_steal_pointer (&items);
}

GPtrArray *
ls_dataset_list (const char *dir, GError **error)
{
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  GPtrArray *items = g_file_test (images, G_FILE_TEST_IS_DIR) ? list_isic (dir, error)
                                                              : list_ph2 (dir, error);
  if (!items)
    return NULL;
  if (items->len == 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_FILE,
                 "%s: no images (expected images/ID.jpg with masks/ID_segmentation.png, "
                 "or PH2's IMDxxx.bmp with IMDxxx_lesion.bmp)", dir);
    g_ptr_array_unref (items);
    return NULL;
  }
  g_ptr_array_sort (items, compare_items);
  return items;
}
