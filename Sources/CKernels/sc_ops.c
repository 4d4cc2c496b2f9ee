// The layout-free kernels (elementwise, and the linear layer on a flattened vector): plain C loops the
// compiler vectorizes (the dot product keeps several partial sums so that it vectorizes without
// reassociation flags), and the linear layer's AVX2 level. The NHWC pooling and layout kernels are in
// sc_ops_nhwc.c.
#include "sc_internal.h"

// In place (`in_place`, a constant in each call) the first operand is read through y, as in
// sc_scale_shift_rows: with distinct restrict pointers the compiler needs no run-time overlap check,
// which y == a fails, sending it to a loop one float at a time.
static inline __attribute__((always_inline)) void sc_add_values(const float *restrict a, const float *restrict b,
                                                                float *restrict y, size_t n, int relu, int in_place) {
    for (size_t i = 0; i < n; i++) {
        const float v = (in_place ? y : a)[i] + b[i];
        y[i] = relu && v < 0.0f ? 0.0f : v;
    }
}

void sc_add(const float *a, const float *b, float *y, size_t n, int activation) {
    const int relu = activation == SC_ACT_RELU, in_place = y == a || y == b;
    const float *other = y == a ? b : a;  // the operand that is not y, in place
    if (in_place && relu) sc_add_values(NULL, other, y, n, 1, 1);
    else if (in_place) sc_add_values(NULL, other, y, n, 0, 1);
    else if (relu) sc_add_values(a, b, y, n, 1, 0);
    else sc_add_values(a, b, y, n, 0, 0);
    // Any other activation in a second pass over what was just written (still in cache).
    if (!relu && activation != SC_ACT_NONE) sc_activation(y, y, n, activation);
}

// ReLU is written `v < 0 ? 0 : v` everywhere, so that NaN (for which every comparison is false) goes
// through as NaN, as in PyTorch and ONNX Runtime: a diverged network must not look healthy. In place
// through y alone (see sc_add).
void sc_relu(const float *x, float *y, size_t n) {
    if (x == y)
        for (size_t i = 0; i < n; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i];
    else
        for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

#define SC_LANES 16

float sc_dot(const float *a, const float *b, size_t n) {
    float part[SC_LANES] = {0};
    size_t i = 0;
    for (; i + SC_LANES <= n; i += SC_LANES)
        for (int l = 0; l < SC_LANES; l++) part[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (; i < n; i++) s += a[i] * b[i];
    for (int l = 0; l < SC_LANES; l++) s += part[l];
    return s;
}

static void sc_linear_portable(const float *x, const float *w, const float *bias, float *y, int in_features,
                               int out_features, int activation) {
    for (int o = 0; o < out_features; o++) {
        const float v = sc_dot(w + (size_t)o * in_features, x, (size_t)in_features) + (bias ? bias[o] : 0.0f);
        y[o] = sc_activate1(activation, v);
    }
}

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
static inline float sc_sum8(sc_v8 v) {
    float s = 0.0f;
    for (int l = 0; l < 8; l++) s += v[l];
    return s;
}

// The classifier's matrix-vector product streams its weights once (1280 x 1000 floats in MobileNetV2
// and EfficientNet), so it is bound by their loads: four rows at a time share each load of x, with
// two sums per row so that eight multiply-add chains are in flight (the baseline's dot product, one
// row at a time without FMA, ran at a third of the speed).
static void sc_linear_avx2(const float *x, const float *w, const float *bias, float *y, int in_features,
                           int out_features, int activation) {
    const size_t n = (size_t)in_features;
    int o = 0;
    for (; o + 4 <= out_features; o += 4) {
        const float *r[4] = {w + (size_t)o * n, w + (size_t)(o + 1) * n, w + (size_t)(o + 2) * n,
                             w + (size_t)(o + 3) * n};
        sc_v8 a[4] = {0}, b[4] = {0};
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            sc_v8 x0, x1;
            __builtin_memcpy(&x0, x + i, sizeof x0);
            __builtin_memcpy(&x1, x + i + 8, sizeof x1);
            for (int k = 0; k < 4; k++) {
                sc_v8 w0, w1;
                __builtin_memcpy(&w0, r[k] + i, sizeof w0);
                __builtin_memcpy(&w1, r[k] + i + 8, sizeof w1);
                a[k] = a[k] + w0 * x0;
                b[k] = b[k] + w1 * x1;
            }
        }
        for (int k = 0; k < 4; k++) {
            float v = sc_sum8(a[k] + b[k]);
            for (size_t j = i; j < n; j++) v += r[k][j] * x[j];
            y[o + k] = sc_activate1(activation, v + (bias ? bias[o + k] : 0.0f));
        }
    }
    if (o < out_features)
        sc_linear_portable(x, w + (size_t)o * n, bias ? bias + o : NULL, y + o, in_features, out_features - o,
                           activation);
}
#pragma clang attribute pop
#endif

void sc_linear(const float *x, const float *w, const float *bias, float *y, int in_features, int out_features,
               int activation) {
#if defined(__x86_64__)
    if (sc_level_internal() >= SC_LEVEL_AVX2) {
        sc_linear_avx2(x, w, bias, y, in_features, out_features, activation);
        return;
    }
#endif
    sc_linear_portable(x, w, bias, y, in_features, out_features, activation);
}
