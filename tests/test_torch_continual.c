/* test_torch_continual.c: critnet's online learning (batch 1, scored before each update, plain SGD) against
 * an independent PyTorch replay (tests/torch_continual.py, float64) from the same initial weights and the
 * same permuted examples in the same order: two tasks of 200 steps. The number of examples predicted right
 * in each task must match exactly and the final weights to float tolerance, for the fused fast path and for
 * the generic path. A negative control (the replay with a 20% larger step size) must not match.
 *
 * The script runs as `$CRITNET_PYTHON (default /usr/bin/python3) tests/torch_continual.py DIR`; CI has torch,
 * so a script that cannot run is a failure, never a skip. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "check.h"
#include "continual/run.h"
#include "critnet.h"
#include "torch_ref_io.h"

#define SIDE 8
#define NIN (SIDE * SIDE)
#define CLASSES 10
#define WIDTH 32
#define DEPTH 3
#define TASKS 2
#define STEPS 200
#define LR 0.01
/* The two sides run the same float32-rounded start in float32 (critnet) and float64 (torch) for 400 SGD
 * steps; rounding grows through the steps to about 1e-6 of the largest weight (printed below). A wrong
 * gradient, a missed step or a step size 1% off moves the weights by 1e-3 or more of it. */
#define TOL_REL 1e-4

static void make_data(cn_data *d, int ntrain, int ntest)
{
    memset(d, 0, sizeof *d);
    cn_rng *r = cn_rng_new(21);
    double mu[CLASSES][NIN];
    for (int c = 0; c < CLASSES; c++)
        for (int j = 0; j < NIN; j++) mu[c][j] = cn_rng_normal(r);
    cn_dataset *sets[2] = {&d->train, &d->test};
    int counts[2] = {ntrain, ntest};
    for (int s = 0; s < 2; s++) {
        cn_dataset *ds = sets[s];
        ds->count = counts[s];
        ds->c = 1;
        ds->h = ds->w = SIDE;
        ds->classes = CLASSES;
        ds->x = cn_malloc((size_t)counts[s] * NIN * sizeof *ds->x);
        ds->y = cn_malloc((size_t)counts[s] * sizeof *ds->y);
        for (int i = 0; i < counts[s]; i++) {
            int y = (int)cn_rng_below(r, CLASSES);
            ds->y[i] = y;
            for (int j = 0; j < NIN; j++) ds->x[(size_t)i * NIN + j] = (cn_real)(mu[y][j] + cn_rng_normal(r));
        }
    }
    snprintf(d->name, sizeof d->name, "clusters");
    cn_rng_free(r);
}

static void put_u32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); } /* the build machines are little-endian */
static void put_f64(FILE *f, double v) { fwrite(&v, 8, 1, f); }

/* the replay's input: initial weights, then each task's examples as critnet presented them */
static int write_case(const char *path, const cn_data *d, const cn_real *params, size_t np,
                      int32_t perm[TASKS][NIN], int32_t order[TASKS][STEPS], double lr)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite("CNCONT1\0", 1, 8, f);
    const uint32_t head[6] = {NIN, WIDTH, DEPTH, CLASSES, TASKS, STEPS};
    for (int i = 0; i < 6; i++) put_u32(f, head[i]);
    put_f64(f, lr);
    uint64_t n = np;
    fwrite(&n, 8, 1, f);
    for (size_t i = 0; i < np; i++) put_f64(f, params[i]);
    for (int t = 0; t < TASKS; t++) {
        for (int s = 0; s < STEPS; s++)
            for (int j = 0; j < NIN; j++) put_f64(f, d->train.x[(size_t)order[t][s] * NIN + perm[t][j]]);
        for (int s = 0; s < STEPS; s++) put_f64(f, d->train.y[order[t][s]]);
    }
    return fclose(f) ? -1 : 0;
}

static int read_out(const char *path, double hits[TASKS], double *params, size_t np)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint32_t tasks = 0;
    uint64_t n = 0;
    int ok = fread(&tasks, 4, 1, f) == 1 && tasks == TASKS && fread(hits, 8, TASKS, f) == TASKS &&
             fread(&n, 8, 1, f) == 1 && n == np && fread(params, 8, np, f) == np;
    fclose(f);
    return ok ? 0 : -1;
}

