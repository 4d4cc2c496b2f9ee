// The NHWC convolution's level-free parts: weight packing, blocking, the driver that walks tiles and
// builds their input pointers, the depthwise special case, and the dispatch to a micro-kernel.
#include <string.h>
#include "sc_igemm.h"

// A convolution reduces in one block when its reduction (taps x channels) is at most SC_ONE_BLOCK_K
// and its weights are smaller than SC_STREAMED_WEIGHTS: a panel's weights, 64 B per step (at most
// 160 KiB; a 3x3 over 256 channels takes 147), stream from L2 while the tiles pass under them, and
// each output tile is stored once, with no partial sums (which cost 10-25% on 3x3 convolutions in
// blocks of 256, most at stride 2 and at batch 8, where a chunk's partial sums leave L2).
// Larger weights (stage 4 of a resnet-50: 4 to 9 MiB) come from memory at every use and are reused
// by few pixels: they go in blocks of SC_KC, whose 16 KiB of panel weights stay in L1 while the
// next piece is fetched into L2 (measured 5-15% faster than one block for those).
#define SC_ONE_BLOCK_K 2560
#define SC_STREAMED_WEIGHTS (4L << 20)
#define SC_KC 256
// Bytes of input a chunk of output pixels may touch: about a third of this machine's 512 KiB L2.
#define SC_CHUNK_BYTES (192 * 1024)
// Every convolution reads its input in place, stems over 3 channels included: a one-block
// convolution reduces over merged kernel rows (sc_fill_tile), 7 runs of 21 for a 7x7 over 3 channels.
// Copying each pixel's taps x channels into a row of its own, once faster for kernels from 5x5, measured
// slower once pointer tables were built a tile row at a time (kernel A/B 0.74-0.93 for 5x5 to 9x9
// stems); for more channels it was always slower (rows of 256 to 2048 channels fall in few L1 sets).
// Weights this small are cheap to read again: from L2 when tiles visit all the panels in turn, or for
// every chunk.
#define SC_SMALL_WEIGHTS (256 * 1024)
// A convolution over at most SC_FEW_TILES tiles of output pixels passes each tile under all its
// panels in turn while its weights are at most SC_FEW_TILES_WEIGHTS; past SC_PANEL_BLOCK_MIN of them,
// a block of SC_PANEL_BLOCK_BYTES of panels at a time (sc_igemm_run).
#define SC_FEW_TILES 12
#define SC_FEW_TILES_WEIGHTS (2L << 20)
#define SC_PANEL_BLOCK_BYTES (256L << 10)
#define SC_PANEL_BLOCK_MIN (1L << 20)
// The most cache lines of the next panel's weights a tile asks for (sc_prefetch_share).
#define SC_PREFETCH_SHARE_LINES 32
// The reduction length (taps x channels) from which the AVX-512 level takes tiles in pairs: at 64,
// kernel A/B measured 1.06-1.29 of the 6-row kernel's time (resnet-50's 1x1s over 64 channels, whose
// short reductions make the epilogue weigh); from 128, 0.72-0.98 (its 1x1s over 128 to 2048
// channels, and Winograd's GEMMs over 128 and 256), and 0.86-0.95 for its 3x3s and stride-2 1x1s
// whose weights pass over the tiles.
#define SC_TWELVE_MIN_STEPS 128
// Chunks are a multiple of every level's tile height.
#define SC_CHUNK_ROUND 12
// The most bytes a chunk's pointer table (a pointer per pixel and tap) may take: a 63 x 63 kernel's
// took 2 GiB of workspace, where its pixels' input was the chunk's only bound.
#define SC_TABLE_BYTES (16L << 20)

// How one convolution is blocked; the same at every level, so the workspace size is level-free.
typedef struct {
    int channel_block; // input channels per reduction block
    int blocks;        // reduction blocks
    long chunk;        // output pixels whose input stays in L2 while every panel passes over them
} sc_igemm_plan;

static int sc_groups(const sc_conv_geometry *g) { return g->groups > 0 ? g->groups : 1; }
// Depthwise and grouped convolutions run by the same per-channel loop (their weights packed by tap).
static int sc_depthwise(const sc_conv_geometry *g) {
    return g->algorithm == SC_CONV_DEPTHWISE || g->algorithm == SC_CONV_GROUPED;
}
// The weight rows of a tap (each of its output channels' weights for one input each): a grouped
// convolution's channels per group where they are exchanged within the vector (2 or 4), its 2 cg - 1
// shifts otherwise (sc_dw_shift_tap), and 1 for depthwise.
static int sc_exchanges(const sc_conv_geometry *g) {
    if (g->algorithm != SC_CONV_GROUPED) return 1;
    const int cg = g->in_channels / sc_groups(g);
    return sc_grouped_by_exchange(cg) ? cg : 2 * cg - 1;
}
static int sc_panels_per_group(const sc_conv_geometry *g) { return (g->out_channels / sc_groups(g) + SC_PANEL - 1) / SC_PANEL; }

