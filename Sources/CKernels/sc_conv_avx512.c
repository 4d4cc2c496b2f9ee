// AVX-512 level of the convolution: 12 x 32 micro-tiles (24 zmm accumulators, two zmm of input
// pixels per k, the weights broadcast from the packed panel), 12 x 16 for a last panel of at most 16
// pixels, masked loads and stores for partial tiles.
#if defined(__x86_64__)
#include <immintrin.h>
#include "sc_internal.h"

#define SC_NR 32
#define SC_KC 256
#define SC_NC 256
#define SC_MC 240
#define SC_PANEL_PAD 0
#define SC_FN(name) name##_avx512

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,fma"))), apply_to = function)

// rows x (16 * nv) tile, rows <= 12, nv = 1 (panels of at most 16 columns) or 2.
static inline __attribute__((always_inline)) void
tile_k_avx512(const float *restrict a, const float *restrict b, int kc, const int rows, const int nv, int nr,
              float *c, const sc_tile_epi *e) {
    __m512 acc[SC_MR][2];
    for (int i = 0; i < rows; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 bv[2];
        for (int v = 0; v < nv; v++) bv[v] = _mm512_load_ps(b + 16 * v);
        for (int i = 0; i < rows; i++) {
            const __m512 av = _mm512_set1_ps(a[i]);
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
        a += SC_MR;
        b += SC_NR;
    }
    const size_t ldc = e->ldc;
    const uint32_t bits = nr >= 32 ? 0xFFFFFFFFu : (1u << nr) - 1u;
    const __mmask16 mk[2] = {(__mmask16)bits, (__mmask16)(bits >> 16)};
    for (int i = 0; i < rows; i++) {
        for (int v = 0; v < nv; v++) {
            float *p = c + i * ldc + 16 * v;
            __m512 x = acc[i][v];
            if (!e->first) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], p));
            if (e->last) {
                if (e->scale) x = _mm512_mul_ps(x, _mm512_set1_ps(e->scale[i]));
                if (e->shift) x = _mm512_add_ps(x, _mm512_set1_ps(e->shift[i]));
                if (e->residual) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk[v], e->residual + i * ldc + 16 * v));
                if (e->relu) x = _mm512_max_ps(x, _mm512_setzero_ps());
            }
            _mm512_mask_storeu_ps(p, mk[v], x);
        }
    }
}

#define SC_TILE_CASES(nv)                                         \
    switch (mr) {                                                 \
    case 12: tile_k_avx512(a, b, kc, 12, nv, nr, c, e); return;  \
    case 11: tile_k_avx512(a, b, kc, 11, nv, nr, c, e); return;  \
    case 10: tile_k_avx512(a, b, kc, 10, nv, nr, c, e); return;  \
    case 9: tile_k_avx512(a, b, kc, 9, nv, nr, c, e); return;    \
    case 8: tile_k_avx512(a, b, kc, 8, nv, nr, c, e); return;    \
    case 7: tile_k_avx512(a, b, kc, 7, nv, nr, c, e); return;    \
    case 6: tile_k_avx512(a, b, kc, 6, nv, nr, c, e); return;    \
    case 5: tile_k_avx512(a, b, kc, 5, nv, nr, c, e); return;    \
    case 4: tile_k_avx512(a, b, kc, 4, nv, nr, c, e); return;    \
    case 3: tile_k_avx512(a, b, kc, 3, nv, nr, c, e); return;    \
    case 2: tile_k_avx512(a, b, kc, 2, nv, nr, c, e); return;    \
    default: tile_k_avx512(a, b, kc, 1, nv, nr, c, e); return;   \
    }

static void tile_avx512(const float *a, const float *b, int kc, int mr, int nr, float *c, const sc_tile_epi *e) {
    if (nr <= 16) SC_TILE_CASES(1)
    SC_TILE_CASES(2)
}

static inline __attribute__((always_inline)) void zero_piece_avx512(float *d, int span) {
    const uint32_t st = span >= 32 ? 0xFFFFFFFFu : (1u << span) - 1u;
    _mm512_mask_storeu_ps(d, (__mmask16)st, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(d + 16, (__mmask16)(st >> 16), _mm512_setzero_ps());
}

// Bits [lo, hi) of a 64-bit mask (0 <= lo <= hi <= 64).
static inline uint64_t bits_avx512(int lo, int hi) {
    const uint64_t below_hi = hi >= 64 ? ~0ull : (1ull << hi) - 1ull;
    return below_hi & ~((1ull << lo) - 1ull);
}

static inline __attribute__((always_inline)) void
copy_piece_avx512(float *restrict d, const float *restrict src, int span, int lo, int hi, int s, int avail) {
    (void)avail;
    const uint32_t st = span >= 32 ? 0xFFFFFFFFu : (1u << span) - 1u;
    __m512 v0, v1;
    if (s == 1) {
        const uint64_t m = bits_avx512(lo, hi);
        v0 = _mm512_maskz_loadu_ps((__mmask16)m, src);
        v1 = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), src + 16);
    } else if (s == 2) {
        // Output lane i is source element 2i; the source elements wanted are 2lo .. 2hi - 2.
        const uint64_t m = bits_avx512(2 * lo, 2 * hi - 1);
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        v0 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps((__mmask16)m, src), even,
                                    _mm512_maskz_loadu_ps((__mmask16)(m >> 16), src + 16));
        v1 = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps((__mmask16)(m >> 32), src + 32), even,
                                    _mm512_maskz_loadu_ps((__mmask16)(m >> 48), src + 48));
    } else {
        float t[32];
        for (int i = 0; i < 32; i++) t[i] = i >= lo && i < hi ? src[(ptrdiff_t)i * s] : 0.0f;
        v0 = _mm512_loadu_ps(t);
        v1 = _mm512_loadu_ps(t + 16);
    }
    _mm512_mask_storeu_ps(d, (__mmask16)st, v0);
    _mm512_mask_storeu_ps(d + 16, (__mmask16)(st >> 16), v1);
}

#include "sc_conv_impl.h"

#pragma clang attribute pop
#endif
