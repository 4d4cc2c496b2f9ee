// How the x86 micro-kernels of the NHWC convolution store a finished panel of their tile: 16 channels
// as two ymm halves per pixel, onto the previous reduction blocks' partial sums and through the
// epilogue. Included by the AVX2 and the AVX-512 micro-kernels inside their target pragmas, so each
// compiles it for its own level.
#ifndef SC_IGEMM_STORE_H
#define SC_IGEMM_STORE_H

#include <immintrin.h>
#include "sc_igemm.h"

// Calls tile(rows, ...) with mr (1 to SC_TILE_ROWS) as the constant `rows`, so that each row count
// has its own copy of the tile, whose accumulators are indexed by constants.
#define SC_TILE_BY_ROWS(tile, mr, ...)                                                                     \
    switch (mr) {                                                                                          \
    case 1: tile(1, __VA_ARGS__); break;                                                                   \
    case 2: tile(2, __VA_ARGS__); break;                                                                   \
    case 3: tile(3, __VA_ARGS__); break;                                                                   \
    case 4: tile(4, __VA_ARGS__); break;                                                                   \
    case 5: tile(5, __VA_ARGS__); break;                                                                   \
    default: tile(SC_TILE_ROWS, __VA_ARGS__); break;                                                       \
    }

// The reduction length (taps x channels) from which a tile prefetches its output lines (sc_prefetch_tile).
#define SC_PREFETCH_MIN_STEPS 256

// 16 channels as two vectors: all of them (`full`), exactly the first 8 (`half`: a panel of 8
// channels, as the last of 24, 40 or 56), or a partial panel through masked loads and stores, which
// never touch the masked lanes.
typedef struct {
    int full, half;
    __m256i m0, m1;
} sc_lanes;

static const sc_lanes sc_full_lanes = {1, 0, {0}, {0}}, sc_half_lanes = {0, 1, {0}, {0}};

static inline __attribute__((always_inline)) sc_lanes sc_lanes_for(int nr) {
    return (sc_lanes){nr >= SC_PANEL, 0, sc_mask8(nr), sc_mask8(nr - 8)};
}

static inline __attribute__((always_inline)) void sc_load16(const float *p, sc_lanes l, __m256 *lo, __m256 *hi) {
    if (l.half) {
        *lo = _mm256_loadu_ps(p);
        *hi = _mm256_setzero_ps();
        return;
    }
    *lo = l.full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, l.m0);
    *hi = l.full ? _mm256_loadu_ps(p + 8) : _mm256_maskload_ps(p + 8, l.m1);
}

static inline __attribute__((always_inline)) void sc_store16(float *p, sc_lanes l, __m256 lo, __m256 hi) {
    if (l.half) {
        _mm256_storeu_ps(p, lo);
    } else if (l.full) {
        _mm256_storeu_ps(p, lo);
        _mm256_storeu_ps(p + 8, hi);
    } else {
        _mm256_maskstore_ps(p, l.m0, lo);
        _mm256_maskstore_ps(p + 8, l.m1, hi);
    }
}

// Stores a finished tile (the epilogue): onto the previous reduction blocks' partial sums unless
// `first`; if `last`, through the epilogue (sc_epilogue8_apply on both halves). Called with constant
// lanes and flags for the common case, which then compiles to straight vector code. `light` (a
// constant) promises no activation but ReLU or ReLU6, so that the others' code and constants stay out
// of the micro-kernel: inlined there, they cost its ReLU-only 1x1 convolutions 2-20%.
// `fixed` (a constant, or NULL) gives the epilogue's steps at compile time instead.
static inline __attribute__((always_inline)) void sc_finish_tile(const __m256 *lo, const __m256 *hi, int rows, float *c,
                                                                 sc_lanes l, size_t col, const sc_igemm_epi *e,
                                                                 int first, int last, int light,
                                                                 const sc_epilogue_steps *fixed) {
    // The epilogue's steps, and its operands for the panel's two halves (scale 1 and shift 0 when absent).
    const int activation = fixed                               ? fixed->activation
                           : !light                            ? e->activation
                           : e->activation == SC_ACT_RELU  ? SC_ACT_RELU
                           : e->activation == SC_ACT_RELU6 ? SC_ACT_RELU6
                                                           : SC_ACT_NONE;
    const sc_epilogue_steps steps = {fixed ? fixed->residual : last && e->residual, activation,
                                     fixed ? fixed->act : last && e->act, fixed ? fixed->act_relu : e->act_relu};
    float *act = steps.act ? e->act + col : NULL;
    const float *residual = steps.residual ? e->residual + col : NULL;
    sc_epilogue8 k[2] = {{.scale = _mm256_set1_ps(1.0f), .shift = _mm256_setzero_ps()}};
    k[1] = k[0];
    if (last && e->scale) sc_load16(e->scale + col, l, &k[0].scale, &k[1].scale);
    if (last && e->shift) sc_load16(e->shift + col, l, &k[0].shift, &k[1].shift);
    if (act) {
        sc_load16(e->act_scale + col, l, &k[0].act_scale, &k[1].act_scale);
        sc_load16(e->act_shift + col, l, &k[0].act_shift, &k[1].act_shift);
    }
    c += col;
    const size_t ldc = e->ldc;
    // Unrolled where rows is a constant, so that lo and hi are indexed by constants: left a loop (the
    // epilogue takes its body past the unroller's threshold), it made the compiler keep the 6-row
    // tile's accumulators in memory during the reduction.
#pragma clang loop unroll(enable)
    for (int r = 0; r < rows; r++) {
        __m256 v[2] = {lo[r], hi[r]}, x[2], a[2];
        float *row = c + r * ldc;
        if (!first) {  // accumulate onto the previous reduction blocks
            sc_load16(e->partial ? e->partial + r * ldc + col : row, l, &x[0], &x[1]);
            v[0] = _mm256_add_ps(v[0], x[0]);
            v[1] = _mm256_add_ps(v[1], x[1]);
        }
        if (last) {
            if (residual) sc_load16(residual + r * ldc, l, &x[0], &x[1]);
            sc_epilogue8_apply(l.half ? 1 : 2, k, steps, v, x, a);
        }
        sc_store16(row, l, v[0], v[1]);
        if (act) sc_store16(act + r * ldc, l, a[0], a[1]);
    }
}

