/* train.c: the training loop: shuffled minibatches, an optimizer step per batch, evaluation every epoch,
 * divergence detection, and the run's files (checkpoint, metrics.csv, summary.json). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "core/finite.h"
#include "core/json_file.h"
#include "net/net_internal.h"
#include "control/control_train.h"
#include "train/critreg.h"
#include "train/metrics_file.h"
#include "train/track_file.h"

#define EVAL_BATCH 500

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *const loss_names[] = {"cross_entropy", "mse"};
static const char *const opt_names[] = {"sgd", "adam", "adamw"};
static const char *const sched_names[] = {"constant", "step", "cosine"};
_Static_assert(sizeof loss_names / sizeof *loss_names == CN_LOSS_COUNT, "one name per loss");
_Static_assert(sizeof opt_names / sizeof *opt_names == CN_OPT_COUNT, "one name per optimizer");
_Static_assert(sizeof sched_names / sizeof *sched_names == CN_SCHED_COUNT, "one name per schedule");

static int lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

const char *cn_loss_name(cn_loss_kind k) { return (unsigned)k < CN_LOSS_COUNT ? loss_names[k] : "?"; }
const char *cn_opt_name(cn_opt_kind k) { return (unsigned)k < CN_OPT_COUNT ? opt_names[k] : "?"; }
const char *cn_sched_name(cn_sched_kind k) { return (unsigned)k < CN_SCHED_COUNT ? sched_names[k] : "?"; }

int cn_loss_from_name(const char *name, cn_loss_kind *out)
{
    int i = lookup(loss_names, CN_LOSS_COUNT, name);
    if (i < 0 && strcmp(name, "ce") == 0) i = CN_LOSS_CROSS_ENTROPY;
    if (i < 0) return CN_ERR_ARG;
    *out = (cn_loss_kind)i;
    return CN_OK;
}

int cn_opt_from_name(const char *name, cn_opt_kind *out)
{
    int i = lookup(opt_names, CN_OPT_COUNT, name);
    if (i < 0) return CN_ERR_ARG;
    *out = (cn_opt_kind)i;
    return CN_OK;
}

int cn_sched_from_name(const char *name, cn_sched_kind *out)
{
    int i = lookup(sched_names, CN_SCHED_COUNT, name);
    if (i < 0) return CN_ERR_ARG;
    *out = (cn_sched_kind)i;
    return CN_OK;
}

/* sigma and lambda_0 on a fixed subset of the test inputs, with a fixed probe seed: a run's curve shows
 * how training moves the dynamics, and drawing nothing from the run's RNG keeps resume bit-identical */
/* A net the measures refuse is tracked as NaN, but running out of memory ends the run: a NaN written in its
 * place would make the metrics depend on how much memory there was. */
static int track_dynamics(cn_net *net, const cn_dataset *test, int samples, double *sigma, double *lambda,
                          cn_error *err)
{
    *sigma = *lambda = NAN;
    int n = samples < test->count ? samples : test->count;
    if (n < 1) return CN_OK;
    cn_measure_cfg m;
    cn_measure_defaults(&m);
    m.seed = CN_TRACK_SEED;
    cn_measure_result r;
    int rc = cn_measure(net, test->x, n, &m, &r, NULL);
    if (rc == CN_ERR_NOMEM) return cn_error_set(err, rc, "out of memory tracking sigma and lambda_0");
    if (rc != CN_OK) return CN_OK;
    *sigma = r.sigma;
    *lambda = r.lambda_max;
    cn_measure_result_free(&r);
    return CN_OK;
}

