/* A strict reader of safetensors files: an 8-byte little-endian header
 * length, a JSON header, then the raw little-endian tensor data.
 *
 * Every offset, shape and length in the header is checked against the bytes
 * actually present before anything is read, so no input can make the reader
 * read out of bounds or allocate beyond the size of the file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  LS_DTYPE_F32,
  LS_DTYPE_F16,
  LS_DTYPE_BF16,
} LsDType;

#define LS_ST_MAX_DIMS 8

typedef struct {
  char *name;
  LsDType dtype;
  int ndim;
  gint64 shape[LS_ST_MAX_DIMS];
  gint64 numel;
  gsize offset;          /* of the data, from the start of the data section */
  gsize nbytes;
  const guint8 *data;    /* inside the file's bytes; not aligned in general */
} LsStTensor;

typedef struct _LsSafetensors LsSafetensors;

/* Maps the file read-only. Fails with LS_ERROR_FILE when it cannot be read,
 * LS_ERROR_FORMAT when it is not a valid safetensors file and LS_ERROR_TENSOR
 * for a dtype this reader does not know. */
LsSafetensors *ls_safetensors_open  (const char *path, GError **error);
/* The same from bytes in memory (kept referenced); @display_name stands for
 * the file in error messages. */
LsSafetensors *ls_safetensors_parse (GBytes *bytes, const char *display_name, GError **error);
void           ls_safetensors_free  (LsSafetensors *st);

const char    *ls_safetensors_get_path      (LsSafetensors *st);
/* __metadata__ as string -> string; empty when the file has none. */
GHashTable    *ls_safetensors_get_metadata  (LsSafetensors *st);
guint          ls_safetensors_get_n_tensors (LsSafetensors *st);
/* In file (header) order. */
const LsStTensor *ls_safetensors_get_tensor (LsSafetensors *st, guint index);
/* NULL when absent. */
const LsStTensor *ls_safetensors_find       (LsSafetensors *st, const char *name);

/* "F32", "F16", "BF16" */
const char    *ls_dtype_name (LsDType dtype);
gsize          ls_dtype_size (LsDType dtype);

/* Converts the tensor's numel elements to f32 in @out. F16 and BF16 are
 * converted exactly, subnormals, infinities and NaN included. */
void           ls_st_tensor_to_f32 (const LsStTensor *tensor, float *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LsSafetensors, ls_safetensors_free)

G_END_DECLS
