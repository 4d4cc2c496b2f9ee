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
// 13 x 13, its variant with the kernel size a variable, sc_dw_wide_block).
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>
#include "sc_igemm.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

// Under AddressSanitizer (the CI's sanitizer and fuzzing builds) the row kernels stay loops: the same
// loads and stores are checked, and the file compiles in a tenth of the time that the compiler's
// value numbering took over the instrumented, fully unrolled kernels.
#if defined(__has_feature) && __has_feature(address_sanitizer)
#define SC_DW_UNROLL _Pragma("clang loop unroll(disable)")
#else
#define SC_DW_UNROLL _Pragma("clang loop unroll(full)")
#endif

enum { SC_DW_PIXELS = 4, SC_DW_ROW_PIXELS = 8, SC_DW_VECTORS = 8, SC_DW_MAX_TAPS = SC_DW_MAX_KERNEL * SC_DW_MAX_KERNEL };

// The epilogue of the pixels that start `at` floats further on: its residual and second output moved.
static inline sc_epilogue sc_dw_epilogue_at(const sc_epilogue *e, size_t at) {
    sc_epilogue moved = *e;
    if (moved.residual) moved.residual += at;
    if (moved.act_output) moved.act_output += at;
    return moved;
}

// A block's accumulators through the epilogue and out: acc[p * groups + q] holds pixel p's channels
// [c + 8 q, c + 8 q + 8) (the last group only `tail` of them where tail > 0). The epilogue: scale and
// shift (1 and 0 where absent), then its steps, per pixel and group.
static inline __attribute__((always_inline)) void sc_dw_finish(int pixels, int groups, const __m256 *acc, int channels,
                                                               int c, int tail, float *out, const sc_epilogue *e) {
    const __m256i mask = sc_mask8(tail);
    sc_epilogue8 k[2];
    for (int q = 0; q < groups; q++) {
        const int masked = tail && q == groups - 1;
        const size_t at = (size_t)c + 8 * q;
        k[q].scale = !e->scale ? _mm256_set1_ps(1.0f) : masked ? _mm256_maskload_ps(e->scale + at, mask) : _mm256_loadu_ps(e->scale + at);
        k[q].shift = !e->shift ? _mm256_setzero_ps() : masked ? _mm256_maskload_ps(e->shift + at, mask) : _mm256_loadu_ps(e->shift + at);
        if (e->act_output) {
            k[q].act_scale = masked ? _mm256_maskload_ps(e->act_scale + at, mask) : _mm256_loadu_ps(e->act_scale + at);
            k[q].act_shift = masked ? _mm256_maskload_ps(e->act_shift + at, mask) : _mm256_loadu_ps(e->act_shift + at);
        }
    }
    const sc_epilogue_steps steps = {e->residual != NULL, e->activation, e->act_output != NULL, e->act_relu};
    // The whole block through the epilogue at once (its vectors' chains interleave: an activation
    // such as SiLU is a long chain of dependent operations).
    sc_epilogue8 kk[SC_DW_VECTORS];
    __m256 v[SC_DW_VECTORS], r[SC_DW_VECTORS], a[SC_DW_VECTORS];
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) {
            const int masked = tail && q == groups - 1, i = p * groups + q;
            const size_t at = (size_t)p * channels + c + 8 * q;
            kk[i] = k[q];
            v[i] = acc[i];
            if (steps.residual) r[i] = masked ? _mm256_maskload_ps(e->residual + at, mask) : _mm256_loadu_ps(e->residual + at);
        }
    sc_epilogue8_apply(pixels * groups, kk, steps, v, r, a);
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) {
            const int masked = tail && q == groups - 1, i = p * groups + q;
            const size_t at = (size_t)p * channels + c + 8 * q;
            if (masked) _mm256_maskstore_ps(out + at, mask, v[i]);
            else _mm256_storeu_ps(out + at, v[i]);
            if (steps.act) {
                if (masked) _mm256_maskstore_ps(e->act_output + at, mask, a[i]);
                else _mm256_storeu_ps(e->act_output + at, a[i]);
            }
        }
}

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

// One tap of a grouped convolution's block (see sc_dw_block): x[p] is pixel p's input at channel c,
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

