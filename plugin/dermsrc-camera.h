/* dermsrc: the camera's motion limits, shared by the element's camera path
 * (which moves within them) and the moving texture (which must cover them).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* Camera motion limits, in the generator's scene units (the reference
 * frame's height). The moving texture covers all of it. */
#define PAN_MAX 0.06
#define ZOOM_RANGE 0.25       /* zoom in 1 .. 1 + ZOOM_RANGE */
#define ROT_MAX 0.12          /* radians */
#define GAIN_DRIFT 0.08       /* illumination gain in 1 +- GAIN_DRIFT */
