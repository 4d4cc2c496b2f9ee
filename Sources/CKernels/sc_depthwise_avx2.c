// The AVX2+FMA depthwise convolution (one input channel per output channel), NHWC: blocks of four
// output pixels along a row x sixteen channels, in eight ymm accumulators (two FMA pipes of four
// cycles' latency need eight independent sums). For each tap, two vectors of weights (packed
// [tap][channel], so a tap's channels are contiguous) and one input vector per pixel: 1.25 loads per
// FMA, against 2 for a loop that reloads the weight for every pixel. The block's input pointers are
// listed once per tap and pixel (the zero row in the padding, which is multiplied as PyTorch does, so
// that a non-finite weight reaches the border pixels too) and serve all the block's channels: the
// block's k x k x 4 pixels of input stay in L1 while its channels are swept. After XNNPACK's and
// ONNX Runtime MLAS's depthwise kernels (pixels outer, channels inner, pointer per tap). Where a row
// holds eight or more pixels whose taps are all inside the image (3 x 3, or 5 x 5 and 7 x 7 at stride 2),
// those pixels go by runs instead (sc_dw_rows), which load each input vector once per kernel row.
// Odd kernels of 5 x 5 to 63 x 63 at stride 1 read their input from a stage instead (sc_dw_staged): the
// rows copied by blocks of eight channels, padding included, which the same row kernel sweeps (past
// 13 x 13, its variant with the kernel size a variable, sc_dw_wide_block). The plain depthwise kernels
// (blocks of pixels, runs by rows, the stage) are sc_depthwise_rows.h at eight lanes; at the AVX-512
// level its sixteen-lane copy (sc_depthwise_avx512.c) takes them, the stage up to 7 x 7.
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>
#include "sc_igemm.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#include "sc_depthwise.h"
#define SC_DW_W 8
#include "sc_depthwise_rows.h"
#undef SC_DW_W

// Lane i's input through exchange k of a grouped convolution: x[i ^ k] (k < cg <= 4), so that over k
// each lane meets every input channel of its group (groups of cg lanes, aligned) once: an in-lane
// permute with an immediate, a cycle beside the FMAs.
static inline __attribute__((always_inline)) __m256 sc_dw_exchange(__m256 x, int k) {
    switch (k) {
    case 1: return _mm256_permute_ps(x, 0xB1);  // lanes 1 0 3 2
    case 2: return _mm256_permute_ps(x, 0x4E);  // lanes 2 3 0 1
    case 3: return _mm256_permute_ps(x, 0x1B);  // lanes 3 2 1 0
    default: return x;
    }
}

// One tap of a grouped convolution's block (see sc_dw_grouped_block): x[p] is pixel p's input at channel c,
// wt the tap's weights at channel c, [exchange][channel]. The pixels' input vectors are loaded once,
// then each exchange's weights once for all of them; even and odd exchanges add into two sums per
// pixel (acc[p] and acc[SC_DW_PIXELS + p]), so that eight chains of FMAs are in flight.
static inline __attribute__((always_inline)) void sc_dw_exchange_tap(int pixels, int cg, const float *const *x,
                                                                     const float *wt, int channels, int tail,
                                                                     __m256i mask, __m256 *acc) {
    __m256 xv[SC_DW_PIXELS];
    for (int p = 0; p < pixels; p++) xv[p] = tail ? _mm256_maskload_ps(x[p], mask) : _mm256_loadu_ps(x[p]);
    for (int k = 0; k < cg; k++) {
        const __m256 wv = tail ? _mm256_maskload_ps(wt + (size_t)k * channels, mask) : _mm256_loadu_ps(wt + (size_t)k * channels);
        for (int p = 0; p < pixels; p++) {
            __m256 *sum = &acc[(k & 1) * SC_DW_PIXELS + p];
            *sum = _mm256_fmadd_ps(sc_dw_exchange(xv[p], k), wv, *sum);
        }
    }
}

