// Private declarations shared by the kernel files (not part of the public API).
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "sharesc_kernels.h"
#include "sc_epilogue.h"

int sc_level_internal(void);

#if defined(__x86_64__)
#include <immintrin.h>
// The first n lanes (n <= 8; none for n <= 0) of an AVX2 vector, for masked loads and stores.
static inline __attribute__((always_inline, target("avx2"))) __m256i sc_mask8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

// Where sc_conv_nhwc_pack puts weight (oc, ic, tap) of an ungrouped convolution.
size_t sc_conv_nhwc_packed_index(const sc_conv_geometry *g, int oc, int ic, int tap);

// sum_i a[i] b[i], in 16 partial sums (so that it vectorizes without reassociation).
float sc_dot(const float *a, const float *b, size_t n);

#endif
