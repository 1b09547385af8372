/* measure_aval.h: `critnet measure --avalanches`: the options, the run and the outputs (text, JSON, CSV, plots) of
 * perturbation cascades through a network's depth (src/avalanche/cascade.c, avstats.c; docs/avalanches.md). */
#ifndef CN_MEASURE_AVAL_H
#define CN_MEASURE_AVAL_H

#include "cli.h"

enum { CLI_O_AVAL = 2100, CLI_O_AVAL_TRIALS, CLI_O_AVAL_EPS, CLI_O_AVAL_THRESH, CLI_O_AVAL_THRESH_ABS, CLI_O_AVAL_MODE,
       CLI_O_AVAL_SITE, CLI_O_AVAL_CALIB, CLI_O_AVAL_BOOT, CLI_O_AVAL_MINCOUNT, CLI_O_AVAL_TMIN, CLI_O_AVAL_CSV };

#define CLI_AVAL_OPTIONS                                                                                     \
    {"avalanches", no_argument, 0, CLI_O_AVAL}, {"aval-trials", required_argument, 0, CLI_O_AVAL_TRIALS},    \
        {"aval-eps", required_argument, 0, CLI_O_AVAL_EPS},                                                  \
        {"aval-threshold", required_argument, 0, CLI_O_AVAL_THRESH},                                         \
        {"aval-threshold-abs", required_argument, 0, CLI_O_AVAL_THRESH_ABS},                                 \
        {"aval-mode", required_argument, 0, CLI_O_AVAL_MODE}, {"aval-site", required_argument, 0, CLI_O_AVAL_SITE}, \
        {"aval-calibration", required_argument, 0, CLI_O_AVAL_CALIB},                                        \
        {"aval-bootstrap", required_argument, 0, CLI_O_AVAL_BOOT},                                           \
        {"aval-min-count", required_argument, 0, CLI_O_AVAL_MINCOUNT},                                       \
        {"aval-tmin", required_argument, 0, CLI_O_AVAL_TMIN}, {"aval-csv", required_argument, 0, CLI_O_AVAL_CSV}

#define CLI_AVAL_HELP                                                                                        \
    "Avalanches (--avalanches; docs/avalanches.md): a perturbation of one unit, and the units that change by\n" \
    "more than a threshold at each later block; size = units changed, duration = blocks reached:\n"         \
    "  --avalanches            run the cascades: size and duration fits, <S>(T) ~ T^gamma, shapes\n"          \
    "  --aval-trials N         cascades per input, each from a random unit and sign (default 10)\n"           \
    "  --aval-eps E            the seed unit's change (default 0.01)\n"                                       \
    "  --aval-threshold C      a unit counts when it changes by more than C times the RMS change of the\n"    \
    "                          first block after the seed (default 2.5)\n"                                   \
    "  --aval-calibration N    that RMS from the cascades of the first ceil(N / trials) inputs (default 1000)\n" \
    "  --aval-threshold-abs T  an absolute threshold instead\n"                                               \
    "  --aval-mode finite|linear  the perturbed input's forward (default), or Jacobian-vector products\n"     \
    "  --aval-site input|K     the seed: an input unit (default) or a unit of block K (0-based; linear only)\n" \
    "  --aval-bootstrap N      goodness-of-fit replicates of the two power-law fits (default 0)\n"            \
    "  --aval-min-count N      fewest avalanches of a duration for <S>(T) and the shapes (default 10)\n"      \
    "  --aval-tmin T           shortest duration in the fit of <S>(T) ~ T^gamma (default 1)\n"                \
    "  --aval-csv FILE         one row per cascade: input, unit, sign, size, duration, complete, count per block\n"

typedef struct {
    int on, given;       /* --avalanches; the first other --aval-* option seen (its id), for the check */
    cn_cascade_cfg c;
    cn_avalanche_opts a;
    const char *csv;
    int thresh_rel_set;
} cli_aval_opts;

void cli_aval_defaults(cli_aval_opts *o);
/* 1 if opt was an avalanche option (handled), 0 if not, -1 on a bad value (message printed) */
int cli_aval_option(cli_aval_opts *o, int opt, const char *arg);
/* after parsing: 0, or -1 after a message (an --aval-* option without --avalanches, conflicting options) */
int cli_aval_check(const cli_aval_opts *o);

