/* Vulkan instance and device: choose a device, read its capabilities once,
 * open one compute queue.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

#include <stdlib.h>
#include <string.h>

int
ls_vk_env_int (const char *name, int fallback)
{
  const char *v = g_getenv (name);
  return v && *v ? atoi (v) : fallback;
}

gboolean
ls_vk_check (VkResult result, const char *what, GError **error)
{
  if (result == VK_SUCCESS)
    return TRUE;
  g_set_error (error, LS_ERROR, LS_ERROR_BACKEND, "vulkan: %s failed (VkResult %d)", what,
               (int) result);
  return FALSE;
}

const char *
ls_vk_device_type_name (VkPhysicalDeviceType type)
{
  switch (type) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
  default: return "other";
  }
}

static int
type_rank (VkPhysicalDeviceType type)
{
  switch (type) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
  default: return 0;
  }
}

static gboolean
has_extension (VkPhysicalDevice physical, const char *name)
{
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties (physical, NULL, &n, NULL);
  g_autofree VkExtensionProperties *ext = g_new0 (VkExtensionProperties, MAX (n, 1));
  vkEnumerateDeviceExtensionProperties (physical, NULL, &n, ext);
  for (uint32_t i = 0; i < n; i++)
    if (strcmp (ext[i].extensionName, name) == 0)
      return TRUE;
  return FALSE;
}

static int
compute_queue_family (VkPhysicalDevice physical)
{
  uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n, NULL);
  g_autofree VkQueueFamilyProperties *fam = g_new0 (VkQueueFamilyProperties, MAX (n, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (physical, &n, fam);
  /* prefer a compute queue that also does graphics: on most GPUs that is
   * the one with timestamps and the full set of features */
  int best = -1;
  for (uint32_t i = 0; i < n; i++) {
    if (!(fam[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
      continue;
    if (best < 0 || (fam[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
      best = (int) i;
    if (fam[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)
      break;
  }
  return best;
}

/* The cooperative-matrix GEMM: the extension with its feature, fp16
 * arithmetic (the shaders keep fp16 tiles in shared memory), 32-wide
 * subgroups, the shaders in this build, and an fp16 x fp16 -> fp32
 * subgroup fragment we can tile with (16x16x16 preferred, then 16x8x16,
 * 16x8x8). LS_VULKAN_COOPMAT=0 turns it off. */
static void
read_coopmat (LsVkDevice *dev, LsVkCaps *caps)
{
  caps->coopmat = FALSE;
#ifdef LS_HAVE_NV_COOPMAT
  if (!caps->nv_coopmat || !caps->fp16_arithmetic || caps->subgroup_size != 32
      || !has_extension (dev->physical, "VK_KHR_shader_float16_int8")
      || !has_extension (dev->physical, "VK_KHR_vulkan_memory_model"))
    return;
  /* glslang emits the Vulkan memory model for GL_NV_cooperative_matrix */
  VkPhysicalDeviceVulkanMemoryModelFeaturesKHR memory_model = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES_KHR,
  };
  VkPhysicalDeviceCooperativeMatrixFeaturesNV feat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
    .pNext = &memory_model,
  };
  VkPhysicalDeviceFeatures2 feat2 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &feat,
  };
  vkGetPhysicalDeviceFeatures2 (dev->physical, &feat2);
  PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get_props =
      (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)
      vkGetInstanceProcAddr (dev->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
  if (!feat.cooperativeMatrix || !memory_model.vulkanMemoryModel || !get_props)
    return;
  uint32_t n = 0;
  if (get_props (dev->physical, &n, NULL) != VK_SUCCESS || n == 0)
    return;
  g_autofree VkCooperativeMatrixPropertiesNV *props = g_new0 (VkCooperativeMatrixPropertiesNV, n);
  for (uint32_t i = 0; i < n; i++)
    props[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
  if (get_props (dev->physical, &n, props) != VK_SUCCESS)
    return;
  static const uint32_t wanted[][3] = { { 16, 16, 16 }, { 16, 8, 16 }, { 16, 8, 8 } };
  for (guint w = 0; w < G_N_ELEMENTS (wanted) && !caps->coopmat; w++)
    for (uint32_t i = 0; i < n; i++) {
      const VkCooperativeMatrixPropertiesNV *p = &props[i];
      if (w == 0)
        g_debug ("vulkan: coopmat %ux%ux%u A %d B %d C %d D %d scope %d", p->MSize, p->NSize,
                 p->KSize, p->AType, p->BType, p->CType, p->DType, p->scope);
      if (p->MSize == wanted[w][0] && p->NSize == wanted[w][1] && p->KSize == wanted[w][2]
          && p->AType == VK_COMPONENT_TYPE_FLOAT16_NV && p->BType == VK_COMPONENT_TYPE_FLOAT16_NV
          && p->CType == VK_COMPONENT_TYPE_FLOAT32_NV && p->DType == VK_COMPONENT_TYPE_FLOAT32_NV
          && p->scope == VK_SCOPE_SUBGROUP_NV) {
        caps->coopmat = TRUE;
        caps->coopmat_m = p->MSize;
        caps->coopmat_n = p->NSize;
        caps->coopmat_k = p->KSize;
        break;
      }
    }
  if (ls_vk_env_int ("LS_VULKAN_COOPMAT", 1) == 0)
    caps->coopmat = FALSE;
#else
  (void) dev;
#endif
}

static void
read_caps (LsVkDevice *dev)
{
  LsVkCaps *caps = &dev->caps;
  VkPhysicalDeviceSubgroupProperties subgroup = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
  };
  VkPhysicalDeviceProperties2 props2 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &subgroup,
  };
  vkGetPhysicalDeviceProperties2 (dev->physical, &props2);
  const VkPhysicalDeviceProperties *p = &props2.properties;
  const VkPhysicalDeviceLimits *l = &p->limits;

  g_strlcpy (caps->name, p->deviceName, sizeof caps->name);
  caps->type = p->deviceType;
  caps->plan_type = ls_vk_env_int ("LS_VULKAN_PLAN_AS_DISCRETE", 0) == 1
                    ? VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU : caps->type;
  caps->api_version = p->apiVersion;
  caps->driver_version = p->driverVersion;
  caps->vendor_id = p->vendorID;
  caps->device_id = p->deviceID;
  caps->max_shared_memory = l->maxComputeSharedMemorySize;
  caps->max_invocations = l->maxComputeWorkGroupInvocations;
  memcpy (caps->max_group_size, l->maxComputeWorkGroupSize, sizeof caps->max_group_size);
  memcpy (caps->max_group_count, l->maxComputeWorkGroupCount, sizeof caps->max_group_count);
  caps->max_storage_range = l->maxStorageBufferRange;
  caps->storage_align = l->minStorageBufferOffsetAlignment;
  caps->max_push_constants = l->maxPushConstantsSize;
  caps->max_storage_buffers = l->maxPerStageDescriptorStorageBuffers;
  caps->subgroup_size = subgroup.subgroupSize;
  caps->subgroup_arithmetic = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT)
                              && (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  caps->timestamp_period = l->timestampPeriod;

  VkPhysicalDevice16BitStorageFeatures storage16 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
  };
  VkPhysicalDeviceShaderFloat16Int8Features f16 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
    .pNext = &storage16,
  };
  VkPhysicalDeviceFeatures2 feat2 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f16,
  };
  vkGetPhysicalDeviceFeatures2 (dev->physical, &feat2);
  caps->fp16_storage = storage16.storageBuffer16BitAccess;
  caps->fp16_arithmetic = f16.shaderFloat16;
  caps->nv_coopmat = has_extension (dev->physical, "VK_NV_cooperative_matrix");
  read_coopmat (dev, caps);

  uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties (dev->physical, &n, NULL);
  g_autofree VkQueueFamilyProperties *fam = g_new0 (VkQueueFamilyProperties, MAX (n, 1));
  vkGetPhysicalDeviceQueueFamilyProperties (dev->physical, &n, fam);
  caps->timestamps = fam[dev->queue_family].timestampValidBits > 0
                     && caps->timestamp_period > 0;

  /* Unified memory: an integrated GPU or a CPU device whose device-local
   * memory the host can map; then the arena is used in place, no staging. */
  vkGetPhysicalDeviceMemoryProperties (dev->physical, &dev->memory);
  const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
      | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  gboolean mappable = FALSE;
  for (uint32_t i = 0; i < dev->memory.memoryTypeCount; i++)
    if ((dev->memory.memoryTypes[i].propertyFlags & want) == want)
      mappable = TRUE;
  caps->unified_memory = mappable && (caps->type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU
                                      || caps->type == VK_PHYSICAL_DEVICE_TYPE_CPU);
  /* LS_VULKAN_STAGING=1 takes the discrete-GPU path (staging copies) on
   * any device, so tests on lavapipe cover it */
  if (ls_vk_env_int ("LS_VULKAN_STAGING", 0) == 1)
    caps->unified_memory = FALSE;
}

