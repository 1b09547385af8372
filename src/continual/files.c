/* files.c: the files of a continual run: tasks.csv, model.cnm with the continual state, summary.json. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include "core/json_file.h"
#include "core/strbuf.h"
#include "continual/run.h"
#include "net/net_internal.h"

static void path_of(char *out, size_t cap, const char *dir, const char *file) { snprintf(out, cap, "%s/%s", dir, file); }

void cl_format_row(char *out, size_t cap, const cn_continual_row *r)
{
    snprintf(out, cap, "%d,%.6f,%.6f,%.6f,%.6f,%.4f,%.6f,%.6f,%ld\n", r->task, r->accuracy, r->loss,
             r->dead_fraction, r->mean_abs_weight, r->effective_rank, r->sigma, r->lambda0, r->replaced);
}

/* tasks.csv from the header and the rows the run holds: on a restored run, the rows of the checkpoint, so
 * that rows of tasks after it (a killed run's) are dropped and the file ends as an uninterrupted run's */
int cl_open_tasks(const cn_continual *c, cn_rows_file *out, cn_error *err)
{
    char path[4096], row[CL_ROW_MAX];
    path_of(path, sizeof path, c->cfg.out_dir, "tasks.csv");
    cn_sb start = {0};
    cn_sb_append(&start, "task,online_accuracy,online_loss,dead_fraction,mean_abs_weight,effective_rank,sigma,"
                         "lambda0,units_replaced\n");
    for (int t = 0; t < c->tasks_done; t++) {
        cl_format_row(row, sizeof row, &c->rows[t]);
        cn_sb_append(&start, row);
    }
    int rc = start.failed ? cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path)
                          : cn_rows_open(out, path, start.s, err);
    cn_sb_free(&start);
    return rc;
}

int cl_save_checkpoint(cn_continual *c, cn_error *err)
{
    char path[4096];
    path_of(path, sizeof path, c->cfg.out_dir, "model.cnm");
    unsigned char *ext = NULL;
    size_t size = 0;
    if (cl_state_encode(c, &ext, &size)) return cn_error_set(err, CN_ERR_NOMEM, "out of memory for the checkpoint");
    int rc = cn_checkpoint_save_ext(path, c->net, c->opt, NULL, c->tasks_done, c->cfg.settings, ext, size, err);
    cn_free(ext);
    return rc;
}

static cJSON *row_json(const cn_continual_row *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "task", r->task);
    const char *names[] = {"online_accuracy", "online_loss", "dead_fraction", "mean_abs_weight", "effective_rank",
                           "sigma", "lambda0"};
    const double v[] = {r->accuracy, r->loss, r->dead_fraction, r->mean_abs_weight, r->effective_rank, r->sigma,
                        r->lambda0};
    for (int k = 0; k < 7; k++)
        cJSON_AddItemToObject(o, names[k], isfinite(v[k]) ? cJSON_CreateNumber(v[k]) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "units_replaced", (double)r->replaced);
    return o;
}

int cl_write_summary(const cn_continual *c, const cn_continual_result *res, const char *status, cn_error *err)
{
    char path[4096], methods[128];
    path_of(path, sizeof path, c->cfg.out_dir, "summary.json");
    cn_continual_methods_name(methods, sizeof methods, c->cfg.methods);
    cJSON *root = cJSON_CreateObject();
    cJSON *settings = c->cfg.settings ? cJSON_Parse(c->cfg.settings) : NULL;
    if (settings) cJSON_AddItemToObject(root, "settings", settings);
    cJSON_AddStringToObject(root, "method", methods);
    cJSON_AddStringToObject(root, "data", c->data->name);
    cJSON_AddNumberToObject(root, "seed", (double)c->cfg.seed);
    cJSON_AddStringToObject(root, "status", status);
    if (res->diverged) cJSON_AddStringToObject(root, "message", res->message);
    cJSON_AddNumberToObject(root, "tasks", c->cfg.tasks);
    cJSON_AddNumberToObject(root, "tasks_done", c->tasks_done);
    cJSON_AddNumberToObject(root, "examples_per_task", c->count);
    cJSON_AddNumberToObject(root, "width", c->cfg.width);
    cJSON_AddNumberToObject(root, "depth", c->cfg.depth);
    cJSON_AddNumberToObject(root, "parameters", (double)c->net->nparams);
    cJSON_AddNumberToObject(root, "lr", c->lr);
    cJSON_AddNumberToObject(root, "probe_inputs", c->probe_n);
    double acc = 0;
    for (int t = 0; t < c->tasks_done; t++) acc += c->rows[t].accuracy;
    if (c->tasks_done) {
        cJSON_AddNumberToObject(root, "mean_online_accuracy", acc / c->tasks_done);
        cJSON_AddItemToObject(root, "first_task", row_json(&c->rows[0]));
        cJSON_AddItemToObject(root, "last_task", row_json(&c->rows[c->tasks_done - 1]));
    }
    if (c->cfg.methods & CN_CL_CRIT) cJSON_AddNumberToObject(root, "crit_steps_skipped", (double)c->crit_skipped);
    cJSON_AddNumberToObject(root, "threads", cn_get_threads());
    cJSON_AddNumberToObject(root, "seconds", res->seconds);
    cJSON_AddNumberToObject(root, "steps", (double)res->steps);
    if (res->train_seconds > 0) cJSON_AddNumberToObject(root, "steps_per_second", res->steps / res->train_seconds);
    return cn_json_save(path, root, err);
}
