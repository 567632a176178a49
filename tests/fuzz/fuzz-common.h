/* Shared by the libFuzzer targets: GLib logging that turns a g_critical
 * (a g_return_if_fail tripped, i.e. a caller or library bug) into a crash
 * the fuzzer reports, and keeps other messages off the console.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>

static void
fuzz_log_handler (const char *domain, GLogLevelFlags level, const char *message,
                  gpointer user_data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
    g_printerr ("%s: %s\n", domain ? domain : "(null)", message);
    abort ();
  }
  /* warnings and messages (a Vulkan device's, OpenBLAS's kernels) are not
   * what the fuzzer looks for: drop them */
}

static inline void
fuzz_init_logging (void)
{
  g_log_set_default_handler (fuzz_log_handler, NULL);
}

/* Little-endian reader over the fuzz input; reads past the end give 0. */
typedef struct {
  const uint8_t *p;
  size_t n;
} FuzzReader;

static inline uint32_t
fuzz_take (FuzzReader *r, int bytes)
{
  uint32_t v = 0;
  for (int i = 0; i < bytes; i++) {
    uint32_t b = 0;
    if (r->n > 0) {
      b = *r->p++;
      r->n--;
    }
    v |= b << (8 * i);
  }
  return v;
}
