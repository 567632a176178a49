/* The forward pass of model-spec.md as a graph. Read it beside the spec:
 * each function below is one of its sections.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "network.h"

#include "affine.h"

typedef struct {
  LsGraph *graph;
  const LsModel *model;
  const LsConfig *cfg;
} Builder;

static const float *
weight (Builder *bld, const char *prefix, const char *suffix)
{
  g_autofree char *name = g_strconcat (prefix, suffix, NULL);
  return ls_model_weight (bld->model, name);
}

static const char *
label (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Node and tensor names are interned: a bounded set that profiles and
 * debug output keep pointing to. */
static const char *
label (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *s = g_strdup_vprintf (format, args);
  va_end (args);
  return g_intern_string (s);
}

static int
tensor (Builder *bld, int n, int c, const char *name)
{
  return ls_graph_tensor (bld->graph, n, c, name);
}

/* The Linear at prefix: W [out, in], b [out] or none */
static LsAffine
affine (Builder *bld, const char *prefix, int in, int out, gboolean bias)
{
  return (LsAffine) {
    weight (bld, prefix, ".weight"), bias ? weight (bld, prefix, ".bias") : NULL, in, out, in,
  };
}

/* dst (+)= f(src) */
static void
linear_into (Builder *bld, int src, int dst, LsAffine f, gboolean accumulate, const char *name)
{
  LsNode *node = ls_graph_add (bld->graph, LS_OP_LINEAR, name);
  node->src[0] = src;
  node->nsrc = 1;
  node->dst = dst;
  node->w = f.w;
  node->b = f.b;
  node->in = f.in;
  node->out = f.out;
  node->ldw = f.ldw;
  node->accumulate = accumulate;
}

/* A new [N, f.out] tensor = f(src) */
static int
linear (Builder *bld, int src, LsAffine f, const char *name)
{
  int n = ls_graph_get_tensor (bld->graph, src)->n;
  int dst = tensor (bld, n, f.out, label ("%s.out", name));
  linear_into (bld, src, dst, f, FALSE, label ("%s", name));
  return dst;
}

static void
layernorm (Builder *bld, int src, int dst, const char *prefix)
{
  LsNode *node = ls_graph_add (bld->graph, LS_OP_LAYERNORM, label ("%s", prefix));
  node->src[0] = src;
  node->nsrc = 1;
  node->dst = dst;
  node->w = weight (bld, prefix, ".weight");
  node->b = weight (bld, prefix, ".bias");
}

/* ---- Efficient attention, with its neighbouring Linears folded in -------
 *
 * Both softmaxes sum to one along the axis they are taken over, so
 *   softmax_N(K)^T (X Wv^T + 1 bv^T) = (softmax_N(K)^T X) Wv^T + 1 bv^T
 *   softmax_C(Q) (G Wr^T + 1 br^T)   = (softmax_C(Q) G) Wr^T + 1 br^T.
 * V need not exist: the context can be taken against the attention's input X
 * [N, Cx] and the value Linear applied to the small [C, Cx] result. The
 * Linear after the attention (block reprojection, ISCF revmap) moves onto G,
 * before the apply. The Linear before it (ISCF map) folds into the weights
 * of K, Q and V. Each fold is taken where it saves multiply-adds for the
 * shapes at hand; at 224x224 the published config executes about a quarter
 * fewer than PyTorch (`lesionseg bench` prints both counts). */

/* A context G = v(raw) [C, C]: raw = softmax_N(K)^T X with the value Linear
 * v still to apply, or raw = G and v the identity. */
typedef struct {
  int raw;
  LsAffine v;
} Context;

/* Whether K, Q (and V) of an attention on c channels come from one Linear:
 * one GEMM of N = 2c or 3c fills a device (or a core's vector units)
 * better than two or three of N = c, and reads X once. The attention then
 * reads each as a view, which must start on the arena's alignment.
 * LS_GRAPH_MERGE_QKV=0 keeps them apart (benchmarks compare the two). */