// One tap of a grouped convolution's block whose groups are not aligned runs of 2 or 4 lanes (cg of 3,
// 5 to 16): lane i, the r-th channel of its group, needs the group's channels c + i - r to c + i - r +
// cg - 1, which are c + i + s for the shifts s from -r to cg - 1 - r. Over the 2 cg - 1 shifts k - (cg
// - 1) every lane meets each of them once; masks[k] keeps the lanes whose shifted channel is in their
// group, the rest load zero (no read past the pixel, and no NaN of another group times a zero weight).
// A masked load per FMA where exchanges need a permute, and cg of every 2 cg - 1 products count, where
// a GEMM panel's 16 columns hold cg (bench/kernel-shapes/odd-groups.txt; AlgorithmSelection chooses
// where this pays). Weights packed [tap][k][channel].
static inline __attribute__((always_inline)) void sc_dw_shift_step(int pixels, int cg, int k, const float *const *x,
                                                                   const float *wt, int channels, int tail,
                                                                   const __m256i *masks, __m256i mask, __m256 *sum) {
    const float *wk = wt + (size_t)k * channels;
    const __m256 wv = tail ? _mm256_maskload_ps(wk, mask) : _mm256_loadu_ps(wk);
    for (int p = 0; p < pixels; p++)
        sum[p] = _mm256_fmadd_ps(_mm256_maskload_ps(x[p] + k - (cg - 1), masks[k]), wv, sum[p]);
}
static inline __attribute__((always_inline)) void sc_dw_shift_tap(int pixels, int cg, const float *const *x,
                                                                  const float *wt, int channels, int tail,
                                                                  const __m256i *masks, __m256i mask, __m256 *acc) {
    // Even and odd shifts into the two sums, by pairs: with the shift count a variable, a sum picked by
    // k & 1 would live in memory. The count, 2 cg - 1, is odd.
    int k = 0;
    for (; k + 1 < 2 * cg - 1; k += 2) {
        sc_dw_shift_step(pixels, cg, k, x, wt, channels, tail, masks, mask, acc);
        sc_dw_shift_step(pixels, cg, k + 1, x, wt, channels, tail, masks, mask, acc + SC_DW_PIXELS);
    }
    sc_dw_shift_step(pixels, cg, k, x, wt, channels, tail, masks, mask, acc);
}

// The masks of sc_dw_shift_tap for the lanes c .. c + 7 (the first `tail` of them where tail > 0).
static inline __attribute__((always_inline)) void sc_dw_shift_masks(int cg, int c, int tail, __m256i *masks) {
    int group_lane[8];
    for (int i = 0, r = c % cg; i < 8; i++, r = r + 1 == cg ? 0 : r + 1) group_lane[i] = r;
    const __m256i r = _mm256_loadu_si256((const __m256i *)group_lane), lanes = sc_mask8(tail ? tail : 8);
    for (int k = 0; k < 2 * cg - 1; k++) {
        const __m256i j = _mm256_add_epi32(r, _mm256_set1_epi32(k - (cg - 1)));  // the input's place in the group
        const __m256i inside = _mm256_and_si256(_mm256_cmpgt_epi32(j, _mm256_set1_epi32(-1)),
                                                _mm256_cmpgt_epi32(_mm256_set1_epi32(cg), j));
        masks[k] = _mm256_and_si256(inside, lanes);
    }
}

