// The memory-bound kernels: plain C loops the compiler vectorizes (reductions keep several partial
// sums so that they vectorize without reassociation flags).
#include "sc_internal.h"

void sc_scale_shift(const float *x, float *y, int channels, int spatial, const float *scale, const float *shift, int relu) {
    for (int c = 0; c < channels; c++) {
        const float s = scale ? scale[c] : 1.0f, t = shift ? shift[c] : 0.0f;
        const float *xc = x + (size_t)c * spatial;
        float *yc = y + (size_t)c * spatial;
        if (relu) {
            for (int i = 0; i < spatial; i++) {
                const float v = xc[i] * s + t;
                yc[i] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (int i = 0; i < spatial; i++) yc[i] = xc[i] * s + t;
        }
    }
}

void sc_add(const float *a, const float *b, float *y, size_t n, int relu) {
    if (relu) {
        for (size_t i = 0; i < n; i++) {
            const float v = a[i] + b[i];
            y[i] = v > 0.0f ? v : 0.0f;
        }
    } else {
        for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    }
}

void sc_relu(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// Both pools work a row at a time: the output row accumulates, for each tap (ky, kx), the input row
// iy = oy * stride - pad + ky read at columns ox * stride - pad + kx over the output columns where that
// column lies inside the image. The column ranges depend only on kx.
static void sc_pool(const float *x, float *y, int channels, int height, int width, int kernel, int stride, int pad,
                    int out_height, int out_width, int is_max) {
    enum { KMAX = 16 };
    int lo_k[KMAX], hi_k[KMAX];
    for (int kx = 0; kx < kernel && kx < KMAX; kx++) {
        sc_tap_columns(kx, stride, pad, width, &lo_k[kx], &hi_k[kx]);
        if (hi_k[kx] > out_width) hi_k[kx] = out_width;
    }
    for (int c = 0; c < channels; c++) {
        const float *xc = x + (size_t)c * height * width;
        for (int oy = 0; oy < out_height; oy++) {
            float *restrict yr = y + ((size_t)c * out_height + oy) * out_width;
            const float init = is_max ? -__builtin_inff() : 0.0f;
            for (int ox = 0; ox < out_width; ox++) yr[ox] = init;
            for (int ky = 0; ky < kernel; ky++) {
                const int iy = oy * stride - pad + ky;
                if (iy < 0 || iy >= height) continue;
                const float *xr = xc + (size_t)iy * width;
                for (int kx = 0; kx < kernel; kx++) {
                    const int t = pad - kx;
                    int lo, hi;
                    if (kx < KMAX) {
                        lo = lo_k[kx];
                        hi = hi_k[kx];
                    } else {
                        sc_tap_columns(kx, stride, pad, width, &lo, &hi);
                        if (hi > out_width) hi = out_width;
                    }
                    if (lo >= hi) continue;
                    const float *restrict src = xr + ((ptrdiff_t)lo * stride - t);
                    float *restrict dst = yr + lo;
                    const int n = hi - lo;
                    if (is_max) {
                        if (stride == 1)
                            for (int i = 0; i < n; i++) dst[i] = src[i] > dst[i] ? src[i] : dst[i];
                        else if (stride == 2)
                            for (int i = 0; i < n; i++) dst[i] = src[2 * i] > dst[i] ? src[2 * i] : dst[i];
                        else
                            for (int i = 0; i < n; i++) {
                                const float v = src[(size_t)i * stride];
                                dst[i] = v > dst[i] ? v : dst[i];
                            }
                    } else {
                        if (stride == 1)
                            for (int i = 0; i < n; i++) dst[i] += src[i];
                        else if (stride == 2)
                            for (int i = 0; i < n; i++) dst[i] += src[2 * i];
                        else
                            for (int i = 0; i < n; i++) dst[i] += src[(size_t)i * stride];
                    }
                }
            }
            if (!is_max) {
                // PyTorch (count_include_pad): the divisor is the window clipped to the padded input.
                const int y0 = oy * stride - pad;
                const int rows = (y0 + kernel > height + pad ? height + pad : y0 + kernel) - y0;
                for (int ox = 0; ox < out_width; ox++) {
                    const int x0 = ox * stride - pad;
                    const int count = rows * ((x0 + kernel > width + pad ? width + pad : x0 + kernel) - x0);
                    yr[ox] = count > 0 ? yr[ox] / (float)count : 0.0f;
                }
            }
        }
    }
}

void sc_max_pool(const float *x, float *y, int channels, int height, int width,
                 int kernel, int stride, int pad, int out_height, int out_width) {
    sc_pool(x, y, channels, height, width, kernel, stride, pad, out_height, out_width, 1);
}

void sc_avg_pool(const float *x, float *y, int channels, int height, int width,
                 int kernel, int stride, int pad, int out_height, int out_width) {
    sc_pool(x, y, channels, height, width, kernel, stride, pad, out_height, out_width, 0);
}

#define SC_LANES 16

static float sc_sum(const float *x, size_t n) {
    float part[SC_LANES] = {0};
    size_t i = 0;
    for (; i + SC_LANES <= n; i += SC_LANES)
        for (int l = 0; l < SC_LANES; l++) part[l] += x[i + l];
    float s = 0.0f;
    for (; i < n; i++) s += x[i];
    for (int l = 0; l < SC_LANES; l++) s += part[l];
    return s;
}

static float sc_dot(const float *a, const float *b, size_t n) {
    float part[SC_LANES] = {0};
    size_t i = 0;
    for (; i + SC_LANES <= n; i += SC_LANES)
        for (int l = 0; l < SC_LANES; l++) part[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (; i < n; i++) s += a[i] * b[i];
    for (int l = 0; l < SC_LANES; l++) s += part[l];
    return s;
}

void sc_global_avg_pool(const float *x, float *y, int channels, int spatial) {
    for (int c = 0; c < channels; c++)
        y[c] = spatial > 0 ? sc_sum(x + (size_t)c * spatial, (size_t)spatial) / (float)spatial : 0.0f;
}

void sc_linear(const float *x, const float *w, const float *bias, float *y, int in_features, int out_features, int relu) {
    for (int o = 0; o < out_features; o++) {
        float v = sc_dot(w + (size_t)o * in_features, x, (size_t)in_features) + (bias ? bias[o] : 0.0f);
        y[o] = relu && v < 0.0f ? 0.0f : v;
    }
}

void sc_subsample_pad(const float *x, float *y, int channels, int height, int width, int stride,
                      int out_channels, int pad_before, int out_height, int out_width) {
    const size_t plane = (size_t)out_height * out_width;
    for (int oc = 0; oc < out_channels; oc++) {
        float *yc = y + (size_t)oc * plane;
        const int c = oc - pad_before;
        if (c < 0 || c >= channels) {
            for (size_t i = 0; i < plane; i++) yc[i] = 0.0f;
            continue;
        }
        const float *xc = x + (size_t)c * height * width;
        for (int oy = 0; oy < out_height; oy++) {
            const int iy = oy * stride;
            float *yr = yc + (size_t)oy * out_width;
            if (iy >= height) {
                for (int ox = 0; ox < out_width; ox++) yr[ox] = 0.0f;
                continue;
            }
            const float *xr = xc + (size_t)iy * width;
            for (int ox = 0; ox < out_width; ox++) yr[ox] = ox * stride < width ? xr[(size_t)ox * stride] : 0.0f;
        }
    }
}
