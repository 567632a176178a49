/* A strict safetensors reader (see safetensors.h).
 *
 * The header is untrusted input: every length is compared with the bytes
 * that are really there before it is used, and nothing is allocated from a
 * length the file claims, only from what the file holds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "safetensors.h"

#include "lesionseg.h"

#include <json-glib/json-glib.h>
#include <string.h>

struct _LsSafetensors {
  char *path;            /* as given, for messages */
  GBytes *bytes;         /* the whole file (holds the mapping when mapped) */
  GHashTable *metadata;  /* char* -> char* */
  GPtrArray *tensors;    /* LsStTensor*, in header order */
  GHashTable *by_name;   /* char* -> LsStTensor*, borrowed from tensors */
};

const char *
ls_dtype_name (LsDType dtype)
{
  switch (dtype) {
  case LS_DTYPE_F32: return "F32";
  case LS_DTYPE_F16: return "F16";
  case LS_DTYPE_BF16: return "BF16";
  }
  g_return_val_if_reached ("?");
}

gsize
ls_dtype_size (LsDType dtype)
{
  return dtype == LS_DTYPE_F32 ? 4 : 2;
}

static gboolean
dtype_from_string (const char *s, LsDType *dtype)
{
  static const LsDType known[] = { LS_DTYPE_F32, LS_DTYPE_F16, LS_DTYPE_BF16 };
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (s, ls_dtype_name (known[i])) == 0) {
      *dtype = known[i];
      return TRUE;
    }
  return FALSE;
}

static void
st_tensor_free (gpointer p)
{
  LsStTensor *t = p;
  g_free (t->name);
  g_free (t);
}

void
ls_safetensors_free (LsSafetensors *st)
{
  if (st == NULL)
    return;
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  g_clear_pointer (&st->tensors, g_ptr_array_unref);
  g_clear_pointer (&st->metadata, g_hash_table_unref);
  g_clear_pointer (&st->bytes, g_bytes_unref);
  g_free (st->path);
  g_free (st);
}

/* A short rendering of a JSON value for "found ..." in messages. */
static char *
describe_node (JsonNode *node)
{
  if (node == NULL)
    return g_strdup ("nothing");
  g_autofree char *json = json_to_string (node, FALSE);
  if (strlen (json) > 40)
    return g_strdup_printf ("%.37s...", json);
  return g_steal_pointer (&json);
}

static gboolean
node_is_integer (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static char *
format_shape (const LsStTensor *t)
{
  GString *s = g_string_new ("[");
  for (int i = 0; i < t->ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", t->shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
parse_shape (const char *path, const char *name, JsonNode *node, LsStTensor *t,
             GError **error)
{
  if (!JSON_NODE_HOLDS_ARRAY (node)) {
    g_autofree char *found = describe_node (node);
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': 'shape' is not an array (found %s)", path, name, found);
    return FALSE;
  }
  JsonArray *dims = json_node_get_array (node);
  guint ndim = json_array_get_length (dims);
  if (ndim > LS_ST_MAX_DIMS) {
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': shape has %u dimensions (at most %d supported)",
                 path, name, ndim, LS_ST_MAX_DIMS);
    return FALSE;
  }

  t->ndim = (int) ndim;
  t->numel = 1;
  for (guint i = 0; i < ndim; i++) {
    JsonNode *dim = json_array_get_element (dims, i);
    if (!node_is_integer (dim) || json_node_get_int (dim) < 0) {
      g_autofree char *found = describe_node (dim);
      g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                   "%s: tensor '%s': shape[%u] must be a non-negative integer (found %s)",
                   path, name, i, found);
      return FALSE;
    }
    t->shape[i] = json_node_get_int (dim);
    if (t->shape[i] != 0 && t->numel > G_MAXINT64 / t->shape[i]) {
      g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                   "%s: tensor '%s': the element count of its shape overflows 64 bits",
                   path, name);
      return FALSE;
    }
    t->numel *= t->shape[i];
  }
  return TRUE;
}

static gboolean
parse_data_offsets (const char *path, const char *name, JsonNode *node, gsize data_size,
                    gint64 *begin, gint64 *end, GError **error)
{
  JsonArray *a = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  if (a == NULL || json_array_get_length (a) != 2 ||
      !node_is_integer (json_array_get_element (a, 0)) ||
      !node_is_integer (json_array_get_element (a, 1))) {
    g_autofree char *found = describe_node (node);
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': 'data_offsets' must be two integers [begin, end] (found %s)",
                 path, name, found);
    return FALSE;
  }
  *begin = json_array_get_int_element (a, 0);
  *end = json_array_get_int_element (a, 1);
  if (*begin < 0 || *end < *begin || (guint64) *end > data_size) {
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                 "] out of range (data section is %" G_GSIZE_FORMAT " bytes)",
                 path, name, *begin, *end, data_size);
    return FALSE;
  }
  return TRUE;
}

