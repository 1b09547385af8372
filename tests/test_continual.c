/* test_continual.c: Online Permuted MNIST (src/continual) on small data built in memory: the task
 * sequence (composed permutations, every example once per task), online accuracy scored before the update,
 * the measurements (effective rank, dead units), continual backprop (maturity, lowest utility replaced,
 * re-drawn incoming and zeroed outgoing weights, bias correction), snp's noise, l2init's pull, the fused
 * fast path against the generic step, determinism and bit-identical resume, divergence, method parsing and
 * out-of-memory failures without leaks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc_hook.h"
#include "check.h"
#include "continual/cbp.h"
#include "continual/metrics.h"
#include "continual/mlp.h"
#include "continual/run.h"
#include "continual/tasks.h"
#include "critnet.h"
#include "net/net_internal.h"

#define SIDE 6 /* 6x6 "images" */
#define NIN (SIDE * SIDE)
#define CLASSES 3

/* Three Gaussian clusters in NIN dimensions, shaped as 1 x SIDE x SIDE images. */
static void make_data(cn_data *d, int ntrain, int ntest, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    cn_rng *r = cn_rng_new(seed);
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
            for (int j = 0; j < NIN; j++) ds->x[(size_t)i * NIN + j] = (cn_real)(mu[y][j] + 0.7 * cn_rng_normal(r));
        }
    }
    snprintf(d->name, sizeof d->name, "clusters");
    cn_rng_free(r);
}

static cn_continual_cfg small_cfg(unsigned methods, int tasks, int examples)
{
    cn_continual_cfg g;
    cn_continual_defaults(&g);
    g.methods = methods;
    g.tasks = tasks;
    g.examples_per_task = examples;
    g.width = 12;
    g.depth = 3;
    g.seed = 7;
    g.lr = 0.01;
    g.probe_samples = 100;
    g.track_samples = 20;
    return g;
}

static cn_continual *make_run(const cn_data *d, const cn_continual_cfg *g)
{
    cn_continual *c = NULL;
    cn_error err = {0};
    int rc = cn_continual_new(&c, d, g, &err);
    CHECK(rc == CN_OK, "cn_continual_new: %s", err.msg);
    return c;
}

static int run_all(cn_continual *c, cn_continual_result *res)
{
    cn_error err = {0};
    int rc = cn_continual_run(c, res, &err);
    CHECK(rc == CN_OK, "cn_continual_run: %s", err.msg);
    return rc;
}

static double max_rel_diff(const cn_real *a, const cn_real *b, size_t n)
{
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    return scale > 0 ? worst / scale : worst;
}

/* ---------------------------------------------------------------- the task sequence */

static void test_permutations(void)
{
    enum { N = 50, COUNT = 30, TASKS = 6 };
    cn_rng *r = cn_rng_new(3), *replay = cn_rng_new(3);
    int32_t perm[N], prev[N], order[COUNT], fresh[N], tmp[N], mine[N], mine_fresh[N], mine_order[COUNT];
    cl_perm_identity(perm, N);
    cl_perm_identity(mine, N);
    for (int t = 1; t <= TASKS; t++) {
        memcpy(prev, perm, sizeof perm);
        cl_task_begin(r, perm, order, fresh, tmp, N, COUNT);
        CHECK(cl_perm_valid(perm, N) == 1, "task %d: the composed pixel map is not a permutation", t);
        CHECK(cl_perm_valid(order, COUNT) == 1, "task %d: the example order is not a permutation: an example is "
                                                "seen twice or never", t);
        CHECK(memcmp(prev, perm, sizeof perm) != 0, "task %d: the permutation did not change", t);
        /* the same draws made by hand: perm_t[j] = perm_{t-1}[fresh_t[j]], fresh then order */
        cl_perm_identity(mine_fresh, N);
        cn_rng_shuffle(replay, mine_fresh, N);
        for (int j = 0; j < N; j++) tmp[j] = mine[mine_fresh[j]];
        memcpy(mine, tmp, sizeof mine);
        cl_perm_identity(mine_order, COUNT);
        cn_rng_shuffle(replay, mine_order, COUNT);
        CHECK(!memcmp(mine, perm, sizeof perm), "task %d: perm is not perm_{t-1} o fresh_t", t);
        CHECK(!memcmp(mine_order, order, sizeof order), "task %d: the order is not the draw after the permutation", t);
    }
    int32_t bad[4] = {0, 2, 2, 3};
    CHECK(cl_perm_valid(bad, 4) == 0, "a repeated index passed as a permutation");
    cn_rng_free(r);
    cn_rng_free(replay);
}

/* Through the run: tasks differ, the same seed gives the same tasks whatever the method, every training
 * example is seen once per task (with lr so small that the weights cannot move, the online accuracy equals
 * the accuracy of the fixed network over the whole permuted training split). */
