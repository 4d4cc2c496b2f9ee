// AVX2+FMA level of the convolution: 6 x 16 micro-tiles (12 ymm accumulators), two per 12-row panel.
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

static inline __attribute__((always_inline)) void
tile6_avx2(const float *restrict a, const float *restrict b, int kc, const int rows, int nr, float *c,
           const sc_tile_epi *e) {
    __m256 c0[6], c1[6];
    for (int i = 0; i < rows; i++) c0[i] = c1[i] = _mm256_setzero_ps();
    for (int k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        for (int i = 0; i < rows; i++) {
            const __m256 av = _mm256_broadcast_ss(a + i);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
        a += SC_MR;
        b += SC_NR;
    }
    const size_t ldc = e->ldc;
    if (nr == SC_NR) {
        for (int i = 0; i < rows; i++) {
            float *cr = c + i * ldc;
            __m256 v0 = c0[i], v1 = c1[i];
            if (!e->first) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
            }
            if (e->last) {
                if (e->scale) {
                    const __m256 s = _mm256_broadcast_ss(e->scale + i);
                    v0 = _mm256_mul_ps(v0, s);
                    v1 = _mm256_mul_ps(v1, s);
                }
                if (e->shift) {
                    const __m256 t = _mm256_broadcast_ss(e->shift + i);
                    v0 = _mm256_add_ps(v0, t);
                    v1 = _mm256_add_ps(v1, t);
                }
                if (e->residual) {
                    const float *rr = e->residual + i * ldc;
                    v0 = _mm256_add_ps(v0, _mm256_loadu_ps(rr));
                    v1 = _mm256_add_ps(v1, _mm256_loadu_ps(rr + 8));
                }
                if (e->relu) {
                    v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
                    v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
                }
            }
            _mm256_storeu_ps(cr, v0);
            _mm256_storeu_ps(cr + 8, v1);
        }
    } else {
        const __m256i m0 = mask8_avx2(nr), m1 = mask8_avx2(nr - 8);
        for (int i = 0; i < rows; i++) {
            float *cr = c + i * ldc;
            __m256 v0 = c0[i], v1 = c1[i];
            if (!e->first) {
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(cr, m0));
                v1 = _mm256_add_ps(v1, _mm256_maskload_ps(cr + 8, m1));
            }
            if (e->last) {
                if (e->scale) {
                    const __m256 s = _mm256_broadcast_ss(e->scale + i);
                    v0 = _mm256_mul_ps(v0, s);
                    v1 = _mm256_mul_ps(v1, s);
                }
                if (e->shift) {
                    const __m256 t = _mm256_broadcast_ss(e->shift + i);
                    v0 = _mm256_add_ps(v0, t);
                    v1 = _mm256_add_ps(v1, t);
                }
                if (e->residual) {
                    const float *rr = e->residual + i * ldc;
                    v0 = _mm256_add_ps(v0, _mm256_maskload_ps(rr, m0));
                    v1 = _mm256_add_ps(v1, _mm256_maskload_ps(rr + 8, m1));
                }
                if (e->relu) {
                    v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
                    v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
                }
            }
            _mm256_maskstore_ps(cr, m0, v0);
            _mm256_maskstore_ps(cr + 8, m1, v1);
        }
    }
}

static void tile_avx2(const float *a, const float *b, int kc, int mr, int nr, float *c, const sc_tile_epi *e) {
    sc_tile_epi sub = *e;
    for (int i0 = 0; i0 < mr; i0 += 6) {
        const int rows = mr - i0 < 6 ? mr - i0 : 6;
        sub.scale = e->scale ? e->scale + i0 : NULL;
        sub.shift = e->shift ? e->shift + i0 : NULL;
        sub.residual = e->residual ? e->residual + (size_t)i0 * e->ldc : NULL;
        float *ci = c + (size_t)i0 * e->ldc;
        switch (rows) {
        case 6: tile6_avx2(a + i0, b, kc, 6, nr, ci, &sub); break;
        case 5: tile6_avx2(a + i0, b, kc, 5, nr, ci, &sub); break;
        case 4: tile6_avx2(a + i0, b, kc, 4, nr, ci, &sub); break;
        case 3: tile6_avx2(a + i0, b, kc, 3, nr, ci, &sub); break;
        case 2: tile6_avx2(a + i0, b, kc, 2, nr, ci, &sub); break;
        default: tile6_avx2(a + i0, b, kc, 1, nr, ci, &sub); break;
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

static inline __attribute__((always_inline)) void copy_piece_avx2(float *restrict d, const float *restrict src, int span, int lo, int hi, int s, int avail) {
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