static LsStTensor *
parse_tensor (const char *path, const char *name, JsonNode *node,
              const guint8 *data, gsize data_size, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_autofree char *found = describe_node (node);
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': header entry is not a JSON object (found %s)",
                 path, name, found);
    return NULL;
  }
  JsonObject *obj = json_node_get_object (node);

  static const char *const keys[] = { "dtype", "shape", "data_offsets" };
  JsonNode *field[G_N_ELEMENTS (keys)];
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    field[i] = json_object_get_member (obj, keys[i]);
    if (field[i] == NULL) {
      g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                   "%s: tensor '%s': header entry has no '%s'", path, name, keys[i]);
      return NULL;
    }
  }
  /* Anything else is a writer we do not understand; better to say so than
   * to guess what it meant. */
  if (json_object_get_size (obj) != G_N_ELEMENTS (keys)) {
    JsonObjectIter iter;
    const char *key = "?";
    json_object_iter_init_ordered (&iter, obj);
    while (json_object_iter_next_ordered (&iter, &key, NULL))
      if (strcmp (key, "dtype") != 0 && strcmp (key, "shape") != 0 &&
          strcmp (key, "data_offsets") != 0)
        break;
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': unexpected key '%s' in header entry "
                 "(expected dtype, shape, data_offsets)", path, name, key);
    return NULL;
  }

  /* t->name is set last: until then a plain g_free releases it */
  g_autofree LsStTensor *t = g_new0 (LsStTensor, 1);

  if (!node_is_string (field[0])) {
    g_autofree char *found = describe_node (field[0]);
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': 'dtype' is not a string (found %s)", path, name, found);
    return NULL;
  }
  const char *dtype = json_node_get_string (field[0]);
  if (!dtype_from_string (dtype, &t->dtype)) {
    g_set_error (error, LS_ERROR, LS_ERROR_TENSOR,
                 "%s: tensor '%s': unsupported dtype '%s' (supported: F32, F16, BF16)",
                 path, name, dtype);
    return NULL;
  }

  if (!parse_shape (path, name, field[1], t, error))
    return NULL;

  gint64 begin, end;
  if (!parse_data_offsets (path, name, field[2], data_size, &begin, &end, error))
    return NULL;

  gsize esize = ls_dtype_size (t->dtype);
  /* numel fits in 64 bits; compare in units of elements so that the
   * product numel * esize cannot overflow either */
  if ((guint64) (end - begin) % esize != 0 || (guint64) (end - begin) / esize != (guint64) t->numel) {
    g_autofree char *shape = format_shape (t);
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                 "] hold %" G_GINT64_FORMAT " bytes, but %s %s needs %" G_GINT64_FORMAT
                 " elements of %" G_GSIZE_FORMAT " bytes",
                 path, name, begin, end, end - begin, dtype, shape, t->numel, esize);
    return NULL;
  }
  if ((guint64) begin % esize != 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: tensor '%s': data offset %" G_GINT64_FORMAT " is misaligned "
                 "(expected a multiple of %" G_GSIZE_FORMAT ", the size of %s)",
                 path, name, begin, esize, dtype);
    return NULL;
  }

  t->name = g_strdup (name);
  t->offset = (gsize) begin;
  t->nbytes = (gsize) (end - begin);
  t->data = data + begin;
  return g_steal_pointer (&t);
}

static gboolean
parse_metadata (const char *path, JsonNode *node, GHashTable *metadata, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_autofree char *found = describe_node (node);
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: '__metadata__' is not a JSON object (found %s)", path, found);
    return FALSE;
  }
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  json_object_iter_init_ordered (&iter, json_node_get_object (node));
  while (json_object_iter_next_ordered (&iter, &key, &value)) {
    if (!node_is_string (value)) {
      g_autofree char *found = describe_node (value);
      g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                   "%s: '__metadata__' entry '%s' is not a string (found %s)",
                   path, key, found);
      return FALSE;
    }
    g_hash_table_insert (metadata, g_strdup (key), g_strdup (json_node_get_string (value)));
  }
  return TRUE;
}

