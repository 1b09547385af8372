/* test_onnx_sgd.c: one SGD step of an imported ResNet-style network with batch norm, against PyTorch
 * (tests/torch_onnx_sgd.py), in the float build that users train with.
 *
 * From the exported file's weights and batch-norm statistics: a training-mode forward of the reference batch
 * (batch norm on batch statistics) must give torch's logits and mean cross-entropy; after cn_net_backward of
 * that loss and one plain SGD step (theta -= lr * grad), an eval-mode forward (batch norm on the running
 * statistics the training forward moved) must give torch's logits after its step. A wrong share of the
 * gradient anywhere, a wrong batch-norm backward or a wrong running-statistics update changes the last
 * logits by far more than the bound. Bounds: float32 arithmetic against torch's float64 over about 20 layers,
 * |a - b| <= 1e-4 + 1e-3 |b|.
 *
 * Usage: test_onnx_sgd [DIR] (DIR: the output of torch_onnx_sgd.py, made here when absent). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "torch_ref_io.h"

static const ref_format CNONNX1 = {"CNONNX1\0", 1, 8};

static const ref_tensor *find(const ref_case *c, const char *name)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->t[i].name, name) == 0) return &c->t[i];
    CHECK(0, "%s: tensor %s missing from the reference file", c->name, name);
    return NULL;
}

/* the largest |a - b| / (1e-4 + 1e-3 |b|): at most 1 passes */
static double excess(const cn_real *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (1e-4 + 1e-3 * fabs(b[i]));
        if (!(e <= worst)) worst = isfinite(e) ? e : INFINITY;
    }
    return worst;
}

static void run_case(const ref_case *c, const char *dir)
{
    char onnx[128] = "", path[2048];
    double lr = 0;
    if (sscanf(c->text, "onnx %127s lr %lf", onnx, &lr) != 2) {
        CHECK(0, "%s: bad model text '%s'", c->name, c->text);
        return;
    }
    const ref_tensor *x = find(c, "x"), *y = find(c, "y"), *loss = find(c, "loss"), *before = find(c, "logits_train"),
                     *after = find(c, "logits_after");
    if (!x || !y || !loss || !before || !after) return;
    snprintf(path, sizeof path, "%s/%s", dir, onnx);
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_onnx(&net, path, NULL, &err);
    CHECK(rc == CN_OK, "%s: %s", c->name, err.msg);
    if (rc) return;
    const int B = (int)y->n, classes = cn_net_out_size(net);
    const size_t nin = (size_t)B * cn_net_in_size(net), np = cn_net_param_count(net);
    CHECK(cn_net_trainable(net, &err) == CN_OK, "%s: %s", c->name, err.msg);
    CHECK(x->n == nin && before->n == (size_t)B * classes, "%s: reference sizes do not fit the model", c->name);
    /* the convolutions (no biases), the six batch norms' scale and shift, the head; the running statistics
     * are state */
    const size_t conv = 8 * 3 * 9 + 2 * (8 * 8 * 9) + 16 * 8 * 9 + 16 * 16 * 9 + 16 * 8, bn = 8 + 8 + 8 + 16 + 16 + 16;
    CHECK(np == conv + 2 * bn + 16 * 10 + 10, "%s: %zu parameters, expected %zu", c->name, np, conv + 2 * bn + 170);
    CHECK(cn_net_state_count(net) == 2 * bn, "%s: %zu state values, expected %zu", c->name, cn_net_state_count(net),
          2 * bn);
    cn_real *xs = malloc(nin * sizeof *xs), *dlogits = malloc((size_t)B * classes * sizeof *dlogits);
    int32_t *labels = malloc((size_t)B * sizeof *labels);
    if (!xs || !dlogits || !labels) goto done;
    for (size_t i = 0; i < nin; i++) xs[i] = (cn_real)x->v[i];
    for (int i = 0; i < B; i++) labels[i] = (int32_t)y->v[i];
    CHECK_OK(rc = cn_net_reserve(net, B, 1));
    if (rc) goto done;

    CHECK_OK(rc = cn_net_forward(net, xs, B, 1));
    if (rc) goto done;
    double e = excess(cn_net_output(net), before->v, (size_t)B * classes);
    double l = cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(net), labels, B, classes, dlogits, NULL);
    printf("training-mode logits: excess %.3f; loss %.6f (torch %.6f)\n", e, l, loss->v[0]);
    CHECK(e <= 1, "%s: training-mode logits differ from torch's (excess %.3f)", c->name, e);
    CHECK(fabs(l - loss->v[0]) <= 1e-4 + 1e-4 * fabs(loss->v[0]), "%s: loss %.6f, torch %.6f", c->name, l, loss->v[0]);

    cn_net_zero_grad(net);
    rc = cn_net_backward(net, dlogits, NULL, B);
    CHECK(rc == CN_OK, "%s: backward: %s", c->name, (cn_net_pass_error(net, rc, &err), err.msg));
    if (rc) goto done;
    cn_real *params = cn_net_params(net);
    const cn_real *grads = cn_net_grads(net);
    for (size_t i = 0; i < np; i++) params[i] -= (cn_real)lr * grads[i];
    CHECK_OK(rc = cn_net_forward(net, xs, B, 0));
    if (rc) goto done;
    e = excess(cn_net_output(net), after->v, (size_t)B * classes);
    printf("eval-mode logits after one SGD step: excess %.3f\n", e);
    CHECK(e <= 1, "%s: logits after the step differ from torch's (excess %.3f)", c->name, e);
done:
    free(xs);
    free(dlogits);
    free(labels);
    cn_net_free(net);
}

int main(int argc, char **argv)
{
    char dir[1024];
    int own_dir = argc < 2;
    if (own_dir) {
        int rc = ref_make_dir(dir, sizeof dir, "torch_onnx_sgd");
        CHECK(rc == 0, "tests/torch_onnx_sgd.py must run: CI has torch and onnx, a missing reference is a failure");
        if (rc) return check_summary("onnx_sgd");
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    char path[2048];
    snprintf(path, sizeof path, "%s/sgd.ref", dir);
    ref_case c;
    int rc = ref_load(&c, path, &CNONNX1);
    CHECK(rc == 0, "%s: unreadable reference file", path);
    if (!rc) {
        run_case(&c, dir);
        ref_free(&c);
    }
    if (own_dir) ref_remove_dir(dir);
    return check_summary("onnx_sgd");
}