// Channels [c, c + 8) of `pixels` pixels of a grouped convolution (cg > 1; constants after inlining, as
// are `shifted` and cg but by shifts); with `tail` > 0 only `tail` channels (masked loads and stores,
// never touching the others; a multiple of cg, so exchanges stay among loaded lanes). The input of tap
// t and pixel p is at ptr[t * SC_DW_PIXELS + p]; or, with `rows` (a block inside the image), at
// rows[ky] + (kx + p * stride) * channels, addresses the loop computes instead of loading. Each input
// vector goes through cg exchanges, weights packed [tap][exchange][channel], or is loaded at 2 cg - 1
// shifts (sc_dw_shift_tap); two sums per pixel.
static inline __attribute__((always_inline)) void sc_dw_grouped_block(int pixels, int cg, int shifted, int taps,
                                                                      const float *const *ptr,
                                                                      const float *const *rows, int ks, int stride,
                                                                      const float *w, int channels, int c, int tail,
                                                                      float *out, const sc_epilogue *e) {
    __m256 acc[SC_DW_PIXELS * 2];
    const __m256i mask = sc_mask8(tail);
    for (int i = 0; i < SC_DW_PIXELS * 2; i++) acc[i] = _mm256_setzero_ps();
    __m256i masks[2 * SC_GROUPED_MAX - 1];
    if (shifted) sc_dw_shift_masks(cg, c, tail, masks);
    const size_t step = (size_t)stride * channels, tap_floats = (size_t)(shifted ? 2 * cg - 1 : cg) * channels;
    // Taps by kernel rows and columns where the rows are given: a tap's row and column by division
    // (t / ks, t % ks, the kernel size a variable) cost more than its FMAs at 2 and 4 per group.
    const int kernel_rows = rows ? ks : 1, kernel_columns = rows ? ks : taps;
    const float *wt = w + c;
    for (int ky = 0; ky < kernel_rows; ky++)
        for (int kx = 0; kx < kernel_columns; kx++, ptr += SC_DW_PIXELS, wt += tap_floats) {
            const float *x[SC_DW_PIXELS];
            for (int p = 0; p < pixels; p++) x[p] = (rows ? rows[ky] + (size_t)kx * channels + p * step : ptr[p]) + c;
            if (shifted) sc_dw_shift_tap(pixels, cg, x, wt, channels, tail, masks, mask, acc);
            else sc_dw_exchange_tap(pixels, cg, x, wt, channels, tail, mask, acc);
        }
    for (int p = 0; p < pixels; p++) acc[p] = _mm256_add_ps(acc[p], acc[SC_DW_PIXELS + p]);
    sc_dw_finish(pixels, 1, acc, channels, c, tail, out, e);
}

// All the channels [cb, ce) of `pixels` (1 to 4) consecutive output pixels, whose tap pointers are in
// ptr[tap][pixel] (or whose rows are `rows`, see sc_dw_grouped_block). `out` and the epilogue's
// residual and second output point at the first pixel. `shifted`: a grouped convolution by shifts
// (sc_dw_shift_tap).
static inline __attribute__((always_inline)) void sc_dw_pixels(int pixels, int cg, int shifted, int taps,
                                                               const float *const *ptr,
                                                               const float *const *rows, int ks, int stride,
                                                               const float *w, int channels, int cb, int ce, float *out,
                                                               const sc_epilogue *e) {
    if (cg == 1) {
        sc_dw_plain_pixels8(pixels, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e);
        return;
    }
    int c = cb;
    for (; c + 8 <= ce; c += 8)
        sc_dw_grouped_block(pixels, cg, shifted, taps, ptr, rows, ks, stride, w, channels, c, 0, out, e);
    if (c < ce) sc_dw_grouped_block(pixels, cg, shifted, taps, ptr, rows, ks, stride, w, channels, c, ce - c, out, e);
}

// sc_dw_pixels with `pixels`, cg and `shifted` as constants: one copy of the block for each (two for four
// pixels, with and without rows, the common blocks). By shifts, cg stays a variable, and `shifted` keeps
// the exchanges' code, whose sums a variable cg would put in memory, out of that copy.
#define SC_DW_PIXELS_CASES(cg, shifted)                                                                                \
    switch (pixels) {                                                                                                  \
    case 4:                                                                                                            \
        if (rows) sc_dw_pixels(4, cg, shifted, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e);              \
        else sc_dw_pixels(4, cg, shifted, taps, ptr, NULL, ks, stride, w, channels, cb, ce, out, e);                   \
        break;                                                                                                         \
    case 3: sc_dw_pixels(3, cg, shifted, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e); break;             \
    case 2: sc_dw_pixels(2, cg, shifted, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e); break;             \
    default: sc_dw_pixels(1, cg, shifted, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e); break;            \
    }
