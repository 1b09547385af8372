/* test_torch_critreg.c: critnet's criticality regulariser R and its gradient dR/dtheta against an
 * independent PyTorch float64 computation (tests/torch_critreg.py: jvps by double backward with
 * create_graph, dR/dtheta by reverse mode through them) on the same weights, inputs and probes.
 *
 * Cases cover both targets (sigma per block; lambda through the whole depth) and a regulariser that runs
 * on only the first examples of the batch (--crit-batch).
 *
 * This side builds and inits each net, draws x, runs the forward pass in train mode, and regenerates the
 * probes cn_critreg_apply draws (a cn_rng with the same seed, cn_rng_normal block by block, m*Bc*n_in each,
 * rounded to cn_real as critreg.c does). It writes them to DIR/caseN.in, runs the script, and compares
 * R and critnet's gradient (cn_critreg_apply + cn_critreg_backward with zero task cotangents, beta = 1)
 * with DIR/caseN.out.
 *
 * Tolerance (float build): |R - R_ref| <= 1e-4 |R_ref| + 1e-6 and
 * max_i |g_i - g_ref_i| <= 1e-4 max_i |g_ref_i| + 1e-6.
 *
 * Negative control: one more case carries the first network's parameters with one weight moved by 0.05
 * in the file only; its reference must then disagree with critnet's gradient beyond that tolerance. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "check.h"
#include "torch_ref_io.h"
#include "train/critreg.h"

#define TOL_REL 1e-4
#define TOL_ABS 1e-6
#define PROBE_SEED 11

typedef struct {
    const char *spec;
    int probes, include_readout, B;
    cn_crit_target target;
    int crit_batch; /* 0: the whole batch */
} tcase;

#define MLP_SMOOTH "input 6\ndense out=7 act=tanh\ndense out=5 act=gelu\ndense out=6 act=sigmoid\ndense out=3\n"
#define CNN_SMOOTH "input 1 6 6\nconv out=3 k=3 pad=1 act=tanh\navgpool k=2\nflatten\ndense out=8 act=silu\ndense out=3\n"
static const tcase cases[] = {
    {MLP_SMOOTH, 3, 0, 4, CN_CRIT_SIGMA, 0},
    {CNN_SMOOTH, 2, 1, 3, CN_CRIT_SIGMA, 0},
    {MLP_SMOOTH, 2, 0, 4, CN_CRIT_LAMBDA, 0},
    {CNN_SMOOTH, 1, 1, 3, CN_CRIT_LAMBDA, 2},
    {MLP_SMOOTH, 1, 1, 5, CN_CRIT_SIGMA, 2},
};
#define NCASES ((int)(sizeof cases / sizeof *cases))

typedef struct {
    cn_net *net;
    double R;
    size_t np;
    double *grad; /* critnet's dR/dtheta */
} result;

static void put_u32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void put_d(FILE *f, double v) { fwrite(&v, 8, 1, f); }

/* Builds the net, computes critnet's R and gradient, and writes DIR/NAME.in; perturb >= 0 moves that
 * parameter by 0.05 in the file only. */
static int run_case(const tcase *c, result *res, const char *path, long perturb)
{
    cn_error err = {0};
    memset(res, 0, sizeof *res);
    int rc = cn_net_from_spec(&res->net, c->spec, &err);
    CHECK(rc == 0, "spec: %s", err.msg);
    if (rc) return -1;
    cn_net *net = res->net;
    cn_rng *rng = cn_rng_new(3);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1.4, .sigma_b = 0.2};
    CHECK_OK(cn_net_init(net, &init, rng));
    int B = c->B, m = c->probes, nin = cn_net_in_size(net);
    cn_real *x = malloc(sizeof *x * (size_t)B * nin);
    for (int i = 0; i < B * nin; i++) x[i] = (cn_real)cn_rng_normal(rng);
    cn_rng_free(rng);

    cn_critreg *r = NULL;
    cn_critreg_cfg rcfg = {1.0, c->target, m, c->include_readout, c->crit_batch};
    CHECK_OK(cn_critreg_new(&r, net, &rcfg, B, &err));
    const int Bc = c->crit_batch > 0 && c->crit_batch < B ? c->crit_batch : B;
    cn_block *blocks = NULL;
    int L = 0;
    CHECK_OK(cn_net_blocks(net, c->include_readout, &blocks, &L));
    res->np = cn_net_param_count(net);
    cn_real *dlogits = calloc((size_t)B * cn_net_out_size(net), sizeof *dlogits);
    cn_net_forward(net, x, B, 1);
    cn_net_zero_grad(net);
    cn_rng *probe = cn_rng_new(PROBE_SEED);
    CHECK_OK(cn_critreg_apply(r, probe, B, &res->R, NULL));
    cn_rng_free(probe);
    cn_critreg_backward(r, dlogits, B);
    res->grad = malloc(res->np * sizeof(double));
    const cn_real *g = cn_net_grads(net), *p = cn_net_params(net);
    for (size_t i = 0; i < res->np; i++) res->grad[i] = g[i];

    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        uint32_t n = (uint32_t)strlen(c->spec);
        put_u32(f, n);
        fwrite(c->spec, 1, n, f);
        put_u32(f, (uint32_t)B);
        put_u32(f, (uint32_t)m);
        put_u32(f, (uint32_t)L);
        put_u32(f, (uint32_t)c->target);
        put_u32(f, (uint32_t)Bc);
        for (int l = 0; l < L; l++) {
            int32_t v[4] = {blocks[l].first, blocks[l].last, blocks[l].n_in, blocks[l].n_out};
            fwrite(v, 4, 4, f);
        }
        uint64_t np = res->np;
        fwrite(&np, 8, 1, f);
        for (size_t i = 0; i < res->np; i++) put_d(f, (double)p[i] + ((long)i == perturb ? 0.05 : 0.0));
        for (int i = 0; i < B * nin; i++) put_d(f, x[i]);
        /* the probes, drawn exactly as cn_critreg_apply draws them */
        cn_rng *pr = cn_rng_new(PROBE_SEED);
        for (int l = 0; l < (c->target == CN_CRIT_LAMBDA ? 1 : L); l++)
            for (size_t i = 0; i < (size_t)m * Bc * blocks[l].n_in; i++) put_d(f, (double)(cn_real)cn_rng_normal(pr));
        cn_rng_free(pr);
        CHECK(fclose(f) == 0, "writing %s", path);
    }
    printf("case %s: %s target, %zu parameters, %d blocks, B %d (probes on %d), m %d, R %.8g\n", path,
           c->target == CN_CRIT_LAMBDA ? "lambda" : "sigma", res->np, L, B, Bc, m, res->R);
    cn_free(blocks);
    free(dlogits);
    free(x);
    cn_critreg_free(r);
    return 0;
}

