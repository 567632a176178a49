/* A temporary directory with a model path in it, for tests that write
 * model files: set up and torn down by GLib's g_test_add fixtures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>

typedef struct {
  char *dir;
  char *path;   /* dir/model.safetensors */
} Fixture;

static inline void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("lesionseg-test-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "model.safetensors", NULL);
}

/* Removes every file the test wrote, then the directory. */
static inline void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree char *p = g_build_filename (f->dir, name, NULL);
    g_assert_cmpint (g_remove (p), ==, 0);
  }
  g_assert_cmpint (g_rmdir (f->dir), ==, 0);
  g_free (f->path);
  g_free (f->dir);
}
