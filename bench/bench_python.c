/* bench_python.c: the C side of bench/python_overhead.py, which times the same calls through `import critnet`:
 * cn_predict and cn_measure on a checkpoint and raw float32 inputs, wall clock, best of REPS after one untimed
 * call, on one thread. Prints {"predict": s, "measure": s} for the script to set beside its own times.
 * usage: bench_python MODEL.cnm X.f32 N REPS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "critnet.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_python MODEL.cnm X.f32 N REPS\n");
        return 2;
    }
    int n = atoi(argv[3]), reps = atoi(argv[4]);
    cn_error err = {0};
    cn_checkpoint ck;
    if (cn_checkpoint_load(&ck, argv[1], &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    cn_set_threads(1);
    int in = cn_net_in_size(ck.net), out = cn_net_out_size(ck.net);
    float *x = malloc(sizeof *x * (size_t)n * in), *y = malloc(sizeof *y * (size_t)n * out);
    FILE *f = fopen(argv[2], "rb");
    if (!x || !y || !f || fread(x, sizeof *x, (size_t)n * in, f) != (size_t)n * in) {
        fprintf(stderr, "%s: cannot read %d x %d floats\n", argv[2], n, in);
        return 1;
    }
    fclose(f);
    /* the module's defaults: predict in batches of 500, measure as Net.measure() with seed 0 */
    cn_dataset d = {.count = n, .c = in, .h = 1, .w = 1, .x = x};
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.seed = 1;
    double best[2] = {1e30, 1e30};
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        if (cn_predict(ck.net, &d, 500, 0, y, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        double t1 = now();
        cn_measure_result res;
        if (cn_measure(ck.net, x, n, &cfg, &res, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        double t2 = now();
        cn_measure_result_free(&res);
        if (r == 0) continue; /* untimed: first touches of the buffers */
        if (t1 - t0 < best[0]) best[0] = t1 - t0;
        if (t2 - t1 < best[1]) best[1] = t2 - t1;
    }
    printf("{\"predict\": %.9f, \"measure\": %.9f}\n", best[0], best[1]);
    free(x);
    free(y);
    cn_checkpoint_free(&ck);
    return 0;
}
