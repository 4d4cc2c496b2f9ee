// The AVX-512 micro-kernel of the NHWC convolution: the AVX2 kernel's contract and packed weights
// (6 output pixels, panels of 16 channels), with a whole panel in one zmm register, so that a tile
// takes two panels at once: 6 x 32 in 12 zmm accumulators. Each reduction step loads the two panels'
// 16 weights (one vector load each) and broadcasts one input value per pixel: 8 loads feed 12 FMAs
// of twice the AVX2 width, and 12 independent sums cover the FMA's latency on both pipes. A tile that
// visits every panel takes four at once where it can (6 x 64, 24 sums); a lone panel (an odd count)
// has 6 sums; the driver's passes over the tiles take four panels at this level. Where reductions
// are long, two tiles go at once (12 x 32 in 24 sums), two panels at a time: a 1x1 convolution's
// (sc_igemm_tile12_avx512), and those of a pass over the tiles through their pointer tables
// (sc_igemm_tile12_table_avx512).
// A finished panel is stored as two ymm halves by the AVX2 kernel's epilogue (sc_igemm_store.h): the
// same code, and each output the same sequence of FMAs, so both levels give the same results.
#if defined(__x86_64__)
#define SC_ACTIVATIONS16  // the epilogue's transcendental activations at sixteen lanes
#include <immintrin.h>
#include "sc_igemm.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#include "sc_igemm_store.h"

// Marks `n` sums of each of the `np` panels as final where the reduction ends. Without this, clang
// kept the sums in registers other than the loop's and copied them at every step (7 to 11 zmm moves
// beside 8 to 12 FMAs in the loops of the 4- to 6-pixel tiles); the empty asm ends the live ranges
// there, and the loop keeps its own registers.
static inline __attribute__((always_inline)) void sc_settle512(const int np, const int n, __m512 s[][SC_TILE_ROWS]) {
    for (int j = 0; j < np; j++)
        for (int r = 0; r < n; r++) __asm__("" : "+v"(s[j][r]));
}

// Sums s[0..n) as the ymm halves sc_finish_panel takes, by constant indices where inlined: an
// array the epilogue's calls index at run time stays in memory, and when that was the sums' own,
// clang cleared it with memset and loaded it back before the reduction (a store-forwarding stall
// behind the previous tile's output stores).
static inline __attribute__((always_inline)) void sc_halves512(const int n, const __m512 *s, __m256 *lo, __m256 *hi) {
    for (int r = 0; r < n; r++) {
        lo[r] = _mm512_castps512_ps256(s[r]);
        hi[r] = _mm512_extractf32x8_ps(s[r], 1);
    }
}

// The reduction of `np` (1, 2 or 4, a constant) consecutive panels for `rows` pixels: s[j][r] holds
// panel j's sums for pixel r.
static inline __attribute__((always_inline)) void sc_reduce512(const int rows, const int np, int taps, int kc,
                                                               const float *const *a, size_t offset, size_t tap_stride,
                                                               const float *w, size_t panel_stride,
                                                               __m512 s[][SC_TILE_ROWS]) {
    for (int j = 0; j < np; j++)
        for (int r = 0; r < rows; r++) s[j][r] = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++, a += SC_TILE_ROWS) {
        const float *row[SC_TILE_ROWS];
        for (int r = 0; r < rows; r++) row[r] = a[r] + offset;
        const float *restrict wk = w + (size_t)t * tap_stride;
        for (int k = 0; k < kc; k++, wk += SC_PANEL) {
            __m512 b[4];
            for (int j = 0; j < np; j++) b[j] = _mm512_loadu_ps(wk + j * panel_stride);
            for (int r = 0; r < rows; r++) {
                const __m512 x = _mm512_set1_ps(row[r][k]);
                for (int j = 0; j < np; j++) s[j][r] = _mm512_fmadd_ps(x, b[j], s[j][r]);
            }
        }
    }
    sc_settle512(np, rows, s);
}