static void sc_dw_pixels_by(int pixels, int cg, int taps, const float *const *ptr, const float *const *rows, int ks,
                            int stride, const float *w, int channels, int cb, int ce, float *out, const sc_epilogue *e) {
    switch (cg) {
    case 4: SC_DW_PIXELS_CASES(4, 0) break;
    case 2: SC_DW_PIXELS_CASES(2, 0) break;
    case 1: SC_DW_PIXELS_CASES(1, 0) break;
    default: SC_DW_PIXELS_CASES(cg, 1) break;  // by shifts, their count a variable
    }
}

// Depthwise convolutions with a channel multiplier m > 1 (output channel o reads input channel o / m),
// by blocks of up to four pixels x eight output channels through the pointer table. A block's lanes
// read input channels q .. q + reads - 1 (reads <= 8), loaded once per tap and pixel and spread over
// the lanes by a permute, lane i taking element (c + i) / m - q. A permute per FMA bounds it at one
// FMA a cycle, where the portable loop loads and divides lane by lane. Even and odd taps add into
// two sums per pixel (acc[p] and acc[SC_DW_PIXELS + p]), so that eight chains of FMAs are in flight.
static inline __attribute__((always_inline)) void sc_dw_spread_tap(int pixels, const float *const *ptr, int q,
                                                                   __m256i load, __m256i spread, const float *wt,
                                                                   int tail, __m256i wmask, __m256 *acc) {
    const __m256 wv = tail ? _mm256_maskload_ps(wt, wmask) : _mm256_loadu_ps(wt);
    for (int p = 0; p < pixels; p++)
        acc[p] = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(_mm256_maskload_ps(ptr[p] + q, load), spread), wv, acc[p]);
}

// A full block of eight output channels whose multiplier (2, 4 or 8) divides eight, starting at an
// input channel's first output (q's): each pixel's 8 / mult input channels are broadcast in one load
// (four as both halves, two into each pair of lanes, one into all), where the general block loads and
// permutes. Lane i then holds output channel order[i] of the block ([0 2 4 6 1 3 5 7] for 2, [0 4 1 5
// 2 6 3 7] for 4, each the other's inverse), the weights permuted to match once per tap for all the
// pixels and the sums back once at the end. The same sums as the general block, in the same order.
static inline __attribute__((always_inline)) __m256 sc_dw_broadcast(const int mult, const float *x) {
    return mult == 8   ? _mm256_broadcast_ss(x)
           : mult == 4 ? _mm256_castpd_ps(_mm256_broadcast_sd((const double *)(const void *)x))
                       : _mm256_broadcast_ps((const __m128 *)(const void *)x);
}

static inline __attribute__((always_inline)) void sc_dw_broadcast_tap(int pixels, int mult, const float *const *ptr,
                                                                      int q, __m256i order, const float *wt,
                                                                      __m256 *acc) {
    const __m256 wv = mult == 8 ? _mm256_loadu_ps(wt) : _mm256_permutevar8x32_ps(_mm256_loadu_ps(wt), order);
    for (int p = 0; p < pixels; p++) acc[p] = _mm256_fmadd_ps(sc_dw_broadcast(mult, ptr[p] + q), wv, acc[p]);
}

