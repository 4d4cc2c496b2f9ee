// The Winograd transforms' bodies, included three times by sc_winograd.c with SC_TRANSFORM(name) naming
// them, SC_TRANSFORM_TARGET giving their instruction set and SC_TRANSFORM_WIDE (the AVX-512 copy)
// sixteen channels at a time (no include guard on purpose).
#ifndef SC_WINOGRAD_TRANSFORM_TYPES
#define SC_WINOGRAD_TRANSFORM_TYPES
// Eight channels at a time as one vector (sc_v8, sc_epilogue.h: two SSE registers on the baseline,
// one AVX register in the AVX2 clone below), then the rest one by one.
typedef float sc_v8u __attribute__((vector_size(32), aligned(4)));  // for unaligned loads and stores
#define sc_load8(p) (*(const sc_v8u *)(const void *)(p))
#define sc_store8(p, v) (*(sc_v8u *)(void *)(p) = (v))
// Sixteen channels as one vector, in the AVX-512 clone (SC_TRANSFORM_WIDE): one zmm register.
typedef float sc_v16w __attribute__((vector_size(64)));
typedef float sc_v16wu __attribute__((vector_size(64), aligned(4)));
#define sc_load16(p) (*(const sc_v16wu *)(const void *)(p))
#define sc_store16(p, v) (*(sc_v16wu *)(void *)(p) = (v))

// The one-dimensional transforms, on arrays v and r (of vectors or floats): B^T v and A^T v of
// F(2x2, 3x3) on four values, then of F(4x4, 3x3) on six.
#define SC_BT4(v, r) (r[0] = v[0] - v[2], r[1] = v[1] + v[2], r[2] = v[2] - v[1], r[3] = v[1] - v[3])
#define SC_AT4(v, r) (r[0] = v[0] + v[1] + v[2], r[1] = v[1] - v[2] - v[3])
#define SC_BT6(v, r)                                                                                                   \
    do {                                                                                                               \
        r[0] = 4.0f * v[0] - 5.0f * v[2] + v[4], r[1] = v[3] + v[4] - 4.0f * (v[1] + v[2]);                          \
        r[2] = 4.0f * (v[1] - v[2]) + v[4] - v[3], r[3] = 2.0f * (v[3] - v[1]) + v[4] - v[2];                        \
        r[4] = 2.0f * (v[1] - v[3]) + v[4] - v[2], r[5] = 4.0f * v[1] - 5.0f * v[3] + v[5];                          \
    } while (0)
#define SC_AT6(v, r)                                                                                                   \
    do {                                                                                                               \
        r[0] = v[0] + v[1] + v[2] + v[3] + v[4], r[1] = v[1] - v[2] + 2.0f * (v[3] - v[4]);                           \
        r[2] = v[1] + v[2] + 4.0f * (v[3] + v[4]), r[3] = v[1] - v[2] + 8.0f * (v[3] - v[4]) + v[5];                  \
    } while (0)
// B^T d B for one group of channels, BT along each column and then each row of the A x A patch:
// d[k] is input row k of the patch, out + k * stride position k. Every value stored is also added to
// SUM, which is then non-finite if any of them is (or if they overflow it).
#define SC_INPUT_TRANSFORM(T, LOAD, STORE, ch, A, BT, SUM)                                                             \
    do {                                                                                                               \
        T q[A * A];                                                                                                    \
        for (int x = 0; x < A; x++) {                                                                                  \
            T col[A], r[A];                                                                                            \
            for (int y = 0; y < A; y++) col[y] = LOAD(d[y * A + x] + ch);                                              \
            BT(col, r);                                                                                                \
            for (int y = 0; y < A; y++) q[y * A + x] = r[y];                                                           \
        }                                                                                                              \
        for (int y = 0; y < A; y++) {                                                                                  \
            T r[A];                                                                                                    \
            BT((q + y * A), r);                                                                                        \
            for (int x = 0; x < A; x++) STORE(out + (size_t)(y * A + x) * stride + ch, r[x]), SUM += r[x];             \
        }                                                                                                              \
    } while (0)
// A^T M A for one group of channels, AT along each column and then each row of the A x A positions:
// src + k * stride is position k; y[0 .. M * M) the M x M output block's pixels, row-major.
#define SC_OUTPUT_TRANSFORM(T, LOAD, ch, y, A, M, AT)                                                                  \
    do {                                                                                                               \
        T q[M * A];                                                                                                    \
        for (int x = 0; x < A; x++) {                                                                                  \
            T col[A], r[M];                                                                                            \
            for (int k = 0; k < A; k++) col[k] = LOAD(src + ch + (size_t)(k * A + x) * stride);                        \
            AT(col, r);                                                                                                \
            for (int k = 0; k < M; k++) q[k * A + x] = r[k];                                                           \
        }                                                                                                              \
        for (int k = 0; k < M; k++) {                                                                                  \
            T r[M];                                                                                                    \
            AT((q + k * A), r);                                                                                        \
            for (int x = 0; x < M; x++) y[k * M + x] = r[x];                                                           \
        }                                                                                                              \
    } while (0)

