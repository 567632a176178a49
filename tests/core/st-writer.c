/* Test-side safetensors writer (see st-writer.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "st-writer.h"

#include "network.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

typedef struct {
  char *name;
  char *dtype;
  int ndim;
  gint64 shape[LS_ST_MAX_DIMS];
  GBytes *data;
} StEntry;

struct _StWriter {
  GPtrArray *keys;        /* metadata keys in insertion order */
  GHashTable *metadata;   /* key -> value */
  GArray *tensors;        /* StEntry */
};

static void
entry_clear (gpointer p)
{
  StEntry *e = p;
  g_free (e->name);
  g_free (e->dtype);
  g_bytes_unref (e->data);
}

StWriter *
st_writer_new (void)
{
  StWriter *w = g_new0 (StWriter, 1);
  w->keys = g_ptr_array_new_with_free_func (g_free);
  w->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  w->tensors = g_array_new (FALSE, TRUE, sizeof (StEntry));
  g_array_set_clear_func (w->tensors, entry_clear);
  return w;
}

void
st_writer_free (StWriter *w)
{
  if (w == NULL)
    return;
  g_hash_table_unref (w->metadata);
  g_ptr_array_unref (w->keys);
  g_array_unref (w->tensors);
  g_free (w);
}

void
st_writer_set_metadata (StWriter *w, const char *key, const char *value)
{
  guint index;
  if (g_ptr_array_find_with_equal_func (w->keys, key, g_str_equal, &index)) {
    g_hash_table_remove (w->metadata, key);
    g_ptr_array_remove_index (w->keys, index);
  }
  if (value == NULL)
    return;
  char *k = g_strdup (key);
  g_ptr_array_add (w->keys, k);
  g_hash_table_insert (w->metadata, k, g_strdup (value));
}

void
st_writer_set_config (StWriter *w, const LsConfig *c)
{
  g_autofree char *dims = g_strdup_printf ("%d,%d,%d", c->dims[0], c->dims[1], c->dims[2]);
  g_autofree char *layers = g_strdup_printf ("%d,%d,%d", c->layers[0], c->layers[1], c->layers[2]);
  g_autofree char *ffn = g_strdup_printf ("%d", c->ffn_ratio);
  g_autofree char *size = g_strdup_printf ("%d", c->image_size);
  g_autofree char *scales = g_strdup_printf ("%d", c->iscf_scales);
  g_assert_cmpint (c->input_norm, ==, LS_INPUT_NORM_MINMAX255);

  st_writer_set_metadata (w, "arch", "iscf-effformer");
  st_writer_set_metadata (w, "dims", dims);
  st_writer_set_metadata (w, "layers", layers);
  st_writer_set_metadata (w, "ffn_ratio", ffn);
  st_writer_set_metadata (w, "image_size", size);
  st_writer_set_metadata (w, "input_norm", "minmax255");
  st_writer_set_metadata (w, "iscf_scales", scales);
}

void
st_writer_add_raw (StWriter *w, const char *name, const char *dtype, int ndim,
                   const gint64 *shape, const void *bytes, gsize nbytes)
{
  g_assert_cmpint (ndim, >=, 0);
  g_assert_cmpint (ndim, <=, LS_ST_MAX_DIMS);
  StEntry e = { g_strdup (name), g_strdup (dtype), ndim, { 0 }, g_bytes_new (bytes, nbytes) };
  if (ndim > 0)
    memcpy (e.shape, shape, sizeof (gint64) * (gsize) ndim);
  g_array_append_val (w->tensors, e);
}

gboolean
st_writer_remove (StWriter *w, const char *name)
{
  for (guint i = 0; i < w->tensors->len; i++)
    if (strcmp (g_array_index (w->tensors, StEntry, i).name, name) == 0) {
      g_array_remove_index (w->tensors, i);
      return TRUE;
    }
  return FALSE;
}

/* binary32 -> binary16, round to nearest even, overflow to inf, NaN kept
 * a (quiet) NaN */
static guint16
f32_to_f16 (float f)
{
  guint32 x;
  memcpy (&x, &f, 4);
  guint16 sign = (x >> 16) & 0x8000;
  guint32 a = x & 0x7fffffff;

  if (a > 0x7f800000)
    return sign | 0x7e00;
  if (a >= 0x477ff000)           /* >= 65520 rounds to inf (ties to even) */
    return sign | 0x7c00;
  if (a < 0x38800000) {          /* below 2^-14: subnormal or zero */
    float v;
    memcpy (&v, &a, 4);
    /* v * 2^24 is exact; rint rounds half to even; 1024 encodes 2^-14 */
    return sign | (guint16) rintf (v * 16777216.0f);
  }
  a += 0xfff + ((a >> 13) & 1);
  return sign | (guint16) ((a - ((guint32) 112 << 23)) >> 13);
}

