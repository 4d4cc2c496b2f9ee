// Two builds of sharesc's elementwise activations (sc_activation), side by side in one process: for
// each activation, both libraries run it over the same 4096 floats (spread over [-8, 8], where every
// branch of the approximations is taken; 16 KiB in, 16 KiB out, in L1), alternating A and B on every
// repetition, and the fastest run of each is kept. Prints nanoseconds per vector of eight values, the
// ratio B/A, and MISMATCH when the outputs differ by more than 1e-5 relative plus 1e-6 absolute.
//
// Usage: activation_ab A.so B.so REPS   (built and run by `bash bench/kernel-ab.sh A B activations`)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "bench.h"
#include "sharesc_kernels.h"

typedef void (*activation_fn)(const float *, float *, size_t, int);

static activation_fn load(const char *path) {
    return (activation_fn)bench_symbol("activation_ab", bench_open("activation_ab", path), path, "sc_activation", 1);
}

// One pass of 100 calls, in nanoseconds per call.
static double time_calls(activation_fn fn, const float *x, float *y, size_t n, int act) {
    double t0 = bench_now();
    for (int i = 0; i < 100; i++) fn(x, y, n, act);
    return (bench_now() - t0) / 100 * 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: activation_ab A.so B.so REPS\n");
        return 2;
    }
    const activation_fn a = load(argv[1]), b = load(argv[2]);
    const int reps = atoi(argv[3]) > 0 ? atoi(argv[3]) : 20;
    enum { N = 4096 };
    static float x[N], ya[N], yb[N];
    for (int i = 0; i < N; i++) x[i] = -8.0f + 16.0f * (float)((i * 2654435761u) % N) / N;
    const struct { int code; const char *name; } acts[] = {
        {SC_ACT_RELU, "relu"}, {SC_ACT_RELU6, "relu6"}, {SC_ACT_SILU, "silu"},
        {SC_ACT_HARDSWISH, "hardswish"}, {SC_ACT_GELU, "gelu"}, {SC_ACT_SIGMOID, "sigmoid"}};
    printf("fastest of %d alternations, %d values in L1, ns per vector of 8\n", reps, N);
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        double best_a = 1e30, best_b = 1e30;
        for (int r = 0; r < reps; r++) {
            const double ta = time_calls(a, x, ya, N, acts[k].code), tb = time_calls(b, x, yb, N, acts[k].code);
            if (ta < best_a) best_a = ta;
            if (tb < best_b) best_b = tb;
        }
        int mismatch = 0;
        for (int i = 0; i < N; i++) mismatch |= !(fabsf(ya[i] - yb[i]) <= 1e-5f * fabsf(ya[i]) + 1e-6f);
        printf("%-10s A %6.2f ns  B %6.2f ns  B/A %.3f%s\n", acts[k].name, best_a / (N / 8), best_b / (N / 8),
               best_b / best_a, mismatch ? "  MISMATCH" : "");
    }
    return 0;
}
