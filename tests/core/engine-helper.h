/* Engines for the core tests, made one way: the options a test cares about
 * are arguments, everything else stays at ls_engine_options_init()'s
 * defaults.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lesionseg.h"

/* An engine on @kind for @width x @height input (0 x 0: the model's
 * image_size) with @threads CPU threads (0: all cores); an engine that
 * cannot be made fails the test with the library's error. */
static inline LsEngine *
test_engine_new (LsModel *model, LsBackendKind kind, int width, int height, int threads)
{
  LsEngineOptions options;
  ls_engine_options_init (&options);
  options.backend = kind;
  options.width = width;
  options.height = height;
  options.threads = threads;
  g_autoptr (GError) error = NULL;
  LsEngine *engine = ls_engine_new (model, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (engine);
  return engine;
}
