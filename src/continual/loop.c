/* loop.c: the task loop of a continual run: each task's draws, its online steps, the measurements after it,
 * the rows, checkpoints and progress reports. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "continual/metrics.h"
#include "continual/run.h"
#include "continual/tasks.h"
#include "core/finite.h"
#include "net/net_internal.h"

#define FINITE_CHECK_EVERY 100 /* steps between checks of the parameters (the loss is checked every step) */
#define PROGRESS_EVERY 1000
#define TRACK_SEED 12345      /* the probes of sigma and lambda_0: fixed, as critnet train's tracking */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Running out of memory stops the run; a measurement that fails otherwise (LAPACK not converging, a
 * non-finite sigma) is recorded as NaN. */
static int measure(cn_continual *c, cn_continual_row *row, cn_error *err)
{
    const cn_dataset *te = &c->data->test;
    for (int i = 0; i < c->probe_n; i++)
        cl_permute(c->probe + (size_t)i * c->n_in, te->x + (size_t)i * c->n_in, c->perm, c->n_in);
    row->mean_abs_weight = cl_mean_abs_weight(c->net, c->dense, c->ndense);
    int rc = cl_probe_metrics(c->net, c->dense, c->ndense, c->probe, c->probe_n, c->probe_chunk, &row->dead_fraction,
                              &row->effective_rank);
    if (rc == CN_ERR_NOMEM) return cn_error_set(err, rc, "out of memory measuring task %d", row->task);
    row->sigma = row->lambda0 = NAN;
    int n = c->cfg.track_samples < c->probe_n ? c->cfg.track_samples : c->probe_n;
    if (n < 1) return CN_OK;
    cn_measure_cfg m;
    cn_measure_defaults(&m);
    m.seed = TRACK_SEED;
    cn_measure_result r;
    if ((rc = cn_measure(c->net, c->probe, n, &m, &r, NULL)) == CN_ERR_NOMEM)
        return cn_error_set(err, rc, "out of memory measuring sigma and lambda_0 after task %d", row->task);
    if (rc) return CN_OK;
    row->sigma = r.sigma;
    row->lambda0 = r.lambda_max;
    cn_measure_result_free(&r);
    return CN_OK;
}

void cn_continual_result_free(cn_continual_result *res)
{
    if (!res) return;
    cn_free(res->rows);
    res->rows = NULL;
    res->tasks_done = 0;
}

/* One task: its draws, every example once with an update after each, then the measurements. */
static int run_task(cn_continual *c, int t, double t0, double *train_s, long *steps, cn_continual_row *row,
                    char *msg, size_t cap, cn_error *err)
{
    cl_task_begin(c->rng_data, c->perm, c->order, c->fresh, c->tmp, c->n_in, c->data->train.count);
    c->task_begun = t;
    long hits = 0, replaced = 0;
    double loss_sum = 0, ts = now_seconds();
    int rc = CN_OK, s;
    for (s = 0; s < c->count; s++) {
        int hit;
        double loss;
        rc = c->fast ? cl_fast_step(c, c->order[s], &hit, &loss, &replaced)
                     : cl_online_step(c, c->order[s], &hit, &loss, &replaced);
        if (rc) {
            snprintf(msg, cap, "diverged in task %d at step %d: the loss is %g", t, s + 1, loss);
            break;
        }
        hits += hit;
        loss_sum += loss;
        if (((s + 1) % FINITE_CHECK_EVERY == 0 || s + 1 == c->count) && !cn_all_finite(c->net->params, c->net->nparams)) {
            snprintf(msg, cap, "diverged in task %d: a parameter became NaN or Inf by step %d (checked every %d steps)",
                     t, s + 1, FINITE_CHECK_EVERY);
            rc = CN_ERR_NONFINITE;
            break;
        }
        if (c->cfg.progress && (s + 1) % PROGRESS_EVERY == 0) {
            double tr = *train_s + now_seconds() - ts;
            cn_continual_progress p = {t, c->cfg.tasks, s + 1, c->count, now_seconds() - t0,
                                       tr > 0 ? (*steps + s + 1) / tr : 0, (double)hits / (s + 1), NULL};
            c->cfg.progress(&p, c->cfg.user);
        }
    }
    *train_s += now_seconds() - ts;
    *steps += s;
    if (rc) return rc;
    *row = (cn_continual_row){.task = t, .accuracy = (double)hits / c->count, .loss = loss_sum / c->count,
                              .replaced = replaced};
    return measure(c, row, err);
}

int cn_continual_run(cn_continual *c, cn_continual_result *res, cn_error *err)
{
    memset(res, 0, sizeof *res);
    const double t0 = now_seconds();
    const cn_continual_cfg *g = &c->cfg;
    cn_rows_file csv = {0};
    int rc = CN_OK, last_saved = c->tasks_done;
    if (g->out_dir) {
        if ((rc = cl_open_tasks(c, &csv, err))) return rc;
        /* a checkpoint before the first task, so that a run killed in it can be resumed too */
        if (c->tasks_done == 0 && (rc = cl_save_checkpoint(c, err))) {
            cn_rows_close(&csv);
            return rc;
        }
    }
    int end = g->stop_after > 0 && c->tasks_done + g->stop_after < g->tasks ? c->tasks_done + g->stop_after : g->tasks;
    for (int t = c->tasks_done + 1; t <= end; t++) {
        cn_continual_row row;
        if ((rc = run_task(c, t, t0, &res->train_seconds, &res->steps, &row, res->message, sizeof res->message, err)))
            break;
        c->rows[t - 1] = row;
        c->tasks_done = t;
        if (csv.f) {
            char line[CL_ROW_MAX];
            cl_format_row(line, sizeof line, &row);
            if ((rc = cn_rows_append(&csv, line, err))) break;
        }
        if (g->out_dir && (t % g->checkpoint_every == 0 || t == end)) {
            if ((rc = cl_save_checkpoint(c, err))) break;
            last_saved = t;
        }
        if (g->progress) {
            cn_continual_progress p = {t, g->tasks, c->count, c->count, now_seconds() - t0,
                                       res->train_seconds > 0 ? res->steps / res->train_seconds : 0, row.accuracy,
                                       &c->rows[t - 1]};
            g->progress(&p, g->user);
        }
    }
    cn_rows_close(&csv);
    res->seconds = now_seconds() - t0;
    res->tasks_done = c->tasks_done;
    if (rc == CN_ERR_NONFINITE) {
        res->diverged = 1;
        cn_error_set(err, rc, "%s; the checkpoint of task %d is kept", res->message, last_saved);
    }
    if (c->tasks_done && !(res->rows = cn_malloc((size_t)c->tasks_done * sizeof *res->rows)))
        rc = rc ? rc : cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    else if (c->tasks_done)
        memcpy(res->rows, c->rows, (size_t)c->tasks_done * sizeof *res->rows);
    /* a summary that cannot be written fails a run that had not failed; a diverged run keeps its own error */
    cn_error serr = {0};
    if (g->out_dir && (rc == CN_OK || rc == CN_ERR_NONFINITE) &&
        cl_write_summary(c, res, rc ? "diverged" : c->tasks_done < g->tasks ? "stopped" : "done", &serr) &&
        rc == CN_OK)
        rc = cn_error_set(err, serr.status, "%s", serr.msg);
    return rc;
}
