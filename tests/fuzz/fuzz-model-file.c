/* libFuzzer target: bytes -> model file reader.
 *
 * Every input goes through ls_safetensors_parse() (the whole header and
 * offset validation) and, for every tensor it accepts, the dtype conversion
 * into a buffer of exactly numel floats. When the metadata also makes a
 * valid config, the bytes are written to a per-process memfd and loaded
 * with ls_model_load(), the path a real file takes: mapping, config, every
 * tensor's name and shape against the network, conversion and the NaN/Inf
 * check. Success or a GError in the LS_ERROR domain are both fine; a crash,
 * a sanitizer report, a g_critical or a failure without a message is not.
 *
 * Build: meson setup -Dfuzzing=true with CC=clang (tests/fuzz/meson.build).
 * Run:   fuzz-model-file tests/fuzz/corpus/model-file -max_total_time=60
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE   /* memfd_create */
#include "model-private.h"
#include "safetensors.h"

#include "fuzz-common.h"

#include <sys/mman.h>
#include <unistd.h>

static int memfd = -1;
static char *memfd_path;

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  memfd = memfd_create ("fuzz-model-file", MFD_CLOEXEC);
  if (memfd < 0)
    abort ();
  memfd_path = g_strdup_printf ("/proc/self/fd/%d", memfd);
  return 0;
}

static void
check_error (GError *error)
{
  if (error == NULL || error->domain != LS_ERROR || error->message == NULL
      || error->message[0] == '\0') {
    g_printerr ("failure without a proper LS_ERROR: %s\n", error ? error->message : "(none)");
    abort ();
  }
}

static void
load_through_file (const uint8_t *data, size_t size)
{
  if (ftruncate (memfd, 0) != 0)
    abort ();
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite (memfd, data + done, size - done, (off_t) done);
    if (n <= 0)
      abort ();
    done += (size_t) n;
  }

  GError *error = NULL;
  LsModel *model = ls_model_load (memfd_path, &error);
  if (model == NULL) {
    check_error (error);
    g_error_free (error);
    return;
  }
  /* a loaded model answers its getters consistently */
  const LsConfig *c = ls_model_get_config (model);
  if (ls_model_get_param_count (model) <= 0 || c->image_size % 32 != 0)
    abort ();
  (void) ls_model_get_gflop (model, c->image_size, c->image_size);
  ls_model_unref (model);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* GBytes over the fuzzer's buffer without a copy: ASan then sees any read
   * past the input's end */
  GBytes *bytes = g_bytes_new_static (data, size);
  GError *error = NULL;
  LsSafetensors *st = ls_safetensors_parse (bytes, "fuzz", &error);
  g_bytes_unref (bytes);
  if (st == NULL) {
    check_error (error);
    g_error_free (error);
    return 0;
  }

  for (guint i = 0; i < ls_safetensors_get_n_tensors (st); i++) {
    const LsStTensor *t = ls_safetensors_get_tensor (st, i);
    if (ls_safetensors_find (st, t->name) != t)
      abort ();
    if (t->data < data || t->data + t->nbytes > data + size
        || t->nbytes != (gsize) t->numel * ls_dtype_size (t->dtype))
      abort ();
    float *out = g_new (float, MAX (t->numel, 1));
    ls_st_tensor_to_f32 (t, out);
    g_free (out);
  }

  LsConfig config;
  gboolean config_ok = ls_config_from_metadata (ls_safetensors_get_metadata (st), "fuzz",
                                                &config, &error);
  ls_safetensors_free (st);
  if (!config_ok) {
    check_error (error);
    g_error_free (error);
    return 0;
  }
  load_through_file (data, size);
  return 0;
}
