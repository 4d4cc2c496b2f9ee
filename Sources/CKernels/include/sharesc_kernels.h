// sharesc's hot numeric loops: convolution as an indirect GEMM over packed weight panels with a fused
// epilogue (per-output-channel scale and shift, residual add, ReLU), and the small elementwise and
// pooling kernels. Activations are NHWC (pixel-major, channels contiguous:
// x[((n * H + y) * W + x) * C + c]); conversions to and from NCHW exist for a plan's input and output.
// The convolution's micro-kernel is AVX2+FMA or portable C, chosen once at run time.
#ifndef SHARESC_KERNELS_H
#define SHARESC_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// How a convolution runs. The compiler's algorithm-selection pass chooses (and the plan records) one
// that sc_conv_supports allows for the geometry; the kernels take the choice as given.
enum {
    SC_CONV_IGEMM = 0,        // indirect GEMM: any geometry
    SC_CONV_GEMM_1X1 = 1,     // 1x1, stride 1, no padding: a GEMM over the input's pixel rows in place
    SC_CONV_DEPTHWISE = 2,    // one input channel per group
    SC_CONV_WINOGRAD_F2 = 3,  // Winograd's F(2x2, 3x3): 3x3, stride 1, padding 1, one group
    SC_CONV_WINOGRAD_F4 = 4,  // Winograd's F(4x4, 3x3), where F(2x2, 3x3) applies
    SC_CONV_GROUPED = 5,      // 2 to SC_GROUPED_MAX input and as many output channels per group:
                              // depthwise's loop, each group's inputs brought to its lanes (2 or 4 by
                              // exchanges within the vector, other counts by shifted loads)
    SC_GROUPED_MAX = 16,
};

typedef struct {
    int in_channels, in_height, in_width;
    int out_channels, out_height, out_width;
    int kernel, stride, pad, groups;
    int algorithm;  // SC_CONV_*
} sc_conv_geometry;

// Whether g's algorithm can compute g's convolution: 1 or 0. The executor runs nothing else.
int sc_conv_supports(const sc_conv_geometry *g);

// Activations, as PyTorch defines them (GELU with the exact error function), NaN and infinities
// included: a NaN input gives NaN; relu(-inf) = relu6(-inf) = sigmoid(-inf) = 0; silu(-inf),
// hardswish(-inf) and gelu(-inf) are NaN (-inf times 0, as in PyTorch); every one of them keeps +inf
// but sigmoid (1) and relu6 (6).
enum {
    SC_ACT_NONE = 0,
    SC_ACT_RELU = 1,
    SC_ACT_RELU6 = 2,       // min(max(v, 0), 6)
    SC_ACT_SILU = 3,        // v * sigmoid(v)
    SC_ACT_HARDSWISH = 4,   // v * relu6(v + 3) / 6
    SC_ACT_GELU = 5,        // v / 2 * (1 + erf(v / sqrt(2)))
    SC_ACT_SIGMOID = 6,     // 1 / (1 + exp(-v))
};

// Applied to each output value as it is stored: v = v * scale[c] + shift[c]; v += residual; then the
// activation (SC_ACT_*).
// Any pointer may be NULL (scale 1, shift 0, no residual). `residual` has the output's layout and may
// be the output itself (the convolution then writes over it in place).
// With `act_output`, the stored value also goes on through a second scale and shift (and ReLU) into
// act_output, with the output's layout: the next pre-activation block's batchnorm and ReLU, computed
// while the value is still in registers instead of in a pass of its own.
typedef struct {
    const float *scale;
    const float *shift;
    const float *residual;
    int activation;
    float *act_output;
    const float *act_scale;
    const float *act_shift;
    int act_relu;
} sc_epilogue;

// Instruction-set levels.
// AVX-512 here means AVX-512 F, DQ and VL (Skylake-SP, Ice Lake, Zen 4 and later); it implies AVX2 and FMA.
enum { SC_LEVEL_PORTABLE = 0, SC_LEVEL_AVX2 = 1, SC_LEVEL_AVX512 = 2 };
// The level in use (the best the CPU supports unless forced).
int sc_level(void);
// Forces a level no higher than the CPU supports (tests use it to exercise every path); returns the level now in use.
int sc_force_level(int level);

// y = a + b, then the activation (SC_ACT_*); y may equal a or b. n floats.
void sc_add(const float *a, const float *b, float *y, size_t n, int activation);
// y = max(x, 0); y may equal x.
void sc_relu(const float *x, float *y, size_t n);
// y = activation(x) (SC_ACT_*), elementwise; y may equal x. Eight lanes at a time at the AVX2 level.
void sc_activation(const float *x, float *y, size_t n, int activation);
// y[o] = sum_i w[o][i] x[i] + (bias ? bias[o] : 0), then the activation.
void sc_linear(const float *x, const float *w, const float *bias, float *y, int in_features, int out_features,
               int activation);
// Convolution as an indirect GEMM over the whole batch: rows are output pixels (n, oy, ox), columns
// are output channels in panels of 16. Weights are packed once (per group, per block of input
// channels, per panel of 16 output channels: [ky][kx][in channel][16 lanes], lanes past the group's
// channels zero); the layout depends only on out_channels, in_channels, kernel and groups, so one
// packed copy of a tied weight serves every use. The epilogue's residual has the output's NHWC layout (the whole batch).
size_t sc_conv_nhwc_packed_size(const sc_conv_geometry *g);
void sc_conv_nhwc_pack(const sc_conv_geometry *g, const float *weights, float *packed);
// Floats of scratch one thread needs for sc_conv_nhwc.
size_t sc_conv_nhwc_workspace_size(const sc_conv_geometry *g);
// Column blocks threads may split: panels of 16 output channels (over all groups).
int sc_conv_nhwc_panels(const sc_conv_geometry *g);
// Output pixels [pixel_begin, pixel_end) of the batch (pixel = (n * out_height + oy) * out_width + ox)
// and panels [panel_begin, panel_end). `input` and `output` point at the batch's first image.
void sc_conv_nhwc(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                  const sc_epilogue *epilogue, float *workspace,
                  long pixel_begin, long pixel_end, int panel_begin, int panel_end);

