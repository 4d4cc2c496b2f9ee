// Private declarations shared by the kernel files (not part of the public API).
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "sharesc_kernels.h"

// Rows of a packed weight micro-panel. The packed layout is the same at every level: per group,
// ceil(M / SC_MR) panels, each K x SC_MR floats (k-major, rows zero-padded), so one packed copy
// serves whichever level is in use when sc_conv runs.
#define SC_MR 12
// Upper bounds of the cache blocking over all levels (the workspace is sized with them).
#define SC_KC_MAX 256
#define SC_NC_MAX 256
#define SC_NR_MAX 32
#define SC_NR_MIN 16
#define SC_PANEL_PAD_MAX 16

// What a micro-kernel does with its tile when it stores it.
typedef struct {
    const float *scale;    // per row (already offset to the tile's first row), or NULL
    const float *shift;    // likewise
    const float *residual; // at the tile's first element, row stride ldc, or NULL
    size_t ldc;            // row stride of the output and the residual (out_height * out_width)
    int relu;
    int first;             // first K block: overwrite instead of accumulating
    int last;              // last K block: apply the epilogue
} sc_tile_epi;

int sc_level_internal(void);

// The output columns [*lo, *hi) at which kernel tap kx reads inside the input row: input column
// ox * stride - pad + kx must lie in [0, width). Convolution packing and pooling both need it per kx.
static inline void sc_tap_columns(int kx, int stride, int pad, int width, int *lo, int *hi) {
    const int t = pad - kx;
    *lo = t > 0 ? (t + stride - 1) / stride : 0;
    *hi = width - 1 + t >= 0 ? (width - 1 + t) / stride + 1 : 0;
}

void sc_conv_portable(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                      const sc_epilogue *epilogue, float *workspace,
                      int channel_begin, int channel_end, int pixel_begin, int pixel_end);
#if defined(__x86_64__)
void sc_conv_avx2(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                  const sc_epilogue *epilogue, float *workspace,
                  int channel_begin, int channel_end, int pixel_begin, int pixel_end);
void sc_conv_avx512(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                    const sc_epilogue *epilogue, float *workspace,
                    int channel_begin, int channel_end, int pixel_begin, int pixel_end);
#endif

#endif
