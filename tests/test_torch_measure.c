/* test_torch_measure.c: critnet's criticality measures (cn_measure, float) against the independent PyTorch
 * implementation of tests/torch_measure.py, on the same weights, running statistics, inputs and Q0: the
 * block partition, the Lyapunov spectrum, lambda_0 and the per-block local exponents, and the branching
 * parameter sigma per block and for the network. Cases: a tanh MLP (the whole spectrum, k = width), a CNN
 * (conv relu, maxpool, conv relu, flatten, dense relu) with and without its readout, and a residual net
 * with batch norm in eval mode (identity and projection skips).
 *
 * Tolerances.
 *   Spectrum: critnet and torch start from the same Q0 (cfg.q0), so the exponents are the same numbers up
 *   to rounding: critnet in float (jvp through each block, then LAPACK sgeqrf per input), torch in float64.
 *   SPEC_TOL = 1e-4 absolute on every exponent, local exponent and standard error. The gaps seen (printed
 *   on every run) are ~1e-7 for k well below the width and 1e-5 for the whole spectrum of the MLP (k = 32
 *   = width, where the smallest R_ii carry float32's relative error), while one weight moved by 0.05
 *   shifts them by 2e-2 to 8e-2 (the perturbation check below).
 *   Sigma: torch computes the EXACT sigma_l(x) from the full block Jacobian; critnet estimates it from
 *   m = 256 Gaussian probes (ratio form). torch_measure.py derives the estimator's noise from the
 *   Jacobians (Var ln sigma_hat = r/2m, bias -r/2m, r = tr(A^2)/tr(A)^2 - 1/n_in, A = J^T J) and the
 *   test requires |ln sigma_critnet - ln sigma_exact - bias| <= 4 se + 1e-5. critnet's own reported
 *   standard error (over inputs) is printed beside it; it also holds the inputs' spread, so it is larger.
 *
 * Can it fail? Each case is run twice more with one weight of the first block changed on critnet's side
 * only: +0.05 must break the spectrum comparison, +3 must break the sigma comparison.
 *
 * Usage: test_torch_measure [DIR]. Without DIR it runs `/usr/bin/python3 tests/torch_measure.py TMPDIR`
 * ($CRITNET_PYTHON overrides the interpreter) and removes TMPDIR afterwards; with DIR it reads the files
 * there. CI has torch, so a reference that cannot be produced is a failure, never a skip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "torch_ref_io.h"

#define SPEC_TOL 1e-4   /* absolute, on exponents and their standard errors */
#define SIGMA_NSE 4.0   /* standard errors of the probe estimate */
#define SIGMA_FLOOR 1e-5 /* float rounding of ln sigma */
#define SEED 20240611
#define SMALL_DELTA 0.05 /* perturbations of one weight, critnet's side only */
#define LARGE_DELTA 3.0

/* the files of tests/torch_measure.py */
static const ref_format CNMEAS1 = {"CNMEAS1\0", 0, 24};

static const double *ref_get(const ref_case *c, const char *name, uint64_t n)
{
    for (int i = 0; i < c->count; i++) {
        if (strcmp(c->t[i].name, name) != 0) continue;
        CHECK(c->t[i].n == n, "%s: tensor %s has %llu values, expected %llu", c->name, name,
              (unsigned long long)c->t[i].n, (unsigned long long)n);
        return c->t[i].n == n ? c->t[i].v : NULL;
    }
    CHECK(0, "%s: tensor %s missing from the reference file", c->name, name);
    return NULL;
}

/* ---------------------------------------------------------------- comparison */

typedef struct {
    int N, k, probes, batch, include_readout, L;
    const double *blocks, *params, *state, *x, *q0;
    const double *ln_sigma_block, *ln_sigma_block_se, *ln_sigma_block_bias, *ln_sigma_net;
    const double *spectrum, *spectrum_se, *local;
} ref_view;

typedef struct {
    double spec_diff;  /* largest |critnet - torch| over exponents, local exponents and their se */
    double sigma_z;    /* largest |ln sigma_critnet - ln sigma_exact - bias| / se */
    int spec_bad, sigma_bad;
} verdict;

