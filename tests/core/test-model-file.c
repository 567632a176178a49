/* The model file path: safetensors parsing, config from metadata, shape
 * checks, dtype conversion, and a fuzz pass that only demands "loads or
 * fails with a GError, never crashes".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "model-private.h"
#include "network.h"
#include "safetensors.h"
#include "st-writer.h"
#include "model-fixture.h"

/* The library logs in its own domain (core/meson.build). */
#define LIB_LOG_DOMAIN "lesionseg"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

/* Asserts that @error is @code in LS_ERROR and that its message contains
 * each of the NULL-terminated strings that follow. */
static void
assert_error_mentions (const GError *error, int code, ...)
{
  g_assert_error (error, LS_ERROR, code);
  va_list ap;
  va_start (ap, code);
  for (const char *needle; (needle = va_arg (ap, const char *));)
    if (strstr (error->message, needle) == NULL)
      g_error ("error message \"%s\" does not mention \"%s\"", error->message, needle);
  va_end (ap);
}

/* Loads @bytes written to f->path; returns the error (the load must fail). */
static GError *
load_bytes_error (Fixture *f, GBytes *bytes)
{
  GError *error = NULL;
  st_write_bytes (f->path, bytes);
  LsModel *model = ls_model_load (f->path, &error);
  g_assert_null (model);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  return error;
}

/* A raw file with header @json and @data_len zero bytes of data, loaded:
 * the error is returned. */
static GError *
load_raw_error (Fixture *f, const char *json, gsize data_len)
{
  g_autofree guint8 *data = g_malloc0 (data_len + 1);
  g_autoptr (GBytes) bytes = st_raw_file (json, -1, data, data_len);
  return load_bytes_error (f, bytes);
}

static LsModel *
load_ok (const char *path)
{
  g_autoptr (GError) error = NULL;
  LsModel *model = ls_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

static void
add_numel (const char *name, int ndim, const gint64 *shape, gpointer user_data)
{
  gint64 *total = user_data, n = 1;
  for (int i = 0; i < ndim; i++)
    n *= shape[i];
  *total += n;
}

/* the sum over what the network reads, computed apart from the loader */
static gint64
count_params (const LsConfig *config)
{
  gint64 total = 0;
  ls_network_foreach_tensor (config, add_numel, &total);
  return total;
}

/* ---- file-level errors ------------------------------------------------- */

static void
test_missing_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (ls_model_load (f->path, &error));
  assert_error_mentions (error, LS_ERROR_FILE, f->path, NULL);
}

static void
test_unreadable_file (Fixture *f, gconstpointer data)
{
  /* a directory cannot be mapped (and permissions do not stop root) */
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (g_mkdir (f->path, 0700), ==, 0);
  g_assert_null (ls_model_load (f->path, &error));
  assert_error_mentions (error, LS_ERROR_FILE, f->path, NULL);
}

static void
test_short_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) bytes = g_bytes_new_static ("\x02\0\0\0\0", 5);
  g_autoptr (GError) error = load_bytes_error (f, bytes);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "5 bytes", "at least 8", NULL);
}

static void
test_header_past_end (Fixture *f, gconstpointer data)
{
  /* claims 100 header bytes, has 2 */
  g_autoptr (GBytes) bytes = g_bytes_new_static ("\x64\0\0\0\0\0\0\0{}", 10);
  g_autoptr (GError) error = load_bytes_error (f, bytes);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "header length 100",
                         "past the end", "2 bytes", NULL);
}

static void
test_header_absurd_length (Fixture *f, gconstpointer data)
{
  /* 2^64 - 1: must be refused from the file size, never allocated */
  g_autoptr (GBytes) bytes = g_bytes_new_static ("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
  g_autoptr (GError) error = load_bytes_error (f, bytes);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "18446744073709551615",
                         "past the end", NULL);
}

static void
test_header_not_json (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (f, "{\"a\": {\"dtype\": ", 0);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "not valid JSON", NULL);
}

static void
test_header_not_object (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (f, "[1, 2]", 0);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "not a JSON object", "[1,2]", NULL);
  g_autoptr (GError) empty = load_raw_error (f, "", 0);
  assert_error_mentions (empty, LS_ERROR_FORMAT, f->path, NULL);
}

static void
test_header_too_deep (Fixture *f, gconstpointer data)
{
  g_autofree char *deep = g_strnfill (100000, '[');
  g_autoptr (GError) error = load_raw_error (f, deep, 0);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "nests deeper", NULL);
}

/* json-glib also reads comments and single-quoted strings; a '"' inside one
 * would hide nesting and duplicate keys from the checks above (the first
 * case crashed the parser's recursion before they were refused) */
