#version 450
// gemm_coopmat.comp with fp16 weights (B, binding 2) read through 16-bit
// storage: the kernel converts B to fp16 on load anyway, so this reads half
// the bytes for the same products. Used wherever the device has
// storageBuffer16BitAccess with the cooperative-matrix GEMM.
#extension GL_EXT_shader_16bit_storage : require
#define LS_FP16_B 1
#include "common.glsl"
#include "gemm_coopmat.glsl"