typedef struct {
    cn_cascade_result r;
    cn_avalanche_stats s;
    cn_powerlaw_lr lr[2][CN_PL_ALT_COUNT]; /* sizes, durations; valid where the fit exists */
    double seconds;
} cli_aval_result;

/* the cascades on x (n inputs) and their statistics; 0, or -1 after a message */
int cli_aval_run(cli_aval_result *res, cli_aval_opts *o, cn_net *net, const cn_real *x, int n, uint64_t seed, int quiet);
void cli_aval_print(const cli_aval_result *res, const cli_aval_opts *o);
cJSON *cli_aval_json(const cli_aval_result *res, const cli_aval_opts *o);
int cli_aval_write_csv(const char *path, const cli_aval_result *res);
/* avalanche_sizes.png, avalanche_durations.png, avalanche_crackling.png, avalanche_shapes.png in dir (which exists) */
int cli_aval_plots(const char *dir, const cli_aval_result *res);
void cli_aval_free(cli_aval_result *res);

/* `critnet measure --activity-branching`: the MR branching ratio of the activity per block (block index as
 * time), the inputs pooled as independent trials (cn_net_activity_counts, cn_branching_estimate_trials). */
enum { CLI_O_AB = 2300, CLI_O_AB_THRESH, CLI_O_AB_THRESH_ABS, CLI_O_AB_KMAX, CLI_O_AB_BOOT, CLI_O_AB_CSV };

#define CLI_AB_OPTIONS                                                                                       \
    {"activity-branching", no_argument, 0, CLI_O_AB}, {"ab-threshold", required_argument, 0, CLI_O_AB_THRESH}, \
        {"ab-threshold-abs", required_argument, 0, CLI_O_AB_THRESH_ABS},                                     \
        {"ab-kmax", required_argument, 0, CLI_O_AB_KMAX}, {"ab-bootstrap", required_argument, 0, CLI_O_AB_BOOT}, \
        {"ab-csv", required_argument, 0, CLI_O_AB_CSV}

#define CLI_AB_HELP                                                                                          \
    "Branching ratio of activity (--activity-branching; docs/avalanches.md): per input, the number of units\n" \
    "beyond a threshold at each block is a time series over blocks; the multistep-regression estimator\n"     \
    "(Wilting & Priesemann 2018) on all inputs as trials gives m (critical at 1), beside the Jacobian sigma:\n" \
    "  --activity-branching    run it: m with its bootstrap CI, the naive r_1, b, tau\n"                      \
    "  --ab-threshold C        a unit is active when |h| > C x the RMS of every block output (default 1)\n"   \
    "  --ab-threshold-abs T    an absolute threshold instead\n"                                              \
    "  --ab-kmax K             largest lag in blocks (default 10; at most blocks - 2)\n"                     \
    "  --ab-bootstrap N        replicates of the CI, inputs drawn with replacement (default 200; 0: none)\n"  \
    "  --ab-csv FILE           one row per input: its active units at each block\n"

typedef struct {
    int on, given, thresh_rel_set;
    double rel_threshold, abs_threshold;
    cn_branching_opts b;
    const char *csv;
} cli_ab_opts;

typedef struct {
    double *counts; /* (inputs, len) */
    int inputs, len;
    double threshold, rms;
    cn_branching_fit fit;
} cli_ab_result;

void cli_ab_defaults(cli_ab_opts *o);
/* 1 if opt was one of these options (handled), 0 if not, -1 on a bad value (message printed) */
int cli_ab_option(cli_ab_opts *o, int opt, const char *arg);
/* 0, or -1 after a message (an --ab-* option without --activity-branching, conflicting thresholds) */
int cli_ab_check(const cli_ab_opts *o);
/* the counts on x (n inputs) and the estimate; 0, or -1 after a message */
int cli_ab_run(cli_ab_result *res, const cli_ab_opts *o, cn_net *net, const cn_real *x, int n, int include_readout,
               uint64_t seed);
void cli_ab_print(const cli_ab_result *res, const cli_ab_opts *o, double sigma);
cJSON *cli_ab_json(const cli_ab_result *res, const cli_ab_opts *o, double sigma);
int cli_ab_write_csv(const char *path, const cli_ab_result *res);
void cli_ab_free(cli_ab_result *res);

#endif