static void
test_header_not_strict_json (Fixture *f, gconstpointer data)
{
  g_autofree char *brackets = g_strnfill (100000, '[');
  g_autofree char *closing = g_strnfill (100000, ']');
  g_autofree char *deep = g_strconcat ("{\"x\": /* \" */ ", brackets, closing,
                                       " /* \" */}", NULL);
  static const struct { const char *json, *found; } cases[] = {
    { "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
      " \"t.w\" /* \" */ : {\"dtype\": \"F32\", \"shape\": [1], "
      "\"data_offsets\": [0, 4]} /* \" */}", "byte 0x2f at offset 70" },
    { "{'t.w': {}}", "byte 0x27 at offset 1" },
    { "{\"a\": 1} # \"", "byte 0x23 at offset 9" },
  };
  g_autoptr (GError) error = load_raw_error (f, deep, 0);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "not strict JSON",
                         "byte 0x2f at offset 6 outside a string", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) case_error = load_raw_error (f, cases[i].json, 4);
    assert_error_mentions (case_error, LS_ERROR_FORMAT, f->path, "not strict JSON",
                           cases[i].found, NULL);
  }
}

static void
test_entry_not_object (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (f, "{\"backbone.norm1.weight\": 5}", 0);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "'backbone.norm1.weight'",
                         "not a JSON object", "found 5", NULL);
}

static void
test_entry_missing_field (Fixture *f, gconstpointer data)
{
  static const struct { const char *json, *field; } cases[] = {
    { "{\"t.w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", "'dtype'" },
    { "{\"t.w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", "'shape'" },
    { "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1]}}", "'data_offsets'" },
    { "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4], \"x\": 1}}",
      "unexpected key 'x'" },
    { "{\"t.w\": {\"dtype\": 32, \"shape\": [1], \"data_offsets\": [0, 4]}}",
      "'dtype' is not a string" },
    { "{\"t.w\": {\"dtype\": \"F32\", \"shape\": 1, \"data_offsets\": [0, 4]}}",
      "'shape' is not an array" },
    { "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}",
      "two integers" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = load_raw_error (f, cases[i].json, 4);
    assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "'t.w'", cases[i].field, NULL);
  }
}

/* json-glib keeps the last of two same-named members: a strict reader
 * must not let a second entry silently replace the first */
static void
test_duplicate_key (Fixture *f, gconstpointer data)
{
  static const char *const cases[] = {
    "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
    " \"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}",
    "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"dtype\": \"F16\", "
    "\"data_offsets\": [0, 4]}}",
    "{\"__metadata__\": {\"arch\": \"x\", \"arch\": \"iscf-effformer\"}}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = load_raw_error (f, cases[i], 8);
    assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "same key twice", NULL);
  }
}

static void
test_bad_dims (Fixture *f, gconstpointer data)
{
  static const struct { const char *shape, *found; } cases[] = {
    { "[2, -3]", "shape[1] must be a non-negative integer (found -3)" },
    { "[2, 1.5]", "shape[1] must be a non-negative integer (found 1.5)" },
    { "[\"2\"]", "shape[0] must be a non-negative integer (found \"2\")" },
    { "[1, 1, 1, 1, 1, 1, 1, 1, 1]", "9 dimensions" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *json = g_strdup_printf (
        "{\"t.w\": {\"dtype\": \"F32\", \"shape\": %s, \"data_offsets\": [0, 4]}}",
        cases[i].shape);
    g_autoptr (GError) error = load_raw_error (f, json, 4);
    assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "'t.w'", cases[i].found, NULL);
  }
}

static void
test_numel_overflow (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (
      f, "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], "
         "\"data_offsets\": [0, 0]}}", 0);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "'t.w'", "overflows", NULL);
  /* fits 64 bits as elements, not as bytes: caught by the size check */
  g_autoptr (GError) bytes = load_raw_error (
      f, "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [2305843009213693952, 2], "
         "\"data_offsets\": [0, 8]}}", 8);
  assert_error_mentions (bytes, LS_ERROR_FORMAT, f->path, "'t.w'", "hold 8 bytes", NULL);
}

static void
test_offsets_out_of_range (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) reversed = load_raw_error (
      f, "{\"backbone.norm1.weight\": {\"dtype\": \"F32\", \"shape\": [0], "
         "\"data_offsets\": [10, 8]}}", 4096);
  assert_error_mentions (reversed, LS_ERROR_FORMAT, f->path,
                         ": tensor 'backbone.norm1.weight': data_offsets [10, 8] out of range "
                         "(data section is 4096 bytes)", NULL);

  g_autoptr (GError) past = load_raw_error (
      f, "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 12);
  assert_error_mentions (past, LS_ERROR_FORMAT, f->path, "'t.w'", "[8, 16] out of range",
                         "12 bytes", NULL);

  g_autoptr (GError) negative = load_raw_error (
      f, "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 12);
  assert_error_mentions (negative, LS_ERROR_FORMAT, f->path, "'t.w'", "[-4, 0] out of range",
                         NULL);
}

static void
test_size_mismatch (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (
      f, "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]}}", 16);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "'t.w'", "hold 12 bytes",
                         "F32 [2, 2] needs 4 elements of 4 bytes", NULL);
  g_autoptr (GError) half = load_raw_error (
      f, "{\"t.w\": {\"dtype\": \"BF16\", \"shape\": [2, 2], \"data_offsets\": [0, 16]}}", 16);
  assert_error_mentions (half, LS_ERROR_FORMAT, f->path, "'t.w'", "hold 16 bytes",
                         "BF16 [2, 2] needs 4 elements of 2 bytes", NULL);
}

