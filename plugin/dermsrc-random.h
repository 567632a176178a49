/* dermsrc: the one hash behind its seeds and noise, shared by the element
 * (camera phases) and the frame renderer (noise table and offsets).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The splitmix64 mixer: the seeds, noise offsets and noise table's hash. */
static inline guint64
dermsrc_splitmix64 (guint64 x)
{
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

G_END_DECLS
