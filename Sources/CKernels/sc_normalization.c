// Per-pixel and per-image normalisations in NHWC: layer normalisation over each pixel's channels
// (ConvNeXt's LayerNorm2d) and squeeze-and-excitation. Loops over channels in vectors of eight lanes
// (sc_v8: one AVX register in the AVX2 copies, two SSE registers in the baseline's).
#include "sc_internal.h"

// Pixels normalised together. Each pixel's statistics are a chain of dependent steps (sum, horizontal
// sum, mean, squared deviations, horizontal sum, square root, reciprocal); one pixel at a time, that
// chain's latency set the pace: 39 ns per 96-channel pixel, in L1 or not. Four pixels at a time
// interleave four chains.
#define SC_LN_PIXELS 4

// The sum of v's eight lanes, as a tree: three shuffles and adds where adding the lanes one by one
// made a chain of eight.
static inline __attribute__((always_inline)) float sc_lanes_sum(const sc_v8 *v) {
    sc_v8 t = *v + __builtin_shufflevector(*v, *v, 4, 5, 6, 7, 0, 1, 2, 3);
    t += __builtin_shufflevector(t, t, 2, 3, 0, 1, 6, 7, 4, 5);
    t += __builtin_shufflevector(t, t, 1, 0, 3, 2, 5, 4, 7, 6);
    return t[0];
}

// For each of `rows` rows of n floats (row k at x + k * n), the sum of its values. Two vectors of
// partial sums per row, so that the rows' add chains are in flight together; the last n % 8 values
// one by one.
static inline __attribute__((always_inline)) void sc_row_sums(const float *x, int rows, int n, float *sums) {
    sc_v8 part[SC_LN_PIXELS][2] = {{{0}}};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < rows; k++)
            for (int h = 0; h < 2; h++) {
                sc_v8 v;
                __builtin_memcpy(&v, x + (size_t)k * n + i + 8 * h, sizeof v);
                part[k][h] += v;
            }
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < rows; k++) {
            sc_v8 v;
            __builtin_memcpy(&v, x + (size_t)k * n + i, sizeof v);
            part[k][0] += v;
        }
    for (int k = 0; k < rows; k++) {
        const sc_v8 both = part[k][0] + part[k][1];
        float s = sc_lanes_sum(&both);
        for (int j = i; j < n; j++) s += x[(size_t)k * n + j];
        sums[k] = s;
    }
}

// For each row, the sums of its values' deviations from mean[k] and of their squares: the corrected
// two-pass variance (sc_layer_norm_rows), exact for constant rows and stable for large means. Sixteen
// values a row at a time, their two vectors added before they join each sum: one chain of adds per
// sum and row. (Two vectors of each sum per row, as sc_row_sums has, put the 4 rows' 16 sums and
// their means past the 16 registers, through the stack: ConvNeXt-T's layer norms took 0.78 ms, not 0.73.)
static inline __attribute__((always_inline)) void sc_row_deviations(const float *x, int rows, int n, const float *mean,
                                                                    float *deviations, float *squares) {
    sc_v8 d[SC_LN_PIXELS] = {{0}}, q[SC_LN_PIXELS] = {{0}}, m[SC_LN_PIXELS];
    for (int k = 0; k < rows; k++) m[k] = SC_SPLAT8(mean[k]);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < rows; k++) {
            sc_v8 a, b;
            __builtin_memcpy(&a, x + (size_t)k * n + i, sizeof a);
            __builtin_memcpy(&b, x + (size_t)k * n + i + 8, sizeof b);
            a -= m[k], b -= m[k];
            d[k] += a + b;
            q[k] += a * a + b * b;
        }
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < rows; k++) {
            sc_v8 a;
            __builtin_memcpy(&a, x + (size_t)k * n + i, sizeof a);
            a -= m[k];
            d[k] += a;
            q[k] += a * a;
        }
    for (int k = 0; k < rows; k++) {
        float sd = sc_lanes_sum(&d[k]), sq = sc_lanes_sum(&q[k]);
        for (int j = i; j < n; j++) {
            const float v = x[(size_t)k * n + j] - mean[k];
            sd += v, sq += v * v;
        }
        deviations[k] = sd, squares[k] = sq;
    }
}

