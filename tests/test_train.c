/* test_train.c: cn_train on small separable data built in memory: the loss falls and accuracy beats chance;
 * runs are deterministic for a seed; a run stopped after 2 epochs, checkpointed, loaded and resumed ends
 * bit-identical to 4 epochs straight (SGD momentum, Adam, AdamW with a cosine schedule, dropout, batch norm);
 * divergence and NaN inputs stop training with CN_ERR_NONFINITE and keep the last good checkpoint; and the
 * optimizers follow PyTorch's update formulas step by step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "critnet.h"

#define DIM 8
#define CLASSES 3

static char g_dir[64];

/* Three Gaussian clusters with well-separated centres: linearly separable in practice. */
static void make_data(cn_data *d, int ntrain, int ntest, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    cn_rng *r = cn_rng_new(seed);
    double mu[CLASSES][DIM];
    for (int c = 0; c < CLASSES; c++)
        for (int j = 0; j < DIM; j++) mu[c][j] = 1.5 * cn_rng_normal(r);
    cn_dataset *sets[2] = {&d->train, &d->test};
    int counts[2] = {ntrain, ntest};
    for (int s = 0; s < 2; s++) {
        cn_dataset *ds = sets[s];
        ds->count = counts[s];
        ds->c = DIM;
        ds->h = ds->w = 1;
        ds->classes = CLASSES;
        ds->x = cn_malloc((size_t)counts[s] * DIM * sizeof *ds->x);
        ds->y = cn_malloc((size_t)counts[s] * sizeof *ds->y);
        for (int i = 0; i < counts[s]; i++) {
            int y = (int)cn_rng_below(r, CLASSES);
            ds->y[i] = y;
            for (int j = 0; j < DIM; j++) ds->x[(size_t)i * DIM + j] = (cn_real)(mu[y][j] + cn_rng_normal(r));
        }
    }
    snprintf(d->name, sizeof d->name, "clusters");
    cn_rng_free(r);
}

static cn_net *make_net(const char *spec, uint64_t init_seed)
{
    cn_net *net = NULL;
    cn_error err = {0};
    int rc = cn_net_from_spec(&net, spec, &err);
    CHECK(rc == CN_OK, "spec: %s", err.msg);
    if (rc) return NULL;
    cn_rng *r = cn_rng_new(init_seed);
    cn_init init = {.kind = CN_INIT_TORCH};
    CHECK_OK(cn_net_init(net, &init, r));
    cn_rng_free(r);
    return net;
}

static cn_optim_cfg sgd_cfg(double lr)
{
    return (cn_optim_cfg){.kind = CN_OPT_SGD, .lr = lr, .momentum = 0.9, .step_size = 1, .gamma = 0.1};
}

static cn_train_cfg train_cfg(int epochs, cn_optim_cfg oc)
{
    return (cn_train_cfg){.epochs = epochs, .batch = 16, .seed = 1, .loss = CN_LOSS_CROSS_ENTROPY, .optim = oc,
                          .settings = "{\"test\":\"train\"}"};
}

static void dir_path(char *out, size_t cap, const char *sub, const char *file)
{
    if (file) snprintf(out, cap, "%s/%s/%s", g_dir, sub, file);
    else snprintf(out, cap, "%s/%s", g_dir, sub);
}