static void
test_overlap (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (
      f, "{\"a.w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
         " \"b.w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}", 24);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "'a.w' [0, 16]", "'b.w' [8, 24]",
                         "overlap", NULL);
}

static void
test_misaligned (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (
      f, "{\"t.w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [2, 6]}}", 8);
  assert_error_mentions (error, LS_ERROR_FORMAT, f->path, "'t.w'", "offset 2",
                         "multiple of 4", NULL);
}

static void
test_unknown_dtype (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = load_raw_error (
      f, "{\"t.num_batches_tracked\": {\"dtype\": \"I64\", \"shape\": [], "
         "\"data_offsets\": [0, 8]}}", 8);
  assert_error_mentions (error, LS_ERROR_TENSOR, f->path, "'t.num_batches_tracked'",
                         "'I64'", "F32, F16, BF16", NULL);
}

static void
test_bad_metadata (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) not_object = load_raw_error (f, "{\"__metadata__\": \"x\"}", 0);
  assert_error_mentions (not_object, LS_ERROR_FORMAT, f->path, "'__metadata__'",
                         "not a JSON object", "\"x\"", NULL);
  g_autoptr (GError) not_string = load_raw_error (
      f, "{\"__metadata__\": {\"arch\": \"iscf-effformer\", \"image_size\": 224}}", 0);
  assert_error_mentions (not_string, LS_ERROR_FORMAT, f->path, "'image_size'",
                         "not a string", "224", NULL);
}

/* ---- config ------------------------------------------------------------ */

static GHashTable *
small_metadata (void)
{
  GHashTable *m = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_hash_table_insert (m, g_strdup ("arch"), g_strdup ("iscf-effformer"));
  g_hash_table_insert (m, g_strdup ("dims"), g_strdup ("4,8,8"));
  g_hash_table_insert (m, g_strdup ("layers"), g_strdup ("1,1,1"));
  return m;
}

static void
test_config_defaults (void)
{
  g_autoptr (GHashTable) m = small_metadata ();
  g_autoptr (GError) error = NULL;
  LsConfig c;
  g_assert_true (ls_config_from_metadata (m, "m.safetensors", &c, &error));
  g_assert_no_error (error);
  g_assert_cmpint (c.dims[0], ==, 4);
  g_assert_cmpint (c.dims[2], ==, 8);
  g_assert_cmpint (c.layers[1], ==, 1);
  g_assert_cmpint (c.ffn_ratio, ==, 4);
  g_assert_cmpint (c.image_size, ==, 224);
  g_assert_cmpint (c.input_norm, ==, LS_INPUT_NORM_MINMAX255);
  g_assert_cmpint (c.iscf_scales, ==, 3);

  g_hash_table_insert (m, g_strdup ("ffn_ratio"), g_strdup ("2"));
  g_hash_table_insert (m, g_strdup ("image_size"), g_strdup ("2048"));
  g_hash_table_insert (m, g_strdup ("iscf_scales"), g_strdup ("1"));
  g_hash_table_insert (m, g_strdup ("layers"), g_strdup ("0,64,2"));
  g_hash_table_insert (m, g_strdup ("dims"), g_strdup ("2,4096,8"));
  g_assert_true (ls_config_from_metadata (m, "m.safetensors", &c, &error));
  g_assert_cmpint (c.ffn_ratio, ==, 2);
  g_assert_cmpint (c.image_size, ==, 2048);
  g_assert_cmpint (c.iscf_scales, ==, 1);
  g_assert_cmpint (c.layers[1], ==, 64);
  g_assert_cmpint (c.dims[1], ==, 4096);
}

static void
test_config_refused (void)
{
  static const struct { const char *key, *value, *says; } cases[] = {
    { "arch", "unet", "unknown arch 'unet' (expected 'iscf-effformer')" },
    { "arch", NULL, "no 'arch'" },
    { "dims", NULL, "no 'dims'" },
    { "layers", NULL, "no 'layers'" },
    { "dims", "128,320", "found '128,320'" },
    { "dims", "128,320,512,64", "found '128,320,512,64'" },
    { "dims", "128,x,512", "found '128,x,512'" },
    { "dims", "128, 320,512", "found '128, 320,512'" },
    { "dims", "0,2,2", "found '0,2,2'" },
    { "dims", "4098,2,2", "1..4096" },
    { "dims", "128,321,512", "d2 must be even, found 321" },
    { "dims", "3,4,4", "d1 must be even, found 3" },
    { "layers", "1,65,1", "found '1,65,1'" },
    { "layers", "1,-1,1", "0..64" },
    { "ffn_ratio", "0", "found '0'" },
    { "ffn_ratio", "17", "1..16" },
    { "ffn_ratio", "4.0", "found '4.0'" },
    { "image_size", "100", "multiple of 32" },
    { "image_size", "0", "found '0'" },
    { "image_size", "4096", "found '4096'" },
    { "image_size", "224 ", "found '224 '" },
    { "input_norm", "imagenet", "unknown input_norm 'imagenet' (known: minmax255)" },
    { "iscf_scales", "0", "1..3" },
    { "iscf_scales", "4", "found '4'" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GHashTable) m = small_metadata ();
    if (cases[i].value)
      g_hash_table_insert (m, g_strdup (cases[i].key), g_strdup (cases[i].value));
    else
      g_hash_table_remove (m, cases[i].key);
    g_autoptr (GError) error = NULL;
    LsConfig c;
    g_assert_false (ls_config_from_metadata (m, "m.safetensors", &c, &error));
    g_autofree char *key = g_strdup_printf ("'%s'", cases[i].key);
    g_test_message ("%s", error->message);
    assert_error_mentions (error, LS_ERROR_CONFIG, "m.safetensors", key, cases[i].says, NULL);
  }
}

