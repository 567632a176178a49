// Shared by every shader: six storage-buffer bindings in one set (one
// pipeline layout for all pipelines, see core/vulkan/vk-pipeline.c), and
// how a flat index is spread over a 2-D dispatch (x is capped at 65535
// workgroups, the minimum every device supports).
//
// Binding roles: 0 = the output, 1..3 = inputs, 4..5 = weights or
// per-node scratch. A dispatch that does not use a binding gets a small
// dummy range there. No buffer is declared `restrict`: in-place ops bind
// the same range to 0 and 1.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

layout(std430, set = 0, binding = 0) buffer DstBuf { float dst[]; };
layout(std430, set = 0, binding = 1) readonly buffer Src0Buf { float src0[]; };
// With LS_FP16_B (the *_f16 GEMM variants, whose .comp enables
// GL_EXT_shader_16bit_storage) binding 2 holds fp16 values: a Linear's
// weights, stored as fp16 in the weights buffer; every read converts to
// fp32 (SRC1, SRC1_V4 in gemm.glsl / gemm_fetch.glsl), arithmetic stays fp32.
#ifdef LS_FP16_B
layout(std430, set = 0, binding = 2) readonly buffer Src1Buf { float16_t src1[]; };
#define SRC1(i) float (src1[i])
#else
layout(std430, set = 0, binding = 2) readonly buffer Src1Buf { float src1[]; };
#define SRC1(i) src1[i]
#endif
// LS_WRITE_SRC2: binding 3 written too (a second output, gemm_reduce_ln.comp)
#ifdef LS_WRITE_SRC2
layout(std430, set = 0, binding = 3) buffer Src2Buf { float src2[]; };
#else
layout(std430, set = 0, binding = 3) readonly buffer Src2Buf { float src2[]; };
#endif
layout(std430, set = 0, binding = 4) readonly buffer AuxBuf { float aux[]; };
layout(std430, set = 0, binding = 5) readonly buffer Aux2Buf { float aux2[]; };

uint flat_group ()
{
  return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
}

// A macro, not a function: gl_WorkGroupSize is only known after the
// including shader's local_size layout, which comes after this file.
#define flat_invocation() (flat_group () * gl_WorkGroupSize.x + gl_LocalInvocationID.x)
