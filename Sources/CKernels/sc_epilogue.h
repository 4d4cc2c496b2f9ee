// The convolution's epilogue (sc_epilogue, sharesc_kernels.h), defined once per width: on one value
// (sc_epilogue1: the portable micro-kernel, the last channels of depthwise and Winograd) and on vectors of
// eight lanes (sc_epilogue8_apply: the AVX2 micro-kernel, a panel's two halves at once, and Winograd's
// output transform at both levels). Each kernel keeps its own loads and stores (the AVX2 micro-kernel
// masks a partial panel's); the residual is read before the output is stored, so it may be the output
// itself.
#ifndef SC_EPILOGUE_H
#define SC_EPILOGUE_H

#include <math.h>
#include <stddef.h>
#include "sharesc_kernels.h"

// ReLU as PyTorch's: a NaN compares false and passes. (A max with 0 drops NaN in most of its forms:
// fmaxf, __builtin_elementwise_max, MAXPS with 0 as second operand.)
static inline float sc_relu1(float v) { return v < 0.0f ? 0.0f : v; }

// The activation (SC_ACT_*) on one value. The transcendental ones go through double and the C
// library's exp and erfc: exact to the float rounding, with PyTorch's non-finite results by the same
// formulas (silu(-inf) = -inf / inf = NaN, gelu(-inf) = -inf * 0 = NaN). GELU uses erfc(-v / sqrt(2))
// rather than 1 + erf(v / sqrt(2)), which cancels to nothing in the left tail.
static inline float sc_activate1(int activation, float v) {
    switch (activation) {
    case SC_ACT_RELU: return sc_relu1(v);
    case SC_ACT_RELU6: return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
    case SC_ACT_SILU: return (float)((double)v / (1.0 + exp(-(double)v)));
    case SC_ACT_HARDSWISH: {
        const float t = v + 3.0f < 0.0f ? 0.0f : v + 3.0f > 6.0f ? 6.0f : v + 3.0f;
        return v * t / 6.0f;
    }
    case SC_ACT_GELU: return (float)(0.5 * (double)v * erfc(-(double)v * 0.70710678118654752440));
    case SC_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)v)));
    default: return v;
    }
}

// Output value v of channel c, at index i of the output (and of the residual and the second output;
// `e`'s pointers may be offset to a tile): returns the value to store, and stores the second output's.
static inline float sc_epilogue1(const sc_epilogue *e, float v, int c, size_t i) {
    v = v * (e->scale ? e->scale[c] : 1.0f) + (e->shift ? e->shift[c] : 0.0f);
    if (e->residual) v += e->residual[i];
    v = sc_activate1(e->activation, v);
    if (e->act_output) {
        const float a = v * e->act_scale[c] + e->act_shift[c];
        e->act_output[i] = e->act_relu ? sc_relu1(a) : a;
    }
    return v;
}

// The epilogue on one output pixel's channels [c0, c1) (depthwise, Winograd's last channels): y[ch - c0]
// is the convolution's value, out + at the pixel's row (NULL e: plain store).
static inline void sc_epilogue_pixel(const float *restrict y, float *out, size_t at, int c0, int c1,
                                     const sc_epilogue *e) {
    for (int ch = c0; ch < c1; ch++) out[at + ch] = e ? sc_epilogue1(e, y[ch - c0], ch, at + ch) : y[ch - c0];
}

// Eight floats as one vector (GCC/Clang vector extensions): one AVX register where the caller is
// compiled for AVX2, two SSE registers in Winograd's baseline copy. Same type as __m256.
typedef float sc_v8 __attribute__((vector_size(32)));
typedef int sc_v8i __attribute__((vector_size(32)));
#define SC_SPLAT8I(c) ((sc_v8i){(c), (c), (c), (c), (c), (c), (c), (c)})

// sc_relu1 on eight lanes: clears the lanes below zero, so a NaN lane stays. With AVX this compiles
// to one MAXPS with v as second operand, which returns v when either is NaN. (A macro: a function
// taking a vector would need AVX in the baseline's copy.)
#define SC_RELU8(v) ((sc_v8)((sc_v8i)(v) & ~((v) < (sc_v8){0})))