/* The same refusals through a whole file. */
static void
test_config_refused_in_file (Fixture *f, gconstpointer data)
{
  static const struct { const char *key, *value, *says; } cases[] = {
    { "input_norm", "imagenet", "unknown input_norm 'imagenet' (known: minmax255)" },
    { "dims", "4,6,9", "d3 must be even, found 9" },
    { "dims", "4,7,8", "d2 must be even, found 7" },
    { "arch", "segformer", "unknown arch 'segformer' (expected 'iscf-effformer')" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 1, LS_DTYPE_F32, 0);
    st_writer_set_metadata (w, cases[i].key, cases[i].value);
    g_autoptr (GBytes) bytes = st_writer_to_bytes (w);
    g_autoptr (GError) error = load_bytes_error (f, bytes);
    assert_error_mentions (error, LS_ERROR_CONFIG, f->path, cases[i].says, NULL);
  }
}

/* ---- tensors against the network --------------------------------------- */

static void
test_load_f32 (Fixture *f, gconstpointer data)
{
  st_write_model (f->path, &st_small_config, 7, LS_DTYPE_F32, ST_MODEL_DEFAULT);
  g_autoptr (LsModel) model = load_ok (f->path);
  g_autoptr (LsModel) reference = ls_model_new_random (&st_small_config, 7);

  g_assert_cmpstr (ls_model_get_path (model), ==, f->path);
  const LsConfig *c = ls_model_get_config (model);
  g_assert_cmpmem (c, sizeof *c, &st_small_config, sizeof st_small_config);
  g_assert_cmpint (ls_model_get_param_count (model), ==, count_params (&st_small_config));
  g_assert_cmpint (ls_model_get_param_count (model), ==,
                   ls_model_get_param_count (reference));

  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, reference->weights);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    const LsWeight *want = value;
    const float *got = ls_model_weight (model, want->name);
    g_assert_nonnull (got);
    g_assert_cmpuint ((guintptr) got % 64, ==, 0);
    g_assert_cmpmem (got, want->numel * sizeof (float), want->data,
                     want->numel * sizeof (float));
  }
  g_assert_cmpuint (g_hash_table_size (model->weights), ==,
                    g_hash_table_size (reference->weights));
}

static void
check_half_model (Fixture *f, LsDType dtype)
{
  st_write_model (f->path, &st_small_config, 11, dtype, ST_MODEL_DEFAULT);
  g_autoptr (LsModel) model = load_ok (f->path);
  g_autoptr (LsModel) reference = ls_model_new_random (&st_small_config, 11);

  GHashTableIter iter;
  gpointer value;
  guint rounded = 0;
  g_hash_table_iter_init (&iter, reference->weights);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    const LsWeight *want = value;
    const float *got = ls_model_weight (model, want->name);
    for (gint64 i = 0; i < want->numel; i++) {
      float r = st_round_to_dtype (want->data[i], dtype);
      g_assert_cmpfloat (got[i], ==, r);
      /* within half an ulp of the format: 2^-11 (F16), 2^-8 (BF16) relative */
      g_assert_cmpfloat (fabsf (got[i] - want->data[i]), <=,
                         fabsf (want->data[i]) * (dtype == LS_DTYPE_F16 ? 0x1p-11f : 0x1p-8f)
                         + 0x1p-25f);
      rounded += got[i] != want->data[i];
    }
  }
  /* random f32 weights are almost never representable: the test above
   * really compared rounded values */
  g_assert_cmpuint (rounded, >, 0);
}

static void
test_load_f16 (Fixture *f, gconstpointer data)
{
  check_half_model (f, LS_DTYPE_F16);
}

static void
test_load_bf16 (Fixture *f, gconstpointer data)
{
  check_half_model (f, LS_DTYPE_BF16);
}

/* Values exactly representable in the half format come back exactly, bit
 * for bit, including signed zero, subnormals and infinities. */
