// 3x3 stride-1 convolutions by Winograd's minimal filtering F(m x m, 3x3) (Lavin and Gray, 2016),
// m = 2 or 4: each m x m block of output pixels takes (m + 2)^2 products per channel pair instead of
// 9 m^2, 2.25x or 4x fewer multiply-adds. Per (m + 2)^2 input tile the input is transformed
// (V = B^T d B), the tile's (m + 2)^2 positions become as many independent GEMMs over tiles x
// channels against the transformed weights (U = G g G^T, made once at load), which run on the
// indirect GEMM's packed panels and micro-kernels, and each output block comes back as Y = A^T M A,
// through the same epilogue as any convolution.
//   F(2x2, 3x3): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//                B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   A^T = [1 1 1 0; 0 1 -1 -1]
//   F(4x4, 3x3): G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//                B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//                A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// Activations are NHWC, one image per call (the executor runs a batch image by image).
#include <string.h>
#include "sc_internal.h"

// Tiles whose transformed input and products (positions x (in + out channels) floats each) are made
// at once. Where one position's weights are small (up to 32 KiB: 64 x 64 channels), a chunk holds at
// most 512 KiB, so that its inputs and products stay in L2 from the transforms through the GEMMs and
// back (resnet-50's F(4x4) steps over 64 channels at 56 x 56, on a Zen 1 host whose L3 is slow: 0.87
// to 0.91 of the time they took in chunks of 2 MiB, on one thread and on two). Larger weights are read
// again by every chunk, which costs more than the products' trips to L3 (128 x 128 in chunks of 512
// KiB: 1.07-1.12 on one thread; 256 x 256 by F(2x2): 1.10-1.20), so their chunks hold 2 MiB.
#ifndef SC_WINOGRAD_CHUNK_BYTES
#define SC_WINOGRAD_CHUNK_BYTES (2 << 20)
#endif
#ifndef SC_WINOGRAD_L2_CHUNK_BYTES
#define SC_WINOGRAD_L2_CHUNK_BYTES (512 << 10)
#endif
#define SC_WINOGRAD_SMALL_POSITION_WEIGHTS (32 << 10)
static long sc_tiles_for(const sc_conv_geometry *g, int m) {
    return (long)((g->out_height + m - 1) / m) * ((g->out_width + m - 1) / m);
}

// m of F(m x m, 3x3).
static int sc_winograd_tile_size(const sc_conv_geometry *g) { return g->algorithm == SC_CONV_WINOGRAD_F4 ? 4 : 2; }

// Positions of a tile: (m + 2)^2 for F(m x m, 3x3).
static int sc_positions(const sc_conv_geometry *g) {
    const int alpha = sc_winograd_tile_size(g) + 2;
    return alpha * alpha;
}

long sc_winograd_tiles(const sc_conv_geometry *g) { return sc_tiles_for(g, sc_winograd_tile_size(g)); }


// One position's GEMM: a 1x1 convolution from in to out channels over a row of `tiles` "pixels".
static sc_conv_geometry sc_position_geometry(const sc_conv_geometry *g, long tiles) {
    return (sc_conv_geometry){g->in_channels, 1, (int)tiles, g->out_channels, 1, (int)tiles, 1, 1, 0, 1, SC_CONV_GEMM_1X1};
}

static size_t sc_round16(int n) { return ((size_t)n + 15) / 16 * 16; }

// A tile's output pixels (at most 16) for the channels past the last group of eight (at most 7).
#define SC_TAIL_FLOATS 128

// Floats from one position's share of the chunk (V or M) to the next: one cache line more than the
// share, so that the 16 or 36 positions a transform reads or writes together fall in different L1
// sets (a share of 32 KiB, 64 tiles x 128 channels, put all 16 in one set: 8 ways for 16 streams).
static size_t sc_position_stride(long count, int channels) { return (size_t)count * channels + 16; }

static long sc_chunk_tiles(const sc_conv_geometry *g) {
    const long bytes_per_tile = (long)sc_positions(g) * (g->in_channels + g->out_channels) * 4;
    const long position_weights = (long)g->in_channels * g->out_channels * 4;
    const long budget =
        position_weights <= SC_WINOGRAD_SMALL_POSITION_WEIGHTS ? SC_WINOGRAD_L2_CHUNK_BYTES : SC_WINOGRAD_CHUNK_BYTES;
    const long chunk = budget / bytes_per_tile, tiles = sc_winograd_tiles(g);
    return chunk < 1 ? 1 : chunk < tiles ? chunk : tiles;
}