static gboolean
merge_projections (int c)
{
  return g_strcmp0 (g_getenv ("LS_GRAPH_MERGE_QKV"), "0") != 0 && c % LS_GRAPH_ALIGN == 0;
}

/* The [N, c] projections parts[i](x) of one attention, named names[i],
 * into out[i] */
static void
projections (Builder *bld, int x, const LsAffine *parts, const char *const *names, int count,
             int c, const char *prefix, int *out)
{
  if (!merge_projections (c)) {
    for (int i = 0; i < count; i++)
      out[i] = linear (bld, x, parts[i], names[i]);
    return;
  }
  const char *name = label (count == 3 ? "%s.keys+queries+values" : "%s.keys+queries", prefix);
  int all = linear (bld, x, ls_affine_stack (bld->graph, parts, count), name);
  for (int i = 0; i < count; i++)
    out[i] = ls_graph_view (bld->graph, all, i * c, c, label ("%s.out", names[i]));
}

/* Q and the context of the attention at prefix, of width c, on pre(x) */
static Context
attention_context (Builder *bld, int x, LsAffine pre, int c, const char *prefix, int *q_out)
{
  const LsTensor *xt = ls_graph_get_tensor (bld->graph, x);
  const int n = xt->n, cx = xt->c;
  const char *names[3] = {
    label ("%s.keys", prefix), label ("%s.queries", prefix), label ("%s.values", prefix),
  };
  LsAffine parts[3];
  for (int i = 0; i < 3; i++)
    parts[i] = ls_affine_compose (bld->graph, pre, affine (bld, names[i], c, c, TRUE));

  /* V is cheaper than the fold when there are fewer tokens than channels */
  const gboolean with_v = n <= cx;
  int kqv[3] = { -1, -1, x };
  projections (bld, x, parts, names, with_v ? 3 : 2, c, prefix, kqv);
  *q_out = kqv[1];
  Context ctx = { .v = with_v ? LS_AFFINE_IDENTITY : parts[2] };

  const LsTensor *vt = ls_graph_get_tensor (bld->graph, kqv[2]);
  ctx.raw = tensor (bld, c, vt->c, label ("%s.context", prefix));
  LsNode *node = ls_graph_add (bld->graph, LS_OP_ATTN_CONTEXT, label ("%s.context", prefix));
  node->src[0] = kqv[0];
  node->src[1] = kqv[2];
  node->nsrc = 2;
  node->dst = ctx.raw;
  return ctx;
}

/* The context G as a tensor */
static int
context_tensor (Builder *bld, Context ctx, const char *prefix)
{
  if (ls_affine_is_identity (ctx.v))
    return ctx.raw;
  return linear (bld, ctx.raw, ctx.v, label ("%s.values", prefix));
}

/* dst (+)= post(softmax_C(Q) G) */
static void
attention_apply (Builder *bld, int q, Context ctx, LsAffine post, int dst, gboolean accumulate,
                 const char *name)
{
  const LsTensor *qt = ls_graph_get_tensor (bld->graph, q);
  const double n = qt->n, c = qt->c;
  const double raw_c = ls_graph_get_tensor (bld->graph, ctx.raw)->c;
  const double out = ls_affine_is_identity (post) ? c : post.out;
  const double v_cost = ls_affine_is_identity (ctx.v) ? 0 : c * raw_c * c;
  const double unfolded = v_cost + n * c * c + (ls_affine_is_identity (post) ? 0 : n * c * out);
  const double folded = c * raw_c * out + n * c * out;

  int g, a = dst;
  if (!ls_affine_is_identity (post) && folded < unfolded) {
    g = linear (bld, ctx.raw, ls_affine_compose (bld->graph, ctx.v, post), name);
    post = LS_AFFINE_IDENTITY;
  } else {
    g = context_tensor (bld, ctx, name);
    if (!ls_affine_is_identity (post))
      a = tensor (bld, qt->n, qt->c, label ("%s.apply", name));
  }

  LsNode *node = ls_graph_add (bld->graph, LS_OP_ATTN_APPLY, label ("%s.apply", name));
  node->src[0] = q;
  node->src[1] = g;
  node->nsrc = 2;
  node->dst = a;
  node->accumulate = a == dst && accumulate;
  if (!ls_affine_is_identity (post))
    linear_into (bld, a, dst, post, accumulate, label ("%s", name));
}

