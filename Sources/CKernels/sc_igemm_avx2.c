// The AVX2+FMA micro-kernel of the NHWC convolution: a 6 x 16 tile (6 output pixels x 16 output
// channels) in 12 ymm accumulators, and its variants for 1 to 5 pixels. Each reduction step loads the panel's 16 weights (two vector
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
// With a second output (act), the stored values also go through its scale, shift and ReLU (a0, a1: scale,
// b0, b1: shift).
typedef struct { __m256 s0, s1, h0, h1, a0, a1, b0, b1; } sc_epi_vectors;

static inline __attribute__((always_inline)) void
sc_store_act(float *act, __m256 lo, __m256 hi, const sc_igemm_epi *e, const sc_epi_vectors *v, int full, __m256i m0, __m256i m1) {
    lo = _mm256_fmadd_ps(lo, v->a0, v->b0);
    hi = _mm256_fmadd_ps(hi, v->a1, v->b1);
    if (e->act_relu) {
        lo = _mm256_max_ps(lo, _mm256_setzero_ps());
        hi = _mm256_max_ps(hi, _mm256_setzero_ps());
    }
    if (full) {
        _mm256_storeu_ps(act, lo);
        _mm256_storeu_ps(act + 8, hi);
    } else {
        _mm256_maskstore_ps(act, m0, lo);
        _mm256_maskstore_ps(act + 8, m1, hi);
    }
}

static inline __attribute__((always_inline)) void
sc_store_row(float *c, const float *res, float *act, __m256 lo, __m256 hi, const sc_igemm_epi *e, const sc_epi_vectors *v,
             int full, __m256i m0, __m256i m1) {
    const __m256 s0 = v->s0, s1 = v->s1, h0 = v->h0, h1 = v->h1;
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
        if (act) sc_store_act(act, lo, hi, e, v, full, m0, m1);
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
    if (act) sc_store_act(act, lo, hi, e, v, full, m0, m1);
}

// Stores a finished tile (the epilogue). Kept out of line, and handed copies of the accumulators:
// inlined, or given the accumulators' own address, it made the compiler keep some of the 12
// accumulators on the stack during the reduction loop, at half speed (objdump shows the 6-row loop
// as 24 instructions with no stack access when all is well).
static __attribute__((noinline)) void sc_store_tile(const __m256 *lo, const __m256 *hi, int rows, float *c, int nr,
                                                    const sc_igemm_epi *e) {
    const int full = nr >= SC_PANEL;
    const __m256i m0 = sc_lanes_below(nr), m1 = sc_lanes_below(nr - 8);
    sc_epi_vectors v;
    v.s0 = v.s1 = v.a0 = v.a1 = _mm256_set1_ps(1.0f);
    v.h0 = v.h1 = v.b0 = v.b1 = _mm256_setzero_ps();
#define SC_LOAD16(p, x0, x1)                                                        \
    x0 = full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m0);                  \
    x1 = full ? _mm256_loadu_ps((p) + 8) : _mm256_maskload_ps((p) + 8, m1)
    if (e->last && e->scale) { SC_LOAD16(e->scale, v.s0, v.s1); }
    if (e->last && e->shift) { SC_LOAD16(e->shift, v.h0, v.h1); }
    float *act = e->last ? e->act : NULL;
    if (act) {
        SC_LOAD16(e->act_scale, v.a0, v.a1);
        SC_LOAD16(e->act_shift, v.b0, v.b1);
    }
#undef SC_LOAD16
    const size_t ldc = e->ldc;
    const float *res = e->last ? e->residual : NULL;
    for (int r = 0; r < rows; r++)
        sc_store_row(c + r * ldc, res ? res + r * ldc : NULL, act ? act + r * ldc : NULL, lo[r], hi[r], e, &v, full, m0, m1);
}


// The tile for exactly `rows` pixels (a constant in each instantiation below): a tile of fewer rows
// does proportionally fewer broadcasts and FMAs, so a 7x7 map's 49 pixels cost 8 1/6 tiles, not 9.
static inline __attribute__((always_inline)) void
sc_tile_rows(const int rows, int taps, int kc, const float *const *a, size_t offset, const float *w,
             size_t w_tap_stride, float *c, int nr, const sc_igemm_epi *e) {
    // The tile's output and residual lines are needed only at the end: ask for them now, so that they
    // arrive during the reduction instead of stalling the stores (1x1 convolutions over large maps
    // stream their output and residual from beyond L2).
    for (int r = 0; r < rows; r++) {
        _mm_prefetch((const char *)(c + r * e->ldc), _MM_HINT_T0);
        if (e->last && e->residual) _mm_prefetch((const char *)(e->residual + r * e->ldc), _MM_HINT_T0);
        if (e->last && e->act) _mm_prefetch((const char *)(e->act + r * e->ldc), _MM_HINT_T0);
    }
    __m256 lo[SC_TILE_ROWS], hi[SC_TILE_ROWS];
    for (int r = 0; r < rows; r++) lo[r] = hi[r] = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++, a += SC_TILE_ROWS) {
        const float *row[SC_TILE_ROWS];
        for (int r = 0; r < rows; r++) row[r] = a[r] + offset;
        const float *restrict b = w + (size_t)t * w_tap_stride;
        for (int k = 0; k < kc; k++, b += SC_PANEL) {
            const __m256 bl = _mm256_loadu_ps(b), bh = _mm256_loadu_ps(b + 8);
            for (int r = 0; r < rows; r++) {
                const __m256 x = _mm256_broadcast_ss(row[r] + k);
                lo[r] = _mm256_fmadd_ps(x, bl, lo[r]);
                hi[r] = _mm256_fmadd_ps(x, bh, hi[r]);
            }
        }
    }
    // Copies, so that the accumulators themselves never have their address taken (which would keep
    // them in memory during the reduction).
    __m256 done_lo[SC_TILE_ROWS], done_hi[SC_TILE_ROWS];
    for (int r = 0; r < rows; r++) {
        done_lo[r] = lo[r];
        done_hi[r] = hi[r];
    }
    sc_store_tile(done_lo, done_hi, rows, c, nr, e);
}

void sc_igemm_tile_avx2(int taps, int kc, const float *const *a, size_t offset, const float *w,
                        size_t w_tap_stride, float *c, int mr, int nr, const sc_igemm_epi *e) {
    switch (mr) {
    case 1: sc_tile_rows(1, taps, kc, a, offset, w, w_tap_stride, c, nr, e); break;
    case 2: sc_tile_rows(2, taps, kc, a, offset, w, w_tap_stride, c, nr, e); break;
    case 3: sc_tile_rows(3, taps, kc, a, offset, w, w_tap_stride, c, nr, e); break;
    case 4: sc_tile_rows(4, taps, kc, a, offset, w, w_tap_stride, c, nr, e); break;
    case 5: sc_tile_rows(5, taps, kc, a, offset, w, w_tap_stride, c, nr, e); break;
    default: sc_tile_rows(SC_TILE_ROWS, taps, kc, a, offset, w, w_tap_stride, c, nr, e); break;
    }
}

#pragma clang attribute pop
#endif