/* largest |a - b| of n values, NaN-safe (a NaN counts as infinitely far) */
static double max_diff(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        m = d == d && m == m ? (d > m ? d : m) : INFINITY;
    }
    return m;
}

/* ln sigma against the exact value: returns |z| in standard errors, and whether it passes */
static int sigma_ok(double crit, double exact, double se, double bias, double *z)
{
    double d = log(crit) - exact - bias;
    *z = fabs(d) / se;
    return isfinite(d) && fabs(d) <= SIGMA_NSE * se + SIGMA_FLOOR;
}

static verdict compare(const ref_case *c, const ref_view *r, const cn_measure_result *res, int print)
{
    verdict v = {0};
    int k = r->k, L = r->L;
    double d_spec = max_diff(res->spectrum, r->spectrum, k);
    double d_se = max_diff(res->spectrum_se, r->spectrum_se, k);
    double d_loc = max_diff(res->local_exponents, r->local, L * k);
    double d_l0 = fabs(res->lambda_max - r->spectrum[0]);
    if (!(d_l0 == d_l0)) d_l0 = INFINITY;
    v.spec_diff = fmax(fmax(d_spec, d_se), fmax(d_loc, d_l0));
    v.spec_bad = !(v.spec_diff <= SPEC_TOL);
    if (print) {
        printf("  spectrum k=%d  critnet [", k);
        for (int j = 0; j < k && j < 4; j++) printf(" %+.6f", res->spectrum[j]);
        printf(" ]  torch [");
        for (int j = 0; j < k && j < 4; j++) printf(" %+.6f", r->spectrum[j]);
        printf(" ]\n  max|diff|: spectrum %.2e, lambda_0 %.2e, se %.2e, local exponents %.2e (tol %.0e)\n", d_spec,
               d_l0, d_se, d_loc, SPEC_TOL);
        CHECK(d_spec <= SPEC_TOL, "%s: spectrum differs from torch by %.3e", c->name, d_spec);
        CHECK(d_l0 <= SPEC_TOL, "%s: lambda_0 %.6f, torch %.6f", c->name, res->lambda_max, r->spectrum[0]);
        CHECK(d_se <= SPEC_TOL, "%s: spectrum standard errors differ from torch by %.3e", c->name, d_se);
        CHECK(d_loc <= SPEC_TOL, "%s: local exponents differ from torch by %.3e", c->name, d_loc);
        printf("  %-7s %10s %10s %10s %9s %9s %7s\n", "sigma", "critnet", "exact", "est.se", "bias(ln)",
               "crit.se", "|z|");
    }
    for (int l = 0; l <= L; l++) {
        int net = l == L;
        double crit = net ? res->sigma : res->sigma_block[l];
        double exact = net ? r->ln_sigma_net[0] : r->ln_sigma_block[l];
        double se = net ? r->ln_sigma_net[1] : r->ln_sigma_block_se[l];
        double bias = net ? r->ln_sigma_net[2] : r->ln_sigma_block_bias[l];
        double crit_se = net ? res->sigma_se : res->sigma_block_se[l];
        double z;
        int ok = sigma_ok(crit, exact, se, bias, &z);
        if (!(z <= v.sigma_z)) v.sigma_z = z;
        v.sigma_bad += !ok;
        if (!print) continue;
        char label[16];
        snprintf(label, sizeof label, net ? "network" : "block %d", l + 1);
        printf("  %-7s %10.6f %10.6f %10.2e %9.1e %9.1e %7.2f%s\n", label, crit, exp(exact), se * exp(exact),
               bias, crit_se, z, ok ? "" : "  MISMATCH");
        CHECK(ok, "%s: sigma %s: critnet %.6f, exact %.6f: %.1f standard errors (%.2e) away", c->name, label, crit,
              exp(exact), z, se);
    }
    return v;
}

/* ---------------------------------------------------------------- one case */

