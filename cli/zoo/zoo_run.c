/* zoo_run.c: one model of the zoo from start to finish: build and initialise it as `critnet train` does, train
 * it with cn_train (its files in DIR/models/ID, so that `critnet train --resume`, eval and measure work on it),
 * take the test accuracy on the whole test split, and measure sigma, lambda_0 and Delta with the defaults of
 * `critnet measure` on the first --samples test inputs. Every outcome becomes a row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zoo.h"

/* ---------------------------------------------------------------- data shared between models */

/* what selects a data set besides the zoo's --data: standardisation, and for gaussian data its seed and
 * classes (cli_load_data draws it from the run's seed, as `critnet train` does) */
static void data_key(char *key, size_t cap, const cli_common *c)
{
    if (strcmp(c->data, "gaussian") == 0)
        snprintf(key, cap, "%d/%llu/%d", c->standardize, (unsigned long long)c->seed, c->classes);
    else snprintf(key, cap, "%d", c->standardize);
}

static int data_get(zoo_data *zd, const cli_common *c, const cn_data **out)
{
    char key[96];
    data_key(key, sizeof key, c);
    for (int i = 0; i < 2; i++)
        if (zd->used[i] && strcmp(zd->key[i], key) == 0) {
            *out = &zd->set[i];
            return 0;
        }
    int i = zd->next;
    if (zd->used[i]) cn_data_free(&zd->set[i]);
    zd->used[i] = 0;
    if (cli_load_data(&zd->set[i], c)) return -1;
    zd->used[i] = 1;
    snprintf(zd->key[i], sizeof zd->key[i], "%s", key);
    zd->next = 1 - i;
    *out = &zd->set[i];
    return 0;
}

void zoo_data_free(zoo_data *zd)
{
    for (int i = 0; i < 2; i++)
        if (zd->used[i]) cn_data_free(&zd->set[i]);
    memset(zd, 0, sizeof *zd);
}

/* ---------------------------------------------------------------- the network's shape, from its model text */

static int key_int(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? atoi(p + strlen(key)) : 0;
}

/* Read from the canonical model text, the same way for --arch and model files: depth counts the hidden linear
 * layers (dense and conv, residual bodies included, the readout left out), width is the most units or channels
 * among them, act the hidden activations ('+'-joined when mixed), norm the normalisation layers, dropout the
 * largest dropout probability; blocks is the number of blocks the measures walk through. */
