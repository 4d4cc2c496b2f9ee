// The convolution's epilogue (sc_epilogue, sharesc_kernels.h), defined once per width: on one value
// (sc_epilogue1: the portable micro-kernel, depthwise, Winograd's last channels) and on vectors of
// eight lanes (sc_epilogue8_apply: the AVX2 micro-kernel, a panel's two halves at once, and Winograd's
// output transform at both levels). Each kernel keeps its own loads and stores (the AVX2 micro-kernel
// masks a partial panel's); the residual is read before the output is stored, so it may be the output
// itself.
#ifndef SC_EPILOGUE_H
#define SC_EPILOGUE_H

#include <stddef.h>
#include "sharesc_kernels.h"

// ReLU as PyTorch's: a NaN compares false and passes. (A max with 0 drops NaN in most of its forms:
// fmaxf, __builtin_elementwise_max, MAXPS with 0 as second operand.)
static inline float sc_relu1(float v) { return v < 0.0f ? 0.0f : v; }

// Output value v of channel c, at index i of the output (and of the residual and the second output;
// `e`'s pointers may be offset to a tile): returns the value to store, and stores the second output's.
static inline float sc_epilogue1(const sc_epilogue *e, float v, int c, size_t i) {
    v = v * (e->scale ? e->scale[c] : 1.0f) + (e->shift ? e->shift[c] : 0.0f);
    if (e->residual) v += e->residual[i];
    if (e->relu) v = sc_relu1(v);
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

// The epilogue's operands for eight channels, in registers: scale and shift (1 and 0 where absent),
// and the second output's scale and shift (where there is one).
typedef struct {
    sc_v8 scale, shift, act_scale, act_shift;
} sc_epilogue8;

// Which of the epilogue's steps apply.
typedef struct {
    int residual, relu, act, act_relu;
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
    if (s.relu)
        for (int i = 0; i < n; i++) v[i] = SC_RELU8(v[i]);
    if (!s.act) return;
    for (int i = 0; i < n; i++) act[i] = v[i] * k[i].act_scale + k[i].act_shift;
    if (s.act_relu)
        for (int i = 0; i < n; i++) act[i] = SC_RELU8(act[i]);
}

#endif