static void
check_exact_values (LsDType dtype, const float *values, guint n)
{
  g_autoptr (StWriter) w = st_writer_new ();
  gint64 shape[1] = { n };
  st_writer_add (w, "v", dtype, 1, shape, values);
  g_autoptr (GBytes) bytes = st_writer_to_bytes (w);
  g_autoptr (GError) error = NULL;
  g_autoptr (LsSafetensors) st = ls_safetensors_parse (bytes, "exact.safetensors", &error);
  g_assert_no_error (error);
  const LsStTensor *t = ls_safetensors_find (st, "v");
  g_assert_nonnull (t);
  g_assert_cmpint (t->dtype, ==, dtype);
  g_assert_cmpuint (t->nbytes, ==, 2 * n);
  g_autofree float *out = g_new (float, n);
  ls_st_tensor_to_f32 (t, out);
  for (guint i = 0; i < n; i++) {
    if (isnan (values[i]))
      g_assert_true (isnan (out[i]));
    else
      g_assert_cmpmem (&out[i], 4, &values[i], 4);
  }
}

static void
test_half_exact (void)
{
  const float f16[] = { 0.0f, -0.0f, 1.0f, -2.0f, 0.5f, 1.25f, -3.75f, 65504.0f, -65504.0f,
                        0x1p-14f, 0x1p-24f, -0x1p-24f, 0x3p-24f, 0x3ffp-24f, 1023.5f,
                        0x1.998p-4f, INFINITY, -INFINITY, NAN };
  const float bf16[] = { 0.0f, -0.0f, 1.0f, -2.0f, 0.5f, 1.25f, 0x1.fep127f, -0x1.fep127f,
                         0x1p-126f, 0x1p-133f, -0x1p-133f, 0x7fp-133f, 0x1.02p-10f, -255.0f,
                         INFINITY, -INFINITY, NAN };
  check_exact_values (LS_DTYPE_F16, f16, G_N_ELEMENTS (f16));
  check_exact_values (LS_DTYPE_BF16, bf16, G_N_ELEMENTS (bf16));
}

/* Every one of the 65536 half values against the definition, computed a
 * different way (ldexp on the fields). */
static void
test_half_all_values (void)
{
  g_autofree guint8 *f16 = g_new (guint8, 2 * 65536);
  for (guint h = 0; h < 65536; h++) {
    f16[2 * h] = h & 0xff;
    f16[2 * h + 1] = h >> 8;
  }
  g_autofree float *out = g_new (float, 65536);
  LsStTensor t = { .dtype = LS_DTYPE_F16, .ndim = 1, .shape = { 65536 }, .numel = 65536,
                   .nbytes = 2 * 65536, .data = f16 };
  ls_st_tensor_to_f32 (&t, out);
  for (guint h = 0; h < 65536; h++) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double sign = (h & 0x8000) ? -1.0 : 1.0, want;
    if (e == 0)
      want = sign * ldexp (m, -24);
    else if (e == 31)
      want = m ? NAN : sign * INFINITY;
    else
      want = sign * ldexp (1024 + m, e - 25);
    if (isnan (want))
      g_assert_true (isnan (out[h]));
    else
      g_assert_cmpfloat (out[h], ==, (float) want);
    g_assert_cmpint (signbit (out[h]) != 0, ==, (h & 0x8000) != 0);
  }

  t.dtype = LS_DTYPE_BF16;
  ls_st_tensor_to_f32 (&t, out);
  for (guint h = 0; h < 65536; h++) {
    int e = (h >> 7) & 0xff, m = h & 0x7f;
    double sign = (h & 0x8000) ? -1.0 : 1.0, want;
    if (e == 0)
      want = sign * ldexp (m, -133);
    else if (e == 255)
      want = m ? NAN : sign * INFINITY;
    else
      want = sign * ldexp (128 + m, e - 134);
    if (isnan (want))
      g_assert_true (isnan (out[h]));
    else
      g_assert_cmpfloat (out[h], ==, (float) want);
    g_assert_cmpint (signbit (out[h]) != 0, ==, (h & 0x8000) != 0);
  }
}

static void
test_unused_ignored (Fixture *f, gconstpointer data)
{
  /* any warning would abort the test: unused tensors must pass silently */
  st_write_model (f->path, &st_small_config, 3, LS_DTYPE_BF16, ST_MODEL_WITH_UNUSED);
  g_autoptr (LsModel) model = load_ok (f->path);
  g_assert_cmpint (ls_model_get_param_count (model), ==, count_params (&st_small_config));
  g_assert_false (g_hash_table_contains (model->weights, "context_bridge.norm1.weight"));
  g_assert_false (g_hash_table_contains (model->weights, "decoder_0.cross_attn.norm1.weight"));
}

/* A tensor the network has no place for: weights from a deeper network than
 * the metadata says, or from another one. Loading would drop them. */
