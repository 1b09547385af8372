/* test_measure_threads.c: cn_measure with its inputs split across threads (src/measure/measure.c). The same
 * thread count gives the same bits; with a shared Q0 the spectrum, the local exponents, the activity and a
 * contrast dynamic range (none of which draws random numbers) agree with one thread's to rounding; sigma,
 * whose probes come from each thread's own stream, agrees within its error; uneven shares, more threads
 * than inputs, batch-norm state (the copies must carry it) and the caller's net left as it was. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"

enum { IN = 24, N = 37, K = 6 };

static const char *SPEC = "input 24\n"
                          "dense out=40\n"
                          "batchnorm act=tanh\n"
                          "residual\n"
                          "dense out=40 act=tanh\n"
                          "dense out=40\n"
                          "end\n"
                          "dense out=32 act=tanh\n"
                          "dense out=32 act=relu\n"
                          "dense out=10\n";

typedef struct {
    int calls;
    double last;
} progress_log;

static void on_progress(double done, double total, void *user)
{
    progress_log *p = user;
    p->calls++;
    if (done > p->last) p->last = done;
    (void)total;
}

static int run(cn_net *net, const cn_real *x, int n, const cn_real *q0, int threads, cn_measure_result *r,
               progress_log *log)
{
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.spectrum = K;
    cfg.probes = 4;
    cfg.batch = 8;
    cfg.seed = 5;
    cfg.q0 = q0;
    cfg.dynamic_range = 1;
    cfg.dr_points = 12;
    cfg.dr_stimulus = CN_STIM_CONTRAST;
    cfg.progress = on_progress;
    cfg.user = log;
    cn_error err = {0};
    cn_set_threads(threads);
    int rc = cn_measure(net, x, n, &cfg, r, &err);
    cn_set_threads(1);
    if (rc) fprintf(stderr, "cn_measure, %d threads: %s\n", threads, err.msg);
    return rc;
}

static double max_diff(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++) m = fabs(a[i] - b[i]) > m ? fabs(a[i] - b[i]) : m;
    return m;
}

static int same_bits(const cn_measure_result *a, const cn_measure_result *b)
{
    int L = a->nblocks, k = a->k;
    return a->sigma == b->sigma && a->sigma_se == b->sigma_se && a->degenerate == b->degenerate &&
           !memcmp(a->spectrum, b->spectrum, k * sizeof(double)) &&
           !memcmp(a->spectrum_se, b->spectrum_se, k * sizeof(double)) &&
           !memcmp(a->local_exponents, b->local_exponents, (size_t)L * k * sizeof(double)) &&
           !memcmp(a->sigma_block, b->sigma_block, L * sizeof(double)) &&
           !memcmp(a->activity, b->activity, (L + 1) * sizeof(double)) &&
           !memcmp(a->dr_F, b->dr_F, a->dr_n * sizeof(double));
}

int main(void)
{
    cn_net *net = NULL;
    cn_error err = {0};
    if (cn_net_from_spec(&net, SPEC, &err)) {
        fprintf(stderr, "spec: %s\n", err.msg);
        return 1;
    }
    cn_rng *rng = cn_rng_new(3);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1.5, .sigma_b = 0.1};
    CHECK_OK(cn_net_init(net, &init, rng));
    /* running statistics away from their defaults, so that a copy without them would measure another net */
    for (size_t i = 0; i < cn_net_state_count(net); i++) cn_net_state(net)[i] = (cn_real)(0.5 + cn_rng_uniform(rng));
    cn_real *x = malloc((size_t)N * IN * sizeof *x), q0[K * IN];
    for (int i = 0; i < N * IN; i++) x[i] = (cn_real)cn_rng_normal(rng);
    /* Q0: orthonormal rows by Gram-Schmidt in double */
    double g[K * IN];
    for (int j = 0; j < K; j++) {
        for (int i = 0; i < IN; i++) g[j * IN + i] = cn_rng_normal(rng);
        for (int l = 0; l < j; l++) {
            double d = 0;
            for (int i = 0; i < IN; i++) d += g[j * IN + i] * g[l * IN + i];
            for (int i = 0; i < IN; i++) g[j * IN + i] -= d * g[l * IN + i];
        }
        double nn = 0;
        for (int i = 0; i < IN; i++) nn += g[j * IN + i] * g[j * IN + i];
        for (int i = 0; i < IN; i++) g[j * IN + i] /= sqrt(nn);
        for (int i = 0; i < IN; i++) q0[j * IN + i] = (cn_real)g[j * IN + i];
    }
    size_t np = cn_net_param_count(net);
    cn_real *params0 = malloc(np * sizeof *params0);
    memcpy(params0, cn_net_params(net), np * sizeof *params0);

    cn_measure_result one, two, two_again, four, tiny;
    progress_log p1 = {0}, p2 = {0}, p2b = {0}, p4 = {0}, pt = {0};
    CHECK_OK(run(net, x, N, q0, 1, &one, &p1));
    CHECK_OK(run(net, x, N, q0, 2, &two, &p2));
    CHECK_OK(run(net, x, N, q0, 2, &two_again, &p2b));
    CHECK_OK(run(net, x, N, q0, 4, &four, &p4));
    CHECK_OK(run(net, x, 2, q0, 3, &tiny, &pt)); /* 3 threads, 2 inputs: one each */
    int L = one.nblocks;
    printf("lambda_0: 1 thread %+.7f, 2 threads %+.7f, 4 threads %+.7f; sigma %.5f +- %.5f, %.5f +- %.5f\n",
           one.lambda_max, two.lambda_max, four.lambda_max, one.sigma, one.sigma_se, two.sigma, two.sigma_se);

    CHECK(same_bits(&two, &two_again), "2 threads: two calls differ");
    CHECK(!memcmp(params0, cn_net_params(net), np * sizeof *params0), "the caller's parameters changed");
    /* no random numbers in these: equal to float rounding, summed in another order */
    const double tol = 1e-5;
    const cn_measure_result *multi[2] = {&two, &four};
    for (int m = 0; m < 2; m++) {
        const cn_measure_result *r = multi[m];
        double ds = max_diff(one.spectrum, r->spectrum, K), dl = max_diff(one.local_exponents, r->local_exponents, L * K);
        double da = max_diff(one.activity, r->activity, L + 1), dd = max_diff(one.dr_F, r->dr_F, one.dr_n);
        printf("%d threads vs 1: spectrum %.1e, local exponents %.1e, activity %.1e, dynamic range %.1e\n",
               m ? 4 : 2, ds, dl, da, dd);
        CHECK(ds <= tol && dl <= tol, "%d threads: spectrum off by %g, local exponents by %g", m ? 4 : 2, ds, dl);
        CHECK(da <= tol * one.activity[L] && dd <= tol, "%d threads: activity off by %g, F by %g", m ? 4 : 2, da, dd);
        CHECK(r->inputs == N && r->degenerate == 0, "%d threads: %d inputs, %ld degenerate", m ? 4 : 2, r->inputs,
              r->degenerate);
        /* sigma: other probes for the other shares, so within the error of the difference */
        double dsig = fabs(log(r->sigma) - log(one.sigma));
        double se = hypot(r->sigma_se / r->sigma, one.sigma_se / one.sigma);
        CHECK(dsig <= 4 * se, "%d threads: ln sigma differs by %g (se %g)", m ? 4 : 2, dsig, se);
    }
    CHECK(!same_bits(&one, &two), "2 threads: sigma's probes should come from two streams");
    /* progress: every batch reported once, the last report at all the inputs (18 + 19 in batches of 8: 3 + 3) */
    CHECK(p1.calls == 5 && p1.last == N, "1 thread: %d progress calls, last %g", p1.calls, p1.last);
    CHECK(p2.calls == 6 && p2.last == N, "2 threads: %d progress calls, last %g", p2.calls, p2.last);
    CHECK(tiny.inputs == 2 && pt.last == 2 && isfinite(tiny.lambda_max), "2 inputs on 3 threads: %d inputs, %g",
          tiny.inputs, tiny.lambda_max);

    cn_measure_result_free(&one);
    cn_measure_result_free(&two);
    cn_measure_result_free(&two_again);
    cn_measure_result_free(&four);
    cn_measure_result_free(&tiny);
    free(params0);
    free(x);
    cn_rng_free(rng);
    cn_net_free(net);
    return check_summary("test_measure_threads");
}