// The other cases (a partial panel, or one of several reduction blocks), out of line and handed
// copies of the accumulators: inlined with its masks and flags, or given the accumulators' own
// address, it made the compiler keep some of the 12 accumulators on the stack during the reduction
// loop, at half speed (objdump shows the 6-row loop as 24 instructions with no stack access when all
// is well).
static __attribute__((noinline)) void sc_store_tile(const __m256 *lo, const __m256 *hi, int rows, float *c, int nr,
                                                    size_t col, const sc_igemm_epi *e) {
    sc_finish_tile(lo, hi, rows, c, sc_lanes_for(nr), col, e, e->first, e->last, 0, NULL);
}

// A full panel's last reduction block through an activation other than ReLU and ReLU6 (SiLU, GELU),
// out of line for the same reason: all its rows' vectors through sc_epilogue8_apply at once, so that
// the activation's switch is taken once per tile and the rows' long dependent chains interleave
// (through sc_finish_tile, two vectors at a time, a row's chain left the pipes idle: the epilogue was
// a sixth of EfficientNet's time).
static inline __attribute__((always_inline)) void sc_finish_full(const int rows, const __m256 *lo, const __m256 *hi,
                                                                 float *c, size_t col, const sc_igemm_epi *e) {
    const size_t ldc = e->ldc;
    float *act = e->act ? e->act + col : NULL;
    const float *residual = e->residual ? e->residual + col : NULL;
    const sc_lanes full = sc_full_lanes;
    const sc_epilogue_steps steps = {residual != NULL, e->activation, act != NULL, e->act_relu};
    sc_epilogue8 k[2] = {{.scale = _mm256_set1_ps(1.0f), .shift = _mm256_setzero_ps()}};
    k[1] = k[0];
    if (e->scale) sc_load16(e->scale + col, full, &k[0].scale, &k[1].scale);
    if (e->shift) sc_load16(e->shift + col, full, &k[0].shift, &k[1].shift);
    if (act) {
        sc_load16(e->act_scale + col, full, &k[0].act_scale, &k[1].act_scale);
        sc_load16(e->act_shift + col, full, &k[0].act_shift, &k[1].act_shift);
    }
    sc_epilogue8 kk[2 * SC_TILE_ROWS];
    __m256 v[2 * SC_TILE_ROWS], x[2 * SC_TILE_ROWS], a[2 * SC_TILE_ROWS];
    for (int r = 0; r < rows; r++) {
        kk[2 * r] = k[0], kk[2 * r + 1] = k[1];
        v[2 * r] = lo[r], v[2 * r + 1] = hi[r];
        if (residual) sc_load16(residual + r * ldc, full, &x[2 * r], &x[2 * r + 1]);
    }
    sc_epilogue8_apply(2 * rows, kk, steps, v, x, a);
    c += col;
    for (int r = 0; r < rows; r++) {
        sc_store16(c + r * ldc, full, v[2 * r], v[2 * r + 1]);
        if (act) sc_store16(act + r * ldc, full, a[2 * r], a[2 * r + 1]);
    }
}

static __attribute__((noinline)) void sc_store_tile_full(const __m256 *lo, const __m256 *hi, int rows, float *c,
                                                         size_t col, const sc_igemm_epi *e) {
    SC_TILE_BY_ROWS(sc_finish_full, rows, lo, hi, c, col, e)
}

// A full tile's full panel through the light epilogue (one reduction block, an activation of at most
// ReLU6), its steps fixed at compile time: one of 18 copies, chosen by a switch per panel. Tested row
// by row at run time, the steps' branches and operand set-up cost nearly twice as much per tile and
// panel beyond the FMAs (kernel A/B 0.83-0.94 on 1x1 convolutions over 16 to 32 channels).
#define SC_FIXED_STEPS(n)                                                                                   \
    case n:                                                                                                \
        sc_finish_tile(lo, hi, SC_TILE_ROWS, c, sc_full_lanes, col, e, 1, 1, 1,                            \
                       &(const sc_epilogue_steps){n / 3 % 2, n % 3 == 1   ? SC_ACT_RELU                    \
                                                             : n % 3 == 2 ? SC_ACT_RELU6                   \
                                                                          : SC_ACT_NONE,                   \
                                                  n / 6 > 0, n / 6 == 2});                                  \
        break;