static void
test_unknown_tensor_refused (Fixture *f, gconstpointer data)
{
  static const char *const names[] = {
    "backbone.block1.1.mlp1.fc1.weight",   /* a second block where layers says 1 */
    "backbone.extra.weight",
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 3, LS_DTYPE_F32, 0);
    const float v[2] = { 1, 2 };
    const gint64 shape[1] = { 2 };
    st_writer_add (w, names[i], LS_DTYPE_F32, 1, shape, v);
    g_autoptr (GBytes) bytes = st_writer_to_bytes (w);
    g_autoptr (GError) error = load_bytes_error (f, bytes);
    g_autofree char *quoted = g_strdup_printf ("'%s'", names[i]);
    assert_error_mentions (error, LS_ERROR_TENSOR, f->path, quoted, "dims 4,8,8, layers 1,1,1",
                           "the metadata and the weights disagree", NULL);
  }
}

static void
test_missing_tensor (Fixture *f, gconstpointer data)
{
  g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 3, LS_DTYPE_F32, 0);
  g_assert_true (st_writer_remove (w, "backbone.block2.0.mlp1.fc1.weight"));
  g_autoptr (GBytes) bytes = st_writer_to_bytes (w);
  g_autoptr (GError) error = load_bytes_error (f, bytes);
  assert_error_mentions (error, LS_ERROR_TENSOR, f->path,
                         "'backbone.block2.0.mlp1.fc1.weight' is missing", "[16, 8]", NULL);
}

static void
test_wrong_shape (Fixture *f, gconstpointer data)
{
  static const struct { const char *name; int ndim; gint64 shape[4]; const char *says; } cases[] = {
    { "backbone.patch_embed1.proj.weight", 4, { 4, 3, 3, 7 },
      "expected shape [4, 3, 7, 7], found [4, 3, 3, 7]" },
    { "context_bridge.map1.weight", 2, { 8, 4 },
      "expected shape [8, 4, 1, 1], found [8, 4]" },
    { "decoder_0.last_layer.bias", 0, { 0 }, "expected shape [1], found []" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 3, LS_DTYPE_F32, 0);
    g_assert_true (st_writer_remove (w, cases[i].name));
    float zeros[256] = { 0 };
    st_writer_add (w, cases[i].name, LS_DTYPE_F32, cases[i].ndim, cases[i].shape, zeros);
    g_autoptr (GBytes) bytes = st_writer_to_bytes (w);
    g_autoptr (GError) error = load_bytes_error (f, bytes);
    g_autofree char *named = g_strdup_printf ("'%s'", cases[i].name);
    assert_error_mentions (error, LS_ERROR_TENSOR, f->path, named, cases[i].says, NULL);
  }
}

static void
test_non_finite_weight (Fixture *f, gconstpointer data)
{
  const float bad[] = { NAN, INFINITY, -INFINITY };
  const char *says[] = { "element 5 is NaN", "element 5 is infinite", "element 5 is infinite" };
  const LsDType dtypes[] = { LS_DTYPE_F32, LS_DTYPE_F16, LS_DTYPE_BF16 };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 3, dtypes[i], 0);
    g_autoptr (LsModel) reference = ls_model_new_random (&st_small_config, 3);
    const char *name = "backbone.block3.0.attn.values.weight";
    float v[64];
    memcpy (v, ls_model_weight (reference, name), sizeof v);
    v[5] = bad[i];
    const gint64 shape[4] = { 8, 8, 1, 1 };
    g_assert_true (st_writer_remove (w, name));
    st_writer_add (w, name, dtypes[i], 4, shape, v);
    g_autoptr (GBytes) bytes = st_writer_to_bytes (w);
    g_autoptr (GError) error = load_bytes_error (f, bytes);
    assert_error_mentions (error, LS_ERROR_TENSOR, f->path, "'backbone.block3.0.attn.values.weight'",
                           says[i], NULL);
  }
}

/* The model keeps copies: the file may be rewritten or removed afterwards. */
static void
test_file_released (Fixture *f, gconstpointer data)
{
  st_write_model (f->path, &st_small_config, 5, LS_DTYPE_F32, 0);
  g_autoptr (LsModel) model = load_ok (f->path);
  const char *name = "decoder_0.layer_up.expand.weight";
  g_autoptr (LsModel) reference = ls_model_new_random (&st_small_config, 5);
  gsize n = 64 * 4 * sizeof (float);

  st_write_model (f->path, &st_small_config, 6, LS_DTYPE_F32, 0);
  g_assert_cmpmem (ls_model_weight (model, name), n, ls_model_weight (reference, name), n);
  g_assert_cmpint (g_remove (f->path), ==, 0);
  g_assert_cmpmem (ls_model_weight (model, name), n, ls_model_weight (reference, name), n);
}

