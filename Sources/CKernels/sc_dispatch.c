// Run-time choice of the instruction-set level.
#include "sc_internal.h"

static int sc_best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return SC_LEVEL_PORTABLE;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return SC_LEVEL_AVX512;
    return SC_LEVEL_AVX2;
#endif
    return SC_LEVEL_PORTABLE;
}

static int sc_best = -1;     // detected once
static int sc_current = -1;  // in use

int sc_level_internal(void) {
    int level = __atomic_load_n(&sc_current, __ATOMIC_RELAXED);
    if (level >= 0) return level;
    int best = sc_best_level();
    __atomic_store_n(&sc_best, best, __ATOMIC_RELAXED);
    int expected = -1;
    __atomic_compare_exchange_n(&sc_current, &expected, best, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return __atomic_load_n(&sc_current, __ATOMIC_RELAXED);
}

int sc_level(void) { return sc_level_internal(); }

int sc_force_level(int level) {
    sc_level_internal();
    int best = __atomic_load_n(&sc_best, __ATOMIC_RELAXED);
    if (best < 0) best = sc_best_level();
    if (level > best) level = best;
    if (level < SC_LEVEL_PORTABLE) level = SC_LEVEL_PORTABLE;
    __atomic_store_n(&sc_current, level, __ATOMIC_RELAXED);
    return level;
}

int sc_conv_supports(const sc_conv_geometry *g) {
    const int groups = g->groups > 1 ? g->groups : 1;
    const int same_size = g->in_height == g->out_height && g->in_width == g->out_width;
    switch (g->algorithm) {
    case SC_CONV_IGEMM: return 1;
    case SC_CONV_GEMM_1X1: return g->kernel == 1 && g->stride == 1 && g->pad == 0 && same_size;
    case SC_CONV_DEPTHWISE: return groups > 1 && g->in_channels == groups;
    case SC_CONV_GROUPED: {
        const int cg = g->in_channels / groups;
        return groups > 1 && g->in_channels == g->out_channels && cg * groups == g->in_channels && cg >= 2 &&
               cg <= SC_GROUPED_MAX;
    }
    case SC_CONV_WINOGRAD_F2:
    case SC_CONV_WINOGRAD_F4: return g->kernel == 3 && g->stride == 1 && g->pad == 1 && groups == 1 && same_size;
    default: return 0;
    }
}
