// 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016): each
// 2x2 block of output pixels takes 16 products per channel pair instead of 36, 2.25x fewer
// multiply-adds. Per 4x4 input tile the input is transformed (V = B^T d B), the 16 positions of the
// tile become 16 independent GEMMs over tiles x channels against the transformed weights
// (U = G g G^T, made once at load), which run on the indirect GEMM's packed panels and micro-kernels,
// and each 2x2 output block comes back as Y = A^T M A, through the same epilogue as any convolution.
//   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Activations are NHWC, one image per call (the executor runs a batch image by image).
#include <string.h>
#include "sc_internal.h"

// Tiles whose transformed input and products (16 x (in + out channels) floats each) are made at once:
// about 2 MiB, so one position's GEMM (its share of inputs, products and weights) stays in L2.
#ifndef SC_WINOGRAD_CHUNK_BYTES
#define SC_WINOGRAD_CHUNK_BYTES (2 << 20)
#endif
// Where it pays, measured against the indirect GEMM on this machine, alone (one image, caches warm
// or evicted): 1.6-1.9x at 128 and 256 channels over 8x8 to 28x28 maps, 1.3-1.8x at 64 channels,
// 1.1-1.3x at 32, 0.8x at 16 (the 16 GEMMs' reductions are too short to pay for the transforms), no
// gain at 512 channels over 7x7, whose 16 MiB of transformed weights (1.8x the direct ones) stream
// from memory. Inside networks, per step: resnet-50's 3x3s at 64 channels over 56x56 went from 2.62
// to 1.78 ms, at 128 over 28x28 from 2.61 to 1.60; sharesnet-164's at 64 over 8x8 from 53 to 34 us,
// at 32 over 16x16 from 56 to 44 us.
#define SC_WINOGRAD_MIN_CHANNELS 32
#define SC_WINOGRAD_MAX_WEIGHT_BYTES (8L << 20)

long sc_winograd_tiles(const sc_conv_geometry *g) {
    return (long)((g->out_height + 1) / 2) * ((g->out_width + 1) / 2);
}

int sc_winograd_applies(const sc_conv_geometry *g) {
    return g->kernel == 3 && g->stride == 1 && g->pad == 1 && (g->groups <= 1) && g->in_height == g->out_height &&
           g->in_width == g->out_width && g->in_channels >= SC_WINOGRAD_MIN_CHANNELS &&
           16L * g->in_channels * g->out_channels * 4 <= SC_WINOGRAD_MAX_WEIGHT_BYTES;
}


// One position's GEMM: a 1x1 convolution from in to out channels over a row of `tiles` "pixels".
static sc_conv_geometry sc_position_geometry(const sc_conv_geometry *g, long tiles) {
    return (sc_conv_geometry){g->in_channels, 1, (int)tiles, g->out_channels, 1, (int)tiles, 1, 1, 0, 1};
}

static size_t sc_round16(int n) { return ((size_t)n + 15) / 16 * 16; }

// Floats from one position's share of the chunk (V or M) to the next: one cache line more than the
// share, so that the 16 positions a transform reads or writes together fall in different L1 sets
// (a share of 32 KiB, 64 tiles x 128 channels, put all 16 in one set: 8 ways for 16 streams).
static size_t sc_position_stride(long count, int channels) { return (size_t)count * channels + 16; }

static long sc_chunk_tiles(const sc_conv_geometry *g) {
    const long bytes_per_tile = 16L * (g->in_channels + g->out_channels) * 4;
    const long chunk = SC_WINOGRAD_CHUNK_BYTES / bytes_per_tile, tiles = sc_winograd_tiles(g);
    return chunk < 1 ? 1 : chunk < tiles ? chunk : tiles;
}

size_t sc_winograd_packed_size(const sc_conv_geometry *g) {
    const sc_conv_geometry p = sc_position_geometry(g, 1);
    return 16 * sc_conv_nhwc_packed_size(&p);
}

