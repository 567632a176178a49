/* Hyper-parameters from a model file's __metadata__ (model-spec.md, "Model
 * files"). Every value is a string; integers are parsed strictly (base 10,
 * no sign games, no trailing text), and every range is checked here so that
 * the network builder can trust the config.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "model-private.h"

#include <string.h>

/* Parses @value as one integer in [min, max]. */
static gboolean
parse_int (const char *path, const char *key, const char *value, gint64 min, gint64 max,
           const char *what, int *out, GError **error)
{
  gint64 v;
  if (!g_ascii_string_to_signed (value, 10, min, max, &v, NULL)) {
    g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                 "%s: metadata '%s': expected %s, found '%s'", path, key, what, value);
    return FALSE;
  }
  *out = (int) v;
  return TRUE;
}

/* Parses @value as exactly three comma-separated integers in [min, max]. */
static gboolean
parse_triple (const char *path, const char *key, const char *value, gint64 min, gint64 max,
              const char *what, int out[3], GError **error)
{
  g_auto (GStrv) parts = g_strsplit (value, ",", -1);
  gint64 v[3];
  gboolean ok = g_strv_length (parts) == 3;
  for (int i = 0; ok && i < 3; i++)
    ok = g_ascii_string_to_signed (parts[i], 10, min, max, &v[i], NULL);
  if (!ok) {
    g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                 "%s: metadata '%s': expected %s, found '%s'", path, key, what, value);
    return FALSE;
  }
  for (int i = 0; i < 3; i++)
    out[i] = (int) v[i];
  return TRUE;
}

static const char *
lookup (GHashTable *metadata, const char *key)
{
  return metadata ? g_hash_table_lookup (metadata, key) : NULL;
}

gboolean
ls_config_from_metadata (GHashTable *metadata, const char *path, LsConfig *config,
                         GError **error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (path == NULL)
    path = "(model)";

  const char *arch = lookup (metadata, "arch");
  if (arch == NULL) {
    g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                 "%s: metadata has no 'arch' (expected '%s'): not a lesionseg model file",
                 path, LS_ARCH);
    return FALSE;
  }
  if (strcmp (arch, LS_ARCH) != 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                 "%s: metadata 'arch': unknown arch '%s' (expected '%s')", path, arch, LS_ARCH);
    return FALSE;
  }

  LsConfig c = {
    .ffn_ratio = 4,
    .image_size = 224,
    .input_norm = LS_INPUT_NORM_MINMAX255,
    .iscf_scales = 3,
  };

  /* dims and layers have no sensible default: a file without them cannot be
   * matched to its tensors */
  const char *dims = lookup (metadata, "dims");
  const char *layers = lookup (metadata, "layers");
  if (dims == NULL || layers == NULL) {
    g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                 "%s: metadata has no '%s' (expected three comma-separated integers)",
                 path, dims == NULL ? "dims" : "layers");
    return FALSE;
  }
  if (!parse_triple (path, "dims", dims, 1, 4096,
                     "three comma-separated integers d1,d2,d3 in 1..4096", c.dims, error))
    return FALSE;
  /* the decoder halves channels when it expands patches (model-spec.md) */
  for (int i = 0; i < 3; i++)
    if (c.dims[i] % 2 != 0) {
      g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                   "%s: metadata 'dims': d%d must be even, found %d (in '%s')",
                   path, i + 1, c.dims[i], dims);
      return FALSE;
    }
  if (!parse_triple (path, "layers", layers, 0, 64,
                     "three comma-separated integers l1,l2,l3 in 0..64", c.layers, error))
    return FALSE;

  const char *v;
  if ((v = lookup (metadata, "ffn_ratio")) &&
      !parse_int (path, "ffn_ratio", v, 1, 16, "an integer in 1..16", &c.ffn_ratio, error))
    return FALSE;

  if ((v = lookup (metadata, "image_size"))) {
    if (!parse_int (path, "image_size", v, 32, 2048, "a multiple of 32 in 32..2048",
                    &c.image_size, error))
      return FALSE;
    if (c.image_size % 32 != 0) {
      g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                   "%s: metadata 'image_size': expected a multiple of 32 in 32..2048, "
                   "found '%s'", path, v);
      return FALSE;
    }
  }

  if ((v = lookup (metadata, "input_norm")) && strcmp (v, "minmax255") != 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_CONFIG,
                 "%s: metadata 'input_norm': unknown input_norm '%s' (known: minmax255)",
                 path, v);
    return FALSE;
  }

  if ((v = lookup (metadata, "iscf_scales")) &&
      !parse_int (path, "iscf_scales", v, 1, 3, "an integer in 1..3", &c.iscf_scales, error))
    return FALSE;

  *config = c;
  return TRUE;
}