static sc_igemm_plan sc_igemm_make_plan(const sc_conv_geometry *g) {
    const int groups = sc_groups(g), cg = g->in_channels / groups, taps = g->kernel * g->kernel;
    sc_igemm_plan p;
    // The channel block depends only on the kernel size and channel counts, as the packed weights do.
    const long weight_bytes = (long)taps * cg * g->out_channels * 4;
    const int one_block = taps * cg <= SC_ONE_BLOCK_K && weight_bytes < SC_STREAMED_WEIGHTS;
    const int blocks = one_block ? 1 : (taps * cg + SC_KC - 1) / SC_KC;
    p.channel_block = (cg + blocks - 1) / blocks;
    p.blocks = (cg + p.channel_block - 1) / p.channel_block;
    // A pixel's share of the input: its channels (times the stride squared for strided convolutions,
    // whose pixels sit further apart); with several reduction blocks, also its output row, which each
    // block reads and writes again and which must not fall out of L2.
    long bytes_per_pixel = (long)p.channel_block * 4 * g->stride * g->stride;
    // (Not when the weights are large: a chunk re-reads them all, and four re-reads of the 4 MiB of a
    // 512 -> 2048 1x1 over a 7x7 map cost more than partial sums in L3.)
    if (p.blocks > 1 && weight_bytes <= SC_SMALL_WEIGHTS) bytes_per_pixel += (long)g->out_channels * 4;
    long chunk = SC_CHUNK_BYTES / (bytes_per_pixel > 0 ? bytes_per_pixel : 1);
    const long table_pixels = SC_TABLE_BYTES / ((long)taps * (long)sizeof(float *));
    if (chunk > table_pixels) chunk = table_pixels;
    chunk = chunk / SC_CHUNK_ROUND * SC_CHUNK_ROUND;
    // Nor more pixels than one image's map, rounded up (which splits no map differently, see
    // sc_balanced_chunk): a 256 x 256 kernel over a 2 x 2 output sized its table for thousands (36 GiB).
    const long map = ((long)g->out_height * g->out_width + SC_CHUNK_ROUND - 1) / SC_CHUNK_ROUND * SC_CHUNK_ROUND;
    if (chunk > map) chunk = map;
    p.chunk = chunk < SC_CHUNK_ROUND ? SC_CHUNK_ROUND : chunk;
    return p;
}

// Pixels are cut into chunks of equal size near the plan's: a small last chunk would pass over every
// weight again for a few pixels (a 7x7 map's 49 pixels in chunks of 48 read the 8 MiB of a 1024 ->
// 2048 1x1 twice). Rounding to the nearest count of chunks makes them at most half as large again.
static long sc_balanced_chunk(const sc_igemm_plan *p, long pixels) {
    long chunks = (pixels + p->chunk / 2) / p->chunk;
    if (chunks < 1) chunks = 1;
    return ((pixels + chunks - 1) / chunks + SC_CHUNK_ROUND - 1) / SC_CHUNK_ROUND * SC_CHUNK_ROUND;
}
static long sc_max_chunk(const sc_igemm_plan *p) { return p->chunk + p->chunk / 2 + SC_CHUNK_ROUND; }

int sc_conv_nhwc_panels(const sc_conv_geometry *g) {
    if (sc_depthwise(g)) return (g->out_channels + SC_PANEL - 1) / SC_PANEL;
    return sc_groups(g) * sc_panels_per_group(g);
}

size_t sc_conv_nhwc_packed_size(const sc_conv_geometry *g) {
    const size_t taps = (size_t)g->kernel * g->kernel;
    if (sc_depthwise(g)) return taps * sc_exchanges(g) * g->out_channels;
    return (size_t)sc_conv_nhwc_panels(g) * SC_PANEL * taps * (g->in_channels / sc_groups(g));
}

// Depthwise: [tap][out channel]. Grouped: [tap][exchange k][out channel], the weight out channel oc
// takes from input channel oc ^ k (in its group, since groups are aligned runs of a power of two);
// or, by shifts, [tap][k][out channel], the weight from input channel oc + k - (cg - 1) where that is
// in oc's group, else 0.
// Otherwise, per group, per reduction block of input channels (the
// plan's channel_block, which depends only on the kernel size and channels, never on stride or image
// size), per panel: [ky][kx][channel in block][16 lanes]. Each (block, panel) piece is contiguous, so
// its taps never collide in L1 sets (with [tap][all channels], a power-of-two channel count put every
// tap at the same sets, and they evicted each other between tiles); and a block's panels follow each
// other, so the panels of a block stream from memory in one sequential pass the prefetcher follows.
void sc_conv_nhwc_pack(const sc_conv_geometry *g, const float *weights, float *packed) {
    const int groups = sc_groups(g), cg = g->in_channels / groups, mg = g->out_channels / groups;
    const int ks = g->kernel, taps = ks * ks;
    if (sc_depthwise(g)) {
        const int ex = sc_exchanges(g), m = g->out_channels, exchanged = ex == cg;
        for (int t = 0; t < taps; t++)
            for (int k = 0; k < ex; k++)
                for (int oc = 0; oc < m; oc++) {
                    const int r = oc % cg, j = exchanged ? r ^ k : r + k - (cg - 1);  // input j of oc's group
                    packed[((size_t)t * ex + k) * m + oc] =
                        j >= 0 && j < cg ? weights[((size_t)oc * cg + j) * taps + t] : 0.0f;
                }
        return;
    }
    const int block = sc_igemm_make_plan(g).channel_block;
    const int ppg = sc_panels_per_group(g);
    float *out = packed;
    for (int gi = 0; gi < groups; gi++)
        for (int c0 = 0; c0 < cg; c0 += block) {
            const int cc = cg - c0 < block ? cg - c0 : block;
            for (int j = 0; j < ppg; j++)
                for (int t = 0; t < taps; t++)
                    for (int c = c0; c < c0 + cc; c++, out += SC_PANEL)
                        for (int lane = 0; lane < SC_PANEL; lane++) {
                            const int m = j * SC_PANEL + lane, oc = gi * mg + m;
                            out[lane] = m < mg ? weights[((size_t)oc * cg + c) * taps + t] : 0.0f;
                        }
        }
}

