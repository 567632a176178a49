/* The evaluation's metrics on hand-computed cases, data set discovery in
 * both layouts, and `lesionseg eval` end to end on a small fixture.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "dataset.h"
#include "eval-metrics.h"
#include "image-io.h"
#include "tmp-dir.h"

/* 4 x 4: a 2 x 2 lesion and a prediction that half overlaps it */
static const guint8 truth4[16] = {
  0, 0, 0, 0,
  0, 1, 1, 0,
  0, 1, 1, 0,
  0, 0, 0, 0,
};
static const guint8 pred4[16] = {
  0, 0, 0, 0,
  0, 1, 1, 1,
  0, 1, 0, 1,
  0, 0, 1, 0,
};
/* by hand: tp = 3 ((1,1) (2,1) (1,2)), fp = 3 ((3,1) (3,2) (2,3)),
 * fn = 1 ((2,2)), tn = 9 */

static void
test_confusion (void)
{
  LsConfusion c;
  ls_confusion_count (&c, pred4, 4, truth4, 4, 4, 4);
  g_assert_cmpint (c.tp, ==, 3);
  g_assert_cmpint (c.fp, ==, 3);
  g_assert_cmpint (c.fn, ==, 1);
  g_assert_cmpint (c.tn, ==, 9);
  g_assert_cmpfloat_with_epsilon (ls_confusion_dice (&c), 6.0 / 10.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (ls_confusion_jaccard (&c), 3.0 / 7.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (ls_confusion_sensitivity (&c), 3.0 / 4.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (ls_confusion_specificity (&c), 9.0 / 12.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (ls_confusion_accuracy (&c), 12.0 / 16.0, 1e-12);

  /* strides: the same masks inside wider rows */
  guint8 wide_pred[4 * 7], wide_truth[4 * 9];
  memset (wide_pred, 0xAA, sizeof wide_pred);
  memset (wide_truth, 0x55, sizeof wide_truth);
  for (int y = 0; y < 4; y++) {
    memcpy (wide_pred + y * 7, pred4 + y * 4, 4);
    memcpy (wide_truth + y * 9, truth4 + y * 4, 4);
  }
  LsConfusion s;
  ls_confusion_count (&s, wide_pred, 7, wide_truth, 9, 4, 4);
  g_assert_cmpmem (&s, sizeof s, &c, sizeof c);
}

/* Pooled vs per-image, and ISIC's thresholded Jaccard. */
static void
test_summary (void)
{
  LsEvalSummary s = { 0 };
  LsConfusion a, perfect = { .tp = 10, .tn = 6 }, empty_ok = { .tn = 16 };
  ls_confusion_count (&a, pred4, 4, truth4, 4, 4, 4);
  ls_eval_summary_add (&s, &a);
  ls_eval_summary_add (&s, &perfect);
  ls_eval_summary_add (&s, &empty_ok);

  g_assert_cmpint (s.n_images, ==, 3);
  /* pooled: tp 13, fp 3, fn 1, tn 31 -> DSC 26 / 30 */
  g_assert_cmpfloat_with_epsilon (ls_confusion_dice (&s.pooled), 26.0 / 30.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (ls_confusion_accuracy (&s.pooled), 44.0 / 48.0, 1e-12);
  /* per image: Dice 0.6, 1, 1 (an empty truth predicted empty scores 1) */
  g_assert_cmpfloat_with_epsilon (s.sum_dice / 3, 2.6 / 3, 1e-12);
  /* Jaccard 3/7 < 0.65 counts 0 */
  g_assert_cmpfloat_with_epsilon (s.sum_thresholded_jaccard / 3, 2.0 / 3, 1e-12);
  g_assert_cmpfloat_with_epsilon (s.sum_jaccard / 3, (3.0 / 7 + 2) / 3, 1e-12);
  g_assert_cmpint (s.n_below_threshold, ==, 1);
}

static void
write_png (const char *path, int w, int h, guint8 value, gboolean square)
{
  g_autofree guint8 *rgb = g_malloc ((gsize) w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        rgb[((gsize) y * w + x) * 3 + c] =
          square && x >= w / 4 && x < 3 * w / 4 && y >= h / 4 && y < 3 * h / 4 ? value : 20;
  g_autoptr (GError) error = NULL;
  g_assert_true (ls_cli_save_rgb_png (path, rgb, w, h, w * 3, &error));
}

static char *
make_isic_fixture (int n)
{
  char *dir = tmp_dir_new ("lesionseg-eval-XXXXXX");
  g_autofree char *images = g_build_filename (dir, "images", NULL);
  g_autofree char *masks = g_build_filename (dir, "masks", NULL);
  g_mkdir (images, 0755);
  g_mkdir (masks, 0755);
  for (int i = 0; i < n; i++) {
    g_autofree char *img = g_strdup_printf ("%s/ISIC_%07d.png", images, i);
    g_autofree char *mask = g_strdup_printf ("%s/ISIC_%07d_segmentation.png", masks, i);
    write_png (img, 80 + i, 60, 200, TRUE);
    write_png (mask, 80 + i, 60, 255, TRUE);
  }
  return dir;
}

static void
test_dataset_isic (void)
{
  g_autofree char *dir = make_isic_fixture (3);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) items = ls_dataset_list (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (items->len, ==, 3);
  LsDatasetItem *first = g_ptr_array_index (items, 0);
  g_assert_cmpstr (first->name, ==, "ISIC_0000000");
  g_assert_true (g_str_has_suffix (first->mask_path, "masks/ISIC_0000000_segmentation.png"));

  /* a missing mask names both files */
  g_autofree char *mask = g_strdup_printf ("%s/masks/ISIC_0000001_segmentation.png", dir);
  g_unlink (mask);
  g_autoptr (GPtrArray) broken = ls_dataset_list (dir, &error);
  g_assert_null (broken);
  g_assert_error (error, LS_ERROR, LS_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "ISIC_0000001_segmentation.png"));
  g_assert_nonnull (strstr (error->message, "ISIC_0000001.png"));
  g_clear_error (&error);

  /* ISIC 2017's superpixel maps beside the images are not images */
  g_autofree char *superpixels = g_strdup_printf ("%s/images/ISIC_0000001_superpixels.png", dir);
  g_autofree char *image = g_strdup_printf ("%s/images/ISIC_0000001.png", dir);
  g_assert_true (g_rename (image, superpixels) == 0);
  g_autoptr (GPtrArray) skipped = ls_dataset_list (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (skipped->len, ==, 2);

  /* two files for one id would be scored twice */
  g_autofree char *twin = g_strdup_printf ("%s/images/ISIC_0000002.jpg", dir);
  g_file_set_contents (twin, "x", 1, NULL);
  g_autoptr (GPtrArray) twice = ls_dataset_list (dir, &error);
  g_assert_null (twice);
  g_assert_error (error, LS_ERROR, LS_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "are both the image of ISIC_0000002"));
  tmp_dir_remove (dir);
}

static void
test_dataset_ph2 (void)
{
  g_autofree char *dir = tmp_dir_new ("lesionseg-ph2-XXXXXX");
  for (int i = 2; i <= 4; i++) {
    g_autofree char *sub = g_strdup_printf ("%s/IMD%03d/IMD%03d_Dermoscopic_Image", dir, i, i);
    g_autofree char *les = g_strdup_printf ("%s/IMD%03d/IMD%03d_lesion", dir, i, i);
    g_mkdir_with_parents (sub, 0755);
    g_mkdir_with_parents (les, 0755);
    g_autofree char *img = g_strdup_printf ("%s/IMD%03d.bmp", sub, i);
    g_autofree char *mask = g_strdup_printf ("%s/IMD%03d_lesion.bmp", les, i);
    g_file_set_contents (img, "x", 1, NULL);
    g_file_set_contents (mask, "x", 1, NULL);
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) items = ls_dataset_list (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (items->len, ==, 3);
  LsDatasetItem *last = g_ptr_array_index (items, 2);
  g_assert_cmpstr (last->name, ==, "IMD004");
  g_assert_true (g_str_has_suffix (last->mask_path, "IMD004_lesion.bmp"));

  /* any depth, any case of the extension */
  g_autofree char *deep = g_strdup_printf ("%s/a/b/c/d/e/f/g/h/i/IMD005", dir);
  g_mkdir_with_parents (deep, 0755);
  g_autofree char *img5 = g_strdup_printf ("%s/IMD005.BMP", deep);
  g_autofree char *mask5 = g_strdup_printf ("%s/IMD005_lesion.BMP", deep);
  g_file_set_contents (img5, "x", 1, NULL);
  g_file_set_contents (mask5, "x", 1, NULL);
  g_autoptr (GPtrArray) more = ls_dataset_list (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (more->len, ==, 4);

  /* the same id twice (a second copy of the set inside it): refused, not
   * one copy silently kept or an image paired with the other's mask */
  g_autofree char *copy = g_strdup_printf ("%s/copy", dir);
  g_mkdir_with_parents (copy, 0755);
  g_autofree char *img2 = g_strdup_printf ("%s/IMD002.bmp", copy);
  g_file_set_contents (img2, "x", 1, NULL);
  g_autoptr (GPtrArray) twice = ls_dataset_list (dir, &error);
  g_assert_null (twice);
  g_assert_error (error, LS_ERROR, LS_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "are both the image of IMD002"));
  tmp_dir_remove (dir);
}

static void
test_dataset_empty (void)
{
  g_autofree char *dir = tmp_dir_new ("lesionseg-empty-XXXXXX");
  g_autoptr (GError) error = NULL;
  g_assert_null (ls_dataset_list (dir, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "no images"));
  g_clear_error (&error);

  g_autofree char *missing = g_build_filename (dir, "nowhere", NULL);
  g_assert_null (ls_dataset_list (missing, &error));
  g_assert_error (error, LS_ERROR, LS_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "nowhere: no such folder"));
  tmp_dir_remove (dir);
}

/* Runs the CLI with @args (NULL-terminated, after the program); returns its
 * exit status, *err its stderr. */
static int
run_cli (const char *const *args, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("LS_CLI"));
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  int status;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, err, &status, &error));
  g_test_message ("%s", *err);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* What the user gives is never lost or misread: synth leaves existing pairs
 * alone unless told; a NaN threshold is refused; a CSV that could not be
 * written fails the run. */
static void
test_cli_refusals (void)
{
  g_autofree char *dir = make_isic_fixture (2);
  g_autofree char *model = g_build_filename (g_getenv ("LS_TEST_DATA"), "tiny", "model.safetensors", NULL);
  g_autofree char *out = g_build_filename (dir, "synth", NULL);
  g_autofree char *err = NULL;

  const char *synth[] = { "synth", "--count", "2", "--size", "64x48", out, NULL };
  g_assert_cmpint (run_cli (synth, &err), ==, 0);
  g_autofree char *first = g_build_filename (out, "images", "synth_0000000.jpg", NULL);
  g_autofree char *before = NULL, *after = NULL;
  gsize before_len, after_len;
  g_assert_true (g_file_get_contents (first, &before, &before_len, NULL));
  g_clear_pointer (&err, g_free);
  const char *again[] = { "synth", "--count", "1", "--size", "32x32", out, NULL };
  g_assert_cmpint (run_cli (again, &err), ==, 1);
  g_assert_nonnull (strstr (err, "synth_0000000.jpg and 1 other file(s)"));
  g_assert_true (g_file_get_contents (first, &after, &after_len, NULL));
  g_assert_true (before_len == after_len && memcmp (before, after, before_len) == 0);
  g_clear_pointer (&err, g_free);
  const char *replace[] = { "synth", "--count", "1", "--size", "32x32", "--overwrite", out, NULL };
  g_assert_cmpint (run_cli (replace, &err), ==, 0);

  g_clear_pointer (&err, g_free);
  const char *nan_threshold[] = { "eval", "--model", model, "--threshold", "nan", dir, NULL };
  g_assert_cmpint (run_cli (nan_threshold, &err), ==, 2);
  g_assert_nonnull (strstr (err, "a threshold in [0, 1]"));

  if (g_file_test ("/dev/full", G_FILE_TEST_EXISTS)) {
    g_clear_pointer (&err, g_free);
    const char *full[] = { "eval", "--model", model, "--csv", "/dev/full", dir, NULL };
    g_assert_cmpint (run_cli (full, &err), ==, 1);
    g_assert_nonnull (strstr (err, "writing /dev/full failed"));
  }
  tmp_dir_remove (dir);
}

/* `lesionseg eval` on the fixture with the tiny test model: every metric
 * line is there and the per-image CSV has one row per image. */
static void
test_eval_command (void)
{
  g_autofree char *dir = make_isic_fixture (4);
  g_autofree char *model = g_build_filename (g_getenv ("LS_TEST_DATA"), "tiny", "model.safetensors", NULL);
  g_autofree char *csv = g_build_filename (dir, "rows.csv", NULL);
  const char *argv[] = { g_getenv ("LS_CLI"), "eval", "--model", model, "--csv", csv, dir, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
  g_test_message ("%s%s", out, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  static const char *const lines[] = {
    "images: 4\n", "DSC (pooled): ", "SE (pooled): ", "SP (pooled): ", "ACC (pooled): ",
    "Dice (mean per image): ", "Jaccard (mean per image): ", "Jaccard (ISIC thresholded at 0.65): ",
    "images below 0.65 Jaccard: ", "throughput: ",
  };
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    g_assert_nonnull (strstr (out, lines[i]));

  g_autofree char *rows = NULL;
  g_assert_true (g_file_get_contents (csv, &rows, NULL, NULL));
  g_auto (GStrv) split = g_strsplit (g_strstrip (rows), "\n", -1);
  g_assert_cmpuint (g_strv_length (split), ==, 5);
  g_assert_true (g_str_has_prefix (split[1], "ISIC_0000000,"));
  tmp_dir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/eval/confusion", test_confusion);
  g_test_add_func ("/eval/summary", test_summary);
  g_test_add_func ("/eval/dataset-isic", test_dataset_isic);
  g_test_add_func ("/eval/dataset-ph2", test_dataset_ph2);
  g_test_add_func ("/eval/dataset-empty", test_dataset_empty);
  g_test_add_func ("/eval/command", test_eval_command);
  g_test_add_func ("/eval/cli-refusals", test_cli_refusals);
  return g_test_run ();
}