static int
compare_offset (gconstpointer a, gconstpointer b)
{
  const LsStTensor *x = *(const LsStTensor *const *) a;
  const LsStTensor *y = *(const LsStTensor *const *) b;
  return (x->offset > y->offset) - (x->offset < y->offset);
}

static gboolean
check_overlap (LsSafetensors *st, GError **error)
{
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  for (guint i = 0; i < st->tensors->len; i++) {
    LsStTensor *t = g_ptr_array_index (st->tensors, i);
    if (t->nbytes > 0)   /* an empty tensor occupies no bytes */
      g_ptr_array_add (sorted, t);
  }
  g_ptr_array_sort (sorted, compare_offset);
  for (guint i = 1; i < sorted->len; i++) {
    const LsStTensor *a = g_ptr_array_index (sorted, i - 1);
    const LsStTensor *b = g_ptr_array_index (sorted, i);
    if (b->offset < a->offset + a->nbytes) {
      g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                   "%s: tensors '%s' [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] and '%s' [%"
                   G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] overlap",
                   st->path, a->name, a->offset, a->offset + a->nbytes,
                   b->name, b->offset, b->offset + b->nbytes);
      return FALSE;
    }
  }
  return TRUE;
}

/* A safetensors header nests three levels deep. json-glib's parser recurses
 * once per level, so a header of a million '[' could exhaust the stack:
 * refuse deep nesting before parsing. */
#define LS_ST_MAX_DEPTH 32

/* What strict JSON (RFC 8259) allows outside strings: structure, whitespace,
 * numbers and the literals true, false and null. */
static gboolean
is_json_token_char (char c)
{
  return c != '\0' && strchr ("{}[]:, \t\n\r-+.0123456789eEtrufalsn", c) != NULL;
}

/* Scans the raw JSON for its nesting depth and its number of object members
 * (every ':' outside a string separates one). json-glib also accepts
 * comments and single-quoted strings, in which a '"' would desynchronise
 * this scan (hiding nesting and duplicate keys from it): any byte strict
 * JSON does not allow outside a string is refused here. */
static gboolean
scan_json (const char *json, gsize len, gsize *n_members, GError **error)
{
  int depth = 0;
  gboolean in_string = FALSE;
  *n_members = 0;
  for (gsize i = 0; i < len; i++) {
    char c = json[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (!is_json_token_char (c)) {
      g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                   "header is not strict JSON: byte 0x%02x at offset %" G_GSIZE_FORMAT
                   " outside a string", (guint8) c, i);
      return FALSE;
    } else if (c == '[' || c == '{') {
      if (++depth > LS_ST_MAX_DEPTH) {
        g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                     "header JSON nests deeper than %d levels (a safetensors header "
                     "needs 3)", LS_ST_MAX_DEPTH);
        return FALSE;
      }
    } else if (c == ']' || c == '}') {
      depth--;
    } else if (c == ':') {
      (*n_members)++;
    }
  }
  return TRUE;
}

/* Members of every object in the parsed tree. json-glib keeps only the last
 * of two members with the same name, so fewer here than in the text means a
 * duplicate, which could hide a tensor. */
static gsize
count_members (JsonNode *node)
{
  gsize n = 0;
  if (JSON_NODE_HOLDS_OBJECT (node)) {
    JsonObjectIter iter;
    const char *name;   /* json-glib does not accept NULL for it */
    JsonNode *member;
    json_object_iter_init_ordered (&iter, json_node_get_object (node));
    while (json_object_iter_next_ordered (&iter, &name, &member))
      n += 1 + count_members (member);
  } else if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *a = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (a); i++)
      n += count_members (json_array_get_element (a, i));
  }
  return n;
}