size_t sc_conv_nhwc_packed_index(const sc_conv_geometry *g, int oc, int ic, int tap) {
    const int taps = g->kernel * g->kernel, block = sc_igemm_make_plan(g).channel_block, ppg = sc_panels_per_group(g);
    const int c0 = ic / block * block, cc = g->in_channels - c0 < block ? g->in_channels - c0 : block;
    // Whole blocks before c0, then whole panels of this block, then this tap's and channel's row of 16.
    return ((size_t)c0 * ppg + (size_t)(oc / SC_PANEL) * cc) * taps * SC_PANEL + ((size_t)tap * cc + (ic - c0)) * SC_PANEL +
           oc % SC_PANEL;
}

// A kernel row's worth of zeros: the padding for a tap, or for a merged kernel row.
static size_t sc_zero_row_floats(const sc_conv_geometry *g) { return ((size_t)g->kernel * g->in_channels + 15) / 16 * 16; }

// Floats of the chunk's partial sums, kept apart from the output when it is also the residual: the
// first block would otherwise overwrite residual values the last block has yet to add.
static size_t sc_partial_floats(const sc_igemm_plan *p, const sc_conv_geometry *g) {
    return p->blocks > 1 ? ((size_t)sc_max_chunk(p) * g->out_channels + 15) / 16 * 16 : 0;
}

size_t sc_conv_nhwc_workspace_size(const sc_conv_geometry *g) {
    if (sc_depthwise(g)) return 16 + (sc_depthwise_scratch_floats(g) + 15) / 16 * 16;
    const sc_igemm_plan p = sc_igemm_make_plan(g);
    const size_t taps = (size_t)g->kernel * g->kernel;
    const size_t chunk = (size_t)sc_max_chunk(&p);
    // The pointer table and a byte per tile saying whether it lists merged kernel rows.
    const size_t inputs = chunk * taps * (sizeof(float *) / sizeof(float)) + chunk / 4 + 4;
    return 16 + sc_zero_row_floats(g) + sc_partial_floats(&p, g) + inputs;  // 16: alignment slack
}

// An output pixel's place: its image's input and the input coordinates of its kernel's top-left tap.
typedef struct { const float *image; int y0, x0; } sc_pixel;

static inline sc_pixel sc_locate(const sc_conv_geometry *g, const float *input, long pixel) {
    const long plane = (long)g->out_height * g->out_width;
    const long n = pixel / plane, rest = pixel - n * plane;
    const int oy = (int)(rest / g->out_width), ox = (int)(rest - (long)oy * g->out_width);
    return (sc_pixel){input + (size_t)n * g->in_height * g->in_width * g->in_channels,
                      oy * g->stride - g->pad, ox * g->stride - g->pad};
}

// The pixel after `px` in raster order, without the divisions of sc_locate (which cost more than
// the rest of a pointer table's entries for a small-channel convolution).
static inline sc_pixel sc_next(const sc_conv_geometry *g, sc_pixel px) {
    px.x0 += g->stride;
    if (px.x0 + g->pad < g->out_width * g->stride) return px;
    px.x0 = -g->pad;
    px.y0 += g->stride;
    if (px.y0 + g->pad < g->out_height * g->stride) return px;
    px.y0 = -g->pad;
    px.image += (size_t)g->in_height * g->in_width * g->in_channels;
    return px;
}

// Where the pixel's input row for tap (ky, kx) starts, or the zero row in the padding.
static inline const float *sc_tap_row(const sc_conv_geometry *g, sc_pixel px, const float *zero, int ky, int kx) {
    const int iy = px.y0 + ky, ix = px.x0 + kx;
    if (iy < 0 || iy >= g->in_height || ix < 0 || ix >= g->in_width) return zero;
    return px.image + ((size_t)iy * g->in_width + ix) * g->in_channels;
}

// A chunk of `count` pixels goes in ceil(count / SC_TILE_ROWS) tiles. Where the last would hold only
// one or two pixels, the last tiles are one row short each instead (where there are enough of them): a
// tile of one or two rows streams its panel's weights (from L3 where they outgrow L2) for a sixth or a
// third of the FMAs. A 7 x 7 map's 49 pixels as 4 x 6 + 5 x 5 rather than 8 x 6 + 1: kernel A/B 0.95-0.96
// on 1x1s over 960 and 768 channels; inside MobileNetV2 and ConvNeXt-T, their 7 x 7 1x1s 0.95-0.97. A
// last tile of 3 or 4 rows stays (14 x 14 as 31 x 6 + 2 x 5 measured no faster than 32 x 6 + 4).
static inline long sc_short_tiles(long count) {
    const long tiles = (count + SC_TILE_ROWS - 1) / SC_TILE_ROWS, short_rows = tiles * SC_TILE_ROWS - count;
    return short_rows >= SC_TILE_ROWS - 2 && short_rows <= tiles ? short_rows : 0;
}

// The pixels of tile t of a chunk of `count`.
static inline int sc_tile_pixels(long count, long t) {
    const long tiles = (count + SC_TILE_ROWS - 1) / SC_TILE_ROWS, short_tiles = sc_short_tiles(count);
    if (short_tiles > 0) return t >= tiles - short_tiles ? SC_TILE_ROWS - 1 : SC_TILE_ROWS;
    return count - t * SC_TILE_ROWS < SC_TILE_ROWS ? (int)(count - t * SC_TILE_ROWS) : SC_TILE_ROWS;
}

// The chunk's pixel that tile t starts at.
static inline long sc_tile_first(long count, long t) {
    const long full = (count + SC_TILE_ROWS - 1) / SC_TILE_ROWS - sc_short_tiles(count);
    return t * SC_TILE_ROWS - (t > full ? t - full : 0);
}