// Channels [c, c + 8 * groups) of `pixels` pixels (constants after inlining, as are `shifted` and cg
// but by shifts); with `tail` > 0 the last group has only `tail` channels (masked loads and stores,
// never touching the others; a multiple of cg, so exchanges stay among loaded lanes). The input of tap
// t and pixel p is at
// ptr[t * SC_DW_PIXELS + p]; or, with `rows` (a block inside the image), at rows[ky] + (kx + p *
// stride) * channels, addresses the loop computes instead of loading. With cg > 1 (SC_CONV_GROUPED),
// each input vector goes through cg exchanges, weights packed [tap][exchange][channel], or is loaded at
// 2 cg - 1 shifts (sc_dw_shift_tap).
static inline __attribute__((always_inline)) void sc_dw_block(int pixels, int groups, int cg, int shifted, int taps,
                                                              const float *const *ptr, const float *const *rows,
                                                              int ks, int stride, const float *w, int channels, int c,
                                                              int tail, float *out, const sc_epilogue *e) {
    __m256 acc[SC_DW_PIXELS * 2];
    const __m256i mask = sc_mask8(tail);
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) acc[p * groups + q] = _mm256_setzero_ps();
    if (cg > 1) {  // one group of eight channels (groups == 1), two sums per pixel
        for (int p = 0; p < pixels; p++) acc[SC_DW_PIXELS + p] = _mm256_setzero_ps();
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
                for (int p = 0; p < pixels; p++)
                    x[p] = (rows ? rows[ky] + (size_t)kx * channels + p * step : ptr[p]) + c;
                if (shifted) sc_dw_shift_tap(pixels, cg, x, wt, channels, tail, masks, mask, acc);
                else sc_dw_exchange_tap(pixels, cg, x, wt, channels, tail, mask, acc);
            }
        for (int p = 0; p < pixels; p++) acc[p] = _mm256_add_ps(acc[p], acc[SC_DW_PIXELS + p]);
    } else if (rows) {
        const size_t step = (size_t)stride * channels;
        const float *wt = w + c;
        for (int ky = 0; ky < ks; ky++) {
            const float *base = rows[ky] + c;
            for (int kx = 0; kx < ks; kx++, base += channels, wt += channels) {
                __m256 wv[2];
                for (int q = 0; q < groups; q++)
                    wv[q] = tail && q == groups - 1 ? _mm256_maskload_ps(wt + 8 * q, mask) : _mm256_loadu_ps(wt + 8 * q);
                for (int p = 0; p < pixels; p++)
                    for (int q = 0; q < groups; q++) {
                        const float *x = base + p * step + 8 * q;
                        const __m256 xv = tail && q == groups - 1 ? _mm256_maskload_ps(x, mask) : _mm256_loadu_ps(x);
                        acc[p * groups + q] = _mm256_fmadd_ps(xv, wv[q], acc[p * groups + q]);
                    }
            }
        }
    } else {
        for (int t = 0; t < taps; t++, ptr += SC_DW_PIXELS) {
            const float *wt = w + (size_t)t * channels + c;
            __m256 wv[2];
            for (int q = 0; q < groups; q++)
                wv[q] = tail && q == groups - 1 ? _mm256_maskload_ps(wt + 8 * q, mask) : _mm256_loadu_ps(wt + 8 * q);
            for (int p = 0; p < pixels; p++)
                for (int q = 0; q < groups; q++) {
                    const float *x = ptr[p] + c + 8 * q;
                    const __m256 xv = tail && q == groups - 1 ? _mm256_maskload_ps(x, mask) : _mm256_loadu_ps(x);
                    acc[p * groups + q] = _mm256_fmadd_ps(xv, wv[q], acc[p * groups + q]);
                }
        }
    }
    sc_dw_finish(pixels, groups, acc, channels, c, tail, out, e);
}

