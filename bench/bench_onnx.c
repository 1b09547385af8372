/* bench_onnx.c: times critnet on an imported ONNX model, torchvision's resnet18 at 224x224 (issue 7: forward and
 * lambda_0 within 2x of PyTorch's time for the same work, in the same run). The problem (resnet18.onnx, the
 * inputs x.f32 and the initial tangent q0.f32) is written by `bench/torch_onnx.py prepare`, so that PyTorch's
 * timings in bench/torch_onnx.py are of the same weights, inputs and tangent; run_onnx.sh runs both.
 *
 * What is timed (wall clock, best of --reps after --warmup untimed calls, median kept beside it; the process's CPU
 * time beside it, best of the same reps), at each cn_set_threads count:
 *   forward          cn_net_forward of all N inputs as one batch, eval mode (cn_net_reserve(net, N, 1) first,
 *                    outside the timing, as a caller reserves once)
 *   forward+lambda0  one cn_measure call on the N inputs with probes = 0 (no sigma), spectrum = 1, cfg.q0 = the
 *                    given unit vector, batch = N: the forward pass plus lambda_0, PyTorch's "forward+lambda0"
 * cn_measure returns only the mean lambda_0 over inputs; the agreement check needs each input's, so each input
 * is also measured alone (n = 1), once, outside the timed part. Since the network runs in eval mode an input's
 * lambda_0 does not depend on its batch, which the mean of those values against the batched mean confirms.
 * The per-block jvp times of one pass (cn_net_layer_jvp, one tangent) say which blocks the time goes to. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/blas.h"
#include "critnet.h"

#define MAX_THREADS 8
#define MAX_REPS 64

char *openblas_get_config(void); /* OpenBLAS extension */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process (all threads): at one thread a measure of the work that a loaded machine
 * disturbs far less than the wall clock, since time spent waiting for a core is not counted */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_REPS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* peak resident memory of this process so far, kB (VmHWM) */
static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

/* ---------------------------------------------------------------- options */

typedef struct {
    const char *dir, *json;
    int inputs, reps, warmup, per_input, threads[MAX_THREADS], nthreads;
} options;

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_onnx --dir DIR --inputs N [options]\n"
               "  --dir DIR        resnet18.onnx, x.f32 (N, 3, 224, 224) and q0.f32 from torch_onnx.py prepare\n"
               "  --inputs N       inputs in x.f32\n"
               "  --reps N         timed repetitions per configuration (3)\n"
               "  --warmup N       untimed calls before them (1)\n"
               "  --threads LIST   cn_set_threads values (1,2)\n"
               "  --no-per-input   skip the per-input lambda_0 (the agreement check needs it)\n"
               "  --json PATH      results\n");
}

static int parse_threads(options *o, const char *v)
{
    o->nthreads = 0;
    for (const char *s = v; *s;) {
        char *end;
        long t = strtol(s, &end, 10);
        if (end == s || t < 1 || t > 256 || o->nthreads == MAX_THREADS || (*end && *end != ',')) return -1;
        o->threads[o->nthreads++] = (int)t;
        s = *end == ',' ? end + 1 : end;
    }
    return o->nthreads ? 0 : -1;
}

static int parse(options *o, int argc, char **argv)
{
    *o = (options){.reps = 3, .warmup = 1, .per_input = 1, .threads = {1, 2}, .nthreads = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-per-input")) {
            o->per_input = 0;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!v) return -1;
        if (!strcmp(a, "--dir")) o->dir = v;
        else if (!strcmp(a, "--json")) o->json = v;
        else if (!strcmp(a, "--inputs")) o->inputs = atoi(v);
        else if (!strcmp(a, "--reps")) o->reps = atoi(v);
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v);
        else if (!strcmp(a, "--threads")) {
            if (parse_threads(o, v)) return -1;
        } else return -1;
        i++;
    }
    return o->dir && o->inputs >= 1 && o->reps >= 1 && o->reps <= MAX_REPS && o->warmup >= 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- the problem */

