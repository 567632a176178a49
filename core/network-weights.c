/* The network described without building it: its weights' names and shapes
 * for a config, the names of the checkpoint tensors the forward pass never
 * reads (model-spec.md), and its cost in FLOPs. The loader needs these
 * before any graph exists.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "network.h"

#include <string.h>

typedef struct {
  LsTensorSpecFunc fn;
  gpointer user_data;
} Emitter;

static void
emit (Emitter *e, const char *name, int ndim, gint64 d0, gint64 d1, gint64 d2, gint64 d3)
{
  gint64 shape[4] = { d0, d1, d2, d3 };
  e->fn (name, ndim, shape, e->user_data);
}

static void
emit_vec (Emitter *e, const char *prefix, const char *suffix, gint64 n)
{
  g_autofree char *name = g_strconcat (prefix, suffix, NULL);
  emit (e, name, 1, n, 0, 0, 0);
}

/* weight + bias of a LayerNorm(n) */
static void
emit_norm (Emitter *e, const char *prefix, gint64 n)
{
  emit_vec (e, prefix, ".weight", n);
  emit_vec (e, prefix, ".bias", n);
}

/* nn.Linear(in -> out): weight [out, in], optional bias [out] */
static void
emit_linear (Emitter *e, const char *prefix, gint64 in, gint64 out, gboolean bias)
{
  g_autofree char *w = g_strconcat (prefix, ".weight", NULL);
  emit (e, w, 2, out, in, 0, 0);
  if (bias)
    emit_vec (e, prefix, ".bias", out);
}

/* nn.Conv2d(in -> out, k x k), groups = 1 */
static void
emit_conv (Emitter *e, const char *prefix, gint64 in, gint64 out, gint64 k)
{
  g_autofree char *w = g_strconcat (prefix, ".weight", NULL);
  emit (e, w, 4, out, in, k, k);
  emit_vec (e, prefix, ".bias", out);
}

/* keys, queries, values of an efficient attention on c channels; the
 * reprojection only where the attention output is reprojected */
static void
emit_attention (Emitter *e, const char *prefix, gint64 c, gboolean reprojection)
{
  static const char *const parts[] = { "keys", "queries", "values", "reprojection" };
  for (int i = 0; i < (reprojection ? 4 : 3); i++) {
    g_autofree char *p = g_strdup_printf ("%s.%s", prefix, parts[i]);
    emit_conv (e, p, c, c, 1);
  }
}

static void
emit_mix_ffn (Emitter *e, const char *prefix, gint64 c, gint64 hidden)
{
  g_autofree char *fc1 = g_strconcat (prefix, ".fc1", NULL);
  g_autofree char *fc2 = g_strconcat (prefix, ".fc2", NULL);
  g_autofree char *dw = g_strconcat (prefix, ".dwconv.dwconv.weight", NULL);
  g_autofree char *dwb = g_strconcat (prefix, ".dwconv.dwconv", NULL);
  g_autofree char *norm = g_strconcat (prefix, ".norm1", NULL);

  emit_linear (e, fc1, c, hidden, TRUE);
  emit (e, dw, 4, hidden, 1, 3, 3);
  emit_vec (e, dwb, ".bias", hidden);
  emit_norm (e, norm, hidden);
  emit_linear (e, fc2, hidden, c, TRUE);
}