static void make_subdir(const char *sub)
{
    char p[160];
    dir_path(p, sizeof p, sub, NULL);
    mkdir(p, 0777);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

/* metrics.csv without its last (seconds) column */
static char *metrics_without_seconds(const char *path)
{
    char *s = slurp(path);
    if (!s) return NULL;
    char *out = malloc(strlen(s) + 1), *o = out;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        char *comma = strrchr(line, ',');
        size_t n = comma ? (size_t)(comma - line) : strlen(line);
        memcpy(o, line, n);
        o += n;
        *o++ = '\n';
    }
    *o = 0;
    free(s);
    return out;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* ---------------------------------------------------------------- (a) learning */

typedef struct {
    int epochs_seen, steps_seen, bad_steps;
    double loss[16], acc[16];
} progress_log;

static void on_progress(const cn_train_progress *p, void *user)
{
    progress_log *log = user;
    if (p->done) {
        if (p->epoch < 16) {
            log->loss[p->epoch] = p->train_loss;
            log->acc[p->epoch] = p->test_acc;
        }
        log->epochs_seen++;
    } else {
        log->steps_seen++;
        if (p->step < 1 || p->step > p->steps || !isfinite(p->loss)) log->bad_steps++;
    }
}

static void test_learns(void)
{
    cn_data data;
    make_data(&data, 300, 150, 11);
    cn_net *net = make_net("input 8\ndense out=16 act=tanh\ndense out=3\n", 5);
    cn_optim_cfg oc = sgd_cfg(0.05);
    cn_optim *opt;
    CHECK_OK(cn_optim_new(&opt, &oc, cn_net_param_count(net)));
    cn_rng *rng = cn_rng_new(1);
    cn_train_cfg cfg = train_cfg(5, oc);
    progress_log log = {0};
    cfg.progress = on_progress;
    cfg.user = &log;
    double loss0, acc0;
    cn_error err = {0};
    CHECK_OK(cn_evaluate(net, &data.test, CN_LOSS_CROSS_ENTROPY, 64, 0, &loss0, &acc0, &err));
    cn_train_result res;
    int rc = cn_train(net, &data, &cfg, opt, rng, 0, &res, &err);
    CHECK(rc == CN_OK, "train: %d %s", rc, err.msg);
    CHECK(res.epochs_done == 5 && !res.diverged, "epochs done %d, diverged %d", res.epochs_done, res.diverged);
    CHECK(log.epochs_seen == 5, "%d epoch reports", log.epochs_seen);
    CHECK(log.steps_seen == 5 * 19 && log.bad_steps == 0, "%d step reports (%d bad), expected %d", log.steps_seen,
          log.bad_steps, 5 * 19);
    CHECK(log.loss[4] < 0.5 * log.loss[0], "train loss %g -> %g: not falling", log.loss[0], log.loss[4]);
    CHECK(res.test_loss < loss0, "test loss %g after training, %g before", res.test_loss, loss0);
    CHECK(res.test_acc > 0.9 && res.train_acc > 0.9, "accuracy %g (train %g): chance is 1/3", res.test_acc,
          res.train_acc);
    CHECK(res.train_loss == log.loss[4] && res.test_acc == log.acc[4], "the result differs from the last report");
    CHECK(cn_optim_steps(opt) == 5 * 19, "%ld optimizer steps", cn_optim_steps(opt));
    double l, a;
    CHECK_OK(cn_evaluate(net, &data.test, CN_LOSS_CROSS_ENTROPY, 7, 0, &l, &a, &err));
    CHECK(fabs(l - res.test_loss) < 1e-6 && a == res.test_acc, "cn_evaluate %g/%g vs the run's %g/%g", l, a,
          res.test_loss, res.test_acc);
    /* limit_train: only the first examples, fewer steps */
    cfg.limit_train = 50;
    cfg.epochs = 1;
    cfg.progress = NULL;
    long before = cn_optim_steps(opt);
    CHECK_OK(cn_train(net, &data, &cfg, opt, rng, 0, &res, &err));
    CHECK(cn_optim_steps(opt) - before == 4, "limit_train 50, batch 16: %ld steps", cn_optim_steps(opt) - before);
    /* bad configurations */
    cfg.epochs = 0;
    CHECK(cn_train(net, &data, &cfg, opt, rng, 0, &res, &err) == CN_ERR_ARG && strstr(err.msg, "epochs"),
          "epochs 0: '%s'", err.msg);
    cfg.epochs = 1, cfg.batch = 0;
    CHECK(cn_train(net, &data, &cfg, opt, rng, 0, &res, &err) == CN_ERR_ARG && strstr(err.msg, "batch"),
          "batch 0: '%s'", err.msg);
    cn_net *wrong = make_net("input 5\ndense out=3\n", 1);
    cfg.batch = 16;
    CHECK(cn_train(wrong, &data, &cfg, opt, rng, 0, &res, &err) == CN_ERR_ARG && strstr(err.msg, "inputs"),
          "a net of the wrong input size: '%s'", err.msg);
    cn_net_free(wrong);
    cn_optim_free(opt);
    cn_rng_free(rng);
    cn_net_free(net);
    cn_data_free(&data);
}

/* ---------------------------------------------------------------- (b) determinism */

static cn_net *train_fresh(const cn_data *data, const char *spec, cn_optim_cfg oc, uint64_t seed, int epochs)
{
    cn_net *net = make_net(spec, seed);
    cn_optim *opt;
    CHECK_OK(cn_optim_new(&opt, &oc, cn_net_param_count(net)));
    cn_rng *rng = cn_rng_new(seed + 1000);
    cn_train_cfg cfg = train_cfg(epochs, oc);
    cn_train_result res;
    cn_error err = {0};
    CHECK_OK(cn_train(net, data, &cfg, opt, rng, 0, &res, &err));
    cn_optim_free(opt);
    cn_rng_free(rng);
    return net;
}

static void test_determinism(void)
{
    cn_data data;
    make_data(&data, 200, 60, 12);
    const char *spec = "input 8\ndense out=16 act=relu\ndropout p=0.2\ndense out=12\nbatchnorm act=tanh\ndense out=3\n";
    cn_net *a = train_fresh(&data, spec, sgd_cfg(0.05), 3, 2), *b = train_fresh(&data, spec, sgd_cfg(0.05), 3, 2);
    cn_net *c = train_fresh(&data, spec, sgd_cfg(0.05), 4, 2);
    size_t np = cn_net_param_count(a), ns = cn_net_state_count(a);
    CHECK(memcmp(cn_net_params(a), cn_net_params(b), np * sizeof(cn_real)) == 0, "same seed, different parameters");
    CHECK(memcmp(cn_net_state(a), cn_net_state(b), ns * sizeof(cn_real)) == 0, "same seed, different state");
    CHECK(memcmp(cn_net_params(a), cn_net_params(c), np * sizeof(cn_real)) != 0, "another seed, same parameters");
    cn_net_free(a);
    cn_net_free(b);
    cn_net_free(c);
    cn_data_free(&data);
}

/* ---------------------------------------------------------------- (c) resume equality */

static void test_resume(const char *label, const char *sub, const char *spec, cn_optim_cfg oc)
{
    cn_data data;
    make_data(&data, 160, 60, 13);
    char ds[32], dr[32], path_s[160], path_r[160];
    snprintf(ds, sizeof ds, "%s_straight", sub);
    snprintf(dr, sizeof dr, "%s_resumed", sub);
    make_subdir(ds);
    make_subdir(dr);
    cn_error err = {0};
    cn_train_result res;

    /* 4 epochs straight */
    cn_net *straight = make_net(spec, 21);
    cn_optim *opt_s;
    CHECK_OK(cn_optim_new(&opt_s, &oc, cn_net_param_count(straight)));
    cn_rng *rng_s = cn_rng_new(22);
    cn_train_cfg cfg = train_cfg(4, oc);
    dir_path(path_s, sizeof path_s, ds, NULL);
    cfg.out_dir = path_s;
    int rc = cn_train(straight, &data, &cfg, opt_s, rng_s, 0, &res, &err);
    CHECK(rc == CN_OK && res.epochs_done == 4, "%s: straight run: %d (%s), %d epochs", label, rc, err.msg,
          res.epochs_done);

    /* 2 epochs, then everything freed */
    cn_net *first = make_net(spec, 21);
    cn_optim *opt_1;
    CHECK_OK(cn_optim_new(&opt_1, &oc, cn_net_param_count(first)));
    cn_rng *rng_1 = cn_rng_new(22);
    dir_path(path_r, sizeof path_r, dr, NULL);
    cfg.out_dir = path_r;
    cfg.stop_after = 2;
    rc = cn_train(first, &data, &cfg, opt_1, rng_1, 0, &res, &err);
    CHECK(rc == CN_OK && res.epochs_done == 2, "%s: first half: %d (%s), %d epochs", label, rc, err.msg,
          res.epochs_done);
    cn_net_free(first);
    cn_optim_free(opt_1);
    cn_rng_free(rng_1);

    /* load the checkpoint, restore into a fresh optimizer and an RNG of another seed, and go on */
    char ckpath[200];
    dir_path(ckpath, sizeof ckpath, dr, "model.cnm");
    cn_checkpoint ck;
    rc = cn_checkpoint_load(&ck, ckpath, &err);
    CHECK(rc == CN_OK, "%s: load: %s", label, err.msg);
    if (rc) goto out;
    CHECK(ck.epoch == 2, "%s: checkpoint epoch %d", label, ck.epoch);
    cn_optim *opt_2;
    CHECK_OK(cn_optim_new(&opt_2, &oc, cn_net_param_count(ck.net)));
    cn_rng *rng_2 = cn_rng_new(987654);
    CHECK_OK(cn_checkpoint_restore(&ck, opt_2, rng_2, &err));
    cfg.stop_after = 0;
    rc = cn_train(ck.net, &data, &cfg, opt_2, rng_2, ck.epoch, &res, &err);
    CHECK(rc == CN_OK && res.epochs_done == 4, "%s: second half: %d (%s), %d epochs", label, rc, err.msg,
          res.epochs_done);

    size_t np = cn_net_param_count(straight), ns = cn_net_state_count(straight), no = cn_optim_state_count(opt_s);
    CHECK(memcmp(cn_net_params(ck.net), cn_net_params(straight), np * sizeof(cn_real)) == 0,
          "%s: resumed parameters differ from the straight run's", label);
    CHECK(memcmp(cn_net_state(ck.net), cn_net_state(straight), ns * sizeof(cn_real)) == 0,
          "%s: resumed batch-norm state differs", label);
    CHECK(cn_optim_state_count(opt_2) == no &&
              memcmp(cn_optim_state(opt_2), cn_optim_state(opt_s), no * sizeof(cn_real)) == 0,
          "%s: resumed optimizer state differs", label);
    CHECK(cn_optim_steps(opt_2) == cn_optim_steps(opt_s), "%s: optimizer steps %ld vs %ld", label,
          cn_optim_steps(opt_2), cn_optim_steps(opt_s));
    CHECK(cn_rng_uniform(rng_2) == cn_rng_uniform(rng_s), "%s: the RNGs part ways", label);

    /* the files too: same checkpoint bytes (same settings), same metrics but for the seconds column */
    char cs[200], m1[200], m2[200];
    dir_path(cs, sizeof cs, ds, "model.cnm");
    char *a = slurp(cs), *b = slurp(ckpath);
    struct stat sa, sb;
    CHECK(a && b && stat(cs, &sa) == 0 && stat(ckpath, &sb) == 0 && sa.st_size == sb.st_size &&
              memcmp(a, b, (size_t)sa.st_size) == 0,
          "%s: model.cnm of the two runs differ", label);
    free(a);
    free(b);
    dir_path(m1, sizeof m1, ds, "metrics.csv");
    dir_path(m2, sizeof m2, dr, "metrics.csv");
    a = metrics_without_seconds(m1);
    b = metrics_without_seconds(m2);
    CHECK(a && b && strcmp(a, b) == 0, "%s: metrics differ:\n%s---\n%s", label, a, b);
    CHECK(count_lines(b) == 5, "%s: metrics.csv has %d lines, expected a header and 4 epochs", label, count_lines(b));
    free(a);
    free(b);
    cn_optim_free(opt_2);
    cn_rng_free(rng_2);
    cn_checkpoint_free(&ck);
out:
    cn_optim_free(opt_s);
    cn_rng_free(rng_s);
    cn_net_free(straight);
    cn_data_free(&data);
}

/* ---------------------------------------------------------------- (d) divergence, (e) NaN data */

static void test_divergence(void)
{
    cn_data data;
    make_data(&data, 160, 60, 14);
    make_subdir("diverge");
    char dir[160], ckpath[200], summary[200], metrics[200];
    dir_path(dir, sizeof dir, "diverge", NULL);
    dir_path(ckpath, sizeof ckpath, "diverge", "model.cnm");
    dir_path(summary, sizeof summary, "diverge", "summary.json");
    dir_path(metrics, sizeof metrics, "diverge", "metrics.csv");
    const char *spec = "input 8\ndense out=32 act=relu\ndense out=32 act=relu\ndense out=3\n";
    cn_net *net = make_net(spec, 31);
    cn_optim_cfg oc = sgd_cfg(0.05);
    cn_optim *opt;
    CHECK_OK(cn_optim_new(&opt, &oc, cn_net_param_count(net)));
    cn_rng *rng = cn_rng_new(32);
    cn_train_cfg cfg = train_cfg(3, oc);
    cfg.out_dir = dir;
    cfg.stop_after = 1;
    cn_train_result res;
    cn_error err = {0};
    CHECK_OK(cn_train(net, &data, &cfg, opt, rng, 0, &res, &err));
    size_t np = cn_net_param_count(net);
    cn_real *good = malloc(np * sizeof *good);
    memcpy(good, cn_net_params(net), np * sizeof *good);

    /* epoch 2 with a learning rate of 1e6 */
    cfg.stop_after = 0;
    cfg.optim.lr = 1e6;
    int rc = cn_train(net, &data, &cfg, opt, rng, 1, &res, &err);
    CHECK(rc == CN_ERR_NONFINITE, "lr 1e6: status %d (%s), expected CN_ERR_NONFINITE", rc, err.msg);
    CHECK(res.diverged == 1, "res.diverged %d", res.diverged);
    CHECK(res.epochs_done == 1, "epochs done %d, expected 1", res.epochs_done);
    CHECK(strstr(res.diverged_msg, "epoch 2") && strstr(res.diverged_msg, "step "), "diverged_msg '%s'",
          res.diverged_msg);
    CHECK(err.status == CN_ERR_NONFINITE && strstr(err.msg, "epoch 2") && strstr(err.msg, "step ") &&
              strstr(err.msg, "epoch 1 is kept"),
          "err.msg '%s'", err.msg);
    char *s = slurp(summary);
    CHECK(s && strstr(s, "\"diverged\""), "summary.json: %s", s ? s : "(missing)");
    free(s);
    s = slurp(metrics);
    CHECK(s && count_lines(s) == 2, "metrics.csv after the divergence:\n%s", s ? s : "(missing)");
    free(s);

    /* the checkpoint of epoch 1 is still there and loads */
    cn_checkpoint ck;
    rc = cn_checkpoint_load(&ck, ckpath, &err);
    CHECK(rc == CN_OK, "the last good checkpoint does not load: %s", err.msg);
    if (!rc) {
        CHECK(ck.epoch == 1, "checkpoint epoch %d", ck.epoch);
        CHECK(memcmp(cn_net_params(ck.net), good, np * sizeof *good) == 0, "the checkpoint is not epoch 1's");
        cn_checkpoint_free(&ck);
    }
    free(good);
    cn_optim_free(opt);
    cn_rng_free(rng);
    cn_net_free(net);
    cn_data_free(&data);
}

static void nan_case(const char *label, const char *spec, cn_real bad, int example, int in_test)
{
    cn_data data;
    make_data(&data, 160, 60, 15);
    cn_dataset *d = in_test ? &data.test : &data.train;
    d->x[(size_t)example * DIM + 3] = bad;
    cn_net *net = make_net(spec, 41);
    cn_optim_cfg oc = sgd_cfg(0.05);
    cn_optim *opt;
    CHECK_OK(cn_optim_new(&opt, &oc, cn_net_param_count(net)));
    cn_rng *rng = cn_rng_new(42);
    cn_train_cfg cfg = train_cfg(2, oc);
    cn_train_result res;
    cn_error err = {0};
    int rc = cn_train(net, &data, &cfg, opt, rng, 0, &res, &err);
    CHECK(rc == CN_ERR_NONFINITE, "%s: status %d (%s), expected CN_ERR_NONFINITE; test loss %g", label, rc, err.msg,
          res.test_loss);
    if (in_test)
        CHECK(rc != CN_ERR_NONFINITE || strstr(err.msg, "test"), "%s: the message '%s' does not say where", label,
              err.msg);
    else
        CHECK(rc != CN_ERR_NONFINITE || (res.diverged && strstr(err.msg, "epoch 1")), "%s: diverged %d, '%s'", label,
              res.diverged, err.msg);
    cn_optim_free(opt);
    cn_rng_free(rng);
    cn_net_free(net);
    cn_data_free(&data);
}

static void test_nan_data(void)
{
    nan_case("NaN input, tanh net", "input 8\ndense out=8 act=tanh\ndense out=3\n", NAN, 17, 0);
    nan_case("NaN input, relu net", "input 8\ndense out=8 act=relu\ndense out=3\n", NAN, 100, 0);
    nan_case("Inf input, relu net", "input 8\ndense out=8 act=relu\ndense out=3\n", INFINITY, 5, 0);
    nan_case("NaN input, batchnorm net", "input 8\ndense out=8\nbatchnorm act=tanh\ndense out=3\n", NAN, 159, 0);
    /* in the test split: evaluation must not report a NaN loss as a result */
    nan_case("NaN input in the test split", "input 8\ndense out=8 act=tanh\ndense out=3\n", NAN, 30, 1);
}

/* ---------------------------------------------------------------- optimizers against PyTorch's formulas */

#define NP 3

/* Runs `steps` updates of cn_optim on a tiny vector and the same updates by PyTorch's formulas in double.
 * Each step's move (not only the parameters, which a small move would hide) must agree to float rounding. */
static void opt_case(const char *label, cn_optim_cfg oc, const double g[][NP], int steps)
{
    const double p0[NP] = {0.05, -0.0125, 0.02}; /* small, so float rounding of p hides nothing of the move */
    double p[NP], buf[NP] = {0}, m[NP] = {0}, v[NP] = {0};
    cn_real pr[NP], gr[NP];
    for (int i = 0; i < NP; i++) p[i] = p0[i], pr[i] = (cn_real)p0[i];
    cn_optim *o;
    CHECK_OK(cn_optim_new(&o, &oc, NP));
    if (!o) return;
    double lr = oc.lr, wd = oc.weight_decay;
    for (int t = 1; t <= steps; t++) {
        double before[NP], before_r[NP];
        for (int i = 0; i < NP; i++) {
            gr[i] = (cn_real)g[t - 1][i];
            before[i] = p[i];
            before_r[i] = pr[i];
        }
        cn_optim_step(o, pr, gr, lr);
        for (int i = 0; i < NP; i++) {
            double gi = g[t - 1][i];
            if (oc.kind == CN_OPT_SGD) { /* torch.optim.SGD, dampening 0 */
                double d = gi + wd * p[i];
                if (oc.momentum > 0) {
                    buf[i] = t == 1 ? d : oc.momentum * buf[i] + d;
                    d = oc.nesterov ? d + oc.momentum * buf[i] : buf[i];
                }
                p[i] -= lr * d;
            } else { /* torch.optim.Adam / AdamW */
                if (oc.kind == CN_OPT_ADAMW) p[i] *= 1 - lr * wd;
                else gi += wd * p[i];
                m[i] = oc.beta1 * m[i] + (1 - oc.beta1) * gi;
                v[i] = oc.beta2 * v[i] + (1 - oc.beta2) * gi * gi;
                double bc1 = 1 - pow(oc.beta1, t), bc2 = 1 - pow(oc.beta2, t);
                p[i] -= lr * (m[i] / bc1) / (sqrt(v[i]) / sqrt(bc2) + oc.eps);
            }
        }
        double e = 0;
        for (int i = 0; i < NP; i++) {
            double want = p[i] - before[i], got = pr[i] - before_r[i];
            CHECK(fabs(want) > 1e-4, "%s: step %d: the reference hardly moves (%g)", label, t, want);
            e = fmax(e, fabs(got - want) / fabs(want));
        }
        CHECK(e < 1e-5, "%s: step %d: the move is off by %.2g relative (%.8g %.8g %.8g vs %.8g %.8g %.8g)", label, t,
              e, (double)pr[0], (double)pr[1], (double)pr[2], p[0], p[1], p[2]);
    }
    CHECK(cn_optim_steps(o) == steps, "%s: %ld steps counted", label, cn_optim_steps(o));
    size_t want = oc.kind == CN_OPT_SGD ? (oc.momentum > 0 ? NP : 0) : 2 * NP;
    CHECK(cn_optim_state_count(o) == want, "%s: %zu state values, expected %zu", label, cn_optim_state_count(o), want);
    double e = 0;
    for (int i = 0; i < NP; i++) {
        if (oc.kind != CN_OPT_SGD) /* Adam: m then v */
            e = fmax(e, fmax(fabs(cn_optim_state(o)[i] - m[i]) / fabs(m[i]),
                             fabs(cn_optim_state(o)[NP + i] - v[i]) / v[i]));
        else if (oc.momentum > 0)
            e = fmax(e, fabs(cn_optim_state(o)[i] - buf[i]) / fabs(buf[i]));
    }
    CHECK(e < 1e-6, "%s: optimizer state off by %.2g relative", label, e);
    cn_optim_free(o);
}

static void test_optimizers(void)
{
    const double g[3][NP] = {{0.3, -0.7, 1.1}, {-0.2, 0.4, 0.9}, {0.05, -0.6, -1.3}};
    cn_optim_cfg sgd = {.kind = CN_OPT_SGD, .lr = 0.1};
    opt_case("sgd", sgd, g, 3);
    sgd.weight_decay = 0.05;
    opt_case("sgd weight decay", sgd, g, 3);
    sgd.momentum = 0.9;
    opt_case("sgd momentum weight decay", sgd, g, 3);
    sgd.weight_decay = 0;
    opt_case("sgd momentum", sgd, g, 3);
    sgd.nesterov = 1;
    opt_case("sgd nesterov", sgd, g, 3);
    sgd.weight_decay = 0.01;
    opt_case("sgd nesterov weight decay", sgd, g, 3);
    cn_optim_cfg adam = {.kind = CN_OPT_ADAM, .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    opt_case("adam", adam, g, 3);
    adam.weight_decay = 0.1;
    opt_case("adam weight decay (L2 in the gradient)", adam, g, 3);
    adam.kind = CN_OPT_ADAMW;
    opt_case("adamw (decoupled decay)", adam, g, 3);
    adam.beta1 = 0.5, adam.beta2 = 0.9, adam.eps = 1e-3, adam.lr = 0.1;
    opt_case("adamw other betas", adam, g, 3);

    /* bad configurations */
    cn_optim *o = (cn_optim *)&adam;
    cn_optim_cfg bad = {.kind = CN_OPT_SGD, .lr = -1};
    CHECK(cn_optim_new(&o, &bad, 3) == CN_ERR_ARG && o == NULL, "lr -1 accepted");
    bad = (cn_optim_cfg){.kind = CN_OPT_SGD, .lr = 0.1, .momentum = 1};
    CHECK(cn_optim_new(&o, &bad, 3) == CN_ERR_ARG, "momentum 1 accepted");
    bad = (cn_optim_cfg){.kind = CN_OPT_ADAM, .lr = 0.1, .beta1 = 1, .beta2 = 0.9};
    CHECK(cn_optim_new(&o, &bad, 3) == CN_ERR_ARG, "beta1 1 accepted");
    bad = (cn_optim_cfg){.kind = CN_OPT_COUNT, .lr = 0.1};
    CHECK(cn_optim_new(&o, &bad, 3) == CN_ERR_ARG, "an unknown optimizer accepted");
    bad = (cn_optim_cfg){.kind = CN_OPT_SGD, .lr = NAN};
    CHECK(cn_optim_new(&o, &bad, 3) == CN_ERR_ARG, "lr NaN accepted");

    /* schedules, as torch's StepLR and CosineAnnealingLR (eta_min 0) per epoch */
    cn_optim_cfg s = {.lr = 0.2, .sched = CN_SCHED_STEP, .step_size = 2, .gamma = 0.5, .total_epochs = 10};
    for (int e = 0; e < 10; e++) {
        double want = 0.2 * pow(0.5, e / 2), got = cn_sched_lr(&s, e);
        CHECK(fabs(got - want) < 1e-15, "step schedule epoch %d: %g, expected %g", e, got, want);
    }
    s.sched = CN_SCHED_COSINE;
    for (int e = 0; e < 10; e++) {
        double want = 0.2 * 0.5 * (1 + cos(3.14159265358979323846 * e / 10)), got = cn_sched_lr(&s, e);
        CHECK(fabs(got - want) < 1e-15, "cosine schedule epoch %d: %g, expected %g", e, got, want);
    }
    s.sched = CN_SCHED_CONSTANT;
    CHECK(cn_sched_lr(&s, 7) == 0.2, "constant schedule");
}

static void remove_tree(const char *sub)
{
    const char *files[] = {"model.cnm", "model.cnm.tmp", "metrics.csv", "summary.json"};
    char p[200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        dir_path(p, sizeof p, sub, files[i]);
        remove(p);
    }
    dir_path(p, sizeof p, sub, NULL);
    rmdir(p);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/critnet_train_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_optimizers();
    test_learns();
    test_determinism();
    cn_optim_cfg adam = {.kind = CN_OPT_ADAM, .lr = 0.005, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    cn_optim_cfg adamw = adam;
    adamw.kind = CN_OPT_ADAMW;
    adamw.weight_decay = 0.01;
    adamw.sched = CN_SCHED_COSINE;
    adamw.total_epochs = 4;
    cn_optim_cfg nesterov = sgd_cfg(0.03);
    nesterov.nesterov = 1;
    nesterov.weight_decay = 1e-3;
    nesterov.sched = CN_SCHED_STEP;
    nesterov.step_size = 1;
    nesterov.gamma = 0.7;
    test_resume("sgd momentum", "sgd", "input 8\ndense out=16 act=tanh\ndense out=3\n", sgd_cfg(0.05));
    test_resume("adam", "adam", "input 8\ndense out=16 act=gelu\ndense out=3\n", adam);
    test_resume("adamw cosine, batchnorm", "adamw", "input 8\ndense out=16\nbatchnorm act=relu\ndense out=3\n", adamw);
    test_resume("dropout, nesterov step schedule", "dropout",
                "input 8\ndense out=16 act=relu\ndropout p=0.3\ndense out=16 act=tanh\ndropout p=0.1\ndense out=3\n",
                nesterov);
    test_divergence();
    test_nan_data();
    const char *subs[] = {"sgd_straight", "sgd_resumed", "adam_straight", "adam_resumed", "adamw_straight",
                          "adamw_resumed", "dropout_straight", "dropout_resumed", "diverge"};
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) remove_tree(subs[i]);
    CHECK(rmdir(g_dir) == 0, "%s: files left behind", g_dir);
    return check_summary("test_train");
}
