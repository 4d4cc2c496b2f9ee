// The plain depthwise kernels (one input channel per output channel) on SC_DW_W lanes (8: ymm, in
// sc_depthwise_avx2.c; 16: zmm, the AVX-512 level's, in sc_depthwise_avx512.c): blocks of pixels
// through their pointer tables, runs along a row, and the stage. Included once per width inside the
// file's target region, with no include guard, after sc_depthwise.h; defines sc_dw_plain_pixels,
// sc_dw_row_block, sc_dw_rows and sc_dw_staged with the width as suffix (sc_dw_rows8, sc_dw_rows16).
// Every sum takes the same FMAs in the same order at both widths, so both levels give the same results.
#define SC_DW_CAT_(a, b) a##b
#define SC_DW_CAT(a, b) SC_DW_CAT_(a, b)
#define SC_DW_FN(name) SC_DW_CAT(name, SC_DW_W)
#if SC_DW_W == 8
typedef __m256 SC_DW_CAT(sc_dw_v, 8);
typedef __m256i SC_DW_CAT(sc_dw_mask, 8);
#define SC_DW_MASK(tail) sc_mask8(tail)
#define SC_DW_ZERO() _mm256_setzero_ps()
#define SC_DW_LOAD(p) _mm256_loadu_ps(p)
#define SC_DW_LOAD_MASKED(p, m) _mm256_maskload_ps(p, m)
#define SC_DW_STORE(p, v) _mm256_storeu_ps(p, v)
#define SC_DW_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#else
typedef __m512 SC_DW_CAT(sc_dw_v, 16);
typedef __mmask16 SC_DW_CAT(sc_dw_mask, 16);
#define SC_DW_MASK(tail) ((__mmask16)((tail) > 0 ? (1u << (tail)) - 1 : 0xFFFFu))
#define SC_DW_ZERO() _mm512_setzero_ps()
#define SC_DW_LOAD(p) _mm512_loadu_ps(p)
#define SC_DW_LOAD_MASKED(p, m) _mm512_maskz_loadu_ps(m, p)
#define SC_DW_STORE(p, v) _mm512_storeu_ps(p, v)
#define SC_DW_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#endif
// A kernel row's taps at most four at a time, so that accumulators, weights and the input vector fit
// AVX2's 16 ymm registers (7 x 7 with all seven weights held spilled, and ran at half speed); the same
// at sixteen lanes, whose 32 registers would hold all seven (not measured).
#define SC_DW_ROW_TAPS 4
#define SC_DW_V SC_DW_FN(sc_dw_v)

// The sums of `pixels` pixels x `groups` blocks of SC_DW_W channels through the epilogue and out:
// acc[p * groups + q] holds pixel p's channels [c + SC_DW_W q, c + SC_DW_W (q + 1)), the last block only
// `tail` of them where tail > 0 (see sc_dw_finish). A zmm sum goes as its two ymm halves, of which a
// last block of at most eight channels needs only the first.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_finish_blocks)(int pixels, int groups,
                                                                                const SC_DW_V *acc, int channels,
                                                                                int c, int tail, float *out,
                                                                                const sc_epilogue *e) {
#if SC_DW_W == 8
    sc_dw_finish(pixels, groups, acc, channels, c, tail, out, e);
#else
    const int short_last = tail > 0 && tail <= 8, halves = 2 * groups - short_last;
    __m256 h[SC_DW_VECTORS];
    for (int p = 0; p < pixels; p++)
        for (int q = 0; q < groups; q++) {
            h[p * halves + 2 * q] = _mm512_castps512_ps256(acc[p * groups + q]);
            if (!short_last || q < groups - 1) h[p * halves + 2 * q + 1] = _mm512_extractf32x8_ps(acc[p * groups + q], 1);
        }
    sc_dw_finish(pixels, halves, h, channels, c, tail > 8 ? tail - 8 : tail & 7, out, e);
#endif
}