// All the channels [cb, ce) of `pixels` (1 to 4) consecutive output pixels, whose tap pointers are in
// ptr[tap][pixel] (or whose rows are `rows`, see sc_dw_block). `out` and the epilogue's residual and
// second output point at the first pixel. `shifted`: a grouped convolution by shifts (sc_dw_shift_tap).
static inline __attribute__((always_inline)) void sc_dw_pixels(int pixels, int cg, int shifted, int taps,
                                                               const float *const *ptr,
                                                               const float *const *rows, int ks, int stride,
                                                               const float *w, int channels, int cb, int ce, float *out,
                                                               const sc_epilogue *e) {
    int c = cb;
    if (cg == 1)
        for (; c + 16 <= ce; c += 16)
            sc_dw_block(pixels, 2, cg, shifted, taps, ptr, rows, ks, stride, w, channels, c, 0, out, e);
    for (; c + 8 <= ce; c += 8)
        sc_dw_block(pixels, 1, cg, shifted, taps, ptr, rows, ks, stride, w, channels, c, 0, out, e);
    if (c < ce) sc_dw_block(pixels, 1, cg, shifted, taps, ptr, rows, ks, stride, w, channels, c, ce - c, out, e);
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

// All taps inside the image: `pixels` (1 to 8) consecutive output pixels of one row x eight channels,
// each input vector loaded once per kernel row and multiplied into every pixel it reaches, with the
// kernel row's weights in registers. For 3 x 3 at stride 1 that is 13 loads per 24 FMAs where the
// block above needs 30, and its epilogue and set-up serve twice the pixels. Each sum still takes its
// taps in the order ky, kx, so the result is the same, bit for bit. rows[ky] is the first pixel's
// input at kernel row ky, kernel column 0, channel c; consecutive input columns are `step` floats
// apart (the channel count in NHWC, 8 on the stage). With `tail` > 0, only that many channels, and the
// input loads masked too where `masked_input` (in NHWC; the stage's last block holds zeros past its
// channels). `ks`, `stride` and `pixels` are constants after inlining, so the loops unroll into
// straight-line code.
static inline __attribute__((always_inline)) void sc_dw_row_block(int ks, int stride, int pixels, const float *const *rows,
                                                                  size_t step, int masked_input, const float *w,
                                                                  int channels, int c, int tail, float *out,
                                                                  const sc_epilogue *e) {
    __m256 acc[SC_DW_ROW_PIXELS];
    const __m256i mask = sc_mask8(tail);
    for (int p = 0; p < pixels; p++) acc[p] = _mm256_setzero_ps();
    // A kernel row's taps at most four at a time, so that accumulators, weights and the input vector
    // fit the 16 registers (7 x 7 with all seven weights held spilled, and ran at half speed).
    SC_DW_UNROLL for (int ky = 0; ky < ks; ky++)
        SC_DW_UNROLL for (int k0 = 0; k0 < ks; k0 += 4) {
            const int k1 = k0 + 4 < ks ? k0 + 4 : ks;
            const float *x = rows[ky] + k0 * step, *wt = w + ((size_t)ky * ks + k0) * channels + c;
            __m256 wv[4];
            for (int kx = k0; kx < k1; kx++, wt += channels)
                wv[kx - k0] = tail ? _mm256_maskload_ps(wt, mask) : _mm256_loadu_ps(wt);
            SC_DW_UNROLL for (int i = k0; i < (pixels - 1) * stride + k1; i++, x += step) {
                const __m256 xv = tail && masked_input ? _mm256_maskload_ps(x, mask) : _mm256_loadu_ps(x);
                // Input i meets pixel (i - kx) / stride through tap kx; by pixel, kx rises with i.
                for (int kx = k1 - 1; kx >= k0; kx--) {
                    const int p = (i - kx) / stride;
                    if (i - kx >= 0 && (i - kx) % stride == 0 && p < pixels)
                        acc[p] = _mm256_fmadd_ps(xv, wv[kx - k0], acc[p]);
                }
            }
        }
    sc_dw_finish(pixels, 1, acc, channels, c, tail, out, e);
}

// All the channels [cb, ce) of `pixels` output pixels by sc_dw_row_block.
static inline __attribute__((always_inline)) void sc_dw_row(int ks, int stride, int pixels, const float *const *rows,
                                                            const float *w, int channels, int cb, int ce, float *out,
                                                            const sc_epilogue *e) {
    const float *at[SC_DW_MAX_KERNEL];
    int c = cb;
    for (; c + 8 <= ce; c += 8) {
        for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + c;
        sc_dw_row_block(ks, stride, pixels, at, channels, 1, w, channels, c, 0, out, e);
    }
    if (c < ce) {
        const int tail = ce - c;
        __builtin_assume(tail > 0 && tail < 8);
        for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + c;
        sc_dw_row_block(ks, stride, pixels, at, channels, 1, w, channels, c, tail, out, e);
    }
}

// Pixels [0, run) go in pieces of up to eight as even as they come (50 pixels as 8 + 6 x 7, not 6 x 8
// + 2: fewer pixels are fewer independent sums to hide the FMAs' latency): `larger` pieces of size + 1
// pixels, then the rest of `size`.
typedef struct {
    int pieces, size, larger;
} sc_dw_cut;

static inline sc_dw_cut sc_dw_cut_run(int run) {
    const int pieces = (run + SC_DW_ROW_PIXELS - 1) / SC_DW_ROW_PIXELS;
    return (sc_dw_cut){pieces, run / pieces, run % pieces};
}

// `count` pieces of n pixels, one after another along a row, by sc_dw_row: each piece over all the
// channels before the next, so that its window of the input (all channels of ks rows) stays in L1 while
// its blocks pass (over all pieces one block at a time, the row kernel took 1.1 to 1.6 times as long).
static inline __attribute__((always_inline)) void sc_dw_row_pieces(int ks, int s, int n, int count,
                                                                   const float *const *rows, const float *w,
                                                                   int channels, int cb, int ce, float *out,
                                                                   const sc_epilogue *e) {
    for (int i = 0; i < count; i++) {
        const float *at[SC_DW_MAX_KERNEL];
        for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + (size_t)i * n * s * channels;
        const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)i * n * channels);
        sc_dw_row(ks, s, n, at, w, channels, cb, ce, out + (size_t)i * n * channels, &ep);
    }
}

