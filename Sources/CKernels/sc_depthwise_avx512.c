// The AVX-512 level's plain depthwise kernels: sc_depthwise_rows.h at sixteen lanes, a zmm register per
// block of sixteen channels, so that each load and FMA does twice the AVX2 kernel's work (kernel A/B
// against eight lanes: MobileNetV2's and EfficientNet-B0's steps by rows 0.65-0.92, the stage's 5 x 5
// and 7 x 7 steps 0.64-0.75, blocks of pixels on 7 x 7 maps 0.63-0.73). sc_depthwise_avx2.c calls these for plain depthwise convolutions: runs
// by rows, blocks of pixels through their pointer tables (borders, small maps), and the stage up to
// 7 x 7; grouped convolutions, channel multipliers and the stage past 7 x 7 stay at eight lanes.
#if defined(__x86_64__)
#define SC_ACTIVATIONS16  // the epilogue's transcendental activations at sixteen lanes
#include <immintrin.h>
#include <string.h>
#include "sc_igemm.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#include "sc_depthwise.h"
#define SC_DW_W 16
#include "sc_depthwise_rows.h"
#undef SC_DW_W

void sc_dw_rows_avx512(int ks, int stride, int pixels, const float *const *rows, const float *w, int channels,
                       int cb, int ce, float *out, const sc_epilogue *e) {
    sc_dw_rows16(ks, stride, pixels, rows, w, channels, cb, ce, out, e);
}

// sc_dw_plain_pixels16 with `pixels` a constant (and, for the common four, whether rows are given).
void sc_dw_pixels_avx512(int pixels, int taps, const float *const *ptr, const float *const *rows, int ks, int stride,
                         const float *w, int channels, int cb, int ce, float *out, const sc_epilogue *e) {
    switch (pixels) {
    case 4:
        if (rows) sc_dw_plain_pixels16(4, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e);
        else sc_dw_plain_pixels16(4, taps, ptr, NULL, ks, stride, w, channels, cb, ce, out, e);
        break;
    case 3: sc_dw_plain_pixels16(3, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e); break;
    case 2: sc_dw_plain_pixels16(2, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e); break;
    default: sc_dw_plain_pixels16(1, taps, ptr, rows, ks, stride, w, channels, cb, ce, out, e); break;
    }
}

void sc_dw_staged_avx512(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                         const sc_epilogue *e, float *stage, long pixel_begin, long pixel_end, int cb, int ce) {
    sc_dw_staged16(g, packed, input, output, e, stage, pixel_begin, pixel_end, cb, ce);
}
#pragma clang attribute pop
#endif
