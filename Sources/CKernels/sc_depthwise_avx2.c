// The AVX2+FMA depthwise convolution (one input channel per output channel), NHWC: blocks of four
// output pixels along a row x sixteen channels, in eight ymm accumulators (two FMA pipes of four
// cycles' latency need eight independent sums). For each tap, two vectors of weights (packed
// [tap][channel], so a tap's channels are contiguous) and one input vector per pixel: 1.25 loads per
// FMA, against 2 for a loop that reloads the weight for every pixel. The block's input pointers are
// listed once per tap and pixel (the zero row in the padding, which is multiplied as PyTorch does, so
// that a non-finite weight reaches the border pixels too) and serve all the block's channels: the
// block's k x k x 4 pixels of input stay in L1 while its channels are swept. After XNNPACK's and
// ONNX Runtime MLAS's depthwise kernels (pixels outer, channels inner, pointer per tap).
#if defined(__x86_64__)
#include <immintrin.h>
#include "sc_igemm.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

enum { SC_DW_PIXELS = 4, SC_DW_MAX_TAPS = 49 };

static inline __attribute__((always_inline)) __m256i sc_dw_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Channels [c, c + 8 * groups) of `pixels` pixels (both constants after inlining); with `tail` > 0 the
// last group has only `tail` channels (masked loads and stores, never touching the others). The input
// of tap t and pixel p is at ptr[t * SC_DW_PIXELS + p]; or, with `rows` (a block inside the image), at
// rows[ky] + (kx + p * stride) * channels, addresses the loop computes instead of loading.
static inline __attribute__((always_inline)) void sc_dw_block(int pixels, int groups, int taps, const float *const *ptr,
                                                              const float *const *rows, int ks, int stride,
                                                              const float *w, int channels, int c, int tail,
                                                              float *out, const sc_epilogue *e) {
    __m256 acc[SC_DW_PIXELS][2];
    const __m256i mask = sc_dw_mask(tail);
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) acc[p][q] = _mm256_setzero_ps();
    if (rows) {
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
                        acc[p][q] = _mm256_fmadd_ps(xv, wv[q], acc[p][q]);
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
                    acc[p][q] = _mm256_fmadd_ps(xv, wv[q], acc[p][q]);
                }
        }
    }
    // The epilogue: scale and shift (1 and 0 where absent), then its steps, per pixel and group.
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
    sc_epilogue8 kk[SC_DW_PIXELS * 2];
    __m256 v[SC_DW_PIXELS * 2], r[SC_DW_PIXELS * 2], a[SC_DW_PIXELS * 2];
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) {
            const int masked = tail && q == groups - 1, i = p * groups + q;
            const size_t at = (size_t)p * channels + c + 8 * q;
            kk[i] = k[q];
            v[i] = acc[p][q];
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

// All the channels [cb, ce) of `pixels` (1 to 4) consecutive output pixels, whose tap pointers are in
// ptr[tap][pixel] (or whose rows are `rows`, see sc_dw_block). `out` and the epilogue's residual and
// second output point at the first pixel.
static inline __attribute__((always_inline)) void sc_dw_pixels(int pixels, int taps, const float *const *ptr,
                                                               const float *const *rows, int ks, int stride,
                                                               const float *w, int channels, int cb, int ce, float *out,
                                                               const sc_epilogue *e) {
    int c = cb;
    for (; c + 16 <= ce; c += 16) sc_dw_block(pixels, 2, taps, ptr, rows, ks, stride, w, channels, c, 0, out, e);
    if (c + 8 <= ce) {
        sc_dw_block(pixels, 1, taps, ptr, rows, ks, stride, w, channels, c, 0, out, e);
        c += 8;
    }
    if (c < ce) sc_dw_block(pixels, 1, taps, ptr, rows, ks, stride, w, channels, c, ce - c, out, e);
}

void sc_depthwise_avx2(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                       const sc_epilogue *epilogue, const float *zero, long pixel_begin, long pixel_end, int cb, int ce) {
    const int ks = g->kernel, taps = ks * ks, s = g->stride, pad = g->pad, channels = g->out_channels;
    const int h = g->in_height, w = g->in_width, oh = g->out_height, ow = g->out_width;
    const long plane = (long)oh * ow;
    const sc_epilogue none = {0};
    const sc_epilogue *e0 = epilogue ? epilogue : &none;
    const float *ptr[SC_DW_MAX_TAPS * SC_DW_PIXELS];
    for (long p0 = pixel_begin; p0 < pixel_end;) {
        // A block: up to four pixels of one output row.
        const long n = p0 / plane, rest = p0 - n * plane;
        const int oy = (int)(rest / ow), ox = (int)(rest - (long)oy * ow);
        const int pixels = (int)(pixel_end - p0 < SC_DW_PIXELS ? pixel_end - p0 : SC_DW_PIXELS) < ow - ox
                               ? (int)(pixel_end - p0 < SC_DW_PIXELS ? pixel_end - p0 : SC_DW_PIXELS)
                               : ow - ox;
        const float *image = input + (size_t)n * h * w * channels;
        // Inside the image (every tap of every pixel): row pointers, addresses computed in the loop.
        const int x0 = ox * s - pad, y0 = oy * s - pad;
        const int inside = x0 >= 0 && (ox + pixels - 1) * s - pad + ks <= w && y0 >= 0 && y0 + ks <= h;
        const float *rows[SC_DW_MAX_KERNEL];
        if (inside)
            for (int ky = 0; ky < ks; ky++) rows[ky] = image + ((size_t)(y0 + ky) * w + x0) * channels;
        else
            for (int ky = 0; ky < ks; ky++) {
                const int iy = y0 + ky;
                for (int kx = 0; kx < ks; kx++) {
                    const float **row = ptr + (ky * ks + kx) * SC_DW_PIXELS;
                    for (int p = 0; p < SC_DW_PIXELS; p++) {
                        const int ix = (ox + (p < pixels ? p : pixels - 1)) * s - pad + kx;
                        row[p] = iy < 0 || iy >= h || ix < 0 || ix >= w ? zero : image + ((size_t)iy * w + ix) * channels;
                    }
                }
            }
        const float *const *r = inside ? rows : NULL;
        sc_epilogue e = *e0;
        const size_t at = (size_t)p0 * channels;
        if (e.residual) e.residual += at;
        if (e.act_output) e.act_output += at;
        float *out = output + at;
        switch (pixels) {
        case 4:
            if (inside) sc_dw_pixels(4, taps, ptr, rows, ks, s, packed, channels, cb, ce, out, &e);
            else sc_dw_pixels(4, taps, ptr, NULL, ks, s, packed, channels, cb, ce, out, &e);
            break;
        case 3: sc_dw_pixels(3, taps, ptr, r, ks, s, packed, channels, cb, ce, out, &e); break;
        case 2: sc_dw_pixels(2, taps, ptr, r, ks, s, packed, channels, cb, ce, out, &e); break;
        default: sc_dw_pixels(1, taps, ptr, r, ks, s, packed, channels, cb, ce, out, &e); break;
        }
        p0 += pixels;
    }
}
#pragma clang attribute pop
#endif