// Lists each tap's row pointer for each of a tile's SC_TILE_ROWS pixels, the first at `px` (past the
// chunk's end, its last pixel again), and returns the pixel after the tile. With `merge`, a tile whose
// pixels all have their kernel rows inside the image horizontally lists one pointer per kernel row
// instead (and sets `merged`): in NHWC a kernel row's taps over all channels are one contiguous run,
// and the packed weights of a one-block convolution hold them in the same order, so the micro-kernel
// reduces over ks runs of ks x channels rather than ks x ks runs of channels. For 16 channels that
// is 3 runs of 48 steps instead of 9 runs of 16, each run paying its pointer loads and loop exit.
static sc_pixel sc_fill_tile(const sc_conv_geometry *g, sc_pixel px, const float *zero, int rows, int merge,
                             const float **table, unsigned char *merged) {
    const int ks = g->kernel, c = g->in_channels, w = g->in_width, h = g->in_height;
    // Most tiles of a merged convolution lie in one output row, inside the image horizontally: each
    // kernel row's pointer steps by the stride from pixel to pixel (computed so rather than pixel by
    // pixel, kernel A/B 0.92 on the 3x3/2 stem and 0.96 on a 3x3 over 16 channels).
    const int x_last = px.x0 + (rows - 1) * g->stride;
    if (merge && px.x0 >= 0 && x_last + ks <= w && x_last + g->pad < g->out_width * g->stride) {
        *merged = 1;
        const long step = (long)g->stride * c;
        for (int ky = 0; ky < ks; ky++) {
            const float **dst = table + ky * SC_TILE_ROWS;
            const int iy = px.y0 + ky;
            if ((unsigned)iy >= (unsigned)h) {
                for (int r = 0; r < SC_TILE_ROWS; r++) dst[r] = zero;
                continue;
            }
            const float *first = px.image + ((long)iy * w + px.x0) * c;
            for (int r = 0; r < SC_TILE_ROWS; r++) dst[r] = first + (r < rows ? r : rows - 1) * step;
        }
        px.x0 = x_last;
        return sc_next(g, px);
    }
    sc_pixel at[SC_TILE_ROWS];
    int inside = merge;
    for (int r = 0; r < rows; r++, px = sc_next(g, px)) {
        at[r] = px;
        inside &= px.x0 >= 0 && px.x0 + ks <= w;
    }
    *merged = (unsigned char)inside;
    // Offsets are checked before they become pointers: unsigned comparisons test both image edges.
    for (int r = 0; r < rows; r++) {
        const float **dst = table + r;
        for (int ky = 0; ky < ks; ky++) {
            const int iy = at[r].y0 + ky, row_inside = (unsigned)iy < (unsigned)h;
            const long row = ((long)iy * w + at[r].x0) * c;
            if (inside) {
                *dst = row_inside ? at[r].image + row : zero;
                dst += SC_TILE_ROWS;
                continue;
            }
            for (int kx = 0; kx < ks; kx++, dst += SC_TILE_ROWS)
                *dst = row_inside && (unsigned)(at[r].x0 + kx) < (unsigned)w ? at[r].image + row + (long)kx * c : zero;
        }
    }
    const int entries = inside ? ks : ks * ks;
    for (int r = rows; r < SC_TILE_ROWS; r++)  // past the chunk's end: its last pixel again
        for (int t = 0; t < entries; t++) table[t * SC_TILE_ROWS + r] = table[t * SC_TILE_ROWS + rows - 1];
    return px;
}

// The tables of every tile of the chunk [c0, c0 + count), one after another.
static void sc_fill_pointers(const sc_conv_geometry *g, const float *input, const float *zero, long c0, long count,
                             int merge, const float **pointers, unsigned char *merged) {
    const int taps = g->kernel * g->kernel;
    const long tiles = (count + SC_TILE_ROWS - 1) / SC_TILE_ROWS;
    sc_pixel px = sc_locate(g, input, c0);
    for (long tile = 0; tile < tiles; tile++) {
        px = sc_fill_tile(g, px, zero, sc_tile_pixels(count, tile), merge, pointers + tile * taps * SC_TILE_ROWS, merged + tile);
    }
}

// What the level in use gives the driver: its micro-kernel, the panels a pass over the tiles takes
// where weights pass over them a pass at a time, and whether full pairs of tiles go at once where the
// reduction is long enough (sc_igemm_tile12_avx512 and sc_igemm_tile12_table_avx512).
typedef struct {
    sc_igemm_tile_fn tile;
    int pass_panels, twelve;
} sc_igemm_kernels;

// Whether tiles t and t + 1 of a chunk of `count` pixels go at once: both full, and the reduction
// (taps x channels) long enough.
static inline int sc_pair_tiles(sc_igemm_kernels k, long steps, long count, long t, long tiles) {
    return k.twelve && steps >= SC_TWELVE_MIN_STEPS && t + 1 < tiles &&
           sc_tile_pixels(count, t) + sc_tile_pixels(count, t + 1) == 2 * SC_TILE_ROWS;
}

// Everything one tile needs besides its panel and position: the convolution, the chunk being
// worked on and the reduction block.
typedef struct {
    const sc_conv_geometry *g;
    const float *packed, *input;
    float *output;
    const sc_epilogue *epilogue;
    sc_igemm_kernels k;
    sc_igemm_plan p;
    int cg, mg, ppg, taps, direct;
    size_t group_floats;
    float *partial;               // the chunk's partial sums when the output is also the residual, else NULL
    const float *const *pointers; // the chunk's pointer table (unless direct)
    const unsigned char *merged;  // per tile of the chunk: its table lists kernel rows, not taps
    long c0, count;               // the chunk
    long table_tile;              // the tile whose table is first: 0, or the tile that built its own
    int cbeg, cc, first, last;    // the reduction block
} sc_tile_job;

