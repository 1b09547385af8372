/* test_oom_paths.c: the allocation-failure sweep over the library's main paths, the ones every critnet
 * command is built from: loading a model file, a checkpoint (native and of an imported ONNX net) and an ONNX
 * model (from memory and from a file), the gaussian data, a training run (forward, backward, optimizer,
 * evaluation, files; with and without the criticality regulariser; native and an imported ONNX graph), the
 * measures (sigma, the Lyapunov spectrum, the dynamic range; native and imported) and a continual task (with
 * the regulariser, and resumed from its checkpoint). For each path, allocation k of the path fails: the path
 * must return CN_ERR_NOMEM (never crash, abort or exit), release everything it allocated (the hook counts live
 * blocks; the ASan build adds LeakSanitizer), and leave the objects it was given usable: the net still runs
 * and gives finite outputs, and everything frees cleanly.
 *
 * Which k: every allocation of a path that makes at most 400, else a deterministic sample, the first 50 and
 * then every 7th and the last, to keep the whole test within seconds (the count is printed per path). The
 * objects a path is given are built first under the same hook, not failing, so the leak count covers them.
 * The ONNX graph is a native CNN with batch norm and a residual block, lowered to ONNX in memory
 * (cn_net_lower_onnx, as `critnet train --engine graph` does) and read back with cn_net_from_onnx_buffer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"
#include "critnet_continual.h"
#include "critnet_data.h"
#include "critnet_onnx.h"
#include "onnx/lower.h"

#define SIDE 4
#define NIN (SIDE * SIDE)
#define CLASSES 3
#define FULL_SWEEP_MAX 400 /* paths with more allocations are sampled */

static char g_dir[64];
static cn_error *g_err; /* where the path being swept leaves its message */

static const char *CNN_SPEC = "input 1 4 4\nconv out=4 k=3 pad=1 act=tanh\nbatchnorm act=relu\n"
                              "residual act=tanh\nconv out=4 k=3 pad=1 act=tanh\nbatchnorm\nend\n"
                              "maxpool k=2\nflatten\ndense out=3\n";
/* the layer engine's regulariser covers no normalisation: critical training of a native net uses this one */
static const char *CONV_SPEC = "input 1 4 4\nconv out=4 k=3 pad=1 act=tanh\nmaxpool k=2\nflatten\n"
                               "dense out=8 act=tanh\ndense out=3\n";

/* ---------------------------------------------------------------- fixtures (built outside any failure) */

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

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

static int native_net(cn_net **net, const char *spec)
{
    cn_error err = {0};
    int rc = cn_net_from_spec(net, spec, &err);
    if (rc) return rc;
    cn_rng *r = cn_rng_new(3);
    if (!r) return CN_ERR_NOMEM;
    cn_init init = {.kind = CN_INIT_TORCH};
    rc = cn_net_init(*net, &init, r);
    cn_rng_free(r);
    return rc;
}

/* the CNN lowered to ONNX bytes (cn_malloc'd) */
static int cnn_onnx_bytes(uint8_t **bytes, size_t *len)
{
    cn_net *net = NULL;
    cn_error err = {0};
    int rc = native_net(&net, CNN_SPEC);
    if (!rc) rc = cn_net_lower_onnx(net, bytes, len, &err);
    cn_net_free(net);
    return rc;
}

static int write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return CN_ERR_IO;
    size_t w = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && w == len ? CN_OK : CN_ERR_IO;
}

/* usable: an eval forward on a few test inputs runs and its outputs are finite */
static int net_usable(cn_net *net, const cn_data *d)
{
    if (!net) return 0;
    int b = 4;
    if (cn_net_reserve(net, b, 1) != CN_OK) return 0;
    if (cn_net_forward(net, d->test.x, b, 0) != CN_OK) return 0;
    const cn_real *y = cn_net_output(net);
    for (int i = 0; i < b * cn_net_out_size(net); i++)
        if (!isfinite((double)y[i])) return 0;
    for (size_t i = 0; i < cn_net_param_count(net); i++)
        if (!isfinite((double)cn_net_params(net)[i])) return 0;
    return 1;
}

/* ---------------------------------------------------------------- the sweep */

/* One path: setup builds what the path is given (not failing), body is the path (allocation k fails),
 * usable says whether the given objects still work afterwards (1: yes), teardown frees them. */
typedef struct {
    const char *name;
    int (*setup)(void *ctx);
    int (*body)(void *ctx);
    int (*usable)(void *ctx);
    void (*teardown)(void *ctx);
} oom_path;

static int sampled(long k) { return k <= 50 || k % 7 == 0; }