// Channels [c, c + SC_DW_W * groups) of `pixels` (1 to 4) pixels of a plain depthwise convolution
// (constants after inlining); with `tail` > 0 the last block has only `tail` channels (masked loads and
// stores, never touching the others). The input of tap t and pixel p is at ptr[t * SC_DW_PIXELS + p];
// or, with `rows` (a block inside the image), at rows[ky] + (kx + p * stride) * channels, addresses
// the loop computes instead of loading. For each tap, the blocks' weights once for all the pixels.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_plain_block)(int pixels, int groups, int taps,
                                                                              const float *const *ptr,
                                                                              const float *const *rows, int ks,
                                                                              int stride, const float *w,
                                                                              int channels, int c, int tail,
                                                                              float *out, const sc_epilogue *e) {
    SC_DW_V acc[SC_DW_PIXELS * 2];
    const SC_DW_FN(sc_dw_mask) mask = SC_DW_MASK(tail);
    for (int i = 0; i < pixels * groups; i++) acc[i] = SC_DW_ZERO();
    const size_t step = (size_t)stride * channels;
    // Taps by kernel rows and columns where the rows are given (a tap's row and column by division, the
    // kernel size a variable, would cost more than its FMAs).
    const int kernel_rows = rows ? ks : 1, kernel_columns = rows ? ks : taps;
    const float *wt = w + c;
    for (int ky = 0; ky < kernel_rows; ky++)
        for (int kx = 0; kx < kernel_columns; kx++, ptr += SC_DW_PIXELS, wt += channels) {
            SC_DW_V wv[2];
            for (int q = 0; q < groups; q++)
                wv[q] = tail && q == groups - 1 ? SC_DW_LOAD_MASKED(wt + SC_DW_W * q, mask) : SC_DW_LOAD(wt + SC_DW_W * q);
            for (int p = 0; p < pixels; p++)
                for (int q = 0; q < groups; q++) {
                    const float *x = (rows ? rows[ky] + (size_t)kx * channels + p * step : ptr[p]) + c + SC_DW_W * q;
                    const SC_DW_V xv = tail && q == groups - 1 ? SC_DW_LOAD_MASKED(x, mask) : SC_DW_LOAD(x);
                    acc[p * groups + q] = SC_DW_FMA(xv, wv[q], acc[p * groups + q]);
                }
        }
    SC_DW_FN(sc_dw_finish_blocks)(pixels, groups, acc, channels, c, tail, out, e);
}

// All the channels [cb, ce) of `pixels` (1 to 4) pixels of a plain depthwise convolution by
// sc_dw_plain_block: two blocks at a time, then one, then a last block of fewer channels.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_plain_pixels)(int pixels, int taps,
                                                                               const float *const *ptr,
                                                                               const float *const *rows, int ks,
                                                                               int stride, const float *w,
                                                                               int channels, int cb, int ce,
                                                                               float *out, const sc_epilogue *e) {
    int c = cb;
    for (; c + 2 * SC_DW_W <= ce; c += 2 * SC_DW_W)
        SC_DW_FN(sc_dw_plain_block)(pixels, 2, taps, ptr, rows, ks, stride, w, channels, c, 0, out, e);
    for (; c + SC_DW_W <= ce; c += SC_DW_W)
        SC_DW_FN(sc_dw_plain_block)(pixels, 1, taps, ptr, rows, ks, stride, w, channels, c, 0, out, e);
    if (c < ce) SC_DW_FN(sc_dw_plain_block)(pixels, 1, taps, ptr, rows, ks, stride, w, channels, c, ce - c, out, e);
}

