// sharesc's hot numeric loops: convolution as an implicit GEMM over packed weight panels with a fused
// epilogue (per-channel scale and shift, residual add, ReLU), and the small elementwise and pooling
// kernels. Every function works on ONE image in NCHW layout (C x H x W floats, row-major) unless it
// says otherwise. Implementations: AVX-512, AVX2+FMA and portable C, chosen once at run time.
#ifndef SHARESC_KERNELS_H
#define SHARESC_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int in_channels, in_height, in_width;
    int out_channels, out_height, out_width;
    int kernel, stride, pad, groups;
} sc_conv_geometry;

// Applied to each output value as it is stored: v = v * scale[c] + shift[c]; v += residual; if relu, v = max(v, 0).
// Any pointer may be NULL (scale 1, shift 0, no residual). `residual` has the output's shape (one image).
typedef struct {
    const float *scale;
    const float *shift;
    const float *residual;
    int relu;
} sc_epilogue;

// Instruction-set levels.
enum { SC_LEVEL_PORTABLE = 0, SC_LEVEL_AVX2 = 1, SC_LEVEL_AVX512 = 2 };
// The level in use (the best the CPU supports unless forced).
int sc_level(void);
// Forces a level no higher than the CPU supports (tests use it to exercise every path); returns the level now in use.
int sc_force_level(int level);

// Floats needed for a convolution's packed weights, and the packing itself (done once at load time;
// `weights` is [out_channels][in_channels / groups][kernel][kernel]). The packed layout depends only on
// out_channels, in_channels, kernel and groups — never on stride, padding or image size — so one packed
// copy of a tied weight serves every use, strided or not.
size_t sc_conv_packed_size(const sc_conv_geometry *g);
void sc_conv_pack(const sc_conv_geometry *g, const float *weights, float *packed);

// Floats of scratch one thread needs for sc_conv (packed input panels).
size_t sc_conv_workspace_size(const sc_conv_geometry *g);

// One image: output channels [channel_begin, channel_end) over output pixels [pixel_begin, pixel_end)
// (pixels index out_height x out_width row-major). Threads split these ranges; channel ranges must
// start at a multiple of sc_conv_channel_block(). `output` and `input` are whole images.
int sc_conv_channel_block(void);
void sc_conv(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
             const sc_epilogue *epilogue, float *workspace,
             int channel_begin, int channel_end, int pixel_begin, int pixel_end);

// y[c][i] = x[c][i] * scale[c] + shift[c], then ReLU if asked. y may equal x (in place).
void sc_scale_shift(const float *x, float *y, int channels, int spatial, const float *scale, const float *shift, int relu);
// y = a + b, then ReLU if asked; y may equal a or b. n floats.
void sc_add(const float *a, const float *b, float *y, size_t n, int relu);
// y = max(x, 0); y may equal x.
void sc_relu(const float *x, float *y, size_t n);
// Max pooling; padding never wins (it counts as minus infinity).
void sc_max_pool(const float *x, float *y, int channels, int height, int width,
                 int kernel, int stride, int pad, int out_height, int out_width);
// Average pooling; padded positions count as zeros in the average (PyTorch's count_include_pad).
void sc_avg_pool(const float *x, float *y, int channels, int height, int width,
                 int kernel, int stride, int pad, int out_height, int out_width);
// y[c] = mean of x[c][*].
void sc_global_avg_pool(const float *x, float *y, int channels, int spatial);
// y[o] = sum_i w[o][i] x[i] + (bias ? bias[o] : 0), then ReLU if asked.
void sc_linear(const float *x, const float *w, const float *bias, float *y, int in_features, int out_features, int relu);
// Keeps every stride-th row and column, then zero-pads channels: pad_before in front, the rest behind.
void sc_subsample_pad(const float *x, float *y, int channels, int height, int width, int stride,
                      int out_channels, int pad_before, int out_height, int out_width);

#ifdef __cplusplus
}
#endif
#endif