// Group gi's weights, then the blocks before this one (ppg panels of taps x channel_block each), then panel j.
static inline const float *sc_panel_weights(const sc_tile_job *x, int q) {
    const int gi = q / x->ppg, j = q - gi * x->ppg;
    return x->packed + (size_t)gi * x->group_floats + ((size_t)x->cbeg * x->ppg + (size_t)j * x->cc) * x->taps * SC_PANEL;
}

// Panels [q, q_end) of one group (q_end - q consecutive panels, the last maybe partial), from panel q's weights.
static inline sc_igemm_panels sc_panels_at(const sc_tile_job *x, int q, int q_end) {
    const int j_last = q_end - 1 - q / x->ppg * x->ppg;
    const int last_width = x->mg - j_last * SC_PANEL < SC_PANEL ? x->mg - j_last * SC_PANEL : SC_PANEL;
    return (sc_igemm_panels){sc_panel_weights(x, q), 0, (size_t)x->taps * x->cc * SC_PANEL, q_end - q, last_width};
}

// The epilogue of a tile whose first row is output pixel first_row and first column channel oc0.
static inline sc_igemm_epi sc_epi_at(const sc_tile_job *x, int oc0, long first_row, float *partial) {
    const size_t ldc = (size_t)x->g->out_channels;
    const sc_epilogue *ep = x->epilogue;
    const int act = ep && ep->act_output;
    return (sc_igemm_epi){ep && ep->scale ? ep->scale + oc0 : NULL, ep && ep->shift ? ep->shift + oc0 : NULL,
                          ep && ep->residual ? ep->residual + (size_t)first_row * ldc + oc0 : NULL,
                          ldc, ep ? ep->activation : 0, x->first, x->last, partial,
                          act ? ep->act_output + (size_t)first_row * ldc + oc0 : NULL,
                          act ? ep->act_scale + oc0 : NULL, act ? ep->act_shift + oc0 : NULL, act ? ep->act_relu : 0};
}

// Tile t of the chunk against panels [q, q_end) of one group; with `pair` (never for direct), tiles t
// and t + 1, whose tables list the same (merged kernel rows or taps).
static inline void sc_tile_at(const sc_tile_job *x, int q, int q_end, long t, int pair) {
    const int gi = q / x->ppg, j = q - gi * x->ppg, oc0 = gi * x->mg + j * SC_PANEL;
    const long first_in_chunk = sc_tile_first(x->count, t), first_row = x->c0 + first_in_chunk;
    const int mr = sc_tile_pixels(x->count, t);
    const size_t ldc = (size_t)x->g->out_channels;
    // Partial sums of a conv that writes over its residual go to the workspace until the last block.
    float *partial = x->partial ? x->partial + (size_t)first_in_chunk * ldc + oc0 : NULL;
    const sc_igemm_epi e = sc_epi_at(x, oc0, first_row, partial);
    sc_igemm_panels b = sc_panels_at(x, q, q_end);
    float *c = partial && !x->last ? partial : x->output + (size_t)first_row * ldc + oc0;
    if (x->direct) {  // a 1x1 stride-1 convolution reads pixel rows in place
        const float *a[SC_TILE_ROWS];
        for (int r = 0; r < SC_TILE_ROWS; r++) a[r] = x->input + (size_t)(first_row + (r < mr ? r : mr - 1)) * x->g->in_channels;
        x->k.tile(1, x->cc, a, (size_t)gi * x->cg + x->cbeg, &b, c, mr, &e);
        return;
    }
    // One run per kernel row (ks taps x all channels) where the table lists merged rows.
    const int merged = x->merged[t - x->table_tile], ks = x->g->kernel;
    const int taps = merged ? ks : x->taps, kc = merged ? ks * x->cc : x->cc;
    const size_t offset = merged ? 0 : (size_t)gi * x->cg + x->cbeg, table_floats = (size_t)x->taps * SC_TILE_ROWS;
    const float *const *table = x->pointers + (t - x->table_tile) * table_floats;
    b.tap_stride = (size_t)kc * SC_PANEL;
#if defined(__x86_64__)
    if (pair) {
        sc_igemm_tile12_table_avx512(taps, kc, table, table_floats, offset, &b, c, &e);
        return;
    }
#else
    (void)pair;
#endif
    x->k.tile(taps, kc, table, offset, &b, c, mr, &e);
}

// Tile t's share of the next panel's weights (`lines` cache lines from `next`), fetched
// into L2 while the tiles pass under this panel, so that no panel starts by waiting for memory: an
// untied weight is read once per inference, from DRAM (inside ConvNeXt-T, its stage-4 1x1s took
// 1.06-1.10 of the time without). Only while a tile's share is at most SC_PREFETCH_SHARE_LINES:
// the share goes out at once when the tile starts, and a large one (256 lines for ConvNeXt-T's
// 1536 -> 384 1x1s, whose 96 KiB panels pass over 6 tiles per chunk) outran the misses L2 can
// have in flight and held up the tile's own loads; the hardware prefetcher follows those long
// panels by itself (measured faster without the prefetches: those steps inside the network, and
// resnet-50's 1x1s over 1024 channels in kernel A/B with cold caches; figures in the README).
static inline void sc_prefetch_share(const char *next, long lines, long tiles, long t) {
    const long per_tile = (lines + tiles - 1) / tiles;
    if (per_tile > SC_PREFETCH_SHARE_LINES) return;
    for (long l = t * per_tile; l < (t + 1) * per_tile && l < lines; l++) __builtin_prefetch(next + l * 64, 0, 2);
}