static void test_task_sequence(void)
{
    cn_data d;
    make_data(&d, 90, 40, 1);
    cn_continual_cfg g = small_cfg(CN_CL_BP, 2, 0);
    g.lr = 1e-30; /* lr g underflows against every weight: the network stays as initialised */
    cn_continual *c = make_run(&d, &g), *ref = make_run(&d, &g);
    cn_continual_cfg gc = small_cfg(CN_CL_CBP | CN_CL_SNP, 2, 0);
    cn_continual *other = make_run(&d, &gc);
    if (!c || !ref || !other) goto done;
    cn_continual_result res = {0}, ores = {0};
    run_all(c, &res);
    int n;
    const int32_t *order = cn_continual_order(c, &n);
    CHECK(n == 90 && cl_perm_valid(order, n) == 1, "the order of the last task is not a permutation of the 90 "
                                                   "examples (n = %d)", n);
    double moved = 0;
    for (size_t i = 0; i < cn_net_param_count(cn_continual_net(c)); i++)
        moved = fmax(moved, fabs((double)cn_net_params(cn_continual_net(c))[i] - cn_net_params(cn_continual_net(ref))[i]));
    CHECK(moved < 1e-20, "lr 1e-30 moved a weight by %g: the accuracy check below would not be exact", moved);
    /* the fixed network's accuracy over the whole training split under the last task's permutation */
    const int32_t *perm = cn_continual_permutation(c);
    cn_net *net = cn_continual_net(ref);
    cn_real x[NIN];
    int hits = 0;
    for (int i = 0; i < d.train.count; i++) {
        cl_permute(x, d.train.x + (size_t)i * NIN, perm, NIN);
        cn_net_forward(net, x, 1, 0);
        int correct;
        cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(net), d.train.y + i, 1, CLASSES, NULL, &correct);
        hits += correct;
    }
    if (res.tasks_done == 2)
        CHECK(fabs(res.rows[1].accuracy - (double)hits / d.train.count) < 1e-12,
              "online accuracy %.6f differs from the accuracy over every example once, %.6f", res.rows[1].accuracy,
              (double)hits / d.train.count);
    /* other methods, same seed: the same task sequence (the streams are separate) */
    run_all(other, &ores);
    CHECK(!memcmp(cn_continual_permutation(other), perm, NIN * sizeof *perm) &&
              !memcmp(cn_continual_order(other, NULL), order, (size_t)n * sizeof *order),
          "cbp,snp with the same seed saw a different task sequence from bp");
    cn_continual_result_free(&res);
    cn_continual_result_free(&ores);
done:
    cn_continual_free(c);
    cn_continual_free(ref);
    cn_continual_free(other);
    cn_data_free(&d);
}

/* The score recorded for an example is that of the prediction before the update on it: find an example
 * that one large step flips from wrong to right, and check that its task records 0, not 1. Both paths. */
static void test_scored_before_update(void)
{
    cn_data d;
    make_data(&d, 40, 20, 2);
    int found = 0;
    for (int fast = 0; fast < 2; fast++)
        for (uint64_t seed = 0; seed < 40 && found <= fast; seed++) {
            cn_continual_cfg g = small_cfg(CN_CL_BP, 1, 1);
            g.seed = seed;
            g.lr = 2.0;
            cn_continual *c = make_run(&d, &g), *before = make_run(&d, &g);
            if (!c || !before) break;
            c->fast = fast;
            cn_continual_result res = {0};
            if (run_all(c, &res) == CN_OK) {
                const int32_t *perm = cn_continual_permutation(c);
                int idx = cn_continual_order(c, NULL)[0];
                cn_real x[NIN];
                cl_permute(x, d.train.x + (size_t)idx * NIN, perm, NIN);
                int pre, post;
                cn_net_forward(cn_continual_net(before), x, 1, 0);
                cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(cn_continual_net(before)), d.train.y + idx, 1, CLASSES,
                        NULL, &pre);
                cn_net_forward(cn_continual_net(c), x, 1, 0);
                cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(cn_continual_net(c)), d.train.y + idx, 1, CLASSES, NULL,
                        &post);
                if (!pre && post) {
                    found++;
                    CHECK(res.rows[0].accuracy == 0, "%s path: the update turned the prediction right, and the "
                                                     "recorded score is %g instead of the pre-update 0",
                          fast ? "fast" : "generic", res.rows[0].accuracy);
                }
            }
            cn_continual_result_free(&res);
            cn_continual_free(c);
            cn_continual_free(before);
        }
    CHECK(found == 2, "no seed gave an example that one step flips from wrong to right (%d found)", found);
    cn_data_free(&d);
}

/* ---------------------------------------------------------------- measurements */

static void test_effective_rank(void)
{
    double er;
    const cn_real diag[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_OK(cl_effective_rank(&er, diag, 4, 4));
    CHECK(fabs(er - 2) < 1e-9, "diag(1,1,0,0): effective rank %.12f, expected 2", er);
    cn_real rank1[3 * 5];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) rank1[i * 5 + j] = (cn_real)((i + 1) * (j - 2.5));
    CHECK_OK(cl_effective_rank(&er, rank1, 3, 5));
    CHECK(fabs(er - 1) < 1e-5, "a rank-1 matrix: effective rank %.9f, expected 1", er);
    /* singular values 3 and 1, hidden by rotations: A = R(a) diag(3, 1) R(b)^T */
    double ca = cos(0.3), sa = sin(0.3), cb = cos(1.1), sb = sin(1.1);
    double U[2][2] = {{ca, -sa}, {sa, ca}}, V[2][2] = {{cb, -sb}, {sb, cb}}, s[2] = {3, 1};
    cn_real A[4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) A[i * 2 + j] = (cn_real)(U[i][0] * s[0] * V[j][0] + U[i][1] * s[1] * V[j][1]);
    double p1 = 0.75, p2 = 0.25, want = exp(-(p1 * log(p1) + p2 * log(p2)));
    CHECK_OK(cl_effective_rank(&er, A, 2, 2));
    CHECK(fabs(er - want) < 1e-6, "singular values (3, 1): effective rank %.9f, expected %.9f", er, want);
    CHECK(fabs(cl_effective_rank_sv(s, 2) - want) < 1e-12, "from singular values: %.12f", cl_effective_rank_sv(s, 2));
    const cn_real zero[6] = {0};
    CHECK_OK(cl_effective_rank(&er, zero, 2, 3));
    CHECK(er == 0, "a zero matrix: effective rank %g, expected 0", er);
}

