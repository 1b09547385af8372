/* bench_python.c: the C side of bench/python_overhead.py, which times the same calls through `import critnet`:
 * cn_predict and cn_measure on a checkpoint and raw float32 inputs, wall clock, best of REPS after one untimed
 * call, on one thread, wall clock and the process's CPU time (which a loaded machine disturbs less). Prints
 * {"predict": s, "measure": s, "predict_cpu": s, "measure_cpu": s} for the script to set beside its own times.
 * usage: bench_python MODEL.cnm X.f32 N REPS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "critnet.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

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
    /* wall and CPU seconds, best of the reps: predict, measure */
    double best[2][2] = {{1e30, 1e30}, {1e30, 1e30}};
    for (int r = 0; r <= reps; r++) {
        double t0 = now(), c0 = cpu();
        if (cn_predict(ck.net, &d, 500, 0, y, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        double t1 = now(), c1 = cpu();
        cn_measure_result res;
        if (cn_measure(ck.net, x, n, &cfg, &res, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        double t2 = now(), c2 = cpu();
        cn_measure_result_free(&res);
        if (r == 0) continue; /* untimed: first touches of the buffers */
        double t[2][2] = {{t1 - t0, c1 - c0}, {t2 - t1, c2 - c1}};
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                if (t[i][j] < best[i][j]) best[i][j] = t[i][j];
    }
    printf("{\"predict\": %.9f, \"measure\": %.9f, \"predict_cpu\": %.9f, \"measure_cpu\": %.9f}\n", best[0][0],
           best[1][0], best[0][1], best[1][1]);
    free(x);
    free(y);
    cn_checkpoint_free(&ck);
    return 0;
}