// All taps inside the image: `pixels` (1 to 8) consecutive output pixels of one row x SC_DW_W channels,
// each input vector loaded once per kernel row and multiplied into every pixel it reaches, with the
// kernel row's weights in registers. For 3 x 3 at stride 1 that is 13 loads per 24 FMAs where the
// block above needs 30, and its epilogue and set-up serve twice the pixels. Each sum still takes its
// taps in the order ky, kx, so the result is the same, bit for bit. rows[ky] is the first pixel's
// input at kernel row ky, kernel column 0, channel c; consecutive input columns are `step` floats
// apart (the channel count in NHWC, SC_DW_W on the stage). With `tail` > 0, only that many channels, and the
// input loads masked too where `masked_input` (in NHWC; the stage's last block holds zeros past its
// channels). `ks`, `stride` and `pixels` are constants after inlining, so the loops unroll into
// straight-line code.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_row_block)(int ks, int stride, int pixels,
                                                                            const float *const *rows, size_t step,
                                                                            int masked_input, const float *w,
                                                                            int channels, int c, int tail,
                                                                            float *out, const sc_epilogue *e) {
    SC_DW_V acc[SC_DW_ROW_PIXELS];
    const SC_DW_FN(sc_dw_mask) mask = SC_DW_MASK(tail);
    for (int p = 0; p < pixels; p++) acc[p] = SC_DW_ZERO();
    SC_DW_UNROLL for (int ky = 0; ky < ks; ky++)
        SC_DW_UNROLL for (int k0 = 0; k0 < ks; k0 += SC_DW_ROW_TAPS) {
            const int k1 = k0 + SC_DW_ROW_TAPS < ks ? k0 + SC_DW_ROW_TAPS : ks;
            const float *x = rows[ky] + k0 * step, *wt = w + ((size_t)ky * ks + k0) * channels + c;
            SC_DW_V wv[SC_DW_ROW_TAPS];
            for (int kx = k0; kx < k1; kx++, wt += channels)
                wv[kx - k0] = tail ? SC_DW_LOAD_MASKED(wt, mask) : SC_DW_LOAD(wt);
            SC_DW_UNROLL for (int i = k0; i < (pixels - 1) * stride + k1; i++, x += step) {
                const SC_DW_V xv = tail && masked_input ? SC_DW_LOAD_MASKED(x, mask) : SC_DW_LOAD(x);
                // Input i meets pixel (i - kx) / stride through tap kx; by pixel, kx rises with i.
                for (int kx = k1 - 1; kx >= k0; kx--) {
                    const int p = (i - kx) / stride;
                    if (i - kx >= 0 && (i - kx) % stride == 0 && p < pixels)
                        acc[p] = SC_DW_FMA(xv, wv[kx - k0], acc[p]);
                }
            }
        }
    SC_DW_FN(sc_dw_finish_blocks)(pixels, 1, acc, channels, c, tail, out, e);
}

// All the channels [cb, ce) of `pixels` output pixels by sc_dw_row_block.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_row)(int ks, int stride, int pixels,
                                                                      const float *const *rows, const float *w,
                                                                      int channels, int cb, int ce, float *out,
                                                                      const sc_epilogue *e) {
    const float *at[SC_DW_MAX_KERNEL];
    int c = cb;
    for (; c + SC_DW_W <= ce; c += SC_DW_W) {
        for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + c;
        SC_DW_FN(sc_dw_row_block)(ks, stride, pixels, at, channels, 1, w, channels, c, 0, out, e);
    }
    if (c < ce) {
        const int tail = ce - c;
        __builtin_assume(tail > 0 && tail < SC_DW_W);
        for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + c;
        SC_DW_FN(sc_dw_row_block)(ks, stride, pixels, at, channels, 1, w, channels, c, tail, out, e);
    }
}

// `count` pieces of n pixels, one after another along a row, by sc_dw_row: each piece over all the
// channels before the next, so that its window of the input (all channels of ks rows) stays in L1 while
// its blocks pass (over all pieces one block at a time, the row kernel took 1.1 to 1.6 times as long).
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_row_pieces)(int ks, int s, int n, int count,
                                                                             const float *const *rows,
                                                                             const float *w, int channels, int cb,
                                                                             int ce, float *out,
                                                                             const sc_epilogue *e) {
    for (int i = 0; i < count; i++) {
        const float *at[SC_DW_MAX_KERNEL];
        for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + (size_t)i * n * s * channels;
        const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)i * n * channels);
        SC_DW_FN(sc_dw_row)(ks, s, n, at, w, channels, cb, ce, out + (size_t)i * n * channels, &ep);
    }
}

// The row kernels are instantiated once per kernel size, stride and piece size, each a function of its
// own, which a run calls through a table by the size of its pieces, of which there are at most two:
// the compiler's value numbering grows much faster than the code it works on (with one function per
// kernel and stride holding every piece size, 7 x 7 at stride 2 took 47 s to compile, and the file
// four to five minutes).
typedef void (*SC_DW_FN(sc_dw_row_fn))(int count, const float *const *rows, const float *w, int channels, int cb,
                                       int ce, float *out, const sc_epilogue *e);