/* Dead units on a hand-made net: input 2 -> 3 ReLU -> 2 ReLU -> 1. Unit 2 of the first layer has negative
 * weights and bias (dead for the non-negative inputs used); unit 1 of the second layer has bias -100. */
static void test_dead_units(void)
{
    cn_net *net = NULL;
    cn_error err = {0};
    int rc = cn_net_from_spec(&net, "input 2\ndense out=3 act=relu\ndense out=2 act=relu\ndense out=1\n", &err);
    CHECK(rc == CN_OK, "spec: %s", err.msg);
    if (rc) return;
    CHECK_OK(cn_net_reserve(net, 4, 1));
    cn_real *p = cn_net_params(net);
    /* layer 1: W (3,2), b (3) */
    const cn_real l1[] = {1, 0.5, -1, -2, 0.3, 1, 0.1, -0.5, 0.2};
    /* layer 2: W (2,3), b (2) */
    const cn_real l2[] = {1, 1, 1, 0.5, 0.5, 0.5, -100, 0.1};
    /* layer 3: W (1,2), b (1) */
    const cn_real l3[] = {1, 1, 0};
    memcpy(p, l1, sizeof l1);
    memcpy(p + 9, l2, sizeof l2);
    memcpy(p + 17, l3, sizeof l3);
    const cn_real x[8] = {0, 1, 1, 0, 2, 3, 0.5, 0.5};
    int dense[3];
    int nd = cl_mlp_dense(net, dense, 3);
    CHECK(nd == 3, "cl_mlp_dense found %d dense layers", nd);
    double dead, er;
    CHECK_OK(cl_probe_metrics(net, dense, nd, x, 4, 3, &dead, &er));
    CHECK(fabs(dead - 2.0 / 5) < 1e-12, "dead fraction %g, expected 2/5 (one unit in each hidden layer)", dead);
    /* the last hidden layer: unit 0 dead, unit 1 positive on every input: rank 1 */
    CHECK(fabs(er - 1) < 1e-6, "effective rank of the last hidden layer %g, expected 1", er);
    cn_net_free(net);
}

/* ---------------------------------------------------------------- continual backprop */

/* input 4 -> 4 ReLU -> 3: positive inputs and incoming weights keep every hidden unit active */
static cn_net *cbp_net(void)
{
    cn_net *net = NULL;
    cn_error err = {0};
    if (cn_net_from_spec(&net, "input 4\ndense out=4 act=relu\ndense out=3\n", &err)) return NULL;
    cn_net_reserve(net, 1, 1);
    cn_real *p = cn_net_params(net);
    for (int i = 0; i < 16; i++) p[i] = (cn_real)(0.1 + 0.05 * (i % 5));  /* W1 */
    for (int i = 0; i < 4; i++) p[16 + i] = (cn_real)(0.01 * i);        /* b1 */
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 4; i++) p[20 + k * 4 + i] = (cn_real)(i == 2 ? 1e-3 : 0.5 + 0.1 * k); /* W2: unit 2 weak */
    for (int k = 0; k < 3; k++) p[32 + k] = (cn_real)(0.2 * k);         /* b2 */
    return net;
}

