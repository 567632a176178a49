/* Engines created, run and freed over and over, on each backend: no leak
 * (LeakSanitizer in CI's ASan stage judges that) and no growth (RSS after
 * the last creation within 5% of RSS after the first), as capture software
 * does when it reopens a camera or changes the input size.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg.h"
#include "model-private.h"
#include "rss.h"
#include "engine-helper.h"

#define ENGINES 50

static const LsConfig small_config = {
  .dims = { 16, 32, 48 }, .layers = { 1, 1, 1 }, .ffn_ratio = 4, .image_size = 64,
  .input_norm = LS_INPUT_NORM_MINMAX255, .iscf_scales = 3,
};

/* One engine on @kind at @size: created, run once on a frame, freed. */
static void
engine_once (LsModel *model, LsBackendKind kind, int size, const LsImage *frame)
{
  g_autoptr (LsEngine) engine = test_engine_new (model, kind, size, size, 2);
  g_autoptr (GError) error = NULL;
  g_autofree float *prob = g_new (float, (gsize) size * size);
  g_assert_true (ls_engine_run (engine, frame, NULL, prob, &error));
  g_assert_no_error (error);
  for (int i = 0; i < size * size; i++)
    g_assert_true (prob[i] >= 0.0f && prob[i] <= 1.0f);
}

static void
churn (LsBackendKind kind, const char *what)
{
  g_autoptr (LsModel) model = ls_model_new_random (&small_config, 3);
  enum { W = 160, H = 120 };
  g_autofree guint8 *pixels = g_new (guint8, W * H * 4);
  for (int i = 0; i < W * H * 4; i++)
    pixels[i] = (guint8) (i * 2654435761u >> 24);
  const LsImage frame = { pixels, W, H, W * 4, LS_PIXEL_RGBA };

  gsize first = 0;
  for (int i = 0; i < ENGINES; i++) {
    /* two input sizes, as a camera reopened at another resolution would */
    engine_once (model, kind, i % 2 ? 64 : 96, &frame);
    if (i == 0)
      first = ls_test_rss_bytes ();
  }
  g_autofree char *label = g_strdup_printf ("%d %s engines", ENGINES, what);
  ls_test_check_rss (label, first, ls_test_rss_bytes ());
}

static void
test_churn_cpu (void)
{
  churn (LS_BACKEND_CPU, "cpu");
}

#ifdef LS_HAVE_VULKAN
/* On any Vulkan device (lavapipe in CI): instance, device, pipelines,
 * arenas and command buffers all created and destroyed each time. */
static void
test_churn_vulkan (void)
{
  churn (LS_BACKEND_VULKAN, "vulkan");
}
#endif

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/lifecycle/engines-cpu", test_churn_cpu);
#ifdef LS_HAVE_VULKAN
  g_test_add_func ("/lifecycle/engines-vulkan", test_churn_vulkan);
#endif
  return g_test_run ();
}
