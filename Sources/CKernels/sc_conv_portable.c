// Portable C level of the convolution, plus the level-independent parts: weight packing, workspace
// size and the dispatch of sc_conv to the level in use.
#include "sc_internal.h"

size_t sc_conv_packed_size(const sc_conv_geometry *g) {
    const int groups = g->groups > 0 ? g->groups : 1;
    const size_t Mg = (size_t)(g->out_channels / groups), K = (size_t)(g->in_channels / groups) * g->kernel * g->kernel;
    return (size_t)groups * ((Mg + SC_MR - 1) / SC_MR) * SC_MR * K;
}

// packed[group][panel][k][SC_MR]: row i of panel p is output channel p * SC_MR + i of the group.
void sc_conv_pack(const sc_conv_geometry *g, const float *weights, float *packed) {
    const int groups = g->groups > 0 ? g->groups : 1;
    const size_t Mg = (size_t)(g->out_channels / groups), K = (size_t)(g->in_channels / groups) * g->kernel * g->kernel;
    const size_t panels = (Mg + SC_MR - 1) / SC_MR;
    for (int gi = 0; gi < groups; gi++) {
        const float *w = weights + (size_t)gi * Mg * K;
        float *dst = packed + (size_t)gi * panels * SC_MR * K;
        for (size_t p = 0; p < panels; p++)
            for (size_t k = 0; k < K; k++)
                for (size_t i = 0; i < SC_MR; i++) {
                    const size_t m = p * SC_MR + i;
                    dst[(p * K + k) * SC_MR + i] = m < Mg ? w[m * K + k] : 0.0f;
                }
    }
}

size_t sc_conv_workspace_size(const sc_conv_geometry *g) {
    const int groups = g->groups > 0 ? g->groups : 1;
    size_t K = (size_t)(g->in_channels / groups) * g->kernel * g->kernel;
    size_t N = (size_t)g->out_height * g->out_width;
    if (K > SC_KC_MAX) K = SC_KC_MAX;  // blocks are never longer than SC_KC_MAX
    if (N > SC_NC_MAX) N = SC_NC_MAX;
    N = (N + SC_NR_MAX - 1) / SC_NR_MAX * SC_NR_MAX;
    // + padding after each panel, + room to align to 64 bytes
    return K * N + (N / SC_NR_MIN) * SC_PANEL_PAD_MAX + 64 / sizeof(float);
}

int sc_conv_channel_block(void) { return SC_MR; }

void sc_conv(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
             const sc_epilogue *epilogue, float *workspace,
             int channel_begin, int channel_end, int pixel_begin, int pixel_end) {
    switch (sc_level_internal()) {
#if defined(__x86_64__)
    case SC_LEVEL_AVX512:
        sc_conv_avx512(g, packed, input, output, epilogue, workspace, channel_begin, channel_end, pixel_begin, pixel_end);
        return;
    case SC_LEVEL_AVX2:
        sc_conv_avx2(g, packed, input, output, epilogue, workspace, channel_begin, channel_end, pixel_begin, pixel_end);
        return;
#endif
    default:
        sc_conv_portable(g, packed, input, output, epilogue, workspace, channel_begin, channel_end, pixel_begin, pixel_end);
    }
}

// ---- Portable micro-kernel: SC_PR rows x 16 columns at a time, plain C the compiler vectorizes
// (the accumulators fill most of the vector registers: 32 on AArch64, 16 SSE registers elsewhere).
#define SC_NR 16
#define SC_KC 256
#define SC_NC 256
#define SC_MC 240
#define SC_PANEL_PAD 0
#define SC_FN(name) name##_portable
#if defined(__aarch64__)
#define SC_PR 6
#else
#define SC_PR 2
#endif

static inline __attribute__((always_inline)) void
tile_rows_portable(const float *restrict a, const float *restrict b, int kc, const int rows, int nr, float *c,
                   const sc_tile_epi *e) {
    float acc[SC_PR][SC_NR];
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < SC_NR; j++) acc[i][j] = 0.0f;
    for (int k = 0; k < kc; k++) {
        for (int i = 0; i < rows; i++) {
            const float av = a[i];
            for (int j = 0; j < SC_NR; j++) acc[i][j] += av * b[j];
        }
        a += SC_MR;
        b += SC_NR;
    }
    for (int i = 0; i < rows; i++) {
        float *cr = c + (size_t)i * e->ldc;
        float v[SC_NR];
        for (int j = 0; j < SC_NR; j++) v[j] = acc[i][j];
        if (!e->first)
            for (int j = 0; j < nr; j++) v[j] += cr[j];
        if (e->last) {
            const float s = e->scale ? e->scale[i] : 1.0f, t = e->shift ? e->shift[i] : 0.0f;
            for (int j = 0; j < SC_NR; j++) v[j] = v[j] * s + t;
            if (e->residual) {
                const float *rr = e->residual + (size_t)i * e->ldc;
                for (int j = 0; j < nr; j++) v[j] += rr[j];
            }
            if (e->relu)
                for (int j = 0; j < SC_NR; j++) v[j] = v[j] > 0.0f ? v[j] : 0.0f;
        }
        for (int j = 0; j < nr; j++) cr[j] = v[j];
    }
}

static void tile_portable(const float *a, const float *b, int kc, int mr, int nr, float *c, const sc_tile_epi *e) {
    sc_tile_epi sub = *e;
    for (int i0 = 0; i0 < mr; i0 += SC_PR) {
        const int rows = mr - i0 < SC_PR ? mr - i0 : SC_PR;
        sub.scale = e->scale ? e->scale + i0 : NULL;
        sub.shift = e->shift ? e->shift + i0 : NULL;
        sub.residual = e->residual ? e->residual + (size_t)i0 * e->ldc : NULL;
        float *ci = c + (size_t)i0 * e->ldc;
        switch (rows) {
#if SC_PR >= 6
        case 6: tile_rows_portable(a + i0, b, kc, 6, nr, ci, &sub); break;
        case 5: tile_rows_portable(a + i0, b, kc, 5, nr, ci, &sub); break;
        case 4: tile_rows_portable(a + i0, b, kc, 4, nr, ci, &sub); break;
#endif
        case 3: tile_rows_portable(a + i0, b, kc, 3, nr, ci, &sub); break;
        case 2: tile_rows_portable(a + i0, b, kc, 2, nr, ci, &sub); break;
        default: tile_rows_portable(a + i0, b, kc, 1, nr, ci, &sub); break;
        }
    }
}

static inline __attribute__((always_inline)) void zero_piece_portable(float *d, int span) {
    for (int i = 0; i < span; i++) d[i] = 0.0f;
}

static inline __attribute__((always_inline)) void
copy_piece_portable(float *restrict d, const float *restrict src, int span, int lo, int hi, int s, int avail) {
    (void)avail;
    for (int i = 0; i < lo; i++) d[i] = 0.0f;
    if (s == 1)
        for (int i = lo; i < hi; i++) d[i] = src[i];
    else
        for (int i = lo; i < hi; i++) d[i] = src[(ptrdiff_t)i * s];
    for (int i = hi; i < span; i++) d[i] = 0.0f;
}

#include "sc_conv_impl.h"