int main(void)
{
    cn_set_threads(1);
    cn_data d;
    make_data(&d, 300, 50);
    const char *tmp = getenv("TMPDIR");
    char dir[1024], path[1200];
    snprintf(dir, sizeof dir, "%s/critnet_torch_continual_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        CHECK(0, "mkdtemp %s", dir);
        return check_summary("torch_continual");
    }
    cn_continual_cfg g;
    cn_continual_defaults(&g);
    g.tasks = TASKS;
    g.examples_per_task = STEPS;
    g.width = WIDTH;
    g.depth = DEPTH;
    g.seed = 11;
    g.lr = LR;
    g.probe_samples = 50;
    g.track_samples = -1;
    g.stop_after = 1; /* one task per call, to record each task's permutation and order */
    cn_error err = {0};
    cn_continual *init = NULL, *runs[2] = {NULL, NULL};
    int rc = cn_continual_new(&init, &d, &g, &err);
    CHECK(rc == CN_OK, "cn_continual_new: %s", err.msg);
    if (rc) return check_summary("torch_continual");
    const size_t np = cn_net_param_count(cn_continual_net(init));
    static int32_t perm[TASKS][NIN], order[TASKS][STEPS];
    double hits[2][TASKS];
    cn_real *final[2] = {malloc(np * sizeof(cn_real)), malloc(np * sizeof(cn_real))};
    for (int fast = 1; fast >= 0; fast--) {
        CHECK_OK(rc = cn_continual_new(&runs[fast], &d, &g, &err));
        if (rc) break;
        runs[fast]->fast = fast;
        for (int t = 0; t < TASKS; t++) {
            cn_continual_result res = {0};
            CHECK_OK(rc = cn_continual_run(runs[fast], &res, &err));
            if (rc || res.tasks_done != t + 1) break;
            hits[fast][t] = (double)lround(res.rows[t].accuracy * STEPS);
            if (fast) {
                memcpy(perm[t], cn_continual_permutation(runs[fast]), sizeof perm[t]);
                memcpy(order[t], cn_continual_order(runs[fast], NULL), sizeof order[t]);
            }
            cn_continual_result_free(&res);
        }
        memcpy(final[fast], cn_net_params(cn_continual_net(runs[fast])), np * sizeof(cn_real));
    }
    snprintf(path, sizeof path, "%s/a.in", dir);
    CHECK(write_case(path, &d, cn_net_params(cn_continual_net(init)), np, perm, order, LR) == 0, "cannot write %s", path);
    snprintf(path, sizeof path, "%s/b_control.in", dir);
    CHECK(write_case(path, &d, cn_net_params(cn_continual_net(init)), np, perm, order, 1.2 * LR) == 0, "cannot write %s",
          path);

    const char *src = getenv("CRITNET_SRC"), *py = getenv("CRITNET_PYTHON");
    if (!src || !*src) src = ".";
    if (!py || !*py) py = "/usr/bin/python3";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/torch_continual.py' '%s'", py, src, dir);
    printf("running: %s\n", cmd);
    fflush(stdout);
    int st = system(cmd);
    int script_ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(script_ok, "the PyTorch replay failed (status %d): %s (it needs /usr/bin/python3 with torch)", st, cmd);

    double ref_hits[TASKS], ctl_hits[TASKS], *ref = malloc(np * sizeof *ref), *ctl = malloc(np * sizeof *ctl);
    snprintf(path, sizeof path, "%s/a.out", dir);
    int have_ref = script_ok && read_out(path, ref_hits, ref, np) == 0;
    CHECK(!script_ok || have_ref, "cannot read %s", path);
    snprintf(path, sizeof path, "%s/b_control.out", dir);
    int have_ctl = script_ok && read_out(path, ctl_hits, ctl, np) == 0;
    CHECK(!script_ok || have_ctl, "cannot read %s", path);
    if (have_ref && have_ctl) {
        double maxref = 0;
        for (size_t i = 0; i < np; i++) maxref = fmax(maxref, fabs(ref[i]));
        const double tol = TOL_REL * maxref;
        for (int fast = 1; fast >= 0; fast--) {
            double worst = 0;
            for (size_t i = 0; i < np; i++) worst = fmax(worst, fabs((double)final[fast][i] - ref[i]));
            printf("%s path: hits per task %g, %g vs torch %g, %g; final weights max|diff| %.2e (%.1e of max|w| "
                   "%.3f), tol %.2e; critnet [%+.6f %+.6f %+.6f] torch [%+.6f %+.6f %+.6f]\n",
                   fast ? "fast" : "generic", hits[fast][0], hits[fast][1], ref_hits[0], ref_hits[1], worst,
                   worst / maxref, maxref, tol, final[fast][0], final[fast][1], final[fast][2], ref[0], ref[1], ref[2]);
            for (int t = 0; t < TASKS; t++)
                CHECK(hits[fast][t] == ref_hits[t], "%s path, task %d: %g examples right before their update, torch %g",
                      fast ? "fast" : "generic", t + 1, hits[fast][t], ref_hits[t]);
            CHECK(worst <= tol, "%s path: final weights differ from torch by %.3e > %.3e", fast ? "fast" : "generic",
                  worst, tol);
        }
        double worst = 0;
        for (size_t i = 0; i < np; i++) worst = fmax(worst, fabs((double)final[1][i] - ctl[i]));
        printf("negative control (torch with lr x 1.2): max|diff| %.2e\n", worst);
        CHECK(worst > tol, "negative control: a 20%% larger step size went unnoticed (max|diff| %.3e)", worst);
    }
    free(ref);
    free(ctl);
    free(final[0]);
    free(final[1]);
    cn_continual_free(init);
    cn_continual_free(runs[0]);
    cn_continual_free(runs[1]);
    cn_data_free(&d);
    ref_remove_dir(dir);
    return check_summary("torch_continual");
}
