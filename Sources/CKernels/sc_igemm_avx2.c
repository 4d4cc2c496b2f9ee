// The AVX2+FMA micro-kernel of the NHWC convolution: a 6 x 16 tile (6 output pixels x 16 output
// channels) in 12 ymm accumulators. Each reduction step loads the panel's 16 weights (two vector
// loads) and broadcasts one input value per pixel: 8 loads feed 12 FMAs, so the two FMA pipes stay
// busy while the loads hit L1 (unaligned loads: as fast on aligned data, and callers need not align).
// Compiled for AVX2+FMA by a target attribute (no global -mavx flags).
#if defined(__x86_64__)
#include <immintrin.h>
#include "sc_igemm.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

static inline __attribute__((always_inline)) __m256i sc_lanes_below(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Stores one pixel's 16 channels: accumulate onto a previous reduction block, then (last block) the
// epilogue. Partial panels (nr < 16) use masked loads and stores, which never touch masked lanes.
static inline __attribute__((always_inline)) void
sc_store_row(float *c, const float *res, __m256 lo, __m256 hi, const sc_igemm_epi *e, __m256 s0, __m256 s1,
             __m256 h0, __m256 h1, int full, __m256i m0, __m256i m1) {
    if (full) {
        if (!e->first) {
            lo = _mm256_add_ps(lo, _mm256_loadu_ps(c));
            hi = _mm256_add_ps(hi, _mm256_loadu_ps(c + 8));
        }
        if (e->last) {
            lo = _mm256_fmadd_ps(lo, s0, h0);
            hi = _mm256_fmadd_ps(hi, s1, h1);
            if (res) {
                lo = _mm256_add_ps(lo, _mm256_loadu_ps(res));
                hi = _mm256_add_ps(hi, _mm256_loadu_ps(res + 8));
            }
            if (e->relu) {
                lo = _mm256_max_ps(lo, _mm256_setzero_ps());
                hi = _mm256_max_ps(hi, _mm256_setzero_ps());
            }
        }
        _mm256_storeu_ps(c, lo);
        _mm256_storeu_ps(c + 8, hi);
        return;
    }
    if (!e->first) {
        lo = _mm256_add_ps(lo, _mm256_maskload_ps(c, m0));
        hi = _mm256_add_ps(hi, _mm256_maskload_ps(c + 8, m1));
    }
    if (e->last) {
        lo = _mm256_fmadd_ps(lo, s0, h0);
        hi = _mm256_fmadd_ps(hi, s1, h1);
        if (res) {
            lo = _mm256_add_ps(lo, _mm256_maskload_ps(res, m0));
            hi = _mm256_add_ps(hi, _mm256_maskload_ps(res + 8, m1));
        }
        if (e->relu) {
            lo = _mm256_max_ps(lo, _mm256_setzero_ps());
            hi = _mm256_max_ps(hi, _mm256_setzero_ps());
        }
    }
    _mm256_maskstore_ps(c, m0, lo);
    _mm256_maskstore_ps(c + 8, m1, hi);
}

void sc_igemm_tile_avx2(int taps, int kc, const float *const *a, size_t offset, const float *w,
                        size_t w_tap_stride, float *c, int mr, int nr, const sc_igemm_epi *e) {
    __m256 c0l = _mm256_setzero_ps(), c0h = c0l, c1l = c0l, c1h = c0l, c2l = c0l, c2h = c0l;
    __m256 c3l = c0l, c3h = c0l, c4l = c0l, c4h = c0l, c5l = c0l, c5h = c0l;
    for (int t = 0; t < taps; t++, a += SC_TILE_ROWS) {
        const float *restrict a0 = a[0] + offset, *restrict a1 = a[1] + offset, *restrict a2 = a[2] + offset;
        const float *restrict a3 = a[3] + offset, *restrict a4 = a[4] + offset, *restrict a5 = a[5] + offset;
        const float *restrict b = w + (size_t)t * w_tap_stride;
        for (int k = 0; k < kc; k++, b += SC_PANEL) {
            const __m256 bl = _mm256_loadu_ps(b), bh = _mm256_loadu_ps(b + 8);
            __m256 x = _mm256_broadcast_ss(a0 + k);
            c0l = _mm256_fmadd_ps(x, bl, c0l);
            c0h = _mm256_fmadd_ps(x, bh, c0h);
            x = _mm256_broadcast_ss(a1 + k);
            c1l = _mm256_fmadd_ps(x, bl, c1l);
            c1h = _mm256_fmadd_ps(x, bh, c1h);
            x = _mm256_broadcast_ss(a2 + k);
            c2l = _mm256_fmadd_ps(x, bl, c2l);
            c2h = _mm256_fmadd_ps(x, bh, c2h);
            x = _mm256_broadcast_ss(a3 + k);
            c3l = _mm256_fmadd_ps(x, bl, c3l);
            c3h = _mm256_fmadd_ps(x, bh, c3h);
            x = _mm256_broadcast_ss(a4 + k);
            c4l = _mm256_fmadd_ps(x, bl, c4l);
            c4h = _mm256_fmadd_ps(x, bh, c4h);
            x = _mm256_broadcast_ss(a5 + k);
            c5l = _mm256_fmadd_ps(x, bl, c5l);
            c5h = _mm256_fmadd_ps(x, bh, c5h);
        }
    }
    const int full = nr >= SC_PANEL;
    const __m256i m0 = sc_lanes_below(nr), m1 = sc_lanes_below(nr - 8);
    __m256 s0 = _mm256_set1_ps(1.0f), s1 = s0, h0 = _mm256_setzero_ps(), h1 = h0;
    if (e->last && e->scale) {
        s0 = full ? _mm256_loadu_ps(e->scale) : _mm256_maskload_ps(e->scale, m0);
        s1 = full ? _mm256_loadu_ps(e->scale + 8) : _mm256_maskload_ps(e->scale + 8, m1);
    }
    if (e->last && e->shift) {
        h0 = full ? _mm256_loadu_ps(e->shift) : _mm256_maskload_ps(e->shift, m0);
        h1 = full ? _mm256_loadu_ps(e->shift + 8) : _mm256_maskload_ps(e->shift + 8, m1);
    }
    const size_t ldc = e->ldc;
    const float *res = e->last ? e->residual : NULL;
#define SC_ROW(r, lo, hi)                                                                                      \
    if (mr > r) sc_store_row(c + r * ldc, res ? res + r * ldc : NULL, lo, hi, e, s0, s1, h0, h1, full, m0, m1)
    SC_ROW(0, c0l, c0h);
    SC_ROW(1, c1l, c1h);
    SC_ROW(2, c2l, c2h);
    SC_ROW(3, c3l, c3h);
    SC_ROW(4, c4l, c4h);
    SC_ROW(5, c5l, c5h);
#undef SC_ROW
}

#pragma clang attribute pop
#endif