/* x += MixFFN(LN(x)): fc1 once, depthwise 3x3 + skip then LN + GELU (one
 * op), fc2 */
static void
mix_ffn (Builder *bld, int x, int h, int w, int c, const char *norm, const char *prefix)
{
  int n = h * w, hidden = c * bld->cfg->ffn_ratio;
  int t = tensor (bld, n, c, label ("%s", norm));
  layernorm (bld, x, t, norm);

  g_autofree char *fc1 = g_strconcat (prefix, ".fc1", NULL);
  g_autofree char *fc2 = g_strconcat (prefix, ".fc2", NULL);
  g_autofree char *dw = g_strconcat (prefix, ".dwconv.dwconv", NULL);
  g_autofree char *ln = g_strconcat (prefix, ".norm1", NULL);

  int hid = linear (bld, t, affine (bld, fc1, c, hidden, TRUE), fc1);
  int z = tensor (bld, n, hidden, label ("%s.out", dw));
  LsNode *node = ls_graph_add (bld->graph, LS_OP_DWCONV3X3_LN_GELU, label ("%s", dw));
  node->src[0] = hid;
  node->nsrc = 1;
  node->dst = z;
  node->w = weight (bld, dw, ".weight");
  node->b = weight (bld, dw, ".bias");
  node->w2 = weight (bld, ln, ".weight");
  node->b2 = weight (bld, ln, ".bias");
  node->height = h;
  node->width = w;
  linear_into (bld, z, x, affine (bld, fc2, hidden, c, TRUE), TRUE, label ("%s", fc2));
}

/* Efficient transformer block, in place on x [N, C] */
static void
transformer_block (Builder *bld, int x, int h, int w, int c, const char *blk)
{
  int n = h * w;
  g_autofree char *norm1 = g_strconcat (blk, ".norm1", NULL);
  g_autofree char *attn = g_strconcat (blk, ".attn", NULL);
  g_autofree char *reproj = g_strconcat (blk, ".attn.reprojection", NULL);

  int t = tensor (bld, n, c, label ("%s", norm1));
  layernorm (bld, x, t, norm1);
  int q;
  Context ctx = attention_context (bld, t, LS_AFFINE_IDENTITY, c, attn, &q);
  attention_apply (bld, q, ctx, affine (bld, reproj, c, c, TRUE), x, TRUE, reproj);

  g_autofree char *norm2 = g_strconcat (blk, ".norm2", NULL);
  g_autofree char *norm3 = g_strconcat (blk, ".norm3", NULL);
  g_autofree char *mlp1 = g_strconcat (blk, ".mlp1", NULL);
  g_autofree char *mlp2 = g_strconcat (blk, ".mlp2", NULL);
  mix_ffn (bld, x, h, w, c, norm2, mlp1);
  mix_ffn (bld, x, h, w, c, norm3, mlp2);
}

/* Encoder stage s (0-based): patch embedding, blocks, LN. src is the previous
 * stage's output on an (h, w) grid, or the planar network input. */
