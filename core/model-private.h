/* Inside of LsModel, shared by the loader, the network builder and backends.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "lesionseg.h"

#define LS_ARCH "iscf-effformer"

/* One weight, converted to f32 at load time and owned by the model. */
typedef struct {
  char *name;
  int ndim;
  gint64 shape[4];
  gint64 numel;
  float *data;          /* 64-byte aligned */
} LsWeight;

struct _LsModel {
  gint ref_count;
  char *path;
  LsConfig config;
  GHashTable *weights;  /* name -> LsWeight*, only the tensors the network uses */
  gint64 param_count;
};

/* The f32 data of a weight the network uses. The loader has checked that it
 * exists with the shape network.c asked for, so this never fails for a name
 * ls_network_foreach_tensor() listed. */
const float *ls_model_weight (const LsModel *model, const char *name);

/* Parses and validates the hyper-parameters of a __metadata__ map (string ->
 * string). @path names the file in error messages. */
gboolean ls_config_from_metadata (GHashTable *metadata, const char *path,
                                  LsConfig *config, GError **error);

/* A model with the network's weights for @config filled from a seeded PRNG,
 * in the spirit of PyTorch's default init: Linear and conv weights and biases
 * uniform in +-1/sqrt(fan_in), LayerNorm weights 1 +- 0.1 and biases +- 0.1.
 * The same (config, seed) gives the same weights on every machine, so tests
 * and benchmarks can run any config without a file. @config must be valid
 * (as ls_config_from_metadata() accepts). */
LsModel *ls_model_new_random (const LsConfig *config, guint32 seed);
