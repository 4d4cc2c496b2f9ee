// The activations on SC_W lanes (8 or 16), in float: included by sc_epilogue.h once per width, with no
// include guard, and defining sc_exp_above_tiny8, sc_sigmoid8, sc_silu8, sc_gelu8 and sc_activate8n
// (or ...16, ...16n). Constants are scalars, which the vector extensions splat to the width.
// Accurate approximations (measured against sc_activate1's double versions on every 389th float bit
// pattern: at most 2.4e-7 relative for sigmoid and SiLU where the value is a normal float, a few units
// of the last place where it is subnormal; GELU within 1e-6 relative plus 1.92e-7 |v| absolute, see
// sc_gelu), with the same non-finite results. Where e^-v overflows (v < -88.72), sigmoid and SiLU give
// 0 and -0, as PyTorch's float kernels do. Vectors go by pointer and the functions are always inlined,
// so that a translation unit's baseline code never passes a vector in a register.
#define SC_CAT_(a, b) a##b
#define SC_CAT(a, b) SC_CAT_(a, b)
#define SC_V SC_CAT(sc_v, SC_W)
#define SC_VI SC_CAT(SC_CAT(sc_v, SC_W), i)
#define SC_FN(name) SC_CAT(name, SC_W)
#define SC_INLINE static inline __attribute__((always_inline))
// sc_relu1 on every lane: clears the lanes below zero, so a NaN lane stays (one MAXPS with v as second
// operand, which returns v when either is NaN).
#define SC_RELU(v) ((SC_V)((SC_VI)(v) & ~((v) < 0.0f)))
// MINPS: the lanes of a below b, of b elsewhere (b where either is NaN).
#define SC_MIN(a, b) SC_SELECT((a) < (b), a, b)

// e^x where only results from 2^-125 up matter (1 + e^x in sigmoid and SiLU), after Cephes' expf:
// x = n ln 2 + r with n an integer (ln 2 in two parts, so that n ln 2 is subtracted exactly),
// e^r = 1 + r + r^2 p(r), p of degree 3 fitted to e^r on |r| <= ln 2 / 2 (1.1e-7 relative, 1.7e-7 in
// float: a result good to 1e-6 needs no more), x clamped to [-86, 89] (beyond -86 the sum is 1 either
// way; comparisons are false for NaN, which goes through), and 2^n as one factor 2^(n - 1) times 2 (n
// reaches 128 just below where e^x overflows); n read from the bits of the rounding sum rather than
// converted (converting NaN is undefined behaviour). 17 operations, where Cephes' degree-5 polynomial
// and two factors took 30, which made SiLU the larger part of EfficientNet's depthwise steps.
SC_INLINE void SC_FN(sc_exp_above_tiny)(SC_V *v) {
    SC_V x = *v;
    x = SC_SELECT(x > 89.0f, (SC_V){} + 89.0f, x);
    x = SC_SELECT(x < -86.0f, (SC_V){} - 86.0f, x);
    const SC_V magic = (SC_V){} + 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const SC_V rounded = x * 1.44269504088896341f + magic;
    const SC_V n = rounded - magic;
    const SC_V r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
    SC_V p = (SC_V){} + 8.3125103838e-3f;
    p = p * r + 4.1890345997e-2f;
    p = p * r + 1.6667115335e-1f;
    p = p * r + 4.9999230178e-1f;
    p = p * (r * r) + r + 1.0f;
    const SC_VI k = (SC_VI)rounded - (SC_VI)magic;
    *v = p * (SC_V)((k + 126) << 23) * 2.0f;
}

SC_INLINE void SC_FN(sc_sigmoid)(SC_V *v) {
    SC_V e = -*v;
    SC_FN(sc_exp_above_tiny)(&e);
    *v = 1.0f / (1.0f + e);
}

// v / (1 + e^-v): -inf / inf is NaN, as in PyTorch; v / inf is -0 far left.
SC_INLINE void SC_FN(sc_silu)(SC_V *v) {
    SC_V e = -*v;
    SC_FN(sc_exp_above_tiny)(&e);
    *v = *v / (1.0f + e);
}

