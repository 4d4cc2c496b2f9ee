// The convolution driver (cache blocking, on-the-fly im2col packing of the input, group loop),
// included once per instruction-set level. The including file defines:
//   SC_FN(name)  the level's name for a function (e.g. name##_avx2)
//   SC_NR        columns (output pixels) of a micro-tile; packed input panels are K x SC_NR
//   SC_KC, SC_NC, SC_MC   cache blocking: K block, pixel block, channel block (SC_MC a multiple of SC_MR)
//   SC_FN(tile)  the micro-kernel:
//       void tile(const float *a, const float *b, int kc, int mr, int nr, float *c, const sc_tile_epi *e)
//     a: packed weights at (k0, first row), SC_MR floats per k; b: a packed input panel, SC_NR floats
//     per k; mr <= SC_MR rows and nr <= SC_NR columns are stored at c (row stride e->ldc).
//   SC_PANEL_PAD floats of padding after each packed panel (a multiple of 16)
//   SC_FN(zero_piece)(float *d, int span): d[0..span) = 0 (span <= SC_NR)
//   SC_FN(copy_piece)(float *d, const float *src, int span, int lo, int hi, int s, int avail):
//     d[i] = src[i * s] for lo <= i < hi, 0 for the other i < span (0 <= lo < hi <= span <= SC_NR);
//     src[i * s] may be outside the input for i outside [lo, hi) and must not be read there; when
//     lo == 0, src[0 .. avail) may all be read (the rest of the input row).
//   Both may also write up to SC_PANEL_PAD floats past d + span (pieces of a packed row are written in
//   order, rows in order, so whatever they overwrite is written again later, or is padding).
// and, when it wants the code compiled for a target, wraps the #include in a target pragma.

#if SC_KC > SC_KC_MAX || SC_PANEL_PAD > SC_PANEL_PAD_MAX || SC_NC > SC_NC_MAX || SC_NR > SC_NR_MAX || \
    (SC_NC % SC_NR) != 0 || (SC_MC % SC_MR) != 0
#error "blocking exceeds the workspace bounds"
#endif

#ifndef SC_KMAX
#define SC_KMAX 16  // kernels up to this size get their column ranges precomputed
#endif

// A piece of a pixel block: the pixels of one output row that fall in one panel. `span` lanes are
// written from lane0 on: the first `len` are pixels, the rest (only in the block's last panel) zeros.
typedef struct { int panel, lane0, len, span, oy, ox0; } SC_FN(piece);

// Splits block columns [0, nc) (pixels n0 + j) into pieces; returns their count (at most nc + nc / SC_NR + 2).
// `row` is the output row width, or the whole plane for 1x1 stride-1 convolutions (one long row).
static int SC_FN(make_pieces)(SC_FN(piece) *pieces, int n0, int nc, int row) {
    int count = 0;
    for (int j = 0; j < nc;) {
        const int n = n0 + j, oy = n / row, ox = n - oy * row;
        const int p = j / SC_NR, lane = j - p * SC_NR;
        int len = row - ox;
        if (len > SC_NR - lane) len = SC_NR - lane;
        if (len > nc - j) len = nc - j;
        int span = len;
        if (j + len == nc) span = SC_NR - lane;  // the last piece also zeroes the panel's tail
        pieces[count++] = (SC_FN(piece)){p, lane, len, span, oy, ox};
        j += len;
    }
    return count;
}

