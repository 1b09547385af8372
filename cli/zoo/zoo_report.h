/* zoo_report.h: the parts of `critnet zoo-report` (cmd_zoo_report.c: reading DIR/zoo.csv and the statistics):
 * what it keeps of each measure of criticality, and its writers (zoo_report_write.c: the markdown, stats.json
 * and the verdicts; zoo_report_plot.c: the figures). docs/zoo.md describes the command. */
#ifndef CN_ZOO_REPORT_H
#define CN_ZOO_REPORT_H

#include <stdio.h>
#include "cli.h"
#include "csv.h"

typedef struct {
    const char *dir;
    int resamples; /* bootstrap resamples of the interval of rho (default 2000) */
    uint64_t seed; /* the bootstrap's seed (default 0); every interval restarts from it */
    double level;  /* of the interval (default 0.95) */
    int quiet;
} zr_opts;

/* The measures test accuracy is set against. The two distances are 0 at criticality; Delta, the dynamic range,
 * is largest there (Kinouchi & Copelli 2006), so for it "nearer to criticality" means larger. */
typedef enum { ZR_ABS_LN_SIGMA = 0, ZR_MEAN_ABS_LN_SIGMA_BLOCK, ZR_ABS_LAMBDA0, ZR_DELTA, ZR_NMEASURES } zr_measure;

typedef struct {
    const char *name;     /* JSON key, and the figure's name: acc_vs_NAME.png */
    const char *text;     /* in tables and messages */
    const char *plot;     /* the same with PLplot's escapes for Greek letters and subscripts */
    const char *column;   /* the zoo.csv column it is computed from */
    int larger_is_nearer; /* 0: a distance from criticality; 1: Delta */
} zr_measure_def;
extern const zr_measure_def zr_measures[ZR_NMEASURES];

/* The results for one measure, over the models with status ok that have a value of it. Each `why` is NULL
 * where the number was computed, else the reason it is undefined (the JSON's numbers are then null). */
typedef struct {
    int n;            /* models used */
    double *x, *acc;  /* (n) the measure and the test accuracy */
    int *family;      /* (n) index into zr_data.families */
    int *row;         /* (n) row of the table, for the ids */
    int *without;     /* rows of ok models without a value (delta nan; sigma 0, which has no ln) */
    int n_without;
    /* Delta only: rows of ok models whose curve was cut off by the stimulus grid (not saturated by s_max, or
     * still rising at s_min; cn_dynrange_class), left out of its tests; a curve may be both */
    int *cut;
    int n_cut, n_cut_high, n_cut_low;
    cn_stats_correlation spearman, pearson;
    const char *why_spearman, *why_pearson;
    double ci_lo, ci_hi; /* percentile bootstrap interval of rho */
    int ci_skipped;      /* resamples without a rho (a constant column), left out */
    const char *why_ci;
    /* near-critical against far: x at or below the median (at or above for Delta) is near */
    double split;                 /* the median of x */
    int n_near, n_far;
    double median_near, median_far; /* of the accuracy */
    cn_stats_mann_whitney mw;     /* x: near, y: far, two-sided */
    const char *why_mw;
    /* test_accuracy ~ 1 + measure + (1 | family), REML */
    cn_stats_mixed_fit fit;
    int fit_families;             /* families among the n models */
    const char *why_fit;
} zr_result;

typedef struct {
    char path[4200]; /* DIR/zoo.csv */
    cli_csv t;
    int col_id, col_family, col_status, col_acc, col_sigma, col_lambda0, col_delta, col_message; /* message: -1 if absent */
    /* optional, -1 if absent (a zoo.csv of an older critnet): delta_saturated, delta_truncated_low,
     * mean_abs_ln_sigma_block */
    int col_saturated, col_truncated_low, col_block;
    int *used;        /* (t.rows) 1: the row counts (the last row of its id) */
    int n_models, n_ok, n_diverged, n_failed, n_replaced; /* n_replaced: earlier rows of a rerun id */
    int *left_out;    /* rows of the diverged and failed models, in file order */
    int n_left_out;
    const char **families; /* of the ok models, in order of first appearance */
    int n_families;
    zr_result res[ZR_NMEASURES];
} zr_data;

static inline const char *zr_cell(const zr_data *d, int row, int col)
{
    return d->t.cell[(size_t)row * d->t.cols + col];
}

/* zoo_report_write.c */
/* The report as markdown: the models used and left out, the three tables and what the numbers say. */
void zr_write_markdown(FILE *f, const zr_data *d, const zr_opts *o);
/* DIR/stats.json: every number, the settings and the rules; 0, or -1 with a message. */
int zr_write_json(const char *path, const zr_data *d, const zr_opts *o, int argc, char **argv);

/* zoo_report_plot.c: DIR/acc_vs_NAME.png for each measure; 0, or -1 with a message. */
int zr_write_plots(const zr_data *d, const zr_opts *o);

#endif