static inline __attribute__((always_inline)) void sc_dw_broadcast_block(int pixels, int mult, int taps,
                                                                        const float *const *ptr, int q, const float *w,
                                                                        int channels, int c, float *out,
                                                                        const sc_epilogue *e) {
    const __m256i two = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7), four = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i order = mult == 2 ? two : four, inverse = mult == 2 ? four : two;
    __m256 acc[2 * SC_DW_PIXELS];
    for (int p = 0; p < pixels; p++) acc[p] = acc[SC_DW_PIXELS + p] = _mm256_setzero_ps();
    const float *wt = w + c;
    int t = 0;
    for (; t + 2 <= taps; t += 2, ptr += 2 * SC_DW_PIXELS, wt += 2 * (size_t)channels) {
        sc_dw_broadcast_tap(pixels, mult, ptr, q, order, wt, acc);
        sc_dw_broadcast_tap(pixels, mult, ptr + SC_DW_PIXELS, q, order, wt + channels, acc + SC_DW_PIXELS);
    }
    if (t < taps) sc_dw_broadcast_tap(pixels, mult, ptr, q, order, wt, acc);
    for (int p = 0; p < pixels; p++) {
        acc[p] = _mm256_add_ps(acc[p], acc[SC_DW_PIXELS + p]);
        if (mult != 8) acc[p] = _mm256_permutevar8x32_ps(acc[p], inverse);
    }
    sc_dw_finish(pixels, 1, acc, channels, c, 0, out, e);
}

static inline __attribute__((always_inline)) void sc_dw_spread_pixels(int pixels, int mult, int taps,
                                                                      const float *const *ptr, const float *w,
                                                                      int channels, int cb, int ce, float *out,
                                                                      const sc_epilogue *e) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    int q = cb / mult, r = cb - q * mult;  // block c's first output channel is q * mult + r
    for (int c = cb; c < ce; c += 8) {
        const int tail = ce - c < 8 ? ce - c : 0, n = tail ? tail : 8;
        if (!tail && r == 0 && (mult == 2 || mult == 4 || mult == 8)) {
            if (mult == 2) sc_dw_broadcast_block(pixels, 2, taps, ptr, q, w, channels, c, out, e);
            if (mult == 4) sc_dw_broadcast_block(pixels, 4, taps, ptr, q, w, channels, c, out, e);
            if (mult == 8) sc_dw_broadcast_block(pixels, 8, taps, ptr, q, w, channels, c, out, e);
            q += 8 / mult;
            continue;
        }
        // Lane i reads q + (r + i) / mult: one more for each multiple of mult that r + i reaches.
        const __m256i at = _mm256_add_epi32(_mm256_set1_epi32(r), lane);
        __m256i spread = _mm256_setzero_si256();
        int reads = 1;
        for (int k = mult; k < r + n; k += mult, reads++)
            spread = _mm256_sub_epi32(spread, _mm256_cmpgt_epi32(at, _mm256_set1_epi32(k - 1)));
        const __m256i load = sc_mask8(reads), wmask = sc_mask8(n);
        __m256 acc[2 * SC_DW_PIXELS];
        for (int p = 0; p < pixels; p++) acc[p] = acc[SC_DW_PIXELS + p] = _mm256_setzero_ps();
        const float *const *tp = ptr;
        const float *wt = w + c;
        int t = 0;
        for (; t + 2 <= taps; t += 2, tp += 2 * SC_DW_PIXELS, wt += 2 * (size_t)channels) {
            sc_dw_spread_tap(pixels, tp, q, load, spread, wt, tail, wmask, acc);
            sc_dw_spread_tap(pixels, tp + SC_DW_PIXELS, q, load, spread, wt + channels, tail, wmask, acc + SC_DW_PIXELS);
        }
        if (t < taps) sc_dw_spread_tap(pixels, tp, q, load, spread, wt, tail, wmask, acc);
        for (int p = 0; p < pixels; p++) acc[p] = _mm256_add_ps(acc[p], acc[SC_DW_PIXELS + p]);
        sc_dw_finish(pixels, 1, acc, channels, c, tail, out, e);
        for (r += 8; r >= mult; r -= mult) q++;
    }
}