static void
test_random_model (void)
{
  g_autoptr (LsModel) a = ls_model_new_random (&st_small_config, 42);
  g_autoptr (LsModel) b = ls_model_new_random (&st_small_config, 42);
  g_autoptr (LsModel) c = ls_model_new_random (&st_small_config, 43);
  g_assert_cmpint (ls_model_get_param_count (a), ==, count_params (&st_small_config));

  const char *fc = "backbone.block1.0.mlp1.fc2.weight";   /* [4, 8]: fan_in 8 */
  const char *fcb = "backbone.block1.0.mlp1.fc2.bias";
  const char *conv = "backbone.patch_embed1.proj.weight"; /* fan_in 3 * 49 */
  const char *ln = "backbone.block1.0.norm1.weight";
  const char *lnb = "backbone.block1.0.norm1.bias";
  g_assert_cmpmem (ls_model_weight (a, fc), 32 * 4, ls_model_weight (b, fc), 32 * 4);
  g_assert_true (memcmp (ls_model_weight (a, fc), ls_model_weight (c, fc), 32 * 4) != 0);

  float fc_max = 0, conv_max = 0;
  for (int i = 0; i < 32; i++)
    fc_max = MAX (fc_max, fabsf (ls_model_weight (a, fc)[i]));
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (fabsf (ls_model_weight (a, fcb)[i]), <=, 1 / sqrtf (8));
  for (int i = 0; i < 4 * 3 * 49; i++)
    conv_max = MAX (conv_max, fabsf (ls_model_weight (a, conv)[i]));
  g_assert_cmpfloat (fc_max, <=, 1 / sqrtf (8));
  g_assert_cmpfloat (fc_max, >, 0.5f / sqrtf (8));
  g_assert_cmpfloat (conv_max, <=, 1 / sqrtf (147));
  g_assert_cmpfloat (conv_max, >, 0.5f / sqrtf (147));
  for (int i = 0; i < 4; i++) {
    g_assert_cmpfloat (fabsf (ls_model_weight (a, ln)[i] - 1), <=, 0.1f);
    g_assert_cmpfloat (fabsf (ls_model_weight (a, lnb)[i]), <=, 0.1f);
  }
}

static void
test_refcount (void)
{
  LsModel *model = ls_model_new_random (&st_small_config, 1);
  g_assert_true (ls_model_ref (model) == model);
  ls_model_unref (model);
  g_assert_cmpint (ls_model_get_config (model)->dims[1], ==, 8);
  ls_model_unref (model);
}

/* ---- fuzzing ----------------------------------------------------------- */