static void test_cbp(void)
{
    static const cn_real x[4] = {0.5, 1.0, 0.25, 0.75};
    for (int bc = 1; bc >= 0; bc--) {
        cn_net *net = cbp_net();
        CHECK(net != NULL, "cbp net");
        if (!net) return;
        cn_cbp *cbp = NULL;
        cn_cbp_cfg cfg = {0.25, 0.9, 5, CN_CBP_CONTRIBUTION, bc}; /* 4 eligible units x 0.25: one per step */
        cn_error err = {0};
        CHECK_OK(cn_cbp_new(&cbp, net, &cfg, &err));
        cn_rng *rng = cn_rng_new(5);
        cn_real *p = cn_net_params(net), before[35], out_before[3];
        long replaced = 0;
        for (int s = 0; s < 5; s++) {
            cn_net_forward(net, x, 1, 1);
            replaced += cn_cbp_step(cbp, NULL, rng);
        }
        CHECK(replaced == 0, "%ld units replaced before maturity (age <= 5)", replaced);
        CHECK(cbp->layers[0].age[0] == 5, "age after 5 steps: %lld", (long long)cbp->layers[0].age[0]);
        /* the sixth step makes every unit eligible: the weak one (least contribution) goes */
        memcpy(before, p, sizeof before);
        cn_net_forward(net, x, 1, 1);
        memcpy(out_before, cn_net_output(net), sizeof out_before);
        replaced = cn_cbp_step(cbp, NULL, rng);
        CHECK(replaced == 1, "%ld units replaced at the first mature step, expected 1", replaced);
        CHECK(cbp->layers[0].sel[0] == 2, "replaced unit %d, expected 2 (the lowest utility)", cbp->layers[0].sel[0]);
        int row_changed = 0, in_bound = 1, others_same = 1;
        const double bound = sqrt(6.0 / 4);
        for (int j = 0; j < 4; j++) {
            row_changed |= p[2 * 4 + j] != before[2 * 4 + j];
            in_bound &= fabs(p[2 * 4 + j]) <= bound;
        }
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4 && i != 2; j++) others_same &= p[i * 4 + j] == before[i * 4 + j];
        CHECK(row_changed && in_bound, "the incoming weights of the replaced unit were not re-drawn in "
                                       "U(-sqrt(6/fan_in), sqrt(6/fan_in))");
        CHECK(others_same, "incoming weights of units not replaced changed");
        CHECK(p[16 + 2] == 0, "the replaced unit's bias is %g, expected 0", p[16 + 2]);
        for (int k = 0; k < 3; k++) CHECK(p[20 + k * 4 + 2] == 0, "outgoing weight %d of the replaced unit is %g", k,
                                          p[20 + k * 4 + 2]);
        CHECK(cbp->layers[0].age[2] == 0 && cbp->layers[0].util[2] == 0, "the replaced unit's age/utility not reset");
        /* the same input throughout: the running mean is that input's activation, so with the bias correction
         * the output on it is unchanged, and without it the output moves by the unit's contribution */
        cn_net_forward(net, x, 1, 1);
        double worst = 0;
        for (int k = 0; k < 3; k++) worst = fmax(worst, fabs(cn_net_output(net)[k] - out_before[k]));
        if (bc) CHECK(worst < 1e-6, "with the bias correction the output on the mean input moved by %g", worst);
        else CHECK(worst > 1e-5, "without the bias correction the output did not move (%g): the check above could not fail", worst);
        cn_rng_free(rng);
        cn_cbp_free(cbp);
        cn_net_free(net);
    }
    /* the owed fraction accumulates: 4 eligible units at rate 1/8 owe 0.5 a step: 5 replacements in 10 steps */
    cn_net *net = cbp_net();
    cn_cbp *cbp = NULL;
    cn_cbp_cfg cfg = {0.125, 0.9, 0, CN_CBP_ADAPTABLE_CONTRIBUTION, 1};
    CHECK_OK(cn_cbp_new(&cbp, net, &cfg, NULL));
    cn_rng *rng = cn_rng_new(6);
    long replaced = 0;
    for (int s = 0; s < 10 && cbp; s++) {
        cn_net_forward(net, x, 1, 1);
        replaced += cn_cbp_step(cbp, NULL, rng);
    }
    CHECK(replaced == 5, "%ld replacements in 10 steps at 0.5 owed a step, expected 5", replaced);
    cn_rng_free(rng);
    cn_cbp_free(cbp);
    cn_net_free(net);
    /* refused settings */
    net = cbp_net();
    cn_cbp_cfg badrate = {1.5, 0.9, 1, CN_CBP_CONTRIBUTION, 1}, baddecay = {0.1, 1.0, 1, CN_CBP_CONTRIBUTION, 1};
    CHECK(cn_cbp_new(&cbp, net, &badrate, NULL) == CN_ERR_ARG, "replacement rate 1.5 accepted");
    CHECK(cn_cbp_new(&cbp, net, &baddecay, NULL) == CN_ERR_ARG, "utility decay 1 accepted");
    cn_net_free(net);
}

/* ---------------------------------------------------------------- snp and l2init */

static void test_snp_noise(void)
{
    cn_data d;
    make_data(&d, 60, 20, 3);
    enum { STEPS = 50 };
    for (int fast = 0; fast < 2; fast++) {
        cn_continual_cfg g = small_cfg(CN_CL_SNP, 1, STEPS);
        g.lr = 1e-30;        /* no gradient step: what moves the weights is the noise alone */
        g.weight_decay = 0;
        g.noise_std = 0.01;
        g.width = 40;
        cn_continual *c = make_run(&d, &g), *init = make_run(&d, &g);
        if (c && init) {
            c->fast = fast;
            cn_continual_result res = {0};
            run_all(c, &res);
            const cn_real *p = cn_net_params(cn_continual_net(c)), *p0 = cn_net_params(cn_continual_net(init));
            size_t n = cn_net_param_count(cn_continual_net(c));
            double sum = 0, sq = 0;
            for (size_t i = 0; i < n; i++) {
                double dlt = (double)p[i] - p0[i];
                sum += dlt;
                sq += dlt * dlt;
            }
            double mean = sum / n, sd = sqrt(sq / n - mean * mean), want = g.noise_std * sqrt((double)STEPS);
            /* n ~ 4,900 draws: the sample sd is within 5% of the truth with overwhelming probability */
            CHECK(fabs(sd / want - 1) < 0.05, "snp (%s path): sd of the change after %d steps %.5f, expected std "
                                              "sqrt(steps) = %.5f", fast ? "fast" : "generic", STEPS, sd, want);
            CHECK(fabs(mean) < 4 * want / sqrt((double)n), "snp: the noise has mean %.2e", mean);
            cn_continual_result_free(&res);
        }
        cn_continual_free(c);
        cn_continual_free(init);
    }
    cn_data_free(&d);
}

