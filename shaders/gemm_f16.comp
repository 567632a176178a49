#version 450
// gemm.comp with fp16 weights (B, binding 2) read through 16-bit storage,
// fp32 accumulation: used where the device has storageBuffer16BitAccess.
#extension GL_EXT_shader_16bit_storage : require
#define LS_FP16_B 1
#include "common.glsl"
#include "gemm.glsl"
