/* lesionseg: skin-lesion segmentation inference core.
 *
 * The public API of liblesionseg. No GStreamer here: capture software links
 * this library directly. Errors travel as GError in the LS_ERROR domain.
 *
 * A typical use:
 *
 *   LsModel *model = ls_model_load ("lesionseg-small.safetensors", &error);
 *   LsEngine *engine = ls_engine_new (model, NULL, &error);
 *   LsImage frame = { pixels, width, height, stride, LS_PIXEL_RGBA };
 *   float *prob = g_new (float, ls_engine_get_width (engine) * ls_engine_get_height (engine));
 *   ls_engine_run (engine, &frame, NULL, prob, &error);
 *   ls_mask_from_prob (prob, ls_engine_get_width (engine), ls_engine_get_height (engine),
 *                      0.5f, mask, width, height, width);
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LS_ERROR (ls_error_quark ())
GQuark ls_error_quark (void);

typedef enum {
  LS_ERROR_FILE,        /* missing or unreadable file */
  LS_ERROR_FORMAT,      /* not a valid safetensors file */
  LS_ERROR_TENSOR,      /* missing tensor, wrong shape, bad dtype or data */
  LS_ERROR_CONFIG,      /* bad, unknown or inconsistent hyper-parameters */
  LS_ERROR_BACKEND,     /* a backend is absent or failed */
  LS_ERROR_INPUT,       /* a frame or argument the engine cannot take */
} LsError;

/* ---- model ------------------------------------------------------------ */

typedef enum {
  LS_INPUT_NORM_MINMAX255,  /* per-image min-max stretch to [0, 255] (the published model) */
} LsInputNorm;

/* Hyper-parameters, read from the model file's __metadata__. */
typedef struct {
  int dims[3];        /* channels of encoder stages 1..3 (d2, d3 even) */
  int layers[3];      /* transformer blocks per stage */
  int ffn_ratio;      /* Mix-FFN hidden width = ffn_ratio * dim */
  int image_size;     /* native square input size, a multiple of 32 */
  LsInputNorm input_norm;
  int iscf_scales;    /* 1..3: how many of the deepest scales ISCF fuses */
} LsConfig;

typedef struct _LsModel LsModel;

/* Reads a safetensors model file. Every tensor's shape is checked against
 * the config in the file's metadata, and a tensor the network has no place
 * for (other than the authors' unused ones) is an error; the data is copied
 * into aligned f32 buffers, so the file may change on disk afterwards. */
LsModel        *ls_model_load            (const char *path, GError **error);
LsModel        *ls_model_ref             (LsModel *model);
void            ls_model_unref           (LsModel *model);
const LsConfig *ls_model_get_config      (const LsModel *model);
const char     *ls_model_get_path        (const LsModel *model);
/* Parameters the forward pass uses (unused checkpoint tensors not counted). */
gint64          ls_model_get_param_count (const LsModel *model);
/* Floating-point operations of one forward pass at width x height
 * (a multiply-add counts 2). */
double          ls_model_get_gflop       (const LsModel *model, int width, int height);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LsModel, ls_model_unref)

/* ---- frames ----------------------------------------------------------- */

typedef enum {
  LS_PIXEL_RGB, LS_PIXEL_BGR,
  LS_PIXEL_RGBA, LS_PIXEL_BGRA, LS_PIXEL_ARGB, LS_PIXEL_ABGR,
  LS_PIXEL_RGBX, LS_PIXEL_BGRX, LS_PIXEL_XRGB, LS_PIXEL_XBGR,
} LsPixelFormat;

/* An 8-bit packed frame; stride in bytes, rows may be padded. */
typedef struct {
  const guint8 *data;
  int width, height, stride;
  LsPixelFormat format;
} LsImage;

typedef struct {
  int x, y, width, height;
} LsRect;

/* Bytes per pixel of a packed format. */
int ls_pixel_format_bpp (LsPixelFormat format);

