/* test_onnx_grad_f64.c: the jvp of imported ONNX models against central differences, in the double build,
 * on the models of tests/onnx_ops_ref.py (every operator of the table occurs in one of them).
 *
 * For each model and a random tangent t at the reference input x (batch 2):
 *   - the whole network: cn_net_jvp against (f(x + h t) - f(x - h t)) / 2h;
 *   - every block: the chained per-layer jvps (cn_net_layer_jvp of layer 0, then 1, ...) against the same
 *     central difference of that layer's output (cn_net_layer_output after forwards at x +- h t), so a
 *     wrong derivative is pinned to the block that holds it; there is no public single-layer forward, so
 *     the perturbation enters at the network input;
 *   - chain consistency: the product of the per-layer jvps is the whole-network jvp;
 *   - batching: five tangents at once (in chunks, with room reserved for two) equal them one at a time.
 *
 * h = 1e-6: the truncation error h^2 |f'''| / 6 is ~1e-13 of the scale, and the rounding error
 * ~1e-16 |f| / h is ~1e-10 of it, far under the 1e-6 bound, which a wrong derivative (a missing term, a
 * wrong slope) exceeds by orders of magnitude. A small h also keeps the two points on the same side of
 * every kink (ReLU, Clip, max-pool, Where, Max/Min): the script keeps activation inputs 1e-4 away from
 * their bends, and random data leave the other kinks (two max-pool entries, a Where threshold) within
 * ~h |t| ~ 1e-5 of each other with probability ~1e-3 per model; the fixed seeds are checked to be clear.
 *
 * Usage: test_onnx_grad_f64 [DIR], as test_onnx_ops. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "torch_ref_io.h"

#define H 1e-6
#define RTOL 1e-6   /* max |jvp - central difference| / max |central difference| */
#define CHAIN_RTOL 1e-12

static const ref_format CNONNX1 = {"CNONNX1\0", 1, 8};

static const ref_tensor *ref_find(const ref_case *c, const char *name)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->t[i].name, name) == 0) return &c->t[i];
    CHECK(0, "%s: tensor %s missing from the reference file", c->name, name);
    return NULL;
}

static double g_worst = 0, g_worst_chain = 0;

/* max |a - b| / max |b| (0 / 0 counts as 0; NaN as infinite) */
static double rel_err(const double *a, const double *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (!(e <= d)) d = isfinite(e) ? e : INFINITY;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return d == 0 ? 0 : m > 0 ? d / m : INFINITY;
}

/* K tangents at once, through every block, equal the same tangents one at a time: room is reserved for 2,
 * so the 5 also run in chunks (2, 2, 1). Products batched into one GEMM may round differently from the
 * single ones, hence a relative bound and not equality. */
static void check_batched(const ref_case *c, cn_net *net, int B, size_t widest)
{
    enum { K = 5 };
    double *tin = malloc(K * widest * sizeof *tin), *many = malloc(K * widest * sizeof *many);
    double *one = malloc(widest * sizeof *one);
    int ok = tin && many && one && cn_net_reserve(net, B, 2) == CN_OK;
    CHECK(ok, "%s: out of memory or reserve failed", c->name);
    unsigned long long seed = 99;
    double worst = 0;
    for (int i = 0; ok && i < cn_net_layer_count(net); i++) {
        size_t n_in = (size_t)B * (i ? cn_net_layer_out_size(net, i - 1) : cn_net_in_size(net));
        size_t n_out = (size_t)B * cn_net_layer_out_size(net, i);
        for (size_t j = 0; j < K * n_in; j++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            tin[j] = (double)(seed >> 11) / 9007199254740992.0 - 0.5;
        }
        ok = cn_net_layer_jvp(net, i, tin, many, B, K) == CN_OK;
        for (int k = 0; ok && k < K; k++) {
            ok = cn_net_layer_jvp(net, i, tin + k * n_in, one, B, 1) == CN_OK;
            double e = rel_err(many + k * n_out, one, n_out);
            if (e > worst) worst = e;
        }
        CHECK(ok, "%s: layer %d: a jvp failed", c->name, i);
    }
    CHECK(worst < 1e-12, "%s: %d tangents at once differ from one at a time by %.2e", c->name, K, worst);
    free(tin);
    free(many);
    free(one);
}