#define SC_LOAD1(p) (*(p))
#define SC_STORE1(p, v) (*(p) = (v))

// The epilogue's operands for channels ch..ch+7 (scale 1 and shift 0 where absent).
static inline __attribute__((always_inline)) void sc_epilogue8_load(const sc_epilogue *e, int ch, sc_epilogue8 *k) {
    k->scale = e->scale ? sc_load8(e->scale + ch) : (sc_v8){1, 1, 1, 1, 1, 1, 1, 1};
    k->shift = e->shift ? sc_load8(e->shift + ch) : (sc_v8){0};
    if (e->act_output) {
        k->act_scale = sc_load8(e->act_scale + ch);
        k->act_shift = sc_load8(e->act_shift + ch);
    }
}

// n (1 or 2) vectors of eight consecutive outputs at output + i through the epilogue, vector j with k[j]'s
// operands (where `apply`: else stored as they are), and stored, with the second output where there is one.
static inline __attribute__((always_inline)) void sc_epilogue8_store(int n, const sc_epilogue8 *k, int apply,
                                                                     const sc_epilogue *e, sc_epilogue_steps steps,
                                                                     sc_v8 *v, float *output, size_t i) {
    sc_v8 r[2], a[2];
    if (steps.residual)
        for (int j = 0; j < n; j++) r[j] = sc_load8(e->residual + i + 8 * j);
    if (apply) sc_epilogue8_apply(n, k, steps, v, r, a);
    for (int j = 0; j < n; j++) {
        sc_store8(output + i + 8 * j, v[j]);
        if (steps.act) sc_store8(e->act_output + i + 8 * j, a[j]);
    }
}

#endif

// V[k][t][c] for the chunk's tiles of F(m x m, 3x3): the (m + 2)^2 input patch at (m ty - 1, m tx - 1)
// (the zero row outside the image) through B^T d B. `m` is a constant where inlined. Returns whether
// every transformed value is finite (one add per value stored: under 1% of a convolution).
static inline __attribute__((always_inline)) int SC_TRANSFORM(sc_input_tiles)(const sc_conv_geometry *g, const float *input,
                                                                               const float *zero, long t0, long count, float *v,
                                                                               size_t stride, const int m) {
    const int c = g->in_channels, h = g->in_height, w = g->in_width, tiles_x = (g->out_width + m - 1) / m, alpha = m + 2;
    sc_v8 sum8 = {0};
    float sum = 0.0f;
#if defined(SC_TRANSFORM_WIDE)
    sc_v16w sum16 = {0};
#endif
    for (long t = 0; t < count; t++) {
        const long tile = t0 + t;
        const int y0 = (int)(tile / tiles_x) * m - 1, x0 = (int)(tile % tiles_x) * m - 1;
        const float *d[36];
        for (int k = 0; k < alpha * alpha; k++) {
            const int iy = y0 + k / alpha, ix = x0 + k % alpha;
            d[k] = iy < 0 || iy >= h || ix < 0 || ix >= w ? zero : input + ((size_t)iy * w + ix) * c;
        }
        float *out = v + (size_t)t * c;
        int ch = 0;
        if (m == 4) {
#if defined(SC_TRANSFORM_WIDE)
            for (; ch + 16 <= c; ch += 16) SC_INPUT_TRANSFORM(sc_v16w, sc_load16, sc_store16, ch, 6, SC_BT6, sum16);
#endif
            for (; ch + 8 <= c; ch += 8) SC_INPUT_TRANSFORM(sc_v8, sc_load8, sc_store8, ch, 6, SC_BT6, sum8);
            for (; ch < c; ch++) SC_INPUT_TRANSFORM(float, SC_LOAD1, SC_STORE1, ch, 6, SC_BT6, sum);
        } else {
#if defined(SC_TRANSFORM_WIDE)
            for (; ch + 16 <= c; ch += 16) SC_INPUT_TRANSFORM(sc_v16w, sc_load16, sc_store16, ch, 4, SC_BT4, sum16);
#endif
            for (; ch + 8 <= c; ch += 8) SC_INPUT_TRANSFORM(sc_v8, sc_load8, sc_store8, ch, 4, SC_BT4, sum8);
            for (; ch < c; ch++) SC_INPUT_TRANSFORM(float, SC_LOAD1, SC_STORE1, ch, 4, SC_BT4, sum);
        }
    }
#if defined(SC_TRANSFORM_WIDE)
    for (int lane = 0; lane < 16; lane++) sum += sum16[lane];
#endif
    for (int lane = 0; lane < 8; lane++) sum += sum8[lane];
    return sum - sum == 0.0f;  // false for infinities and NaN
}

SC_TRANSFORM_TARGET static int SC_TRANSFORM(sc_transform_input)(const sc_conv_geometry *g, const float *input, const float *zero, long t0,
                                                                long count, float *v, size_t stride, int m) {
    if (m == 4) return SC_TRANSFORM(sc_input_tiles)(g, input, zero, t0, count, v, stride, 4);
    return SC_TRANSFORM(sc_input_tiles)(g, input, zero, t0, count, v, stride, 2);
}

