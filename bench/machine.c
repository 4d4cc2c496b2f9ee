// What a machine gives the kernels, to name beside any figure measured on it: float32 FMA peak per
// core (alone, and on every CPU at once), and what a thread pays to use what another core wrote (a
// cache line's round trip, and reading a buffer the other core has just written). Built and run by
// bench/machine.sh; x86-64 with AVX2 and FMA (and AVX-512 where the CPU has it).
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>
#include "bench.h"

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// Twelve independent FMA chains, as many as the micro-kernels' accumulators: enough to cover the
// FMA latency on every x86 core, so the loop runs at the FMA units' throughput. Best of five runs.
// Once with ymm registers (AVX2) and, where the CPU has it, with zmm (AVX-512: twice the lanes,
// which some cores run as two halves, Zen 4, and others on two 512-bit units, Ice Lake's Xeons).
#define SC_FMA_PEAK(name, isa, vector, set1, fmadd, constraint, lanes)                                                 \
    __attribute__((target(isa))) static double name(void) {                                                            \
        vector acc[12];                                                                                                \
        const vector b = set1(1.0000001f), c = set1(1e-8f);                                                            \
        for (int i = 0; i < 12; i++) acc[i] = set1((float)i);                                                          \
        const long steps = 50000000;                                                                                   \
        double best = 0;                                                                                               \
        for (int run = 0; run < 5; run++) {                                                                            \
            const double t = bench_now();                                                                              \
            for (long i = 0; i < steps; i++) {                                                                         \
                /* Written out: a loop over j left the chains in memory (gcc -O2). */                                  \
                acc[0] = fmadd(acc[0], b, c), acc[1] = fmadd(acc[1], b, c), acc[2] = fmadd(acc[2], b, c);              \
                acc[3] = fmadd(acc[3], b, c), acc[4] = fmadd(acc[4], b, c), acc[5] = fmadd(acc[5], b, c);              \
                acc[6] = fmadd(acc[6], b, c), acc[7] = fmadd(acc[7], b, c), acc[8] = fmadd(acc[8], b, c);              \
                acc[9] = fmadd(acc[9], b, c), acc[10] = fmadd(acc[10], b, c), acc[11] = fmadd(acc[11], b, c);          \
                /* Keeps the chains alive without storing them (inputs: they stay in registers). */                    \
                __asm__ volatile("" ::constraint(acc[0]), constraint(acc[1]), constraint(acc[2]), constraint(acc[3]),  \
                                 constraint(acc[4]), constraint(acc[5]), constraint(acc[6]), constraint(acc[7]),       \
                                 constraint(acc[8]), constraint(acc[9]), constraint(acc[10]), constraint(acc[11]));    \
            }                                                                                                          \
            const double gflops = steps * 12.0 * 2 * lanes / (bench_now() - t) * 1e-9;                                 \
            if (gflops > best) best = gflops;                                                                          \
        }                                                                                                              \
        return best;                                                                                                   \
    }
SC_FMA_PEAK(fma_gflops_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, "x", 8)
SC_FMA_PEAK(fma_gflops_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, "v", 16)

static int has_avx512 = 0;
// The peak at the widest level the CPU has (the kernels' own choice: sc_dispatch.c).
static double fma_gflops(void) { return has_avx512 ? fma_gflops_avx512() : fma_gflops_avx2(); }

typedef struct {
    int cpu;
    double gflops;
} peak_job;

static void *peak_thread(void *argument) {
    peak_job *job = argument;
    pin(job->cpu);
    job->gflops = fma_gflops();
    return NULL;
}

// The handshake of the cross-core measurements: each side waits for the other's number.
static _Atomic long turn __attribute__((aligned(64)));
enum { ROUND_TRIPS = 200000, TRANSFERS = 20 };
static float *shared;
static long shared_floats;

static void wait_for(long value) {
    while (atomic_load_explicit(&turn, memory_order_acquire) != value) _mm_pause();
}

static void *peer(void *argument) {
    pin(*(int *)argument);
    for (long i = 0; i < ROUND_TRIPS; i++) {
        wait_for(2 * i + 1);
        atomic_store_explicit(&turn, 2 * i + 2, memory_order_release);
    }
    for (long r = 0; r < TRANSFERS; r++) {  // writes the buffer anew, then hands it over
        wait_for(2 * ROUND_TRIPS + 2 * r + 1);
        for (long i = 0; i < shared_floats; i++) shared[i] = (float)(r + i);
        atomic_store_explicit(&turn, 2 * ROUND_TRIPS + 2 * r + 2, memory_order_release);
    }
    return NULL;
}

// Reads one float per cache line of the buffer; returns the seconds taken.
static double read_lines(float *sum) {
    const double t = bench_now();
    float s = 0;
    for (long i = 0; i < shared_floats; i += 16) s += shared[i];
    *sum += s;
    return bench_now() - t;
}

int main(int argc, char **argv) {
    const int cpus = argc > 1 ? atoi(argv[1]) : 2;
    const long kib = argc > 2 ? atol(argv[2]) : 1024;
    pin(0);
    __builtin_cpu_init();
    has_avx512 = __builtin_cpu_supports("avx512f");
    if (has_avx512) printf("FMA peak, one core alone, AVX2 (ymm): %.1f GFLOP/s\n", fma_gflops_avx2());
    printf("FMA peak, one core alone%s: %.1f GFLOP/s\n", has_avx512 ? ", AVX-512 (zmm)" : "", fma_gflops());
    peak_job jobs[64];
    pthread_t threads[64];
    const int n = cpus < 64 ? cpus : 64;
    for (int i = 0; i < n; i++) {
        jobs[i] = (peak_job){i, 0};
        pthread_create(&threads[i], NULL, peak_thread, &jobs[i]);
    }
    printf("FMA peak, %d cores at once%s:", n, has_avx512 ? ", AVX-512 (zmm)" : "");
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        printf(" %.1f", jobs[i].gflops);
    }
    printf(" GFLOP/s\n");
    if (n < 2) return 0;

    shared_floats = kib * 1024 / 4;
    shared = aligned_alloc(64, (size_t)shared_floats * 4);
    if (!shared) return 1;
    memset(shared, 0, (size_t)shared_floats * 4);
    int other = 1;
    pthread_t t;
    atomic_store(&turn, 0);
    pthread_create(&t, NULL, peer, &other);
    const double start = bench_now();
    for (long i = 0; i < ROUND_TRIPS; i++) {
        atomic_store_explicit(&turn, 2 * i + 1, memory_order_release);
        wait_for(2 * i + 2);
    }
    printf("cache line round trip between CPUs 0 and 1: %.0f ns\n", (bench_now() - start) / ROUND_TRIPS * 1e9);
    double remote = 1e9, local = 1e9;
    float sum = 0;
    for (long r = 0; r < TRANSFERS; r++) {
        atomic_store_explicit(&turn, 2 * ROUND_TRIPS + 2 * r + 1, memory_order_release);
        wait_for(2 * ROUND_TRIPS + 2 * r + 2);
        const double a = read_lines(&sum), b = read_lines(&sum);
        if (a < remote) remote = a;
        if (b < local) local = b;
    }
    pthread_join(t, NULL);
    printf("reading %ld KiB that CPU 1 has just written: %.1f GB/s; reading it again: %.1f GB/s%s\n", kib,
           kib * 1024 / remote * 1e-9, kib * 1024 / local * 1e-9, sum == -1 ? " " : "");
    free(shared);
    return 0;
}
