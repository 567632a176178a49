/* A small safetensors writer for tests: valid files from f32 data in any
 * dtype the reader knows, files with a hand-written header for the corrupt
 * cases, and whole model files with seeded random weights.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lesionseg.h"
#include "safetensors.h"

G_BEGIN_DECLS

typedef struct _StWriter StWriter;

StWriter *st_writer_new          (void);
void      st_writer_free         (StWriter *writer);
/* NULL @value removes @key. */
void      st_writer_set_metadata (StWriter *writer, const char *key, const char *value);
/* Metadata describing @config, as the exporter writes it. */
void      st_writer_set_config   (StWriter *writer, const LsConfig *config);
/* Adds a tensor; @data (numel floats) is rounded to @dtype (nearest even). */
void      st_writer_add          (StWriter *writer, const char *name, LsDType dtype,
                                  int ndim, const gint64 *shape, const float *data);
/* Adds a tensor with any dtype string and raw bytes (for dtypes the reader
 * refuses). */
void      st_writer_add_raw      (StWriter *writer, const char *name, const char *dtype,
                                  int ndim, const gint64 *shape,
                                  const void *bytes, gsize nbytes);
/* Removes the tensor @name; FALSE when there is none. */
gboolean  st_writer_remove       (StWriter *writer, const char *name);
/* The whole file. Tensors are laid out in the order added, back to back, and
 * the header is padded with spaces to a multiple of 8 bytes. */
GBytes   *st_writer_to_bytes     (StWriter *writer);
void      st_writer_write        (StWriter *writer, const char *path);
/* Writes @bytes to @path as a new file, without syncing it (test files are
 * throw-away, and some tests write thousands); any failure fails the test. */
void      st_write_bytes         (const char *path, GBytes *bytes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StWriter, st_writer_free)

/* A file whose header is @header (@header_len bytes, -1 for strlen) taken
 * as is, followed by @data_len bytes of @data. */
GBytes   *st_raw_file            (const char *header, gssize header_len,
                                  const void *data, gsize data_len);

/* @v rounded to @dtype and back, as a reader of a file written with @dtype
 * sees it. */
float     st_round_to_dtype      (float v, LsDType dtype);

/* A model config small enough to write thousands of times, with every kind
 * of tensor: the model files of the tests and the fuzz seeds. */
extern const LsConfig st_small_config;

typedef enum {
  ST_MODEL_DEFAULT       = 0,
  /* also write checkpoint tensors the forward pass never reads (a few of
   * each kind model-spec.md lists), as converted checkpoints carry them */
  ST_MODEL_WITH_UNUSED   = 1 << 0,
} StModelFlags;

/* A writer holding a complete model for @config: metadata and every tensor
 * of ls_network_foreach_tensor(), with the weights of
 * ls_model_new_random (config, seed) in @dtype. Add tensors or change
 * metadata before writing it out. */
StWriter *st_writer_new_model    (const LsConfig *config, guint32 seed, LsDType dtype,
                                  StModelFlags flags);
/* The same, written to @path. */
void      st_write_model         (const char *path, const LsConfig *config, guint32 seed,
                                  LsDType dtype, StModelFlags flags);

G_END_DECLS