static void sc_dw_spread_by(int pixels, int mult, int taps, const float *const *ptr, const float *w, int channels,
                            int cb, int ce, float *out, const sc_epilogue *e) {
    switch (pixels) {
    case 4: sc_dw_spread_pixels(4, mult, taps, ptr, w, channels, cb, ce, out, e); break;
    case 3: sc_dw_spread_pixels(3, mult, taps, ptr, w, channels, cb, ce, out, e); break;
    case 2: sc_dw_spread_pixels(2, mult, taps, ptr, w, channels, cb, ce, out, e); break;
    default: sc_dw_spread_pixels(1, mult, taps, ptr, w, channels, cb, ce, out, e); break;
    }
}

// Whether the stage serves this convolution: plain depthwise (one output channel per input channel,
// not grouped) with an odd kernel from 5 x 5 to 63 x 63 at stride 1 (past 7 x 7 they ran by the
// portable kernel, at about a fifth of the speed; 31 x 31 at a third). The stage is a second pass
// over the input, one load and one store per vector; at 3 x 3 (9 FMAs per input vector, against 25
// and 49) and at stride 2 (four input vectors per output vector, and as many stores), that cost more
// than it saved: kernel A/B 1.04-2.06 on MobileNetV2's steps against reading NHWC in place, where
// ConvNeXt-T's 7 x 7 steps took 0.70-0.80 and EfficientNet-B0's 5 x 5 at stride 1 0.73-0.85.
static int sc_dw_staged_shape(const sc_conv_geometry *g) {
    const int plain = g->algorithm != SC_CONV_GROUPED && g->out_channels == g->in_channels;
    return plain && g->stride == 1 && g->kernel >= 5 && g->kernel <= SC_DW_STAGE_MAX_KERNEL && g->kernel % 2 == 1;
}

int sc_depthwise_avx2_takes(const sc_conv_geometry *g) {
    return g->kernel <= SC_DW_MAX_KERNEL || sc_dw_staged_shape(g);
}