/* The limits the shaders are written against; anything below is a device
 * we cannot run on, and the error names the limit. */
static gboolean
check_caps (const LsVkCaps *caps, GError **error)
{
  const char *what = NULL;
  char detail[128] = "";
  if (VK_API_VERSION_MAJOR (caps->api_version) == 1 && VK_API_VERSION_MINOR (caps->api_version) < 1) {
    what = "an old driver: Vulkan 1.1 is needed";
    g_snprintf (detail, sizeof detail, "device offers %u.%u",
                VK_API_VERSION_MAJOR (caps->api_version), VK_API_VERSION_MINOR (caps->api_version));
  } else if (caps->max_storage_buffers < LS_VK_BINDINGS) {
    what = "too few storage buffers per shader stage";
    g_snprintf (detail, sizeof detail, "%u < %d", caps->max_storage_buffers, LS_VK_BINDINGS);
  } else if (caps->max_push_constants < LS_VK_PUSH_BYTES) {
    what = "too little push-constant space";
    g_snprintf (detail, sizeof detail, "%u < %d bytes", caps->max_push_constants, LS_VK_PUSH_BYTES);
  } else if (caps->storage_align > 64) {
    /* graph.c aligns tensors to 64 bytes; a larger binding-offset
     * alignment would need a different memory plan */
    what = "minStorageBufferOffsetAlignment above 64 bytes";
    g_snprintf (detail, sizeof detail, "%" G_GUINT64_FORMAT, (guint64) caps->storage_align);
  } else if (caps->max_invocations < 256 || caps->max_group_size[0] < 256) {
    what = "workgroups of 256 invocations are not supported";
    g_snprintf (detail, sizeof detail, "max %u", caps->max_invocations);
  } else if (caps->max_shared_memory < 16384) {
    what = "less than 16 KiB of compute shared memory";
    g_snprintf (detail, sizeof detail, "%u bytes", caps->max_shared_memory);
  } else if (caps->max_group_count[0] < 65535 || caps->max_group_count[1] < 65535) {
    what = "maxComputeWorkGroupCount below 65535";
  } else if (!caps->subgroup_arithmetic) {
    /* every desktop driver, lavapipe included, has it; the LayerNorms'
     * row sums use it */
    what = "no subgroup arithmetic in compute shaders";
  }
  if (!what)
    return TRUE;
  g_set_error (error, LS_ERROR, LS_ERROR_BACKEND, "vulkan: device \"%s\" has %s%s%s%s",
               caps->name, what, detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
  return FALSE;
}

static gboolean
create_instance (LsVkDevice *dev, GError **error)
{
  uint32_t loader_version = VK_API_VERSION_1_0;
  PFN_vkEnumerateInstanceVersion enum_version = (PFN_vkEnumerateInstanceVersion)
      vkGetInstanceProcAddr (NULL, "vkEnumerateInstanceVersion");
  if (enum_version)
    enum_version (&loader_version);
  if (loader_version < VK_API_VERSION_1_1) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: the Vulkan loader is too old (1.%u; 1.1 is needed)",
                 VK_API_VERSION_MINOR (loader_version));
    return FALSE;
  }
  const VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "lesionseg", .pEngineName = "liblesionseg",
    .apiVersion = VK_API_VERSION_1_1,
  };
  const VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app,
  };
  VkResult r = vkCreateInstance (&info, NULL, &dev->instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: no Vulkan driver is installed (no ICD found)");
    return FALSE;
  }
  return ls_vk_check (r, "vkCreateInstance", error);
}

