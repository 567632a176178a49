/* The Vulkan backend's internals: a device with its capabilities read once,
 * buffers, pipelines, and the plan of dispatches a graph records into one
 * command buffer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <vulkan/vulkan.h>

#include "graph.h"
#include "lesionseg.h"

/* ---- device (vk-device.c) ------------------------------------------------ */

/* Everything the backend consults before it picks a tile size or a
 * memory path: read once when the device is opened. */
typedef struct {
  char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  VkPhysicalDeviceType type;
  /* the type the plan's choices are made for: type, or a discrete GPU's
   * with LS_VULKAN_PLAN_AS_DISCRETE=1, so that the tests run a discrete
   * GPU's plan (tiles, split-K, fusions) on lavapipe; memory and device
   * selection always follow type */
  VkPhysicalDeviceType plan_type;
  uint32_t api_version, driver_version, vendor_id, device_id;
  uint32_t max_shared_memory;          /* maxComputeSharedMemorySize, bytes */
  uint32_t max_invocations;            /* maxComputeWorkGroupInvocations */
  uint32_t max_group_size[3];          /* maxComputeWorkGroupSize */
  uint32_t max_group_count[3];         /* maxComputeWorkGroupCount */
  uint32_t max_storage_range;          /* maxStorageBufferRange, bytes */
  VkDeviceSize storage_align;          /* minStorageBufferOffsetAlignment */
  uint32_t max_push_constants;         /* bytes */
  uint32_t max_storage_buffers;        /* per stage */
  uint32_t subgroup_size;
  /* subgroupAdd in compute shaders (the LayerNorms' row sums) */
  gboolean subgroup_arithmetic;
  gboolean fp16_storage;               /* storageBuffer16BitAccess */
  gboolean fp16_arithmetic;            /* shaderFloat16 */
  /* GEMM weights stored as fp16 in the weights buffer, read by the
   * *_f16 GEMM shaders (fp32 accumulation): fp16_storage and
   * LS_VULKAN_FP16=1 (off by default, see vk-device.c);
   * storageBuffer16BitAccess is then enabled. */
  gboolean fp16_weights;
  gboolean nv_coopmat;                 /* VK_NV_cooperative_matrix */
  /* The cooperative-matrix GEMM can run: the extension, its feature and
   * shaderFloat16 are enabled on the device, this build has the shaders
   * (LS_HAVE_NV_COOPMAT) and the device offers an fp16 x fp16 -> fp32
   * subgroup fragment of coopmat_m x coopmat_n x coopmat_k. */
  gboolean coopmat;
  uint32_t coopmat_m, coopmat_n, coopmat_k;
  /* the cooperative-matrix GEMM reads its weights as fp16 (coopmat and
   * fp16_storage): it multiplies fp16 anyway, so storing them so rounds
   * nothing more and halves their memory and their reads */
  gboolean coopmat_fp16_weights;
  gboolean timestamps;                 /* compute queue writes timestamps */
  float timestamp_period;              /* ns per tick */
  gboolean unified_memory;             /* device-local memory the host maps */
} LsVkCaps;

typedef struct {
  VkInstance instance;
  VkPhysicalDevice physical;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  VkCommandPool command_pool;
  VkPhysicalDeviceMemoryProperties memory;
  LsVkCaps caps;
} LsVkDevice;

/* @index >= 0 picks that device; -1 the best (discrete > integrated >
 * virtual > CPU). With @gpu_only a CPU device (lavapipe) is refused.
 * Without @allow_coopmat caps.coopmat stays FALSE. */
LsVkDevice *ls_vk_device_new  (int index, gboolean gpu_only, gboolean allow_coopmat,
                               GError **error);
void        ls_vk_device_free (LsVkDevice *dev);
gboolean    ls_vk_check       (VkResult result, const char *what, GError **error);
const char *ls_vk_device_type_name (VkPhysicalDeviceType type);
/* The integer in environment variable @name (a switch of the device or the
 * plan, README's table), or @fallback when it is unset or empty. */
int         ls_vk_env_int (const char *name, int fallback);

