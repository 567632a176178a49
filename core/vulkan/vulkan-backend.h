/* The Vulkan compute backend (built with the meson feature `vulkan`).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "backend.h"

/* @device: index, or -1 for the best device (discrete > integrated >
 * virtual > CPU). With @gpu_only a CPU implementation such as lavapipe is
 * refused (backend=auto). */
LsBackend  *ls_vulkan_backend_new (const LsGraph *graph, int device, gboolean gpu_only,
                                   GError **error);
/* "vulkan:<device name>" */
const char *ls_vulkan_backend_get_name (LsBackend *backend);
/* Barriers and dispatches in the recorded command buffer (tests). */
void        ls_vulkan_backend_get_counts (LsBackend *backend, int *dispatches, int *barriers);
/* GEMMs that read fp16 weights (tests). */
int         ls_vulkan_backend_get_fp16_gemms (LsBackend *backend);