static gboolean
pick_physical (LsVkDevice *dev, int index, gboolean gpu_only, GError **error)
{
  uint32_t n = 0;
  vkEnumeratePhysicalDevices (dev->instance, &n, NULL);
  if (n == 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: no Vulkan device found (is a driver such as mesa-vulkan-drivers "
                 "or the GPU vendor's installed?)");
    return FALSE;
  }
  g_autofree VkPhysicalDevice *all = g_new0 (VkPhysicalDevice, n);
  vkEnumeratePhysicalDevices (dev->instance, &n, all);

  if (index >= 0) {
    if ((uint32_t) index >= n) {
      g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                   "vulkan: device index %d asked for, but only %u device(s) found", index, n);
      return FALSE;
    }
    dev->physical = all[index];
  } else {
    int best = -1, best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
      VkPhysicalDeviceProperties p;
      vkGetPhysicalDeviceProperties (all[i], &p);
      if (type_rank (p.deviceType) > best_rank) {
        best_rank = type_rank (p.deviceType);
        best = (int) i;
      }
    }
    dev->physical = all[best];
  }

  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties (dev->physical, &p);
  if (gpu_only && p.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
      && p.deviceType != VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: no GPU among the Vulkan devices (best is \"%s\", a %s)",
                 p.deviceName, ls_vk_device_type_name (p.deviceType));
    return FALSE;
  }
  int family = compute_queue_family (dev->physical);
  if (family < 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: device \"%s\" has no compute queue", p.deviceName);
    return FALSE;
  }
  dev->queue_family = (uint32_t) family;
  return TRUE;
}

