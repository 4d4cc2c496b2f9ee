// Two builds of sharesc's kernels, side by side in one process: for each convolution shape of a
// shapes file, both libraries pack the same weights and convolve the same input, alternating A and B
// on every repetition (so a slow phase of the machine hits both alike), and the fastest run of each
// is kept. Prints both times, their GFLOP/s (direct multiply-adds), the ratio B/A, and MISMATCH when
// the outputs differ by more than 1e-4 relative. Each library runs a shape as sharesc's executor
// would: by Winograd where the library has it and it applies, else by the indirect GEMM.
//
// Usage: kernel_ab A.so B.so SHAPES REPS   (built and run by bench/kernel-ab.sh)
// A shapes line: count in_channels height width out_channels kernel stride pad residual(0/1);
// `count` weights the shape in the total (how many layers of the network have it); '#' starts a
// comment. With KERNEL_AB_EVICT=1 in the environment, 64 MiB are written between runs, so every run
// starts with cold caches.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "sharesc_kernels.h"

typedef struct {
    size_t (*packed_size)(const sc_conv_geometry *);
    void (*pack)(const sc_conv_geometry *, const float *, float *);
    size_t (*workspace_size)(const sc_conv_geometry *);
    int (*panels)(const sc_conv_geometry *);
    void (*conv)(const sc_conv_geometry *, const float *, const float *, float *, const sc_epilogue *, float *, long, long, int, int);
    int (*force_level)(int);
    void *(*alloc)(size_t);
    void (*release)(void *);
    int (*supports)(const sc_conv_geometry *);
    // Winograd.
    long (*winograd_tiles)(const sc_conv_geometry *);
    size_t (*winograd_packed_size)(const sc_conv_geometry *);
    int (*winograd_pack)(const sc_conv_geometry *, const float *, float *);
    size_t (*winograd_workspace_size)(const sc_conv_geometry *);
    void (*winograd_conv)(const sc_conv_geometry *, const float *, const float *, float *, const sc_epilogue *, float *, long, long, int, int);
} kernels;

static void *symbol(void *library, const char *path, const char *name, int required) {
    return bench_symbol("kernel_ab", library, path, name, required);
}

static kernels load(const char *path) {
    void *library = bench_open("kernel_ab", path);
    kernels k;
    k.packed_size = symbol(library, path, "sc_conv_nhwc_packed_size", 1);
    k.pack = symbol(library, path, "sc_conv_nhwc_pack", 1);
    k.workspace_size = symbol(library, path, "sc_conv_nhwc_workspace_size", 1);
    k.panels = symbol(library, path, "sc_conv_nhwc_panels", 1);
    k.conv = symbol(library, path, "sc_conv_nhwc", 1);
    k.force_level = symbol(library, path, "sc_force_level", 1);
    k.alloc = symbol(library, path, "sc_alloc", 1);
    k.release = symbol(library, path, "sc_free", 1);
    k.supports = symbol(library, path, "sc_conv_supports", 1);
    k.winograd_tiles = symbol(library, path, "sc_winograd_tiles", 1);
    k.winograd_packed_size = symbol(library, path, "sc_winograd_packed_size", 1);
    k.winograd_pack = symbol(library, path, "sc_winograd_pack", 1);
    k.winograd_workspace_size = symbol(library, path, "sc_winograd_workspace_size", 1);
    k.winograd_conv = symbol(library, path, "sc_winograd_conv", 1);
    return k;
}

// One library's convolution of one shape, set up once and run many times.
typedef struct {
    const kernels *k;
    int winograd;
    float *packed, *output, *workspace;
    long rows;
    int panels;
} prepared;