/* runs the path with allocation k of its body failing (0: none); returns the body's status */
static int run_once(const oom_path *p, void *ctx, long k, long *body_allocs, long *failed, long *live,
                    int *usable)
{
    hook_install(0);
    int rc = p->setup(ctx);
    if (rc) {
        p->teardown(ctx);
        cn_set_allocator(NULL);
        return -1000 - rc; /* the fixture failed: reported as such */
    }
    long before = g_stats.count;
    g_stats.fail_at = k ? before + k : 0;
    rc = p->body(ctx);
    *body_allocs = g_stats.count - before;
    *failed = g_stats.failed;
    g_stats.fail_at = 0;
    *usable = p->usable(ctx);
    p->teardown(ctx);
    *live = g_stats.live;
    cn_set_allocator(NULL);
    return rc;
}

static void sweep(const oom_path *p, void *ctx)
{
    long total, failed, live;
    int usable;
    int rc = run_once(p, ctx, 0, &total, &failed, &live, &usable);
    CHECK(rc == CN_OK && live == 0 && usable, "%s without a failure: status %d (%s), %ld blocks left, usable %d",
          p->name, rc, g_err->msg, live, usable);
    if (rc != CN_OK) return;
    CHECK(total >= 5, "%s made only %ld allocations: the sweep would not test it", p->name, total);
    long tried = 0, bad = 0;
    for (long k = 1; k <= total; k++) {
        if (total > FULL_SWEEP_MAX && !sampled(k) && k != total) continue;
        long n;
        rc = run_once(p, ctx, k, &n, &failed, &live, &usable);
        tried++;
        int ok = failed == 1 && rc == CN_ERR_NOMEM && live == 0 && usable;
        if (!ok && bad++ < 5)
            CHECK(0, "%s, allocation %ld of %ld failing: status %d (%s: %s), refused %ld, %ld blocks leaked, objects "
                     "usable %d", p->name, k, total, rc, rc > -1000 ? cn_strerror(rc) : "fixture", g_err->msg,
                  failed, live, usable);
    }
    CHECK(bad == 0, "%s: %ld of %ld failing allocations handled wrongly", p->name, bad, tried);
    printf("  %-34s %5ld allocations, %5ld made to fail%s\n", p->name, total, tried,
           total > FULL_SWEEP_MAX ? " (sampled)" : "");
}

/* ---------------------------------------------------------------- paths */

typedef struct {
    cn_data data;      /* shared, built once outside the hook */
    uint8_t *onnx;     /* the CNN lowered to ONNX, built once */
    size_t onnx_len;
    char spec_path[128], onnx_path[128], ck_path[128], ck_onnx_path[128], train_dir[128], cl_dir[128];
    /* per run */
    cn_net *net;
    cn_optim *opt;
    cn_rng *rng;
    cn_checkpoint ck;
    cn_continual *cl;
    cn_data loaded;
    /* settings of the path */
    int imported;      /* the net is the ONNX graph */
    double crit_weight;
    int write_files;
    int continual_resume;
    cn_error err;      /* the body's message */
} ctx_t;

static int setup_none(void *v)
{
    ctx_t *c = v;
    c->net = NULL;
    c->opt = NULL;
    c->rng = NULL;
    memset(&c->ck, 0, sizeof c->ck);
    memset(&c->loaded, 0, sizeof c->loaded);
    c->cl = NULL;
    return CN_OK;
}

static int setup_net(void *v)
{
    ctx_t *c = v;
    setup_none(c);
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    /* a checkpoint of an imported net refers to its file, so a run that writes files needs one */
    if (c->imported && c->write_files) return cn_net_from_onnx(&c->net, c->onnx_path, NULL, e);
    if (c->imported) return cn_net_from_onnx_buffer(&c->net, c->onnx, c->onnx_len, "cnn.onnx", NULL, e);
    return native_net(&c->net, c->crit_weight > 0 ? CONV_SPEC : CNN_SPEC);
}

static void teardown_all(void *v)
{
    ctx_t *c = v;
    cn_net_free(c->net);
    cn_optim_free(c->opt);
    cn_rng_free(c->rng);
    cn_checkpoint_free(&c->ck);
    cn_continual_free(c->cl);
    cn_data_free(&c->loaded);
    setup_none(c);
}

static int usable_net(void *v)
{
    ctx_t *c = v;
    return c->net ? net_usable(c->net, &c->data) : 1;
}

/* load: a model file */
static int body_spec_file(void *v)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    int rc = cn_net_from_spec_file(&c->net, c->spec_path, e);
    if (rc) CHECK(c->net == NULL, "a failed model-file load left a net behind");
    return rc;
}

/* load: ONNX from memory and from a file */
static int body_onnx_buffer(void *v)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    int rc = cn_net_from_onnx_buffer(&c->net, c->onnx, c->onnx_len, "cnn.onnx", NULL, e);
    if (rc) CHECK(c->net == NULL, "a failed ONNX load left a net behind");
    return rc;
}

static int body_onnx_file(void *v)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    int rc = cn_net_from_onnx(&c->net, c->onnx_path, NULL, e);
    if (rc) CHECK(c->net == NULL, "a failed ONNX load left a net behind");
    return rc;
}

/* load: a checkpoint, then the optimizer and RNG restored from it (what --resume does) */
static int body_checkpoint(void *v, const char *path)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    int rc = cn_checkpoint_load(&c->ck, path, e);
    if (rc) return rc;
    c->net = c->ck.net;
    c->ck.net = NULL;
    cn_optim_cfg oc = {.kind = CN_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    if ((rc = cn_optim_new(&c->opt, &oc, cn_net_param_count(c->net)))) return rc;
    if (!(c->rng = cn_rng_new(1))) return CN_ERR_NOMEM;
    return cn_checkpoint_restore(&c->ck, c->opt, c->rng, e);
}
static int body_checkpoint_native(void *v) { return body_checkpoint(v, ((ctx_t *)v)->ck_path); }
static int body_checkpoint_onnx(void *v) { return body_checkpoint(v, ((ctx_t *)v)->ck_onnx_path); }

/* data: the gaussian set, as --data gaussian loads it */
static int body_gaussian(void *v)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    cn_data_opts o = {.spec = "gaussian", .gaussian_dim = NIN, .gaussian_count = 50, .gaussian_classes = 3,
                      .seed = 2, .standardize = 1};
    return cn_data_load(&c->loaded, &o, e);
}

/* train: one epoch of Adam on the given net (which is built in setup), its optimizer and RNG made here as
 * critnet train makes them; with files, the checkpoint, metrics.csv and summary.json too */
static int body_train(void *v)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    cn_optim_cfg oc = {.kind = CN_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    int rc = cn_optim_new(&c->opt, &oc, cn_net_param_count(c->net));
    if (rc) return rc;
    if (!(c->rng = cn_rng_new(1))) return CN_ERR_NOMEM;
    cn_train_cfg tc = {.epochs = 1, .batch = 8, .seed = 1, .loss = CN_LOSS_CROSS_ENTROPY, .optim = oc,
                       .track_samples = 8, .out_dir = c->write_files ? c->train_dir : NULL,
                       .settings = "{\"test\":\"oom\"}"};
    tc.crit = (cn_crit_settings){.weight = c->crit_weight, .probes = 2, .every = 1};
    cn_train_result res = {0};
    return cn_train(c->net, &c->data, &tc, c->opt, c->rng, 0, &res, e);
}

/* measure: sigma, the first two Lyapunov exponents and the dynamic range */
static int body_measure(void *v)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    cn_measure_cfg mc;
    cn_measure_defaults(&mc);
    mc.probes = 2;
    mc.spectrum = 2;
    mc.batch = 8;
    mc.seed = 5;
    mc.dynamic_range = 1;
    mc.dr_points = 6;
    cn_measure_result r;
    memset(&r, 0, sizeof r);
    int rc = cn_measure(c->net, c->data.test.x, 12, &mc, &r, e);
    if (rc == CN_OK) cn_measure_result_free(&r);
    return rc;
}

/* continual: one task with the regulariser and CBP, checkpointed; or resumed from that checkpoint */
static cn_continual_cfg continual_cfg(const ctx_t *c, int tasks)
{
    cn_continual_cfg g;
    cn_continual_defaults(&g);
    g.methods = CN_CL_CRIT | CN_CL_CBP;
    g.tasks = tasks;
    g.examples_per_task = 16;
    g.width = 6;
    g.depth = 2;
    g.seed = 7;
    g.lr = 0.01;
    g.probe_samples = 20;
    g.track_samples = 8;
    g.out_dir = c->cl_dir;
    g.settings = "{}";
    return g;
}

static int body_continual(void *v)
{
    ctx_t *c = v;
    cn_error *e = &c->err;
    memset(e, 0, sizeof *e);
    cn_continual_cfg g = continual_cfg(c, c->continual_resume ? 2 : 1);
    int rc = cn_continual_new(&c->cl, &c->data, &g, e);
    if (!rc && c->continual_resume) {
        char p[160];
        snprintf(p, sizeof p, "%s/model.cnm", c->cl_dir);
        rc = cn_checkpoint_load(&c->ck, p, e);
        if (!rc) rc = cn_continual_restore(c->cl, &c->ck, e);
    }
    cn_continual_result res = {0};
    if (!rc) rc = cn_continual_run(c->cl, &res, e);
    cn_continual_result_free(&res);
    return rc;
}

/* the continual checkpoint of task 1, written afresh before each resumed run so that every run starts from it */
static int setup_continual(void *v)
{
    ctx_t *c = v;
    setup_none(c);
    if (!c->continual_resume) return CN_OK;
    cn_continual_cfg g = continual_cfg(c, 2);
    g.stop_after = 1;
    cn_continual *cl = NULL;
    cn_continual_result res = {0};
    int rc = cn_continual_new(&cl, &c->data, &g, NULL);
    if (!rc) rc = cn_continual_run(cl, &res, NULL);
    cn_continual_result_free(&res);
    cn_continual_free(cl);
    return rc;
}

