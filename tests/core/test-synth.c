/* Tests of the synthetic dermoscopy generator: determinism, mask topology,
 * the lesion-size distribution, artefacts leaving the mask alone, and the
 * camera mapping the mask consistently.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "lesionseg.h"

typedef struct {
  int w, h;
  guint8 *rgb, *mask;
} Frame;

static Frame *
frame_new (int w, int h)
{
  Frame *f = g_new0 (Frame, 1);
  f->w = w;
  f->h = h;
  f->rgb = g_malloc0 ((gsize) w * h * 3);
  f->mask = g_malloc0 ((gsize) w * h);
  return f;
}

static void
frame_free (Frame *f)
{
  g_free (f->rgb);
  g_free (f->mask);
  g_free (f);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Frame, frame_free)

static Frame *
generate (guint64 seed, int w, int h, gboolean no_artefacts, gboolean low, LsSynthInfo *info)
{
  LsSynthParams p;
  ls_synth_params_init (&p);
  p.seed = seed;
  p.width = w;
  p.height = h;
  p.no_artefacts = no_artefacts;
  p.force_low_contrast = low;
  Frame *f = frame_new (w, h);
  g_autoptr (GError) error = NULL;
  gboolean ok = ls_synth_generate (&p, f->rgb, w * 3, f->mask, w, info, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  return f;
}

/* 4-connected flood over pixels equal to @value; returns the count */
static gsize
flood (const guint8 *m, int w, int h, int start, guint8 value, guint8 *seen)
{
  g_autofree int *stack = g_new (int, (gsize) w * h);
  int top = 0;
  gsize count = 0;
  stack[top++] = start;
  seen[start] = 1;
  while (top) {
    int p = stack[--top], x = p % w, y = p / w;
    count++;
    int nb[4] = { x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1 };
    for (int i = 0; i < 4; i++)
      if (nb[i] >= 0 && !seen[nb[i]] && m[nb[i]] == value) {
        seen[nb[i]] = 1;
        stack[top++] = nb[i];
      }
  }
  return count;
}

/* one 4-connected region, no holes, values 0/255 only */
static void
assert_simple_mask (const guint8 *m, int w, int h)
{
  gsize n = (gsize) w * h, fg = 0;
  int first = -1;
  for (gsize i = 0; i < n; i++) {
    g_assert_true (m[i] == 0 || m[i] == 255);
    if (m[i]) {
      fg++;
      if (first < 0)
        first = (int) i;
    }
  }
  g_assert_cmpint (fg, >, 0);
  g_autofree guint8 *seen = g_malloc0 (n);
  g_assert_cmpuint (flood (m, w, h, first, 255, seen), ==, fg);
  /* every background pixel joins the frame's edge */
  gsize bg = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int p = y * w + x;
      if ((x == 0 || y == 0 || x == w - 1 || y == h - 1) && !m[p] && !seen[p])
        bg += flood (m, w, h, p, 0, seen);
    }
  g_assert_cmpuint (bg, ==, n - fg);
}

static void
test_deterministic (void)
{
  g_autoptr (Frame) a = generate (42, 320, 240, FALSE, FALSE, NULL);
  g_autoptr (Frame) b = generate (42, 320, 240, FALSE, FALSE, NULL);
  g_autoptr (Frame) c = generate (43, 320, 240, FALSE, FALSE, NULL);
  g_assert_cmpmem (a->rgb, 320 * 240 * 3, b->rgb, 320 * 240 * 3);
  g_assert_cmpmem (a->mask, 320 * 240, b->mask, 320 * 240);
  g_assert_true (memcmp (a->rgb, c->rgb, 320 * 240 * 3) != 0);
  g_assert_true (memcmp (a->mask, c->mask, 320 * 240) != 0);
}