// Tiles [0, tiles) of the chunk against panels [q, q_end) of a direct (1x1 stride-1) convolution with
// one group, for the current reduction block (with no partial sums apart): the tile's operands set up
// once and moved along by a tile's rows, instead of rebuilt per tile by sc_tile_at (for a 1x1 over 32
// channels into one panel, that set-up is as long as a fifth of the tile's FMAs); `next` and `next_lines`
// as for sc_prefetch_share (0 lines: none).
static void sc_direct_tiles(const sc_tile_job *x, int q, int q_end, long tiles, const char *next, long next_lines) {
    const size_t ldc = (size_t)x->g->out_channels, lda = (size_t)x->g->in_channels;
    const int oc0 = q * SC_PANEL;
    sc_igemm_epi e = sc_epi_at(x, oc0, x->c0, NULL);
    const sc_igemm_panels b = sc_panels_at(x, q, q_end);
    float *c = x->output + (size_t)x->c0 * ldc + oc0;
    const float *row = x->input + (size_t)x->c0 * lda;
    for (long t = 0; t < tiles;) {
        if (next_lines > 0) sc_prefetch_share(next, next_lines, tiles, t);
        int mr = sc_tile_pixels(x->count, t);
        const float *a[SC_TILE_ROWS];
#if defined(__x86_64__)
        if (sc_pair_tiles(x->k, x->cc, x->count, t, tiles)) {
            if (next_lines > 0) sc_prefetch_share(next, next_lines, tiles, t + 1);
            mr = 2 * SC_TILE_ROWS;
            sc_igemm_tile12_avx512(x->cc, row + x->cbeg, lda, &b, c, &e);
            t += 2;
        } else
#endif
        {
            for (int r = 0; r < SC_TILE_ROWS; r++) a[r] = row + (r < mr ? r : mr - 1) * lda;
            x->k.tile(1, x->cc, a, (size_t)x->cbeg, &b, c, mr, &e);
            t++;
        }
        row += mr * lda, c += mr * ldc;
        if (e.residual) e.residual += mr * ldc;
        if (e.act) e.act += mr * ldc;
    }
}