void
ls_network_foreach_tensor (const LsConfig *cfg, LsTensorSpecFunc fn, gpointer user_data)
{
  Emitter e = { fn, user_data };
  const int *d = cfg->dims;
  static const int kernel[3] = { 7, 3, 3 };

  for (int s = 0; s < 3; s++) {
    g_autofree char *pe = g_strdup_printf ("backbone.patch_embed%d.proj", s + 1);
    g_autofree char *pn = g_strdup_printf ("backbone.patch_embed%d.norm", s + 1);
    emit_conv (&e, pe, s == 0 ? 3 : d[s - 1], d[s], kernel[s]);
    emit_norm (&e, pn, d[s]);

    for (int i = 0; i < cfg->layers[s]; i++) {
      g_autofree char *blk = g_strdup_printf ("backbone.block%d.%d", s + 1, i);
      for (int k = 1; k <= 3; k++) {
        g_autofree char *n = g_strdup_printf ("%s.norm%d", blk, k);
        emit_norm (&e, n, d[s]);
      }
      g_autofree char *attn = g_strconcat (blk, ".attn", NULL);
      g_autofree char *mlp1 = g_strconcat (blk, ".mlp1", NULL);
      g_autofree char *mlp2 = g_strconcat (blk, ".mlp2", NULL);
      emit_attention (&e, attn, d[s], TRUE);
      emit_mix_ffn (&e, mlp1, d[s], (gint64) d[s] * cfg->ffn_ratio);
      emit_mix_ffn (&e, mlp2, d[s], (gint64) d[s] * cfg->ffn_ratio);
    }
    g_autofree char *bn = g_strdup_printf ("backbone.norm%d", s + 1);
    emit_norm (&e, bn, d[s]);
  }

  /* ISCF over the iscf_scales deepest scales, all mapped to d3 channels */
  const int k = cfg->iscf_scales;
  for (int s = 3 - k; s < 3; s++) {
    g_autofree char *attn = g_strdup_printf ("context_bridge.attn%d", s + 1);
    emit_attention (&e, attn, d[2], FALSE);
    if (s < 2) {
      g_autofree char *map = g_strdup_printf ("context_bridge.map%d", s + 1);
      g_autofree char *rev = g_strdup_printf ("context_bridge.revmap%d", s + 1);
      emit_conv (&e, map, d[s], d[2], 1);
      emit_conv (&e, rev, d[2], d[s], 1);
    }
  }
  emit_linear (&e, "context_bridge.SE.fc1", k, k, TRUE);
  emit_linear (&e, "context_bridge.SE.fc2", k, k, TRUE);
  emit_conv (&e, "context_bridge.SE.conv", k, 1, 1);

  /* decoder */
  emit_linear (&e, "decoder_2.layer_up.expand", d[2], 2 * d[2], FALSE);
  emit_norm (&e, "decoder_2.layer_up.norm", d[2] / 2);

  emit_linear (&e, "decoder_1.x1_linear", d[2] / 2, d[1], TRUE);
  emit_linear (&e, "decoder_1.concat_linear", 2 * d[1], d[1], TRUE);
  emit_norm (&e, "decoder_1.norm_tr", d[1]);
  emit_linear (&e, "decoder_1.layer_up.expand", d[1], 2 * d[1], FALSE);
  emit_norm (&e, "decoder_1.layer_up.norm", d[1] / 2);

  emit_linear (&e, "decoder_0.x1_linear", d[1] / 2, d[0], TRUE);
  emit_linear (&e, "decoder_0.concat_linear", 2 * d[0], d[0], TRUE);
  emit_norm (&e, "decoder_0.norm_tr", d[0]);
  emit_linear (&e, "decoder_0.layer_up.expand", d[0], 16 * d[0], FALSE);
  emit_norm (&e, "decoder_0.layer_up.norm", d[0]);
  emit_conv (&e, "decoder_0.last_layer", d[0], 1, 1);
}

gboolean
ls_network_tensor_is_unused (const char *name)
{
  static const char *const prefixes[] = {
    "decoder_0.cross_attn.",
    "decoder_2.x1_linear.",
    "decoder_2.concat_linear.",
    "decoder_2.norm_tr.",
    "context_bridge.norm1.",
    "context_bridge.norm2.",
    "context_bridge.norm3.",
  };
  for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (name, prefixes[i]))
      return TRUE;

  /* context_bridge.attn{s}.reprojection.*, and mlp{1,2}.norm{2,3}.* of every
   * block */
  if (g_str_has_prefix (name, "context_bridge.attn") && strstr (name, ".reprojection."))
    return TRUE;
  if (g_str_has_prefix (name, "backbone.block") &&
      (strstr (name, ".mlp1.norm2.") || strstr (name, ".mlp1.norm3.") ||
       strstr (name, ".mlp2.norm2.") || strstr (name, ".mlp2.norm3.")))
    return TRUE;
  return FALSE;
}

double
ls_network_flops (const LsConfig *cfg, int width, int height)
{
  const int *d = cfg->dims;
  const double r = cfg->ffn_ratio;
  double n[3] = {
    (double) (width / 4) * (height / 4),
    (double) (width / 8) * (height / 8),
    (double) (width / 16) * (height / 16),
  };
  static const int kernel[3] = { 7, 3, 3 };
  double f = 0;

  for (int s = 0; s < 3; s++) {
    double c = d[s], cin = s == 0 ? 3 : d[s - 1];
    f += 2 * n[s] * cin * kernel[s] * kernel[s] * c;             /* patch embedding */
    double block = 2 * n[s] * c * c * 4                          /* k, q, v, reprojection */
                 + 2 * 2 * n[s] * c * c                           /* context, apply */
                 + 2 * (2 * n[s] * c * r * c * 2                  /* fc1, fc2 */
                        + 2 * 9 * n[s] * r * c);                  /* depthwise 3x3 */
    f += cfg->layers[s] * block;
  }
  for (int s = 3 - cfg->iscf_scales; s < 3; s++) {
    double c3 = d[2];
    if (s < 2)
      f += 2 * 2 * n[s] * d[s] * c3;                              /* map, revmap */
    f += 2 * n[s] * c3 * c3 * 3 + 2 * 2 * n[s] * c3 * c3;         /* k, q, v, context, apply */
  }
  f += 2 * n[2] * d[2] * 2 * d[2];                                /* decoder_2 expand */
  f += 2 * n[1] * (d[2] / 2.0 * d[1] + 2.0 * d[1] * d[1] + d[1] * 2.0 * d[1]);
  f += 2 * n[0] * (d[1] / 2.0 * d[0] + 2.0 * d[0] * d[0] + d[0] * 16.0 * d[0]);
  f += 2 * (double) width * height * d[0];                        /* last 1x1 conv */
  return f;
}
