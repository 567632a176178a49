/* lesionseg info MODEL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>

#include "commands.h"
#include "lesionseg.h"

int
ls_cmd_info (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL - describe a model file");
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "lesionseg info: %s\n", error ? error->message : "expected one MODEL file");
    return 2;
  }

  g_autoptr (LsModel) model = ls_model_load (argv[1], &error);
  if (!model) {
    fprintf (stderr, "lesionseg info: %s\n", error->message);
    return 1;
  }
  const LsConfig *c = ls_model_get_config (model);
  printf ("model: %s\n", argv[1]);
  printf ("arch: iscf-effformer\n");
  printf ("dims: %d,%d,%d\n", c->dims[0], c->dims[1], c->dims[2]);
  printf ("layers: %d,%d,%d\n", c->layers[0], c->layers[1], c->layers[2]);
  printf ("ffn_ratio: %d\n", c->ffn_ratio);
  printf ("iscf_scales: %d\n", c->iscf_scales);
  printf ("image_size: %d\n", c->image_size);
  printf ("input_norm: minmax255\n");
  printf ("parameters: %" G_GINT64_FORMAT "\n", ls_model_get_param_count (model));
  printf ("GFLOP per frame: %.2f (%dx%d)\n",
          ls_model_get_gflop (model, c->image_size, c->image_size),
          c->image_size, c->image_size);
  return 0;
}