static void sc_igemm_run(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                  const sc_epilogue *epilogue, float *workspace, long pixel_begin, long pixel_end,
                  int panel_begin, int panel_end, sc_igemm_kernels k) {
    sc_tile_job x = {0};
    x.g = g, x.packed = packed, x.input = input, x.output = output, x.epilogue = epilogue, x.k = k;
    x.p = sc_igemm_make_plan(g);
    const int groups = sc_groups(g);
    x.cg = g->in_channels / groups, x.mg = g->out_channels / groups;
    x.ppg = sc_panels_per_group(g), x.taps = g->kernel * g->kernel;
    x.group_floats = (size_t)x.ppg * x.taps * x.cg * SC_PANEL;
    // Output pixel p reads input pixel p: no pointer table.
    x.direct = g->algorithm == SC_CONV_GEMM_1X1;
    float *zero = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    const size_t zero_floats = sc_zero_row_floats(g);
    memset(zero, 0, zero_floats * sizeof(float));
    // Partial sums apart only when the output is also the residual (see sc_partial_floats).
    x.partial = x.p.blocks > 1 && epilogue && epilogue->residual == output ? zero + zero_floats : NULL;
    const float **pointers = (const float **)(void *)(zero + zero_floats + sc_partial_floats(&x.p, g));
    unsigned char *merged = (unsigned char *)(pointers + (size_t)sc_max_chunk(&x.p) * x.taps);
    x.pointers = pointers, x.merged = merged;
    // Kernel rows merge into one run each when one block holds all the channels of the one group.
    const int merge = groups == 1 && x.p.blocks == 1 && x.taps > 1;
    // With one reduction block and small weights, each tile visits every panel before the next tile:
    // the tile's inputs stay in L1 and its output and residual rows are written and read in order (a
    // 1x1 expansion writes four times what it reads). Otherwise each pass's weight block (a panel's;
    // four at the AVX-512 level, in L2 where reductions are long) stays in cache while every tile of
    // the chunk passes under it.
    // So too over a few tiles (a 7 x 7 map) with weights up to SC_FEW_TILES_WEIGHTS: each panel would
    // pass over only those few tiles, and each tile read its inputs again from L2 for every panel
    // (inside MobileNetV2 and EfficientNet-B0, their 7 x 7 1x1s with 0.4 to 1.6 MiB of weights took
    // 0.88-0.95 of the time; over 14 x 14 maps, 33 tiles, it measured within noise). Where those
    // weights pass SC_PANEL_BLOCK_MIN, a direct convolution's tiles visit the panels a block of
    // SC_PANEL_BLOCK_BYTES at a time, which stays in L2 while the few tiles pass, rather than every
    // tile reading all the weights from L3 (on a 1.25 MiB L2, 1.2 to 1.6 MiB again for every tile or
    // pair of tiles: kernel A/B 0.69-0.87 on MobileNetV2's and EfficientNet-B0's 7 x 7 1x1s of
    // that size; below 1 MiB, blocks measured 1.11-1.15 on an L2 that holds all the weights).
    const long panel_bytes = (long)x.taps * x.p.channel_block * SC_PANEL * 4, weight_bytes = panel_bytes * (panel_end - panel_begin);
    const int few_tiles = pixel_end - pixel_begin <= SC_FEW_TILES * SC_TILE_ROWS && weight_bytes <= SC_FEW_TILES_WEIGHTS;
    const int tiles_outer = x.p.blocks == 1 && (weight_bytes <= SC_SMALL_WEIGHTS || few_tiles);
    // When each tile visits every panel at once, it builds its own pointer table just before: the
    // chunk's whole table (295 KiB for a 3x3/2 stem's 4096 pixels) would compete with the input for L2
    // (kernel A/B 0.97 on that stem).
    const int tile_tables = !x.direct && tiles_outer;
    // The panels a tile visits at once where tiles go outer (see above): all, or a block's.
    int panel_block = (int)(SC_PANEL_BLOCK_BYTES / panel_bytes) / k.pass_panels * k.pass_panels;
    if (panel_block < k.pass_panels) panel_block = k.pass_panels;
    if (weight_bytes <= SC_PANEL_BLOCK_MIN) panel_block = panel_end - panel_begin;
    const long chunk = sc_balanced_chunk(&x.p, pixel_end - pixel_begin);
    for (long c0 = pixel_begin; c0 < pixel_end; c0 += chunk) {
        x.c0 = c0;
        x.count = pixel_end - c0 < chunk ? pixel_end - c0 : chunk;
        const long tiles = (x.count + SC_TILE_ROWS - 1) / SC_TILE_ROWS;
        if (!x.direct && !tile_tables) sc_fill_pointers(g, input, zero, c0, x.count, merge, pointers, merged);
        sc_pixel next_pixel = sc_locate(g, input, c0);
        for (int kb = 0; kb < x.p.blocks; kb++) {
            x.cbeg = kb * x.p.channel_block;
            x.cc = x.cg - x.cbeg < x.p.channel_block ? x.cg - x.cbeg : x.p.channel_block;
            x.first = kb == 0;
            x.last = kb == x.p.blocks - 1;
            if (tiles_outer && x.direct && groups == 1) {
                for (int q = panel_begin; q < panel_end; q += panel_block)
                    sc_direct_tiles(&x, q, q + panel_block < panel_end ? q + panel_block : panel_end, tiles, NULL, 0);
                continue;
            }
            if (tiles_outer) {
                for (long t = 0; t < tiles; t++) {
                    if (tile_tables) {
                        next_pixel = sc_fill_tile(g, next_pixel, zero, sc_tile_pixels(x.count, t), merge, pointers, merged);
                        x.table_tile = t;
                    }
                    for (int q = panel_begin; q < panel_end;) {  // the panels of each group in one call
                        const int group_end = (q / x.ppg + 1) * x.ppg, q_end = group_end < panel_end ? group_end : panel_end;
                        sc_tile_at(&x, q, q_end, t, 0);
                        q = q_end;
                    }
                }
                continue;
            }
            for (int q = panel_begin, n; q < panel_end; q += n) {
                // k.pass_panels panels of one group at a time.
                const int group_end = (q / x.ppg + 1) * x.ppg, end = group_end < panel_end ? group_end : panel_end;
                n = end - q < k.pass_panels ? end - q : k.pass_panels;
                // The next pass's weights (a block's panels are contiguous: they follow these).
                const long panel_floats = (long)x.taps * x.cc * SC_PANEL, after = panel_end - (q + n);
                const char *next = (const char *)(sc_panel_weights(&x, q) + n * panel_floats);
                const long next_lines = (after < n ? after : n) * panel_floats * 4 / 64;
                if (x.direct && groups == 1 && !x.partial) {
                    sc_direct_tiles(&x, q, q + n, tiles, next, next_lines);
                    continue;
                }
                for (long t = 0; t < tiles;) {
                    // Pairs of tiles only where their tables list alike (direct has none).
                    const int pair = !x.direct && sc_pair_tiles(k, (long)x.taps * x.cc, x.count, t, tiles) &&
                                     merged[t - x.table_tile] == merged[t + 1 - x.table_tile];
                    for (long u = t; u <= t + pair; u++) sc_prefetch_share(next, next_lines, tiles, u);
                    sc_tile_at(&x, q, q + n, t, pair);
                    t += 1 + pair;
                }
            }
        }
    }
}

enum { SC_DW_LANES = 64 };

// The sums of output channels [c0, c0 + n) of the pixel at px over its taps (see sc_depthwise_nhwc).
static inline __attribute__((always_inline)) void sc_depthwise_lanes(const sc_conv_geometry *g, sc_pixel px,
                                                                     const float *packed, const float *zero, int c0,
                                                                     int n, float *acc) {
    const int m = g->out_channels, mult = m / g->in_channels, ks = g->kernel, ex = sc_exchanges(g);
    const int cg = g->algorithm == SC_CONV_GROUPED ? g->in_channels / sc_groups(g) : 1;
    int group_lane[SC_DW_LANES];  // by shifts: each lane's place in its group, for every tap
    if (cg > 1)
        for (int i = 0, r = c0 % cg; i < n; i++, r = r + 1 == cg ? 0 : r + 1) group_lane[i] = r;
    for (int i = 0; i < n; i++) acc[i] = 0.0f;
    for (int ky = 0; ky < ks; ky++)
        for (int kx = 0; kx < ks; kx++) {
            const float *src = sc_tap_row(g, px, zero, ky, kx);
            const float *w = packed + (size_t)(ky * ks + kx) * ex * m + c0;
            if (cg > 1 && sc_grouped_by_exchange(cg))
                for (int k = 0; k < ex; k++)
                    for (int i = 0; i < n; i++) acc[i] += src[(c0 + i) ^ k] * w[(size_t)k * m + i];
            else if (cg > 1)  // by shifts, over the lanes whose shifted input is in their group
                for (int k = 0; k < ex; k++)
                    for (int i = 0; i < n; i++) {
                        const int j = group_lane[i] + k - (cg - 1);
                        if (j >= 0 && j < cg) acc[i] += src[c0 + i + k - (cg - 1)] * w[(size_t)k * m + i];
                    }
            else if (mult == 1)
                for (int i = 0; i < n; i++) acc[i] += src[c0 + i] * w[i];
            else  // by runs of one input channel's outputs, with no division per lane
                for (int i = 0, q = c0 / mult, r = c0 - q * mult; i < n; q++, r = 0) {
                    const int run = mult - r < n - i ? mult - r : n - i;
                    for (int k = 0; k < run; k++, i++) acc[i] += src[q] * w[i];
                }
        }
}