size_t sc_winograd_packed_size(const sc_conv_geometry *g) {
    const sc_conv_geometry p = sc_position_geometry(g, 1);
    return (size_t)sc_positions(g) * sc_conv_nhwc_packed_size(&p);
}

// G of F(2x2, 3x3) and of F(4x4, 3x3) (Lavin and Gray's, interpolation points 0, +-1, +-2 and
// infinity for the latter), in double: the weights are transformed once, at load.
static const double sc_g2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double sc_g4[6][3] = {{0.25, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};

int sc_winograd_pack(const sc_conv_geometry *g, const float *weights, float *packed) {
    const int c = g->in_channels, m = g->out_channels, alpha = sc_winograd_tile_size(g) + 2, positions = alpha * alpha;
    const double (*gm)[3] = alpha == 6 ? sc_g4 : sc_g2;
    const sc_conv_geometry p = sc_position_geometry(g, 1);
    const size_t position_floats = sc_conv_nhwc_packed_size(&p);
    float *u = sc_alloc((size_t)positions * m * c * sizeof(float));  // [position][out][in]
    if (!u) return 0;
    for (int o = 0; o < m; o++)
        for (int i = 0; i < c; i++) {
            const float *w = weights + ((size_t)o * c + i) * 9;
            double gw[6][3];  // G g
            for (int y = 0; y < alpha; y++)
                for (int x = 0; x < 3; x++) gw[y][x] = gm[y][0] * w[x] + gm[y][1] * w[3 + x] + gm[y][2] * w[6 + x];
            for (int y = 0; y < alpha; y++)  // (G g) G^T
                for (int x = 0; x < alpha; x++)
                    u[((size_t)(y * alpha + x) * m + o) * c + i] =
                        (float)(gw[y][0] * gm[x][0] + gw[y][1] * gm[x][1] + gw[y][2] * gm[x][2]);
        }
    for (int k = 0; k < positions; k++) sc_conv_nhwc_pack(&p, u + (size_t)k * m * c, packed + k * position_floats);
    sc_free(u);
    return 1;
}

size_t sc_winograd_workspace_size(const sc_conv_geometry *g) {
    const long chunk = sc_chunk_tiles(g);
    const sc_conv_geometry p = sc_position_geometry(g, chunk);
    const size_t gemm = sc_conv_nhwc_workspace_size(&p), direct = sc_conv_nhwc_workspace_size(g);
    return 16 + sc_round16(g->in_channels) + SC_TAIL_FLOATS +
           (size_t)sc_positions(g) * (sc_position_stride(chunk, g->in_channels) + sc_position_stride(chunk, g->out_channels)) +
           (gemm > direct ? gemm : direct) + 16;
}

// The weights in the direct convolution's packing, recovered from the transformed ones (NULL when out
// of memory; free with sc_free): g = R U' R^T, where U' is U at the rows and columns 0, 1 and m + 1
// and R inverts those three rows of G. Holding the direct weights too would cost every Winograd
// weight's memory again for the rare input that needs them (resnet-152: 364 -> 446 MB resident);
// recovering them costs one pass over the weights, and only where an input is not finite. The
// recovered weights differ from the originals by a few float roundings.
static float *sc_winograd_direct_weights(const sc_conv_geometry *g, const float *packed) {
    const int c = g->in_channels, oc = g->out_channels, alpha = sc_winograd_tile_size(g) + 2;
    static const double r2[3][3] = {{1, 0, 0}, {-1, 2, -1}, {0, 0, 1}}, r4[3][3] = {{4, 0, 0}, {-4, -6, -1}, {0, 0, 1}};
    const double (*r)[3] = alpha == 6 ? r4 : r2;
    const int rows[3] = {0, 1, alpha - 1};
    const sc_conv_geometry p = sc_position_geometry(g, 1);
    const size_t position_floats = sc_conv_nhwc_packed_size(&p);
    float *weights = sc_alloc((size_t)oc * c * 9 * sizeof(float)), *direct = sc_alloc(sc_conv_nhwc_packed_size(g) * sizeof(float));
    if (!weights || !direct) {
        if (weights) sc_free(weights);
        if (direct) sc_free(direct);
        return NULL;
    }
    for (int o = 0; o < oc; o++)
        for (int i = 0; i < c; i++) {
            const size_t at = sc_conv_nhwc_packed_index(&p, o, i, 0);
            double u[3][3], ru[3][3];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) u[y][x] = packed[(size_t)(rows[y] * alpha + rows[x]) * position_floats + at];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++) ru[y][x] = r[y][0] * u[0][x] + r[y][1] * u[1][x] + r[y][2] * u[2][x];
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 3; x++)
                    weights[((size_t)o * c + i) * 9 + y * 3 + x] = (float)(ru[y][0] * r[x][0] + ru[y][1] * r[x][1] + ru[y][2] * r[x][2]);
        }
    sc_conv_nhwc_pack(g, weights, direct);
    sc_free(weights);
    return direct;
}

