// AVX-512 level of the convolution: 12 x 32 micro-tiles (24 zmm accumulators, two zmm of input
// pixels per k, the weights broadcast from the packed panel), masked stores for partial tiles.
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

static inline __attribute__((always_inline)) void
tile12_avx512(const float *restrict a, const float *restrict b, int kc, const int rows, int nr, float *c,
              const sc_tile_epi *e) {
    __m512 c0[SC_MR], c1[SC_MR];
    for (int i = 0; i < rows; i++) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        for (int i = 0; i < rows; i++) {
            const __m512 av = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
        a += SC_MR;
        b += SC_NR;
    }
    const size_t ldc = e->ldc;
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1u);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1u);
    for (int i = 0; i < rows; i++) {
        float *cr = c + i * ldc;
        __m512 v0 = c0[i], v1 = c1[i];
        if (!e->first) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, cr));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, cr + 16));
        }
        if (e->last) {
            if (e->scale) {
                const __m512 s = _mm512_set1_ps(e->scale[i]);
                v0 = _mm512_mul_ps(v0, s);
                v1 = _mm512_mul_ps(v1, s);
            }
            if (e->shift) {
                const __m512 t = _mm512_set1_ps(e->shift[i]);
                v0 = _mm512_add_ps(v0, t);
                v1 = _mm512_add_ps(v1, t);
            }
            if (e->residual) {
                const float *rr = e->residual + i * ldc;
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, rr));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, rr + 16));
            }
            if (e->relu) {
                v0 = _mm512_max_ps(v0, _mm512_setzero_ps());
                v1 = _mm512_max_ps(v1, _mm512_setzero_ps());
            }
        }
        _mm512_mask_storeu_ps(cr, m0, v0);
        _mm512_mask_storeu_ps(cr + 16, m1, v1);
    }
}

static void tile_avx512(const float *a, const float *b, int kc, int mr, int nr, float *c, const sc_tile_epi *e) {
    switch (mr) {
    case 12: tile12_avx512(a, b, kc, 12, nr, c, e); break;
    case 11: tile12_avx512(a, b, kc, 11, nr, c, e); break;
    case 10: tile12_avx512(a, b, kc, 10, nr, c, e); break;
    case 9: tile12_avx512(a, b, kc, 9, nr, c, e); break;
    case 8: tile12_avx512(a, b, kc, 8, nr, c, e); break;
    case 7: tile12_avx512(a, b, kc, 7, nr, c, e); break;
    case 6: tile12_avx512(a, b, kc, 6, nr, c, e); break;
    case 5: tile12_avx512(a, b, kc, 5, nr, c, e); break;
    case 4: tile12_avx512(a, b, kc, 4, nr, c, e); break;
    case 3: tile12_avx512(a, b, kc, 3, nr, c, e); break;
    case 2: tile12_avx512(a, b, kc, 2, nr, c, e); break;
    default: tile12_avx512(a, b, kc, 1, nr, c, e); break;
    }
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

static inline __attribute__((always_inline)) void copy_piece_avx512(float *restrict d, const float *restrict src, int span, int lo, int hi, int s, int avail) {
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
