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

// sc_relu1 on eight lanes: clears the lanes below zero, so a NaN lane stays. With AVX this compiles
// to one MAXPS with v as second operand, which returns v when either is NaN. (A macro: a function
// taking a vector would need AVX in the baseline's copy.)
#define SC_RELU8(v) ((sc_v8)((sc_v8i)(v) & ~((v) < (sc_v8){0})))

#define SC_SPLAT8(c) ((sc_v8){(c), (c), (c), (c), (c), (c), (c), (c)})
#define SC_INLINE8 static inline __attribute__((always_inline))
// Lanes of a where mask m is set, of b elsewhere: a, b and m vectors of any one width.
#define SC_SELECT(m, a, b) ((__typeof__(a))(((m) & (__typeof__(m))(a)) | (~(m) & (__typeof__(m))(b))))

// The activations on eight lanes (sc_activate8n), and on sixteen (sc_activate16n) where a translation
// unit compiled for AVX-512 defines SC_ACTIVATIONS16 before including this header: one source
// (sc_activations.h) for both widths. At sixteen lanes the transcendental ones take about half
// of the time per value (the README's benchmarks give the figures).
#define SC_W 8
#include "sc_activations.h"
#undef SC_W
#if defined(SC_ACTIVATIONS16)
typedef float sc_v16 __attribute__((vector_size(64)));
typedef int sc_v16i __attribute__((vector_size(64)));
#define SC_W 16
#include "sc_activations.h"
#undef SC_W
#endif

// The activation on eight lanes.
SC_INLINE8 void sc_activate8(int act, sc_v8 *v) { sc_activate8n(act, 1, v); }

// The transcendental activations on n vectors of eight lanes as pairs joined into sixteen lanes (up to
// eight pairs at once, their chains interleaved; a last odd vector alone). The join and split cost a
// shuffle each.
#if defined(SC_ACTIVATIONS16)
SC_INLINE8 void sc_activate8n_as16(int act, int n, sc_v8 *v) {
    enum { most = 8 };
    for (int i0 = 0; i0 + 1 < n; i0 += 2 * most) {
        const int m = (n - i0) / 2 < most ? (n - i0) / 2 : most;
        sc_v16 w[most];
        for (int j = 0; j < m; j++)
            w[j] = __builtin_shufflevector(v[i0 + 2 * j], v[i0 + 2 * j + 1], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                           13, 14, 15);
        sc_activate16n(act, m, w);
        for (int j = 0; j < m; j++) {
            v[i0 + 2 * j] = __builtin_shufflevector(w[j], w[j], 0, 1, 2, 3, 4, 5, 6, 7);
            v[i0 + 2 * j + 1] = __builtin_shufflevector(w[j], w[j], 8, 9, 10, 11, 12, 13, 14, 15);
        }
    }
    if (n % 2) sc_activate8n(act, 1, &v[n - 1]);
}
#endif

// sc_activate8n, but where the translation unit is compiled for AVX-512 (SC_ACTIVATIONS16), SiLU,
// GELU and sigmoid on two or more vectors go by sc_activate8n_as16. (Out of line from the AVX2
// depthwise kernels, at the AVX-512 level, the call spilled their weights: 1.17 of their time.)
SC_INLINE8 void sc_activate8n_paired(int act, int n, sc_v8 *v) {
#if defined(SC_ACTIVATIONS16)
    if (n >= 2 && (act == SC_ACT_SILU || act == SC_ACT_GELU || act == SC_ACT_SIGMOID)) {
        sc_activate8n_as16(act, n, v);
        return;
    }
#endif
    sc_activate8n(act, n, v);
}

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
        sc_activate8n_paired(s.activation, n, v);
    if (!s.act) return;
    for (int i = 0; i < n; i++) act[i] = v[i] * k[i].act_scale + k[i].act_shift;
    if (s.act_relu)
        for (int i = 0; i < n; i++) act[i] = SC_RELU8(act[i]);
}

#endif
