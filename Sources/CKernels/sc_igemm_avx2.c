// The AVX2+FMA micro-kernel of the NHWC convolution: a 6 x 16 tile (6 output pixels x 16 output
// channels) in 12 ymm accumulators, and its variants for 1 to 5 pixels. Each reduction step loads the
// panel's 16 weights (two vector loads) and broadcasts one input value per pixel: 8 loads feed 12
// FMAs, so the two FMA pipes stay busy while the loads hit L1 (unaligned loads: as fast on aligned
// data, and callers need not align). Compiled for AVX2+FMA by a target attribute (no global -mavx).
#if defined(__x86_64__)
#include <immintrin.h>
#include "sc_igemm.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include "sc_igemm_store.h"

// The reduction of one panel for `rows` pixels over `halves` (1 or 2, constants) of its 16 channels:
// a panel of at most 8 channels does half the FMAs (the last of 24 channels costs 8 columns, not 16).
static inline __attribute__((always_inline)) void sc_reduce(const int rows, const int halves, int taps, int kc,
                                                            const float *const *a, size_t offset, size_t tap_stride,
                                                            const float *w, __m256 *lo, __m256 *hi) {
    for (int r = 0; r < rows; r++) lo[r] = hi[r] = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++, a += SC_TILE_ROWS) {
        const float *row[SC_TILE_ROWS];
        for (int r = 0; r < rows; r++) row[r] = a[r] + offset;
        const float *restrict wk = w + (size_t)t * tap_stride;
        for (int k = 0; k < kc; k++, wk += SC_PANEL) {
            const __m256 bl = _mm256_loadu_ps(wk), bh = halves == 2 ? _mm256_loadu_ps(wk + 8) : bl;
            for (int r = 0; r < rows; r++) {
                const __m256 x = _mm256_broadcast_ss(row[r] + k);
                lo[r] = _mm256_fmadd_ps(x, bl, lo[r]);
                if (halves == 2) hi[r] = _mm256_fmadd_ps(x, bh, hi[r]);
            }
        }
    }
}

// The tile for exactly `rows` pixels (a constant in each instantiation below): a tile of fewer rows
// does proportionally fewer broadcasts and FMAs, so a 7x7 map's 49 pixels cost 8 1/6 tiles, not 9.
static inline __attribute__((always_inline)) void
sc_tile_rows(const int rows, int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
             float *c, const sc_igemm_epi *e) {
    // What every panel tests, read once (the epilogue's memory barrier would make each panel read it again).
    const int fixed_steps = sc_fixed_steps(e), prefetch = taps * kc >= SC_PREFETCH_MIN_STEPS;
    const int light = e->first && e->last && e->activation <= SC_ACT_RELU6;
    for (int p = 0; p < b->panels; p++) {
        const size_t col = (size_t)p * SC_PANEL;
        const int width = p + 1 < b->panels ? SC_PANEL : b->last_width;
        if (prefetch) sc_prefetch_tile(rows, c, col, e);
        __m256 lo[SC_TILE_ROWS], hi[SC_TILE_ROWS];
        const float *w = b->w + p * b->panel_stride;
        if (width <= 8)
            sc_reduce(rows, 1, taps, kc, a, offset, b->tap_stride, w, lo, hi);
        else
            sc_reduce(rows, 2, taps, kc, a, offset, b->tap_stride, w, lo, hi);
        sc_finish_panel(rows, lo, hi, c, col, width, e, light, fixed_steps);
    }
}

void sc_igemm_tile_avx2(int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                        float *c, int mr, const sc_igemm_epi *e) {
    SC_TILE_BY_ROWS(sc_tile_rows, mr, taps, kc, a, offset, b, c, e)
}

#pragma clang attribute pop
#endif