static int view_load(ref_view *r, const ref_case *c, const cn_net *net)
{
    memset(r, 0, sizeof *r);
    const double *meta = ref_get(c, "meta", 6);
    if (!meta) return -1;
    r->N = (int)meta[0];
    r->k = (int)meta[1];
    r->probes = (int)meta[2];
    r->batch = (int)meta[3];
    r->include_readout = (int)meta[4];
    r->L = (int)meta[5];
    uint64_t n0 = (uint64_t)cn_net_in_size(net), N = (uint64_t)r->N, k = (uint64_t)r->k, L = (uint64_t)r->L;
    r->blocks = ref_get(c, "blocks", 4 * L);
    r->params = ref_get(c, "params", cn_net_param_count(net));
    r->state = ref_get(c, "state", cn_net_state_count(net));
    r->x = ref_get(c, "x", N * n0);
    r->q0 = ref_get(c, "q0", k * n0);
    r->ln_sigma_block = ref_get(c, "ln_sigma_block", L);
    r->ln_sigma_block_se = ref_get(c, "ln_sigma_block_se", L);
    r->ln_sigma_block_bias = ref_get(c, "ln_sigma_block_bias", L);
    r->ln_sigma_net = ref_get(c, "ln_sigma_net", 3);
    r->spectrum = ref_get(c, "spectrum", k);
    r->spectrum_se = ref_get(c, "spectrum_se", k);
    r->local = ref_get(c, "local", L * k);
    return r->blocks && r->params && r->state && r->x && r->q0 && r->ln_sigma_block && r->ln_sigma_block_se &&
                   r->ln_sigma_block_bias && r->ln_sigma_net && r->spectrum && r->spectrum_se && r->local
               ? 0
               : -1;
}

/* critnet's block partition must be the one torch_measure.py derived from the model text */
static int blocks_match(const ref_case *c, const ref_view *r, cn_net *net)
{
    cn_block *b = NULL;
    int nb = 0;
    int rc = cn_net_blocks(net, r->include_readout, &b, &nb);
    CHECK(rc == CN_OK, "%s: cn_net_blocks returned %d", c->name, rc);
    if (rc) return 0;
    int ok = nb == r->L;
    CHECK(ok, "%s: critnet has %d blocks, torch_measure.py %d", c->name, nb, r->L);
    for (int l = 0; ok && l < nb; l++) {
        const double *t = r->blocks + 4 * l;
        int same = b[l].first == (int)t[0] && b[l].last == (int)t[1] && b[l].n_in == (int)t[2] &&
                   b[l].n_out == (int)t[3];
        CHECK(same, "%s: block %d is layers %d..%d, %d -> %d units in critnet; %d..%d, %d -> %d in torch", c->name,
              l + 1, b[l].first, b[l].last, b[l].n_in, b[l].n_out, (int)t[0], (int)t[1], (int)t[2], (int)t[3]);
        ok = ok && same;
    }
    printf("  blocks:");
    for (int l = 0; l < nb; l++) printf(" %s[%d..%d] %d->%d", b[l].name, b[l].first, b[l].last, b[l].n_in, b[l].n_out);
    printf("%s\n", ok ? " (as torch)" : "  MISMATCH");
    cn_free(b);
    return ok;
}

static int run_measure(cn_net *net, const ref_view *r, const cn_real *x, const cn_real *q0, cn_measure_result *res)
{
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.probes = r->probes;
    cfg.spectrum = r->k;
    cfg.batch = r->batch;
    cfg.include_readout = r->include_readout;
    cfg.seed = SEED;
    cfg.q0 = q0;
    cn_error err = {0};
    int rc = cn_measure(net, x, r->N, &cfg, res, &err);
    CHECK(rc == CN_OK, "cn_measure: %s", err.msg);
    if (rc == CN_OK) {
        CHECK(res->nblocks == r->L && res->k == r->k && res->inputs == r->N, "cn_measure: %d blocks, k=%d, %d inputs",
              res->nblocks, res->k, res->inputs);
        CHECK(res->degenerate == 0, "cn_measure: %ld collapsed directions", res->degenerate);
    }
    return rc;
}

static cn_real *to_real(const double *v, size_t n)
{
    cn_real *r = malloc((n ? n : 1) * sizeof *r);
    if (r)
        for (size_t i = 0; i < n; i++) r[i] = (cn_real)v[i];
    return r;
}

static double g_worst_spec = 0, g_worst_z = 0;