// Depthwise (one input channel per group): out[p][oc] = sum over taps of in[tap row][oc / multiplier]
// * w[tap][oc]; grouped: the sum over taps and exchanges k of in[tap row][oc ^ k] * w[tap][k][oc], or
// over the shifts k that stay in oc's group of in[tap row][oc + k - (cg - 1)] * w[tap][k][oc].
// Vectorized over output channels by the compiler (but a channel multiplier's lanes go by runs of one
// input channel's outputs): the portable level, and what sc_depthwise_avx2 does not take (kernels above
// 13 x 13, but for odd ones up to 63 x 63 at stride 1 with one output channel per input channel),
// compiled a second time for AVX2 and FMA.
static inline __attribute__((always_inline)) void sc_depthwise_nhwc_body(const sc_conv_geometry *g, const float *packed,
                                                                         const float *input, float *output,
                                                                         const sc_epilogue *e, const float *zero,
                                                                         long pixel_begin, long pixel_end, int cb,
                                                                         int ce) {
    const int m = g->out_channels;
    for (long p = pixel_begin; p < pixel_end; p++)
        for (int c0 = cb; c0 < ce; c0 += SC_DW_LANES) {
            const sc_pixel px = sc_locate(g, input, p);
            float acc[SC_DW_LANES];
            // A whole block with its lane count a constant, so that the sums stay in registers.
            if (ce - c0 >= SC_DW_LANES) {
                sc_depthwise_lanes(g, px, packed, zero, c0, SC_DW_LANES, acc);
                sc_epilogue_pixel(acc, output, (size_t)p * m, c0, c0 + SC_DW_LANES, e);
            } else {
                sc_depthwise_lanes(g, px, packed, zero, c0, ce - c0, acc);
                sc_epilogue_pixel(acc, output, (size_t)p * m, c0, ce, e);
            }
        }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static void sc_depthwise_nhwc_avx2(const sc_conv_geometry *g, const float *packed,
                                                                         const float *input, float *output,
                                                                         const sc_epilogue *e, const float *zero,
                                                                         long pixel_begin, long pixel_end, int cb,
                                                                         int ce) {
    sc_depthwise_nhwc_body(g, packed, input, output, e, zero, pixel_begin, pixel_end, cb, ce);
}
#endif

static void sc_depthwise_nhwc(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                              const sc_epilogue *e, const float *zero, long pixel_begin, long pixel_end, int cb, int ce) {
#if defined(__x86_64__)
    if (sc_level_internal() >= SC_LEVEL_AVX2) {
        sc_depthwise_nhwc_avx2(g, packed, input, output, e, zero, pixel_begin, pixel_end, cb, ce);
        return;
    }
#endif
    sc_depthwise_nhwc_body(g, packed, input, output, e, zero, pixel_begin, pixel_end, cb, ce);
}

void sc_conv_nhwc(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                  const sc_epilogue *epilogue, float *workspace,
                  long pixel_begin, long pixel_end, int panel_begin, int panel_end) {
    if (pixel_begin < 0) pixel_begin = 0;
    if (panel_begin < 0) panel_begin = 0;
    const int panels = sc_conv_nhwc_panels(g);
    if (panel_end > panels) panel_end = panels;
    if (pixel_begin >= pixel_end || panel_begin >= panel_end || g->out_channels / sc_groups(g) <= 0 ||
        g->in_channels / sc_groups(g) <= 0)
        return;
    if (sc_depthwise(g)) {
        float *scratch = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
        const int ce = panel_end * SC_PANEL < g->out_channels ? panel_end * SC_PANEL : g->out_channels;
#if defined(__x86_64__)
        if (sc_level_internal() >= SC_LEVEL_AVX2 && sc_depthwise_avx2_takes(g)) {
            sc_depthwise_avx2(g, packed, input, output, epilogue, scratch, pixel_begin, pixel_end, panel_begin * SC_PANEL, ce);
            return;
        }
#endif
        memset(scratch, 0, sc_zero_row_floats(g) * sizeof(float));
        sc_depthwise_nhwc(g, packed, input, output, epilogue, scratch, pixel_begin, pixel_end, panel_begin * SC_PANEL, ce);
        return;
    }
    // Where weights pass over the tiles a panel at a time, the AVX-512 kernel takes four: it needs two
    // for 12 independent sums (kernel A/B 1.04-1.28 one at a time on resnet-50's stage 4), and a pair
    // of tiles then goes over two panels and again over the next two with its inputs still in L1
    // (against passes of two: 0.96 on resnet-50's convolutions in all, 0.86-0.93 on its stride-2
    // 3x3s and stage-4 1x1s, ConvNeXt-T's downsampling 2x2s 0.87-0.92).
    sc_igemm_kernels k = {sc_igemm_tile_portable, 1, 0};
#if defined(__x86_64__)
    const int level = sc_level_internal();
    if (level >= SC_LEVEL_AVX512) k = (sc_igemm_kernels){sc_igemm_tile_avx512, 4, 1};
    else if (level >= SC_LEVEL_AVX2) k.tile = sc_igemm_tile_avx2;
#endif
    sc_igemm_run(g, packed, input, output, epilogue, workspace, pixel_begin, pixel_end, panel_begin, panel_end, k);
}