/* One step with l2init minus the same step without it, from the same displaced weights, is
 * -lr dR/dtheta of R = lambda |theta - theta0|^2; dR/dtheta is checked against central differences of R. */
static void test_l2init(void)
{
    cn_data d;
    make_data(&d, 30, 20, 4);
    for (int fast = 0; fast < 2; fast++) {
        cn_continual_cfg ga = small_cfg(CN_CL_BP, 1, 1), gb = small_cfg(CN_CL_L2INIT, 1, 1);
        ga.lr = gb.lr = 0.1;
        gb.l2init_weight = 0.5;
        cn_continual *a = make_run(&d, &ga), *b = make_run(&d, &gb);
        if (!a || !b) break;
        a->fast = b->fast = fast;
        cn_net *na = cn_continual_net(a), *nb = cn_continual_net(b);
        size_t n = cn_net_param_count(na);
        cn_rng *r = cn_rng_new(9);
        for (size_t i = 0; i < n; i++) { /* move both away from theta0 alike */
            cn_real delta = (cn_real)(0.05 * cn_rng_normal(r));
            cn_net_params(na)[i] += delta;
            cn_net_params(nb)[i] += delta;
        }
        cn_rng_free(r);
        cn_real *start = malloc(n * sizeof *start);
        memcpy(start, cn_net_params(nb), n * sizeof *start);
        cn_continual_result ra = {0}, rb = {0};
        run_all(a, &ra);
        run_all(b, &rb);
        double worst = 0, worst_fd = 0;
        for (size_t i = 0; i < n; i++) {
            double pull = ((double)cn_net_params(nb)[i] - cn_net_params(na)[i]) / -gb.lr; /* observed dR/dtheta_i */
            double t = start[i], t0 = b->theta0[i], h = 1e-4, lam = gb.l2init_weight;
            double fd = (lam * (t + h - t0) * (t + h - t0) - lam * (t - h - t0) * (t - h - t0)) / (2 * h);
            worst = fmax(worst, fabs(pull - fd));
            worst_fd = fmax(worst_fd, fabs(fd));
        }
        CHECK(worst < 1e-3 * worst_fd + 1e-5, "%s path: l2init's pull differs from the central difference of "
                                              "lambda |theta - theta0|^2 by %.3e (scale %.3e)",
              fast ? "fast" : "generic", worst, worst_fd);
        CHECK(worst_fd > 1e-3, "the displacement was too small for the check to mean anything");
        free(start);
        cn_continual_result_free(&ra);
        cn_continual_result_free(&rb);
        cn_continual_free(a);
        cn_continual_free(b);
    }
    cn_data_free(&d);
}

/* ---------------------------------------------------------------- fast path, determinism, resume */

static void test_fast_matches_generic(void)
{
    cn_data d;
    make_data(&d, 300, 50, 5);
    const unsigned sets[] = {CN_CL_BP, CN_CL_L2, CN_CL_SNP, CN_CL_CBP, CN_CL_L2INIT, CN_CL_SNP | CN_CL_L2INIT | CN_CL_CBP};
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
        cn_continual_cfg g = small_cfg(sets[k], 1, 300);
        g.replacement_rate = 0.01;
        g.maturity = 20;
        g.weight_decay = 1e-3;
        cn_continual *a = make_run(&d, &g), *b = make_run(&d, &g);
        if (!a || !b) break;
        CHECK(a->fast == 1, "methods %#x do not take the fast path", sets[k]);
        b->fast = 0;
        cn_continual_result ra = {0}, rb = {0};
        run_all(a, &ra);
        run_all(b, &rb);
        size_t n = cn_net_param_count(cn_continual_net(a));
        double diff = max_rel_diff(cn_net_params(cn_continual_net(a)), cn_net_params(cn_continual_net(b)), n);
        char name[64];
        cn_continual_methods_name(name, sizeof name, sets[k]);
        printf("  fast vs generic, %-16s 300 steps: max |diff| / max |w| = %.2e, online accuracy %.4f vs %.4f\n", name,
               diff, ra.rows ? ra.rows[0].accuracy : NAN, rb.rows ? rb.rows[0].accuracy : NAN);
        CHECK(diff < 1e-4, "%s: fast and generic paths differ by %.3e after 300 steps", name, diff);
        if (ra.rows && rb.rows)
            CHECK(fabs(ra.rows[0].accuracy - rb.rows[0].accuracy) <= 1.0 / 300 + 1e-12,
                  "%s: online accuracy %.4f (fast) vs %.4f (generic)", name, ra.rows[0].accuracy, rb.rows[0].accuracy);
        cn_continual_result_free(&ra);
        cn_continual_result_free(&rb);
        cn_continual_free(a);
        cn_continual_free(b);
    }
    cn_data_free(&d);
}

static char g_dir[64];

/* field by field: the struct's padding is not part of a row */
static int rows_equal(const cn_continual_row *a, const cn_continual_row *b, int n)
{
    for (int t = 0; t < n; t++) {
        const double va[7] = {a[t].accuracy, a[t].loss, a[t].dead_fraction, a[t].mean_abs_weight, a[t].effective_rank,
                              a[t].sigma, a[t].lambda0};
        const double vb[7] = {b[t].accuracy, b[t].loss, b[t].dead_fraction, b[t].mean_abs_weight, b[t].effective_rank,
                              b[t].sigma, b[t].lambda0};
        if (a[t].task != b[t].task || a[t].replaced != b[t].replaced || memcmp(va, vb, sizeof va)) return 0;
    }
    return 1;
}

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return (int)n;
}

