/* libFuzzer target: frame pre-processing and mask post-processing.
 *
 * The first byte picks the path. Frames: a random size (negative and zero
 * included), format (one unknown value included), stride padding (or a
 * stride shorter than a row), ROI (none, inside, anywhere in int16 range, or
 * at the int limits) and tensor size; the pixel buffer is allocated to the
 * exact byte count the stride implies for the last pixel,
 * stride * (height - 1) + width * bpp, so any read past the frame's last
 * pixel is a heap overflow for ASan. The oracle: ls_image_to_tensor()
 * succeeds exactly when the arguments are valid (header's list), and then
 * every output value lies in [0, 255]; it refuses with an LS_ERROR_INPUT
 * message otherwise (naming the ROI when that is what is wrong).
 *
 * Masks: a random probability map (values in [0, 1], or any float bits,
 * NaN and infinities included) upsampled to a random mask size and stride
 * by ls_mask_from_prob(), then ls_mask_cleanup(), ls_mask_measure(),
 * ls_mask_measure_shape() and ls_prob_to_gray(); the row padding must stay
 * untouched, the mask 0/255, the measurements inside the mask.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "lesionseg.h"

#include "fuzz-common.h"

#include <math.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_init_logging ();
  return 0;
}

#define CHECK(cond) do { if (!(cond)) { \
    g_printerr ("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); abort (); } } while (0)

/* Fills @n bytes from the rest of the input, repeated (a fixed pattern when
 * nothing is left). */
static void
fill_bytes (guint8 *dst, gsize n, const FuzzReader *r)
{
  if (r->n == 0) {
    for (gsize i = 0; i < n; i++)
      dst[i] = (guint8) (i * 37 + (i >> 7));
    return;
  }
  for (gsize i = 0; i < n; i += r->n)
    memcpy (dst + i, r->p, MIN (r->n, n - i));
}

/* A size from two input bytes: with the top bit set a small one (the fuzzer
 * runs many more of those a second), else up to @big; @low and below are
 * the invalid sizes. */
static int
take_size (FuzzReader *r, int low, int big)
{
  const guint32 v = fuzz_take (r, 2);
  return (v & 0x8000) ? (int) (v % 40) + low : (int) (v % (guint32) (big - low + 1)) + low;
}

/* The oracle's per-pixel loops are not what is being fuzzed: no coverage
 * tracing there (it was most of the time per input). */
#if defined(__clang__) && __clang_major__ >= 13
#define NO_COVERAGE __attribute__ ((no_sanitize ("coverage")))
#else
#define NO_COVERAGE
#endif

NO_COVERAGE static gboolean
all_in_range (const float *v, gsize n, float lo, float hi)
{
  gboolean ok = TRUE;
  for (gsize i = 0; i < n; i++)
    ok &= v[i] >= lo && v[i] <= hi;
  return ok;
}

/* every mask byte 0 or 255 (when @binary), every padding byte of rows but
 * the last still 0xab */
NO_COVERAGE static gboolean
mask_ok (const guint8 *mask, int mw, int mh, int mstride, gboolean binary)
{
  gboolean ok = TRUE;
  for (int y = 0; y < mh; y++) {
    const guint8 *row = mask + (gsize) y * mstride;
    if (binary)
      for (int x = 0; x < mw; x++)
        ok &= row[x] == 0 || row[x] == 255;
    if (y < mh - 1)
      for (int x = mw; x < mstride; x++)
        ok &= row[x] == 0xab;
  }
  return ok;
}

static void
fuzz_image (FuzzReader *r)
{
  const guint8 fmt_byte = (guint8) fuzz_take (r, 1);
  LsPixelFormat format = (LsPixelFormat) (fmt_byte % 11);   /* 10 = unknown */
  if (fmt_byte >= 0xf0)
    format = (LsPixelFormat) (int) (gint8) fmt_byte;        /* negative */
  const int width = take_size (r, -4, 515);
  const int height = take_size (r, -4, 515);
  const int pad_byte = (int) fuzz_take (r, 1);
  const int roi_mode = (int) fuzz_take (r, 1) % 4;
  LsRect roi = { 0, 0, 0, 0 };
  const gint16 rx = (gint16) fuzz_take (r, 2), ry = (gint16) fuzz_take (r, 2);
  const gint16 rw = (gint16) fuzz_take (r, 2), rh = (gint16) fuzz_take (r, 2);
  const int out_w = take_size (r, -2, 297);
  const int out_h = take_size (r, -2, 297);
  const int norm = fuzz_take (r, 1) == 0xff ? 1 : 0;

  const int bpp = ls_pixel_format_bpp (format);
  const gboolean format_ok = bpp != 0;
  const int row = MAX (width, 0) * MAX (bpp, 1);
  /* pad 0..63 bytes, or a stride 1..8 bytes shorter than a row */
  const int stride = pad_byte < 64 ? row + pad_byte : row - (pad_byte % 8 + 1);

  if (roi_mode == 1 && width > 0 && height > 0) {
    /* inside the frame */
    roi.x = (guint16) rx % width;
    roi.y = (guint16) ry % height;
    roi.width = 1 + (guint16) rw % (width - roi.x);
    roi.height = 1 + (guint16) rh % (height - roi.y);
  } else if (roi_mode == 2 || roi_mode == 1) {
    roi = (LsRect) { rx, ry, rw, rh };
  } else if (roi_mode == 3) {
    static const int extremes[] = { G_MININT, G_MININT + 1, -1, 0, 1, G_MAXINT - 1, G_MAXINT };
    roi = (LsRect) { extremes[(guint16) rx % 7], extremes[(guint16) ry % 7],
                     extremes[(guint16) rw % 7], extremes[(guint16) rh % 7] };
  }

  /* exactly the bytes the frame spans: the last row is not padded */
  gsize size = 1;
  if (width > 0 && height > 0 && stride >= row)
    size = (gsize) stride * (gsize) (height - 1) + (gsize) row;
  guint8 *pixels = g_malloc (size);
  fill_bytes (pixels, size, r);

  const gsize n_out = 3 * (gsize) MAX (out_w, 1) * (gsize) MAX (out_h, 1);
  float *out = g_new (float, n_out);
  const LsImage image = { pixels, width, height, stride, format };
  const LsRect *roi_arg = roi_mode ? &roi : NULL;

  const gboolean roi_ok = roi_mode == 0 ||
    (roi.width > 0 && roi.height > 0 && roi.x >= 0 && roi.y >= 0 &&
     (gint64) roi.x + roi.width <= width && (gint64) roi.y + roi.height <= height);
  const gboolean valid = format_ok && width > 0 && height > 0 && stride >= row &&
    out_w > 0 && out_h > 0 && norm == 0 && roi_ok;

  GError *error = NULL;
  const gboolean ok = ls_image_to_tensor (&image, roi_arg, (LsInputNorm) norm,
                                          out_w, out_h, out, &error);
  CHECK (ok == valid);
  if (ok) {
    CHECK (error == NULL);
    CHECK (all_in_range (out, n_out, 0.0f, 255.0f + 1e-3f));
  } else {
    CHECK (error != NULL && g_error_matches (error, LS_ERROR, LS_ERROR_INPUT));
    CHECK (error->message[0] != '\0');
    /* everything else valid: the message must be about the ROI */
    if (format_ok && width > 0 && height > 0 && stride >= row && out_w > 0 && out_h > 0
        && norm == 0)
      CHECK (strstr (error->message, "ROI") != NULL);
    g_error_free (error);
  }
  g_free (out);
  g_free (pixels);
}

