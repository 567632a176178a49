/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli-args.h"

#include <stdlib.h>

gboolean
ls_cli_parse_size (const char *text, int min_side, int max_side, int *w, int *h)
{
  char *end;
  const long a = strtol (text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X'))
    return FALSE;
  const char *p = end + 1;
  const long b = strtol (p, &end, 10);
  if (end == p || *end || a < min_side || b < min_side || a > max_side || b > max_side)
    return FALSE;
  *w = (int) a;
  *h = (int) b;
  return TRUE;
}

gboolean
ls_cli_threshold_ok (double threshold)
{
  return threshold >= 0 && threshold <= 1;   /* false for NaN */
}
