/* init_net.c: a network's initialisation from the --init flags, one place for train, zoo and measure:
 * a named scheme, or `critical[:BASE]`, the scheme BASE (default normal, so that --sigma-w sets the starting
 * point) followed by the critical calibration of every block on the first inputs of the data
 * (cn_init_critical, critnet_control.h). */
#include <math.h>
#include <string.h>
#include "cli.h"

int cli_init_is_critical(const char *name) { return !strcmp(name, "critical") || !strncmp(name, "critical:", 9); }

static cJSON *report_json(const cn_critical_init_report *rep, const cn_critical_init_cfg *ic, int inputs)
{
    cJSON *o = cJSON_CreateObject();
    double before = 0;
    int *status = cn_malloc((size_t)(rep->nblocks ? rep->nblocks : 1) * sizeof(int));
    for (int l = 0; l < rep->nblocks; l++) {
        before += fabs(rep->ln_sigma_before[l]) / rep->nblocks;
        if (status) status[l] = (int)rep->status[l];
    }
    cJSON_AddNumberToObject(o, "inputs", inputs);
    cJSON_AddNumberToObject(o, "probes", ic->probes);
    cJSON_AddNumberToObject(o, "tol", ic->tol);
    cJSON_AddNumberToObject(o, "max_iter", ic->max_iter);
    cJSON_AddItemToObject(o, "mean_abs_ln_sigma_before", cli_json_num(before));
    cJSON_AddItemToObject(o, "mean_abs_ln_sigma_after", cli_json_num(rep->mean_abs_after));
    cJSON_AddNumberToObject(o, "not_reached", rep->not_reached);
    cJSON_AddItemToObject(o, "ln_sigma_before", cli_json_numbers(rep->ln_sigma_before, rep->nblocks));
    cJSON_AddItemToObject(o, "ln_sigma_after", cli_json_numbers(rep->ln_sigma_after, rep->nblocks));
    cJSON_AddItemToObject(o, "log_gain", cli_json_numbers(rep->log_gain, rep->nblocks));
    if (status) cJSON_AddItemToObject(o, "status", cJSON_CreateIntArray(status, rep->nblocks));
    cJSON_AddItemToObject(o, "iterations", cJSON_CreateIntArray(rep->iterations, rep->nblocks));
    cn_free(status);
    return o;
}

int cli_init_net(cn_net *net, const cli_common *c, const cn_dataset *calib, cn_rng *rng, cJSON **report)
{
    if (report) *report = NULL;
    cn_init init;
    if (cli_init_kind(c, &init)) {
        cli_error("--init %s: unknown initialisation", c->init);
        return -1;
    }
    int rc = cn_net_init(net, &init, rng);
    if (rc) {
        cli_error("initialisation failed: %s", cn_strerror(rc));
        return -1;
    }
    if (!cli_init_is_critical(c->init)) return 0;
    if (!calib || calib->count < 1) {
        cli_error("--init %s: the data has no examples to calibrate on", c->init);
        return -1;
    }
    cn_critical_init_cfg ic;
    cn_critical_init_defaults(&ic);
    ic.seed = c->seed + 2; /* the probes' own stream, apart from the initialisation's and the measures' */
    cn_critical_init_report rep;
    cn_error err = {0};
    if ((rc = cn_init_critical(net, calib->x, calib->count, &ic, &rep, &err))) {
        cli_error("%s", err.msg[0] ? err.msg : cn_strerror(rc));
        return -1;
    }
    if (report) *report = report_json(&rep, &ic, calib->count < ic.batch ? calib->count : ic.batch);
    cn_critical_init_report_free(&rep);
    return 0;
}
