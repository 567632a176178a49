/* What every plugin test program sets up first: GLib's test framework,
 * GStreamer, and the two model files the tests use.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

/* tiny: tests/data's tiny model (fast); slow: the bundled small model, for
 * tests that need the network busy. Free both with g_free. */
static inline void
lseg_test_init (int *argc, char ***argv, gchar **tiny, gchar **slow)
{
  g_test_init (argc, argv, NULL);
  gst_init (argc, argv);

  const gchar *data = g_getenv ("LS_TEST_DATA");
  g_assert_nonnull (data);
  *tiny = g_build_filename (data, "tiny", "model.safetensors", NULL);
  gchar *models = g_build_filename (data, "..", "..", "models", NULL);
  *slow = g_build_filename (models, "lesionseg-small.safetensors", NULL);
  g_free (models);
}