void sc_depthwise_avx2(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                       const sc_epilogue *epilogue, float *scratch, long pixel_begin, long pixel_end, int cb, int ce) {
    const sc_epilogue none = {0};
    const sc_epilogue *e0 = epilogue ? epilogue : &none;
    const int cg = g->algorithm == SC_CONV_GROUPED ? g->in_channels / g->groups : 1;
    const int in_channels = g->in_channels, mult = g->out_channels / in_channels;  // the channel multiplier
    const int avx512 = sc_level_internal() >= SC_LEVEL_AVX512;
    if (sc_dw_staged_shape(g)) {
        if (avx512 && g->kernel <= 7)
            sc_dw_staged_avx512(g, packed, input, output, e0, scratch, pixel_begin, pixel_end, cb, ce);
        else
            sc_dw_staged8(g, packed, input, output, e0, scratch, pixel_begin, pixel_end, cb, ce);
        return;
    }
    const int ks = g->kernel, taps = ks * ks, s = g->stride, pad = g->pad, channels = g->out_channels;
    const int h = g->in_height, w = g->in_width, oh = g->out_height, ow = g->out_width;
    const long plane = (long)oh * ow;
    const float *zero = scratch;
    memset(scratch, 0, (size_t)in_channels * sizeof(float));
    const float *ptr[SC_DW_MAX_TAPS * SC_DW_PIXELS];
    // 3 x 3, or 5 x 5 and 7 x 7 at stride 2 (at stride 1 they go by the stage), where a row has at least
    // eight pixels whose taps are all inside the image (from column `first` to `last`): runs of such
    // pixels by rows (sc_dw_rows). With fewer, the row blocks hold too few independent sums (a 7 x 7 map
    // through 7 x 7 taps has one such pixel a row), and blocks of four pixels x sixteen channels ran
    // faster.
    const int first = (pad + s - 1) / s, last = (w - ks + pad) / s;
    const int row_kernel = s == 1 ? ks == 3 : s == 2 && (ks == 3 || ks == 5 || ks == 7);
    const int by_rows = cg == 1 && mult == 1 && row_kernel && last - first + 1 >= SC_DW_ROW_PIXELS;
    for (long p0 = pixel_begin; p0 < pixel_end;) {
        // A block of pixels of one output row.
        const long n = p0 / plane, rest = p0 - n * plane;
        const int oy = (int)(rest / ow), ox = (int)(rest - (long)oy * ow);
        const long left = pixel_end - p0 < ow - ox ? pixel_end - p0 : ow - ox;
        const float *image = input + (size_t)n * h * w * in_channels;
        const int x0 = ox * s - pad, y0 = oy * s - pad;
        const float *rows[SC_DW_MAX_KERNEL];
        // Whether this output row's taps are inside the image vertically, where runs go by rows.
        const int rows_inside = by_rows && y0 >= 0 && y0 + ks <= h;
        if (rows_inside && ox >= first && ox <= last) {
            // A run of pixels whose taps are all inside the image, by sc_dw_rows.
            const int run = (int)(left < last - ox + 1 ? left : last - ox + 1);
            for (int ky = 0; ky < ks; ky++) rows[ky] = image + ((size_t)(y0 + ky) * w + x0) * in_channels;
            const sc_epilogue e = sc_dw_epilogue_at(e0, (size_t)p0 * channels);
            float *out = output + (size_t)p0 * channels;
            if (avx512) sc_dw_rows_avx512(ks, s, run, rows, packed, channels, cb, ce, out, &e);
            else sc_dw_rows8(ks, s, run, rows, packed, channels, cb, ce, out, &e);
            p0 += run;
            continue;
        }
        // Up to four pixels; where runs go by rows, a left border block stops where the run starts.
        int pixels = (int)(left < SC_DW_PIXELS ? left : SC_DW_PIXELS);
        if (rows_inside && ox < first && pixels > first - ox) pixels = first - ox;
        // Inside the image (every tap of every pixel): row pointers, addresses computed in the loop (not
        // with a multiplier, which reads through the pointer table).
        const int inside = mult == 1 && x0 >= 0 && (ox + pixels - 1) * s - pad + ks <= w && y0 >= 0 && y0 + ks <= h;
        if (inside)
            for (int ky = 0; ky < ks; ky++) rows[ky] = image + ((size_t)(y0 + ky) * w + x0) * in_channels;
        else
            for (int ky = 0; ky < ks; ky++) {
                const int iy = y0 + ky;
                for (int kx = 0; kx < ks; kx++) {
                    const float **row = ptr + (ky * ks + kx) * SC_DW_PIXELS;
                    for (int p = 0; p < SC_DW_PIXELS; p++) {
                        const int ix = (ox + (p < pixels ? p : pixels - 1)) * s - pad + kx;
                        row[p] = iy < 0 || iy >= h || ix < 0 || ix >= w ? zero : image + ((size_t)iy * w + ix) * in_channels;
                    }
                }
            }
        const sc_epilogue e = sc_dw_epilogue_at(e0, (size_t)p0 * channels);
        if (mult > 1)
            sc_dw_spread_by(pixels, mult, taps, ptr, packed, channels, cb, ce, output + (size_t)p0 * channels, &e);
        else if (avx512 && cg == 1)
            sc_dw_pixels_avx512(pixels, taps, ptr, inside ? rows : NULL, ks, s, packed, channels, cb, ce,
                                output + (size_t)p0 * channels, &e);
        else
            sc_dw_pixels_by(pixels, cg, taps, ptr, inside ? rows : NULL, ks, s, packed, channels, cb, ce,
                            output + (size_t)p0 * channels, &e);
        p0 += pixels;
    }
}
#pragma clang attribute pop
#endif