// The row kernels are instantiated once per kernel size, stride and piece size, each a function of its
// own, which a run calls through a table by the size of its pieces, of which there are at most two:
// the compiler's value numbering grows much faster than the code it works on (with one function per
// kernel and stride holding every piece size, 7 x 7 at stride 2 took 47 s to compile, and the file
// four to five minutes).
typedef void (*sc_dw_row_fn)(int count, const float *const *rows, const float *w, int channels, int cb, int ce,
                             float *out, const sc_epilogue *e);

#define SC_DW_ROW_FN(ks, s, n)                                                                                 \
    static void sc_dw_row_##ks##_##s##_##n(int count, const float *const *rows, const float *w, int channels,  \
                                           int cb, int ce, float *out, const sc_epilogue *e) {                 \
        sc_dw_row_pieces(ks, s, n, count, rows, w, channels, cb, ce, out, e);                                  \
    }
#define SC_DW_ROWS(ks, s)                                                                                      \
    SC_DW_ROW_FN(ks, s, 1)                                                                                     \
    SC_DW_ROW_FN(ks, s, 2)                                                                                     \
    SC_DW_ROW_FN(ks, s, 3)                                                                                     \
    SC_DW_ROW_FN(ks, s, 4)                                                                                     \
    SC_DW_ROW_FN(ks, s, 5)                                                                                     \
    SC_DW_ROW_FN(ks, s, 6)                                                                                     \
    SC_DW_ROW_FN(ks, s, 7)                                                                                     \
    SC_DW_ROW_FN(ks, s, 8)                                                                                     \
    static const sc_dw_row_fn sc_dw_rows_##ks##_##s[SC_DW_ROW_PIXELS + 1] = {                                  \
        NULL, sc_dw_row_##ks##_##s##_1, sc_dw_row_##ks##_##s##_2, sc_dw_row_##ks##_##s##_3,                    \
        sc_dw_row_##ks##_##s##_4, sc_dw_row_##ks##_##s##_5, sc_dw_row_##ks##_##s##_6,                          \
        sc_dw_row_##ks##_##s##_7, sc_dw_row_##ks##_##s##_8};
SC_DW_ROWS(3, 1)  // (5 x 5 and 7 x 7 at stride 1 go by the stage)
SC_DW_ROWS(3, 2)
SC_DW_ROWS(5, 2)
SC_DW_ROWS(7, 2)

// `pixels` consecutive output pixels of one row, kernel 3 at stride 1, 3, 5 or 7 at stride 2, every tap
// inside the image; rows[ky] is the first pixel's input at kernel row ky, kernel column 0.
static void sc_dw_rows(int ks, int stride, int pixels, const float *const *rows, const float *w, int channels, int cb,
                       int ce, float *out, const sc_epilogue *e) {
    const sc_dw_row_fn *piece;
    switch (stride * 8 + ks) {
    case 8 + 3: piece = sc_dw_rows_3_1; break;
    case 16 + 3: piece = sc_dw_rows_3_2; break;
    case 16 + 5: piece = sc_dw_rows_5_2; break;
    default: piece = sc_dw_rows_7_2; break;
    }
    const sc_dw_cut cut = sc_dw_cut_run(pixels);
    const int done = cut.larger * (cut.size + 1);
    if (cut.larger) piece[cut.size + 1](cut.larger, rows, w, channels, cb, ce, out, e);
    const float *at[SC_DW_MAX_KERNEL];
    for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + (size_t)done * stride * channels;
    const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)done * channels);
    piece[cut.size](cut.pieces - cut.larger, at, w, channels, cb, ce, out + (size_t)done * channels, &ep);
}

// The input rows of a stride-1 depthwise convolution, copied by blocks of eight channels: [block][slot]
// [column][8], `columns` = every column an output row's taps reach, padding included (zeros, written
// once per call, so every pixel takes the row kernel and border pixels cost no more than the others).
// Input row r (counted from the top padding) sits in slot r mod ks, so moving down one output row
// copies one new row. Read from NHWC rows, a 7 x 7 window over 384 channels is 150 KiB with half of
// each line used, and L1 thrashed (the row kernel ran at 35 GFLOP/s on it, 85 on the staged layout); a
// block's ks rows of the stage (14 KiB for 7 x 7 over 62 columns) stay in L1 while its pixels are
// swept. After oneDNN's blocked layouts.
typedef struct {
    float *stage;
    const float *input;
    int ks, pad, height, width, channels, cb, ce;
    int columns, copied;   // columns per row; image columns copied into each (from column pad)
    long rows_per_image;   // rows an image's output reads, padding included: oh + ks - 1
    long held[SC_DW_STAGE_MAX_KERNEL]; // the row each slot holds, as image * rows_per_image + row + pad; -1 none
    // The rows the current output row needs and the stage lacks: their slots, and where they start
    // in the input (NULL: a row of the padding).
    int fresh;
    int fresh_slot[SC_DW_STAGE_MAX_KERNEL];
    const float *fresh_row[SC_DW_STAGE_MAX_KERNEL];
} sc_dw_stage;

static inline float *sc_dw_slot(const sc_dw_stage *st, int block, int slot) {
    return st->stage + ((size_t)block * st->ks + slot) * st->columns * 8;
}

static sc_dw_stage sc_dw_stage_make(const sc_conv_geometry *g, float *stage, const float *input, int cb, int ce) {
    sc_dw_stage st = {.stage = stage, .input = input, .ks = g->kernel, .pad = g->pad, .height = g->in_height,
                      .width = g->in_width, .channels = g->in_channels, .cb = cb, .ce = ce};
    st.columns = (int)sc_depthwise_stage_columns(g);
    const int inside = st.columns - st.pad;
    st.copied = inside < 0 ? 0 : inside < st.width ? inside : st.width;
    st.rows_per_image = (long)g->out_height + g->kernel - 1;
    for (int k = 0; k < st.ks; k++) st.held[k] = -1;
    // The padding columns, left and right; no row writes them.
    const int left = st.pad < st.columns ? st.pad : st.columns, right = st.columns - left - st.copied;
    for (int b = 0; b < (ce - cb + 7) / 8; b++)
        for (int k = 0; k < st.ks; k++) {
            float *row = sc_dw_slot(&st, b, k);
            memset(row, 0, (size_t)left * 8 * sizeof(float));
            memset(row + (size_t)(left + st.copied) * 8, 0, (size_t)right * 8 * sizeof(float));
        }
    return st;
}

// Notes input row `row` (from -pad) of image `n` as fresh unless its slot holds it already.
static void sc_dw_stage_need(sc_dw_stage *st, long n, int row) {
    const int slot = (row + st->pad) % st->ks;
    const long key = n * st->rows_per_image + row + st->pad;
    if (st->held[slot] == key) return;
    st->held[slot] = key;
    st->fresh_slot[st->fresh] = slot;
    st->fresh_row[st->fresh++] = row < 0 || row >= st->height
                                     ? NULL
                                     : st->input + ((size_t)n * st->height + row) * st->width * st->channels;
}

// Block b of the fresh rows into their slots, `tail` > 0 the channels of a last block that ends early
// (its other lanes zeros). A block is staged just before its pixels are computed, so that reading the
// input from L2 and L3 overlaps the FMAs of the blocks around it (staging a row's every block first,
// then computing, was 1.10-1.21 times slower on EfficientNet-B0's 5 x 5 steps).
static inline __attribute__((always_inline)) void sc_dw_stage_block(const sc_dw_stage *st, int b, int tail) {
    const __m256i mask = sc_mask8(tail);
    for (int f = 0; f < st->fresh; f++) {
        float *dst = sc_dw_slot(st, b, st->fresh_slot[f]) + (size_t)st->pad * 8;
        if (!st->fresh_row[f]) {
            memset(dst, 0, (size_t)st->copied * 8 * sizeof(float));
            continue;
        }
        const float *src = st->fresh_row[f] + st->cb + 8 * b;
        for (int x = 0; x < st->copied; x++, src += st->channels, dst += 8)
            _mm256_storeu_ps(dst, tail ? _mm256_maskload_ps(src, mask) : _mm256_loadu_ps(src));
    }
}

// `taps` consecutive taps of one kernel row (at most four, their weights in registers) into `pixels`
// sums of the stage's block (both constants): input column i of the stage meets pixel i - k through
// tap k, so each input vector is loaded once for all the pixels it reaches, as in sc_dw_row_block.
static inline __attribute__((always_inline)) void sc_dw_wide_taps(const int taps, const int pixels, const float *x,
                                                                  const float *wt, int channels, int tail,
                                                                  __m256 *acc) {
    const __m256i mask = sc_mask8(tail);
    __m256 wv[4];
    for (int k = 0; k < taps; k++, wt += channels) wv[k] = tail ? _mm256_maskload_ps(wt, mask) : _mm256_loadu_ps(wt);
    for (int i = 0; i < pixels - 1 + taps; i++) {
        const __m256 xv = _mm256_loadu_ps(x + (size_t)i * 8);  // the stage holds zeros past the channels
        for (int k = taps - 1; k >= 0; k--)
            if (i - k >= 0 && i - k < pixels) acc[i - k] = _mm256_fmadd_ps(xv, wv[k], acc[i - k]);
    }
}

// sc_dw_row_block on the stage for kernels past SC_DW_MAX_KERNEL (RepLKNet's 31 x 31): the kernel
// size a variable, so that its loops stay loops (unrolled, as below 13 x 13, the code would grow with
// the square of the kernel), the taps of each kernel row four at a time. Each sum takes its taps in
// the order ky, kx, as everywhere.
static inline __attribute__((always_inline)) void sc_dw_wide_block(int pixels, int ks, const float *const *rows,
                                                                   const float *w, int channels, int c, int tail,
                                                                   float *out, const sc_epilogue *e) {
    __m256 acc[SC_DW_ROW_PIXELS];
    for (int p = 0; p < pixels; p++) acc[p] = _mm256_setzero_ps();
    for (int ky = 0; ky < ks; ky++) {
        const float *x = rows[ky], *wt = w + (size_t)ky * ks * channels + c;
        int k0 = 0;
        for (; k0 + 4 <= ks; k0 += 4) sc_dw_wide_taps(4, pixels, x + k0 * 8, wt + (size_t)k0 * channels, channels, tail, acc);
        switch (ks - k0) {
        case 3: sc_dw_wide_taps(3, pixels, x + k0 * 8, wt + (size_t)k0 * channels, channels, tail, acc); break;
        case 2: sc_dw_wide_taps(2, pixels, x + k0 * 8, wt + (size_t)k0 * channels, channels, tail, acc); break;
        case 1: sc_dw_wide_taps(1, pixels, x + k0 * 8, wt + (size_t)k0 * channels, channels, tail, acc); break;
        default: break;
        }
    }
    sc_dw_finish(pixels, 1, acc, channels, c, tail, out, e);
}

// The stage's row kernels: `count` pieces of n pixels of a row from column ox, one after another, for
// each of the stage's blocks [b0, b1), each staged first where `stage` (a run's first call: the stage
// holds every block, so that its second, over the pieces of the other size, finds them staged), by
// sc_dw_row_block or, past SC_DW_MAX_KERNEL, by sc_dw_wide_block (`wide`). With `tail` > 0 the blocks
// hold only that many channels (their weights loaded and their sums stored masked; the stage holds
// zeros past the channels). As for the rows above, one function per kernel size and piece size, and
// one more for a last block whose channels end inside it; the wide ones take the stage's kernel size
// and the tail as variables.
static inline __attribute__((always_inline)) void sc_dw_staged_pieces(int ks, int n, int wide, const sc_dw_stage *st,
                                                                      int stage, int b0, int b1, int tail,
                                                                      const int *slots, int ox, int count,
                                                                      const float *w, float *out,
                                                                      const sc_epilogue *e) {
    for (int b = b0; b < b1; b++) {
        const int c = st->cb + 8 * b;
        if (stage) sc_dw_stage_block(st, b, tail);
        for (int i = 0; i < count; i++) {
            // Each piece loads its weights again: hoisted out of the loop (they are the same for every
            // piece of the block), the 49 of a 7 x 7 kernel were spilled (1.08 times as long at 56 x 56).
            __asm__("" : "+r"(w));
            const float *rows[SC_DW_STAGE_MAX_KERNEL];
            for (int ky = 0; ky < ks; ky++) rows[ky] = sc_dw_slot(st, b, slots[ky]) + (size_t)(ox + i * n) * 8;
            const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)i * n * st->channels);
            float *o = out + (size_t)i * n * st->channels;
            if (wide) sc_dw_wide_block(n, ks, rows, w, st->channels, c, tail, o, &ep);
            else sc_dw_row_block(ks, 1, n, rows, 8, 0, w, st->channels, c, tail, o, &ep);
        }
    }
}

#define SC_DW_STAGED_ARGS                                                                                      \
    const sc_dw_stage *st, int stage, int b0, int b1, int tail, const int *slots, int ox, int count,           \
        const float *w, float *out, const sc_epilogue *e
typedef void (*sc_dw_staged_fn)(SC_DW_STAGED_ARGS);

#define SC_DW_STAGED_FNS(k, n)                                                                                 \
    static void sc_dw_staged_##k##_##n(SC_DW_STAGED_ARGS) {                                                    \
        (void)tail;                                                                                            \
        sc_dw_staged_pieces(k, n, 0, st, stage, b0, b1, 0, slots, ox, count, w, out, e);                       \
    }                                                                                                          \
    static void sc_dw_staged_tail_##k##_##n(SC_DW_STAGED_ARGS) {                                               \
        __builtin_assume(tail > 0 && tail < 8);                                                                \
        sc_dw_staged_pieces(k, n, 0, st, stage, b0, b1, tail, slots, ox, count, w, out, e);                    \
    }
#define SC_DW_STAGED(k)                                                                                        \
    SC_DW_STAGED_FNS(k, 1)                                                                                     \
    SC_DW_STAGED_FNS(k, 2)                                                                                     \
    SC_DW_STAGED_FNS(k, 3)                                                                                     \
    SC_DW_STAGED_FNS(k, 4)                                                                                     \
    SC_DW_STAGED_FNS(k, 5)                                                                                     \
    SC_DW_STAGED_FNS(k, 6)                                                                                     \
    SC_DW_STAGED_FNS(k, 7)                                                                                     \
    SC_DW_STAGED_FNS(k, 8)                                                                                     \
    static const sc_dw_staged_fn sc_dw_staged_##k[2][SC_DW_ROW_PIXELS + 1] = {                                 \
        {NULL, sc_dw_staged_##k##_1, sc_dw_staged_##k##_2, sc_dw_staged_##k##_3, sc_dw_staged_##k##_4,         \
         sc_dw_staged_##k##_5, sc_dw_staged_##k##_6, sc_dw_staged_##k##_7, sc_dw_staged_##k##_8},              \
        {NULL, sc_dw_staged_tail_##k##_1, sc_dw_staged_tail_##k##_2, sc_dw_staged_tail_##k##_3,                \
         sc_dw_staged_tail_##k##_4, sc_dw_staged_tail_##k##_5, sc_dw_staged_tail_##k##_6,                      \
         sc_dw_staged_tail_##k##_7, sc_dw_staged_tail_##k##_8}};
SC_DW_STAGED(5)
SC_DW_STAGED(7)
SC_DW_STAGED(9)
SC_DW_STAGED(11)
SC_DW_STAGED(13)

#define SC_DW_WIDE_FN(n)                                                                                       \
    static void sc_dw_wide_##n(SC_DW_STAGED_ARGS) {                                                            \
        sc_dw_staged_pieces(st->ks, n, 1, st, stage, b0, b1, tail, slots, ox, count, w, out, e);               \
    }
SC_DW_WIDE_FN(1)
SC_DW_WIDE_FN(2)
SC_DW_WIDE_FN(3)
SC_DW_WIDE_FN(4)
SC_DW_WIDE_FN(5)
SC_DW_WIDE_FN(6)
SC_DW_WIDE_FN(7)
SC_DW_WIDE_FN(8)
static const sc_dw_staged_fn sc_dw_wide[2][SC_DW_ROW_PIXELS + 1] = {
    {NULL, sc_dw_wide_1, sc_dw_wide_2, sc_dw_wide_3, sc_dw_wide_4, sc_dw_wide_5, sc_dw_wide_6, sc_dw_wide_7,
     sc_dw_wide_8},
    {NULL, sc_dw_wide_1, sc_dw_wide_2, sc_dw_wide_3, sc_dw_wide_4, sc_dw_wide_5, sc_dw_wide_6, sc_dw_wide_7,
     sc_dw_wide_8}};

// All the stage's channels of output pixels [ox, ox + run) by the kernels `pieces` ([last block
// ending inside it][pixels]); slots[ky] is the slot of kernel row ky; `out` and the epilogue point at
// pixel ox.
static void sc_dw_staged_run(const sc_dw_stage *st, const sc_dw_staged_fn (*pieces)[SC_DW_ROW_PIXELS + 1],
                             const int *slots, int ox, int run, const float *w, float *out, const sc_epilogue *e) {
    const sc_dw_cut cut = sc_dw_cut_run(run);
    const int done = cut.larger * (cut.size + 1), blocks = (st->ce - st->cb) / 8, tail = (st->ce - st->cb) % 8;
    const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)done * st->channels);
    float *rest = out + (size_t)done * st->channels;
    for (int part = 0; part < 2; part++) {  // the full blocks, then a last block of `tail` channels
        const int b0 = part ? blocks : 0, b1 = part ? blocks + (tail > 0) : blocks;
        if (b0 == b1) continue;
        const int t = part ? tail : 0;
        if (cut.larger) pieces[part][cut.size + 1](st, 1, b0, b1, t, slots, ox, cut.larger, w, out, e);
        pieces[part][cut.size](st, !cut.larger, b0, b1, t, slots, ox + done, cut.pieces - cut.larger, w, rest, &ep);
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

static void sc_dw_staged(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                         const sc_epilogue *e0, float *stage, long pixel_begin, long pixel_end, int cb, int ce) {
    const int ks = g->kernel, oh = g->out_height, ow = g->out_width;
    const long plane = (long)oh * ow;
    sc_dw_stage st = sc_dw_stage_make(g, stage, input, cb, ce);
    const sc_dw_staged_fn(*pieces)[SC_DW_ROW_PIXELS + 1] = ks == 5    ? sc_dw_staged_5
                                                         : ks == 7  ? sc_dw_staged_7
                                                         : ks == 9  ? sc_dw_staged_9
                                                         : ks == 11 ? sc_dw_staged_11
                                                         : ks == 13 ? sc_dw_staged_13
                                                                    : sc_dw_wide;
    for (long p0 = pixel_begin; p0 < pixel_end;) {
        // The rest of an output row, or of the range.
        const long n = p0 / plane, rest = p0 - n * plane;
        const int oy = (int)(rest / ow), ox = (int)(rest - (long)oy * ow);
        const int run = (int)(pixel_end - p0 < ow - ox ? pixel_end - p0 : ow - ox);
        int slots[SC_DW_STAGE_MAX_KERNEL];
        st.fresh = 0;
        for (int ky = 0; ky < ks; ky++) {
            sc_dw_stage_need(&st, n, oy - g->pad + ky);
            slots[ky] = (oy + ky) % ks;
        }
        const sc_epilogue e = sc_dw_epilogue_at(e0, (size_t)p0 * st.channels);
        float *out = output + (size_t)p0 * st.channels;
        sc_dw_staged_run(&st, pieces, slots, ox, run, packed, out, &e);
        p0 += run;
    }
}

void sc_depthwise_avx2(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                       const sc_epilogue *epilogue, float *scratch, long pixel_begin, long pixel_end, int cb, int ce) {
    const sc_epilogue none = {0};
    const sc_epilogue *e0 = epilogue ? epilogue : &none;
    const int cg = g->algorithm == SC_CONV_GROUPED ? g->in_channels / g->groups : 1;
    const int in_channels = g->in_channels, mult = g->out_channels / in_channels;  // the channel multiplier
    if (sc_dw_staged_shape(g)) {
        sc_dw_staged(g, packed, input, output, e0, scratch, pixel_begin, pixel_end, cb, ce);
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
            sc_dw_rows(ks, s, run, rows, packed, channels, cb, ce, output + (size_t)p0 * channels, &e);
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
        else
            sc_dw_pixels_by(pixels, cg, taps, ptr, inside ? rows : NULL, ks, s, packed, channels, cb, ce,
                            output + (size_t)p0 * channels, &e);
        p0 += pixels;
    }
}
#pragma clang attribute pop
#endif
