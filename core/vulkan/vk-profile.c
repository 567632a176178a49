/* The per-dispatch side of --profile: with LS_VULKAN_PROFILE_CSV=FILE set,
 * every profiled run writes one row per dispatch, so that a GPU session
 * can see which GEMM shapes take the time, not only which op kinds.
 *
 * Columns: dispatch index, graph node, op kind, shader, workgroups x y z,
 * barrier (1 where a barrier precedes the dispatch: a new group of
 * dispatches that may overlap), microseconds (the step between the
 * timestamps around it; exact only with LS_VULKAN_PROFILE_SERIAL=1, which
 * records the profiled command buffer with a barrier before every
 * dispatch), then the specialization constants and the push constants as
 * space-separated integers. The GEMM kernels' push constants begin M N K
 * lda ldb ldc flags k_chunk (shaders/gemm_fetch.glsl); their first
 * specialization constants are the workgroup size and the tile (BM BN BK).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

#include <errno.h>
#include <stdio.h>

#include <glib/gstdio.h>

static void
write_ints (FILE *f, const uint32_t *v, guint n)
{
  for (guint i = 0; i < n; i++)
    fprintf (f, i ? " %u" : "%u", v[i]);
}

gboolean
ls_vk_profile_write_csv (const char *path, const LsGraph *graph, const LsVkPlan *plan,
                         const guint64 *ts, double ms_per_tick, const guint8 *barrier_before,
                         GError **error)
{
  FILE *f = g_fopen (path, "w");
  if (!f) {
    int e = errno;
    g_set_error (error, LS_ERROR, LS_ERROR_FILE, "vulkan: cannot write the profile %s: %s", path,
                 g_strerror (e));
    return FALSE;
  }
  fprintf (f, "dispatch,node,op,shader,groups_x,groups_y,groups_z,barrier,us,spec,push\n");
  for (guint i = 0; i < plan->dispatches->len; i++) {
    const LsVkDispatch *d = &g_array_index (plan->dispatches, LsVkDispatch, i);
    const LsNode *node = ls_graph_get_node (graph, d->node);
    fprintf (f, "%u,%s,%s,%s,%u,%u,%u,%d,%.2f,", i, node->name, ls_op_kind_name (node->op),
             ls_vk_shader_code[d->shader].name, d->groups[0], d->groups[1], d->groups[2],
             barrier_before[i], (double) (ts[i + 1] - ts[i]) * ms_per_tick * 1e3);
    write_ints (f, d->spec, (guint) d->n_spec);
    fputc (',', f);
    write_ints (f, d->push, d->push_size / 4);
    fputc ('\n', f);
  }
  if (fclose (f) != 0) {
    int e = errno;
    g_set_error (error, LS_ERROR, LS_ERROR_FILE, "vulkan: cannot write the profile %s: %s", path,
                 g_strerror (e));
    return FALSE;
  }
  return TRUE;
}