static guint64
next_random (guint64 *s)
{
  guint64 z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static gsize
below (guint64 *s, gsize n)
{
  return n ? (gsize) (next_random (s) % n) : 0;
}

static GByteArray *
mutate (const guint8 *base, gsize size, guint64 *s)
{
  GByteArray *m = g_byte_array_sized_new ((guint) size);
  g_byte_array_append (m, base, (guint) size);
  guint64 hlen;
  memcpy (&hlen, base, 8);
  hlen = GUINT64_FROM_LE (hlen);
  static const char json_chars[] = "{}[]\",:-+0123456789.eE \\u\0tfn";

  switch (below (s, 6)) {
  case 0:                 /* flip bits anywhere */
    for (gsize k = 1 + below (s, 8); k > 0; k--)
      m->data[below (s, m->len)] ^= (guint8) (1u << below (s, 8));
    break;
  case 1:                 /* truncate */
    g_byte_array_set_size (m, (guint) below (s, size));
    break;
  case 2: {               /* a different header length */
    static const gint64 deltas[] = { -1, 1, -8, 8, -100, 4096 };
    guint64 v;
    switch (below (s, 3)) {
    case 0: v = hlen + (guint64) deltas[below (s, G_N_ELEMENTS (deltas))]; break;
    case 1: v = below (s, size + 16); break;
    default: v = next_random (s); break;
    }
    v = GUINT64_TO_LE (v);
    memcpy (m->data, &v, 8);
    break;
  }
  case 3:                 /* JSON-significant bytes in the header */
    for (gsize k = 1 + below (s, 4); k > 0; k--)
      m->data[8 + below (s, hlen)] = (guint8) json_chars[below (s, sizeof json_chars - 1)];
    break;
  case 4: {               /* replace a number in the header with another */
    gsize at = 8 + below (s, hlen);
    while (at < 8 + hlen && !g_ascii_isdigit (m->data[at]))
      at++;
    gsize end = at;
    while (end < 8 + hlen && g_ascii_isdigit (m->data[end]))
      end++;
    static const char *const numbers[] = { "0", "1", "-1", "3", "4294967296",
                                           "9223372036854775807", "99999999999999999999",
                                           "1e3", "2.5", "-9223372036854775808" };
    const char *n = numbers[below (s, G_N_ELEMENTS (numbers))];
    g_byte_array_remove_range (m, (guint) at, (guint) (end - at));
    /* insert n at `at` */
    gsize nl = strlen (n);
    g_byte_array_set_size (m, m->len + (guint) nl);
    memmove (m->data + at + nl, m->data + at, m->len - nl - at);
    memcpy (m->data + at, n, nl);
    if (below (s, 2)) {   /* keep the header length consistent */
      guint64 v = GUINT64_TO_LE (hlen + nl - (end - at));
      memcpy (m->data, &v, 8);
    }
    break;
  }
  default:                /* delete a header slice, length fixed up */
    {
      gsize at = 8 + below (s, hlen), len = 1 + below (s, 16);
      len = MIN (len, 8 + hlen - at);
      g_byte_array_remove_range (m, (guint) at, (guint) len);
      guint64 v = GUINT64_TO_LE (hlen - len);
      memcpy (m->data, &v, 8);
    }
    break;
  }
  return m;
}

static void
test_fuzz (Fixture *f, gconstpointer data)
{
  g_autoptr (StWriter) w = st_writer_new_model (&st_small_config, 9, LS_DTYPE_F16,
                                                   ST_MODEL_WITH_UNUSED);
  g_autoptr (GBytes) valid = st_writer_to_bytes (w);
  gsize size;
  const guint8 *base = g_bytes_get_data (valid, &size);

  guint parsed = 0, loaded = 0;

  /* LS_FUZZ_ITERATIONS and LS_FUZZ_SEED run a longer or different campaign
   * by hand; the default stays fast enough for every test run */
  const char *env_n = g_getenv ("LS_FUZZ_ITERATIONS");
  const char *env_seed = g_getenv ("LS_FUZZ_SEED");
  guint64 iterations = env_n ? g_ascii_strtoull (env_n, NULL, 10) : 2000;
  guint64 state = env_seed ? g_ascii_strtoull (env_seed, NULL, 10) : 20240611;
  for (guint64 i = 0; i < iterations; i++) {
    GByteArray *m = mutate (base, size, &state);
    g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (m);
    g_autoptr (GError) error = NULL;

    /* in memory: an exact-size heap copy, so a sanitizer sees any overread */
    g_autoptr (LsSafetensors) st = ls_safetensors_parse (bytes, "fuzz", &error);
    g_assert_true ((st != NULL) != (error != NULL));
    if (st != NULL) {
      parsed++;
      for (guint k = 0; k < ls_safetensors_get_n_tensors (st); k++) {
        const LsStTensor *t = ls_safetensors_get_tensor (st, k);
        g_autofree float *out = g_new (float, MAX (t->numel, 1));
        ls_st_tensor_to_f32 (t, out);
      }
    } else {
      g_assert_true (error->domain == LS_ERROR);
    }
    g_clear_error (&error);

    st_write_bytes (f->path, bytes);
    g_autoptr (LsModel) model = ls_model_load (f->path, &error);
    g_assert_true ((model != NULL) != (error != NULL));
    if (model != NULL)
      loaded++;
    else
      g_assert_true (error->domain == LS_ERROR);
  }

  g_test_message ("%" G_GUINT64_FORMAT " mutations: %u parsed, %u loaded",
                  iterations, parsed, loaded);
  /* the mutations must exercise both outcomes to mean anything */
  g_assert_cmpuint (parsed, >, iterations / 40);
  g_assert_cmpuint (parsed, <, iterations - iterations / 40);
  g_assert_cmpuint (loaded, >, iterations / 100);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/model-file/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("file/missing", test_missing_file);
  ADD ("file/unreadable", test_unreadable_file);
  ADD ("file/short", test_short_file);
  ADD ("header/length-past-end", test_header_past_end);
  ADD ("header/length-absurd", test_header_absurd_length);
  ADD ("header/not-json", test_header_not_json);
  ADD ("header/not-object", test_header_not_object);
  ADD ("header/too-deep", test_header_too_deep);
  ADD ("header/entry-not-object", test_entry_not_object);
  ADD ("header/entry-missing-field", test_entry_missing_field);
  ADD ("header/duplicate-key", test_duplicate_key);
  ADD ("header/not-strict-json", test_header_not_strict_json);
  ADD ("header/bad-dims", test_bad_dims);
  ADD ("header/numel-overflow", test_numel_overflow);
  ADD ("header/offsets-out-of-range", test_offsets_out_of_range);
  ADD ("header/size-mismatch", test_size_mismatch);
  ADD ("header/overlap", test_overlap);
  ADD ("header/misaligned", test_misaligned);
  ADD ("header/unknown-dtype", test_unknown_dtype);
  ADD ("header/bad-metadata", test_bad_metadata);
  g_test_add_func ("/model-file/config/defaults", test_config_defaults);
  g_test_add_func ("/model-file/config/refused", test_config_refused);
  ADD ("config/refused-in-file", test_config_refused_in_file);
  ADD ("tensors/f32", test_load_f32);
  ADD ("tensors/f16", test_load_f16);
  ADD ("tensors/bf16", test_load_bf16);
  g_test_add_func ("/model-file/tensors/half-exact", test_half_exact);
  g_test_add_func ("/model-file/tensors/half-all-values", test_half_all_values);
  ADD ("tensors/unused-ignored", test_unused_ignored);
  ADD ("tensors/unknown-refused", test_unknown_tensor_refused);
  ADD ("tensors/missing", test_missing_tensor);
  ADD ("tensors/wrong-shape", test_wrong_shape);
  ADD ("tensors/non-finite", test_non_finite_weight);
  ADD ("tensors/file-released", test_file_released);
  g_test_add_func ("/model-file/random-model", test_random_model);
  g_test_add_func ("/model-file/refcount", test_refcount);
  ADD ("fuzz", test_fuzz);
#undef ADD

  return g_test_run ();
}
