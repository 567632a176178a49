/* LsModel: a model file read, checked against the network's weight list and
 * converted to aligned f32 buffers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "model-private.h"

#include "graph.h"
#include "network.h"
#include "safetensors.h"

#include <math.h>
#include <string.h>

static void
weight_free (gpointer p)
{
  LsWeight *w = p;
  g_free (w->name);
  ls_aligned_free (w->data);
  g_free (w);
}

static LsModel *
model_new (const char *path, const LsConfig *config)
{
  LsModel *model = g_new0 (LsModel, 1);
  model->ref_count = 1;
  model->path = g_strdup (path);
  model->config = *config;
  model->weights = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, weight_free);
  return model;
}

static LsWeight *
model_add_weight (LsModel *model, const char *name, int ndim, const gint64 *shape)
{
  LsWeight *w = g_new0 (LsWeight, 1);
  w->name = g_strdup (name);
  w->ndim = ndim;
  w->numel = 1;
  for (int i = 0; i < ndim; i++) {
    w->shape[i] = shape[i];
    w->numel *= shape[i];
  }
  w->data = ls_aligned_alloc ((gsize) w->numel);
  g_hash_table_replace (model->weights, w->name, w);
  model->param_count += w->numel;
  return w;
}

static char *
format_shape (int ndim, const gint64 *shape)
{
  GString *s = g_string_new ("[");
  for (int i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

typedef struct {
  LsModel *model;
  LsSafetensors *st;
  GHashTable *expected;   /* names the network reads (borrowed from model) */
  GError *error;          /* the first failure; later tensors are skipped */
} LoadContext;

static void
load_tensor (const char *name, int ndim, const gint64 *shape, gpointer user_data)
{
  LoadContext *ctx = user_data;
  const char *path = ctx->model->path;

  if (ctx->error != NULL)
    return;

  const LsStTensor *t = ls_safetensors_find (ctx->st, name);
  if (t == NULL) {
    g_autofree char *want = format_shape (ndim, shape);
    g_set_error (&ctx->error, LS_ERROR, LS_ERROR_TENSOR,
                 "%s: tensor '%s' is missing (expected shape %s)", path, name, want);
    return;
  }
  gboolean same = t->ndim == ndim;
  for (int i = 0; same && i < ndim; i++)
    same = t->shape[i] == shape[i];
  if (!same) {
    g_autofree char *want = format_shape (ndim, shape);
    g_autofree char *found = format_shape (t->ndim, t->shape);
    g_set_error (&ctx->error, LS_ERROR, LS_ERROR_TENSOR,
                 "%s: tensor '%s': expected shape %s, found %s", path, name, want, found);
    return;
  }

  LsWeight *w = model_add_weight (ctx->model, name, ndim, shape);
  g_hash_table_add (ctx->expected, w->name);
  ls_st_tensor_to_f32 (t, w->data);
  /* one non-finite weight poisons every output pixel downstream; say where
   * it is instead */
  for (gint64 i = 0; i < w->numel; i++)
    if (!isfinite (w->data[i])) {
      g_set_error (&ctx->error, LS_ERROR, LS_ERROR_TENSOR,
                   "%s: tensor '%s': element %" G_GINT64_FORMAT " is %s (weights must be finite)",
                   path, name, i, isnan (w->data[i]) ? "NaN" : "infinite");
      return;
    }
}

LsModel *
ls_model_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* freed (and unmapped) on return: the model keeps its own copies */
  g_autoptr (LsSafetensors) st = ls_safetensors_open (path, error);
  if (st == NULL)
    return NULL;

  LsConfig config;
  if (!ls_config_from_metadata (ls_safetensors_get_metadata (st), path, &config, error))
    return NULL;

  g_autoptr (LsModel) model = model_new (path, &config);
  g_autoptr (GHashTable) expected = g_hash_table_new (g_str_hash, g_str_equal);
  LoadContext ctx = { model, st, expected, NULL };
  ls_network_foreach_tensor (&config, load_tensor, &ctx);
  if (ctx.error != NULL) {
    g_propagate_error (error, ctx.error);
    return NULL;
  }

  /* A tensor the network has no place for means that the metadata and the
   * weights disagree (more blocks than 'layers' says, say): running the
   * network the metadata describes would drop weights the file was made
   * with, so refuse it. */
  for (guint i = 0; i < ls_safetensors_get_n_tensors (st); i++) {
    const char *name = ls_safetensors_get_tensor (st, i)->name;
    if (!g_hash_table_contains (expected, name) && !ls_network_tensor_is_unused (name)) {
      g_set_error (error, LS_ERROR, LS_ERROR_TENSOR,
                   "%s: tensor '%s' has no place in the network the metadata describes "
                   "(dims %d,%d,%d, layers %d,%d,%d): the metadata and the weights disagree",
                   path, name, config.dims[0], config.dims[1], config.dims[2],
                   config.layers[0], config.layers[1], config.layers[2]);
      return NULL;
    }
  }
  return g_steal_pointer (&model);
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and the same numbers on
 * every platform, unlike g_random which may change between GLib versions. */
