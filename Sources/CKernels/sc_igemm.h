// Private declarations of the NHWC convolution (an indirect GEMM, after XNNPACK's IGEMM): rows of the
// GEMM are output pixels, columns output channels, and the reduction runs over kernel taps and input
// channels. For each tile of output pixels the driver lists, per tap, where each pixel's input
// channels start (a pointer into the input, or into a zero row for padding), so the micro-kernels read
// the input in place: no im2col buffer, any stride and padding.
#ifndef SC_IGEMM_H
#define SC_IGEMM_H

#include "sc_internal.h"

// Output channels per packed panel (two ymm registers).
#define SC_PANEL 16
// Pixel rows of a micro-tile, at every level (the micro-kernels handle fewer).
#define SC_TILE_ROWS 6

// What a micro-kernel does with its tile when it stores it.
typedef struct {
    const float *scale;    // at the tile's first channel, or NULL (1)
    const float *shift;    // likewise (0)
    const float *residual; // at the tile's first element, row stride ldc, or NULL
    size_t ldc;            // row stride of the output and the residual (out_channels)
    int activation;        // SC_ACT_*
    int first;             // first reduction block: overwrite instead of accumulating
    int last;              // last reduction block: apply the epilogue
    const float *partial;  // where the previous blocks' sums are, row stride ldc, or NULL (at the output)
    float *act;            // at the tile's first element, row stride ldc, or NULL: the second output
    const float *act_scale, *act_shift; // at the tile's first channel (never NULL with act)
    int act_relu;
} sc_igemm_epi;

// The weights a tile row is multiplied with: `panels` consecutive panels of the packed weights, panel
// p at w + p * panel_stride, tap t of a panel at + t * tap_stride (kc x SC_PANEL floats, k-major).
// Every panel is full but the last, which has `last_width` columns.
typedef struct {
    const float *w;
    size_t tap_stride, panel_stride;
    int panels, last_width;
} sc_igemm_panels;

// The columns of a depthwise convolution's staged input rows (sc_depthwise_avx2.c): every input column
// an output row's taps reach, padding included.
static inline size_t sc_depthwise_stage_columns(const sc_conv_geometry *g) {
    return (size_t)(g->out_width - 1) * g->stride + g->kernel;
}
// A depthwise convolution's scratch at every level: a row of zeros for the padding taps, or the staged
// input rows, ks of them by blocks of eight channels (sixteen at the AVX-512 level).
static inline size_t sc_depthwise_scratch_floats(const sc_conv_geometry *g) {
    const size_t zeros = (size_t)g->kernel * g->in_channels;
    const size_t stage = (size_t)(g->in_channels + 15) / 16 * 16 * g->kernel * sc_depthwise_stage_columns(g);
    return zeros > stage ? zeros : stage;
}

// The micro-kernel contract, at every level:
//   for each of `taps` taps t, rows r < SC_TILE_ROWS read a[t][r] + offset .. + kc (a holds
//   taps x SC_TILE_ROWS pointers; rows >= mr repeat a valid row); for each panel p, rows r < mr and
//   its columns j are stored at c[r * ldc + p * SC_PANEL + j], the epilogue's pointers likewise
//   advancing by SC_PANEL per panel. One call covers a row of panels so that short reductions (a 1x1
//   over 64 channels is 64 steps) pay the call, the row pointers and the epilogue's set-up once.
typedef void (*sc_igemm_tile_fn)(int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                                 float *c, int mr, const sc_igemm_epi *e);

// Whether a grouped convolution of cg channels per group brings each group's inputs to its lanes by
// exchanges within the vector (groups that are aligned runs of 2 or 4 lanes), rather than by shifts.
static inline int sc_grouped_by_exchange(int cg) { return cg == 2 || cg == 4; }

void sc_igemm_tile_portable(int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                            float *c, int mr, const sc_igemm_epi *e);
#if defined(__x86_64__)
void sc_igemm_tile_avx2(int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                        float *c, int mr, const sc_igemm_epi *e);
void sc_igemm_tile_avx512(int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                          float *c, int mr, const sc_igemm_epi *e);
// Two full tiles at once, the same results as two calls of sc_igemm_tile_avx512: of a 1x1 convolution
// (pixel r's kc channels at a + r lda, r < 12); or by pointer tables, the first tile's at a, the
// second's at a + second.
void sc_igemm_tile12_avx512(int kc, const float *a, size_t lda, const sc_igemm_panels *b, float *c,
                            const sc_igemm_epi *e);
void sc_igemm_tile12_table_avx512(int taps, int kc, const float *const *a, size_t second, size_t offset,
                                  const sc_igemm_panels *b, float *c, const sc_igemm_epi *e);
// Depthwise with one output channel per input channel, and grouped (SC_CONV_GROUPED), with kernels up
// to 13x13, and plain depthwise at stride 1 with odd kernels up to 63 x 63 (sc_depthwise_avx2.c, where
// sc_depthwise_avx2_takes says which):
// output pixels [pixel_begin, pixel_end), channels [cb, ce); `scratch`, 32-byte aligned, holds
// sc_depthwise_scratch_floats(g).
enum { SC_DW_MAX_KERNEL = 13, SC_DW_STAGE_MAX_KERNEL = 63 };
int sc_depthwise_avx2_takes(const sc_conv_geometry *g);
// The AVX-512 level's plain depthwise kernels (sc_depthwise_avx512.c), which sc_depthwise_avx2 calls:
// for runs of `pixels` whose taps are all inside the image, for blocks of up to four pixels through
// their pointer tables, and for the stage (sc_dw_rows, sc_dw_plain_pixels and sc_dw_staged in
// sc_depthwise_rows.h).
void sc_dw_rows_avx512(int ks, int stride, int pixels, const float *const *rows, const float *w, int channels,
                       int cb, int ce, float *out, const sc_epilogue *e);
void sc_dw_pixels_avx512(int pixels, int taps, const float *const *ptr, const float *const *rows, int ks, int stride,
                         const float *w, int channels, int cb, int ce, float *out, const sc_epilogue *e);
void sc_dw_staged_avx512(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                         const sc_epilogue *e, float *stage, long pixel_begin, long pixel_end, int cb, int ce);
void sc_depthwise_avx2(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                       const sc_epilogue *epilogue, float *scratch, long pixel_begin, long pixel_end, int cb, int ce);
#endif

#endif