static inline __attribute__((always_inline)) int sc_fixed_steps(const sc_igemm_epi *e) {
    const int activation = e->activation == SC_ACT_RELU ? 1 : e->activation == SC_ACT_RELU6 ? 2 : 0;
    return activation + 3 * (e->residual != NULL) + 6 * (e->act == NULL ? 0 : e->act_relu ? 2 : 1);
}
static inline __attribute__((always_inline)) void sc_finish_fixed(const __m256 *lo, const __m256 *hi, float *c,
                                                                  size_t col, const sc_igemm_epi *e, int steps) {
    switch (steps) {
        SC_FIXED_STEPS(0) SC_FIXED_STEPS(1) SC_FIXED_STEPS(2) SC_FIXED_STEPS(3) SC_FIXED_STEPS(4) SC_FIXED_STEPS(5)
        SC_FIXED_STEPS(6) SC_FIXED_STEPS(7) SC_FIXED_STEPS(8) SC_FIXED_STEPS(9) SC_FIXED_STEPS(10) SC_FIXED_STEPS(11)
        SC_FIXED_STEPS(12) SC_FIXED_STEPS(13) SC_FIXED_STEPS(14) SC_FIXED_STEPS(15) SC_FIXED_STEPS(16) SC_FIXED_STEPS(17)
    }
}
#undef SC_FIXED_STEPS

// The tile's output and residual lines are needed only at the end: asked for before the reduction, so
// that they arrive during it instead of stalling the stores (1x1 convolutions over large maps stream
// their output and residual from beyond L2). Only for long reductions: under SC_PREFETCH_MIN_STEPS
// steps the prefetches cost more than they save (kernel A/B 0.83-0.94 without them on MobileNetV2's
// 1x1s over 16 to 96 channels; 1.06 on resnet-50's 256 -> 512 stride-2 shortcut, 256 steps, with
// them removed).
static inline __attribute__((always_inline)) void sc_prefetch_tile(const int rows, const float *c, size_t col,
                                                                   const sc_igemm_epi *e) {
    for (int r = 0; r < rows; r++) {
        _mm_prefetch((const char *)(c + r * e->ldc + col), _MM_HINT_T0);
        if (e->last && e->residual) _mm_prefetch((const char *)(e->residual + r * e->ldc + col), _MM_HINT_T0);
        if (e->last && e->act) _mm_prefetch((const char *)(e->act + r * e->ldc + col), _MM_HINT_T0);
    }
}

// Stores a panel of `width` channels at column `col` once its reduction is done (lo and hi: each row's
// two halves); `light` and `fixed_steps` as sc_tile_rows reads them once per tile.
static inline __attribute__((always_inline)) void sc_finish_panel(const int rows, const __m256 *lo, const __m256 *hi,
                                                                  float *c, size_t col, int width,
                                                                  const sc_igemm_epi *e, int light, int fixed_steps) {
    if (light && (width == SC_PANEL || width == 8)) {
        // One reduction block and a full panel (or half), in registers: 6-22% faster than out of
        // line on 1x1 convolutions over 16 to 64 channels, whose short reductions make the
        // epilogue weigh.
        __asm__ volatile("" ::: "memory");  // keeps the epilogue's loads below the reduction
        if (width == SC_PANEL && rows == SC_TILE_ROWS)
            sc_finish_fixed(lo, hi, c, col, e, fixed_steps);
        else if (width == SC_PANEL)
            sc_finish_tile(lo, hi, rows, c, sc_full_lanes, col, e, 1, 1, 1, NULL);
        else
            sc_finish_tile(lo, hi, rows, c, sc_half_lanes, col, e, 1, 1, 1, NULL);
        return;
    }
    if (!e->last && width == SC_PANEL) {
        // A full panel's partial sums (a reduction block before the last), in registers as well:
        // only loads, adds and stores, no epilogue (kernel A/B 0.92-0.98 on resnet-50's stage 4
        // 1x1s, 2 to 8 blocks; 0.97-0.99 on those steps inside the network).
        __asm__ volatile("" ::: "memory");
        sc_finish_tile(lo, hi, rows, c, sc_full_lanes, col, e, e->first, 0, 1, NULL);
        return;
    }
    // Copies, so that the accumulators themselves never have their address taken (which would keep
    // them in memory during the reduction).
    __m256 done_lo[SC_TILE_ROWS], done_hi[SC_TILE_ROWS];
    for (int r = 0; r < rows; r++) {
        done_lo[r] = lo[r];
        done_hi[r] = hi[r];
    }
    if (e->first && e->last && width == SC_PANEL)
        sc_store_tile_full(done_lo, done_hi, rows, c, col, e);
    else
        sc_store_tile(done_lo, done_hi, rows, c, width, col, e);
}

#endif
