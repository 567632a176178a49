/* Buffers: one allocation each (the backend has four), device-local, mapped
 * in place on unified-memory devices, staged on discrete ones.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "vk-private.h"

#include <string.h>

static int
find_memory_type (const LsVkDevice *dev, uint32_t type_bits, VkMemoryPropertyFlags want,
                  VkMemoryPropertyFlags nice)
{
  int fallback = -1;
  for (uint32_t i = 0; i < dev->memory.memoryTypeCount; i++) {
    VkMemoryPropertyFlags f = dev->memory.memoryTypes[i].propertyFlags;
    if (!(type_bits & (1u << i)) || (f & want) != want)
      continue;
    if ((f & nice) == nice)
      return (int) i;
    if (fallback < 0)
      fallback = (int) i;
  }
  return fallback;
}

gboolean
ls_vk_buffer_init (LsVkDevice *dev, LsVkBuffer *buf, VkDeviceSize size, LsVkMemoryUse use,
                   GError **error)
{
  memset (buf, 0, sizeof *buf);
  size = MAX (size, 256);
  const VkBufferCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = size,
    .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
             | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  if (!ls_vk_check (vkCreateBuffer (dev->device, &info, NULL, &buf->buffer),
                    "vkCreateBuffer", error))
    return FALSE;
  buf->size = size;

  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements (dev->device, buf->buffer, &req);
  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
                                     | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  int type;
  if (use == LS_VK_MEMORY_STAGING)
    type = find_memory_type (dev, req.memoryTypeBits, host, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  else if (dev->caps.unified_memory)
    type = find_memory_type (dev, req.memoryTypeBits,
                             host | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
  else
    type = find_memory_type (dev, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
  if (type < 0) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: device \"%s\" has no suitable memory type for a %s buffer",
                 dev->caps.name, use == LS_VK_MEMORY_STAGING ? "staging" : "device");
    ls_vk_buffer_clear (dev, buf);
    return FALSE;
  }
  const VkMemoryAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .allocationSize = req.size, .memoryTypeIndex = (uint32_t) type,
  };
  VkResult r = vkAllocateMemory (dev->device, &alloc, NULL, &buf->memory);
  if (r != VK_SUCCESS) {
    g_set_error (error, LS_ERROR, LS_ERROR_BACKEND,
                 "vulkan: cannot allocate %.1f MB of device memory (VkResult %d)",
                 req.size / 1e6, (int) r);
    ls_vk_buffer_clear (dev, buf);
    return FALSE;
  }
  if (!ls_vk_check (vkBindBufferMemory (dev->device, buf->buffer, buf->memory, 0),
                    "vkBindBufferMemory", error)) {
    ls_vk_buffer_clear (dev, buf);
    return FALSE;
  }
  /* device buffers are mapped only on unified memory: elsewhere a host
   * view (resizable BAR) exists but reads through it are slow */
  if ((use == LS_VK_MEMORY_STAGING || dev->caps.unified_memory)
      && (dev->memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
    if (!ls_vk_check (vkMapMemory (dev->device, buf->memory, 0, VK_WHOLE_SIZE, 0, &buf->mapped),
                      "vkMapMemory", error)) {
      ls_vk_buffer_clear (dev, buf);
      return FALSE;
    }
  }
  return TRUE;
}

void
ls_vk_buffer_clear (LsVkDevice *dev, LsVkBuffer *buf)
{
  if (buf->mapped)
    vkUnmapMemory (dev->device, buf->memory);
  if (buf->buffer)
    vkDestroyBuffer (dev->device, buf->buffer, NULL);
  if (buf->memory)
    vkFreeMemory (dev->device, buf->memory, NULL);
  memset (buf, 0, sizeof *buf);
}

gboolean
ls_vk_buffer_upload (LsVkDevice *dev, LsVkBuffer *buf, VkDeviceSize offset, const void *data,
                     VkDeviceSize size, GError **error)
{
  if (buf->mapped) {
    memcpy ((char *) buf->mapped + offset, data, size);
    return TRUE;
  }
  LsVkBuffer staging;
  if (!ls_vk_buffer_init (dev, &staging, size, LS_VK_MEMORY_STAGING, error))
    return FALSE;
  memcpy (staging.mapped, data, size);

  VkCommandBuffer cmd = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  gboolean ok = FALSE;
  const VkCommandBufferAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = dev->command_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  const VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
  const VkCommandBufferBeginInfo begin = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
  };
  if (!ls_vk_check (vkAllocateCommandBuffers (dev->device, &alloc, &cmd), "vkAllocateCommandBuffers", error)
      || !ls_vk_check (vkCreateFence (dev->device, &fence_info, NULL, &fence), "vkCreateFence", error)
      || !ls_vk_check (vkBeginCommandBuffer (cmd, &begin), "vkBeginCommandBuffer", error))
    goto out;
  const VkBufferCopy region = { .srcOffset = 0, .dstOffset = offset, .size = size };
  vkCmdCopyBuffer (cmd, staging.buffer, buf->buffer, 1, &region);
  const VkSubmitInfo submit = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd,
  };
  /* the fence wait makes the copy complete; later submissions see it */
  ok = ls_vk_check (vkEndCommandBuffer (cmd), "vkEndCommandBuffer", error)
       && ls_vk_check (vkQueueSubmit (dev->queue, 1, &submit, fence), "vkQueueSubmit", error)
       && ls_vk_check (vkWaitForFences (dev->device, 1, &fence, VK_TRUE, UINT64_MAX),
                       "vkWaitForFences", error);
out:
  if (fence)
    vkDestroyFence (dev->device, fence, NULL);
  if (cmd)
    vkFreeCommandBuffers (dev->device, dev->command_pool, 1, &cmd);
  ls_vk_buffer_clear (dev, &staging);
  return ok;
}