// Packs rows [k0, k0 + kc) of the implicit im2col matrix over the block's pieces into panels of
// SC_NR columns: panel p holds kc x SC_NR floats, zero beyond the block's last column.
static void SC_FN(pack_input)(float *restrict dst, const sc_conv_geometry *g, const float *restrict in,
                              int k0, int kc, const SC_FN(piece) *pieces, int npieces, int direct) {
    const int ks = g->kernel, kk = ks * ks;
    const int s = direct ? 1 : g->stride, pad = direct ? 0 : g->pad;
    const int H = direct ? 1 : g->in_height;
    const int W = direct ? g->in_height * g->in_width : g->in_width;
    const size_t HW = (size_t)g->in_height * g->in_width, panel_stride = (size_t)kc * SC_NR + SC_PANEL_PAD;
    // Output columns ox whose input column ox * s - pad + kx lies inside [0, W), per kx.
    int ox_lo[SC_KMAX], ox_hi[SC_KMAX];
    for (int kx = 0; kx < ks && kx < SC_KMAX; kx++) sc_tap_columns(kx, s, pad, W, &ox_lo[kx], &ox_hi[kx]);
    int c = k0 / kk, ky = (k0 - c * kk) / ks, kx = k0 - c * kk - ky * ks;
    for (int kr = 0; kr < kc; kr++) {
        const float *chan = in + (size_t)c * HW;
        const int t = pad - kx;
        int lo_x, hi_x;
        if (kx < SC_KMAX) {
            lo_x = ox_lo[kx];
            hi_x = ox_hi[kx];
        } else {
            sc_tap_columns(kx, s, pad, W, &lo_x, &hi_x);
        }
        for (int q = 0; q < npieces; q++) {
            const SC_FN(piece) pc = pieces[q];
            float *d = dst + (size_t)pc.panel * panel_stride + (size_t)kr * SC_NR + pc.lane0;
            const int iy = pc.oy * s - pad + ky, ix0 = pc.ox0 * s - t;
            const int lo = lo_x > pc.ox0 ? lo_x - pc.ox0 : 0;
            const int hi = hi_x - pc.ox0 < pc.len ? hi_x - pc.ox0 : pc.len;
            if (iy < 0 || iy >= H || lo >= hi)
                SC_FN(zero_piece)(d, pc.span);
            else
                SC_FN(copy_piece)(d, chan + (ptrdiff_t)iy * W + ix0, pc.span, lo, hi, s, W - ix0);
        }
        if (++kx == ks) {
            kx = 0;
            if (++ky == ks) {
                ky = 0;
                c++;
            }
        }
    }
}

// One group: rows [m_lo, m_hi) of C[M][N] = A[M][K] x B[K][N] over columns [pb, pe).
static void SC_FN(gemm)(const sc_conv_geometry *g, const float *A, const float *in, float *out,
                        const float *scale, const float *shift, const float *res, int relu,
                        float *ws, int K, int m_lo, int m_hi, int pb, int pe) {
    const size_t N = (size_t)g->out_height * g->out_width;
    const int ow = g->out_width;
    const int nk = (K + SC_KC - 1) / SC_KC, kcb = (K + nk - 1) / nk;
    SC_FN(piece) pieces[SC_NC + SC_NC / SC_NR + 2];
    const int direct = g->kernel == 1 && g->stride == 1 && g->pad == 0 && g->out_width == g->in_width &&
                       g->out_height == g->in_height;
    for (int n0 = pb; n0 < pe; n0 += SC_NC) {
        const int nc = pe - n0 < SC_NC ? pe - n0 : SC_NC;
        const int npan = (nc + SC_NR - 1) / SC_NR;
        const int npieces = SC_FN(make_pieces)(pieces, n0, nc, direct ? (int)N : ow);
        for (int kb = 0; kb < nk; kb++) {
            const int k0 = kb * kcb, kc = K - k0 < kcb ? K - k0 : kcb;
            SC_FN(pack_input)(ws, g, in, k0, kc, pieces, npieces, direct);
            sc_tile_epi e;
            e.ldc = N;
            e.relu = relu;
            e.first = kb == 0;
            e.last = kb == nk - 1;
            for (int mc0 = m_lo; mc0 < m_hi;) {
                int mc1 = (mc0 / SC_MR) * SC_MR + SC_MC;
                if (mc1 > m_hi) mc1 = m_hi;
                for (int p = 0; p < npan; p++) {
                    const int nr = nc - p * SC_NR < SC_NR ? nc - p * SC_NR : SC_NR;
                    const size_t n = (size_t)n0 + (size_t)p * SC_NR;
                    const float *b = ws + (size_t)p * ((size_t)kc * SC_NR + SC_PANEL_PAD);
                    for (int m = mc0; m < mc1;) {
                        const int panel = m / SC_MR, r = m - panel * SC_MR;
                        const int mr = SC_MR - r < mc1 - m ? SC_MR - r : mc1 - m;
                        const float *a = A + ((size_t)panel * K + k0) * SC_MR + r;
                        e.scale = scale ? scale + m : NULL;
                        e.shift = shift ? shift + m : NULL;
                        e.residual = res ? res + (size_t)m * N + n : NULL;
                        SC_FN(tile)(a, b, kc, mr, nr, out + (size_t)m * N + n, &e);
                        m += mr;
                    }
                }
                mc0 = mc1;
            }
        }
    }
}

