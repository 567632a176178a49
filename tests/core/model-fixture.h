/* A temporary directory with a model path in it, for tests that write
 * model files: set up and torn down by GLib's g_test_add fixtures.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "tmp-dir.h"

typedef struct {
  char *dir;
  char *path;   /* dir/model.safetensors */
} Fixture;

static inline void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = tmp_dir_new ("lesionseg-test-XXXXXX");
  f->path = g_build_filename (f->dir, "model.safetensors", NULL);
}

/* Removes every file the test wrote, then the directory. */
static inline void
fixture_teardown (Fixture *f, gconstpointer data)
{
  tmp_dir_remove (f->dir);
  g_free (f->path);
  g_free (f->dir);
}
