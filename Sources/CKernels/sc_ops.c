// The layout-free kernels (elementwise, and the linear layer on a flattened vector): plain C loops the
// compiler vectorizes (the dot product keeps several partial sums so that it vectorizes without
// reassociation flags). The NHWC pooling and layout kernels are in sc_ops_nhwc.c.
#include "sc_internal.h"

void sc_add(const float *a, const float *b, float *y, size_t n, int activation) {
    if (activation == SC_ACT_RELU) {
        for (size_t i = 0; i < n; i++) {
            const float v = a[i] + b[i];
            y[i] = v < 0.0f ? 0.0f : v;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    // Any other activation in a second pass over what was just written (still in cache): the sum's
    // loop stays a plain one the compiler vectorizes.
    if (activation != SC_ACT_NONE) sc_activation(y, y, n, activation);
}

// ReLU is written `v < 0 ? 0 : v` everywhere, so that NaN (for which every comparison is false) goes
// through as NaN, as in PyTorch and ONNX Runtime: a diverged network must not look healthy.
void sc_relu(const float *x, float *y, size_t n) {
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

void sc_linear(const float *x, const float *w, const float *bias, float *y, int in_features, int out_features,
               int activation) {
    for (int o = 0; o < out_features; o++) {
        const float v = sc_dot(w + (size_t)o * in_features, x, (size_t)in_features) + (bias ? bias[o] : 0.0f);
        y[o] = sc_activate1(activation, v);
    }
}
