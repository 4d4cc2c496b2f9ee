// AVX2+FMA level of the convolution: 6 x 16 micro-tiles (12 ymm accumulators), two per 12-row panel;
// a last panel of at most 8 pixels gets 12 x 8 tiles instead.
#if defined(__x86_64__)
#include <immintrin.h>
#include "sc_internal.h"

#define SC_NR 16
#define SC_PANEL_PAD 16  // copy_piece and zero_piece may write 15 floats past the packed row
#define SC_KC 256
#define SC_NC 256
#define SC_MC 240
#define SC_FN(name) name##_avx2

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

static inline __attribute__((always_inline)) __m256i mask8_avx2(int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// rows x (8 * nv) tile: rows <= 6 with nv == 2, rows <= 12 with nv == 1 (for panels of at most 8 columns).
static inline __attribute__((always_inline)) void
tile_k_avx2(const float *restrict a, const float *restrict b, int kc, const int rows, const int nv, int nr,
            float *c, const sc_tile_epi *e) {
    __m256 acc[12][2];
    for (int i = 0; i < rows; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m256 bv[2];
        for (int v = 0; v < nv; v++) bv[v] = _mm256_load_ps(b + 8 * v);
        for (int i = 0; i < rows; i++) {
            const __m256 av = _mm256_broadcast_ss(a + i);
            for (int v = 0; v < nv; v++) acc[i][v] = _mm256_fmadd_ps(av, bv[v], acc[i][v]);
        }
        a += SC_MR;
        b += SC_NR;
    }
    const size_t ldc = e->ldc;
    const int full = nr >= 8 * nv;
    __m256i mk[2];
    for (int v = 0; v < nv; v++) mk[v] = mask8_avx2(nr - 8 * v);
    for (int i = 0; i < rows; i++) {
        for (int v = 0; v < nv; v++) {
            float *p = c + i * ldc + 8 * v;
            __m256 x = acc[i][v];
            if (!e->first) x = _mm256_add_ps(x, full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mk[v]));
            if (e->last) {
                if (e->scale) x = _mm256_mul_ps(x, _mm256_broadcast_ss(e->scale + i));
                if (e->shift) x = _mm256_add_ps(x, _mm256_broadcast_ss(e->shift + i));
                if (e->residual) {
                    const float *r = e->residual + i * ldc + 8 * v;
                    x = _mm256_add_ps(x, full ? _mm256_loadu_ps(r) : _mm256_maskload_ps(r, mk[v]));
                }
                if (e->relu) x = _mm256_max_ps(x, _mm256_setzero_ps());
            }
            if (full)
                _mm256_storeu_ps(p, x);
            else
                _mm256_maskstore_ps(p, mk[v], x);
        }
    }
}

static void tile_avx2(const float *a, const float *b, int kc, int mr, int nr, float *c, const sc_tile_epi *e) {
    if (nr <= 8) {  // a narrow last panel: one ymm per row, all rows at once
        switch (mr) {
        case 12: tile_k_avx2(a, b, kc, 12, 1, nr, c, e); return;
        case 11: tile_k_avx2(a, b, kc, 11, 1, nr, c, e); return;
        case 10: tile_k_avx2(a, b, kc, 10, 1, nr, c, e); return;
        case 9: tile_k_avx2(a, b, kc, 9, 1, nr, c, e); return;
        case 8: tile_k_avx2(a, b, kc, 8, 1, nr, c, e); return;
        case 7: tile_k_avx2(a, b, kc, 7, 1, nr, c, e); return;
        case 6: tile_k_avx2(a, b, kc, 6, 1, nr, c, e); return;
        case 5: tile_k_avx2(a, b, kc, 5, 1, nr, c, e); return;
        case 4: tile_k_avx2(a, b, kc, 4, 1, nr, c, e); return;
        case 3: tile_k_avx2(a, b, kc, 3, 1, nr, c, e); return;
        case 2: tile_k_avx2(a, b, kc, 2, 1, nr, c, e); return;
        default: tile_k_avx2(a, b, kc, 1, 1, nr, c, e); return;
        }
    }
    sc_tile_epi sub = *e;
    for (int i0 = 0; i0 < mr; i0 += 6) {
        const int rows = mr - i0 < 6 ? mr - i0 : 6;
        sub.scale = e->scale ? e->scale + i0 : NULL;
        sub.shift = e->shift ? e->shift + i0 : NULL;
        sub.residual = e->residual ? e->residual + (size_t)i0 * e->ldc : NULL;
        float *ci = c + (size_t)i0 * e->ldc;
        switch (rows) {
        case 6: tile_k_avx2(a + i0, b, kc, 6, 2, nr, ci, &sub); break;
        case 5: tile_k_avx2(a + i0, b, kc, 5, 2, nr, ci, &sub); break;
        case 4: tile_k_avx2(a + i0, b, kc, 4, 2, nr, ci, &sub); break;
        case 3: tile_k_avx2(a + i0, b, kc, 3, 2, nr, ci, &sub); break;
        case 2: tile_k_avx2(a + i0, b, kc, 2, 2, nr, ci, &sub); break;
        default: tile_k_avx2(a + i0, b, kc, 1, 2, nr, ci, &sub); break;
        }
    }
}