/* 3 tasks straight vs 1 task, checkpoint, restore into a fresh object, the rest: bit-identical weights,
 * rows and tasks.csv; and two straight runs are identical. Methods with state of every kind. */
static void test_resume(void)
{
    cn_data d;
    make_data(&d, 120, 40, 6);
    const unsigned sets[] = {CN_CL_CBP | CN_CL_SNP, CN_CL_ADAM | CN_CL_L2INIT | CN_CL_CBP, CN_CL_CRIT | CN_CL_L2};
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++) {
        char da[128], db[128], pa[160], pb[160];
        snprintf(da, sizeof da, "%s/a%zu", g_dir, k);
        snprintf(db, sizeof db, "%s/b%zu", g_dir, k);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "mkdir -p %s %s", da, db);
        if (system(cmd) != 0) break;
        cn_continual_cfg g = small_cfg(sets[k], 3, 120);
        g.replacement_rate = 0.02;
        g.maturity = 10;
        g.settings = "{\"test\":1}";
        g.out_dir = da;
        cn_continual *a = make_run(&d, &g);
        g.out_dir = db;
        g.stop_after = 1;
        cn_continual *b = make_run(&d, &g);
        if (!a || !b) break;
        cn_continual_result ra = {0}, rb = {0}, rb2 = {0};
        run_all(a, &ra);
        run_all(b, &rb);
        CHECK(rb.tasks_done == 1, "stop_after 1 ran %d tasks", rb.tasks_done);
        cn_continual_free(b);
        cn_checkpoint ck;
        cn_error err = {0};
        snprintf(pb, sizeof pb, "%s/model.cnm", db);
        int rc = cn_checkpoint_load(&ck, pb, &err);
        CHECK(rc == CN_OK && ck.ext_size > 0 && ck.epoch == 1, "checkpoint after 1 task: %s (epoch %d)", err.msg,
              ck.epoch);
        g.stop_after = 0;
        b = make_run(&d, &g);
        if (rc == CN_OK && b) {
            rc = cn_continual_restore(b, &ck, &err);
            CHECK(rc == CN_OK, "restore: %s", err.msg);
            run_all(b, &rb2);
            size_t n = cn_net_param_count(cn_continual_net(a));
            CHECK(!memcmp(cn_net_params(cn_continual_net(a)), cn_net_params(cn_continual_net(b)), n * sizeof(cn_real)),
                  "methods %#x: the resumed run's weights are not bit-identical", sets[k]);
            CHECK(rb2.tasks_done == 3 && ra.tasks_done == 3 && rows_equal(ra.rows, rb2.rows, 3),
                  "methods %#x: the resumed run's rows differ", sets[k]);
            static char ta[1 << 14], tb[1 << 14];
            snprintf(pa, sizeof pa, "%s/tasks.csv", da);
            snprintf(pb, sizeof pb, "%s/tasks.csv", db);
            int la = read_file(pa, ta, sizeof ta), lb = read_file(pb, tb, sizeof tb);
            CHECK(la > 0 && la == lb && !memcmp(ta, tb, (size_t)la), "methods %#x: tasks.csv differs after resume",
                  sets[k]);
        }
        /* a second straight run: the same numbers */
        g.out_dir = NULL;
        cn_continual *a2 = make_run(&d, &g);
        cn_continual_result ra2 = {0};
        if (a2 && run_all(a2, &ra2) == CN_OK)
            CHECK(ra.tasks_done == 3 && rows_equal(ra.rows, ra2.rows, 3), "methods %#x: the same seed gave other rows",
                  sets[k]);
        cn_continual_free(a2);
        cn_continual_result_free(&ra2);
        cn_checkpoint_free(&ck);
        cn_continual_result_free(&ra);
        cn_continual_result_free(&rb);
        cn_continual_result_free(&rb2);
        cn_continual_free(a);
        cn_continual_free(b);
    }
    cn_data_free(&d);
}

/* ---------------------------------------------------------------- failures */

static void test_divergence(void)
{
    cn_data d;
    make_data(&d, 200, 30, 7);
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/div", g_dir);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0) return;
    cn_continual_cfg g = small_cfg(CN_CL_BP, 3, 200);
    g.lr = 1e6; /* overflows within a few steps */
    g.out_dir = dir;
    cn_continual *c = make_run(&d, &g);
    if (c) {
        cn_continual_result res = {0};
        cn_error err = {0};
        int rc = cn_continual_run(c, &res, &err);
        CHECK(rc == CN_ERR_NONFINITE && res.diverged, "lr 1e6: status %d, diverged %d", rc, res.diverged);
        CHECK(strstr(err.msg, "task 1") && strstr(err.msg, "step"), "the message names no task and step: %s", err.msg);
        cn_checkpoint ck;
        snprintf(path, sizeof path, "%s/model.cnm", dir);
        CHECK(cn_checkpoint_load(&ck, path, NULL) == CN_OK && ck.epoch == 0,
              "the last good checkpoint (before task 1) is not in place");
        cn_checkpoint_free(&ck);
        cn_continual_result_free(&res);
    }
    cn_continual_free(c);
    cn_data_free(&d);
}