static int write_summary(const char *dir, const cn_train_cfg *cfg, const cn_net *net, const cn_train_result *res,
                         const char *status, cn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    cJSON *root = cJSON_CreateObject();
    cJSON *settings = cfg->settings ? cJSON_Parse(cfg->settings) : NULL;
    if (settings) cJSON_AddItemToObject(root, "settings", settings);
    cJSON_AddNumberToObject(root, "seed", (double)cfg->seed);
    cJSON_AddStringToObject(root, "status", status);
    if (res->diverged) cJSON_AddStringToObject(root, "message", res->diverged_msg);
    cJSON_AddNumberToObject(root, "epochs", res->epochs_done);
    cJSON_AddNumberToObject(root, "parameters", (double)net->nparams);
    cJSON_AddNumberToObject(root, "train_loss", res->train_loss);
    cJSON_AddNumberToObject(root, "train_accuracy", res->train_acc);
    cJSON_AddNumberToObject(root, "test_loss", res->test_loss);
    cJSON_AddNumberToObject(root, "test_accuracy", res->test_acc);
    if (isfinite(res->sigma)) cJSON_AddNumberToObject(root, "sigma", res->sigma);
    if (isfinite(res->lambda_max)) cJSON_AddNumberToObject(root, "lambda_max", res->lambda_max);
    if (cfg->crit.weight > 0) cJSON_AddNumberToObject(root, "crit_reg", res->crit_reg);
    cJSON_AddNumberToObject(root, "seconds", res->seconds);
    return cn_json_save(path, root, err);
}

typedef struct {
    cn_real *x, *dlogits;
    int32_t *y, *order;
} train_buffers;

static void free_buffers(train_buffers *b)
{
    cn_free(b->x);
    cn_free(b->dlogits);
    cn_free(b->y);
    cn_free(b->order);
}