static prepared prepare(const kernels *k, const sc_conv_geometry *g, const float *weights, size_t outputs) {
    const int winograd = g->algorithm == SC_CONV_WINOGRAD_F2 || g->algorithm == SC_CONV_WINOGRAD_F4;
    prepared p = {k, winograd, NULL, NULL, NULL, 0, k->panels(g)};
    if (p.winograd) {
        p.packed = k->alloc(k->winograd_packed_size(g) * sizeof(float));
        if (!p.packed || !k->winograd_pack(g, weights, p.packed)) exit(2);
        p.workspace = k->alloc(k->winograd_workspace_size(g) * sizeof(float) + 64);
        p.rows = k->winograd_tiles(g);
    } else {
        p.packed = k->alloc(k->packed_size(g) * sizeof(float));
        if (!p.packed) exit(2);
        k->pack(g, weights, p.packed);
        p.workspace = k->alloc(k->workspace_size(g) * sizeof(float) + 64);
        p.rows = (long)g->out_height * g->out_width;
    }
    p.output = k->alloc(outputs * sizeof(float));
    if (!p.workspace || !p.output) exit(2);
    return p;
}

// The algorithm named in a shapes file's last column (as `sharesc compile --emit plan` names it).
static int algorithm(const char *name) {
    static const char *names[] = {"igemm", "gemm-1x1", "depthwise", "winograd-f2x2", "winograd-f4x4", "grouped"};
    for (int i = 0; i < 6; i++)
        if (strcmp(name, names[i]) == 0) return i;  // SC_CONV_IGEMM ... SC_CONV_GROUPED, in order
    return -1;
}

static double run(const prepared *p, const sc_conv_geometry *g, const float *input, const sc_epilogue *e) {
    const double start = bench_now();
    (p->winograd ? p->k->winograd_conv : p->k->conv)(g, p->packed, input, p->output, e, p->workspace, 0, p->rows, 0, p->panels);
    return bench_now() - start;
}