static void test_methods_and_settings(void)
{
    unsigned m;
    cn_error err = {0};
    CHECK(cn_continual_methods_parse(&m, "crit,l2", &err) == CN_OK && m == (CN_CL_CRIT | CN_CL_L2), "crit,l2: %s",
          err.msg);
    char name[64];
    cn_continual_methods_name(name, sizeof name, m);
    CHECK(!strcmp(name, "l2,crit"), "canonical name %s", name);
    cn_continual_methods_name(name, sizeof name, CN_CL_BP);
    CHECK(!strcmp(name, "bp"), "canonical name of bp: %s", name);
    const struct {
        const char *list, *why;
    } bad[] = {{"bp,adam", "optimizers"}, {"snp,l2", "weight decay"}, {"l2,l2init", "l2init"},
               {"sgd", "unknown method"}, {"cbp,cbp", "twice"}, {"", "empty"}, {"bp,", "unknown"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        int rc = cn_continual_methods_parse(&m, bad[i].list, &err);
        CHECK(rc == CN_ERR_ARG && strstr(err.msg, bad[i].why), "--method '%s': status %d, message '%s'", bad[i].list,
              rc, err.msg);
    }
    cn_data d;
    make_data(&d, 20, 10, 8);
    cn_continual *c = NULL;
    cn_continual_cfg g = small_cfg(CN_CL_BP, 0, 0);
    CHECK(cn_continual_new(&c, &d, &g, &err) == CN_ERR_ARG && strstr(err.msg, "--tasks"), "0 tasks: %s", err.msg);
    g = small_cfg(CN_CL_CBP, 1, 0);
    g.replacement_rate = 2;
    CHECK(cn_continual_new(&c, &d, &g, &err) == CN_ERR_ARG && strstr(err.msg, "replacement"), "rate 2: %s", err.msg);
    g = small_cfg(CN_CL_BP, 1, 21);
    CHECK(cn_continual_new(&c, &d, &g, &err) == CN_ERR_ARG && strstr(err.msg, "examples"), "21 of 20: %s", err.msg);
    g = small_cfg(CN_CL_BP | CN_CL_ADAM, 1, 0);
    CHECK(cn_continual_new(&c, &d, &g, &err) == CN_ERR_ARG, "bp and adam bits accepted");
    CHECK(c == NULL, "a refused run left an object behind");
    /* the initialisation: Kaiming uniform, readout with gain 1, zero biases */
    g = small_cfg(CN_CL_BP, 1, 0);
    g.width = 200;
    c = make_run(&d, &g);
    if (c) {
        cn_net *net = cn_continual_net(c);
        double maxh = 0, maxo = 0, maxb = 0;
        for (int d2 = 0; d2 < c->ndense; d2++) {
            const cn_layer *L = net->chain.layers[c->dense[d2]];
            size_t nw = L->nparams - L->nbias;
            for (size_t i = 0; i < L->nparams; i++) {
                double v = fabs((double)L->p[i]);
                if (i >= nw) maxb = fmax(maxb, v);
                else if (d2 == c->ndense - 1) maxo = fmax(maxo, v);
                else if (d2 == 1) maxh = fmax(maxh, v);
            }
        }
        CHECK(maxh <= sqrt(6.0 / 200) && maxh > 0.95 * sqrt(6.0 / 200), "hidden weights reach %g, bound sqrt(6/200)", maxh);
        CHECK(maxo <= sqrt(3.0 / 200) * 1.000001 && maxo > 0.9 * sqrt(3.0 / 200),
              "readout weights reach %g, bound sqrt(3/200) (gain 1)", maxo);
        CHECK(maxb == 0, "biases are not zero (%g)", maxb);
    }
    cn_continual_free(c);
    cn_data_free(&d);
}

/* crit at batch 1: a step whose example leaves a block with no active unit has no defined R; the run goes on
 * with the task loss alone for that step and counts it, and the regulariser still acts on the other steps. */
static void test_crit_degenerate_steps(void)
{
    cn_data d;
    make_data(&d, 200, 20, 10);
    cn_continual_cfg g = small_cfg(CN_CL_CRIT, 1, 200);
    g.width = 2; /* two units: both off for an example now and then */
    cn_continual *c = make_run(&d, &g);
    if (c) {
        cn_continual_result res = {0};
        int rc = run_all(c, &res);
        CHECK(rc == CN_OK && c->crit_skipped > 0 && c->crit_skipped < 200,
              "crit at width 2: status %d, %ld of 200 steps without R (expected some, not all)", rc, c->crit_skipped);
        cn_continual_result_free(&res);
    }
    cn_continual_free(c);
    cn_data_free(&d);
}

/* the offset of the first task row in a continual state: after the permutation and the two random streams */
static size_t row_at(const unsigned char *ext, size_t perm_at)
{
    uint32_t n_in;
    memcpy(&n_in, ext + perm_at - 4, 4); /* little-endian, as every machine this runs on */
    size_t at = perm_at + 4 * (size_t)n_in;
    for (int k = 0; k < 2; k++) {
        uint64_t n;
        memcpy(&n, ext + at, 8);
        at += 8 + (size_t)n;
    }
    return at + 4; /* the row count */
}

/* A checkpoint whose continual state was damaged (the CRC fixed up, as if written so) is refused by restore. */
static void test_bad_state(void)
{
    cn_data d;
    make_data(&d, 40, 20, 11);
    char dir[128], path[160];
    snprintf(dir, sizeof dir, "%s/state", g_dir);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0) return;
    cn_continual_cfg g = small_cfg(CN_CL_CBP, 2, 20);
    g.out_dir = dir;
    g.stop_after = 1;
    cn_continual *c = make_run(&d, &g);
    cn_continual_result res = {0};
    if (c) run_all(c, &res);
    cn_continual_result_free(&res);
    cn_continual_free(c);
    snprintf(path, sizeof path, "%s/model.cnm", dir);
    cn_checkpoint ck;
    cn_error err = {0};
    if (cn_checkpoint_load(&ck, path, &err) != CN_OK) {
        CHECK(0, "%s", err.msg);
        cn_data_free(&d);
        return;
    }
    unsigned char *ext = ck.ext;
    const size_t perm_at = 8 + 4 + 4 + 4 + 8 + 8 + 4; /* magic, version, methods, done, steps, skipped, n_in */
    struct {
        const char *what, *want;
        size_t at;
        unsigned char value;
    } damage[] = {{"a repeated pixel in the permutation", "permutation", perm_at + 4, 0},
                  {"another method", "methods", 12, 0x01},
                  {"the magic", "not the state", 0, 'X'},
                  {"another version", "version 9", 8, 9},
                  {"an accuracy above 1", "online accuracy", row_at(ext, perm_at) + 4 + 7, 0x40},
                  {"more steps skipped than made", "skipped", 8 + 4 + 4 + 4 + 8 + 7, 0x7f}};
    g.stop_after = 0;
    for (size_t k = 0; k < sizeof damage / sizeof *damage; k++) {
        unsigned char saved[4];
        memcpy(saved, ext + damage[k].at, 4);
        if (damage[k].at == perm_at + 4) memcpy(ext + perm_at + 4, ext + perm_at, 4); /* pixel 1 := pixel 0 */
        else ext[damage[k].at] = damage[k].value;
        c = make_run(&d, &g);
        err.msg[0] = 0;
        int rc = c ? cn_continual_restore(c, &ck, &err) : -1;
        CHECK(rc == CN_ERR_FORMAT && strstr(err.msg, damage[k].want), "%s: status %d, '%s'", damage[k].what, rc,
              err.msg);
        cn_continual_free(c);
        memcpy(ext + damage[k].at, saved, 4);
    }
    /* cut short anywhere: refused, never read past its end */
    size_t keep = ck.ext_size;
    for (size_t cut = 1; cut < keep; cut += 1 + cut / 3) {
        ck.ext_size = keep - cut;
        c = make_run(&d, &g);
        err.msg[0] = 0;
        int rc = c ? cn_continual_restore(c, &ck, &err) : -1;
        CHECK(rc == CN_ERR_FORMAT, "the state cut short by %zu bytes: status %d, '%s'", cut, rc, err.msg);
        cn_continual_free(c);
    }
    /* a checkpoint of critnet train (no extension) */
    ck.ext_size = 0;
    c = make_run(&d, &g);
    CHECK(c && cn_continual_restore(c, &ck, &err) == CN_ERR_FORMAT, "a checkpoint without continual state restored");
    cn_continual_free(c);
    ck.ext_size = keep;
    cn_checkpoint_free(&ck);
    cn_data_free(&d);
}

