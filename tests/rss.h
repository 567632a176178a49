/* Resident memory for the leak-and-growth tests (core and plugin), and
 * whether this build runs under a sanitizer (whose quarantine and shadow
 * memory make RSS meaningless; LeakSanitizer judges leaks there).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LS_SANITIZED 1
#endif
#endif
#ifndef LS_SANITIZED
#define LS_SANITIZED 0
#endif

/* Resident memory, after glibc has handed its free pages back (malloc_trim
 * over every arena): live memory, not what threads' arenas keep cached. */
static inline gsize
ls_test_rss_bytes (void)
{
  malloc_trim (0);
  gchar *statm = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL));
  unsigned long pages = 0, resident = 0;
  g_assert_cmpint (sscanf (statm, "%lu %lu", &pages, &resident), ==, 2);
  g_free (statm);
  return resident * (gsize) sysconf (_SC_PAGESIZE);
}

/* RSS after the last of N runs within 5% of RSS after the first (the test
 * environments use one malloc arena: glibc's per-thread arenas would
 * otherwise count as growth); under a sanitizer the figures are printed
 * only. */
static inline void
ls_test_check_rss (const char *what, gsize first, gsize last)
{
  const double growth = 100.0 * ((double) last - (double) first) / (double) first;
  g_test_message ("%s: RSS after the first %.1f MiB, after the last %.1f MiB (%+.2f%%)", what,
                  first / 1048576.0, last / 1048576.0, growth);
  if (!LS_SANITIZED)
    g_assert_cmpfloat (growth, <=, 5.0);
}
