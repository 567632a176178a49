#version 450
// ISCF excitation: m_s = mean of context s (from iscf_mean's partials in
// src0), e = sigmoid(fc2 relu(fc1 m + b1) + b2), and dst[s] = conv_w[s] e_s,
// the coefficient iscf_fuse scales context s by. aux holds the packed SE
// weights: fc1_w [s, s], fc1_b [s], fc2_w [s, s], fc2_b [s], conv_w [s].
#include "common.glsl"
layout(local_size_x = 1) in;
layout(push_constant) uniform Params { uint scales, chunks; float inv_count; } pc;

void main ()
{
  uint ns = pc.scales;
  float m[3], hid[3];
  for (uint s = 0u; s < ns; s++) {
    float acc = 0.0;
    for (uint k = 0u; k < pc.chunks; k++)
      acc += src0[s * pc.chunks + k];
    m[s] = acc * pc.inv_count;
  }
  uint fc1_b = ns * ns, fc2_w = fc1_b + ns, fc2_b = fc2_w + ns * ns, conv_w = fc2_b + ns;
  for (uint o = 0u; o < ns; o++) {
    float a = aux[fc1_b + o];
    for (uint i = 0u; i < ns; i++)
      a += aux[o * ns + i] * m[i];
    hid[o] = max (a, 0.0);
  }
  for (uint o = 0u; o < ns; o++) {
    float a = aux[fc2_b + o];
    for (uint i = 0u; i < ns; i++)
      a += aux[fc2_w + o * ns + i] * hid[i];
    dst[o] = aux[conv_w + o] / (1.0 + exp (-a));
  }
}