static int
encoder_stage (Builder *bld, int s, int src, int h, int w, int *out_h, int *out_w)
{
  static const int kernel[3] = { 7, 3, 3 }, stride[3] = { 4, 2, 2 }, pad[3] = { 3, 1, 1 };
  const int cin = s == 0 ? 3 : bld->cfg->dims[s - 1], c = bld->cfg->dims[s];
  const int k = kernel[s];
  const int oh = (h + 2 * pad[s] - k) / stride[s] + 1;
  const int ow = (w + 2 * pad[s] - k) / stride[s] + 1;

  g_autofree char *proj = g_strdup_printf ("backbone.patch_embed%d.proj", s + 1);
  g_autofree char *norm = g_strdup_printf ("backbone.patch_embed%d.norm", s + 1);
  int x = tensor (bld, oh * ow, c, label ("stage%d", s + 1));
  LsNode *node = ls_graph_add (bld->graph, LS_OP_CONV_PATCH, label ("%s", proj));
  node->src[0] = src;
  node->nsrc = 1;
  node->dst = x;
  node->scratch = tensor (bld, oh * ow, cin * k * k, label ("%s.im2col", proj));
  node->w = weight (bld, proj, ".weight");
  node->b = weight (bld, proj, ".bias");
  node->in = cin;
  node->out = c;
  node->height = h;
  node->width = w;
  node->k = k;
  node->stride = stride[s];
  node->pad = pad[s];
  node->planar_src = s == 0;
  layernorm (bld, x, x, norm);

  for (int i = 0; i < bld->cfg->layers[s]; i++) {
    g_autofree char *blk = g_strdup_printf ("backbone.block%d.%d", s + 1, i);
    transformer_block (bld, x, oh, ow, c, blk);
  }
  g_autofree char *final_norm = g_strdup_printf ("backbone.norm%d", s + 1);
  layernorm (bld, x, x, final_norm);

  *out_h = oh;
  *out_w = ow;
  return x;
}

/* ISCF: contexts of the fused scales, SE fusion, and E_s += revmap(G^T q_s) */
static void
context_bridge (Builder *bld, int *E)
{
  const int d3 = bld->cfg->dims[2], first = 3 - bld->cfg->iscf_scales;
  int q[3], ctx[3];

  for (int s = first; s < 3; s++) {
    LsAffine map = LS_AFFINE_IDENTITY;
    if (s < 2)
      map = affine (bld, label ("context_bridge.map%d", s + 1), bld->cfg->dims[s], d3, TRUE);
    const char *attn = label ("context_bridge.attn%d", s + 1);
    ctx[s] = context_tensor (bld, attention_context (bld, E[s], map, d3, attn, &q[s]), attn);
  }

  int fused = tensor (bld, d3, d3, "context_bridge.fused");
  LsNode *node = ls_graph_add (bld->graph, LS_OP_ISCF_FUSE, "context_bridge.SE");
  node->nsrc = bld->cfg->iscf_scales;
  for (int i = 0; i < node->nsrc; i++)
    node->src[i] = ctx[first + i];
  node->dst = fused;
  node->w = ls_model_weight (bld->model, "context_bridge.SE.fc1.weight");
  node->b = ls_model_weight (bld->model, "context_bridge.SE.fc1.bias");
  node->w2 = ls_model_weight (bld->model, "context_bridge.SE.fc2.weight");
  node->b2 = ls_model_weight (bld->model, "context_bridge.SE.fc2.bias");
  node->w3 = ls_model_weight (bld->model, "context_bridge.SE.conv.weight");
  node->fparam = ls_model_weight (bld->model, "context_bridge.SE.conv.bias")[0];

  for (int s = first; s < 3; s++) {
    LsAffine revmap = LS_AFFINE_IDENTITY;
    if (s < 2)
      revmap = affine (bld, label ("context_bridge.revmap%d", s + 1), d3, bld->cfg->dims[s], TRUE);
    attention_apply (bld, q[s], (Context) { fused, LS_AFFINE_IDENTITY }, revmap, E[s], TRUE,
                     label ("context_bridge.scale%d", s + 1));
  }
}

/* Linear(c -> p*p*c_out, no bias), pixel shuffle by p, LN(c_out) */
static int
patch_expand (Builder *bld, int x, int h, int w, int c, int p, int c_out, const char *prefix)
{
  g_autofree char *expand = g_strconcat (prefix, ".expand", NULL);
  g_autofree char *norm = g_strconcat (prefix, ".norm", NULL);
  int e = linear (bld, x, affine (bld, expand, c, p * p * c_out, FALSE), expand);
  int y = tensor (bld, h * p * w * p, c_out, label ("%s", prefix));
  LsNode *node = ls_graph_add (bld->graph, LS_OP_PIXEL_SHUFFLE_LN, label ("%s", prefix));
  node->src[0] = e;
  node->nsrc = 1;
  node->dst = y;
  node->w = weight (bld, norm, ".weight");
  node->b = weight (bld, norm, ".bias");
  node->height = h;
  node->width = w;
  node->p = p;
  node->out = c_out;
  return y;
}