// v / 2 * (1 + erf(v / sqrt(2))), PyTorch's formula, as v / 2 + E / 2 with E = v erf(v / sqrt(2)) =
// |v| erf(|v| / sqrt(2)), an even function: E = u P(u) / Q(u) with u = v^2, a rational fitted to erf
// on |v| / sqrt(2) <= 3.92 (to 4.4e-8 absolute in exact arithmetic; a few units of 6e-8 in float),
// capped at |v| (erf <= 1; beyond 3.92 erf rounds to 1 in float, and the rational grows past |v|).
// So no lane needs |v| clamped, a sign put back or a select: 17 operations a vector, where erf with
// its sign restored took 25 (GELU after every ConvNeXt expansion is its largest cost beside the
// multiply-adds; the README's benchmarks give the cycles). Both polynomials are divided by Q's leading
// coefficient and P also by 2, so that u P / Q is E / 2 and Q's first step is an add: 12 operations
// need the multiply pipes where 14 did (kernel A/B 0.95 on the activation alone, within noise inside
// the 1x1 convolutions' epilogue).
// Like PyTorch's, the result is accurate to about 1e-7 |v| absolute, not relative, in the left tail,
// where v + E cancels: 4.1e-7 relative down to v = -1, within 1e-6 relative plus 1.92e-7 |v|
// everywhere (every 7th float bit pattern checked, at most 0.85 of that bound; the signed-erf form's
// worst was 1.7e-7 |v|), and 0 from v = -5.62 on, where |GELU| < 1.1e-7. Where u overflows, P and Q
// are infinite and u P / Q is NaN, and MINPS returns its second operand |v| / 2: v = inf gives inf,
// v = -inf gives -inf + inf = NaN, as in PyTorch, and NaN passes.
SC_INLINE void SC_FN(sc_gelu)(SC_V *v) {
    const SC_V x = *v, u = x * x, h = 0.5f * x;
    SC_V p = (SC_V){} + 1.719932811e-06f;
    p = p * u + -3.443272726e-04f;
    p = p * u + 5.143902078e-02f;
    p = p * u + 2.743039131e+00f;
    p = p * u + 7.099161530e+01f;
    p = p * u + 5.693439941e+02f;
    p = p * u + 6.234730469e+03f;
    SC_V q = u + 2.908105659e+01f;
    q = q * u + 4.592784119e+02f;
    q = q * u + 4.031791016e+03f;
    q = q * u + 1.562815723e+04f;
    const SC_V a = (SC_V)((SC_VI)h & 0x7fffffff);
    const SC_V r = u * p / q, e = SC_MIN(r, a);
    *v = e + h;
}

// The activation on n vectors (n a constant where inlined): one switch, then a loop over the vectors,
// so that the vectors' independent chains interleave (one vector at a time, GELU's chain of dependent
// operations left the FMA pipes idle: 50 cycles per vector, against 22 for four).
SC_INLINE void SC_CAT(SC_FN(sc_activate), n)(int act, int n, SC_V *v) {
    const SC_V zero = (SC_V){}, six = (SC_V){} + 6.0f;
    switch (act) {
    case SC_ACT_RELU:
        for (int i = 0; i < n; i++) v[i] = SC_RELU(v[i]);
        break;
    case SC_ACT_RELU6:
        for (int i = 0; i < n; i++) {
            const SC_V r = SC_RELU(v[i]);
            v[i] = SC_SELECT(r > six, six, r);
        }
        break;
    case SC_ACT_SILU:
        for (int i = 0; i < n; i++) SC_FN(sc_silu)(&v[i]);
        break;
    case SC_ACT_HARDSWISH:
        for (int i = 0; i < n; i++) {
            SC_V t = v[i] + 3.0f;
            t = SC_SELECT(t < zero, zero, t);
            t = SC_SELECT(t > six, six, t);
            v[i] = v[i] * t / six;
        }
        break;
    case SC_ACT_GELU:
        for (int i = 0; i < n; i++) SC_FN(sc_gelu)(&v[i]);
        break;
    case SC_ACT_SIGMOID:
        for (int i = 0; i < n; i++) SC_FN(sc_sigmoid)(&v[i]);
        break;
    default: break;
    }
}

#undef SC_CAT_
#undef SC_CAT
#undef SC_V
#undef SC_VI
#undef SC_FN
#undef SC_INLINE
#undef SC_RELU
#undef SC_MIN
