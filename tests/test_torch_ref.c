/* test_torch_ref.c: critnet (float) against PyTorch (float64) on the cases of tests/torch_ref.py: forward
 * output, running statistics, input and parameter gradients, and the whole-batch jvp, tensor by tensor.
 *
 * Usage: test_torch_ref [DIR]. Without DIR it runs `/usr/bin/python3 tests/torch_ref.py TMPDIR` (the
 * interpreter can be changed with $CRITNET_PYTHON) and removes TMPDIR afterwards; with DIR it reads the
 * reference files already there. CI has torch installed, so a failure to produce the reference is a test
 * failure, never a skip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "torch_ref_io.h"

/* Tolerance: max |critnet - torch| <= ATOL + RTOL * max |torch|, per tensor. critnet computes in float
 * (eps 6e-8) from exactly the float32-rounded inputs the reference used, so the gap is only float32
 * rounding accumulated over a few layers of sums (fan-in up to ~150) and, the worst, batch norm in
 * training mode on a batch of 4, which divides by small batch deviations: the largest seen is 8e-7 of
 * the tensor's largest value (batchnorm1d_train ty). RTOL 3e-5 leaves a margin of ~40 for other BLAS
 * kernels, -O0 or -march=native (FMA) builds, while a wrong sign, a missing term (e.g. the
 * batch-statistics part of the batch-norm jvp), a misplaced window or an ignored eps=0.1 are errors of
 * 1e-3 to 1 relative. ATOL covers tensors whose values are all near zero. */
#define RTOL 3e-5
#define ATOL 1e-6

/* the files of tests/torch_ref.py */
static const ref_format CNREF1 = {"CNREF1\0\0", 1, 16};

static const ref_tensor *ref_get(const ref_case *c, const char *name, uint64_t n)
{
    for (int i = 0; i < c->count; i++) {
        if (strcmp(c->t[i].name, name) != 0) continue;
        CHECK(c->t[i].n == n, "%s: tensor %s has %llu values, critnet expects %llu", c->name, name,
              (unsigned long long)c->t[i].n, (unsigned long long)n);
        return c->t[i].n == n ? &c->t[i] : NULL;
    }
    CHECK(0, "%s: tensor %s missing from the reference file", c->name, name);
    return NULL;
}

static cn_real *to_real(const ref_tensor *t)
{
    cn_real *v = malloc((size_t)(t->n ? t->n : 1) * sizeof *v);
    if (v)
        for (uint64_t i = 0; i < t->n; i++) v[i] = (cn_real)t->v[i];
    return v;
}

static double g_worst = 0; /* largest max|diff| / tolerance over the whole run */

/* One tensor: max |a - ref| against ATOL + RTOL * max |ref|; prints the first values of both. */
static void compare(const ref_case *c, const char *name, const cn_real *a, const ref_tensor *ref)
{
    if (!ref || !a) return;
    double maxdiff = 0, maxref = 0;
    int finite = 1;
    for (uint64_t i = 0; i < ref->n; i++) {
        double d = fabs((double)a[i] - ref->v[i]);
        if (!(d == d) || !isfinite((double)a[i])) finite = 0;
        if (d > maxdiff) maxdiff = d;
        if (fabs(ref->v[i]) > maxref) maxref = fabs(ref->v[i]);
    }
    double tol = ATOL + RTOL * maxref;
    int ok = finite && maxdiff <= tol;
    if (maxdiff / tol > g_worst) g_worst = maxdiff / tol;
    printf("  %-9s n=%-6llu max|diff| %.2e (tol %.2e)  critnet [", name, (unsigned long long)ref->n, maxdiff, tol);
    for (uint64_t i = 0; i < 3 && i < ref->n; i++) printf(" %+.6f", (double)a[i]);
    printf(" ]  torch [");
    for (uint64_t i = 0; i < 3 && i < ref->n; i++) printf(" %+.6f", ref->v[i]);
    printf(" ]%s\n", ok ? "" : "  MISMATCH");
    CHECK(ok, "%s: %s differs from torch: max|diff| %.3e > tol %.3e%s", c->name, name, maxdiff, tol,
          finite ? "" : " (non-finite values)");
}