// Grouped convolutions with one input channel per group (depthwise, possibly with a channel
// multiplier): direct loops. Each run of an output row is done in chunks of up to `chunk` pixels: the
// input rows under the chunk are copied, zero-padded, into `buf`, then 16 outputs at a time are
// accumulated over the taps in registers.
#define SC_DW_BUF 4096
#define SC_DW_LANES 16
static void SC_FN(depthwise)(const sc_conv_geometry *g, const float *packed, const float *in, float *out,
                             const float *scale, const float *shift, const float *res, int relu,
                             int cb, int ce, int pb, int pe) {
    const int ks = g->kernel, kk = ks * ks, s = g->stride, pad = g->pad;
    const int H = g->in_height, W = g->in_width, ow = g->out_width;
    const int Mg = g->out_channels / g->groups;
    const size_t N = (size_t)g->out_height * ow, HW = (size_t)H * W;
    const size_t group_floats = (size_t)((Mg + SC_MR - 1) / SC_MR) * SC_MR * kk;
    // Largest chunk whose padded input rows fit: ks rows of (chunk + SC_DW_LANES) * s + ks floats.
    int chunk = (SC_DW_BUF / ks - ks) / s - SC_DW_LANES;
    if (chunk > 256) chunk = 256;
    chunk = chunk / SC_DW_LANES * SC_DW_LANES;
    float buf[SC_DW_BUF];
    for (int oc = cb; oc < ce; oc++) {
        const int gi = oc / Mg, m = oc - gi * Mg;
        const float *wp = packed + gi * group_floats + (size_t)(m / SC_MR) * SC_MR * kk + m % SC_MR;
        const float *chan = in + (size_t)gi * HW;
        const float sc = scale ? scale[oc] : 1.0f, sh = shift ? shift[oc] : 0.0f;
        for (int n = pb; n < pe;) {
            const int oy = n / ow, ox0 = n - oy * ow;
            int len = ow - ox0 < pe - n ? ow - ox0 : pe - n;
            if (chunk > 0 && len > chunk) len = chunk;
            float *restrict o = out + (size_t)oc * N + n;
            const float *restrict r = res ? res + (size_t)oc * N + n : NULL;
            if (chunk <= 0) {  // huge kernel or stride: one output at a time
                for (int i = 0; i < len; i++) {
                    float acc = 0.0f;
                    for (int ky = 0; ky < ks; ky++) {
                        const int iy = oy * s - pad + ky;
                        if (iy < 0 || iy >= H) continue;
                        for (int kx = 0; kx < ks; kx++) {
                            const int ix = (ox0 + i) * s - pad + kx;
                            if (ix >= 0 && ix < W) acc += wp[(size_t)(ky * ks + kx) * SC_MR] * chan[(size_t)iy * W + ix];
                        }
                    }
                    float v = acc * sc + sh;
                    if (r) v += r[i];
                    o[i] = relu && v < 0.0f ? 0.0f : v;
                }
                n += len;
                continue;
            }
            // buf[ky * bw + j] = input(oy * s - pad + ky, ox0 * s - pad + j), zero outside the image.
            const int bw = (len + SC_DW_LANES) * s + ks, x0 = ox0 * s - pad;
            for (int ky = 0; ky < ks; ky++) {
                float *restrict b = buf + ky * bw;
                const int iy = oy * s - pad + ky;
                if (iy < 0 || iy >= H) {
                    for (int j = 0; j < bw; j++) b[j] = 0.0f;
                    continue;
                }
                const float *row = chan + (size_t)iy * W;
                const int ja = x0 < 0 ? -x0 : 0, jb = W - x0 < bw ? W - x0 : bw;
                int j = 0;
                for (; j < ja && j < bw; j++) b[j] = 0.0f;
                for (; j < jb; j++) b[j] = row[x0 + j];
                for (; j < bw; j++) b[j] = 0.0f;
            }
            for (int i0 = 0; i0 < len; i0 += SC_DW_LANES) {
                float acc[SC_DW_LANES];
                for (int l = 0; l < SC_DW_LANES; l++) acc[l] = 0.0f;
                for (int ky = 0; ky < ks; ky++)
                    for (int kx = 0; kx < ks; kx++) {
                        const float w = wp[(size_t)(ky * ks + kx) * SC_MR];
                        const float *b = buf + ky * bw + i0 * s + kx;
                        if (s == 1)
                            for (int l = 0; l < SC_DW_LANES; l++) acc[l] += w * b[l];
                        else
                            for (int l = 0; l < SC_DW_LANES; l++) acc[l] += w * b[l * s];
                    }
                const int cnt = len - i0 < SC_DW_LANES ? len - i0 : SC_DW_LANES;
                for (int l = 0; l < cnt; l++) {
                    float v = acc[l] * sc + sh;
                    if (r) v += r[i0 + l];
                    o[i0 + l] = relu && v < 0.0f ? 0.0f : v;
                }
            }
            n += len;
        }
    }
}