/* Reads DIR/NAME.out; 0 on success */
static int read_ref(const char *path, size_t np, double *R, double *g)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int ok = fread(R, 8, 1, f) == 1 && fread(g, 8, np, f) == np && fgetc(f) == EOF;
    fclose(f);
    return ok ? 0 : -1;
}

/* max |g - ref| and max |ref| */
static void compare(const result *res, const double *ref, double *maxdiff, double *maxref, size_t *worst)
{
    *maxdiff = *maxref = 0;
    *worst = 0;
    for (size_t i = 0; i < res->np; i++) {
        double d = fabs(res->grad[i] - ref[i]);
        if (d > *maxdiff) {
            *maxdiff = d;
            *worst = i;
        }
        if (fabs(ref[i]) > *maxref) *maxref = fabs(ref[i]);
    }
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/critnet_torch_critreg_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        CHECK(0, "mkdtemp %s", dir);
        return check_summary("torch_critreg");
    }
    result res[NCASES + 1];
    char path[1200];
    for (int c = 0; c < NCASES; c++) {
        snprintf(path, sizeof path, "%s/case%d.in", dir, c);
        run_case(&cases[c], &res[c], path, -1);
    }
    /* negative control: the first net, one weight moved in the file only */
    snprintf(path, sizeof path, "%s/case%d.in", dir, NCASES);
    run_case(&cases[0], &res[NCASES], path, 5);

    const char *src = getenv("CRITNET_SRC"), *py = getenv("CRITNET_PYTHON");
    if (!src || !*src) src = ".";
    if (!py || !*py) py = "/usr/bin/python3";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/torch_critreg.py' '%s'", py, src, dir);
    printf("running: %s\n", cmd);
    fflush(stdout);
    int st = system(cmd);
    int script_ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(script_ok, "the PyTorch reference script failed (status %d): %s (it needs /usr/bin/python3 with torch)",
          st, cmd);

    for (int c = 0; script_ok && c <= NCASES; c++) {
        double Rref = NAN, *ref = malloc(res[c].np * sizeof(double));
        snprintf(path, sizeof path, "%s/case%d.out", dir, c);
        int rd = read_ref(path, res[c].np, &Rref, ref);
        CHECK(rd == 0, "cannot read %s", path);
        if (rd == 0) {
            double maxdiff, maxref;
            size_t worst;
            compare(&res[c], ref, &maxdiff, &maxref, &worst);
            double tol = TOL_REL * maxref + TOL_ABS, rtol = TOL_REL * fabs(Rref) + TOL_ABS;
            printf("case%d%s: R %.9g vs torch %.9g (|diff| %.2e, tol %.2e); dR/dtheta max|diff| %.3e "
                   "(param %zu: %.9g vs %.9g), max|ref| %.4g, tol %.3e\n",
                   c, c == NCASES ? " (negative control)" : "", res[c].R, Rref, fabs(res[c].R - Rref), rtol,
                   maxdiff, worst, res[c].grad[worst], ref[worst], maxref, tol);
            if (c < NCASES) {
                CHECK(fabs(res[c].R - Rref) <= rtol, "case%d: R %.9g vs torch %.9g", c, res[c].R, Rref);
                CHECK(maxdiff <= tol, "case%d: dR/dtheta[%zu] %.9g vs torch %.9g (max|diff| %.3e > tol %.3e)", c,
                      worst, res[c].grad[worst], ref[worst], maxdiff, tol);
            } else {
                CHECK(maxdiff > tol && fabs(res[c].R - Rref) > rtol,
                      "negative control: a perturbed weight went unnoticed (max|diff| %.3e, tol %.3e)", maxdiff, tol);
            }
        }
        free(ref);
    }
    for (int c = 0; c <= NCASES; c++) {
        free(res[c].grad);
        cn_net_free(res[c].net);
    }
    ref_remove_dir(dir);
    return check_summary("torch_critreg");
}
