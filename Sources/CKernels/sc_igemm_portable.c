// The portable micro-kernel of the NHWC convolution: plain C the compiler vectorizes for the baseline
// instruction set. Used where neither AVX2 nor AVX-512 is available, and tested everywhere.
#include "sc_igemm.h"

void sc_igemm_tile_portable(int taps, int kc, const float *const *a, size_t offset, const float *w,
                            size_t w_tap_stride, float *c, int mr, int nr, const sc_igemm_epi *e) {
    float acc[SC_TILE_ROWS][SC_PANEL] = {{0}};
    for (int t = 0; t < taps; t++, a += SC_TILE_ROWS) {
        const float *b = w + (size_t)t * w_tap_stride;
        for (int k = 0; k < kc; k++, b += SC_PANEL)
            for (int r = 0; r < SC_TILE_ROWS; r++) {
                const float x = a[r][offset + k];
                for (int j = 0; j < SC_PANEL; j++) acc[r][j] += x * b[j];
            }
    }
    for (int r = 0; r < mr; r++) {
        float *row = c + (size_t)r * e->ldc;
        const float *res = e->last && e->residual ? e->residual + (size_t)r * e->ldc : NULL;
        float *act = e->last && e->act ? e->act + (size_t)r * e->ldc : NULL;
        for (int j = 0; j < nr; j++) {
            float v = acc[r][j];
            if (!e->first) v += row[j];
            if (e->last) {
                v = v * (e->scale ? e->scale[j] : 1.0f) + (e->shift ? e->shift[j] : 0.0f);
                if (res) v += res[j];
                if (e->relu && v < 0.0f) v = 0.0f;
                if (act) {
                    const float a = v * e->act_scale[j] + e->act_shift[j];
                    act[j] = e->act_relu && a < 0.0f ? 0.0f : a;
                }
            }
            row[j] = v;
        }
    }
}