// Pieces are stored whole (16 lanes from d): the lanes past the piece belong to later pieces of the
// same packed row or to the next row, which are written afterwards, or to the panel's padding.
static inline __attribute__((always_inline)) void zero_piece_avx2(float *d, int span) {
    (void)span;
    _mm256_storeu_ps(d, _mm256_setzero_ps());
    _mm256_storeu_ps(d + 8, _mm256_setzero_ps());
}

// Lanes i of an 8-lane group starting at `base` with lo <= base + i < hi.
static inline __attribute__((always_inline)) __m256i range8_avx2(int base, int lo, int hi) {
    const __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(base));
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), idx), _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx));
}

static inline __attribute__((always_inline)) void
copy_piece_avx2(float *restrict d, const float *restrict src, int span, int lo, int hi, int s, int avail) {
    __m256 v0, v1;
    if (s == 1) {
        if (lo == 0 && hi == 16) {
            v0 = _mm256_loadu_ps(src);
            v1 = _mm256_loadu_ps(src + 8);
        } else {
            v0 = _mm256_maskload_ps(src, range8_avx2(0, lo, hi));
            v1 = _mm256_maskload_ps(src + 8, range8_avx2(8, lo, hi));
        }
    } else if (s == 2 && lo == 0 && hi == 16 && avail >= 32) {
        const __m256 a = _mm256_loadu_ps(src), b = _mm256_loadu_ps(src + 8);
        const __m256 a2 = _mm256_loadu_ps(src + 16), b2 = _mm256_loadu_ps(src + 24);
        v0 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
        v1 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a2, b2, 0x88)), 0xD8));
    } else if (s == 2) {
        // Output lane i is source element 2i; the source elements wanted are 2lo .. 2hi - 2.
        const int slo = 2 * lo, shi = 2 * hi - 1;
        __m256 a = _mm256_maskload_ps(src, range8_avx2(0, slo, shi));
        __m256 b = _mm256_maskload_ps(src + 8, range8_avx2(8, slo, shi));
        v0 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
        if (span > 8) {
            a = _mm256_maskload_ps(src + 16, range8_avx2(16, slo, shi));
            b = _mm256_maskload_ps(src + 24, range8_avx2(24, slo, shi));
            v1 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
        } else {
            v1 = _mm256_setzero_ps();
        }
    } else {
        float t[16];
        for (int i = 0; i < 16; i++) t[i] = i >= lo && i < hi ? src[(ptrdiff_t)i * s] : 0.0f;
        v0 = _mm256_loadu_ps(t);
        v1 = _mm256_loadu_ps(t + 8);
    }
    (void)span;
    _mm256_storeu_ps(d, v0);
    _mm256_storeu_ps(d + 8, v1);
}

#include "sc_conv_impl.h"

#pragma clang attribute pop
#endif
