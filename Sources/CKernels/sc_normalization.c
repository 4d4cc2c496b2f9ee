// Per-pixel and per-image normalisations in NHWC: layer normalisation over each pixel's channels
// (ConvNeXt's LayerNorm2d) and squeeze-and-excitation. Plain C loops over channels, which the
// compiler vectorizes; the sums keep eight partial sums so that they vectorize without reassociation.
#include "sc_internal.h"

#define SC_SUM_LANES 8

static float sc_row_sum(const float *x, int n) {
    float part[SC_SUM_LANES] = {0};
    int i = 0;
    for (; i + SC_SUM_LANES <= n; i += SC_SUM_LANES)
        for (int l = 0; l < SC_SUM_LANES; l++) part[l] += x[i + l];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (int l = 0; l < SC_SUM_LANES; l++) s += part[l];
    return s;
}

// Sum of (x - mean)^2: the two-pass variance, exact for constant rows and stable for large means.
static float sc_row_deviation(const float *x, int n, float mean) {
    float part[SC_SUM_LANES] = {0};
    int i = 0;
    for (; i + SC_SUM_LANES <= n; i += SC_SUM_LANES)
        for (int l = 0; l < SC_SUM_LANES; l++) {
            const float d = x[i + l] - mean;
            part[l] += d * d;
        }
    float s = 0.0f;
    for (; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
    for (int l = 0; l < SC_SUM_LANES; l++) s += part[l];
    return s;
}

// The pixel's row is read from memory by the first sum; the second sum and the output loop read it
// from L1 (a row is a few KiB at most: 3 KiB for ConvNeXt-Tiny's 768 channels). In place (y == x),
// each value is read before its own place is written.
void sc_layer_norm_nhwc(const float *x, float *y, size_t pixels, int channels, const float *scale, const float *shift,
                        float epsilon) {
    if (channels <= 0) return;
    for (size_t p = 0; p < pixels; p++) {
        const float *xr = x + p * channels;
        float *yr = y + p * channels;
        const float mean = sc_row_sum(xr, channels) / (float)channels;
        const float variance = sc_row_deviation(xr, channels, mean) / (float)channels;
        const float rstd = 1.0f / sqrtf(variance + epsilon);
        for (int c = 0; c < channels; c++) yr[c] = (xr[c] - mean) * rstd * scale[c] + shift[c];
    }
}

size_t sc_squeeze_excite_scratch(int channels, int squeeze) {
    return (size_t)(channels > 0 ? channels : 0) + (size_t)(squeeze > 0 ? squeeze : 0) + 16;
}

// y = x times gate[channel], for each of `spatial` pixels (y may be x): the same products at every
// level, eight lanes at a time at the AVX2 level (with four, the pass over EfficientNet's large maps
// was most of a squeeze-and-excitation step).
static inline __attribute__((always_inline)) void sc_scale_channels_body(const float *x, float *y, int spatial,
                                                                         int channels, const float *gate) {
    for (int p = 0; p < spatial; p++) {
        const float *xr = x + (size_t)p * channels;
        float *yr = y + (size_t)p * channels;
        for (int c = 0; c < channels; c++) yr[c] = xr[c] * gate[c];
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