void zoo_describe_net(zoo_row *row, const cn_net *net)
{
    char *spec = cn_net_spec(net);
    int depth = 0, width = 0, last_out = 0, bn = 0, ln = 0;
    double dropout = 0;
    char acts[128] = "";
    for (char *save = NULL, *line = spec ? strtok_r(spec, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ') line++;
        int linear = !strncmp(line, "dense ", 6) || !strncmp(line, "conv ", 5);
        if (linear) {
            /* the previous linear layer was not the last: it is hidden */
            if (last_out) depth++, width = last_out > width ? last_out : width;
            last_out = key_int(line, " out=");
        }
        bn |= !strncmp(line, "batchnorm", 9);
        ln |= !strncmp(line, "layernorm", 9);
        if (!strncmp(line, "dropout", 7)) {
            const char *p = strstr(line, " p=");
            double d = p ? atof(p + 3) : 0.5;
            dropout = d > dropout ? d : dropout;
        }
        const char *a = strstr(line, " act=");
        a = a ? a + 5 : (!strncmp(line, "act ", 4) && strstr(line, " fn=")) ? strstr(line, " fn=") + 4 : NULL;
        if (a) {
            char name[32];
            sscanf(a, "%31[a-z_]", name);
            char padded[40];
            snprintf(padded, sizeof padded, "+%s+", name);
            char have[132];
            snprintf(have, sizeof have, "+%s+", acts);
            if (strcmp(name, "identity") && !strstr(have, padded) && strlen(acts) + strlen(name) + 2 < sizeof acts) {
                if (acts[0]) strcat(acts, "+");
                strcat(acts, name);
            }
        }
    }
    cn_free(spec);
    cn_block *blocks = NULL;
    int nblocks = 0;
    if (cn_net_blocks(net, 0, &blocks, &nblocks) != CN_OK) nblocks = -1;
    cn_free(blocks);
    zoo_row_set(row, ZOO_DEPTH, "%d", depth);
    zoo_row_set(row, ZOO_WIDTH, "%d", width);
    zoo_row_set(row, ZOO_BLOCKS, "%d", nblocks);
    zoo_row_set(row, ZOO_PARAMS, "%zu", cn_net_param_count(net));
    zoo_row_set(row, ZOO_ACT, "%s", acts[0] ? acts : "identity");
    zoo_row_set(row, ZOO_NORM, "%s", bn && ln ? "batch+layer" : bn ? "batch" : ln ? "layer" : "none");
    zoo_row_set(row, ZOO_DROPOUT, "%g", dropout);
}

int zoo_check_model(const zoo_model *m, const zoo_settings *z, zoo_data *zd)
{
    const cn_data *data;
    cn_net *net = NULL;
    if (data_get(zd, &m->opts.c, &data) || cli_build_net(&net, &m->opts.c, &data->train)) return -1;
    cn_net_free(net);
    return 0;
}

/* ---------------------------------------------------------------- one model */

typedef struct {
    zoo_tick tick;
    void *user;
} ticker;

static void train_tick(const cn_train_progress *p, void *user)
{
    ticker *t = user;
    if (t->tick) t->tick(t->user);
}

static void measure_tick(double done, double total, void *user)
{
    ticker *t = user;
    if (t->tick) t->tick(t->user);
}

/* the settings columns, known before anything runs */
static void settings_cells(zoo_row *row, const zoo_model *m, const zoo_settings *z)
{
    const cli_train_opts *o = &m->opts;
    const cn_optim_cfg *oc = &o->t.optim;
    zoo_row_set(row, ZOO_ID, "%s", m->id);
    zoo_row_set(row, ZOO_FAMILY, "%s", m->family);
    zoo_row_set(row, ZOO_ERA, "%s", m->era);
    /* a model file as the spec names it (the settings say where it is relative to) */
    const char *file = strstr(m->settings, " model-file=");
    if (file) zoo_row_set(row, ZOO_ARCH, "%.*s", (int)strcspn(file + 12, " "), file + 12);
    else zoo_row_set(row, ZOO_ARCH, "%s", o->c.arch);
    for (int c = ZOO_DEPTH; c <= ZOO_DROPOUT; c++) zoo_row_set(row, (zoo_col)c, "nan");
    zoo_row_set(row, ZOO_INIT, "%s", o->c.init);
    zoo_row_set(row, ZOO_SIGMA_W, "%g", o->c.sigma_w);
    zoo_row_set(row, ZOO_SIGMA_B, "%g", o->c.sigma_b);
    zoo_row_set(row, ZOO_OPTIM, "%s", cn_opt_name(oc->kind));
    zoo_row_set(row, ZOO_LR, "%g", oc->lr);
    zoo_row_set(row, ZOO_MOMENTUM, "%g", oc->kind == CN_OPT_SGD ? oc->momentum : NAN); /* SGD's only */
    zoo_row_set(row, ZOO_WEIGHT_DECAY, "%g", oc->weight_decay);
    zoo_row_set(row, ZOO_SCHED, "%s", cn_sched_name(oc->sched));
    zoo_row_set(row, ZOO_EPOCHS, "%d", o->t.epochs);
    zoo_row_set(row, ZOO_BATCH, "%d", o->t.batch);
    zoo_row_set(row, ZOO_LIMIT_TRAIN, "%d", o->t.limit_train);
    zoo_row_set(row, ZOO_SEED, "%llu", (unsigned long long)o->c.seed);
    for (int c = ZOO_TEST_ACCURACY; c <= ZOO_MEASURE_SECONDS; c++) zoo_row_set(row, (zoo_col)c, "nan");
    zoo_row_set(row, ZOO_DATA, "%s", z->data);
    zoo_row_set(row, ZOO_THREADS, "%d", z->threads);
    zoo_row_set(row, ZOO_MEASURE_INPUTS, "%d", z->samples);
    zoo_row_set(row, ZOO_MESSAGE, "%s", "");
    zoo_row_set(row, ZOO_SETTINGS, "%s", m->settings);
}

static void outcome(zoo_row *row, const char *status, const char *msg)
{
    zoo_row_set(row, ZOO_STATUS, "%s", status);
    zoo_row_set(row, ZOO_MESSAGE, "%s", msg);
}

void zoo_run_model(zoo_row *row, const zoo_model *m, const zoo_settings *z, zoo_data *zd, zoo_tick tick, void *user)
{
    memset(row, 0, sizeof *row);
    settings_cells(row, m, z);
    outcome(row, "failed", "");
    cli_train_opts o = m->opts; /* a copy: the run sets its files and callbacks */
    const cn_data *data;
    cn_net *net = NULL;
    cn_optim *opt = NULL;
    cn_rng *rng = NULL;
    cJSON *init_report = NULL;
    char *settings = NULL, dir[4096];
    cn_error err = {0};
    cn_measure_result mr = {0};
    ticker tk = {tick, user};
    int r;
    if (data_get(zd, &o.c, &data) || cli_build_net(&net, &o.c, &data->train)) {
        outcome(row, "failed", cli_error_last());
        goto done;
    }
    zoo_describe_net(row, net);
    if (!(rng = cn_rng_new(o.c.seed))) {
        outcome(row, "failed", "out of memory");
        goto done;
    }
    if (cli_init_net(net, &o.c, &data->train, rng, &init_report)) {
        outcome(row, "failed", cli_error_last());
        goto done;
    }
    o.init_report = init_report;
    if ((r = cn_optim_new(&opt, &o.t.optim, cn_net_param_count(net)))) {
        outcome(row, "failed", cn_strerror(r));
        goto done;
    }
    snprintf(dir, sizeof dir, "%s/models/%s", z->out, m->id);
    if (cli_make_dir(dir)) {
        char msg[4200];
        snprintf(msg, sizeof msg, "%s: cannot create the model's folder", dir);
        outcome(row, "failed", msg);
        goto done;
    }
    settings = cli_train_settings_json(&o, m->argc - 1, m->argv + 1, net);
    o.t.out_dir = dir;
    o.t.settings = settings;
    o.t.progress = train_tick;
    o.t.user = &tk;
    cn_train_result res;
    r = cn_train(net, data, &o.t, opt, rng, 0, &res, &err);
    zoo_row_set(row, ZOO_TRAIN_SECONDS, "%.2f", res.seconds);
    if (r == CN_ERR_NONFINITE) {
        outcome(row, "diverged", res.diverged_msg);
        goto done;
    }
    if (r) {
        outcome(row, "failed", err.msg[0] ? err.msg : cn_strerror(r));
        goto done;
    }
    /* the whole test split, whatever limit-test trimmed the per-epoch evaluations to */
    double loss, acc;
    if ((r = cn_evaluate(net, &data->test, o.t.loss, 0, 0, &loss, &acc, &err))) {
        outcome(row, "failed", err.msg);
        goto done;
    }
    zoo_row_set(row, ZOO_TEST_ACCURACY, "%.4f", acc);
    zoo_row_set(row, ZOO_TEST_LOSS, "%.6g", loss);
    if (!isfinite(loss)) {
        outcome(row, "diverged", "the test loss is not finite");
        goto done;
    }
    /* `critnet measure --dynamic-range` at its defaults; the probes' seed as there: the model's seed + 1 */
    cn_measure_cfg mc;
    cn_measure_defaults(&mc);
    mc.dynamic_range = 1;
    mc.seed = o.c.seed + 1;
    mc.progress = measure_tick;
    mc.user = &tk;
    int n = z->samples < data->test.count ? z->samples : data->test.count;
    double t0 = cli_now();
    r = cn_measure(net, data->test.x, n, &mc, &mr, &err);
    zoo_row_set(row, ZOO_MEASURE_SECONDS, "%.2f", cli_now() - t0);
    if (r) {
        outcome(row, r == CN_ERR_NONFINITE ? "diverged" : "failed", err.msg[0] ? err.msg : cn_strerror(r));
        goto done;
    }
    zoo_row_set(row, ZOO_SIGMA, "%.6g", mr.sigma);
    zoo_row_set(row, ZOO_SIGMA_SE, "%.6g", mr.sigma_se);
    zoo_row_set(row, ZOO_LAMBDA0, "%.6g", mr.lambda_max);
    zoo_row_set(row, ZOO_LAMBDA0_SE, "%.6g", mr.lambda_max_se);
    zoo_row_set(row, ZOO_SIGMA_ACT, "%.6g", mr.sigma_act);
    zoo_row_set(row, ZOO_MEAN_ABS_LN_SIGMA_BLOCK, "%.6g", mr.mean_abs_ln_sigma_block);
    if (mr.has_dr) {
        zoo_row_set(row, ZOO_DELTA, "%.6g", mr.dr.delta_db);
        zoo_row_set(row, ZOO_DELTA_SATURATED, "%d", mr.dr.saturated);
        zoo_row_set(row, ZOO_DELTA_TRUNCATED_LOW, "%d", mr.dr.truncated_low);
    }
    if (!isfinite(mr.sigma) || !isfinite(mr.lambda_max) || (mr.has_dr && !isfinite(mr.dr.delta_db)))
        outcome(row, "diverged", "a criticality measure is not finite");
    else if (!mr.has_dr) outcome(row, "ok", "Delta undefined: the response does not rise over the stimulus range");
    else outcome(row, "ok", "");
done:
    cn_measure_result_free(&mr);
    cJSON_Delete(init_report);
    free(settings);
    cn_optim_free(opt);
    cn_rng_free(rng);
    cn_net_free(net);
}