static int usable_continual(void *v)
{
    ctx_t *c = v;
    return c->cl ? net_usable(cn_continual_net(c->cl), &c->data) : 1;
}

/* ---------------------------------------------------------------- main */

static int make_fixtures(ctx_t *c)
{
    make_data(&c->data, 40, 16, 1);
    int rc = cnn_onnx_bytes(&c->onnx, &c->onnx_len);
    CHECK(rc == CN_OK, "lowering the CNN to ONNX: %d", rc);
    if (rc) return rc;
    path_in(c->spec_path, sizeof c->spec_path, "cnn.model");
    path_in(c->onnx_path, sizeof c->onnx_path, "cnn.onnx");
    path_in(c->ck_path, sizeof c->ck_path, "native.cnm");
    path_in(c->ck_onnx_path, sizeof c->ck_onnx_path, "imported.cnm");
    path_in(c->train_dir, sizeof c->train_dir, "train");
    path_in(c->cl_dir, sizeof c->cl_dir, "continual");
    CHECK_OK(write_file(c->spec_path, CNN_SPEC, strlen(CNN_SPEC)));
    CHECK_OK(write_file(c->onnx_path, c->onnx, c->onnx_len));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s %s", c->train_dir, c->cl_dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    /* checkpoints with optimizer state: a native CNN and the imported graph (which refers to cnn.onnx) */
    cn_error err = {0};
    for (int imported = 0; imported < 2; imported++) {
        cn_net *net = NULL;
        rc = imported ? cn_net_from_onnx(&net, c->onnx_path, NULL, &err) : native_net(&net, CNN_SPEC);
        cn_optim *opt = NULL;
        cn_optim_cfg oc = {.kind = CN_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
        if (!rc) rc = cn_optim_new(&opt, &oc, cn_net_param_count(net));
        cn_rng *rng = cn_rng_new(9);
        if (!rc) rc = cn_checkpoint_save(imported ? c->ck_onnx_path : c->ck_path, net, opt, rng, 1, "{}", &err);
        CHECK(rc == CN_OK, "writing the %s checkpoint: %d %s", imported ? "imported" : "native", rc, err.msg);
        cn_rng_free(rng);
        cn_optim_free(opt);
        cn_net_free(net);
    }
    return CN_OK;
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/critnet_oom_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    cn_set_threads(1); /* one allocation order: the k-th allocation is the same one in every run */
    ctx_t c;
    memset(&c, 0, sizeof c);
    g_err = &c.err;
    if (make_fixtures(&c) == CN_OK) {
        const oom_path loads[] = {
            {"load model file", setup_none, body_spec_file, usable_net, teardown_all},
            {"load ONNX from memory", setup_none, body_onnx_buffer, usable_net, teardown_all},
            {"load ONNX file", setup_none, body_onnx_file, usable_net, teardown_all},
            {"load checkpoint (native)", setup_none, body_checkpoint_native, usable_net, teardown_all},
            {"load checkpoint (imported ONNX)", setup_none, body_checkpoint_onnx, usable_net, teardown_all},
            {"load gaussian data", setup_none, body_gaussian, usable_net, teardown_all},
        };
        for (size_t i = 0; i < sizeof loads / sizeof *loads; i++) sweep(&loads[i], &c);

        const char *train_names[2][2] = {{"train native", "train native --crit-weight"},
                                         {"train imported ONNX", "train imported ONNX --crit-weight"}};
        for (int imported = 0; imported < 2; imported++)
            for (int crit = 0; crit < 2; crit++) {
                c.imported = imported;
                c.crit_weight = crit ? 0.5 : 0;
                c.write_files = !crit; /* the files once per engine */
                oom_path p = {train_names[imported][crit], setup_net, body_train, usable_net, teardown_all};
                sweep(&p, &c);
            }
        c.crit_weight = 0;
        c.write_files = 0;

        const char *measure_names[2] = {"measure native", "measure imported ONNX"};
        for (int imported = 0; imported < 2; imported++) {
            c.imported = imported;
            oom_path p = {measure_names[imported], setup_net, body_measure, usable_net, teardown_all};
            sweep(&p, &c);
        }

        for (int resume = 0; resume < 2; resume++) {
            c.continual_resume = resume;
            oom_path p = {resume ? "continual task, resumed" : "continual task (crit, cbp)", setup_continual,
                          body_continual, usable_continual, teardown_all};
            sweep(&p, &c);
        }
    }
    cn_free(c.onnx);
    cn_data_free(&c.data);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    return check_summary("test_oom_paths");
}
