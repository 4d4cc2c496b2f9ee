// What the C harnesses under bench/ share: a monotonic clock, and loading a kernel library built by
// bench/kernel-ab.sh with its symbols, exiting with the harness's name on failure.
#ifndef SC_BENCH_H
#define SC_BENCH_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

// Seconds on the monotonic clock.
static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static inline void *bench_open(const char *tool, const char *path) {
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        fprintf(stderr, "%s: %s\n", tool, dlerror());
        exit(1);
    }
    return library;
}

// The address of `name` in `library` (loaded from `path`); NULL if absent and not `required`.
static inline void *bench_symbol(const char *tool, void *library, const char *path, const char *name, int required) {
    void *address = dlsym(library, name);
    if (!address && required) {
        fprintf(stderr, "%s: %s has no %s\n", tool, path, name);
        exit(1);
    }
    return address;
}

#endif