/* ---- memory (vk-memory.c) ------------------------------------------------ */

typedef enum {
  LS_VK_MEMORY_DEVICE,      /* device-local; host-mapped on unified memory */
  LS_VK_MEMORY_STAGING,     /* host-visible, coherent, preferably cached */
} LsVkMemoryUse;

typedef struct {
  VkBuffer buffer;
  VkDeviceMemory memory;
  VkDeviceSize size;
  void *mapped;             /* NULL unless host-visible */
} LsVkBuffer;

gboolean ls_vk_buffer_init  (LsVkDevice *dev, LsVkBuffer *buf, VkDeviceSize size,
                             LsVkMemoryUse use, GError **error);
void     ls_vk_buffer_clear (LsVkDevice *dev, LsVkBuffer *buf);
/* Copies host data into a buffer: directly when mapped, else through a
 * temporary staging buffer and a one-time command buffer. */
gboolean ls_vk_buffer_upload (LsVkDevice *dev, LsVkBuffer *buf, VkDeviceSize offset,
                              const void *data, VkDeviceSize size, GError **error);

/* ---- shaders and pipelines (vk-shaders.c, vk-pipeline.c) ----------------- */

typedef enum {
  LS_SHADER_GEMM,
  LS_SHADER_GEMM_REG,
  LS_SHADER_GEMM_REDUCE,
  LS_SHADER_GEMM_REDUCE_LN,
  LS_SHADER_EFFATTN_SOFTMAX_TOKENS,
  LS_SHADER_EFFATTN_CONTEXT,
  LS_SHADER_EFFATTN_CONTEXT_REG,
  LS_SHADER_EFFATTN_APPLY,
  LS_SHADER_EFFATTN_APPLY_REG,
  LS_SHADER_ISCF_MEAN,
  LS_SHADER_ISCF_SE,
  LS_SHADER_ISCF_FUSE,
  LS_SHADER_LAYERNORM,
  LS_SHADER_PIXEL_SHUFFLE_LN,
  LS_SHADER_EFFATTN_SOFTMAX_CHANNELS,
  LS_SHADER_DWCONV3X3_LN_GELU,
  LS_SHADER_IM2COL,
  LS_SHADER_PROJECT_ONE,
  LS_SHADER_GELU,
  LS_SHADER_SIGMOID,
  LS_SHADER_INPUT_RGBA8,
  /* gemm / gemm_reg reading fp16 weights (16-bit storage) */
  LS_SHADER_GEMM_F16,
  LS_SHADER_GEMM_REG_F16,
  /* absent (code NULL) in a build whose glslc lacks GL_NV_cooperative_matrix */
  LS_SHADER_GEMM_COOPMAT,
  LS_SHADER_EFFATTN_CONTEXT_COOPMAT,
  LS_SHADER_EFFATTN_APPLY_COOPMAT,
  LS_SHADER_GEMM_COOPMAT_F16,
  LS_N_SHADERS
} LsShaderId;

typedef struct {
  const char *name;
  const uint32_t *code;
  gsize size;               /* bytes */
} LsShaderCode;

extern const LsShaderCode ls_vk_shader_code[LS_N_SHADERS];

/* Every pipeline shares one layout: LS_VK_BINDINGS storage buffers in set
 * 0 and LS_VK_PUSH_BYTES of push constants (the minimum every device
 * offers). */
#define LS_VK_BINDINGS 6
#define LS_VK_PUSH_BYTES 128
/* Timestamps of a profiled recording of n dispatches: before and after
 * the input's upload (a staging copy on discrete GPUs, nothing where the
 * host writes device memory), then one after each dispatch (vk-record.c) */
#define LS_VK_TIMESTAMPS(n) ((n) + 2)
#define LS_VK_MAX_SPEC 12

typedef struct {
  LsVkDevice *dev;
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  VkPipelineCache cache;
  char *cache_path;
  GHashTable *pipelines;    /* key string -> VkPipeline */
  VkShaderModule modules[LS_N_SHADERS];
  gboolean created;         /* a pipeline was compiled: save the cache */
} LsVkPipelines;

gboolean   ls_vk_pipelines_init  (LsVkPipelines *p, LsVkDevice *dev, GError **error);
void       ls_vk_pipelines_clear (LsVkPipelines *p);
VkPipeline ls_vk_pipeline_get    (LsVkPipelines *p, LsShaderId shader, const uint32_t *spec,
                                  int n_spec, GError **error);

/* ---- the plan: dispatches of a graph (vk-plan.c, vk-ops.c) --------------- */

typedef enum {
  LS_VK_BUF_NONE,           /* unused binding: a dummy range */
  LS_VK_BUF_WEIGHTS,
  LS_VK_BUF_ARENA,
  LS_VK_BUF_SCRATCH,
  LS_VK_N_BUFS
} LsVkBufferId;

typedef struct {
  LsVkBufferId buffer;
  VkDeviceSize offset, size;   /* bytes */
} LsVkRange;

typedef struct {
  LsShaderId shader;
  uint32_t spec[LS_VK_MAX_SPEC];
  int n_spec;
  LsVkRange bind[LS_VK_BINDINGS];
  guint writes;                /* bit i: binding i is written */
  uint32_t push[LS_VK_PUSH_BYTES / 4];
  uint32_t push_size;          /* bytes */
  uint32_t groups[3];
  int node;                    /* graph node index, for profiles */
  VkPipeline pipeline;
  VkDescriptorSet set;
} LsVkDispatch;

/* A weight the plan copies into the weights buffer: `floats` floats from
 * `src` (model memory) or from `owned` (packed by the plan). */
typedef struct {
  const float *src;
  float *owned;
  gsize floats;
  VkDeviceSize offset;         /* bytes */
  gboolean fp16;               /* stored as IEEE half, converted at upload */
} LsVkWeight;

/* A free range of the scratch buffer and the node whose scratch it was. */
typedef struct {
  VkDeviceSize offset, size;
  int freed_by;
} LsVkHole;

typedef struct {
  const LsGraph *graph;
  const LsVkCaps *caps;
  GArray *dispatches;          /* LsVkDispatch */
  GArray *weights;             /* LsVkWeight */
  GHashTable *weight_index;    /* src pointer -> index + 1 in weights */
  GHashTable *weight_index_f16;  /* the same for fp16 copies */
  VkDeviceSize weight_bytes;
  VkDeviceSize scratch_bytes;  /* size of the scratch buffer */
  GArray *scratch_free;        /* LsVkHole: holes of the scratch buffer */
  GArray *scratch_live;        /* LsVkRange: the node being planned holds these */
  int node;                    /* the node being planned, -1 before the first */
  /* LayerNorms folded into GEMMs (vk-fuse.c): for such a LayerNorm its own
   * index, for a Linear that applies one on load that LayerNorm's, else -1 */
  int *ln_of;
  /* a LayerNorm computed by the split-K reduce of the GEMM before it
   * (vk-ops.c), else -1 */
  int ln_in_reduce;
  /* split-K partials left unreduced for the Linear at node `reader` to sum
   * as it loads them (vk-ops.c); `held` is their scratch, kept alive
   * through that node. reader -1: none. */
  struct {
    int reader;
    uint32_t splits;
    LsVkRange partials, held;
  } slices;
  VkDeviceSize align;          /* binding offset alignment, bytes */
  int gemm_count[3];           /* GEMMs planned per LsVkGemmKernel */
  int gemm_f16;                /* of those, reading fp16 weights */
  int gemm_from_file;          /* of those, with their tile from tiles_path */
  /* LS_VULKAN_GEMM_TILES (vk-tiles.c): "kernel m n k" -> tile index + 1 */
  gboolean tiles_loaded;
  GHashTable *tiles;
  char *tiles_path;
} LsVkPlan;