#define SC_DW_ROW_FN(ks, s, n)                                                                                 \
    static void SC_DW_FN(sc_dw_row_##ks##_##s##_##n##_)(int count, const float *const *rows, const float *w,   \
                                                        int channels, int cb, int ce, float *out,              \
                                                        const sc_epilogue *e) {                                \
        SC_DW_FN(sc_dw_row_pieces)(ks, s, n, count, rows, w, channels, cb, ce, out, e);                        \
    }
#define SC_DW_ROWS(ks, s)                                                                                      \
    SC_DW_ROW_FN(ks, s, 1)                                                                                     \
    SC_DW_ROW_FN(ks, s, 2)                                                                                     \
    SC_DW_ROW_FN(ks, s, 3)                                                                                     \
    SC_DW_ROW_FN(ks, s, 4)                                                                                     \
    SC_DW_ROW_FN(ks, s, 5)                                                                                     \
    SC_DW_ROW_FN(ks, s, 6)                                                                                     \
    SC_DW_ROW_FN(ks, s, 7)                                                                                     \
    SC_DW_ROW_FN(ks, s, 8)                                                                                     \
    static const SC_DW_FN(sc_dw_row_fn) SC_DW_FN(sc_dw_rows_##ks##_##s##_)[SC_DW_ROW_PIXELS + 1] = {           \
        NULL,                                                                                                  \
        SC_DW_FN(sc_dw_row_##ks##_##s##_1_),                                                                   \
        SC_DW_FN(sc_dw_row_##ks##_##s##_2_),                                                                   \
        SC_DW_FN(sc_dw_row_##ks##_##s##_3_),                                                                   \
        SC_DW_FN(sc_dw_row_##ks##_##s##_4_),                                                                   \
        SC_DW_FN(sc_dw_row_##ks##_##s##_5_),                                                                   \
        SC_DW_FN(sc_dw_row_##ks##_##s##_6_),                                                                   \
        SC_DW_FN(sc_dw_row_##ks##_##s##_7_),                                                                   \
        SC_DW_FN(sc_dw_row_##ks##_##s##_8_)};
SC_DW_ROWS(3, 1)  // (5 x 5 and 7 x 7 at stride 1 go by the stage)
SC_DW_ROWS(3, 2)
SC_DW_ROWS(5, 2)
SC_DW_ROWS(7, 2)

// `pixels` consecutive output pixels of one row, kernel 3 at stride 1, 3, 5 or 7 at stride 2, every tap
// inside the image; rows[ky] is the first pixel's input at kernel row ky, kernel column 0.
static inline void SC_DW_FN(sc_dw_rows)(int ks, int stride, int pixels, const float *const *rows, const float *w,
                                        int channels, int cb, int ce, float *out, const sc_epilogue *e) {
    const SC_DW_FN(sc_dw_row_fn) *piece;
    switch (stride * 8 + ks) {
    case 8 + 3: piece = SC_DW_FN(sc_dw_rows_3_1_); break;
    case 16 + 3: piece = SC_DW_FN(sc_dw_rows_3_2_); break;
    case 16 + 5: piece = SC_DW_FN(sc_dw_rows_5_2_); break;
    default: piece = SC_DW_FN(sc_dw_rows_7_2_); break;
    }
    const sc_dw_cut cut = sc_dw_cut_run(pixels);
    const int done = cut.larger * (cut.size + 1);
    if (cut.larger) piece[cut.size + 1](cut.larger, rows, w, channels, cb, ce, out, e);
    const float *at[SC_DW_MAX_KERNEL];
    for (int ky = 0; ky < ks; ky++) at[ky] = rows[ky] + (size_t)done * stride * channels;
    const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)done * channels);
    piece[cut.size](cut.pieces - cut.larger, at, w, channels, cb, ce, out + (size_t)done * channels, &ep);
}

static inline float *SC_DW_FN(sc_dw_slot)(const sc_dw_stage *st, int block, int slot) {
    return st->stage + ((size_t)block * st->ks + slot) * st->columns * SC_DW_W;
}

static sc_dw_stage SC_DW_FN(sc_dw_stage_make)(const sc_conv_geometry *g, float *stage, const float *input, int cb,
                                              int ce) {
    sc_dw_stage st = {.stage = stage, .input = input, .ks = g->kernel, .pad = g->pad, .height = g->in_height,
                      .width = g->in_width, .channels = g->in_channels, .cb = cb, .ce = ce};
    st.columns = (int)sc_depthwise_stage_columns(g);
    const int inside = st.columns - st.pad;
    st.copied = inside < 0 ? 0 : inside < st.width ? inside : st.width;
    st.rows_per_image = (long)g->out_height + g->kernel - 1;
    for (int k = 0; k < st.ks; k++) st.held[k] = -1;
    // The padding columns, left and right; no row writes them.
    const int left = st.pad < st.columns ? st.pad : st.columns, right = st.columns - left - st.copied;
    for (int b = 0; b < (ce - cb + SC_DW_W - 1) / SC_DW_W; b++)
        for (int k = 0; k < st.ks; k++) {
            float *row = SC_DW_FN(sc_dw_slot)(&st, b, k);
            memset(row, 0, (size_t)left * SC_DW_W * sizeof(float));
            memset(row + (size_t)(left + st.copied) * SC_DW_W, 0, (size_t)right * SC_DW_W * sizeof(float));
        }
    return st;
}

// Block b of the fresh rows into their slots, `tail` > 0 the channels of a last block that ends early
// (its other lanes zeros). A block is staged just before its pixels are computed, so that reading the
// input from L2 and L3 overlaps the FMAs of the blocks around it (staging a row's every block first,
// then computing, was 1.10-1.21 times slower on EfficientNet-B0's 5 x 5 steps).
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_stage_block)(const sc_dw_stage *st, int b,
                                                                              int tail) {
    const SC_DW_FN(sc_dw_mask) mask = SC_DW_MASK(tail);
    for (int f = 0; f < st->fresh; f++) {
        float *dst = SC_DW_FN(sc_dw_slot)(st, b, st->fresh_slot[f]) + (size_t)st->pad * SC_DW_W;
        if (!st->fresh_row[f]) {
            memset(dst, 0, (size_t)st->copied * SC_DW_W * sizeof(float));
            continue;
        }
        const float *src = st->fresh_row[f] + st->cb + SC_DW_W * b;
        for (int x = 0; x < st->copied; x++, src += st->channels, dst += SC_DW_W)
            SC_DW_STORE(dst, tail ? SC_DW_LOAD_MASKED(src, mask) : SC_DW_LOAD(src));
    }
}

// `taps` consecutive taps of one kernel row (at most four, their weights in registers) into `pixels`
// sums of the stage's block (both constants): input column i of the stage meets pixel i - k through
// tap k, so each input vector is loaded once for all the pixels it reaches, as in sc_dw_row_block.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_wide_taps)(const int taps, const int pixels,
                                                                            const float *x, const float *wt,
                                                                            int channels, int tail, SC_DW_V *acc) {
    const SC_DW_FN(sc_dw_mask) mask = SC_DW_MASK(tail);
    SC_DW_V wv[4];
    for (int k = 0; k < taps; k++, wt += channels) wv[k] = tail ? SC_DW_LOAD_MASKED(wt, mask) : SC_DW_LOAD(wt);
    for (int i = 0; i < pixels - 1 + taps; i++) {
        const SC_DW_V xv = SC_DW_LOAD(x + (size_t)i * SC_DW_W);  // the stage holds zeros past the channels
        for (int k = taps - 1; k >= 0; k--)
            if (i - k >= 0 && i - k < pixels) acc[i - k] = SC_DW_FMA(xv, wv[k], acc[i - k]);
    }
}

// sc_dw_row_block on the stage for kernels past SC_DW_MAX_KERNEL (RepLKNet's 31 x 31): the kernel
// size a variable, so that its loops stay loops (unrolled, as below 13 x 13, the code would grow with
// the square of the kernel), the taps of each kernel row four at a time. Each sum takes its taps in
// the order ky, kx, as everywhere.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_wide_block)(int pixels, int ks, const float *const *rows,
                                                                             const float *w, int channels, int c,
                                                                             int tail, float *out,
                                                                             const sc_epilogue *e) {
    SC_DW_V acc[SC_DW_ROW_PIXELS];
    for (int p = 0; p < pixels; p++) acc[p] = SC_DW_ZERO();
    for (int ky = 0; ky < ks; ky++) {
        const float *x = rows[ky], *wt = w + (size_t)ky * ks * channels + c;
        int k0 = 0;
        for (; k0 + 4 <= ks; k0 += 4) SC_DW_FN(sc_dw_wide_taps)(4, pixels, x + k0 * SC_DW_W, wt + (size_t)k0 * channels, channels, tail, acc);
        switch (ks - k0) {
        case 3: SC_DW_FN(sc_dw_wide_taps)(3, pixels, x + k0 * SC_DW_W, wt + (size_t)k0 * channels, channels, tail, acc); break;
        case 2: SC_DW_FN(sc_dw_wide_taps)(2, pixels, x + k0 * SC_DW_W, wt + (size_t)k0 * channels, channels, tail, acc); break;
        case 1: SC_DW_FN(sc_dw_wide_taps)(1, pixels, x + k0 * SC_DW_W, wt + (size_t)k0 * channels, channels, tail, acc); break;
        default: break;
        }
    }
    SC_DW_FN(sc_dw_finish_blocks)(pixels, 1, acc, channels, c, tail, out, e);
}

// The stage's row kernels: `count` pieces of n pixels of a row from column ox, one after another, for
// each of the stage's blocks [b0, b1), each staged first where `stage` (a run's first call: the stage
// holds every block, so that its second, over the pieces of the other size, finds them staged), by
// sc_dw_row_block or, past SC_DW_MAX_KERNEL, by sc_dw_wide_block (`wide`). With `tail` > 0 the blocks
// hold only that many channels (their weights loaded and their sums stored masked; the stage holds
// zeros past the channels). As for the rows above, one function per kernel size and piece size, and
// one more for a last block whose channels end inside it; the wide ones take the stage's kernel size
// and the tail as variables.
static inline __attribute__((always_inline)) void SC_DW_FN(sc_dw_staged_pieces)(int ks, int n, int wide,
                                                                                const sc_dw_stage *st, int stage,
                                                                                int b0, int b1, int tail,
                                                                                const int *slots, int ox, int count,
                                                                                const float *w, float *out,
                                                                                const sc_epilogue *e) {
    for (int b = b0; b < b1; b++) {
        const int c = st->cb + SC_DW_W * b;
        if (stage) SC_DW_FN(sc_dw_stage_block)(st, b, tail);
        for (int i = 0; i < count; i++) {
            // Each piece loads its weights again: hoisted out of the loop (they are the same for every
            // piece of the block), the 49 of a 7 x 7 kernel were spilled (1.08 times as long at 56 x 56).
            __asm__("" : "+r"(w));
            const float *rows[SC_DW_STAGE_MAX_KERNEL];
            for (int ky = 0; ky < ks; ky++) rows[ky] = SC_DW_FN(sc_dw_slot)(st, b, slots[ky]) + (size_t)(ox + i * n) * SC_DW_W;
            const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)i * n * st->channels);
            float *o = out + (size_t)i * n * st->channels;
            if (wide) SC_DW_FN(sc_dw_wide_block)(n, ks, rows, w, st->channels, c, tail, o, &ep);
            else SC_DW_FN(sc_dw_row_block)(ks, 1, n, rows, SC_DW_W, 0, w, st->channels, c, tail, o, &ep);
        }
    }
}

#define SC_DW_STAGED_FNS(k, n)                                                                                 \
    static void SC_DW_FN(sc_dw_staged_##k##_##n##_)(SC_DW_STAGED_ARGS) {                                       \
        (void)tail;                                                                                            \
        SC_DW_FN(sc_dw_staged_pieces)(k, n, 0, st, stage, b0, b1, 0, slots, ox, count, w, out, e);             \
    }                                                                                                          \
    static void SC_DW_FN(sc_dw_staged_tail_##k##_##n##_)(SC_DW_STAGED_ARGS) {                                  \
        __builtin_assume(tail > 0 && tail < SC_DW_W);                                                          \
        SC_DW_FN(sc_dw_staged_pieces)(k, n, 0, st, stage, b0, b1, tail, slots, ox, count, w, out, e);          \
    }
#define SC_DW_STAGED(k)                                                                                        \
    SC_DW_STAGED_FNS(k, 1)                                                                                     \
    SC_DW_STAGED_FNS(k, 2)                                                                                     \
    SC_DW_STAGED_FNS(k, 3)                                                                                     \
    SC_DW_STAGED_FNS(k, 4)                                                                                     \
    SC_DW_STAGED_FNS(k, 5)                                                                                     \
    SC_DW_STAGED_FNS(k, 6)                                                                                     \
    SC_DW_STAGED_FNS(k, 7)                                                                                     \
    SC_DW_STAGED_FNS(k, 8)                                                                                     \
    static const sc_dw_staged_fn SC_DW_FN(sc_dw_staged_##k##_)[2][SC_DW_ROW_PIXELS + 1] = {                    \
        {NULL, SC_DW_FN(sc_dw_staged_##k##_1_), SC_DW_FN(sc_dw_staged_##k##_2_),                               \
         SC_DW_FN(sc_dw_staged_##k##_3_), SC_DW_FN(sc_dw_staged_##k##_4_), SC_DW_FN(sc_dw_staged_##k##_5_),    \
         SC_DW_FN(sc_dw_staged_##k##_6_), SC_DW_FN(sc_dw_staged_##k##_7_), SC_DW_FN(sc_dw_staged_##k##_8_)},   \
        {NULL, SC_DW_FN(sc_dw_staged_tail_##k##_1_), SC_DW_FN(sc_dw_staged_tail_##k##_2_),                     \
         SC_DW_FN(sc_dw_staged_tail_##k##_3_), SC_DW_FN(sc_dw_staged_tail_##k##_4_),                           \
         SC_DW_FN(sc_dw_staged_tail_##k##_5_), SC_DW_FN(sc_dw_staged_tail_##k##_6_),                           \
         SC_DW_FN(sc_dw_staged_tail_##k##_7_), SC_DW_FN(sc_dw_staged_tail_##k##_8_)}};
SC_DW_STAGED(5)
SC_DW_STAGED(7)
// Past 7 x 7 (large-kernel networks), the stage stays at eight lanes: sixteen-lane copies of those
// unrolled kernels would double the file's compile time for networks this project does not measure.
#if SC_DW_W == 8
SC_DW_STAGED(9)
SC_DW_STAGED(11)
SC_DW_STAGED(13)

#define SC_DW_WIDE_FN(n)                                                                                       \
    static void SC_DW_FN(sc_dw_wide_##n##_)(SC_DW_STAGED_ARGS) {                                               \
        SC_DW_FN(sc_dw_staged_pieces)(st->ks, n, 1, st, stage, b0, b1, tail, slots, ox, count, w, out, e);     \
    }
SC_DW_WIDE_FN(1)
SC_DW_WIDE_FN(2)
SC_DW_WIDE_FN(3)
SC_DW_WIDE_FN(4)
SC_DW_WIDE_FN(5)
SC_DW_WIDE_FN(6)
SC_DW_WIDE_FN(7)
SC_DW_WIDE_FN(8)
#define SC_DW_WIDE_ROW                                                                                         \
    {NULL, SC_DW_FN(sc_dw_wide_1_), SC_DW_FN(sc_dw_wide_2_), SC_DW_FN(sc_dw_wide_3_), SC_DW_FN(sc_dw_wide_4_), \
     SC_DW_FN(sc_dw_wide_5_), SC_DW_FN(sc_dw_wide_6_), SC_DW_FN(sc_dw_wide_7_), SC_DW_FN(sc_dw_wide_8_)}
static const sc_dw_staged_fn SC_DW_FN(sc_dw_wide_)[2][SC_DW_ROW_PIXELS + 1] = {SC_DW_WIDE_ROW, SC_DW_WIDE_ROW};
#endif

// All the stage's channels of output pixels [ox, ox + run) by the kernels `pieces` ([last block
// ending inside it][pixels]); slots[ky] is the slot of kernel row ky; `out` and the epilogue point at
// pixel ox.
static void SC_DW_FN(sc_dw_staged_run)(const sc_dw_stage *st,
                                       const sc_dw_staged_fn (*pieces)[SC_DW_ROW_PIXELS + 1], const int *slots,
                                       int ox, int run, const float *w, float *out, const sc_epilogue *e) {
    const sc_dw_cut cut = sc_dw_cut_run(run);
    const int done = cut.larger * (cut.size + 1), blocks = (st->ce - st->cb) / SC_DW_W,
              tail = (st->ce - st->cb) % SC_DW_W;
    const sc_epilogue ep = sc_dw_epilogue_at(e, (size_t)done * st->channels);
    float *rest = out + (size_t)done * st->channels;
    for (int part = 0; part < 2; part++) {  // the full blocks, then a last block of `tail` channels
        const int b0 = part ? blocks : 0, b1 = part ? blocks + (tail > 0) : blocks;
        if (b0 == b1) continue;
        const int t = part ? tail : 0;
        if (cut.larger) pieces[part][cut.size + 1](st, 1, b0, b1, t, slots, ox, cut.larger, w, out, e);
        pieces[part][cut.size](st, !cut.larger, b0, b1, t, slots, ox + done, cut.pieces - cut.larger, w, rest, &ep);
    }
}

static void SC_DW_FN(sc_dw_staged)(const sc_conv_geometry *g, const float *packed, const float *input,
                                   float *output, const sc_epilogue *e0, float *stage, long pixel_begin,
                                   long pixel_end, int cb, int ce) {
    const int ks = g->kernel, oh = g->out_height, ow = g->out_width;
    const long plane = (long)oh * ow;
    sc_dw_stage st = SC_DW_FN(sc_dw_stage_make)(g, stage, input, cb, ce);
#if SC_DW_W == 8
    const sc_dw_staged_fn(*pieces)[SC_DW_ROW_PIXELS + 1] = ks == 5    ? SC_DW_FN(sc_dw_staged_5_)
                                                         : ks == 7  ? SC_DW_FN(sc_dw_staged_7_)
                                                         : ks == 9  ? SC_DW_FN(sc_dw_staged_9_)
                                                         : ks == 11 ? SC_DW_FN(sc_dw_staged_11_)
                                                         : ks == 13 ? SC_DW_FN(sc_dw_staged_13_)
                                                                    : SC_DW_FN(sc_dw_wide_);
#else
    const sc_dw_staged_fn(*pieces)[SC_DW_ROW_PIXELS + 1] = ks == 5 ? SC_DW_FN(sc_dw_staged_5_) : SC_DW_FN(sc_dw_staged_7_);
#endif
    for (long p0 = pixel_begin; p0 < pixel_end;) {
        // The rest of an output row, or of the range.
        const long n = p0 / plane, rest = p0 - n * plane;
        const int oy = (int)(rest / ow), ox = (int)(rest - (long)oy * ow);
        const int run = (int)(pixel_end - p0 < ow - ox ? pixel_end - p0 : ow - ox);
        int slots[SC_DW_STAGE_MAX_KERNEL];
        st.fresh = 0;
        for (int ky = 0; ky < ks; ky++) {
            sc_dw_stage_need(&st, n, oy - g->pad + ky);
            slots[ky] = (oy + ky) % ks;
        }
        const sc_epilogue e = sc_dw_epilogue_at(e0, (size_t)p0 * st.channels);
        float *out = output + (size_t)p0 * st.channels;
        SC_DW_FN(sc_dw_staged_run)(&st, pieces, slots, ox, run, packed, out, &e);
        p0 += run;
    }
}

#undef SC_DW_WIDE_ROW
#undef SC_DW_WIDE_FN
#undef SC_DW_STAGED
#undef SC_DW_STAGED_FNS
#undef SC_DW_ROWS
#undef SC_DW_ROW_FN
#undef SC_DW_V
#undef SC_DW_STORE
#undef SC_DW_ROW_TAPS
#undef SC_DW_FMA
#undef SC_DW_LOAD_MASKED
#undef SC_DW_LOAD
#undef SC_DW_ZERO
#undef SC_DW_MASK
#undef SC_DW_FN
#undef SC_DW_CAT
#undef SC_DW_CAT_
