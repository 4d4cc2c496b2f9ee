// Per-pixel and per-image normalisations in NHWC: layer normalisation over each pixel's channels
// (ConvNeXt's LayerNorm2d) and squeeze-and-excitation. Loops over channels in vectors of eight lanes
// (sc_v8: one AVX register in the AVX2 copies, two SSE registers in the baseline's).
#include "sc_internal.h"

// The sums of a row of n floats and of its squared deviations from `mean` (the two-pass variance,
// exact for constant rows and stable for large means), in four vectors of eight partial sums each so
// that four add chains are in flight; the last n % 8 values one by one.
static inline __attribute__((always_inline)) float sc_row_moment(const float *x, int n, float mean, int deviations) {
    sc_v8 part[4] = {0}, m = SC_SPLAT8(mean);
    int i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            sc_v8 v;
            __builtin_memcpy(&v, x + i + 8 * k, sizeof v);
            if (deviations) v = (v - m) * (v - m);
            part[k] += v;
        }
    for (; i + 8 <= n; i += 8) {
        sc_v8 v;
        __builtin_memcpy(&v, x + i, sizeof v);
        if (deviations) v = (v - m) * (v - m);
        part[0] += v;
    }
    const sc_v8 all = (part[0] + part[1]) + (part[2] + part[3]);
    float s = 0.0f;
    for (int l = 0; l < 8; l++) s += all[l];
    for (; i < n; i++) s += deviations ? (x[i] - mean) * (x[i] - mean) : x[i];
    return s;
}

// Each pixel's row is read from memory by the first sum; the second sum and the output loop read it
// from L1 (a row is a few KiB at most: 3 KiB for ConvNeXt-Tiny's 768 channels). Explicit vectors, as
// in sc_scale_channels_body: in place (y == x), where each value is read before its own place is
// written, a loop over floats would fail the compiler's overlap check and run one float at a time.
static inline __attribute__((always_inline)) void sc_layer_norm_body(const float *x, float *y, size_t pixels,
                                                                     int channels, const float *scale,
                                                                     const float *shift, float epsilon) {
    for (size_t p = 0; p < pixels; p++) {
        const float *xr = x + p * channels;
        float *yr = y + p * channels;
        const float mean = sc_row_moment(xr, channels, 0.0f, 0) / (float)channels;
        const float variance = sc_row_moment(xr, channels, mean, 1) / (float)channels;
        const float rstd = 1.0f / sqrtf(variance + epsilon);
        const sc_v8 m = SC_SPLAT8(mean), r = SC_SPLAT8(rstd);
        int c = 0;
        for (; c + 8 <= channels; c += 8) {
            sc_v8 v, a, b;
            __builtin_memcpy(&v, xr + c, sizeof v);
            __builtin_memcpy(&a, scale + c, sizeof a);
            __builtin_memcpy(&b, shift + c, sizeof b);
            v = (v - m) * r * a + b;
            __builtin_memcpy(yr + c, &v, sizeof v);
        }
        for (; c < channels; c++) yr[c] = (xr[c] - mean) * rstd * scale[c] + shift[c];
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void sc_layer_norm_avx2(const float *x, float *y, size_t pixels,
                                                                     int channels, const float *scale,
                                                                     const float *shift, float epsilon) {
    sc_layer_norm_body(x, y, pixels, channels, scale, shift, epsilon);
}
#endif

void sc_layer_norm_nhwc(const float *x, float *y, size_t pixels, int channels, const float *scale, const float *shift,
                        float epsilon) {
    if (channels <= 0) return;
#if defined(__x86_64__)
    if (sc_level_internal() >= SC_LEVEL_AVX2) {
        sc_layer_norm_avx2(x, y, pixels, channels, scale, shift, epsilon);
        return;
    }
#endif
    sc_layer_norm_body(x, y, pixels, channels, scale, shift, epsilon);
}

size_t sc_squeeze_excite_scratch(int channels, int squeeze) {
    return (size_t)(channels > 0 ? channels : 0) + (size_t)(squeeze > 0 ? squeeze : 0) + 16;
}

// y = x times gate[channel], for each of `spatial` pixels (y may be x): the same products at every
// level, eight lanes at a time at the AVX2 level (with four, the pass over EfficientNet's large maps
// was most of a squeeze-and-excitation step). Explicit vectors: in place, a plain loop over floats
// fails the compiler's overlap check and runs one float at a time (3x slower).
static inline __attribute__((always_inline)) void sc_scale_channels_body(const float *x, float *y, int spatial,
                                                                         int channels, const float *gate) {
    for (int p = 0; p < spatial; p++) {
        const float *xr = x + (size_t)p * channels;
        float *yr = y + (size_t)p * channels;
        int c = 0;
        for (; c + 8 <= channels; c += 8) {
            sc_v8 v, g;
            __builtin_memcpy(&v, xr + c, sizeof v);
            __builtin_memcpy(&g, gate + c, sizeof g);
            v = v * g;
            __builtin_memcpy(yr + c, &v, sizeof v);
        }
        for (; c < channels; c++) yr[c] = xr[c] * gate[c];
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void sc_scale_channels_avx2(const float *x, float *y, int spatial,
                                                                         int channels, const float *gate) {
    sc_scale_channels_body(x, y, spatial, channels, gate);
}
#endif

static void sc_scale_channels(const float *x, float *y, int spatial, int channels, const float *gate) {
#if defined(__x86_64__)
    if (sc_level_internal() >= SC_LEVEL_AVX2) {
        sc_scale_channels_avx2(x, y, spatial, channels, gate);
        return;
    }
#endif
    sc_scale_channels_body(x, y, spatial, channels, gate);
}

// The gate's matrix-vector products (at most 1152 x 48 in EfficientNet-B0) by the linear layer's
// kernel, and their activations by the elementwise one, eight lanes at a time at the AVX2 level: on
// the small maps of EfficientNet's last stages the gate, one dot product and one double-precision
// exponential per channel, took most of the step.
void sc_squeeze_excite_nhwc(const float *x, float *y, int spatial, int channels, int squeeze, const float *w1,
                            const float *b1, const float *w2, const float *b2, int activation, float *scratch) {
    float *pooled = scratch, *hidden = scratch + channels;
    sc_global_avg_pool_nhwc(x, pooled, channels, spatial);
    sc_linear(pooled, w1, b1, hidden, channels, squeeze, SC_ACT_NONE);
    sc_activation(hidden, hidden, (size_t)squeeze, activation);
    float *gate = pooled;  // the pooled values are no longer needed
    sc_linear(hidden, w2, b2, gate, squeeze, channels, SC_ACT_NONE);
    sc_activation(gate, gate, (size_t)channels, SC_ACT_SIGMOID);
    sc_scale_channels(x, y, spatial, channels, gate);
}
