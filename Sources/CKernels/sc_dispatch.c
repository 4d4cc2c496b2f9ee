// Run-time choice of the instruction-set level.
#include "sc_internal.h"

static int sc_best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SC_LEVEL_AVX2;
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