int cn_train(cn_net *net, const cn_data *data, const cn_train_cfg *cfg, cn_optim *opt, cn_rng *rng, int start_epoch,
             cn_train_result *res, cn_error *err)
{
    memset(res, 0, sizeof *res);
    const cn_dataset *tr = &data->train;
    int in = cn_net_in_size(net), classes = cn_net_out_size(net), B = cfg->batch;
    int n = cfg->limit_train > 0 && cfg->limit_train < tr->count ? cfg->limit_train : tr->count;
    if (B < 1) return cn_error_set(err, CN_ERR_ARG, "--batch %d: must be >= 1", B);
    int rc = cn_net_trainable(net, err);
    if (rc) return rc;
    if (cfg->epochs < 1) return cn_error_set(err, CN_ERR_ARG, "--epochs %d: must be >= 1", cfg->epochs);
    if (in != tr->c * tr->h * tr->w)
        return cn_error_set(err, CN_ERR_ARG, "the model takes %d inputs, the data has %d per example", in,
                            tr->c * tr->h * tr->w);
    if (classes < tr->classes)
        return cn_error_set(err, CN_ERR_ARG, "the model has %d outputs, the data %d classes", classes, tr->classes);
    if (n < 1) return cn_error_set(err, CN_ERR_ARG, "no training examples");
    rc = cn_net_reserve(net, B > EVAL_BATCH ? B : EVAL_BATCH, 1);
    if (rc) return cn_error_set(err, rc, "out of memory for a batch of %d", B);
    train_buffers b = {cn_malloc((size_t)B * in * sizeof(cn_real)), cn_malloc((size_t)B * classes * sizeof(cn_real)),
                       cn_malloc((size_t)B * sizeof(int32_t)), cn_malloc((size_t)n * sizeof(int32_t))};
    if (!b.x || !b.dlogits || !b.y || !b.order) {
        free_buffers(&b);
        return cn_error_set(err, CN_ERR_NOMEM, "out of memory for the training buffers");
    }
    cn_critreg *reg = NULL;
    const cn_crit_settings *cs = &cfg->crit;
    if (cs->weight < 0) rc = cn_error_set(err, CN_ERR_ARG, "--crit-weight %g: must be >= 0", cs->weight);
    else if (cs->weight > 0) {
        cn_critreg_cfg rcfg = {cs->weight, cs->target, cs->probes > 0 ? cs->probes : 1, cs->layers_all, cs->batch};
        rc = cn_critreg_new(&reg, net, &rcfg, B, err);
    }
    cn_control *ctl = NULL;
    if (!rc) rc = cn_control_open(&ctl, net, cfg, B, err);
    if (rc) {
        free_buffers(&b);
        cn_critreg_free(reg);
        return rc;
    }
    int crit_every = cs->every > 0 ? cs->every : 1;
    int track = cfg->track_samples == 0 ? 200 : cfg->track_samples;
    cn_rows_file metrics = {0};
    if (cfg->out_dir && (rc = cn_metrics_open(&metrics, cfg->out_dir, start_epoch, err))) {
        free_buffers(&b);
        cn_critreg_free(reg);
        cn_control_free(ctl);
        return rc;
    }
    long steps = (n + B - 1) / B;
    cn_track_file track_file = {0};
    if (cfg->out_dir && cfg->track_every > 0 &&
        (rc = cn_track_open(&track_file, net, &data->test, cfg->out_dir, cfg->track_every, track > 0 ? track : 200,
                            steps, start_epoch, err))) {
        cn_rows_close(&metrics);
        free_buffers(&b);
        cn_critreg_free(reg);
        cn_control_free(ctl);
        return rc;
    }
    cn_net_set_dropout_rng(net, rng);
    double t0 = now_seconds();
    int end = cfg->stop_after > 0 && start_epoch + cfg->stop_after < cfg->epochs ? start_epoch + cfg->stop_after
                                                                                  : cfg->epochs;
    res->epochs_done = start_epoch;
    for (int epoch = start_epoch; epoch < end && rc == CN_OK; epoch++) {
        double te = now_seconds(), lr = cn_sched_lr(&cfg->optim, epoch), loss_sum = 0, reg_sum = 0;
        long hits = 0, reg_steps = 0;
        /* a fresh permutation each epoch from the run's RNG, so resuming replays the same order */
        for (int i = 0; i < n; i++) b.order[i] = i;
        cn_rng_shuffle(rng, b.order, (size_t)n);
        for (long s = 0; s < steps; s++) {
            int start = (int)(s * B), bs = n - start < B ? n - start : B, correct;
            if (cfg->stop && *cfg->stop) {
                rc = cn_error_set(err, CN_ERR_STOPPED, "train: stopped by the caller at epoch %d, step %ld",
                                  epoch + 1, s + 1);
                break;
            }
            for (int i = 0; i < bs; i++) {
                int idx = b.order[start + i];
                memcpy(b.x + (size_t)i * in, tr->x + (size_t)idx * in, (size_t)in * sizeof(cn_real));
                b.y[i] = tr->y[idx];
            }
            if ((rc = cn_net_forward(net, b.x, bs, 1))) {
                cn_net_pass_error(net, rc, err);
                break;
            }
            double loss = cn_loss(cfg->loss, cn_net_output(net), b.y, bs, classes, b.dlogits, &correct);
            if (!isfinite(loss)) {
                snprintf(res->diverged_msg, sizeof res->diverged_msg,
                         "diverged at epoch %d, step %ld: the loss is %g", epoch + 1, s + 1, loss);
                rc = CN_ERR_NONFINITE;
                break;
            }
            cn_net_zero_grad(net);
            if (reg && (s % crit_every) == 0) {
                double R;
                const int reg_rc = cn_critreg_apply(reg, rng, bs, &R, NULL);
                if (reg_rc != CN_OK && reg_rc != CN_ERR_NONFINITE) { /* a pass that failed, not a divergence */
                    rc = cn_net_pass_error(net, reg_rc, err);
                    break;
                }
                if (reg_rc != CN_OK || !isfinite(R)) {
                    snprintf(res->diverged_msg, sizeof res->diverged_msg,
                             "diverged at epoch %d, step %ld: the criticality regulariser is not finite", epoch + 1,
                             s + 1);
                    rc = CN_ERR_NONFINITE;
                    break;
                }
                reg_sum += R;
                reg_steps++;
                rc = cn_critreg_backward(reg, b.dlogits, bs);
            } else {
                rc = cn_net_backward(net, b.dlogits, NULL, bs);
            }
            if (rc) {
                cn_net_pass_error(net, rc, err);
                break;
            }
            cn_error cerr = {0};
            if (ctl && (rc = cn_control_step(ctl, rng, bs, (long)epoch * steps + s, &cerr))) {
                snprintf(res->diverged_msg, sizeof res->diverged_msg, "diverged at epoch %d, step %ld: %.200s",
                         epoch + 1, s + 1, cerr.msg);
                cn_error_set(err, rc, "%s", res->diverged_msg);
                break;
            }
            cn_optim_step(opt, net->params, net->grads, lr);
            if (!cn_all_finite(net->params, net->nparams)) {
                snprintf(res->diverged_msg, sizeof res->diverged_msg,
                         "diverged at epoch %d, step %ld: a parameter became NaN or Inf", epoch + 1, s + 1);
                rc = CN_ERR_NONFINITE;
                break;
            }
            if ((rc = cn_track_step(&track_file, net, &data->test, (long)epoch * steps + s + 1, err))) break;
            loss_sum += loss * bs;
            hits += correct;
            if (cfg->progress) {
                int seen = start + bs;
                cn_train_progress p = {epoch, cfg->epochs, s + 1, steps, loss_sum / seen, now_seconds() - t0, 0, 0, 0,
                                       0, 0, 0, 0, 0, 0};
                cfg->progress(&p, cfg->user);
            }
        }
        if (rc) break;
        res->train_loss = loss_sum / n;
        res->train_acc = (double)hits / n;
        if ((rc = cn_evaluate(net, &data->test, cfg->loss, EVAL_BATCH, cfg->limit_test, &res->test_loss,
                              &res->test_acc, err)))
            break;
        if (!isfinite(res->test_loss)) {
            snprintf(res->diverged_msg, sizeof res->diverged_msg, "epoch %d: the test loss is %g (non-finite test data?)", epoch + 1, res->test_loss);
            rc = CN_ERR_NONFINITE;
            break;
        }
        res->crit_reg = reg_steps ? reg_sum / reg_steps : NAN;
        res->sigma = res->lambda_max = NAN;
        if (track > 0 && (rc = track_dynamics(net, &data->test, track, &res->sigma, &res->lambda_max, err))) break;
        double secs = now_seconds() - te;
        res->epochs_done = epoch + 1;
        if (metrics.f) {
            char row[512];
            snprintf(row, sizeof row, "%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f\n", epoch + 1, res->train_loss,
                     res->train_acc, res->test_loss, res->test_acc, res->sigma, res->lambda_max, res->crit_reg, secs);
            if ((rc = cn_rows_append(&metrics, row, err))) break;
        }
        if (cfg->out_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/model.cnm", cfg->out_dir);
            if ((rc = cn_control_checkpoint_save(path, net, opt, rng, epoch + 1, cfg->settings, ctl, err))) break;
        }
        if (cfg->progress) {
            cn_train_progress p = {epoch, cfg->epochs, steps, steps, res->train_loss, now_seconds() - t0, 1,
                                   res->train_loss, res->train_acc, res->test_loss, res->test_acc, secs,
                                   res->sigma, res->lambda_max, res->crit_reg};
            cfg->progress(&p, cfg->user);
        }
    }
    res->seconds = now_seconds() - t0;
    if (rc == CN_ERR_NONFINITE) {
        res->diverged = 1;
        cn_error_set(err, rc, "%s; the checkpoint of epoch %d is kept", res->diverged_msg, res->epochs_done);
    }
    cn_rows_close(&metrics);
    cn_track_close(&track_file);
    /* a summary that cannot be written fails a run that had not failed; a diverged run keeps its own error */
    cn_error serr = {0};
    if (cfg->out_dir && (rc == CN_OK || rc == CN_ERR_NONFINITE) &&
        write_summary(cfg->out_dir, cfg, net, res, rc ? "diverged" : (res->epochs_done < cfg->epochs ? "stopped" : "done"),
                      &serr) && rc == CN_OK)
        rc = cn_error_set(err, serr.status, "%s", serr.msg);
    cn_net_set_dropout_rng(net, NULL);
    cn_critreg_free(reg);
    cn_control_free(ctl);
    free_buffers(&b);
    return rc;
}