void SC_FN(sc_conv)(const sc_conv_geometry *g, const float *packed, const float *input, float *output,
                    const sc_epilogue *epilogue, float *workspace,
                    int channel_begin, int channel_end, int pixel_begin, int pixel_end) {
    const int groups = g->groups > 0 ? g->groups : 1;
    const int Mg = g->out_channels / groups, Cg = g->in_channels / groups;
    const int K = Cg * g->kernel * g->kernel;
    if (channel_begin < 0) channel_begin = 0;
    if (channel_end > g->out_channels) channel_end = g->out_channels;
    if (pixel_begin < 0) pixel_begin = 0;
    if (pixel_end > g->out_height * g->out_width) pixel_end = g->out_height * g->out_width;
    if (channel_begin >= channel_end || pixel_begin >= pixel_end || Mg <= 0 || K <= 0) return;
    const size_t N = (size_t)g->out_height * g->out_width, HW = (size_t)g->in_height * g->in_width;
    const size_t group_floats = (size_t)((Mg + SC_MR - 1) / SC_MR) * SC_MR * K;
    float *ws = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    const float *scale = epilogue ? epilogue->scale : NULL;
    const float *shift = epilogue ? epilogue->shift : NULL;
    const float *res = epilogue ? epilogue->residual : NULL;
    const int relu = epilogue ? epilogue->relu : 0;
    if (Cg == 1 && groups > 1) {
        SC_FN(depthwise)(g, packed, input, output, scale, shift, res, relu, channel_begin, channel_end, pixel_begin, pixel_end);
        return;
    }
    for (int gi = channel_begin / Mg; gi < groups && gi * Mg < channel_end; gi++) {
        const int base = gi * Mg;
        const int m_lo = (channel_begin > base ? channel_begin : base) - base;
        const int m_hi = (channel_end < base + Mg ? channel_end : base + Mg) - base;
        if (m_lo >= m_hi) continue;
        SC_FN(gemm)(g, packed + (size_t)gi * group_floats, input + (size_t)gi * Cg * HW, output + (size_t)base * N,
                    scale ? scale + base : NULL, shift ? shift + base : NULL, res ? res + (size_t)base * N : NULL,
                    relu, ws, K, m_lo, m_hi, pixel_begin, pixel_end);
    }
}
