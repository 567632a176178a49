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

/* Adds @path as @kind of @id to @table, or fails naming both files when the
 * id already has one: two files for one id would be scored twice, or one
 * would silently replace the other. */
static gboolean
add_unique (GHashTable *table, const char *id, char *path, const char *kind, GError **error)
{
  const char *other = g_hash_table_lookup (table, id);
  if (other) {
    g_set_error (error, LS_ERROR, LS_ERROR_FILE, "%s and %s are both the %s of %s",
                 other, path, kind, id);
    g_free (path);
    return FALSE;
  }
  g_hash_table_insert (table, g_strdup (id), path);
  return TRUE;
}

/* ISIC 2017 ships ID_superpixels.png beside each image: not an image to
 * segment. */
#define ISIC_SUPERPIXELS "_superpixels.png"

static GPtrArray *
list_isic (const char *dir, GError **error)
{
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autoptr (GDir) d = g_dir_open (images, 0, error);
  if (!d)
    return NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) item_free);
  const char *file;
  while ((file = g_dir_read_name (d))) {
    if (!is_image_name (file) || g_str_has_suffix (file, ISIC_SUPERPIXELS))
      continue;
    g_autofree char *name = g_strndup (file, strrchr (file, '.') - file);
    g_autofree char *image_path = g_build_filename (images, file, NULL);
    if (!add_unique (seen, name, g_strdup (image_path), "image", error))
      return NULL;
    LsDatasetItem *item = g_new0 (LsDatasetItem, 1);
    item->name = g_steal_pointer (&name);
    item->image_path = g_steal_pointer (&image_path);
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

/* Deeper than this is a link cycle rather than a data set. */
#define PH2_MAX_DEPTH 64

/* PH2: every IMDxxx.bmp and IMDxxx_lesion.bmp below dir, at any depth (the
 * extension in any case); a folder that cannot be read is an error, not a
 * part of the data set left out. */
static gboolean
walk_ph2 (const char *dir, GHashTable *images, GHashTable *masks, int depth, GError **error)
{
  if (depth > PH2_MAX_DEPTH) {
    g_set_error (error, LS_ERROR, LS_ERROR_FILE,
                 "%s: more than %d folders deep (a link cycle?)", dir, PH2_MAX_DEPTH);
    return FALSE;
  }
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (!d)
    return FALSE;
  const char *file;
  while ((file = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, file, NULL);
    g_autofree char *lower = g_ascii_strdown (file, -1);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      if (!walk_ph2 (path, images, masks, depth + 1, error))
        return FALSE;
    } else if (g_str_has_prefix (file, "IMD") && g_str_has_suffix (lower, "_lesion.bmp")) {
      g_autofree char *id = g_strndup (file, strlen (file) - strlen ("_lesion.bmp"));
      if (!add_unique (masks, id, g_steal_pointer (&path), "lesion mask", error))
        return FALSE;
    } else if (g_str_has_prefix (file, "IMD") && g_str_has_suffix (lower, ".bmp") &&
               !strchr (file, '_')) {
      g_autofree char *id = g_strndup (file, strlen (file) - 4);
      if (!add_unique (images, id, g_steal_pointer (&path), "image", error))
        return FALSE;
    }
  }
  return TRUE;
}

static GPtrArray *
list_ph2 (const char *dir, GError **error)
{
  g_autoptr (GHashTable) images = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) masks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!walk_ph2 (dir, images, masks, 0, error))
    return NULL;

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
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, LS_ERROR, LS_ERROR_FILE, "%s: %s", dir,
                 g_file_test (dir, G_FILE_TEST_EXISTS) ? "not a folder" : "no such folder");
    return NULL;
  }
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
