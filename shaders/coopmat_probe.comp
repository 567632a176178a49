#version 450
// Configure-time probe (meson.build): can this glslc compile
// GL_NV_cooperative_matrix with fp16 fragments? If not, the coopmat GEMM
// shaders are not built and the backend never selects them.
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_memory_scope_semantics : require
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer Dst { float dst[]; };
layout(constant_id = 0) const uint CM = 16;
shared float16_t s[256];
void main ()
{
  fcoopmatNV<16, gl_ScopeSubgroup, CM, 16> a;
  coopMatLoadNV (a, s, 0, 16, false);
  fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> b;
  coopMatLoadNV (b, s, 0, 16, true);
  fcoopmatNV<32, gl_ScopeSubgroup, CM, 16> c = fcoopmatNV<32, gl_ScopeSubgroup, CM, 16> (0.0);
  c = coopMatMulAddNV (a, b, c);
  coopMatStoreNV (c, dst, 0, 16, false);
}
