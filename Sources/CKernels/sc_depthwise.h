// What the depthwise kernels share at both widths (sc_depthwise_avx2.c, and the AVX-512 level's
// row kernels in sc_depthwise_avx512.c): the epilogue of a block of sums (as ymm halves), how a run of
// pixels is cut into pieces, and the stage's bookkeeping. Included inside each file's target region.
#ifndef SC_DEPTHWISE_H
#define SC_DEPTHWISE_H

// Under AddressSanitizer (the CI's sanitizer and fuzzing builds) the row kernels stay loops: the same
// loads and stores are checked, and the file compiles in a tenth of the time that the compiler's
// value numbering took over the instrumented, fully unrolled kernels.
#if defined(__has_feature) && __has_feature(address_sanitizer)
#define SC_DW_UNROLL _Pragma("clang loop unroll(disable)")
#else
#define SC_DW_UNROLL _Pragma("clang loop unroll(full)")
#endif

// Pixels of a block through a pointer table, of a piece along a row, and the most ymm vectors one
// epilogue takes (8 pixels x 2 halves of a zmm sum, or 4 pixels x 2 blocks x 2 halves).
enum { SC_DW_PIXELS = 4, SC_DW_ROW_PIXELS = 8, SC_DW_VECTORS = 16, SC_DW_MAX_TAPS = SC_DW_MAX_KERNEL * SC_DW_MAX_KERNEL };

// The epilogue of the pixels that start `at` floats further on: its residual and second output moved.
static inline sc_epilogue sc_dw_epilogue_at(const sc_epilogue *e, size_t at) {
    sc_epilogue moved = *e;
    if (moved.residual) moved.residual += at;
    if (moved.act_output) moved.act_output += at;
    return moved;
}

// A block's accumulators through the epilogue and out: acc[p * groups + q] holds pixel p's channels
// [c + 8 q, c + 8 q + 8) (the last group only `tail` of them where tail > 0). The epilogue: scale and
// shift (1 and 0 where absent), then its steps, per pixel and group.
static inline __attribute__((always_inline)) void sc_dw_finish(int pixels, int groups, const __m256 *acc, int channels,
                                                               int c, int tail, float *out, const sc_epilogue *e) {
    const __m256i mask = sc_mask8(tail);
    sc_epilogue8 k[4];
    for (int q = 0; q < groups; q++) {
        const int masked = tail && q == groups - 1;
        const size_t at = (size_t)c + 8 * q;
        k[q].scale = !e->scale ? _mm256_set1_ps(1.0f) : masked ? _mm256_maskload_ps(e->scale + at, mask) : _mm256_loadu_ps(e->scale + at);
        k[q].shift = !e->shift ? _mm256_setzero_ps() : masked ? _mm256_maskload_ps(e->shift + at, mask) : _mm256_loadu_ps(e->shift + at);
        if (e->act_output) {
            k[q].act_scale = masked ? _mm256_maskload_ps(e->act_scale + at, mask) : _mm256_loadu_ps(e->act_scale + at);
            k[q].act_shift = masked ? _mm256_maskload_ps(e->act_shift + at, mask) : _mm256_loadu_ps(e->act_shift + at);
        }
    }
    const sc_epilogue_steps steps = {e->residual != NULL, e->activation, e->act_output != NULL, e->act_relu};
    // The whole block through the epilogue at once (its vectors' chains interleave: an activation
    // such as SiLU is a long chain of dependent operations).
    sc_epilogue8 kk[SC_DW_VECTORS];
    __m256 v[SC_DW_VECTORS], r[SC_DW_VECTORS], a[SC_DW_VECTORS];
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) {
            const int masked = tail && q == groups - 1, i = p * groups + q;
            const size_t at = (size_t)p * channels + c + 8 * q;
            kk[i] = k[q];
            v[i] = acc[i];
            if (steps.residual) r[i] = masked ? _mm256_maskload_ps(e->residual + at, mask) : _mm256_loadu_ps(e->residual + at);
        }
    sc_epilogue8_apply(pixels * groups, kk, steps, v, r, a);
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) {
            const int masked = tail && q == groups - 1, i = p * groups + q;
            const size_t at = (size_t)p * channels + c + 8 * q;
            if (masked) _mm256_maskstore_ps(out + at, mask, v[i]);
            else _mm256_storeu_ps(out + at, v[i]);
            if (steps.act) {
                if (masked) _mm256_maskstore_ps(e->act_output + at, mask, a[i]);
                else _mm256_storeu_ps(e->act_output + at, a[i]);
            }
        }
}

// Pixels [0, run) go in pieces of up to eight as even as they come (50 pixels as 8 + 6 x 7, not 6 x 8
// + 2: fewer pixels are fewer independent sums to hide the FMAs' latency): `larger` pieces of size + 1
// pixels, then the rest of `size`.
typedef struct {
    int pieces, size, larger;
} sc_dw_cut;

static inline sc_dw_cut sc_dw_cut_run(int run) {
    const int pieces = (run + SC_DW_ROW_PIXELS - 1) / SC_DW_ROW_PIXELS;
    return (sc_dw_cut){pieces, run / pieces, run % pieces};
}

// The input rows of a stride-1 depthwise convolution, copied by blocks of eight channels: [block][slot]
// [column][8], `columns` = every column an output row's taps reach, padding included (zeros, written
// once per call, so every pixel takes the row kernel and border pixels cost no more than the others).
// Input row r (counted from the top padding) sits in slot r mod ks, so moving down one output row
// copies one new row. Read from NHWC rows, a 7 x 7 window over 384 channels is 150 KiB with half of
// each line used, and L1 thrashed (the row kernel ran at 35 GFLOP/s on it, 85 on the staged layout); a
// block's ks rows of the stage (14 KiB for 7 x 7 over 62 columns) stay in L1 while its pixels are
// swept. After oneDNN's blocked layouts.
typedef struct {
    float *stage;
    const float *input;
    int ks, pad, height, width, channels, cb, ce;
    int columns, copied;   // columns per row; image columns copied into each (from column pad)
    long rows_per_image;   // rows an image's output reads, padding included: oh + ks - 1
    long held[SC_DW_STAGE_MAX_KERNEL]; // the row each slot holds, as image * rows_per_image + row + pad; -1 none
    // The rows the current output row needs and the stage lacks: their slots, and where they start
    // in the input (NULL: a row of the padding).
    int fresh;
    int fresh_slot[SC_DW_STAGE_MAX_KERNEL];
    const float *fresh_row[SC_DW_STAGE_MAX_KERNEL];
} sc_dw_stage;

// Notes input row `row` (from -pad) of image `n` as fresh unless its slot holds it already.
static inline void sc_dw_stage_need(sc_dw_stage *st, long n, int row) {
    const int slot = (row + st->pad) % st->ks;
    const long key = n * st->rows_per_image + row + st->pad;
    if (st->held[slot] == key) return;
    st->held[slot] = key;
    st->fresh_slot[st->fresh] = slot;
    st->fresh_row[st->fresh++] = row < 0 || row >= st->height
                                     ? NULL
                                     : st->input + ((size_t)n * st->height + row) * st->width * st->channels;
}

#define SC_DW_STAGED_ARGS                                                                                      \
    const sc_dw_stage *st, int stage, int b0, int b1, int tail, const int *slots, int ox, int count,           \
        const float *w, float *out, const sc_epilogue *e
typedef void (*sc_dw_staged_fn)(SC_DW_STAGED_ARGS);

#endif