/* Every allocation of new + run (+ a checkpoint) made to fail in turn: CN_ERR_NOMEM, nothing left live. */
static void test_out_of_memory(void)
{
    cn_data d;
    make_data(&d, 30, 12, 9);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/oom", g_dir);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    if (system(cmd) != 0) return;
    cn_continual_cfg g = small_cfg(CN_CL_CBP | CN_CL_L2INIT | CN_CL_SNP, 2, 10);
    g.width = 6;
    g.out_dir = dir;
    g.settings = "{}";
    long total = 0;
    int bad_status = 0, leaks = 0;
    for (long k = 1;; k++) {
        hook_install(k);
        cn_continual *c = NULL;
        cn_continual_result res = {0};
        int rc = cn_continual_new(&c, &d, &g, NULL);
        if (!rc) rc = cn_continual_run(c, &res, NULL);
        cn_continual_result_free(&res);
        cn_continual_free(c);
        long live = g_stats.live, failed = g_stats.failed;
        cn_set_allocator(NULL);
        if (!failed) { /* every allocation succeeded: the sweep is over */
            total = k - 1;
            CHECK(rc == CN_OK, "the run without a failed allocation returned %d", rc);
            break;
        }
        if (rc != CN_ERR_NOMEM && !bad_status++) CHECK(0, "allocation %ld failed: status %d, not CN_ERR_NOMEM", k, rc);
        if (live && !leaks++) CHECK(0, "allocation %ld failed: %ld blocks leaked", k, live);
    }
    printf("  out of memory: %ld allocations, each made to fail once\n", total);
    CHECK(total > 20, "only %ld allocations: the sweep did not reach the run", total);
    cn_data_free(&d);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/critnet_continual_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    cn_set_threads(1);
    test_permutations();
    test_task_sequence();
    test_scored_before_update();
    test_effective_rank();
    test_dead_units();
    test_cbp();
    test_snp_noise();
    test_l2init();
    test_fast_matches_generic();
    test_resume();
    test_divergence();
    test_methods_and_settings();
    test_crit_degenerate_steps();
    test_bad_state();
    test_out_of_memory();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return check_summary("continual");
}