static float
take_prob (FuzzReader *r, gboolean raw)
{
  if (raw) {
    guint32 bits = fuzz_take (r, 4);
    float f;
    memcpy (&f, &bits, sizeof f);
    return f;
  }
  return (float) fuzz_take (r, 1) / 255.0f;
}

static void
fuzz_mask (FuzzReader *r)
{
  const int mode = (int) fuzz_take (r, 1);
  const gboolean raw = (mode & 1) != 0;
  const int pw = 1 + (int) (fuzz_take (r, 1) % 48);
  const int ph = 1 + (int) (fuzz_take (r, 1) % 48);
  const int mw = take_size (r, 1, 400);
  const int mh = take_size (r, 1, 400);
  const int mstride = mw + (int) (fuzz_take (r, 1) % 17);
  const LsCleanupFlags flags = (LsCleanupFlags) (fuzz_take (r, 1) % 4);
  const float threshold = take_prob (r, raw);

  float *prob = g_new (float, (gsize) pw * ph);
  for (int i = 0; i < pw * ph; i++)
    prob[i] = take_prob (r, raw);

  const gsize size = (gsize) mstride * (mh - 1) + (gsize) mw;
  guint8 *mask = g_malloc (size);
  memset (mask, 0xab, size);

  if (mode & 2) {
    /* a mask straight from the input: any nonzero byte is foreground */
    for (int y = 0; y < mh; y++)
      fill_bytes (mask + (gsize) y * mstride, (gsize) mw, r);
  } else {
    ls_mask_from_prob (prob, pw, ph, threshold, mask, mw, mh, mstride);
    CHECK (mask_ok (mask, mw, mh, mstride, TRUE));   /* padding is not written */
  }

  ls_mask_cleanup (mask, mw, mh, mstride, flags);
  CHECK (mask_ok (mask, mw, mh, mstride, FALSE));

  LsMeasurements m;
  ls_mask_measure (mask, mw, mh, mstride, (mode & 4) ? NULL : prob, pw, ph, &m);
  CHECK (m.area >= 0 && m.area <= (gint64) mw * mh);
  if (m.area > 0) {
    CHECK (m.bbox_x >= 0 && m.bbox_y >= 0 && m.bbox_width > 0 && m.bbox_height > 0);
    CHECK (m.bbox_x + m.bbox_width <= mw && m.bbox_y + m.bbox_height <= mh);
    CHECK (m.centroid_x >= m.bbox_x && m.centroid_x <= m.bbox_x + m.bbox_width - 1);
    CHECK (m.centroid_y >= m.bbox_y && m.centroid_y <= m.bbox_y + m.bbox_height - 1);
  } else {
    CHECK (m.bbox_width == 0 && m.bbox_height == 0);
  }

  LsShapeMeasurements s;
  ls_mask_measure_shape (mask, mw, mh, mstride, &s);
  CHECK (isfinite (s.perimeter) && s.perimeter >= 0);
  CHECK (isfinite (s.max_diameter) && s.max_diameter >= 0);
  CHECK (s.asymmetry >= 0 && s.asymmetry <= 1);
  CHECK (isfinite (s.border_irregularity) && s.border_irregularity >= 0);

  ls_prob_to_gray (prob, pw, ph, mask, mw, mh, mstride);
  CHECK (mask_ok (mask, mw, mh, mstride, FALSE));

  g_free (mask);
  g_free (prob);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FuzzReader r = { data, size };
  if (fuzz_take (&r, 1) & 1)
    fuzz_mask (&r);
  else
    fuzz_image (&r);
  return 0;
}