/* LN_tr(concat_linear([x1_linear(t) ; skip])) as two GEMMs into one output.
 * x1_linear and the left half of concat_linear are two Linears in a row:
 * folded into one, always cheaper (c_t c multiply-adds a token, not
 * c_t c + c c). */
static int
decoder_merge (Builder *bld, int t, int skip, int c_t, int c, const char *prefix)
{
  g_autofree char *x1 = g_strconcat (prefix, ".x1_linear", NULL);
  g_autofree char *cat = g_strconcat (prefix, ".concat_linear", NULL);
  g_autofree char *norm = g_strconcat (prefix, ".norm_tr", NULL);
  const float *w = weight (bld, cat, ".weight");
  LsAffine left = { w, weight (bld, cat, ".bias"), c, c, 2 * c };
  LsAffine right = { w + c, NULL, c, c, 2 * c };

  int n = ls_graph_get_tensor (bld->graph, t)->n;
  int u = tensor (bld, n, c, label ("%s", cat));
  linear_into (bld, t, u, ls_affine_compose (bld->graph, affine (bld, x1, c_t, c, TRUE), left),
               FALSE, label ("%s", cat));
  linear_into (bld, skip, u, right, TRUE, label ("%s.skip", cat));
  layernorm (bld, u, u, norm);
  return u;
}

LsGraph *
ls_network_build (const LsModel *model, int width, int height, GError **error)
{
  const LsConfig *cfg = ls_model_get_config (model);

  if (width < 32 || height < 32 || width % 32 || height % 32 || width > 4096 || height > 4096) {
    g_set_error (error, LS_ERROR, LS_ERROR_INPUT,
                 "network input %dx%d: width and height must be multiples of 32 "
                 "between 32 and 4096", width, height);
    return NULL;
  }

  Builder bld = { ls_graph_new (width, height), model, cfg };
  const int *d = cfg->dims;
  int E[3], gh[3], gw[3];

  bld.graph->input = tensor (&bld, 3, width * height, "input");
  int src = bld.graph->input, h = height, w = width;
  for (int s = 0; s < 3; s++) {
    E[s] = encoder_stage (&bld, s, src, h, w, &gh[s], &gw[s]);
    src = E[s];
    h = gh[s];
    w = gw[s];
  }

  context_bridge (&bld, E);

  int t2 = patch_expand (&bld, E[2], gh[2], gw[2], d[2], 2, d[2] / 2, "decoder_2.layer_up");
  int u1 = decoder_merge (&bld, t2, E[1], d[2] / 2, d[1], "decoder_1");
  int t1 = patch_expand (&bld, u1, gh[1], gw[1], d[1], 2, d[1] / 2, "decoder_1.layer_up");
  int u0 = decoder_merge (&bld, t1, E[0], d[1] / 2, d[0], "decoder_0");
  int t0 = patch_expand (&bld, u0, gh[0], gw[0], d[0], 4, d[0], "decoder_0.layer_up");

  int logits = tensor (&bld, width * height, 1, "logits");
  LsNode *node = ls_graph_add (bld.graph, LS_OP_PROJECT_ONE, "decoder_0.last_layer");
  node->src[0] = t0;
  node->nsrc = 1;
  node->dst = logits;
  node->w = ls_model_weight (model, "decoder_0.last_layer.weight");
  node->fparam = ls_model_weight (model, "decoder_0.last_layer.bias")[0];
  node->in = d[0];
  bld.graph->output = logits;

  ls_graph_plan (bld.graph);
  return bld.graph;
}
