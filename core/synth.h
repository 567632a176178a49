/* lesionseg: synthetic dermoscopy images with exact ground truth.
 *
 * The lesion mask is drawn first from a closed-form shape; skin, pigment,
 * hair, bubbles, rulers, dermatoscope corners and camera effects are then
 * composited over it, and none of them changes the mask. Everything is drawn
 * from one 64-bit seed with a self-contained PRNG and integer-hashed noise,
 * so a seed gives the same image on every machine and thread count.
 *
 * A scene lives in normalised coordinates (units of the reference frame's
 * height, origin at its centre), so it renders at any output size and under
 * a moving camera; ls_synth_generate is the one-shot still-image form.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint64 seed;
  int width, height;            /* output size; its aspect also frames the lesion */
  gboolean no_artefacts;        /* no hair, corners, bubbles, specular dots, rulers, ink */
  gboolean force_low_contrast;  /* lesion/skin luminance in 0.80-0.95 */
  double area_fraction;         /* > 0: this lesion area fraction, else drawn at random */
} LsSynthParams;

/* Defaults: seed 0, 512 x 384, everything drawn at random. */
void ls_synth_params_init (LsSynthParams *params);

/* What was drawn, for statistics and tests. */
typedef struct {
  double area_fraction;         /* fraction of mask pixels in the rendered frame */
  gboolean touches_border;      /* the mask reaches the frame's edge */
  double contrast;              /* target lesion/skin mean luminance */
  gboolean low_contrast;
  int n_colours;                /* pigment colours mixed in the lesion (1-4) */
  int n_hairs;
  gboolean dark_corners;
  guint8 skin_rgb[3];           /* base skin colour before camera effects */
} LsSynthInfo;

/* Renders one image of params->width x params->height: packed RGB (3 bytes a
 * pixel, rows @rgb_stride bytes apart) and a 0/255 mask that is one
 * 4-connected region without holes. @mask or @info may be NULL. Fails with
 * LS_ERROR_INPUT on a size outside 16..16384. */
gboolean ls_synth_generate (const LsSynthParams *params,
                            guint8 *rgb, int rgb_stride,
                            guint8 *mask, int mask_stride,
                            LsSynthInfo *info, GError **error);

/* ---- scenes under a moving camera ------------------------------------- */

typedef struct _LsSynthScene LsSynthScene;

/* Where the camera looks. The identity camera frames the scene exactly as
 * ls_synth_generate does. */
typedef struct {
  double pan_x, pan_y;  /* scene point at the frame centre, in units of the
                         * reference frame's height (+x right, +y down) */
  double zoom;          /* 1 = reference framing, 2 = twice magnified */
  double rotation;      /* radians: the frame's x axis runs along (cos, sin) of it
                         * in the scene */
  double gain;          /* illumination gain, 1 = as drawn */
  guint64 frame;        /* seeds this frame's sensor noise */
} LsSynthCamera;

void ls_synth_camera_init (LsSynthCamera *camera);

/* Draws a scene from params->seed; params->width / params->height give the
 * reference aspect the lesion is framed for. */
LsSynthScene *ls_synth_scene_new    (const LsSynthParams *params, GError **error);
void          ls_synth_scene_free   (LsSynthScene *scene);
/* What was drawn (area fraction and border contact of the reference frame). */
void          ls_synth_scene_get_info (const LsSynthScene *scene, LsSynthInfo *info);

/* Renders the scene as @camera sees it into a width x height frame. The mask
 * is exactly the lesion's visible part (it may be empty, or in pieces when
 * the lesion's centre is off-frame); @camera NULL means the identity. */
gboolean      ls_synth_scene_render (const LsSynthScene *scene, const LsSynthCamera *camera,
                                     int width, int height,
                                     guint8 *rgb, int rgb_stride,
                                     guint8 *mask, int mask_stride,
                                     GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LsSynthScene, ls_synth_scene_free)

G_END_DECLS