LsVkDevice *
ls_vk_device_new (int index, gboolean gpu_only, gboolean allow_coopmat, GError **error)
{
  LsVkDevice *dev = g_new0 (LsVkDevice, 1);
  if (!create_instance (dev, error) || !pick_physical (dev, index, gpu_only, error))
    goto fail;
  read_caps (dev);
  if (!allow_coopmat)
    dev->caps.coopmat = FALSE;
  /* fp16 weights for the fp32 GEMMs: LS_VULKAN_FP16=1 turns them on where
   * 16-bit storage is (it cannot add what the device lacks). Off by
   * default: on lavapipe the trained tiny model's logits move by up to
   * 2.5e-3 with them, over the 1e-3 the tiny config must stay within (the
   * full config at 64x64 moves 1.2e-3, within its 1e-2). */
  const gboolean fp16_asked = ls_vk_env_int ("LS_VULKAN_FP16", 0) == 1;
  dev->caps.fp16_weights = dev->caps.fp16_storage && fp16_asked;
  if (fp16_asked && !dev->caps.fp16_storage)
    g_warning ("vulkan: LS_VULKAN_FP16=1 but device \"%s\" has no 16-bit storage "
               "(storageBuffer16BitAccess); fp32 weights", dev->caps.name);
  dev->caps.coopmat_fp16_weights = dev->caps.coopmat && dev->caps.fp16_storage;
  if (!check_caps (&dev->caps, error))
    goto fail;

  const float priority = 1.0f;
  const VkDeviceQueueCreateInfo queue = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = dev->queue_family, .queueCount = 1, .pQueuePriorities = &priority,
  };
  /* the cooperative-matrix GEMM's extensions and features, only when used */
  VkPhysicalDeviceVulkanMemoryModelFeaturesKHR memory_model_feat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES_KHR,
    .vulkanMemoryModel = VK_TRUE,
  };
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat_feat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
    .pNext = &memory_model_feat, .cooperativeMatrix = VK_TRUE,
  };
  VkPhysicalDeviceShaderFloat16Int8FeaturesKHR f16_feat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES_KHR,
    .pNext = &coopmat_feat, .shaderFloat16 = VK_TRUE,
  };
  /* the fp16-weight GEMMs read 16-bit storage buffers (core in 1.1) */
  VkPhysicalDevice16BitStorageFeatures storage16_feat = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
    .pNext = dev->caps.coopmat ? &f16_feat : NULL, .storageBuffer16BitAccess = VK_TRUE,
  };
  const char *const coopmat_ext[] = {
    "VK_NV_cooperative_matrix", "VK_KHR_shader_float16_int8", "VK_KHR_vulkan_memory_model",
  };
  const VkDeviceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = dev->caps.fp16_weights || dev->caps.coopmat_fp16_weights ? (const void *) &storage16_feat
             : dev->caps.coopmat ? (const void *) &f16_feat : NULL,
    .queueCreateInfoCount = 1, .pQueueCreateInfos = &queue,
    .enabledExtensionCount = dev->caps.coopmat ? G_N_ELEMENTS (coopmat_ext) : 0,
    .ppEnabledExtensionNames = dev->caps.coopmat ? coopmat_ext : NULL,
  };
  if (!ls_vk_check (vkCreateDevice (dev->physical, &info, NULL, &dev->device),
                    "vkCreateDevice", error))
    goto fail;
  vkGetDeviceQueue (dev->device, dev->queue_family, 0, &dev->queue);

  const VkCommandPoolCreateInfo pool = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = dev->queue_family,
  };
  if (!ls_vk_check (vkCreateCommandPool (dev->device, &pool, NULL, &dev->command_pool),
                    "vkCreateCommandPool", error))
    goto fail;
  g_debug ("vulkan: %s (%s), subgroup %u, shared %u B, storage range %u B, align %u, "
           "fp16 storage %d (fp16 weights %d, for coopmat %d), NV coopmat %d (GEMM %s, %ux%ux%u), unified memory %d",
           dev->caps.name, ls_vk_device_type_name (dev->caps.type), dev->caps.subgroup_size,
           dev->caps.max_shared_memory, dev->caps.max_storage_range,
           (unsigned) dev->caps.storage_align, dev->caps.fp16_storage,
           dev->caps.fp16_weights, dev->caps.coopmat_fp16_weights, dev->caps.nv_coopmat,
           dev->caps.coopmat ? "usable" : "off", dev->caps.coopmat_m, dev->caps.coopmat_n,
           dev->caps.coopmat_k, dev->caps.unified_memory);
  return dev;

fail:
  ls_vk_device_free (dev);
  return NULL;
}

void
ls_vk_device_free (LsVkDevice *dev)
{
  if (!dev)
    return;
  if (dev->device) {
    if (dev->command_pool)
      vkDestroyCommandPool (dev->device, dev->command_pool, NULL);
    vkDestroyDevice (dev->device, NULL);
  }
  if (dev->instance)
    vkDestroyInstance (dev->instance, NULL);
  g_free (dev);
}
