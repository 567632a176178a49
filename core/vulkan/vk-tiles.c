/* GEMM tiles chosen per shape, from a file: LS_VULKAN_GEMM_TILES=FILE.
 *
 * The plan picks a tile by a rule of thumb (the largest that still fills
 * the device, vk-ops.c); a sweep on a real card (bench/gpu-vulkan.sh,
 * bench/tile-sweep.awk) measures every tile on every GEMM of the network
 * and writes the winners as such a file, which the next run can use. One
 * line per GEMM shape, '#' starts a comment:
 *
 *   KERNEL M N K TILE      e.g.  coopmat 3136 256 128 2
 *
 * KERNEL is tiled, reg or coopmat, M x N x K the GEMM's shape (the
 * profile CSV's first three push constants), TILE an index into that
 * kernel's tile list. Shapes the file does not name keep the rule's
 * choice.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

#include <stdlib.h>

const char *const ls_vk_gemm_kernel_names[3] = { "tiled", "reg", "coopmat" };

static char *
shape_key (LsVkGemmKernel kernel, uint32_t m, uint32_t n, uint32_t k)
{
  return g_strdup_printf ("%s %u %u %u", ls_vk_gemm_kernel_names[kernel], m, n, k);
}

static gboolean
parse_uint (const char *s, guint64 max, guint64 *out)
{
  return g_ascii_string_to_unsigned (s, 10, 0, max, out, NULL);
}

static int
kernel_named (const char *name)
{
  for (int k = 0; k < 3; k++)
    if (g_strcmp0 (name, ls_vk_gemm_kernel_names[k]) == 0)
      return k;
  return -1;
}

/* One line into @table; FALSE with @error naming path:line and the fault */
static gboolean
parse_line (GHashTable *table, const int tile_counts[3], const char *path, int line_no, char *line,
            GError **error)
{
  char *hash = strchr (line, '#');
  if (hash)
    *hash = '\0';
  g_auto (GStrv) words = g_strsplit_set (g_strstrip (line), " \t", -1);
  guint n_words = 0;
  const char *word[6];
  for (guint i = 0; words[i] && n_words < G_N_ELEMENTS (word); i++)
    if (*words[i])
      word[n_words++] = words[i];
  if (n_words == 0)
    return TRUE;

  guint64 m, n, k, tile;
  int kernel = kernel_named (word[0]);
  if (n_words != 5 || kernel < 0 || !parse_uint (word[1], G_MAXINT32, &m) || m == 0
      || !parse_uint (word[2], G_MAXINT32, &n) || n == 0
      || !parse_uint (word[3], G_MAXINT32, &k) || k == 0
      || !parse_uint (word[4], G_MAXINT32, &tile)) {
    g_set_error (error, LS_ERROR, LS_ERROR_FILE,
                 "vulkan: %s line %d: expected 'KERNEL M N K TILE' (KERNEL tiled, reg or "
                 "coopmat; positive integers), found '%s'", path, line_no, g_strstrip (line));
    return FALSE;
  }
  const int count = tile_counts[kernel];
  if (tile >= (guint64) count) {
    g_set_error (error, LS_ERROR, LS_ERROR_FILE,
                 "vulkan: %s line %d: tile %" G_GUINT64_FORMAT " of %s, which has tiles 0 to %d",
                 path, line_no, tile, word[0], count - 1);
    return FALSE;
  }
  g_hash_table_insert (table, shape_key (kernel, (uint32_t) m, (uint32_t) n, (uint32_t) k),
                       GINT_TO_POINTER ((int) tile + 1));
  return TRUE;
}

gboolean
ls_vk_tiles_load (LsVkPlan *plan, const int tile_counts[3], GError **error)
{
  if (plan->tiles_loaded)
    return TRUE;
  plan->tiles_loaded = TRUE;
  const char *path = g_getenv ("LS_VULKAN_GEMM_TILES");
  if (!path || !*path)
    return TRUE;

  g_autofree char *text = NULL;
  g_autoptr (GError) read_error = NULL;
  if (!g_file_get_contents (path, &text, NULL, &read_error)) {
    g_set_error (error, LS_ERROR, LS_ERROR_FILE, "vulkan: LS_VULKAN_GEMM_TILES: %s",
                 read_error->message);
    return FALSE;
  }
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i]; i++)
    if (!parse_line (table, tile_counts, path, i + 1, lines[i], error))
      return FALSE;
  g_debug ("vulkan: %u GEMM shapes with their tile from %s", g_hash_table_size (table), path);
  plan->tiles_path = g_strdup (path);
  plan->tiles = g_steal_pointer (&table);
  return TRUE;
}

int
ls_vk_tiles_lookup (const LsVkPlan *plan, LsVkGemmKernel kernel, uint32_t m, uint32_t n,
                    uint32_t k)
{
  if (!plan->tiles)
    return -1;
  g_autofree char *key = shape_key (kernel, m, n, k);
  return GPOINTER_TO_INT (g_hash_table_lookup (plan->tiles, key)) - 1;
}