static void run_case(const ref_case *c, const char *dir)
{
    char onnx[128] = "";
    int opset = 0, blocks = -2;
    if (sscanf(c->text, "onnx %127s opset %d blocks %d", onnx, &opset, &blocks) != 3) {
        CHECK(0, "%s: bad model text '%s'", c->name, c->text);
        return;
    }
    const ref_tensor *x = ref_find(c, "x"), *t = ref_find(c, "t");
    if (!x || !t) return;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, onnx);
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_onnx(&net, path, NULL, &err);
    CHECK(rc == CN_OK, "%s: cn_net_from_onnx: %d %s", c->name, rc, err.msg);
    if (rc) return;
    const int B = 2, L = cn_net_layer_count(net);
    const size_t nin = (size_t)B * cn_net_in_size(net);
    CHECK(x->n == nin && t->n == nin, "%s: the reference input has %llu values, the model takes %zu", c->name,
          (unsigned long long)x->n, nin);
    size_t widest = nin;
    for (int i = 0; i < L; i++)
        if ((size_t)B * cn_net_layer_out_size(net, i) > widest) widest = (size_t)B * cn_net_layer_out_size(net, i);
    /* per layer: the outputs at x + h t and x - h t; two tangent buffers that leapfrog along the chain */
    double **plus = calloc((size_t)L, sizeof *plus), **minus = calloc((size_t)L, sizeof *minus);
    double *xp = malloc(nin * sizeof *xp), *xm = malloc(nin * sizeof *xm), *tx = malloc(nin * sizeof *tx);
    double *ta = malloc(widest * sizeof *ta), *tb = malloc(widest * sizeof *tb), *cd = malloc(widest * sizeof *cd);
    double *whole = malloc(widest * sizeof *whole);
    int ok = plus && minus && xp && xm && tx && ta && tb && cd && whole && x->n == nin && t->n == nin;
    for (int i = 0; ok && i < L; i++) {
        size_t n = (size_t)B * cn_net_layer_out_size(net, i);
        ok = (plus[i] = malloc(n * sizeof **plus)) && (minus[i] = malloc(n * sizeof **minus));
    }
    CHECK(ok, "%s: out of memory or bad sizes", c->name);
    if (!ok) goto done;
    CHECK_OK(rc = cn_net_reserve(net, B, 1));
    if (rc) goto done;
    for (size_t i = 0; i < nin; i++) {
        xp[i] = x->v[i] + H * t->v[i];
        xm[i] = x->v[i] - H * t->v[i];
        tx[i] = t->v[i];
    }
    cn_net_forward(net, xp, B, 0);
    for (int i = 0; i < L; i++)
        memcpy(plus[i], cn_net_layer_output(net, i), (size_t)B * cn_net_layer_out_size(net, i) * sizeof(double));
    cn_net_forward(net, xm, B, 0);
    for (int i = 0; i < L; i++)
        memcpy(minus[i], cn_net_layer_output(net, i), (size_t)B * cn_net_layer_out_size(net, i) * sizeof(double));

    /* the tangents at x itself: the forward that the jvps read last */
    cn_net_forward(net, x->v, B, 0);
    const size_t nout = (size_t)B * cn_net_out_size(net);
    cn_net_jvp(net, tx, whole, B, 1);
    printf("%-16s opset %d  %d layers:", c->name, opset, L);
    const double *in_tan = tx;
    double worst_here = 0;
    for (int i = 0; i < L; i++) {
        size_t n = (size_t)B * cn_net_layer_out_size(net, i);
        double *out_tan = i % 2 ? tb : ta;
        cn_net_layer_jvp(net, i, in_tan, out_tan, B, 1);
        for (size_t k = 0; k < n; k++) cd[k] = (plus[i][k] - minus[i][k]) / (2 * H);
        double e = rel_err(out_tan, cd, n);
        printf(" %.1e", e);
        if (e > worst_here) worst_here = e;
        CHECK(e < RTOL, "%s: layer %d (%s): chained jvp vs central differences: relative error %.3e >= %.0e",
              c->name, i, cn_net_layer_name(net, i), e, RTOL);
        in_tan = out_tan;
    }
    for (size_t k = 0; k < nout; k++) cd[k] = (plus[L - 1][k] - minus[L - 1][k]) / (2 * H);
    double e_whole = rel_err(whole, cd, nout), e_chain = rel_err(in_tan, whole, nout);
    printf("  whole %.1e  chain %.1e\n", e_whole, e_chain);
    CHECK(e_whole < RTOL, "%s: cn_net_jvp vs central differences: relative error %.3e >= %.0e", c->name, e_whole,
          RTOL);
    CHECK(e_chain < CHAIN_RTOL, "%s: chained layer jvps differ from cn_net_jvp by %.3e", c->name, e_chain);
    if (e_whole > worst_here) worst_here = e_whole;
    if (worst_here > g_worst) g_worst = worst_here;
    if (e_chain > g_worst_chain) g_worst_chain = e_chain;
    check_batched(c, net, B, widest);
    rc = cn_net_status(net, &err);
    CHECK(rc == CN_OK, "%s: cn_net_status %d: %s", c->name, rc, err.msg);
done:
    for (int i = 0; plus && minus && i < L; i++) {
        free(plus[i]);
        free(minus[i]);
    }
    free(plus);
    free(minus);
    free(xp);
    free(xm);
    free(tx);
    free(ta);
    free(tb);
    free(cd);
    free(whole);
    cn_net_free(net);
}

int main(int argc, char **argv)
{
    char dir[1024];
    int own_dir = argc < 2;
    if (own_dir) {
        int rc = ref_make_dir(dir, sizeof dir, "onnx_ops_ref"); /* removes the directory itself on failure */
        CHECK(rc == 0, "tests/onnx_ops_ref.py must run: CI has torch and onnx, a missing reference is a failure");
        if (rc) return check_summary("onnx_grad_f64");
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    ref_list list;
    int listed = ref_list_open(&list, dir) == 0;
    CHECK(listed, "%s: cannot open the list of cases", list.path);
    int cases = 0;
    for (const char *path; listed && (path = ref_list_next(&list));) {
        ref_case c;
        int rc = ref_load(&c, path, &CNONNX1);
        CHECK(rc == 0, "%s: unreadable reference file", path);
        if (rc) continue;
        run_case(&c, dir);
        ref_free(&c);
        cases++;
    }
    ref_list_close(&list);
    CHECK(cases >= 14, "only %d models were read from %s", cases, dir);
    printf("%d models; worst relative error vs central differences %.2e (bound %.0e), chain %.2e\n", cases, g_worst,
           RTOL, g_worst_chain);
    if (own_dir) ref_remove_dir(dir);
    return check_summary("onnx_grad_f64");
}