// A 3x3 stride-1 convolution with padding 1 may run by Winograd's F(m x m, 3x3) instead (algorithm
// SC_CONV_WINOGRAD_F2 or _F4): F(2x2, 3x3) (2.25x fewer multiply-adds) or F(4x4, 3x3) (4x). Its weights are packed on their own (transformed, then as (m + 2)^2 GEMMs'
// panels; the form depends on channels and map size, so two uses of a tied weight share it only when
// their tile sizes agree); its work is numbered by m x m output tiles (row-major over one image) and
// panels. `input` and `output` are one image; the epilogue is the convolution's. Chunks of tiles whose
// input holds a NaN or an infinity are computed directly (with weights recovered from the transformed
// ones), so that non-finite values reach exactly the pixels they reach in a direct convolution.
long sc_winograd_tiles(const sc_conv_geometry *g);
size_t sc_winograd_packed_size(const sc_conv_geometry *g);
// Returns 0 when out of memory for its scratch ((m + 2)^2 x in x out floats), 1 otherwise.
int sc_winograd_pack(const sc_conv_geometry *g, const float *weights, float *packed);
size_t sc_winograd_workspace_size(const sc_conv_geometry *g);
void sc_winograd_conv(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                      const sc_epilogue *epilogue, float *workspace, long tile_begin, long tile_end,
                      int panel_begin, int panel_end);

// y[p][c] = x[p][c] * scale[c] + shift[c] (NULL: 1 and 0), then the activation, for `pixels` rows of
// `channels`. y equals x or does not overlap it.
void sc_scale_shift_nhwc(const float *x, float *y, size_t pixels, int channels, const float *scale, const float *shift,
                         int activation);
// Layer normalisation over each pixel's channels: y[p][c] = (x[p][c] - mean_p) / sqrt(var_p + epsilon)
// * scale[c] + shift[c], with the biased variance. Each pixel's row is read from memory once (its
// statistics then come from L1). y equals x or does not overlap it.
void sc_layer_norm_nhwc(const float *x, float *y, size_t pixels, int channels, const float *scale, const float *shift,
                        float epsilon);
// Squeeze-and-excitation on one image, in place or not: the mean of each channel over the pixels,
// hidden = activation(w1 mean + b1) (w1: squeeze x channels, activation SC_ACT_RELU or SC_ACT_SILU),
// gate = sigmoid(w2 hidden + b2) (w2: channels x squeeze), y[p][c] = x[p][c] * gate[c]. `scratch`
// holds sc_squeeze_excite_scratch floats.
size_t sc_squeeze_excite_scratch(int channels, int squeeze);
void sc_squeeze_excite_nhwc(const float *x, float *y, int spatial, int channels, int squeeze, const float *w1,
                            const float *b1, const float *w2, const float *b2, int activation, float *scratch);
// Pooling over output rows [row_begin, row_end) of a batch (row = n * out_height + oy); x and y
// point at the batch's first image. Max: padding never wins. Average: padded positions count as
// zeros (PyTorch's count_include_pad), the divisor being the window clipped to the padded input.
void sc_max_pool_nhwc(const float *x, float *y, int channels, int height, int width, int kernel, int stride, int pad,
                      int out_height, int out_width, long row_begin, long row_end);
void sc_avg_pool_nhwc(const float *x, float *y, int channels, int height, int width, int kernel, int stride, int pad,
                      int out_height, int out_width, long row_begin, long row_end);
// One image: y[c] = mean over pixels of x[p][c].
void sc_global_avg_pool_nhwc(const float *x, float *y, int channels, int spatial);
// One image: keeps every stride-th row and column, then zero-pads channels (pad_before in front).
void sc_subsample_pad_nhwc(const float *x, float *y, int channels, int height, int width, int stride,
                           int out_channels, int pad_before, int out_height, int out_width);
// One image: layout conversions at a plan's input and output.
void sc_nchw_to_nhwc(const float *x, float *y, int channels, int spatial);
void sc_nhwc_to_nchw(const float *x, float *y, int channels, int spatial);

// Memory for kernels' buffers: 64-byte aligned; from 2 MiB up, 2 MiB aligned and advised to use
// transparent huge pages. NULL when out of memory. Free with sc_free.
void *sc_alloc(size_t bytes);
void sc_free(void *pointer);
// Whether `bytes` can be allocated now (allocated and freed at once): 1 or 0.
int sc_can_allocate(size_t bytes);

// A persistent pool: `threads` - 1 worker threads that spin briefly between jobs, then sleep.
// sc_pool_run calls fn(context, i) for every i < threads at once (i = 0 on the calling thread) and
// returns when all have returned. One job at a time: call it from one thread.
typedef struct sc_pool sc_pool;
typedef void (*sc_task_fn)(void *context, int worker);
sc_pool *sc_pool_create(int threads);
int sc_pool_threads(const sc_pool *pool);
void sc_pool_run(sc_pool *pool, sc_task_fn fn, void *context);
void sc_pool_destroy(sc_pool *pool);
// The CPUs this process may run on (its affinity mask: fewer than the machine's under taskset or a
// cpuset), at least 1.
int sc_usable_cpus(void);
// Returns *counter and adds one, atomically: threads claim pieces of work with it.
int sc_claim(int *counter);

#ifdef __cplusplus
}
#endif
#endif
