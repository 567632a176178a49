/* Temporary directories for tests, removed with all they hold, so that a
 * test run leaves nothing behind in the system's temporary folder.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>

/* A new directory from a template ending in XXXXXX; fails the test if none
 * can be made. */
static inline char *
tmp_dir_new (const char *name_template)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp (name_template, &error);
  g_assert_no_error (error);
  return dir;
}

/* Removes @dir and everything under it (no links are followed: a link is
 * removed as a file). */
static inline void
tmp_dir_remove (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
      tmp_dir_remove (path);
    else
      g_assert_cmpint (g_unlink (path), ==, 0);
  }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}
