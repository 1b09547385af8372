/* measure_jac.c: `critnet measure --jacobian-spectrum` (see measure_jac.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "measure_jac.h"
#include "plot.h"

int cli_jac_option(cli_jac_opts *o, int opt, const char *arg)
{
    switch (opt) {
    case CLI_O_JAC: o->on = 1; return 1;
    case CLI_O_JAC_SAMPLES: o->given = 1; return cli_parse_int("jacobian-samples", arg, 1, 1 << 20, &o->samples) ? -1 : 1;
    case CLI_O_JAC_CSV: o->given = 1, o->csv = arg; return 1;
    default: return 0;
    }
}

int cli_jac_check(const cli_jac_opts *o)
{
    if (o->given && !o->on) {
        cli_error("--jacobian-samples and --jacobian-csv need --jacobian-spectrum");
        return -1;
    }
    return 0;
}

int cli_jac_run(cn_jacobian_result *r, const cli_jac_opts *o, cn_net *net, const cn_real *x, int n, int include_readout)
{
    int m = o->samples > 0 ? o->samples : 10;
    cn_error err = {0};
    if (cn_jacobian_spectrum(net, x, m < n ? m : n, include_readout, r, &err)) {
        cli_error("Jacobian spectrum: %s", err.msg);
        return -1;
    }
    return 0;
}

void cli_jac_print(const cn_jacobian_result *r)
{
    printf("\nJacobian spectrum (%d x %d, %d inputs, %d singular values each):\n", r->n_out, r->n_in, r->inputs,
           r->rank);
    printf("  mean s^2      %.6g   (chi^L; 1 at dynamical isometry's scale)\n", r->mean_s2);
    printf("  mean s^4      %.6g   (spread: mean s^4 / (mean s^2)^2 = %.4g; 1 when every s is equal)\n", r->mean_s4,
           r->mean_s2 > 0 ? r->mean_s4 / (r->mean_s2 * r->mean_s2) : NAN);
    printf("  s min / max   %.4g / %.4g, mean log10 condition %.3g\n", r->s_min, r->s_max, r->mean_log10_cond);
}

cJSON *cli_jac_json(const cn_jacobian_result *r)
{
    cJSON *j = cJSON_CreateObject(), *hist = cJSON_CreateArray();
    cJSON_AddNumberToObject(j, "inputs", r->inputs);
    cJSON_AddNumberToObject(j, "n_in", r->n_in);
    cJSON_AddNumberToObject(j, "n_out", r->n_out);
    cJSON_AddNumberToObject(j, "rank", r->rank);
    cJSON_AddNumberToObject(j, "mean_s2", r->mean_s2);
    cJSON_AddNumberToObject(j, "mean_s4", r->mean_s4);
    cJSON_AddNumberToObject(j, "s_min", r->s_min);
    cJSON_AddNumberToObject(j, "s_max", r->s_max);
    cJSON_AddNumberToObject(j, "mean_log10_condition", r->mean_log10_cond);
    cJSON_AddNumberToObject(j, "hist_log10_lo", r->hist_lo);
    cJSON_AddNumberToObject(j, "hist_log10_hi", r->hist_hi);
    for (int b = 0; b < 40; b++) cJSON_AddItemToArray(hist, cJSON_CreateNumber((double)r->hist[b]));
    cJSON_AddItemToObject(j, "hist_counts", hist);
    return j;
}

int cli_jac_write_csv(const char *path, const cn_jacobian_result *r)
{
    cli_report rep;
    FILE *f = cli_report_open(&rep, path);
    if (!f) return -1;
    fprintf(f, "input,index,s\n");
    for (int b = 0; b < r->inputs; b++)
        for (int k = 0; k < r->rank; k++) fprintf(f, "%d,%d,%.9g\n", b, k, r->s[(size_t)b * r->rank + k]);
    return cli_report_commit(&rep);
}

int cli_jac_plot(const char *dir, const cn_jacobian_result *r)
{
    double x[40], y[40];
    const double w = (r->hist_hi - r->hist_lo) / 40;
    for (int b = 0; b < 40; b++) {
        x[b] = r->hist_lo + (b + 0.5) * w;
        y[b] = (double)r->hist[b];
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/jacobian_spectrum.png", dir);
    cli_series s = {x, y, 40, "singular values", 1};
    cli_plot_opts po = {"Singular values of the input-output Jacobian", "log10 s", "count", 0, NAN};
    return cli_plot_lines(path, &po, &s, 1);
}
