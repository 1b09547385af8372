/* measure_jac.h: `critnet measure --jacobian-spectrum`: the singular values of the input-output Jacobian
 * (src/measure/jacobian.c): options, the run, and its text, JSON, CSV and plot. */
#ifndef CN_MEASURE_JAC_H
#define CN_MEASURE_JAC_H

#include <cjson/cJSON.h>
#include "cli.h"

enum { CLI_O_JAC = 2200, CLI_O_JAC_SAMPLES, CLI_O_JAC_CSV };

#define CLI_JAC_OPTIONS                                                                                      \
    {"jacobian-spectrum", no_argument, 0, CLI_O_JAC}, {"jacobian-samples", required_argument, 0, CLI_O_JAC_SAMPLES}, \
        {"jacobian-csv", required_argument, 0, CLI_O_JAC_CSV}

#define CLI_JAC_HELP                                                                                         \
    "Jacobian spectrum (--jacobian-spectrum; dynamical isometry, Pennington et al. 2017):\n"                \
    "  --jacobian-spectrum     the singular values s of the blocks' input-output Jacobian, exactly (at most\n" \
    "                          4096 inputs and outputs): mean s^2 (chi^L), mean s^4, spread, condition\n"   \
    "  --jacobian-samples N    inputs it is formed at: the first N measured (default 10)\n"                  \
    "  --jacobian-csv FILE     every singular value: input, index, s\n"

typedef struct {
    int on, samples, given;
    const char *csv;
} cli_jac_opts;

/* 1 if opt was one of these options (handled), 0 if not, -1 on a bad value (message printed) */
int cli_jac_option(cli_jac_opts *o, int opt, const char *arg);
/* 0, or -1 after a message (a --jacobian-* option without --jacobian-spectrum) */
int cli_jac_check(const cli_jac_opts *o);
/* runs it on the first min(samples, n) of x; 0, or -1 after a message */
int cli_jac_run(cn_jacobian_result *r, const cli_jac_opts *o, cn_net *net, const cn_real *x, int n, int include_readout);
void cli_jac_print(const cn_jacobian_result *r);
cJSON *cli_jac_json(const cn_jacobian_result *r);
int cli_jac_write_csv(const char *path, const cn_jacobian_result *r);
int cli_jac_plot(const char *dir, const cn_jacobian_result *r);

#endif
