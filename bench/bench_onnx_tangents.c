/* bench_onnx_tangents.c: K tangents of an imported ONNX model at once against one at a time (issue 13: "the
 * spectrum of an imported model with K = 8 at least 4x faster than K separate passes"). Before the batched
 * jvp, a K-tangent jvp of an imported graph ran its nodes once per tangent; that is what the one-at-a-time
 * side still does (cn_net_jvp with one tangent, K times), in the same process on the same forward.
 *
 * usage: bench_onnx_tangents MODEL.onnx INPUTS.f32 N K REPS
 *   INPUTS.f32: N examples of the model's input, float32 little-endian. Prints one JSON line:
 *   {"batched_s":..., "separate_s":..., "max_rel_diff":...}, the best of REPS timed calls each (after one
 *   untimed warm-up), one thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    if (argc != 6) {
        fprintf(stderr, "usage: bench_onnx_tangents MODEL.onnx INPUTS.f32 N K REPS\n");
        return 2;
    }
    const int N = atoi(argv[3]), K = atoi(argv[4]), reps = atoi(argv[5]);
    cn_error err = {0};
    cn_net *net = NULL;
    if (N < 1 || K < 1 || reps < 1 || cn_net_from_onnx(&net, argv[1], NULL, &err)) {
        fprintf(stderr, "bench_onnx_tangents: %s\n", err.msg[0] ? err.msg : "bad arguments");
        return 1;
    }
    cn_set_threads(1);
    const size_t nin = (size_t)N * cn_net_in_size(net), nout = (size_t)N * cn_net_out_size(net);
    float *raw = malloc(nin * sizeof *raw);
    cn_real *x = malloc(nin * sizeof *x), *tx = malloc((size_t)K * nin * sizeof *tx);
    cn_real *many = malloc((size_t)K * nout * sizeof *many), *one = malloc((size_t)K * nout * sizeof *one);
    FILE *f = fopen(argv[2], "rb");
    int ok = raw && x && tx && many && one && f && fread(raw, sizeof *raw, nin, f) == nin;
    if (f) fclose(f);
    for (size_t i = 0; ok && i < nin; i++) x[i] = raw[i];
    unsigned long long s = 7;
    for (size_t i = 0; ok && i < (size_t)K * nin; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        tx[i] = (cn_real)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    ok = ok && cn_net_reserve(net, N, K) == CN_OK && cn_net_forward(net, x, N, 0) == CN_OK;
    double best_many = INFINITY, best_one = INFINITY;
    for (int r = 0; ok && r <= reps; r++) {
        double t0 = now();
        ok = cn_net_jvp(net, tx, many, N, K) == CN_OK;
        double t1 = now();
        for (int k = 0; ok && k < K; k++) ok = cn_net_jvp(net, tx + (size_t)k * nin, one + (size_t)k * nout, N, 1) == CN_OK;
        double t2 = now();
        if (r > 0 && t1 - t0 < best_many) best_many = t1 - t0;
        if (r > 0 && t2 - t1 < best_one) best_one = t2 - t1;
    }
    double diff = 0, scale = 0;
    for (size_t i = 0; ok && i < (size_t)K * nout; i++) {
        if (fabs((double)many[i] - one[i]) > diff) diff = fabs((double)many[i] - one[i]);
        if (fabs((double)one[i]) > scale) scale = fabs((double)one[i]);
    }
    if (!ok) {
        cn_net_status(net, &err);
        fprintf(stderr, "bench_onnx_tangents: a pass failed: %s\n", err.msg);
        return 1;
    }
    printf("{\"batched_s\": %.6f, \"separate_s\": %.6f, \"max_rel_diff\": %.3e}\n", best_many, best_one,
           scale > 0 ? diff / scale : diff);
    free(raw);
    free(x);
    free(tx);
    free(many);
    free(one);
    cn_net_free(net);
    return 0;
}