static void run_case(const ref_case *c)
{
    printf("%s (%s, B=%u, K=%u)\n", c->name, c->train ? "train" : "eval", c->batch, c->tangents);
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_spec(&net, c->text, &err);
    CHECK(rc == CN_OK, "%s: cn_net_from_spec: %s", c->name, err.msg);
    if (rc) return;
    const int B = (int)c->batch, K = (int)c->tangents;
    const uint64_t nin = (uint64_t)cn_net_in_size(net), nout = (uint64_t)cn_net_out_size(net);
    const uint64_t np = cn_net_param_count(net), ns = cn_net_state_count(net);
    const ref_tensor *params = ref_get(c, "params", np), *state = ref_get(c, "state", ns),
                     *x = ref_get(c, "x", B * nin), *dout = ref_get(c, "dout", B * nout),
                     *tx = ref_get(c, "tx", K * B * nin), *y = ref_get(c, "y", B * nout),
                     *dx = ref_get(c, "dx", B * nin), *dparams = ref_get(c, "dparams", np),
                     *ty = ref_get(c, "ty", K * B * nout), *state_out = ref_get(c, "state_out", ns);
    cn_real *xr = NULL, *doutr = NULL, *txr = NULL, *dxr = NULL, *tyr = NULL;
    if (!params || !state || !x || !dout || !tx || !y || !dx || !dparams || !ty || !state_out) goto done;
    CHECK_OK(rc = cn_net_reserve(net, B, K));
    if (rc) goto done;
    for (uint64_t i = 0; i < np; i++) cn_net_params(net)[i] = (cn_real)params->v[i];
    for (uint64_t i = 0; i < ns; i++) cn_net_state(net)[i] = (cn_real)state->v[i];
    xr = to_real(x);
    doutr = to_real(dout);
    txr = to_real(tx);
    dxr = calloc((size_t)(B * nin), sizeof *dxr);
    tyr = calloc((size_t)(K * B * nout), sizeof *tyr);
    CHECK(xr && doutr && txr && dxr && tyr, "out of memory");
    if (!xr || !doutr || !txr || !dxr || !tyr) goto done;

    cn_net_forward(net, xr, B, (int)c->train);
    compare(c, "y", cn_net_output(net), y);
    if (ns) compare(c, "state", cn_net_state(net), state_out);
    cn_net_zero_grad(net);
    cn_net_backward(net, doutr, dxr, B);
    compare(c, "dx", dxr, dx);
    if (np) compare(c, "dparams", cn_net_grads(net), dparams);
    cn_net_jvp(net, txr, tyr, B, K);
    compare(c, "ty", tyr, ty);
done:
    free(xr);
    free(doutr);
    free(txr);
    free(dxr);
    free(tyr);
    cn_net_free(net);
}

int main(int argc, char **argv)
{
    char dir[1024];
    int own_dir = argc < 2;
    if (own_dir) {
        int rc = ref_make_dir(dir, sizeof dir, "torch_ref"); /* removes the directory itself on failure */
        CHECK(rc == 0, "tests/torch_ref.py must run: CI has torch, a missing reference is a failure");
        if (rc) return check_summary("torch_ref");
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    ref_list list;
    int listed = ref_list_open(&list, dir) == 0;
    CHECK(listed, "%s: cannot open the list of cases", list.path);
    int cases = 0;
    for (const char *path; listed && (path = ref_list_next(&list));) {
        ref_case c;
        int rc = ref_load(&c, path, &CNREF1);
        CHECK(rc == 0, "%s: unreadable reference file", path);
        if (rc) continue;
        run_case(&c);
        ref_free(&c);
        cases++;
    }
    ref_list_close(&list);
    /* tests/torch_ref.py writes 59 cases; far fewer means the list was cut short */
    CHECK(cases >= 50, "only %d reference cases were read from %s", cases, dir);
    printf("%d cases; worst max|diff| / tolerance %.3f\n", cases, g_worst);
    if (own_dir) ref_remove_dir(dir);
    return check_summary("torch_ref");
}