static guint16
f32_to_bf16 (float f)
{
  guint32 x;
  memcpy (&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000)
    return (guint16) ((x >> 16) | 0x40);
  return (guint16) ((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static GBytes *
encode (LsDType dtype, const float *data, gint64 numel)
{
  gsize esize = ls_dtype_size (dtype);
  guint8 *out = g_malloc ((gsize) numel * esize + 1);
  for (gint64 i = 0; i < numel; i++) {
    if (dtype == LS_DTYPE_F32) {
      guint32 bits;
      memcpy (&bits, &data[i], 4);
      bits = GUINT32_TO_LE (bits);
      memcpy (out + 4 * i, &bits, 4);
    } else {
      guint16 h = dtype == LS_DTYPE_F16 ? f32_to_f16 (data[i]) : f32_to_bf16 (data[i]);
      h = GUINT16_TO_LE (h);
      memcpy (out + 2 * i, &h, 2);
    }
  }
  return g_bytes_new_take (out, (gsize) numel * esize);
}

void
st_writer_add (StWriter *w, const char *name, LsDType dtype, int ndim, const gint64 *shape,
               const float *data)
{
  gint64 numel = 1;
  for (int i = 0; i < ndim; i++)
    numel *= shape[i];
  g_autoptr (GBytes) bytes = encode (dtype, data, numel);
  gsize n;
  gconstpointer p = g_bytes_get_data (bytes, &n);
  st_writer_add_raw (w, name, ls_dtype_name (dtype), ndim, shape, p, n);
}

float
st_round_to_dtype (float v, LsDType dtype)
{
  LsStTensor t = { .dtype = dtype, .ndim = 0, .numel = 1 };
  g_autoptr (GBytes) bytes = encode (dtype, &v, 1);
  t.data = g_bytes_get_data (bytes, &t.nbytes);
  float out;
  ls_st_tensor_to_f32 (&t, &out);
  return out;
}

static void
append_json_string (GString *s, const char *str)
{
  g_string_append_c (s, '"');
  for (const char *p = str; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (s, "\\%c", *p);
    else if ((guchar) *p < 0x20)
      g_string_append_printf (s, "\\u%04x", (guchar) *p);
    else
      g_string_append_c (s, *p);
  }
  g_string_append_c (s, '"');
}

GBytes *
st_raw_file (const char *header, gssize header_len, const void *data, gsize data_len)
{
  gsize hlen = header_len < 0 ? strlen (header) : (gsize) header_len;
  GByteArray *file = g_byte_array_sized_new ((guint) (8 + hlen + data_len));
  guint64 le = GUINT64_TO_LE ((guint64) hlen);
  g_byte_array_append (file, (const guint8 *) &le, 8);
  g_byte_array_append (file, (const guint8 *) header, (guint) hlen);
  if (data_len > 0)
    g_byte_array_append (file, data, (guint) data_len);
  return g_byte_array_free_to_bytes (file);
}

GBytes *
st_writer_to_bytes (StWriter *w)
{
  g_autoptr (GString) header = g_string_new ("{");
  g_autoptr (GByteArray) data = g_byte_array_new ();
  gboolean first = TRUE;

  if (w->keys->len > 0) {
    g_string_append (header, "\"__metadata__\":{");
    for (guint i = 0; i < w->keys->len; i++) {
      const char *key = g_ptr_array_index (w->keys, i);
      if (i > 0)
        g_string_append_c (header, ',');
      append_json_string (header, key);
      g_string_append_c (header, ':');
      append_json_string (header, g_hash_table_lookup (w->metadata, key));
    }
    g_string_append_c (header, '}');
    first = FALSE;
  }

  for (guint i = 0; i < w->tensors->len; i++) {
    const StEntry *e = &g_array_index (w->tensors, StEntry, i);
    gsize n;
    const guint8 *p = g_bytes_get_data (e->data, &n);
    if (!first)
      g_string_append_c (header, ',');
    first = FALSE;
    append_json_string (header, e->name);
    g_string_append (header, ":{\"dtype\":");
    append_json_string (header, e->dtype);
    g_string_append (header, ",\"shape\":[");
    for (int d = 0; d < e->ndim; d++)
      g_string_append_printf (header, "%s%" G_GINT64_FORMAT, d ? "," : "", e->shape[d]);
    g_string_append_printf (header, "],\"data_offsets\":[%u,%" G_GSIZE_FORMAT "]}",
                            data->len, data->len + n);
    if (n > 0)
      g_byte_array_append (data, p, (guint) n);
  }
  g_string_append_c (header, '}');
  /* as the reference writer does, so the data section starts 8-aligned */
  while (header->len % 8 != 0)
    g_string_append_c (header, ' ');

  return st_raw_file (header->str, (gssize) header->len, data->data, data->len);
}

void
st_write_bytes (const char *path, GBytes *bytes)
{
  /* plain stdio: g_file_set_contents() syncs, which costs seconds over
   * thousands of throw-away files */
  gsize n;
  const char *p = g_bytes_get_data (bytes, &n);
  /* a new file rather than a truncated one: ext4 flushes a file that was
   * truncated and rewritten when it is closed */
  g_remove (path);
  FILE *file = g_fopen (path, "wb");
  g_assert_nonnull (file);
  g_assert_cmpuint (fwrite (p, 1, n, file), ==, n);
  g_assert_cmpint (fclose (file), ==, 0);
}

void
st_writer_write (StWriter *w, const char *path)
{
  g_autoptr (GBytes) bytes = st_writer_to_bytes (w);
  st_write_bytes (path, bytes);
}

const LsConfig st_small_config = {
  .dims = { 4, 8, 8 },
  .layers = { 1, 1, 1 },
  .ffn_ratio = 2,
  .image_size = 32,
  .input_norm = LS_INPUT_NORM_MINMAX255,
  .iscf_scales = 3,
};

typedef struct {
  StWriter *writer;
  const LsModel *model;
  LsDType dtype;
} ModelWriter;

static void
add_model_tensor (const char *name, int ndim, const gint64 *shape, gpointer user_data)
{
  ModelWriter *mw = user_data;
  st_writer_add (mw->writer, name, mw->dtype, ndim, shape, ls_model_weight (mw->model, name));
}

/* a few tensors of each kind that checkpoints carry and the forward pass
 * never reads (model-spec.md) */
static void
add_unused_tensors (StWriter *w, const LsConfig *c, LsDType dtype, guint32 seed)
{
  const gint64 d1 = c->dims[0], d2 = c->dims[1], d3 = c->dims[2];
  const gint64 hidden = d1 * c->ffn_ratio;
  const struct {
    const char *name;
    int ndim;
    gint64 shape[4];
  } unused[] = {
    { "decoder_0.cross_attn.norm1.weight", 1, { d1 } },
    { "decoder_0.cross_attn.attn.queries.weight", 4, { d1, d1, 1, 1 } },
    { "decoder_2.x1_linear.weight", 2, { d2, d3 / 2 } },
    { "decoder_2.x1_linear.bias", 1, { d2 } },
    { "decoder_2.concat_linear.weight", 2, { d3 / 2, d3 } },
    { "decoder_2.norm_tr.bias", 1, { d3 / 2 } },
    { "context_bridge.norm1.weight", 1, { d3 } },
    { "context_bridge.norm3.bias", 1, { d3 } },
    { "context_bridge.attn3.reprojection.weight", 4, { d3, d3, 1, 1 } },
    { "context_bridge.attn3.reprojection.bias", 1, { d3 } },
    { "backbone.block1.0.mlp1.norm2.weight", 1, { hidden } },
    { "backbone.block1.0.mlp2.norm3.bias", 1, { hidden } },
  };
  guint64 state = seed ^ 0x5eedu;
  for (guint i = 0; i < G_N_ELEMENTS (unused); i++) {
    gint64 numel = 1;
    for (int d = 0; d < unused[i].ndim; d++)
      numel *= unused[i].shape[d];
    g_autofree float *v = g_new (float, numel);
    for (gint64 k = 0; k < numel; k++) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      v[k] = (float) ((double) (state >> 40) / 16777216.0 - 0.5);
    }
    st_writer_add (w, unused[i].name, dtype, unused[i].ndim, unused[i].shape, v);
  }
}

StWriter *
st_writer_new_model (const LsConfig *config, guint32 seed, LsDType dtype, StModelFlags flags)
{
  StWriter *w = st_writer_new ();
  st_writer_set_config (w, config);
  g_autoptr (LsModel) model = ls_model_new_random (config, seed);
  ModelWriter mw = { w, model, dtype };
  ls_network_foreach_tensor (config, add_model_tensor, &mw);
  if (flags & ST_MODEL_WITH_UNUSED)
    add_unused_tensors (w, config, dtype, seed);
  return w;
}

void
st_write_model (const char *path, const LsConfig *config, guint32 seed, LsDType dtype,
                StModelFlags flags)
{
  g_autoptr (StWriter) w = st_writer_new_model (config, seed, dtype, flags);
  st_writer_write (w, path);
}