// `rows` pixels' rows: their statistics first (read from memory by the first sums, from L1 after: a
// row is a few KiB at most, 3 KiB for ConvNeXt-Tiny's 768 channels), then each output row. Explicit
// vectors, as in sc_scale_channels_body: in place (y == x), where each value is read before its own
// place is written, a loop over floats would fail the compiler's overlap check and run one float at a time.
static inline __attribute__((always_inline)) void sc_layer_norm_rows(const float *x, float *y, int rows, int channels,
                                                                     const float *scale, const float *shift,
                                                                     float epsilon) {
    // The mean is held as two floats, mean + correction (the deviations' own mean, which the rounded
    // mean leaves): each value's deviation x - mean is exact where x is near the mean, then the small
    // correction comes off. With the mean rounded to one float, a pixel whose channels sit at 1e4
    // (where floats are 1e-3 apart) was off by 1e-3 after normalising; now by 2e-6. (The sum of the
    // deviations costs ConvNeXt-T's 23 layer norms 0.73 ms where they took 0.62.)
    float mean[SC_LN_PIXELS], variance[SC_LN_PIXELS], correction[SC_LN_PIXELS];
    sc_row_sums(x, rows, channels, mean);
    for (int k = 0; k < rows; k++) mean[k] /= (float)channels;
    sc_row_deviations(x, rows, channels, mean, correction, variance);
    float rstd[SC_LN_PIXELS];
    sc_v8 m[SC_LN_PIXELS], d[SC_LN_PIXELS], r[SC_LN_PIXELS];  // d: -correction * rstd
    for (int k = 0; k < rows; k++) {
        correction[k] /= (float)channels;
        const float deviations = variance[k] / (float)channels - correction[k] * correction[k];
        rstd[k] = 1.0f / sqrtf((deviations > 0.0f ? deviations : 0.0f) + epsilon);
        m[k] = SC_SPLAT8(mean[k]), d[k] = SC_SPLAT8(-correction[k] * rstd[k]), r[k] = SC_SPLAT8(rstd[k]);
    }
    // Channels outer: each vector of scale and shift is loaded once for all the rows.
    int c = 0;
    for (; c + 8 <= channels; c += 8) {
        sc_v8 a, b;
        __builtin_memcpy(&a, scale + c, sizeof a);
        __builtin_memcpy(&b, shift + c, sizeof b);
        for (int k = 0; k < rows; k++) {
            sc_v8 v;
            __builtin_memcpy(&v, x + (size_t)k * channels + c, sizeof v);
            v = ((v - m[k]) * r[k] + d[k]) * a + b;
            __builtin_memcpy(y + (size_t)k * channels + c, &v, sizeof v);
        }
    }
    for (; c < channels; c++)
        for (int k = 0; k < rows; k++) {
            const size_t i = (size_t)k * channels + c;
            y[i] = ((x[i] - mean[k]) * rstd[k] - correction[k] * rstd[k]) * scale[c] + shift[c];
        }
}

static inline __attribute__((always_inline)) void sc_layer_norm_body(const float *x, float *y, size_t pixels,
                                                                     int channels, const float *scale,
                                                                     const float *shift, float epsilon) {
    size_t p = 0;
    for (; p + SC_LN_PIXELS <= pixels; p += SC_LN_PIXELS)
        sc_layer_norm_rows(x + p * channels, y + p * channels, SC_LN_PIXELS, channels, scale, shift, epsilon);
    for (; p < pixels; p++) sc_layer_norm_rows(x + p * channels, y + p * channels, 1, channels, scale, shift, epsilon);
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