// Uniform in [-0.5, 0.5), from a fixed seed.
static float next_value(unsigned long *state) {
    *state = *state * 6364136223846793005UL + 1442695040888963407UL;
    return (float)((*state >> 40) & 0xFFFF) / 65536.0f - 0.5f;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: kernel_ab A.so B.so SHAPES REPS\n");
        return 1;
    }
    const kernels lib[2] = {load(argv[1]), load(argv[2])};
    // KERNEL_AB_LEVEL=N forces both builds to instruction-set level N (SC_LEVEL_*: 0 portable, 1 AVX2,
    // 2 AVX-512), or A's to N and B's to M with N,M: two levels of one build with `HEAD HEAD`.
    const char *level_flag = getenv("KERNEL_AB_LEVEL");
    if (level_flag) {
        int levels[2];
        const int given = sscanf(level_flag, "%d,%d", &levels[0], &levels[1]);
        if (given < 1) {
            fprintf(stderr, "kernel_ab: KERNEL_AB_LEVEL is N or N,M, not %s\n", level_flag);
            return 1;
        }
        if (given == 1) levels[1] = levels[0];
        for (int i = 0; i < 2; i++) {
            const int got = lib[i].force_level(levels[i]);
            if (got != levels[i])
                fprintf(stderr, "kernel_ab: this CPU lacks level %d; %s runs at level %d\n", levels[i], argv[1 + i], got);
        }
    }
    FILE *shapes = fopen(argv[3], "r");
    const int reps = atoi(argv[4]);
    if (!shapes || reps < 1) {
        fprintf(stderr, "kernel_ab: cannot read %s, or REPS < 1\n", argv[3]);
        return 1;
    }
    const char *evict_flag = getenv("KERNEL_AB_EVICT");
    // The epilogue's activation (SC_ACT_*; ReLU unless KERNEL_AB_ACT says otherwise: 3 SiLU, 5 GELU).
    const int activation = getenv("KERNEL_AB_ACT") ? atoi(getenv("KERNEL_AB_ACT")) : 1;
    const int evict = evict_flag && strcmp(evict_flag, "1") == 0;
    const size_t evict_bytes = 64u << 20;
    char *junk = evict ? malloc(evict_bytes) : NULL;
    double total[2] = {0, 0};
    unsigned long state = 1;
    char line[512];
    while (fgets(line, sizeof line, shapes)) {
        int count, c, h, w, m, k, s, pad, residual, groups = 0;
        char name[32] = "igemm";
        if (line[0] == '#' || sscanf(line, "%d %d %d %d %d %d %d %d %d %31s %d", &count, &c, &h, &w, &m, &k, &s, &pad,
                                     &residual, name, &groups) < 9)
            continue;
        // Unless the line gives the groups, a depthwise convolution has one input channel per group.
        if (groups < 1) groups = algorithm(name) == SC_CONV_DEPTHWISE ? c : 1;
        const sc_conv_geometry g = {c, h, w, m, (h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1, k, s, pad, groups,
                                    algorithm(name)};
        if (g.algorithm < 0 || !lib[0].supports(&g) || !lib[1].supports(&g)) {
            fprintf(stderr, "kernel_ab: %s cannot run %s", name, line);
            return 1;
        }
        const size_t inputs = (size_t)c * h * w, outputs = (size_t)m * g.out_height * g.out_width, weight_count = (size_t)m * (c / groups) * k * k;
        float *weights = malloc(weight_count * sizeof(float)), *input = lib[0].alloc(inputs * sizeof(float));
        float *residual_values = lib[0].alloc(outputs * sizeof(float)), *scale = malloc(m * sizeof(float)), *shift = malloc(m * sizeof(float));
        if (!weights || !input || !residual_values || !scale || !shift) return 2;
        for (size_t i = 0; i < weight_count; i++) weights[i] = 0.1f * next_value(&state);
        for (size_t i = 0; i < inputs; i++) input[i] = next_value(&state);
        for (size_t i = 0; i < outputs; i++) residual_values[i] = next_value(&state);
        for (int i = 0; i < m; i++) scale[i] = 1.0f + next_value(&state), shift[i] = next_value(&state);
        const sc_epilogue e = {scale, shift, residual ? residual_values : NULL, activation, NULL, NULL, NULL, 0};
        prepared p[2] = {prepare(&lib[0], &g, weights, outputs), prepare(&lib[1], &g, weights, outputs)};
        double best[2] = {1e9, 1e9};
        for (int r = 0; r < reps; r++)
            for (int i = 0; i < 2; i++) {
                const int v = r % 2 ? 1 - i : i;  // A first on even repetitions, B first on odd ones
                if (evict) memset(junk, r + i, evict_bytes);
                const double t = run(&p[v], &g, input, &e);
                if (t < best[v]) best[v] = t;
            }
        double worst = 0;
        for (size_t i = 0; i < outputs; i++) {
            const double a = p[0].output[i], b = p[1].output[i], scale_of = a < 0 ? (a < -1 ? -a : 1) : (a > 1 ? a : 1);
            const double d = (a > b ? a - b : b - a) / scale_of;
            if (d > worst) worst = d;
        }
        const double flops = 2.0 * outputs * (c / groups) * k * k;
        printf("%2d x %4d x %3d x %3d -> %4d  k%d s%d%s%s  A %8.3f ms %6.1f GFLOP/s  B %8.3f ms %6.1f GFLOP/s  B/A %.3f%s\n", count, c,
               h, w, m, k, s, residual ? " +res" : "     ", p[1].winograd ? " wino" : "     ", best[0] * 1e3,
               flops / best[0] / 1e9, best[1] * 1e3, flops / best[1] / 1e9, best[1] / best[0], worst > 1e-4 ? "  MISMATCH" : "");
        total[0] += count * best[0];
        total[1] += count * best[1];
        for (int v = 0; v < 2; v++) {
            lib[v].release(p[v].packed);
            lib[v].release(p[v].output);
            lib[v].release(p[v].workspace);
        }
        lib[0].release(input);
        lib[0].release(residual_values);
        free(weights);
        free(scale);
        free(shift);
    }
    printf("total (weighted by count): A %.2f ms  B %.2f ms  B/A %.3f\n", total[0] * 1e3, total[1] * 1e3, total[1] / total[0]);
    return 0;
}