/* n float32 values, little-endian as numpy's "<f4" writes them */
static cn_real *read_f32(const char *dir, const char *name, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    cn_real *v = malloc(n * sizeof *v);
    int ok = f && v;
    for (size_t i = 0; i < n && ok; i++) {
        unsigned char b[4];
        ok = fread(b, 1, 4, f) == 4;
        uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        float x;
        memcpy(&x, &u, 4);
        v[i] = (cn_real)x;
    }
    if (ok && fgetc(f) != EOF) ok = 0; /* a file of another size is another problem */
    if (f) fclose(f);
    if (!ok) {
        fprintf(stderr, "bench_onnx: %s does not hold %zu float32 values\n", path, n);
        free(v);
        return NULL;
    }
    return v;
}

static int measure(cn_net *net, const cn_real *x, int n, const cn_real *q0, cn_measure_result *res)
{
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.probes = 0;   /* sigma is not part of the work compared */
    cfg.spectrum = 1;
    cfg.batch = n;
    cfg.q0 = q0;
    cn_error err = {0};
    int rc = cn_measure(net, x, n, &cfg, res, &err);
    if (rc) fprintf(stderr, "bench_onnx: cn_measure: %s\n", err.msg);
    return rc;
}

static int forward(cn_net *net, const cn_real *x, int n)
{
    cn_net_forward(net, x, n, 0);
    cn_error err = {0};
    int rc = cn_net_status(net, &err);
    if (rc) fprintf(stderr, "bench_onnx: forward: %s\n", err.msg);
    return rc;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    options o;
    if (parse(&o, argc, argv)) {
        usage(stderr);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet18.onnx", o.dir);
    cn_net *net;
    cn_error err = {0};
    double t0 = now();
    if (cn_net_from_onnx(&net, path, NULL, &err)) {
        fprintf(stderr, "bench_onnx: %s\n", err.msg);
        return 1;
    }
    double load_s = now() - t0;
    const int n0 = cn_net_in_size(net), N = o.inputs;
    cn_real *x = read_f32(o.dir, "x.f32", (size_t)N * n0), *q0 = read_f32(o.dir, "q0.f32", (size_t)n0);
    cn_block *blocks;
    int L;
    if (!x || !q0 || cn_net_blocks(net, 0, &blocks, &L)) return 1;
    if (cn_net_reserve(net, N, 1) && cn_net_status(net, &err)) {
        fprintf(stderr, "bench_onnx: reserve: %s\n", err.msg);
        return 1;
    }
    FILE *js = o.json ? fopen(o.json, "w") : NULL;
    if (o.json && !js) {
        fprintf(stderr, "bench_onnx: cannot write %s\n", o.json);
        return 1;
    }
    printf("critnet: resnet18 from %s (loaded in %.2f s), %d blocks, %d inputs (batch %d); seconds per call (best, "
           "median of %d after %d untimed)\n", path, load_s, L, N, N, o.reps, o.warmup);
    if (js) {
        fprintf(js, "{\"bench\": \"onnx_resnet18\", \"inputs\": %d, \"reps\": %d, \"warmup\": %d, \"load_s\": %.6f, "
                    "\"openblas\": \"%s\",\n \"blocks\": [", N, o.reps, o.warmup, load_s, openblas_get_config());
        for (int l = 0; l < L; l++)
            fprintf(js, "%s{\"name\": \"%s\", \"n_in\": %d, \"n_out\": %d}", l ? ", " : "", blocks[l].name,
                    blocks[l].n_in, blocks[l].n_out);
        fprintf(js, "],\n \"configs\": [");
    }
    int first = 1;
    cn_measure_result res;
    for (int ti = 0; ti < o.nthreads; ti++) {
        cn_set_threads(o.threads[ti]);
        for (int what = 0; what < 2; what++) {
            double t[MAX_REPS], cpu[MAX_REPS], lam = NAN;
            for (int r = -o.warmup; r < o.reps; r++) { /* r < 0: the warm-up */
                double s = now(), sc = cpu_now();
                if (what == 0) {
                    if (forward(net, x, N)) return 1;
                } else {
                    if (measure(net, x, N, q0, &res)) return 1;
                    lam = res.lambda_max;
                    cn_measure_result_free(&res);
                }
                if (r >= 0) {
                    t[r] = now() - s;
                    cpu[r] = cpu_now() - sc;
                }
            }
            const char *name = what ? "forward+lambda0" : "forward";
            printf("  threads %d  %-16s best %8.3f s  median %8.3f s  cpu %8.3f s", o.threads[ti], name,
                   min_of(t, o.reps), median(t, o.reps), min_of(cpu, o.reps));
            if (what) printf("  lambda_0 mean %+.6f", lam);
            printf("\n");
            fflush(stdout);
            if (js) {
                fprintf(js, "%s\n  {\"what\": \"%s\", \"threads\": %d, \"best_s\": %.6f, \"median_s\": %.6f, "
                            "\"times_s\": [", first ? "" : ",", name, o.threads[ti], min_of(t, o.reps),
                        median(t, o.reps));
                for (int r = 0; r < o.reps; r++) fprintf(js, "%s%.6f", r ? ", " : "", t[r]);
                fprintf(js, "], \"cpu_best_s\": %.6f, \"cpu_s\": [", min_of(cpu, o.reps));
                for (int r = 0; r < o.reps; r++) fprintf(js, "%s%.6f", r ? ", " : "", cpu[r]);
                fprintf(js, "]");
                if (what) fprintf(js, ", \"lambda0_mean\": %.9f", lam);
                fprintf(js, "}");
                first = 0;
            }
        }
    }
    if (js) fprintf(js, "\n ]");

    /* Per-block jvp times of one tangent on the stored forward pass, at the last thread count: the share of
     * each block in the lambda_0 half of the work (the forward half is one pass of the same convolutions). */
    size_t widest = (size_t)n0;
    for (int i = 0; i < cn_net_layer_count(net); i++)
        if ((size_t)cn_net_layer_out_size(net, i) > widest) widest = (size_t)cn_net_layer_out_size(net, i);
    cn_real *tx = malloc((size_t)N * widest * sizeof *tx), *ty = malloc((size_t)N * widest * sizeof *ty);
    if (!tx || !ty || forward(net, x, N)) return 1;
    /* touched before the clock starts: the first block would otherwise pay for the fresh pages of both */
    memset(tx, 0, (size_t)N * widest * sizeof *tx);
    memset(ty, 0, (size_t)N * widest * sizeof *ty);
    for (int b = 0; b < N; b++) memcpy(tx + (size_t)b * n0, q0, (size_t)n0 * sizeof *tx);
    printf("  jvp per block (threads %d, %d inputs, one tangent):", o.threads[o.nthreads - 1], N);
    if (js) fprintf(js, ",\n \"jvp_per_block\": {\"threads\": %d, \"seconds\": [", o.threads[o.nthreads - 1]);
    for (int l = 0; l < L; l++) {
        double s = now();
        for (int i = blocks[l].first; i <= blocks[l].last; i++) {
            cn_net_layer_jvp(net, i, tx, ty, N, 1);
            cn_real *tmp = tx;
            tx = ty;
            ty = tmp;
        }
        double dt = now() - s;
        printf(" %.3f", dt);
        if (js) fprintf(js, "%s%.6f", l ? ", " : "", dt);
    }
    printf(" s\n");
    if (js) fprintf(js, "]}");
    free(tx);
    free(ty);

    /* each input alone, for the agreement check: untimed */
    if (o.per_input) {
        cn_set_threads(o.threads[o.nthreads - 1]);
        double sum = 0;
        if (js) fprintf(js, ",\n \"lambda0_per_input\": [");
        printf("  lambda_0 per input:");
        for (int i = 0; i < N; i++) {
            if (measure(net, x + (size_t)i * n0, 1, q0, &res)) return 1;
            printf(" %+.6f", res.lambda_max);
            if (js) fprintf(js, "%s%.9f", i ? ", " : "", res.lambda_max);
            sum += res.lambda_max;
            cn_measure_result_free(&res);
        }
        printf("\n");
        if (js) fprintf(js, "], \"lambda0_per_input_mean\": %.9f", sum / N);
    }
    /* the whole process: the graph keeps every tensor of a batch-N run, and their tangents */
    long hwm = vm_hwm_kb();
    printf("  peak memory (VmHWM) %.0f MiB\n", hwm / 1024.0);
    if (js) {
        fprintf(js, ",\n \"vmhwm_kb\": %ld\n}\n", hwm);
        if (fclose(js)) return 1;
    }
    cn_free(blocks);
    free(x);
    free(q0);
    cn_net_free(net);
    return 0;
}