// Y = A^T M A for the chunk's tiles and channels [c0, c1), then the epilogue, at the output pixels
// inside the image (a map not a multiple of m has partial tiles at its bottom and right edges). Eight
// channels at a time go through the epilogue in registers; the last few, one by one through `rows`.
static inline __attribute__((always_inline)) void SC_TRANSFORM(sc_output_tiles)(const sc_conv_geometry *g, const float *mm, size_t stride,
                                                                                long t0, long count, int c0, int c1, float *output,
                                                                                const sc_epilogue *e, float *rows, const int m) {
    const int oc = g->out_channels, h = g->out_height, w = g->out_width, tiles_x = (w + m - 1) / m, pixels = m * m;
    const int vector_end = c0 + (c1 - c0) / 8 * 8;
    // The epilogue, fetched once: its pointers and flags stay put across the stores. NULL e stores the
    // values as they are.
    const sc_epilogue ep = e ? *e : (sc_epilogue){0};
    const sc_epilogue_steps steps = {ep.residual != NULL, ep.activation, ep.act_output != NULL, ep.act_relu};
    sc_epilogue8 k8[2];  // one or (sixteen channels at once) two vectors' operands
    for (long t = 0; t < count; t++) {
        const long tile = t0 + t;
        const int y0 = (int)(tile / tiles_x) * m, x0 = (int)(tile % tiles_x) * m;
        const float *src = mm + (size_t)t * oc;
        size_t at[16];
        int inside[16];
        for (int k = 0; k < pixels; k++) {
            const int oy = y0 + k / m, ox = x0 + k % m;
            inside[k] = oy < h && ox < w;
            at[k] = ((size_t)oy * w + ox) * oc;
        }
        int ch8 = c0;
#if defined(SC_TRANSFORM_WIDE)
        // Sixteen channels through the transform at once, then the epilogue on their two halves.
        for (; ch8 + 16 <= vector_end; ch8 += 16) {
            sc_v16w y[16];
            if (m == 4) SC_OUTPUT_TRANSFORM(sc_v16w, sc_load16, ch8, y, 6, 4, SC_AT6);
            else SC_OUTPUT_TRANSFORM(sc_v16w, sc_load16, ch8, y, 4, 2, SC_AT4);
            if (e) sc_epilogue8_load(&ep, ch8, &k8[0]), sc_epilogue8_load(&ep, ch8 + 8, &k8[1]);
            for (int k = 0; k < pixels; k++) {
                if (!inside[k]) continue;
                sc_v8 v[2] = {__builtin_shufflevector(y[k], y[k], 0, 1, 2, 3, 4, 5, 6, 7),
                              __builtin_shufflevector(y[k], y[k], 8, 9, 10, 11, 12, 13, 14, 15)};
                sc_epilogue8_store(2, k8, e != NULL, &ep, steps, v, output, at[k] + ch8);
            }
        }
#endif
        for (int ch = ch8; ch < vector_end; ch += 8) {
            sc_v8 y[16];
            if (m == 4) SC_OUTPUT_TRANSFORM(sc_v8, sc_load8, ch, y, 6, 4, SC_AT6);
            else SC_OUTPUT_TRANSFORM(sc_v8, sc_load8, ch, y, 4, 2, SC_AT4);
            if (e) sc_epilogue8_load(&ep, ch, &k8[0]);
            for (int k = 0; k < pixels; k++)
                if (inside[k]) sc_epilogue8_store(1, k8, e != NULL, &ep, steps, &y[k], output, at[k] + ch);
        }
        if (vector_end == c1) continue;
        const int n = c1 - vector_end;
        for (int ch = vector_end; ch < c1; ch++) {
            float y[16];
            if (m == 4) SC_OUTPUT_TRANSFORM(float, SC_LOAD1, ch, y, 6, 4, SC_AT6);
            else SC_OUTPUT_TRANSFORM(float, SC_LOAD1, ch, y, 4, 2, SC_AT4);
            for (int k = 0; k < pixels; k++) rows[k * n + ch - vector_end] = y[k];
        }
        for (int k = 0; k < pixels; k++)
            if (inside[k]) sc_epilogue_pixel(rows + k * n, output, at[k], vector_end, c1, e);
    }
}

SC_TRANSFORM_TARGET static void SC_TRANSFORM(sc_transform_output)(const sc_conv_geometry *g, const float *mm, size_t stride, long t0,
                                                                  long count, int c0, int c1, float *output, const sc_epilogue *e,
                                                                  float *rows, int m) {
    if (m == 4) SC_TRANSFORM(sc_output_tiles)(g, mm, stride, t0, count, c0, c1, output, e, rows, 4);
    else SC_TRANSFORM(sc_output_tiles)(g, mm, stride, t0, count, c0, c1, output, e, rows, 2);
}