static gboolean
parse_header (LsSafetensors *st, GError **error)
{
  gsize size;
  const guint8 *base = g_bytes_get_data (st->bytes, &size);

  if (size < 8) {
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: file is %" G_GSIZE_FORMAT " bytes, too short for a safetensors "
                 "header (expected at least 8)", st->path, size);
    return FALSE;
  }
  guint64 header_len;
  memcpy (&header_len, base, sizeof header_len);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > size - 8) {
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: header length %" G_GUINT64_FORMAT " is past the end of the file "
                 "(%" G_GSIZE_FORMAT " bytes follow the length field)",
                 st->path, header_len, size - 8);
    return FALSE;
  }
  const char *header = (const char *) base + 8;
  const guint8 *data = base + 8 + header_len;
  gsize data_size = size - 8 - header_len;

  gsize n_members;
  if (!scan_json (header, header_len, &n_members, error)) {
    g_prefix_error (error, "%s: ", st->path);
    return FALSE;
  }

  /* The header is not NUL-terminated: always pass its length. */
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) json_error = NULL;
  if (header_len > G_MAXSSIZE ||
      !json_parser_load_from_data (parser, header, (gssize) header_len, &json_error)) {
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT, "%s: header is not valid JSON: %s",
                 st->path, json_error ? json_error->message : "too long");
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_autofree char *found = describe_node (root);
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: header is not a JSON object (found %s)", st->path, found);
    return FALSE;
  }
  if (count_members (root) != n_members) {
    g_set_error (error, LS_ERROR, LS_ERROR_FORMAT,
                 "%s: header names the same key twice in one JSON object", st->path);
    return FALSE;
  }

  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  json_object_iter_init_ordered (&iter, json_node_get_object (root));
  while (json_object_iter_next_ordered (&iter, &name, &node)) {
    if (strcmp (name, "__metadata__") == 0) {
      if (!parse_metadata (st->path, node, st->metadata, error))
        return FALSE;
      continue;
    }
    LsStTensor *t = parse_tensor (st->path, name, node, data, data_size, error);
    if (t == NULL)
      return FALSE;
    g_ptr_array_add (st->tensors, t);
    g_hash_table_insert (st->by_name, t->name, t);
  }
  return check_overlap (st, error);
}

LsSafetensors *
ls_safetensors_parse (GBytes *bytes, const char *display_name, GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (LsSafetensors) st = g_new0 (LsSafetensors, 1);
  st->path = g_strdup (display_name ? display_name : "(memory)");
  st->bytes = g_bytes_ref (bytes);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  st->tensors = g_ptr_array_new_with_free_func (st_tensor_free);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  if (!parse_header (st, error))
    return NULL;
  return g_steal_pointer (&st);
}

LsSafetensors *
ls_safetensors_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GError) file_error = NULL;
  g_autoptr (GMappedFile) mapped = g_mapped_file_new (path, FALSE, &file_error);
  if (mapped == NULL) {
    /* GLib's message already names the file and the reason */
    g_set_error (error, LS_ERROR, LS_ERROR_FILE, "cannot read model file: %s",
                 file_error->message);
    return NULL;
  }
  g_autoptr (GBytes) bytes = g_mapped_file_get_bytes (mapped);
  return ls_safetensors_parse (bytes, path, error);
}

const char *
ls_safetensors_get_path (LsSafetensors *st)
{
  return st->path;
}

GHashTable *
ls_safetensors_get_metadata (LsSafetensors *st)
{
  return st->metadata;
}

guint
ls_safetensors_get_n_tensors (LsSafetensors *st)
{
  return st->tensors->len;
}

const LsStTensor *
ls_safetensors_get_tensor (LsSafetensors *st, guint index)
{
  g_return_val_if_fail (index < st->tensors->len, NULL);
  return g_ptr_array_index (st->tensors, index);
}

const LsStTensor *
ls_safetensors_find (LsSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->by_name, name);
}

/* IEEE binary16 -> binary32, exact for every input. */
static float
f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;
  guint32 bits;

  if (exponent == 0x1f) {                 /* inf, nan (payload kept) */
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {             /* normal: rebias 15 -> 127 */
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {             /* signed zero */
    bits = sign;
  } else {
    /* subnormal, mantissa * 2^-24: normalise so that the leading one
     * becomes the implicit bit; every one is a normal f32 */
    exponent = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      exponent--;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* bfloat16 is the upper half of a binary32. */
static float
bf16_to_f32 (guint16 h)
{
  guint32 bits = (guint32) h << 16;
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

void
ls_st_tensor_to_f32 (const LsStTensor *t, float *out)
{
  /* t->data is only as aligned as the header length makes it: read each
   * element through memcpy */
  const guint8 *p = t->data;
  switch (t->dtype) {
  case LS_DTYPE_F32:
    for (gint64 i = 0; i < t->numel; i++) {
      guint32 bits;
      memcpy (&bits, p + 4 * i, 4);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&out[i], &bits, 4);
    }
    break;
  case LS_DTYPE_F16:
  case LS_DTYPE_BF16:
    for (gint64 i = 0; i < t->numel; i++) {
      guint16 h;
      memcpy (&h, p + 2 * i, 2);
      h = GUINT16_FROM_LE (h);
      out[i] = t->dtype == LS_DTYPE_F16 ? f16_to_f32 (h) : bf16_to_f32 (h);
    }
    break;
  }
}
