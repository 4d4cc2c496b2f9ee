// The portable micro-kernel of the NHWC convolution: plain C the compiler vectorizes for the baseline
// instruction set. Used where AVX2 is not available, and tested everywhere.
#include "sc_igemm.h"

// One panel: the tile's accumulation, then its epilogue at column offset `col`.
static void sc_panel_portable(int taps, int kc, const float *const *a, size_t offset, const float *w, size_t tap_stride,
                              float *c, int mr, int nr, size_t col, const sc_igemm_epi *e) {
    float acc[SC_TILE_ROWS][SC_PANEL] = {{0}};
    for (int t = 0; t < taps; t++, a += SC_TILE_ROWS) {
        const float *b = w + (size_t)t * tap_stride;
        for (int k = 0; k < kc; k++, b += SC_PANEL)
            for (int r = 0; r < SC_TILE_ROWS; r++) {
                const float x = a[r][offset + k];
                for (int j = 0; j < SC_PANEL; j++) acc[r][j] += x * b[j];
            }
    }
    for (int r = 0; r < mr; r++) {
        float *row = c + (size_t)r * e->ldc + col;
        const float *partial = e->partial ? e->partial + (size_t)r * e->ldc + col : row;
        // The epilogue with its pointers at the row (channel and element j), the residual and second
        // output only at the last block: without that condition here, the compiler kept the accumulators
        // in memory during the reduction on arm64 macOS.
        float *act = e->last && e->act ? e->act + (size_t)r * e->ldc + col : NULL;
        const sc_epilogue ep = {.scale = e->scale ? e->scale + col : NULL, .shift = e->shift ? e->shift + col : NULL,
                                .residual = e->last && e->residual ? e->residual + (size_t)r * e->ldc + col : NULL,
                                .activation = e->activation, .act_output = act, .act_scale = act ? e->act_scale + col : NULL,
                                .act_shift = act ? e->act_shift + col : NULL, .act_relu = e->act_relu};
        for (int j = 0; j < nr; j++) {
            float v = acc[r][j];
            if (!e->first) v += partial[j];
            if (e->last) v = sc_epilogue1(&ep, v, j, (size_t)j);
            row[j] = v;
        }
    }
}

void sc_igemm_tile_portable(int taps, int kc, const float *const *a, size_t offset, const sc_igemm_panels *b,
                            float *c, int mr, const sc_igemm_epi *e) {
    for (int p = 0; p < b->panels; p++)
        sc_panel_portable(taps, kc, a, offset, b->w + p * b->panel_stride, b->tap_stride, c, mr,
                          p + 1 < b->panels ? SC_PANEL : b->last_width, (size_t)p * SC_PANEL, e);
}