int sc_winograd_pack(const sc_conv_geometry *g, const float *weights, float *packed) {
    const int c = g->in_channels, m = g->out_channels;
    const sc_conv_geometry p = sc_position_geometry(g, 1);
    const size_t position_floats = sc_conv_nhwc_packed_size(&p);
    float *u = sc_alloc((size_t)16 * m * c * sizeof(float));  // [position][out][in]
    if (!u) return 0;
    for (int o = 0; o < m; o++)
        for (int i = 0; i < c; i++) {
            const float *w = weights + ((size_t)o * c + i) * 9;
            float gw[4][3];  // G g
            for (int x = 0; x < 3; x++) {
                gw[0][x] = w[x];
                gw[1][x] = 0.5f * (w[x] + w[3 + x] + w[6 + x]);
                gw[2][x] = 0.5f * (w[x] - w[3 + x] + w[6 + x]);
                gw[3][x] = w[6 + x];
            }
            for (int y = 0; y < 4; y++) {  // (G g) G^T
                const float row[4] = {gw[y][0], 0.5f * (gw[y][0] + gw[y][1] + gw[y][2]),
                                      0.5f * (gw[y][0] - gw[y][1] + gw[y][2]), gw[y][2]};
                for (int x = 0; x < 4; x++) u[((size_t)(y * 4 + x) * m + o) * c + i] = row[x];
            }
        }
    for (int k = 0; k < 16; k++) sc_conv_nhwc_pack(&p, u + (size_t)k * m * c, packed + k * position_floats);
    sc_free(u);
    return 1;
}

size_t sc_winograd_workspace_size(const sc_conv_geometry *g) {
    const long chunk = sc_chunk_tiles(g);
    const sc_conv_geometry p = sc_position_geometry(g, chunk);
    return 16 + sc_round16(g->in_channels) + 32 +
           16 * (sc_position_stride(chunk, g->in_channels) + sc_position_stride(chunk, g->out_channels)) +
           sc_conv_nhwc_workspace_size(&p) + 16;
}

// The transforms, compiled twice: for AVX2 (one ymm register per 8 channels) and for the baseline;
// the level in use picks one, so tests exercise both.
#define SC_TRANSFORM(name) name##_avx2
#define SC_TRANSFORM_TARGET __attribute__((target("avx2")))
#include "sc_winograd_transforms.h"
#undef SC_TRANSFORM
#undef SC_TRANSFORM_TARGET
#define SC_TRANSFORM(name) name##_portable
#define SC_TRANSFORM_TARGET
#include "sc_winograd_transforms.h"

void sc_winograd_conv(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                      const sc_epilogue *epilogue, float *workspace, long tile_begin, long tile_end,
                      int panel_begin, int panel_end) {
    const long tiles = sc_winograd_tiles(g);
    if (tile_begin < 0) tile_begin = 0;
    if (tile_end > tiles) tile_end = tiles;
    const long chunk = sc_chunk_tiles(g);
    const size_t position_floats = sc_winograd_packed_size(g) / 16;
    // Workspace: the zero row, a tile's four output pixels for the channels past the last group of
    // eight, then the chunk's V and M and the GEMMs'.
    float *zero = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    float *rows = zero + sc_round16(g->in_channels), *base = rows + 32;
    memset(zero, 0, (size_t)g->in_channels * sizeof(float));
    const int avx2 = sc_level_internal() >= SC_LEVEL_AVX2;
    for (long t0 = tile_begin; t0 < tile_end; t0 += chunk) {
        const long count = tile_end - t0 < chunk ? tile_end - t0 : chunk;
        const size_t v_stride = sc_position_stride(count, g->in_channels), m_stride = sc_position_stride(count, g->out_channels);
        float *v = base, *mm = v + 16 * v_stride, *gemm_workspace = mm + 16 * m_stride;
        if (avx2) sc_transform_input_avx2(g, input, zero, t0, count, v, v_stride);
        else sc_transform_input_portable(g, input, zero, t0, count, v, v_stride);
        const sc_conv_geometry p = sc_position_geometry(g, count);
        for (int k = 0; k < 16; k++)
            sc_conv_nhwc(&p, packed + k * position_floats, v + k * v_stride, mm + k * m_stride, NULL, gemm_workspace, 0,
                         count, panel_begin, panel_end);
        const int c0 = panel_begin * 16, c1 = panel_end * 16 < g->out_channels ? panel_end * 16 : g->out_channels;
        if (avx2) sc_transform_output_avx2(g, mm, m_stride, t0, count, c0, c1, output, epilogue, rows);
        else sc_transform_output_portable(g, mm, m_stride, t0, count, c0, c1, output, epilogue, rows);
    }
}