/* Resizes the region @roi of @image (whole image when NULL) to width x height
 * and normalises it as @norm says, writing channel-first planes R, G, B into
 * @out (3 * width * height floats). Per axis: area average when shrinking
 * (each source pixel weighs by its overlap with the output pixel), bilinear
 * with pixel centres aligned when enlarging (PIL; PyTorch align_corners=False).
 * LS_INPUT_NORM_MINMAX255 stretches min..max over all three planes to 0..255;
 * an image whose resized values spread less than 1e-3 (a constant one) gives
 * zeros. A/X bytes are ignored. Fails with LS_ERROR_INPUT on missing data, an
 * empty image, ROI or output, a stride shorter than a row, a ROI not inside
 * the image, or an unknown format or normalisation. Single-threaded; about
 * 1 ms for a 1080p frame to 224 x 224. */
gboolean ls_image_to_tensor (const LsImage *image, const LsRect *roi, LsInputNorm norm,
                             int width, int height, float *out, GError **error);

/* ---- engine ----------------------------------------------------------- */

typedef enum {
  LS_BACKEND_AUTO,    /* Vulkan on a real GPU, else the CPU */
  LS_BACKEND_CPU,     /* OpenBLAS + own C kernels */
  LS_BACKEND_VULKAN,  /* any Vulkan device, lavapipe included */
} LsBackendKind;

typedef struct {
  LsBackendKind backend;
  int device;         /* Vulkan device index, -1 = choose */
  int width, height;  /* network input size, 0 = the model's image_size */
  int threads;        /* CPU threads, 0 = all cores */
} LsEngineOptions;

void ls_engine_options_init (LsEngineOptions *options);
/* "auto", "cpu", "vulkan" -> kind; FALSE on anything else */
gboolean ls_backend_kind_from_string (const char *name, LsBackendKind *kind);

typedef struct _LsEngine LsEngine;

/* An engine owns its activation memory and may run in its own thread; several
 * engines may share one model. */
LsEngine   *ls_engine_new          (LsModel *model, const LsEngineOptions *options,
                                    GError **error);
void        ls_engine_free         (LsEngine *engine);
int         ls_engine_get_width    (const LsEngine *engine);
int         ls_engine_get_height   (const LsEngine *engine);
/* "cpu" or "vulkan:<device name>" */
const char *ls_engine_get_backend_name (const LsEngine *engine);
LsModel    *ls_engine_get_model    (const LsEngine *engine);
/* GFLOP one run executes. Below ls_model_get_gflop()'s count for the network
 * as published: the engine folds Linears around the attention into each
 * other where that saves work. */
double      ls_engine_get_gflop    (const LsEngine *engine);

/* Runs the network on an already normalised input (3 planes of width x height)
 * and writes width x height logits. */
gboolean    ls_engine_run_tensor   (LsEngine *engine, const float *input, float *logits,
                                    GError **error);
/* Frame in, lesion probability map (sigmoid of the logits) out, at the
 * engine's width x height. */
gboolean    ls_engine_run          (LsEngine *engine, const LsImage *image, const LsRect *roi,
                                    float *prob, GError **error);

/* Milliseconds per op kind of the last run, when the backend measures them;
 * calls @fn once per kind, and, where the backend copies the input to a
 * device first (Vulkan on a discrete GPU), once more with op "input upload"
 * for that copy. */
typedef void (*LsProfileFunc) (const char *op, double ms, int count, gpointer user_data);
void        ls_engine_set_profiling (LsEngine *engine, gboolean enable);
void        ls_engine_foreach_profile (LsEngine *engine, LsProfileFunc fn, gpointer user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LsEngine, ls_engine_free)

/* ---- masks and measurements ------------------------------------------ */

/* Bilinearly upsamples the pw x ph probability map to a mw x mh mask (stride
 * @mstride bytes; padding is not written) and thresholds it: 255 where
 * p >= threshold, else 0. Sampling is PyTorch's align_corners=False: mask
 * pixel i of m reads the map of n cells at s = (i + 0.5) * (n / (double) m) - 0.5,
 * clamped to [0, n - 1], blending cells floor(s) and floor(s) + 1 with weight
 * l = s - floor(s) in float, horizontally first:
 * v = (1 - ly) * ((1 - lx) * p00 + lx * p01) + ly * ((1 - lx) * p10 + lx * p11).
 * Only the rectangle that can reach the threshold is interpolated; the result
 * is the same as interpolating every pixel. */