// Panels [p, p + np) of the tile, reduced and stored.
static inline __attribute__((always_inline)) void sc_panels512(const int rows, const int np, int p, int taps, int kc,
                                                               const float *const *a, size_t offset,
                                                               const sc_igemm_panels *b, float *c,
                                                               const sc_igemm_epi *e, int prefetch, int light,
                                                               int fixed_steps) {
    const size_t col = (size_t)p * SC_PANEL;
    if (prefetch)
        for (int j = 0; j < np; j++) sc_prefetch_tile(rows, c, col + j * SC_PANEL, e);
    __m512 s[4][SC_TILE_ROWS];
    sc_reduce512(rows, np, taps, kc, a, offset, b->tap_stride, b->w + p * b->panel_stride, b->panel_stride, s);
    __m256 lo[4][SC_TILE_ROWS], hi[4][SC_TILE_ROWS];
    for (int j = 0; j < np; j++) sc_halves512(rows, s[j], lo[j], hi[j]);
    for (int j = 0; j < np; j++) {
        const int width = p + j + 1 < b->panels ? SC_PANEL : b->last_width;
        sc_finish_panel(rows, lo[j], hi[j], c, col + j * SC_PANEL, width, e, light, fixed_steps);
    }
}

// A tile that visits every panel in turn takes them four at a time (6 x 64, 24 sums: each step's six
// broadcasts serve 24 FMAs) where its reduction has at least this many steps: kernel A/B 0.85-0.92
// on MobileNetV2's 1x1s over 32 to 960 channels and resnet-50's over 64; over 16 channels (16 steps,
// the epilogue heavier than the reduction) it measured 1.05-1.17, and those take two.
// (Its first form, before sc_settle512 and the pairs' stores below were mended, measured 1.11 of
// two's time.)
#define SC_FOUR_PANELS_MIN_STEPS 32

// The tile for exactly `rows` pixels (a constant in each instantiation below).
static inline __attribute__((always_inline)) void
sc_tile_rows512(const int rows, int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                float *c, const sc_igemm_epi *e) {
    const int fixed_steps = sc_fixed_steps(e), prefetch = taps * kc >= SC_PREFETCH_MIN_STEPS;
    const int light = e->first && e->last && e->activation <= SC_ACT_RELU6;
    int p = 0;
    if (taps * kc >= SC_FOUR_PANELS_MIN_STEPS)
        for (; p + 4 <= b->panels; p += 4)
            sc_panels512(rows, 4, p, taps, kc, a, offset, b, c, e, prefetch, light, fixed_steps);
    for (; p + 2 <= b->panels; p += 2)
        sc_panels512(rows, 2, p, taps, kc, a, offset, b, c, e, prefetch, light, fixed_steps);
    if (p < b->panels) sc_panels512(rows, 1, p, taps, kc, a, offset, b, c, e, prefetch, light, fixed_steps);
}

// Two full tiles at once: 12 x 32 in 24 zmm sums, so that each step's two weight vectors, which
// come from L2 where the weights pass under many tiles, serve 12 pixels instead of 6. Pixel r's
// input for tap t: with `direct` (a constant; a 1x1 convolution, one tap) at a + r lda, read from
// four bases three rows apart (12 row pointers would not fit the general registers beside the
// loop's own, and were reloaded from the stack at every step); otherwise from the two tiles' pointer
// tables, table[t * 6 + r] and table[second + t * 6 + r - 6], + offset. Kept apart from sc_panels512:
// one function for both, the rows a constant parameter, made the 6-row tiles 1.05-1.12 slower on
// resnet-50's 1x1s over 64 channels (kernel A/B).
static inline __attribute__((always_inline)) void sc_twelve(const int np, const int direct, int p, int taps, int kc,
                                                            const float *a, size_t lda, const float *const *table,
                                                            size_t second, size_t offset, const sc_igemm_panels *b,
                                                            float *c, const sc_igemm_epi *e, const sc_igemm_epi *e6,
                                                            int prefetch, int light, int fixed_steps) {
    const size_t col = (size_t)p * SC_PANEL;
    if (prefetch)
        for (int j = 0; j < np; j++) {
            sc_prefetch_tile(SC_TILE_ROWS, c, col + j * SC_PANEL, e);
            sc_prefetch_tile(SC_TILE_ROWS, c + SC_TILE_ROWS * e->ldc, col + j * SC_PANEL, e6);
        }
    __m512 s[2][2 * SC_TILE_ROWS];
    for (int j = 0; j < np; j++)
        for (int r = 0; r < 2 * SC_TILE_ROWS; r++) s[j][r] = _mm512_setzero_ps();
    const float *base[4] = {a, a + 3 * lda, a + 6 * lda, a + 9 * lda};
    for (int t = 0; t < (direct ? 1 : taps); t++, table += SC_TILE_ROWS) {
        const float *row[2 * SC_TILE_ROWS];
        if (!direct)
            for (int r = 0; r < 2 * SC_TILE_ROWS; r++)
                row[r] = (r < SC_TILE_ROWS ? table[r] : table[second + r - SC_TILE_ROWS]) + offset;
        const float *restrict wk = b->w + p * b->panel_stride + (size_t)t * b->tap_stride;
        for (int k = 0; k < kc; k++, wk += SC_PANEL) {
            __m512 w[2];
            for (int j = 0; j < np; j++) w[j] = _mm512_loadu_ps(wk + j * b->panel_stride);
#pragma clang loop unroll(full)
            for (int r = 0; r < 2 * SC_TILE_ROWS; r++) {
                const __m512 x = _mm512_set1_ps(direct ? base[r / 3][(r % 3) * lda + k] : row[r][k]);
                for (int j = 0; j < np; j++) s[j][r] = _mm512_fmadd_ps(x, w[j], s[j][r]);
            }
        }
    }
    __m256 lo[2][2 * SC_TILE_ROWS], hi[2][2 * SC_TILE_ROWS];
    for (int j = 0; j < np; j++) sc_halves512(2 * SC_TILE_ROWS, s[j], lo[j], hi[j]);
    for (int j = 0; j < np; j++) {
        const int width = p + j + 1 < b->panels ? SC_PANEL : b->last_width;
        for (int half = 0; half < 2; half++)
            sc_finish_panel(SC_TILE_ROWS, lo[j] + half * SC_TILE_ROWS, hi[j] + half * SC_TILE_ROWS,
                            c + half * SC_TILE_ROWS * e->ldc, col + j * SC_PANEL, width, half ? e6 : e, light,
                            fixed_steps);
    }
}