static void
test_mask_topology (void)
{
  for (guint64 seed = 0; seed < 80; seed++) {
    g_autoptr (Frame) f = generate (seed * 7919, 256, 192, FALSE, FALSE, NULL);
    assert_simple_mask (f->mask, f->w, f->h);
  }
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
test_area_distribution (void)
{
  const int n = 300;
  double area[300];
  int touching = 0, low = 0;
  for (int i = 0; i < n; i++) {
    LsSynthInfo info;
    g_autoptr (Frame) f = generate (100000 + i, 128, 96, TRUE, FALSE, &info);
    area[i] = info.area_fraction;
    touching += info.touches_border;
    low += info.low_contrast;
    gsize count = 0;
    for (int p = 0; p < 128 * 96; p++)
      count += f->mask[p] != 0;
    g_assert_cmpfloat_with_epsilon (info.area_fraction, count / (128.0 * 96.0), 1e-9);
  }
  qsort (area, n, sizeof area[0], cmp_double);
  g_test_message ("area p5 %.3f median %.3f p95 %.3f, touching %d/%d, low contrast %d/%d",
                  area[n / 20], area[n / 2], area[n - n / 20], touching, n, low, n);
  g_assert_cmpfloat (area[n / 2], >=, 0.12);
  g_assert_cmpfloat (area[n / 2], <=, 0.35);
  g_assert_cmpfloat (area[0], >, 0.005);
  g_assert_cmpfloat (area[n - 1], <, 0.95);
  g_assert_cmpfloat (area[n / 20], <, 0.08);
  g_assert_cmpfloat (area[n - n / 20], >, 0.5);
  g_assert_cmpint (touching, >=, n * 4 / 100);
  g_assert_cmpint (touching, <=, n * 20 / 100);
  g_assert_cmpint (low, >=, n * 12 / 100);
  g_assert_cmpint (low, <=, n * 28 / 100);
}

static void
test_artefacts_keep_mask (void)
{
  int differ = 0;
  for (guint64 seed = 500; seed < 530; seed++) {
    g_autoptr (Frame) a = generate (seed, 200, 150, FALSE, FALSE, NULL);
    g_autoptr (Frame) b = generate (seed, 200, 150, TRUE, FALSE, NULL);
    g_autoptr (Frame) c = generate (seed, 200, 150, TRUE, TRUE, NULL);
    g_assert_cmpmem (a->mask, 200 * 150, b->mask, 200 * 150);
    g_assert_cmpmem (a->mask, 200 * 150, c->mask, 200 * 150);
    differ += memcmp (a->rgb, b->rgb, 200 * 150 * 3) != 0;
  }
  /* ~60% of seeds draw some artefact */
  g_assert_cmpint (differ, >=, 8);
}

static void
test_low_contrast (void)
{
  for (guint64 seed = 0; seed < 10; seed++) {
    LsSynthInfo info;
    g_autoptr (Frame) f = generate (seed, 128, 96, TRUE, TRUE, &info);
    g_assert_true (info.low_contrast);
    g_assert_cmpfloat (info.contrast, >=, 0.8);
    g_assert_cmpfloat (info.contrast, <=, 0.95);
  }
}

static LsSynthScene *
scene_for (guint64 seed, int w, int h)
{
  LsSynthParams p;
  ls_synth_params_init (&p);
  p.seed = seed;
  p.width = w;
  p.height = h;
  g_autoptr (GError) error = NULL;
  LsSynthScene *scene = ls_synth_scene_new (&p, &error);
  g_assert_no_error (error);
  return scene;
}

static void
render (const LsSynthScene *scene, const LsSynthCamera *cam, Frame *f)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = ls_synth_scene_render (scene, cam, f->w, f->h, f->rgb, f->w * 3, f->mask, f->w, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static void
test_scene_matches_generate (void)
{
  g_autoptr (LsSynthScene) scene = scene_for (7, 240, 180);
  g_autoptr (Frame) a = frame_new (240, 180);
  render (scene, NULL, a);
  g_autoptr (Frame) b = generate (7, 240, 180, FALSE, FALSE, NULL);
  g_assert_cmpmem (a->rgb, 240 * 180 * 3, b->rgb, 240 * 180 * 3);
  /* generate only ever removes pixel-level slivers */
  gsize diff = 0;
  for (int i = 0; i < 240 * 180; i++)
    diff += a->mask[i] != b->mask[i];
  g_assert_cmpuint (diff, <=, 4);
}

static void
test_pan_shifts_mask (void)
{
  const int w = 160, h = 120, kx = 7, ky = -5;
  for (guint64 seed = 1; seed <= 10; seed++) {
    g_autoptr (LsSynthScene) scene = scene_for (seed, w, h);
    LsSynthCamera cam;
    ls_synth_camera_init (&cam);
    g_autoptr (Frame) a = frame_new (w, h);
    g_autoptr (Frame) b = frame_new (w, h);
    render (scene, &cam, a);
    cam.pan_x = (double) kx / h;
    cam.pan_y = (double) ky / h;
    cam.frame = 1;
    render (scene, &cam, b);
    gsize diff = 0, inside = 0;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int sx = x + kx, sy = y + ky;
        if (sx < 0 || sy < 0 || sx >= w || sy >= h)
          continue;
        diff += b->mask[y * w + x] != a->mask[sy * w + sx];
        inside += b->mask[y * w + x] != 0;
      }
    g_assert_cmpuint (inside, >, 0);
    /* exact up to rounding of points on the boundary itself */
    g_assert_cmpuint (diff, <=, 2);
  }
}

static void
test_zoom_is_centre_crop (void)
{
  const int w = 120, h = 90;
  g_autoptr (LsSynthScene) scene = scene_for (11, w, h);
  LsSynthCamera cam;
  ls_synth_camera_init (&cam);
  g_autoptr (Frame) big = frame_new (2 * w, 2 * h);
  g_autoptr (Frame) zoomed = frame_new (w, h);
  render (scene, &cam, big);
  cam.zoom = 2.0;
  render (scene, &cam, zoomed);
  gsize diff = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      diff += zoomed->mask[y * w + x] != big->mask[(y + h / 2) * 2 * w + x + w / 2];
  g_assert_cmpuint (diff, <=, 2);
}

static void
test_gain_and_noise_leave_mask (void)
{
  g_autoptr (LsSynthScene) scene = scene_for (3, 128, 96);
  LsSynthCamera cam;
  ls_synth_camera_init (&cam);
  g_autoptr (Frame) a = frame_new (128, 96);
  g_autoptr (Frame) b = frame_new (128, 96);
  render (scene, &cam, a);
  cam.gain = 0.7;
  cam.frame = 99;
  cam.rotation = 0.0;
  render (scene, &cam, b);
  g_assert_cmpmem (a->mask, 128 * 96, b->mask, 128 * 96);
  g_assert_true (memcmp (a->rgb, b->rgb, 128 * 96 * 3) != 0);
}

static void
test_bad_input (void)
{
  LsSynthParams p;
  ls_synth_params_init (&p);
  p.width = 8;
  guint8 rgb[8 * 384 * 3];
  g_autoptr (GError) error = NULL;
  g_assert_false (ls_synth_generate (&p, rgb, 8 * 3, NULL, 0, NULL, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_INPUT);
  g_clear_error (&error);

  g_autoptr (LsSynthScene) scene = scene_for (1, 64, 48);
  LsSynthCamera cam;
  ls_synth_camera_init (&cam);
  cam.zoom = 0;
  g_autoptr (Frame) f = frame_new (64, 48);
  g_assert_false (ls_synth_scene_render (scene, &cam, 64, 48, f->rgb, 64 * 3, f->mask, 64, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_INPUT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/synth/deterministic", test_deterministic);
  g_test_add_func ("/synth/mask-topology", test_mask_topology);
  g_test_add_func ("/synth/area-distribution", test_area_distribution);
  g_test_add_func ("/synth/artefacts-keep-mask", test_artefacts_keep_mask);
  g_test_add_func ("/synth/low-contrast", test_low_contrast);
  g_test_add_func ("/synth/scene-matches-generate", test_scene_matches_generate);
  g_test_add_func ("/synth/pan-shifts-mask", test_pan_shifts_mask);
  g_test_add_func ("/synth/zoom-is-centre-crop", test_zoom_is_centre_crop);
  g_test_add_func ("/synth/gain-and-noise-leave-mask", test_gain_and_noise_leave_mask);
  g_test_add_func ("/synth/bad-input", test_bad_input);
  return g_test_run ();
}