/* The GEMM kernels (vk-ops.c), in LsVkPlan.gemm_count order. */
typedef enum {
  LS_VK_GEMM_TILED,            /* gemm.glsl */
  LS_VK_GEMM_REG,              /* gemm_reg.glsl */
  LS_VK_GEMM_COOPMAT,          /* gemm_coopmat.glsl */
} LsVkGemmKernel;
/* "tiled", "reg", "coopmat" (vk-tiles.c, where files name them) */
extern const char *const ls_vk_gemm_kernel_names[3];

/* vk-tiles.c: LS_VULKAN_GEMM_TILES, read once per plan (an unreadable or
 * malformed file, or a tile index beyond @tile_counts[kernel], fails the
 * plan, naming the file and line), and the tile it names for a GEMM
 * shape, or -1. */
gboolean ls_vk_tiles_load   (LsVkPlan *plan, const int tile_counts[3], GError **error);
int      ls_vk_tiles_lookup (const LsVkPlan *plan, LsVkGemmKernel kernel, uint32_t m,
                             uint32_t n, uint32_t k);

void          ls_vk_plan_init   (LsVkPlan *plan, const LsGraph *graph, const LsVkCaps *caps);
void          ls_vk_plan_clear  (LsVkPlan *plan);
LsVkDispatch *ls_vk_plan_add    (LsVkPlan *plan, LsShaderId shader, int node);
LsVkRange     ls_vk_plan_tensor (LsVkPlan *plan, int tensor_id);
/* A weight region of `floats` floats at `w` (a distinct pointer gets its
 * own copy; the same pointer again reuses it). */
LsVkRange     ls_vk_plan_weight (LsVkPlan *plan, const float *w, gsize floats);
/* The same weight stored as fp16 (its own copy; range size in bytes). */
LsVkRange     ls_vk_plan_weight_f16 (LsVkPlan *plan, const float *w, gsize floats);
/* IEEE binary16 of @v, rounded to nearest even (vk-plan.c). */
uint16_t      ls_vk_float_to_half (float v);
/* Small constants packed by the plan itself (copied). */
LsVkRange     ls_vk_plan_pack   (LsVkPlan *plan, const float *values, gsize floats);
/* Per-node scratch, planned like activations: a range is live from the
 * node that takes it to the end of that node, then goes back to a free
 * list. A node never shares a byte with the nodes planned just before it
 * while those ranges are live, so independent split-K GEMMs (Q, K, V of
 * one attention) need no barrier between them. A freed range is reused
 * only by a node that depends on the node that freed it (through its
 * inputs), so reuse never adds an ordering the data does not already
 * impose. */
LsVkRange     ls_vk_plan_scratch (LsVkPlan *plan, gsize floats);
/* Ends the scratch of the node planned so far; @node is planned next. */
void          ls_vk_plan_next_node (LsVkPlan *plan, int node);
/* Reorders the planned dispatches by dependency level (vk-record.c): each
 * goes right after the last earlier dispatch it conflicts with (RAW, WAR,
 * WAW on arena or scratch bytes), so independent dispatches share one
 * barrier. LS_VULKAN_REORDER=0 keeps the planned order. */
void          ls_vk_plan_schedule (LsVkPlan *plan);
void          ls_vk_dispatch_push (LsVkDispatch *d, const void *params, gsize size);
/* Spreads `groups` workgroups over x and y (x <= 65535). */
void          ls_vk_dispatch_groups_flat (LsVkDispatch *d, guint64 groups);

/* vk-fuse.c: fills plan->ln_of (called by ls_vk_plan_init). */
void ls_vk_plan_fuse (LsVkPlan *plan);

/* vk-ops.c: the dispatches of one graph node. */
gboolean ls_vk_plan_node (LsVkPlan *plan, int node_index, GError **error);

/* vk-profile.c: one CSV row per dispatch of a profiled run (@ts: its
 * dispatches + 1 timestamps; @barrier_before: one flag per dispatch). */
gboolean ls_vk_profile_write_csv (const char *path, const LsGraph *graph, const LsVkPlan *plan,
                                  const guint64 *ts, double ms_per_tick,
                                  const guint8 *barrier_before, GError **error);

#define LS_VK_DIV_UP(a, b) (((a) + (b) - 1) / (b))
