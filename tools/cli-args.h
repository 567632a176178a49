/* Option values the subcommands share the parsing of.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* "WxH" (or "WXH"), both sides integers in [min_side, max_side], nothing
 * after them. FALSE for anything else; *w and *h are then untouched. */
gboolean ls_cli_parse_size (const char *text, int min_side, int max_side, int *w, int *h);

/* A probability threshold: TRUE for a value in [0, 1] (NaN is not). */
gboolean ls_cli_threshold_ok (double threshold);