// The activations on eight lanes, in float: accurate approximations (measured against the double
// versions above on every 389th float bit pattern: at most 2.4e-7 relative for sigmoid and SiLU where
// the value is a normal float, a few units of the last place where it is subnormal; GELU within
// 1e-6 relative plus 1.92e-7 |v| absolute, see sc_gelu8), with the same non-finite results. Where e^-v overflows (v < -88.72), sigmoid and SiLU
// give 0 and -0, as PyTorch's float kernels do. Vectors go by
// pointer and the functions are always inlined, as SC_RELU8 is a macro.
#define SC_SPLAT8(c) ((sc_v8){(c), (c), (c), (c), (c), (c), (c), (c)})
// Lanes of a where mask m is set, of b elsewhere.
#define SC_SELECT8(m, a, b) ((sc_v8)(((m) & (sc_v8i)(a)) | (~(m) & (sc_v8i)(b))))
#define SC_INLINE8 static inline __attribute__((always_inline))
// MINPS: the lanes of a below b, of b elsewhere (b where either is NaN). With AVX, one MINPS.
#define SC_MIN8(a, b) SC_SELECT8((a) < (b), a, b)

// e^(x + lo) as p * s1 * s2, lo a small correction carried apart from x (0 for a plain e^x), after
// Cephes' expf: x = n ln 2 + r with n an integer (ln 2 in two parts, so that n ln 2 is subtracted
// exactly), p = e^(r + lo) by a polynomial on |r| <= ln 2 / 2, and 2^n as two factors s1 s2, each a
// normal float for n down to -150 (so that a caller may multiply p by its own factor first and round
// once into the subnormal range). x is clamped to [-120, 89], beyond which e^x is 0 or infinite in
// float anyway; comparisons are false for NaN, which goes through. n is read from the bits of the
// rounding sum rather than converted (converting NaN is undefined behaviour).
SC_INLINE8 void sc_exp8_parts(const sc_v8 *v, const sc_v8 *lo, sc_v8 *p_out, sc_v8 *s1, sc_v8 *s2) {
    sc_v8 x = *v;
    x = SC_SELECT8(x > SC_SPLAT8(89.0f), SC_SPLAT8(89.0f), x);
    x = SC_SELECT8(x < SC_SPLAT8(-120.0f), SC_SPLAT8(-120.0f), x);
    const sc_v8 magic = SC_SPLAT8(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
    const sc_v8 rounded = (x + *lo) * SC_SPLAT8(1.44269504088896341f) + magic;
    const sc_v8 n = rounded - magic;
    const sc_v8 r = (x - n * SC_SPLAT8(0.693359375f)) - n * SC_SPLAT8(-2.12194440e-4f) + *lo;
    sc_v8 p = SC_SPLAT8(1.9875691500e-4f);
    p = p * r + SC_SPLAT8(1.3981999507e-3f);
    p = p * r + SC_SPLAT8(8.3334519073e-3f);
    p = p * r + SC_SPLAT8(4.1665795894e-2f);
    p = p * r + SC_SPLAT8(1.6666665459e-1f);
    p = p * r + SC_SPLAT8(5.0000001201e-1f);
    *p_out = p * (r * r) + r + SC_SPLAT8(1.0f);
    const sc_v8i k = (sc_v8i)rounded - (sc_v8i)magic, k1 = k >> 1, k2 = k - k1;
    *s1 = (sc_v8)((k1 + 127) << 23);
    *s2 = (sc_v8)((k2 + 127) << 23);
}

SC_INLINE8 void sc_exp8(sc_v8 *v, const sc_v8 *lo) {
    sc_v8 p, s1, s2;
    sc_exp8_parts(v, lo, &p, &s1, &s2);
    *v = p * s1 * s2;
}

// e^x where only results from 2^-125 up matter (1 + e^x in sigmoid and SiLU): sc_exp8's reduction, a
// shorter polynomial (1 + r + r^2 p(r), p of degree 3 fitted to e^r on |r| <= ln 2 / 2: 1.1e-7
// relative, 1.7e-7 in float, against sc_exp8's degree 5 for 1e-8, which a result good to 1e-6 does not
// need), x clamped to [-86, 89] (beyond -86 the sum is 1 either way), and 2^n as one factor 2^(n - 1)
// times 2 (n reaches 128 just below where e^x overflows): 17 operations where sc_exp8 takes 30, which
// made SiLU the larger part of EfficientNet's depthwise steps.
SC_INLINE8 void sc_exp8_above_tiny(sc_v8 *v) {
    sc_v8 x = *v;
    x = SC_SELECT8(x > SC_SPLAT8(89.0f), SC_SPLAT8(89.0f), x);
    x = SC_SELECT8(x < SC_SPLAT8(-86.0f), SC_SPLAT8(-86.0f), x);
    const sc_v8 magic = SC_SPLAT8(12582912.0f);
    const sc_v8 rounded = x * SC_SPLAT8(1.44269504088896341f) + magic;
    const sc_v8 n = rounded - magic;
    const sc_v8 r = (x - n * SC_SPLAT8(0.693359375f)) - n * SC_SPLAT8(-2.12194440e-4f);
    sc_v8 p = SC_SPLAT8(8.3125103838e-3f);
    p = p * r + SC_SPLAT8(4.1890345997e-2f);
    p = p * r + SC_SPLAT8(1.6667115335e-1f);
    p = p * r + SC_SPLAT8(4.9999230178e-1f);
    p = p * (r * r) + r + SC_SPLAT8(1.0f);
    const sc_v8i k = (sc_v8i)rounded - (sc_v8i)magic;
    *v = p * (sc_v8)((k + 126) << 23) * SC_SPLAT8(2.0f);
}

SC_INLINE8 void sc_sigmoid8(sc_v8 *v) {
    sc_v8 e = -*v;
    sc_exp8_above_tiny(&e);
    *v = SC_SPLAT8(1.0f) / (SC_SPLAT8(1.0f) + e);
}

// v / (1 + e^-v): -inf / inf is NaN, as in PyTorch; v / inf is -0 far left.
SC_INLINE8 void sc_silu8(sc_v8 *v) {
    sc_v8 e = -*v;
    sc_exp8_above_tiny(&e);
    *v = *v / (SC_SPLAT8(1.0f) + e);
}

// v / 2 * (1 + erf(v / sqrt(2))), PyTorch's formula, as v / 2 + E / 2 with E = v erf(v / sqrt(2)) =
// |v| erf(|v| / sqrt(2)), an even function: E = u P(u) / Q(u) with u = v^2, a rational fitted to erf
// on |v| / sqrt(2) <= 3.92 (to 4.4e-8 absolute in exact arithmetic; a few units of 6e-8 in float),
// capped at |v| (erf <= 1; beyond 3.92 erf rounds to 1 in float, and the rational grows past |v|).
// So no lane needs |v| clamped, a sign put back or a select: 17 operations a vector, where erf with
// its sign restored took 25 (GELU after every ConvNeXt expansion is its largest cost beside the
// multiply-adds; the README's benchmarks give the cycles). Both polynomials are divided by Q's leading
// coefficient and P also by 2, so that u P / Q is E / 2 and Q's first step is an add: 12 operations
// need the multiply pipes where 14 did (kernel A/B 0.95 on the activation alone, within noise inside
// the 1x1 convolutions' epilogue).
// Like PyTorch's, the result is accurate to about 1e-7 |v| absolute, not relative, in the left tail,
// where v + E cancels: 4.1e-7 relative down to v = -1, within 1e-6 relative plus 1.92e-7 |v|
// everywhere (every 7th float bit pattern checked, at most 0.85 of that bound; the signed-erf form's
// worst was 1.7e-7 |v|), and 0 from v = -5.62 on, where |GELU| < 1.1e-7. Where u overflows, P and Q
// are infinite and u P / Q is NaN, and MINPS returns its second operand |v| / 2: v = inf gives inf,
// v = -inf gives -inf + inf = NaN, as in PyTorch, and NaN passes.
SC_INLINE8 void sc_gelu8(sc_v8 *v) {
    const sc_v8 x = *v, u = x * x, h = SC_SPLAT8(0.5f) * x;
    sc_v8 p = SC_SPLAT8(1.719932811e-06f);
    p = p * u + SC_SPLAT8(-3.443272726e-04f);
    p = p * u + SC_SPLAT8(5.143902078e-02f);
    p = p * u + SC_SPLAT8(2.743039131e+00f);
    p = p * u + SC_SPLAT8(7.099161530e+01f);
    p = p * u + SC_SPLAT8(5.693439941e+02f);
    p = p * u + SC_SPLAT8(6.234730469e+03f);
    sc_v8 q = u + SC_SPLAT8(2.908105659e+01f);
    q = q * u + SC_SPLAT8(4.592784119e+02f);
    q = q * u + SC_SPLAT8(4.031791016e+03f);
    q = q * u + SC_SPLAT8(1.562815723e+04f);
    const sc_v8 a = (sc_v8)((sc_v8i)h & SC_SPLAT8I(0x7fffffff));
    const sc_v8 r = u * p / q, e = SC_MIN8(r, a);
    *v = e + h;
}

// The activation on n vectors of eight lanes: one switch, then a loop over the vectors (n a constant
// where inlined), so that the vectors' independent chains interleave (one vector at a time, GELU's
// chain of dependent operations left the FMA pipes idle: 50 cycles per vector, against 22 for four).
SC_INLINE8 void sc_activate8n(int act, int n, sc_v8 *v) {
    const sc_v8 zero = SC_SPLAT8(0.0f), six = SC_SPLAT8(6.0f);
    switch (act) {
    case SC_ACT_RELU:
        for (int i = 0; i < n; i++) v[i] = SC_RELU8(v[i]);
        break;
    case SC_ACT_RELU6:
        for (int i = 0; i < n; i++) {
            const sc_v8 r = SC_RELU8(v[i]);
            v[i] = SC_SELECT8(r > six, six, r);
        }
        break;
    case SC_ACT_SILU:
        for (int i = 0; i < n; i++) sc_silu8(&v[i]);
        break;
    case SC_ACT_HARDSWISH:
        for (int i = 0; i < n; i++) {
            sc_v8 t = v[i] + SC_SPLAT8(3.0f);
            t = SC_SELECT8(t < zero, zero, t);
            t = SC_SELECT8(t > six, six, t);
            v[i] = v[i] * t / six;
        }
        break;
    case SC_ACT_GELU:
        for (int i = 0; i < n; i++) sc_gelu8(&v[i]);
        break;
    case SC_ACT_SIGMOID:
        for (int i = 0; i < n; i++) sc_sigmoid8(&v[i]);
        break;
    default: break;
    }
}

// The activation on eight lanes.
SC_INLINE8 void sc_activate8(int act, sc_v8 *v) { sc_activate8n(act, 1, v); }

// The epilogue's operands for eight channels, in registers: scale and shift (1 and 0 where absent),
// and the second output's scale and shift (where there is one).
typedef struct {
    sc_v8 scale, shift, act_scale, act_shift;
} sc_epilogue8;

// Which of the epilogue's steps apply.
typedef struct {
    int residual, activation, act, act_relu;
} sc_epilogue_steps;

// sc_epilogue1 on n vectors of eight output values (n a constant: 1 in Winograd, 2 for the AVX2
// micro-kernel's 16 channels), vector i with k[i]'s operands: v[i] becomes the value to store and,
// with s.act, act[i] the second output's; residual[i], read with s.residual only, holds the
// residual's values. Each step runs on the n vectors before the next, so that the micro-kernel tests
// each flag once per row (called once per half, it tested them twice as often and ran 5% slower on
// 1x1 convolutions over 64 channels). By pointer for the same reason as SC_RELU8; inlined, all stays
// in registers.
static inline __attribute__((always_inline)) void sc_epilogue8_apply(int n, const sc_epilogue8 *k,
                                                                     sc_epilogue_steps s, sc_v8 *v,
                                                                     const sc_v8 *residual, sc_v8 *act) {
    // One expression, so that it contracts to an FMA where the caller's target has FMA (the AVX2
    // micro-kernel); a multiply and an add elsewhere, as in sc_epilogue1 on the baseline.
    for (int i = 0; i < n; i++) v[i] = v[i] * k[i].scale + k[i].shift;
    if (s.residual)
        for (int i = 0; i < n; i++) v[i] += residual[i];
    if (s.activation == SC_ACT_RELU)
        for (int i = 0; i < n; i++) v[i] = SC_RELU8(v[i]);
    else if (s.activation == SC_ACT_RELU6)
        sc_activate8n(SC_ACT_RELU6, n, v);
    else if (s.activation > SC_ACT_RELU6)
        sc_activate8n(s.activation, n, v);
    if (!s.act) return;
    for (int i = 0; i < n; i++) act[i] = v[i] * k[i].act_scale + k[i].act_shift;
    if (s.act_relu)
        for (int i = 0; i < n; i++) act[i] = SC_RELU8(act[i]);
}

#endif