static void run_case(const ref_case *c)
{
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_spec(&net, c->text, &err);
    CHECK(rc == CN_OK, "%s: cn_net_from_spec: %s", c->name, err.msg);
    if (rc) return;
    ref_view r;
    cn_real *x = NULL, *q0 = NULL;
    if (view_load(&r, c, net)) goto done;
    printf("%s: %d inputs, k=%d, %d probes, batch %d%s\n", c->name, r.N, r.k, r.probes, r.batch,
           r.include_readout ? ", readout included" : "");
    if (!blocks_match(c, &r, net)) goto done;
    size_t np = cn_net_param_count(net), ns = cn_net_state_count(net), n0 = (size_t)cn_net_in_size(net);
    for (size_t i = 0; i < np; i++) cn_net_params(net)[i] = (cn_real)r.params[i];
    for (size_t i = 0; i < ns; i++) cn_net_state(net)[i] = (cn_real)r.state[i];
    x = to_real(r.x, (size_t)r.N * n0);
    q0 = to_real(r.q0, (size_t)r.k * n0);
    CHECK(x && q0, "out of memory");
    if (!x || !q0) goto done;

    cn_measure_result res;
    if (run_measure(net, &r, x, q0, &res)) goto done;
    verdict v = compare(c, &r, &res, 1);
    cn_measure_result_free(&res);
    if (v.spec_diff > g_worst_spec) g_worst_spec = v.spec_diff;
    if (v.sigma_z > g_worst_z) g_worst_z = v.sigma_z;

    /* the comparison must be able to fail: move the first weight (first block) on critnet's side only */
    const double deltas[2] = {SMALL_DELTA, LARGE_DELTA};
    for (int i = 0; i < 2; i++) {
        cn_net_params(net)[0] = (cn_real)(r.params[0] + deltas[i]);
        if (run_measure(net, &r, x, q0, &res)) break;
        v = compare(c, &r, &res, 0);
        cn_measure_result_free(&res);
        printf("  critnet's W[0] %+g: spectrum max|diff| %.2e (%s), sigma worst %.1f se (%s)\n", deltas[i], v.spec_diff,
               v.spec_bad ? "fails, as it must" : "passes", v.sigma_z, v.sigma_bad ? "fails" : "passes");
        if (i == 0) CHECK(v.spec_bad, "%s: a weight moved by %g goes unnoticed by the spectrum check", c->name, deltas[i]);
        else CHECK(v.spec_bad && v.sigma_bad, "%s: a weight moved by %g goes unnoticed (spectrum %s, sigma %s)",
                   c->name, deltas[i], v.spec_bad ? "caught it" : "missed it", v.sigma_bad ? "caught it" : "missed it");
    }
done:
    free(x);
    free(q0);
    cn_net_free(net);
}

/* ---------------------------------------------------------------- driver */

int main(int argc, char **argv)
{
    char dir[1024];
    int own_dir = argc < 2;
    if (own_dir) {
        int rc = ref_make_dir(dir, sizeof dir, "torch_measure"); /* removes the directory itself on failure */
        CHECK(rc == 0, "tests/torch_measure.py must run: CI has torch, a missing reference is a failure");
        if (rc) return check_summary("torch_measure");
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    ref_list list;
    int listed = ref_list_open(&list, dir) == 0;
    CHECK(listed, "%s: cannot open the list of cases", list.path);
    int cases = 0;
    for (const char *path; listed && (path = ref_list_next(&list));) {
        ref_case c;
        int rc = ref_load(&c, path, &CNMEAS1);
        CHECK(rc == 0, "%s: unreadable reference file", path);
        if (rc) continue;
        run_case(&c);
        ref_free(&c);
        cases++;
    }
    ref_list_close(&list);
    CHECK(cases == 4, "%d reference cases read from %s; tests/torch_measure.py writes 4", cases, dir);
    printf("%d cases; worst spectrum max|diff| %.2e (tol %.0e), worst sigma %.2f standard errors (tol %.0f)\n", cases,
           g_worst_spec, SPEC_TOL, g_worst_z, SIGMA_NSE);
    if (own_dir) ref_remove_dir(dir);
    return check_summary("torch_measure");
}
