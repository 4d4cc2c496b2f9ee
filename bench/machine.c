// What a machine gives the kernels, to name beside any figure measured on it: float32 FMA peak per
// core (alone, and on every CPU at once), and what a thread pays to use what another core wrote (a
// cache line's round trip, and reading a buffer the other core has just written). Built and run by
// bench/machine.sh; x86-64 with AVX2 and FMA.
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

// Twelve independent FMA chains, as many as the micro-kernel's accumulators: enough to cover the
// FMA latency on every x86 core, so the loop runs at the FMA units' throughput. Best of five runs.
static double fma_gflops(void) {
    __m256 acc[12];
    const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-8f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    const long steps = 50000000;
    double best = 0;
    for (int run = 0; run < 5; run++) {
        const double t = bench_now();
        for (long i = 0; i < steps; i++) {
#define STEP(j) acc[j] = _mm256_fmadd_ps(acc[j], b, c);
            STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
            // Keeps the chains alive without storing them (an input operand: they stay in registers).
            __asm__ volatile("" ::"x"(acc[0]), "x"(acc[1]), "x"(acc[2]), "x"(acc[3]), "x"(acc[4]), "x"(acc[5]), "x"(acc[6]),
                             "x"(acc[7]), "x"(acc[8]), "x"(acc[9]), "x"(acc[10]), "x"(acc[11]));
        }
        const double gflops = steps * 12.0 * 16 / (bench_now() - t) * 1e-9;
        if (gflops > best) best = gflops;
    }
    return best;
}

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
    printf("FMA peak, one core alone: %.1f GFLOP/s\n", fma_gflops());
    peak_job jobs[64];
    pthread_t threads[64];
    const int n = cpus < 64 ? cpus : 64;
    for (int i = 0; i < n; i++) {
        jobs[i] = (peak_job){i, 0};
        pthread_create(&threads[i], NULL, peak_thread, &jobs[i]);
    }
    printf("FMA peak, %d cores at once:", n);
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