static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* uniform in [-bound, bound) */
static float
uniform (guint64 *state, float bound)
{
  double u = (double) (splitmix64 (state) >> 11) * 0x1.0p-53;
  return (float) ((2.0 * u - 1.0) * bound);
}

typedef struct {
  char *name;
  int ndim;
  gint64 shape[4];
} TensorSpec;

static void
collect_spec (const char *name, int ndim, const gint64 *shape, gpointer user_data)
{
  GArray *specs = user_data;
  TensorSpec s = { g_strdup (name), ndim, { 0 } };
  memcpy (s.shape, shape, sizeof (gint64) * (gsize) ndim);
  g_array_append_val (specs, s);
}

static void
clear_spec (gpointer p)
{
  g_free (((TensorSpec *) p)->name);
}

LsModel *
ls_model_new_random (const LsConfig *config, guint32 seed)
{
  g_return_val_if_fail (config != NULL, NULL);

  g_autofree char *path = g_strdup_printf ("(random weights, seed %u)", seed);
  LsModel *model = model_new (path, config);
  g_autoptr (GArray) specs = g_array_new (FALSE, FALSE, sizeof (TensorSpec));
  g_array_set_clear_func (specs, clear_spec);
  ls_network_foreach_tensor (config, collect_spec, specs);

  /* a bias takes its bound from the weight of the same module: 1-D means a
   * LayerNorm, else fan_in = product of all but the output dimension */
  g_autoptr (GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < specs->len; i++) {
    TensorSpec *s = &g_array_index (specs, TensorSpec, i);
    g_hash_table_insert (by_name, s->name, s);
  }

  guint64 state = seed;
  for (guint i = 0; i < specs->len; i++) {
    const TensorSpec *s = &g_array_index (specs, TensorSpec, i);
    const TensorSpec *module_weight = s;
    if (g_str_has_suffix (s->name, ".bias")) {
      g_autofree char *w = g_strndup (s->name, strlen (s->name) - strlen ("bias"));
      g_autofree char *wname = g_strconcat (w, "weight", NULL);
      const TensorSpec *found = g_hash_table_lookup (by_name, wname);
      if (found != NULL)
        module_weight = found;
    }
    gboolean layernorm = module_weight->ndim == 1;
    gboolean is_bias = g_str_has_suffix (s->name, ".bias");
    gint64 fan_in = 1;
    for (int d = 1; d < module_weight->ndim; d++)
      fan_in *= module_weight->shape[d];

    LsWeight *w = model_add_weight (model, s->name, s->ndim, s->shape);
    float bound = layernorm ? 0.1f : (float) (1.0 / sqrt ((double) fan_in));
    float offset = layernorm && !is_bias ? 1.0f : 0.0f;
    for (gint64 k = 0; k < w->numel; k++)
      w->data[k] = offset + uniform (&state, bound);
  }
  return model;
}

LsModel *
ls_model_ref (LsModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_atomic_int_inc (&model->ref_count);
  return model;
}

void
ls_model_unref (LsModel *model)
{
  if (model == NULL || !g_atomic_int_dec_and_test (&model->ref_count))
    return;
  g_hash_table_unref (model->weights);
  g_free (model->path);
  g_free (model);
}

const LsConfig *
ls_model_get_config (const LsModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return &model->config;
}

const char *
ls_model_get_path (const LsModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return model->path;
}

gint64
ls_model_get_param_count (const LsModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->param_count;
}

double
ls_model_get_gflop (const LsModel *model, int width, int height)
{
  g_return_val_if_fail (model != NULL, 0.0);
  return ls_network_flops (&model->config, width, height) / 1e9;
}

const float *
ls_model_weight (const LsModel *model, const char *name)
{
  const LsWeight *w = g_hash_table_lookup (model->weights, name);
  if (w == NULL) {
    g_critical ("ls_model_weight: the model has no weight '%s'", name);
    return NULL;
  }
  return w->data;
}
