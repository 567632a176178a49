/* The CPU backend's own kernels: everything that is not a GEMM.
 *
 * Tensors are token-major, row-major [N, C] (token n = y * W + x, channel c at
 * x[n * C + c]), as the PyTorch reference's [B, N, C]. Kernels are threaded
 * with OpenMP over tokens or channels (small shapes stay on the calling
 * thread); none allocates per call except where noted. In-place use
 * (y == x) is allowed where a comment says so. On x86-64 Linux with gcc the
 * compute-bound ones carry AVX2/AVX-512 clones picked at load time. Results
 * match a double-precision loop to ~1e-6 relative (GELU: erf to 3e-7 abs).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>

/* y[n, :] = LN(x[n, :]) * w + b over C channels, eps 1e-5, two-pass mean and
 * variance. In place allowed. */
void ls_cpu_layernorm (const float *x, float *y, int n, int c,
                       const float *w, const float *b);

/* y = 0.5 x (1 + erf(x / sqrt 2)) on count elements, erf as ls_cpu_erf
 * (glibc's erff is scalar and ~10x slower). In place allowed. */
void ls_cpu_gelu (const float *x, float *y, size_t count);

/* erf(x) on count elements: the vectorisable approximation GELU uses, max
 * abs error 2.7e-7 over all 2^32 floats (bench/kernels-bench.c
 * --erf-exhaustive checks that); NaN stays NaN, erf(+-inf) = +-1. Exposed
 * so tests can check it directly. In place allowed. */
void ls_cpu_erf (const float *x, float *y, size_t count);

/* y[n, :] += bias[:] for every row. */
void ls_cpu_add_bias (float *y, int n, int c, const float *bias);

/* y += x, count elements. */
void ls_cpu_add (float *y, const float *x, size_t count);

/* Softmax over tokens, per channel (each column of [N, C], row stride ld,
 * sums to 1). In place. Allocates (2 * threads + 2) * C floats of scratch
 * per call. */
void ls_cpu_softmax_tokens (float *x, int n, int c, int ld);

/* Softmax over channels, per token (each row of [N, C], row stride ld,
 * sums to 1). In place. */
void ls_cpu_softmax_channels (float *x, int n, int c, int ld);

/* MixFFN's middle: z[n, :] = GELU(LN(d[n, :]) * ln_w + ln_b), exact-erf
 * GELU, where d[n, c] = h[n, c] + bias[c] + the sum over the 3x3
 * neighbourhood (zero padded, on the height x width grid) of
 * w[c, ky, kx] * h[neighbour, c]. h is [H*W, C]; weight is [C, 3, 3]
 * (PyTorch's [C, 1, 3, 3]); z != h. */
void ls_cpu_dwconv3x3_ln_gelu (const float *h, float *z, int height, int width, int c,
                               const float *weight, const float *bias, const float *ln_w,
                               const float *ln_b);

/* Patch-embedding im2col. x is [H*W, Cin] token-major; writes
 * col[Nout, Cin*k*k] with column index ci*k*k + ky*k + kx (PyTorch's
 * [Cout, Cin, k, k] weight order), Nout = Hout*Wout,
 * Hout = (H + 2 pad - k) / stride + 1; zero outside the image. */
void ls_cpu_im2col (const float *x, float *col, int height, int width, int cin,
                    int k, int stride, int pad);

/* Same, from a channel-first [Cin, H, W] input (the network input planes). */
void ls_cpu_im2col_planar (const float *x, float *col, int height, int width, int cin,
                           int k, int stride, int pad);

/* Pixel shuffle by p of x[H*W, p*p*c] into y[(H p)*(W p), c]: grid cell
 * (gy, gx), channel (py*p + px)*c + ch goes to pixel (gy*p + py, gx*p + px),
 * channel ch; then LayerNorm(c) with w, b on each output pixel. y != x. */
void ls_cpu_pixel_shuffle_ln (const float *x, float *y, int height, int width, int c,
                              int p, const float *w, const float *b);

/* ls_cpu_pixel_shuffle_ln then ls_cpu_project_one (proj_w, proj_b), without
 * the normalised pixels ever being stored: logits[(H p)*(W p)]. Allocates
 * c floats per call. */
void ls_cpu_pixel_shuffle_ln_project (const float *x, float *logits, int height, int width,
                                      int c, int p, const float *ln_w, const float *ln_b,
                                      const float *proj_w, float proj_b);

/* ISCF squeeze-excitation fusion of s contexts G[i] (each [d, d]):
 * m_i = mean of G[i]; e = sigmoid(fc2_w relu(fc1_w m + fc1_b) + fc2_b)
 * (fc1_w, fc2_w [s, s] row-major); out = sum_i conv_w[i] e_i G[i] + conv_b. */
void ls_cpu_iscf_fuse (const float *const *g, int s, int d,
                       const float *fc1_w, const float *fc1_b,
                       const float *fc2_w, const float *fc2_b,
                       const float *conv_w, float conv_b, float *out);

/* y[n] = dot(x[n, :], w) + b: the final 1x1 conv to one class. */
void ls_cpu_project_one (const float *x, float *y, int n, int c,
                         const float *w, float b);

/* y = 1 / (1 + exp(-x)), count elements. In place allowed. */
void ls_cpu_sigmoid (const float *x, float *y, size_t count);