// The entry points' common part: the second tile's epilogue (its pointers 6 rows on), then the
// panels by pairs.
static inline __attribute__((always_inline)) void sc_tile12(const int direct, int taps, int kc, const float *a,
                                                            size_t lda, const float *const *table, size_t second,
                                                            size_t offset, const sc_igemm_panels *b, float *c,
                                                            const sc_igemm_epi *e) {
    // Field by field: a copy of the whole struct (as two zmm loads) was not forwarded the pointers
    // the caller had just stored into it, so it waited for every store before them, the previous
    // tile's output among them, at every call. (The assertion asks a new field to be copied here.)
    _Static_assert(sizeof(sc_igemm_epi) == 88, "sc_tile12 copies sc_igemm_epi's fields one by one");
    const size_t rows6 = SC_TILE_ROWS * e->ldc;
    const sc_igemm_epi e6 = {
        .scale = e->scale, .shift = e->shift, .residual = e->residual ? e->residual + rows6 : NULL,
        .ldc = e->ldc, .activation = e->activation, .first = e->first, .last = e->last,
        .partial = e->partial ? e->partial + rows6 : NULL, .act = e->act ? e->act + rows6 : NULL,
        .act_scale = e->act_scale, .act_shift = e->act_shift, .act_relu = e->act_relu};
    const int fixed_steps = sc_fixed_steps(e), prefetch = taps * kc >= SC_PREFETCH_MIN_STEPS;
    const int light = e->first && e->last && e->activation <= SC_ACT_RELU6;
    int p = 0;
    for (; p + 2 <= b->panels; p += 2)
        sc_twelve(2, direct, p, taps, kc, a, lda, table, second, offset, b, c, e, &e6, prefetch, light, fixed_steps);
    if (p < b->panels)
        sc_twelve(1, direct, p, taps, kc, a, lda, table, second, offset, b, c, e, &e6, prefetch, light, fixed_steps);
}

void sc_igemm_tile12_avx512(int kc, const float *a, size_t lda, const sc_igemm_panels *b, float *c,
                            const sc_igemm_epi *e) {
    sc_tile12(1, 1, kc, a, lda, NULL, 0, 0, b, c, e);
}

void sc_igemm_tile12_table_avx512(int taps, int kc, const float *const *a, size_t second, size_t offset,
                                  const sc_igemm_panels *b, float *c, const sc_igemm_epi *e) {
    sc_tile12(0, taps, kc, NULL, 0, a, second, offset, b, c, e);
}

void sc_igemm_tile_avx512(int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                          float *c, int mr, const sc_igemm_epi *e) {
    SC_TILE_BY_ROWS(sc_tile_rows512, mr, taps, kc, a, offset, b, c, e)
}

#pragma clang attribute pop
#endif