// The chunk's output tiles computed directly, row segment by row segment: where its input holds a
// NaN or an infinity, the transforms would spread it over whole tiles (and turn inf - inf into NaN)
// where a direct convolution, PyTorch's and ONNX Runtime's, reaches only the pixels whose 3x3 window
// holds it.
static void sc_direct_tiles(const sc_conv_geometry *g, const float *direct, const float *input, float *output,
                            const sc_epilogue *epilogue, float *workspace, long t0, long count, int m, int panel_begin,
                            int panel_end) {
    const int h = g->out_height, w = g->out_width, tiles_x = (w + m - 1) / m;
    for (long tile = t0; tile < t0 + count; tile++) {
        const int y0 = (int)(tile / tiles_x) * m, x0 = (int)(tile % tiles_x) * m, x1 = x0 + m < w ? x0 + m : w;
        for (int oy = y0; oy < y0 + m && oy < h; oy++)
            sc_conv_nhwc(g, direct, input, output, epilogue, workspace, (long)oy * w + x0, (long)oy * w + x1, panel_begin,
                         panel_end);
    }
}

// The transforms, compiled three times: for AVX-512 (one zmm register per 16 channels), for AVX2 (one
// ymm register per 8 channels) and for the baseline; the level in use picks one, so tests exercise
// each the CPU has. Without contraction into FMAs at AVX-512 (whose target implies FMA), as at the
// other two, so that every level gives the same results.
#define SC_TRANSFORM(name) name##_avx512
#define SC_TRANSFORM_TARGET __attribute__((target("avx512f,avx2")))
#define SC_TRANSFORM_WIDE
#pragma clang fp contract(off)
#include "sc_winograd_transforms.h"
#pragma clang fp contract(on)
#undef SC_TRANSFORM_WIDE
#undef SC_TRANSFORM
#undef SC_TRANSFORM_TARGET
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
    const int m = sc_winograd_tile_size(g), positions = sc_positions(g);
    const size_t position_floats = sc_winograd_packed_size(g) / positions;
    // Workspace: the zero row, a tile's output pixels for the channels past the last group of eight,
    // then the chunk's V and M and the GEMMs'.
    float *zero = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    float *rows = zero + sc_round16(g->in_channels), *base = rows + SC_TAIL_FLOATS;
    memset(zero, 0, (size_t)g->in_channels * sizeof(float));
    const int level = sc_level_internal();
    float *direct = NULL;  // recovered at the first chunk whose input is not finite
    for (long t0 = tile_begin; t0 < tile_end; t0 += chunk) {
        const long count = tile_end - t0 < chunk ? tile_end - t0 : chunk;
        const size_t v_stride = sc_position_stride(count, g->in_channels), m_stride = sc_position_stride(count, g->out_channels);
        float *v = base, *mm = v + positions * v_stride, *gemm_workspace = mm + positions * m_stride;
        const int finite = level >= SC_LEVEL_AVX512 ? sc_transform_input_avx512(g, input, zero, t0, count, v, v_stride, m)
                           : level >= SC_LEVEL_AVX2 ? sc_transform_input_avx2(g, input, zero, t0, count, v, v_stride, m)
                                                    : sc_transform_input_portable(g, input, zero, t0, count, v, v_stride, m);
        if (!finite && (direct || (direct = sc_winograd_direct_weights(g, packed)))) {
            sc_direct_tiles(g, direct, input, output, epilogue, gemm_workspace, t0, count, m, panel_begin, panel_end);
            continue;
        }
        const sc_conv_geometry p = sc_position_geometry(g, count);
        for (int k = 0; k < positions; k++)
            sc_conv_nhwc(&p, packed + k * position_floats, v + k * v_stride, mm + k * m_stride, NULL, gemm_workspace, 0,
                         count, panel_begin, panel_end);
        const int c0 = panel_begin * 16, c1 = panel_end * 16 < g->out_channels ? panel_end * 16 : g->out_channels;
        if (level >= SC_LEVEL_AVX512) sc_transform_output_avx512(g, mm, m_stride, t0, count, c0, c1, output, epilogue, rows, m);
        else if (level >= SC_LEVEL_AVX2) sc_transform_output_avx2(g, mm, m_stride, t0, count, c0, c1, output, epilogue, rows, m);
        else sc_transform_output_portable(g, mm, m_stride, t0, count, c0, c1, output, epilogue, rows, m);
    }
    if (direct) sc_free(direct);
}
