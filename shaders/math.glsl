// exp and erf as the CPU backend computes them (core/cpu/kernels.c), so
// both backends agree to float rounding: GLSL has no erf, and its exp is
// only required to be good to 3 + 2|x| ulp.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

// exp(x) for x in [-86.5, 88.72]: Cody-Waite reduction, degree-7
// polynomial (Cephes' expf), max relative error ~1e-7.
float ls_exp_core (float x)
{
  float fn = roundEven (x * 1.44269504088896341);
  float r = x - fn * 0.693359375;
  r = r - fn * -2.12194440e-4;
  float r2 = r * r;
  float p = (((((1.9875691500e-4 * r + 1.3981999507e-3) * r
                + 8.3334519073e-3) * r + 4.1665795894e-2) * r
              + 1.6666665459e-1) * r + 5.0000001201e-1) * r2 + r + 1.0;
  int n = int (fn);
  return p * uintBitsToFloat (uint (n + 126) << 23) * 2.0;
}

float ls_exp (float x)
{
  float xc = clamp (x, -86.5, 88.72);
  float r = ls_exp_core (xc);
  r = x > -86.5 ? r : 0.0;
  r = x <= 88.72 ? r : uintBitsToFloat (0x7f800000u);
  return isnan (x) ? x : r;
}

// erf(x), max abs error ~2.7e-7: a Taylor series below |x| = 0.75 (no
// cancellation near 0), Abramowitz & Stegun 7.1.26 above.
float ls_erf (float x)
{
  float a = min (abs (x), 4.0);
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float pt = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                 + t * (-1.453152027 + t * 1.061405429))));
  float big = 1.0 - pt * ls_exp_core (-a * a);
  float z = a * a;
  float small = a * (1.1283791670955126 + z * (-0.37612638903183754
                + z * (0.11283791670955126 + z * (-0.026866170645131252
                + z * (0.005223977625442188 + z * (-0.0008548327023450852
                + z * (0.00012055332981789664
                + z * -1.492565035840625e-05)))))));
  float e = a < 0.75 ? small : big;
  float r = x < 0.0 ? -e : e;
  return isnan (x) ? x : r;
}

float ls_gelu (float x)
{
  return 0.5 * x * (1.0 + ls_erf (x * 0.70710678118654752));
}

// Online softmax statistics: (m, s) with s = sum exp(x - m) over the values
// seen; merging two rescales the sum of the smaller max. (0, 0) is empty.
void ls_softmax_merge (inout float m, inout float s, float m2, float s2)
{
  if (s2 == 0.0)
    return;
  if (s == 0.0) {
    m = m2;
    s = s2;
    return;
  }
  float mx = max (m, m2);
  s = s * ls_exp (m - mx) + s2 * ls_exp (m2 - mx);
  m = mx;
}
