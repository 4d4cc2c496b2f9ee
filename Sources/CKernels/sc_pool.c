// A persistent pool of worker threads that spin between jobs. An inference runs a few hundred short
// parallel steps back to back; waking a sleeping thread for each costs tens of microseconds in a VM
// (GCD's workers sleep), so workers spin on a generation counter for a while after each job and only
// then block on a condition variable.
#define _GNU_SOURCE  // sched_getaffinity and CPU_COUNT
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include "sharesc_kernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#define SC_PAUSE() _mm_pause()
#else
#define SC_PAUSE() ((void)0)
#endif

// Turns of waiting before a worker sleeps: about a millisecond in all (2000 pauses of some 35 ns, then
// 500 yields of 1-2 microseconds), far longer than the gap between two steps.
#define SC_SPINS 2500
// Turns after which a waiting thread also yields its CPU at each turn. With more threads than CPUs
// (--threads above the cores, or a process confined by taskset or a cgroup), a thread that only
// spins holds the CPU that the thread it waits for needs, for a whole time slice: 2 threads on one
// CPU ran a small network 12 times slower, 64 threads 100 times. Where each thread has a CPU, the
// yield returns at once (in 1-2 microseconds), and steps rarely leave a thread waiting this long.
#define SC_SPINS_BEFORE_YIELD 2000

// One turn of a wait: a pause, and after SC_SPINS_BEFORE_YIELD turns a yield too.
static inline void sc_wait_turn(int spins) {
    SC_PAUSE();
    if (spins >= SC_SPINS_BEFORE_YIELD) sched_yield();
}

struct sc_pool {
    int threads;
    pthread_t *workers;
    sc_task_fn fn;  // the current job, written before `generation` is bumped
    void *context;
    _Atomic unsigned long generation;
    _Atomic int pending;  // workers still running the current job
    _Atomic int sleepers;
    _Atomic int stop;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

typedef struct {
    sc_pool *pool;
    int index;
} sc_worker_start;

static void *sc_worker(void *argument) {
    sc_worker_start start = *(sc_worker_start *)argument;
    free(argument);
    sc_pool *p = start.pool;
    unsigned long seen = 0;
    for (;;) {
        unsigned long now;
        int spins = 0;
        while ((now = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen) {
            if (++spins < SC_SPINS) {
                sc_wait_turn(spins);
                continue;
            }
            // Sleep. The runner bumps `generation` before reading `sleepers` and this thread counts
            // itself before reading `generation` (both sequentially consistent), so a job is never missed.
            pthread_mutex_lock(&p->mutex);
            atomic_fetch_add(&p->sleepers, 1);
            while (atomic_load(&p->generation) == seen) pthread_cond_wait(&p->wake, &p->mutex);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mutex);
            spins = 0;
        }
        seen = now;
        if (atomic_load(&p->stop)) return NULL;
        p->fn(p->context, start.index);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

sc_pool *sc_pool_create(int threads) {
    sc_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads > 1 ? threads : 1;
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->workers = calloc((size_t)p->threads, sizeof(pthread_t));
    for (int i = 1; i < p->threads; i++) {
        sc_worker_start *start = malloc(sizeof *start);
        if (start) *start = (sc_worker_start){p, i};
        if (!p->workers || !start || pthread_create(&p->workers[i], NULL, sc_worker, start) != 0) {
            free(start);
            p->threads = i;  // run with the workers that started
            break;
        }
    }
    return p;
}

int sc_pool_threads(const sc_pool *p) { return p->threads; }

void sc_pool_run(sc_pool *p, sc_task_fn fn, void *context) {
    if (p->threads <= 1) {
        fn(context, 0);
        return;
    }
    p->fn = fn;
    p->context = context;
    atomic_store(&p->pending, p->threads - 1);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    fn(context, 0);
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0;
         spins += spins < SC_SPINS_BEFORE_YIELD)
        sc_wait_turn(spins);
}

void sc_pool_destroy(sc_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->generation, 1);
    pthread_mutex_lock(&p->mutex);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 1; i < p->threads; i++) pthread_join(p->workers[i], NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    free(p->workers);
    free(p);
}

int sc_usable_cpus(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

int sc_claim(int *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }
