// The elementwise activations (SC_ACT_*) as a step of their own, where no convolution, batchnorm, add
// or linear layer takes them into its epilogue: eight lanes at a time by sc_activate8 at the AVX2
// level, one value at a time by sc_activate1 otherwise (and for the last few values).
#include "sc_internal.h"

static void sc_activation_portable(const float *x, float *y, size_t n, int activation) {
    for (size_t i = 0; i < n; i++) y[i] = sc_activate1(activation, x[i]);
}

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
// One loop per activation, so that each compiles to straight vector code.
static inline __attribute__((always_inline)) void sc_activation_lanes(const float *x, float *y, size_t n, int act) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {  // four vectors at a time, whose chains interleave
        sc_v8 v[4];
        __builtin_memcpy(v, x + i, sizeof v);
        sc_activate8n(act, 4, v);
        __builtin_memcpy(y + i, v, sizeof v);
    }
    for (; i + 8 <= n; i += 8) {
        sc_v8 v;
        __builtin_memcpy(&v, x + i, sizeof v);
        sc_activate8(act, &v);
        __builtin_memcpy(y + i, &v, sizeof v);
    }
    for (; i < n; i++) y[i] = sc_activate1(act, x[i]);
}

static void sc_activation_avx2(const float *x, float *y, size_t n, int activation) {
    switch (activation) {
    case SC_ACT_RELU: sc_activation_lanes(x, y, n, SC_ACT_RELU); break;
    case SC_ACT_RELU6: sc_activation_lanes(x, y, n, SC_ACT_RELU6); break;
    case SC_ACT_SILU: sc_activation_lanes(x, y, n, SC_ACT_SILU); break;
    case SC_ACT_HARDSWISH: sc_activation_lanes(x, y, n, SC_ACT_HARDSWISH); break;
    case SC_ACT_GELU: sc_activation_lanes(x, y, n, SC_ACT_GELU); break;
    case SC_ACT_SIGMOID: sc_activation_lanes(x, y, n, SC_ACT_SIGMOID); break;
    default: sc_activation_lanes(x, y, n, SC_ACT_NONE); break;
    }
}
#pragma clang attribute pop
#endif

void sc_activation(const float *x, float *y, size_t n, int activation) {
#if defined(__x86_64__)
    if (sc_level_internal() >= SC_LEVEL_AVX2) {
        sc_activation_avx2(x, y, n, activation);
        return;
    }
#endif
    sc_activation_portable(x, y, n, activation);
}