void ls_mask_from_prob (const float *prob, int pw, int ph, float threshold,
                        guint8 *mask, int mw, int mh, int mstride);

/* Bilinearly resizes the pw x ph probability map to an 8-bit grey image,
 * round(p * 255). */
void ls_prob_to_gray (const float *prob, int pw, int ph,
                      guint8 *out, int width, int height, int stride);

typedef enum {
  LS_CLEANUP_NONE          = 0,
  LS_CLEANUP_FILL_HOLES    = 1 << 0,
  LS_CLEANUP_LARGEST_REGION = 1 << 1,
} LsCleanupFlags;

/* In place on a 0/255 mask (any nonzero byte counts as foreground; filled
 * holes are written as 255). Foreground regions are 8-connected, background
 * 4-connected. FILL_HOLES: background not connected to the image border
 * becomes foreground. LARGEST_REGION: only the largest foreground region
 * stays (on a tie, the one starting first in raster order). With both, holes
 * are filled first, so a region competes with its filled area. Work is
 * proportional to the foreground's bounding box (plus one pass finding it). */
void ls_mask_cleanup (guint8 *mask, int width, int height, int stride, LsCleanupFlags flags);

typedef struct {
  gint64 area;                      /* pixels in the mask */
  int bbox_x, bbox_y, bbox_width, bbox_height;  /* 0 size when empty */
  double centroid_x, centroid_y;    /* mean pixel index: pixel (x, y) is at x, y */
  double equivalent_diameter;       /* sqrt (4 area / pi): the disc of the same area */
  double mean_probability;          /* mean of the probability inside the mask */
} LsMeasurements;

/* Measures a mask (any nonzero byte is inside); everything is 0 for an empty
 * mask. @prob (pw x ph, may be NULL: mean_probability 0) is sampled at each
 * mask pixel exactly as ls_mask_from_prob samples it. */
void ls_mask_measure (const guint8 *mask, int width, int height, int stride,
                      const float *prob, int pw, int ph, LsMeasurements *out);

/* Shape descriptors of a mask (any nonzero byte is inside), for the ABCD
 * rule's A and B and the lesion's size; all 0 for an empty mask.
 * perimeter: length of the marching-squares contour through the midpoints
 * between inside and outside pixel centres (outside the image counts as
 * outside), its straight segments weighted 0.9475 and its diagonal ones
 * 0.6700: a closed smooth border (a disc's, a lesion's) comes out within 1%
 * of its true length; a straight border between 5.25% short (axis-aligned or
 * diagonal) and 2.6% long (at 22.5 degrees).
 * max_diameter: largest distance between two inside pixel centres (Feret
 * diameter; 0 for one pixel).
 * asymmetry: the mask is mirrored about two perpendicular axes through its
 * centroid, placed where it is most symmetric (as the ABCD rule places
 * them; for an ellipse or a rectangle its principal axes, found to half a
 * degree otherwise); per axis, the fraction of mask pixels whose mirror
 * image falls outside the mask; the mean of the two, in [0, 1] (0 for an
 * ellipse, a rectangle or a square at any angle). Masks over 2^16 pixels
 * are sampled on a regular grid.
 * border_irregularity: perimeter^2 / (4 pi area), about 1 for a disc,
 * larger for ragged borders (a square, 4/pi = 1.27 in theory, gives 1.14
 * axis-aligned and up to 1.34 turned, since its sides are straight). Work is proportional to the
 * mask's bounding box. */
typedef struct {
  double perimeter;
  double max_diameter;
  double asymmetry;
  double border_irregularity;
} LsShapeMeasurements;

void ls_mask_measure_shape (const guint8 *mask, int width, int height, int stride,
                            LsShapeMeasurements *out);

G_END_DECLS
#include "synth.h"
