/* bench_onnx_train.c: training steps of an imported ONNX model (train --model FILE.onnx's inner loop): a
 * training-mode forward of a batch, the mean cross-entropy, cn_net_backward and a plain SGD update, on the
 * inputs and labels that bench/run_onnx_train.sh also gives PyTorch.
 *
 * usage: bench_onnx_train MODEL.onnx INPUTS.f32 LABELS.i32 BATCH STEPS THREADS
 *   Prints one JSON line: {"step_s": best seconds per step over STEPS timed steps after one warm-up step,
 *   "loss0": the first step's loss}. */
#include <math.h>
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
    if (argc != 7) {
        fprintf(stderr, "usage: bench_onnx_train MODEL.onnx INPUTS.f32 LABELS.i32 BATCH STEPS THREADS\n");
        return 2;
    }
    const int B = atoi(argv[4]), steps = atoi(argv[5]);
    cn_set_threads(atoi(argv[6]));
    cn_error err = {0};
    cn_net *net = NULL;
    if (B < 1 || steps < 1 || cn_net_from_onnx(&net, argv[1], NULL, &err) || cn_net_trainable(net, &err)) {
        fprintf(stderr, "bench_onnx_train: %s\n", err.msg[0] ? err.msg : "bad arguments");
        return 1;
    }
    const size_t nin = (size_t)B * cn_net_in_size(net);
    const int classes = cn_net_out_size(net);
    float *raw = malloc(nin * sizeof *raw);
    cn_real *x = malloc(nin * sizeof *x), *dlogits = malloc((size_t)B * classes * sizeof *dlogits);
    int32_t *y = malloc((size_t)B * sizeof *y);
    FILE *fx = fopen(argv[2], "rb"), *fy = fopen(argv[3], "rb");
    int ok = raw && x && dlogits && y && fx && fy && fread(raw, sizeof *raw, nin, fx) == nin &&
             fread(y, sizeof *y, (size_t)B, fy) == (size_t)B;
    if (fx) fclose(fx);
    if (fy) fclose(fy);
    for (size_t i = 0; ok && i < nin; i++) x[i] = raw[i];
    ok = ok && cn_net_reserve(net, B, 1) == CN_OK;
    double best = INFINITY, loss0 = NAN;
    cn_real *p = cn_net_params(net);
    const cn_real *g = cn_net_grads(net);
    const size_t np = cn_net_param_count(net);
    for (int s = 0; ok && s <= steps; s++) {
        double t0 = now();
        ok = cn_net_forward(net, x, B, 1) == CN_OK;
        double loss = ok ? cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(net), y, B, classes, dlogits, NULL) : NAN;
        cn_net_zero_grad(net);
        ok = ok && cn_net_backward(net, dlogits, NULL, B) == CN_OK;
        for (size_t i = 0; ok && i < np; i++) p[i] -= (cn_real)0.01 * g[i];
        double t = now() - t0;
        if (s == 0) loss0 = loss;
        else if (t < best) best = t;
    }
    if (!ok) {
        cn_net_status(net, &err);
        fprintf(stderr, "bench_onnx_train: a step failed: %s\n", err.msg);
        return 1;
    }
    printf("{\"step_s\": %.6f, \"loss0\": %.6f}\n", best, loss0);
    free(raw);
    free(x);
    free(dlogits);
    free(y);
    cn_net_free(net);
    return 0;
}
