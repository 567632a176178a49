/* Compute pipelines: one shared layout, shader modules made on first use,
 * one pipeline per (shader, specialization constants), and a pipeline
 * cache kept under the user's cache directory so that the driver's shader
 * compilation happens once per device and driver, not once per process.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

#include <errno.h>
#include <string.h>

static char *
cache_path (const LsVkCaps *caps)
{
  g_autofree char *file = g_strdup_printf ("vulkan-%04x-%04x-%08x.bin", caps->vendor_id,
                                           caps->device_id, caps->driver_version);
  return g_build_filename (g_get_user_cache_dir (), "lesionseg", file, NULL);
}

gboolean
ls_vk_pipelines_init (LsVkPipelines *p, LsVkDevice *dev, GError **error)
{
  memset (p, 0, sizeof *p);
  p->dev = dev;
  p->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  VkDescriptorSetLayoutBinding bindings[LS_VK_BINDINGS];
  for (int i = 0; i < LS_VK_BINDINGS; i++)
    bindings[i] = (VkDescriptorSetLayoutBinding) {
      .binding = (uint32_t) i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
      .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  const VkDescriptorSetLayoutCreateInfo set_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = LS_VK_BINDINGS, .pBindings = bindings,
  };
  if (!ls_vk_check (vkCreateDescriptorSetLayout (dev->device, &set_info, NULL, &p->set_layout),
                    "vkCreateDescriptorSetLayout", error))
    return FALSE;
  const VkPushConstantRange push = {
    .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = LS_VK_PUSH_BYTES,
  };
  const VkPipelineLayoutCreateInfo layout_info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1, .pSetLayouts = &p->set_layout,
    .pushConstantRangeCount = 1, .pPushConstantRanges = &push,
  };
  if (!ls_vk_check (vkCreatePipelineLayout (dev->device, &layout_info, NULL, &p->layout),
                    "vkCreatePipelineLayout", error))
    return FALSE;

  /* A stale or foreign cache file is harmless: the driver checks its
   * header and ignores data that is not its own. */
  p->cache_path = cache_path (&dev->caps);
  g_autofree char *data = NULL;
  gsize size = 0;
  if (!g_file_get_contents (p->cache_path, &data, &size, NULL))
    size = 0;
  const VkPipelineCacheCreateInfo cache_info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
    .initialDataSize = size, .pInitialData = data,
  };
  if (vkCreatePipelineCache (dev->device, &cache_info, NULL, &p->cache) != VK_SUCCESS) {
    const VkPipelineCacheCreateInfo empty = { .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO };
    if (!ls_vk_check (vkCreatePipelineCache (dev->device, &empty, NULL, &p->cache),
                      "vkCreatePipelineCache", error))
      return FALSE;
  }
  return TRUE;
}

static void
save_cache (LsVkPipelines *p)
{
  size_t size = 0;
  if (vkGetPipelineCacheData (p->dev->device, p->cache, &size, NULL) != VK_SUCCESS || !size)
    return;
  g_autofree char *data = g_malloc (size);
  if (vkGetPipelineCacheData (p->dev->device, p->cache, &size, data) != VK_SUCCESS)
    return;
  g_autofree char *dir = g_path_get_dirname (p->cache_path);
  g_autoptr (GError) error = NULL;
  /* a cache is an optimisation: a read-only home only costs compile time */
  if (g_mkdir_with_parents (dir, 0700) != 0
      || !g_file_set_contents (p->cache_path, data, (gssize) size, &error))
    g_debug ("vulkan: pipeline cache not saved to %s: %s", p->cache_path,
             error ? error->message : g_strerror (errno));
}

void
ls_vk_pipelines_clear (LsVkPipelines *p)
{
  if (!p->dev)
    return;
  VkDevice device = p->dev->device;
  if (p->created && p->cache)
    save_cache (p);
  if (p->pipelines) {
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init (&it, p->pipelines);
    while (g_hash_table_iter_next (&it, NULL, &value))
      vkDestroyPipeline (device, (VkPipeline) value, NULL);
    g_hash_table_unref (p->pipelines);
  }
  for (int i = 0; i < LS_N_SHADERS; i++)
    if (p->modules[i])
      vkDestroyShaderModule (device, p->modules[i], NULL);
  if (p->cache)
    vkDestroyPipelineCache (device, p->cache, NULL);
  if (p->layout)
    vkDestroyPipelineLayout (device, p->layout, NULL);
  if (p->set_layout)
    vkDestroyDescriptorSetLayout (device, p->set_layout, NULL);
  g_free (p->cache_path);
  memset (p, 0, sizeof *p);
}

VkPipeline
ls_vk_pipeline_get (LsVkPipelines *p, LsShaderId shader, const uint32_t *spec, int n_spec,
                    GError **error)
{
  GString *key = g_string_new (ls_vk_shader_code[shader].name);
  for (int i = 0; i < n_spec; i++)
    g_string_append_printf (key, ":%u", spec[i]);
  VkPipeline pipeline = g_hash_table_lookup (p->pipelines, key->str);
  if (pipeline) {
    g_string_free (key, TRUE);
    return pipeline;
  }

  VkDevice device = p->dev->device;
  if (!ls_vk_shader_code[shader].code) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: shader %s is not in this build", ls_vk_shader_code[shader].name);
    g_string_free (key, TRUE);
    return VK_NULL_HANDLE;
  }
  if (!p->modules[shader]) {
    const VkShaderModuleCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
      .codeSize = ls_vk_shader_code[shader].size, .pCode = ls_vk_shader_code[shader].code,
    };
    if (!ls_vk_check (vkCreateShaderModule (device, &info, NULL, &p->modules[shader]),
                      "vkCreateShaderModule", error)) {
      g_string_free (key, TRUE);
      return VK_NULL_HANDLE;
    }
  }
  VkSpecializationMapEntry entries[LS_VK_MAX_SPEC];
  for (int i = 0; i < n_spec; i++)
    entries[i] = (VkSpecializationMapEntry) {
      .constantID = (uint32_t) i, .offset = (uint32_t) (i * 4), .size = 4,
    };
  const VkSpecializationInfo spec_info = {
    .mapEntryCount = (uint32_t) n_spec, .pMapEntries = entries,
    .dataSize = (size_t) n_spec * 4, .pData = spec,
  };
  const VkComputePipelineCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = p->modules[shader], .pName = "main",
      .pSpecializationInfo = n_spec ? &spec_info : NULL,
    },
    .layout = p->layout,
  };
  VkResult r = vkCreateComputePipelines (device, p->cache, 1, &info, NULL, &pipeline);
  if (r != VK_SUCCESS) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: cannot create the pipeline %s (VkResult %d)", key->str, (int) r);
    g_string_free (key, TRUE);
    return VK_NULL_HANDLE;
  }
  p->created = TRUE;
  g_hash_table_insert (p->pipelines, g_string_free (key, FALSE), pipeline);
  return pipeline;
}
