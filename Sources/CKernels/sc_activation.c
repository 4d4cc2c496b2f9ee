// The elementwise activations (SC_ACT_*) as a step of their own, where no convolution, batchnorm, add
// or linear layer takes them into its epilogue: sixteen lanes at a time by sc_activate16n at the
// AVX-512 level, eight by sc_activate8n at the AVX2 level (and for what is left over), one value at a
// time by sc_activate1 otherwise (and for the last few values).
#define SC_ACTIVATIONS16
#include "sc_internal.h"

static void sc_activation_portable(const float *x, float *y, size_t n, int activation) {
    for (size_t i = 0; i < n; i++) y[i] = sc_activate1(activation, x[i]);
}

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
// `act` and `wide` constants in each instance, so that each compiles to straight vector code: four
// vectors at a time, whose chains interleave, of sixteen lanes where `wide` (only inlined into the
// AVX-512 level's function), then of eight, then one value at a time.
static inline __attribute__((always_inline)) void sc_activation_lanes(const float *x, float *y, size_t n, int act,
                                                                      int wide) {
    size_t i = 0;
    if (wide)
        for (; i + 64 <= n; i += 64) {
            sc_v16 v[4];
            __builtin_memcpy(v, x + i, sizeof v);
            sc_activate16n(act, 4, v);
            __builtin_memcpy(y + i, v, sizeof v);
        }
    for (; i + 32 <= n; i += 32) {
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

static inline __attribute__((always_inline)) void sc_activation_by(const float *x, float *y, size_t n, int activation,
                                                                   int wide) {
    switch (activation) {
    case SC_ACT_RELU: sc_activation_lanes(x, y, n, SC_ACT_RELU, wide); break;
    case SC_ACT_RELU6: sc_activation_lanes(x, y, n, SC_ACT_RELU6, wide); break;
    case SC_ACT_SILU: sc_activation_lanes(x, y, n, SC_ACT_SILU, wide); break;
    case SC_ACT_HARDSWISH: sc_activation_lanes(x, y, n, SC_ACT_HARDSWISH, wide); break;
    case SC_ACT_GELU: sc_activation_lanes(x, y, n, SC_ACT_GELU, wide); break;
    case SC_ACT_SIGMOID: sc_activation_lanes(x, y, n, SC_ACT_SIGMOID, wide); break;
    default: sc_activation_lanes(x, y, n, SC_ACT_NONE, wide); break;
    }
}

static void sc_activation_avx2(const float *x, float *y, size_t n, int activation) {
    sc_activation_by(x, y, n, activation, 0);
}
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
static void sc_activation_avx512(const float *x, float *y, size_t n, int activation) {
    sc_activation_by(x, y, n, activation, 1);
}
#pragma clang attribute pop
#endif

void sc_activation(const float *x, float *y, size_t n, int activation) {
#if defined(__x86_64__)
    const int level = sc_level_internal();
    if (level >= SC_LEVEL_AVX512) {
        sc_activation_avx512(x, y, n, activation);
        return;
    }
    if (level >= SC_LEVEL_AVX2) {
        sc_activation_avx2(x, y, n, activation);
        return;
    }
#endif
    sc_activation_portable(x, y, n, activation);
}
