// Private declarations shared by the kernel files (not part of the public API).
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "sharesc_kernels.h"

int sc_level_internal(void);

// Where sc_conv_nhwc_pack puts weight (oc, ic, tap) of an ungrouped convolution.
size_t sc_conv_nhwc_packed_index(const sc_conv_geometry *g, int oc, int ic, int tap);

// The epilogue on one output pixel's channels [c0, c1), for the kernels that finish a pixel's values
// outside a micro-kernel (depthwise, Winograd's output transform): y[ch - c0] is the convolution's
// value, out + at and the residual and second output + at are the pixel's row (NULL e: plain store).
// The residual may be the output itself: each value is read before its place is written.
static inline void sc_epilogue_pixel(const float *restrict y, float *out, size_t at, int c0, int c1,
                                     const sc_epilogue *e) {
    const float *res = e && e->residual ? e->residual + at : NULL;
    float *restrict act = e && e->act_output ? e->act_output + at : NULL;
    const int relu = e && e->relu;
    for (int ch = c0; ch < c1; ch++) {
        float v = y[ch - c0] * (e && e->scale ? e->scale[ch] : 1.0f) + (e && e->shift ? e->shift[ch] : 0.0f);
        if (res) v += res[ch];
        if (relu && v < 0.0f) v = 0.0f;
        out[at + ch] = v;
        if (act) {
            const float a = v * e->act_scale[ch] + e->act_shift[ch];
            act[ch] = e->act_relu && a < 0.0f ? 0.0f : a;
        }
    }
}

#endif
