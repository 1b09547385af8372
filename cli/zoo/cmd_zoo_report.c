/* cmd_zoo_report.c: `critnet zoo-report DIR`: does test accuracy track criticality across the models of a zoo?
 * Reads DIR/zoo.csv and, for |ln sigma|, |lambda_0| and Delta, computes Spearman's rho with a bootstrap interval
 * (Pearson's r beside it), a Mann-Whitney test between the models nearer to and farther from criticality, and
 * a mixed model with a random intercept per family; then prints the report and writes DIR/stats.md,
 * DIR/stats.json and a figure per measure (the writers: zoo_report_write.c, zoo_report_plot.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "zoo_report.h"

static const char *usage =
    "usage: critnet zoo-report DIR [--resamples N] [--seed S] [--level L] [--quiet]\n"
    "The statistics of a zoo run (critnet zoo --out DIR; docs/zoo.md): does the test accuracy of the models\n"
    "track their distance from criticality? Reads DIR/zoo.csv, uses the models with status ok and lists the\n"
    "diverged and failed ones. For each measure, |ln sigma| of the geometric mean, the mean over blocks of\n"
    "|ln sigma_l| and |lambda_0| (0 at criticality) and Delta (the dynamic range in dB, claimed largest at\n"
    "criticality; docs/phase.md finds that it is not), against test_accuracy. A Delta whose response curve the\n"
    "stimulus grid cut off (delta_saturated 0 or delta_truncated_low 1) is left out, and the report counts them:\n"
    "  - Spearman's rho and its two-sided p (scipy.stats.spearmanr), with a percentile bootstrap interval\n"
    "    of rho over the models; Pearson's r and its p for reference;\n"
    "  - the Mann-Whitney U test (two-sided, scipy.stats.mannwhitneyu) of the accuracies of the near-critical\n"
    "    models against the far ones: split at the median of the measure, the models at or below it near\n"
    "    (for Delta: at or above it), the others far;\n"
    "  - the linear mixed model test_accuracy ~ 1 + measure + (1 | family) by REML (statsmodels' MixedLM):\n"
    "    the slope with its standard error, z and p, and the family and residual variances.\n"
    "The p-values of the first two treat the models as independent; the mixed model lets the models of one\n"
    "family share an offset. Prints the report (markdown) and writes DIR/stats.md, DIR/stats.json (every\n"
    "number and the settings) and DIR/acc_vs_abs_ln_sigma.png, acc_vs_mean_abs_ln_sigma_block.png,\n"
    "acc_vs_abs_lambda0.png, acc_vs_delta.png.\n"
    "  --resamples N           bootstrap resamples (default 2000)\n"
    "  --seed S                bootstrap seed (default 0); each measure's interval starts afresh from it\n"
    "  --level L               level of the interval (default 0.95)\n"
    "  --quiet                 write the files, print nothing\n";

enum { O_RESAMPLES = 2000, O_SEED, O_LEVEL, O_QUIET };

const zr_measure_def zr_measures[ZR_NMEASURES] = {
    {"abs_ln_sigma", "|ln sigma|", "|ln #gs|", "sigma", 0},
    {"mean_abs_ln_sigma_block", "mean |ln sigma_l|", "mean |ln #gs#dl#u|", "mean_abs_ln_sigma_block", 0},
    {"abs_lambda0", "|lambda_0|", "|#gl#d0#u|", "lambda0", 0},
    {"delta", "Delta (dB)", "#gD (dB)", "delta", 1},
};

static int parse(zr_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"resamples", required_argument, 0, O_RESAMPLES}, {"seed", required_argument, 0, O_SEED},
        {"level", required_argument, 0, O_LEVEL}, {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    int opt, bad = 0;
    while (!bad && (opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_RESAMPLES: bad = cli_parse_int("resamples", optarg, 10, 10000000, &o->resamples); break;
        case O_SEED: bad = cli_parse_u64("seed", optarg, &o->seed); break;
        case O_LEVEL:
            bad = cli_parse_real("level", optarg, 0, 1, &o->level);
            if (!bad && (o->level <= 0 || o->level >= 1)) {
                cli_error("--level %s: expected a number strictly between 0 and 1 (e.g. 0.95)", optarg);
                bad = 1;
            }
            break;
        case O_QUIET: o->quiet = 1; break;
        default: fputs(usage, stderr); return -1;
        }
    }
    if (bad) return -1;
    if (optind >= argc) {
        cli_error("DIR is required: the folder of a zoo run (critnet zoo --out DIR; see critnet zoo-report --help)");
        return -1;
    }
    if (optind + 1 < argc) {
        cli_error("unexpected argument '%s' (one DIR; see critnet zoo-report --help)", argv[optind + 1]);
        return -1;
    }
    o->dir = argv[optind];
    return 0;
}

/* ---------------------------------------------------------------- reading zoo.csv */

/* The columns the report needs, each missing one named in a single message. */
static int find_columns(zr_data *d)
{
    static const char *const need[] = {"id", "family", "status", "test_accuracy", "sigma", "lambda0", "delta"};
    int *col[] = {&d->col_id, &d->col_family, &d->col_status, &d->col_acc, &d->col_sigma, &d->col_lambda0,
                  &d->col_delta};
    char missing[512] = "";
    size_t len = 0;
    int nmissing = 0;
    for (size_t k = 0; k < sizeof need / sizeof *need; k++) {
        *col[k] = -1;
        for (int j = 0; j < d->t.cols; j++)
            if (!strcmp(d->t.header[j], need[k])) *col[k] = j;
        if (*col[k] < 0) {
            len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s", nmissing ? ", " : "", need[k]);
            nmissing++;
        }
    }
    d->col_message = d->col_saturated = d->col_truncated_low = d->col_block = -1;
    for (int j = 0; j < d->t.cols; j++) {
        const char *h = d->t.header[j];
        if (!strcmp(h, "message")) d->col_message = j;
        if (!strcmp(h, "delta_saturated")) d->col_saturated = j;
        if (!strcmp(h, "delta_truncated_low")) d->col_truncated_low = j;
        if (!strcmp(h, "mean_abs_ln_sigma_block")) d->col_block = j;
    }
    if (nmissing) {
        cli_error("%s: no column%s %s (a zoo.csv of critnet zoo has id, family, status, test_accuracy, sigma, "
                  "lambda0 and delta among its columns)", d->path, nmissing > 1 ? "s" : "", missing);
        return -1;
    }
    return 0;
}

/* A number an ok model must have: the zoo records any non-finite accuracy or measure as diverged. */
static int finite_cell(const zr_data *d, int r, int col, double *v)
{
    if (cli_csv_number(&d->t, r, col, v)) return -1;
    if (isnan(*v)) {
        cli_error("%s:%d: model %s has status ok but %s is %s (the zoo records a model with a non-finite value as "
                  "diverged)", d->path, d->t.line[r], zr_cell(d, r, d->col_id), d->t.header[col],
                  *zr_cell(d, r, col) ? zr_cell(d, r, col) : "empty");
        return -1;
    }
    return 0;
}

static int intern(const char **names, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], s)) return i;
    names[*n] = s;
    return (*n)++;
}

static int alloc_results(zr_data *d)
{
    int rows = d->t.rows;
    d->used = calloc((size_t)rows, sizeof(int));
    d->left_out = malloc(sizeof(int) * (size_t)rows);
    d->families = malloc(sizeof(char *) * (size_t)rows);
    int ok = d->used && d->left_out && d->families;
    for (int m = 0; m < ZR_NMEASURES; m++) {
        zr_result *s = &d->res[m];
        s->x = malloc(sizeof(double) * (size_t)rows), s->acc = malloc(sizeof(double) * (size_t)rows);
        s->family = malloc(sizeof(int) * (size_t)rows), s->row = malloc(sizeof(int) * (size_t)rows);
        s->without = malloc(sizeof(int) * (size_t)rows), s->cut = malloc(sizeof(int) * (size_t)rows);
        ok = ok && s->x && s->acc && s->family && s->row && s->without && s->cut;
    }
    if (!ok) cli_error("%s: out of memory", d->path);
    return ok ? 0 : -1;
}

/* Reads and checks everything before anything is computed or written. A zoo that was stopped and resumed may
 * hold an earlier row of an id that ran again (a failed model is retried): the last row of an id counts, as
 * for the zoo itself. */
static int load(zr_data *d, const zr_opts *o)
{
    struct stat st;
    int e = stat(o->dir, &st) ? errno : 0;
    if (e || !S_ISDIR(st.st_mode)) {
        cli_error("%s: %s (expected the folder of a zoo run: critnet zoo --out DIR)", o->dir,
                  e == ENOENT ? "no such folder" : e ? strerror(e) : "not a folder");
        return -1;
    }
    snprintf(d->path, sizeof d->path, "%s/zoo.csv", o->dir);
    if (stat(d->path, &st)) {
        cli_error("%s: %s (critnet zoo writes it; is %s the --out of a zoo run?)", d->path,
                  errno == ENOENT ? "no such file" : strerror(errno), o->dir);
        return -1;
    }
    if (cli_csv_read(&d->t, d->path) || find_columns(d) || alloc_results(d)) return -1;
    int rows = d->t.rows;
    for (int r = 0; r < rows; r++) {
        if (!*zr_cell(d, r, d->col_id)) {
            cli_error("%s:%d: the id is empty", d->path, d->t.line[r]);
            return -1;
        }
        d->used[r] = 1;
        for (int s = r + 1; s < rows && d->used[r]; s++)
            if (!strcmp(zr_cell(d, r, d->col_id), zr_cell(d, s, d->col_id))) d->used[r] = 0;
        d->n_replaced += !d->used[r];
    }
    for (int r = 0; r < rows; r++) {
        if (!d->used[r]) continue;
        d->n_models++;
        const char *status = zr_cell(d, r, d->col_status);
        if (!strcmp(status, "diverged") || !strcmp(status, "failed")) {
            d->n_diverged += status[0] == 'd';
            d->n_failed += status[0] == 'f';
            d->left_out[d->n_left_out++] = r;
            continue;
        }
        if (strcmp(status, "ok")) {
            cli_error("%s:%d: model %s: status '%s' (expected ok, diverged or failed)", d->path, d->t.line[r],
                      zr_cell(d, r, d->col_id), status);
            return -1;
        }
        d->n_ok++;
        double acc, sigma, lambda0, delta;
        if (finite_cell(d, r, d->col_acc, &acc) || finite_cell(d, r, d->col_sigma, &sigma) ||
            finite_cell(d, r, d->col_lambda0, &lambda0) || cli_csv_number(&d->t, r, d->col_delta, &delta))
            return -1;
        if (sigma < 0) {
            cli_error("%s:%d: model %s: sigma %s is negative (a ratio of norms cannot be)", d->path, d->t.line[r],
                      zr_cell(d, r, d->col_id), zr_cell(d, r, d->col_sigma));
            return -1;
        }
        if (!*zr_cell(d, r, d->col_family)) {
            cli_error("%s:%d: model %s has no family", d->path, d->t.line[r], zr_cell(d, r, d->col_id));
            return -1;
        }
        int fam = intern(d->families, &d->n_families, zr_cell(d, r, d->col_family));
        /* sigma = 0 (a network whose every unit is dead) is a valid measurement without a logarithm, and a
         * model without Delta (no rise of the response) is ok in the zoo: both sit out that measure only */
        double block = NAN, saturated = 1, truncated_low = 0;
        if ((d->col_block >= 0 && cli_csv_number(&d->t, r, d->col_block, &block)) ||
            (d->col_saturated >= 0 && cli_csv_number(&d->t, r, d->col_saturated, &saturated)) ||
            (d->col_truncated_low >= 0 && cli_csv_number(&d->t, r, d->col_truncated_low, &truncated_low)))
            return -1;
        double x[ZR_NMEASURES] = {sigma > 0 ? fabs(log(sigma)) : NAN, block, fabs(lambda0), delta};
        for (int m = 0; m < ZR_NMEASURES; m++) {
            zr_result *s = &d->res[m];
            if (isnan(x[m])) {
                s->without[s->n_without++] = r;
                continue;
            }
            /* a Delta whose curve the stimulus grid cut off measures the grid, not the network: counted, not used */
            if (m == ZR_DELTA && (saturated != 1 || truncated_low == 1)) {
                s->cut[s->n_cut++] = r;
                s->n_cut_high += saturated != 1;
                s->n_cut_low += truncated_low == 1;
                continue;
            }
            s->x[s->n] = x[m], s->acc[s->n] = acc, s->family[s->n] = fam, s->row[s->n] = r;
            s->n++;
        }
    }
    if (d->n_ok < 3) {
        cli_error("%s: %d model%s with status ok (of %d: %d diverged, %d failed); the statistics need at least 3",
                  d->path, d->n_ok, d->n_ok == 1 ? "" : "s", d->n_models, d->n_diverged, d->n_failed);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the statistics */

static int ascending(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

/* numpy.median: the middle value, or the mean of the two middle ones; v is sorted in place */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, ascending);
    return 0.5 * (v[(n - 1) / 2] + v[n / 2]);
}

/* Each call reports CN_ERR_ARG where its number is undefined for these data; that is an answer (why_*), and
 * only running out of memory stops the report. */
static int correlations(zr_result *s, const zr_opts *o)
{
    int rc = cn_stats_spearman(&s->spearman, s->x, s->acc, s->n);
    if (rc == CN_ERR_NOMEM) return -1;
    s->why_spearman = rc ? "a constant column" : NULL;
    rc = cn_stats_pearson(&s->pearson, s->x, s->acc, s->n);
    s->why_pearson = rc ? "a constant column" : NULL;
    /* the generator restarts from the seed for each measure, so an interval does not depend on the others */
    cn_rng *rng = cn_rng_new(o->seed);
    if (!rng) return -1;
    rc = cn_stats_spearman_bootstrap_ci(&s->ci_lo, &s->ci_hi, &s->ci_skipped, s->x, s->acc, s->n, o->resamples,
                                        o->level, rng);
    cn_rng_free(rng);
    if (rc == CN_ERR_NOMEM) return -1;
    s->why_ci = rc ? "more than 10% of the resamples had a constant column" : NULL;
    if (rc) s->ci_lo = s->ci_hi = NAN;
    return 0;
}

static int near_far(zr_result *s, int larger_is_nearer)
{
    double *v = malloc(sizeof(double) * (size_t)s->n), *near = malloc(sizeof(double) * (size_t)s->n);
    double *far = malloc(sizeof(double) * (size_t)s->n);
    int rc = v && near && far ? 0 : -1;
    if (!rc) {
        memcpy(v, s->x, sizeof(double) * (size_t)s->n);
        s->split = median(v, s->n);
        for (int i = 0; i < s->n; i++) {
            /* the models at the median go to the near group */
            int is_near = larger_is_nearer ? s->x[i] >= s->split : s->x[i] <= s->split;
            if (is_near) near[s->n_near++] = s->acc[i];
            else far[s->n_far++] = s->acc[i];
        }
        memcpy(v, near, sizeof(double) * (size_t)s->n_near);
        s->median_near = median(v, s->n_near); /* the median model is near: never empty */
        memcpy(v, far, sizeof(double) * (size_t)s->n_far);
        s->median_far = s->n_far ? median(v, s->n_far) : NAN;
        if (!s->n_far) s->why_mw = "more than half of the models share the median value, so no model is far";
        else if (cn_stats_mann_whitney_u(&s->mw, near, s->n_near, far, s->n_far,
                                         CN_STATS_ALT_TWO_SIDED) == CN_ERR_NOMEM) rc = -1;
    }
    free(v);
    free(near);
    free(far);
    return rc;
}

static int mixed(zr_result *s, int n_families)
{
    double *X = malloc(sizeof(double) * 2 * (size_t)s->n);
    int *size = calloc((size_t)n_families, sizeof(int));
    if (!X || !size) {
        free(X);
        free(size);
        return -1;
    }
    int largest = 0;
    for (int i = 0; i < s->n; i++) {
        X[2 * i] = 1, X[2 * i + 1] = s->x[i];
        s->fit_families += size[s->family[i]]++ == 0;
        if (size[s->family[i]] > largest) largest = size[s->family[i]];
    }
    int rc = 0;
    /* the fit's own CN_ERR_ARG covers these too; checked first to say which */
    if (s->fit_families < 2) s->why_fit = "the models come from fewer than 2 families";
    else if (largest < 2) s->why_fit = "no family has 2 models";
    else {
        rc = cn_stats_mixed_intercept(&s->fit, s->acc, X, s->n, 2, s->family, 1);
        s->why_fit = rc == CN_ERR_ARG ? "undefined for these data (a constant measure, or accuracies fitted exactly)"
                                      : NULL;
        rc = rc == CN_ERR_NOMEM ? -1 : 0;
    }
    free(X);
    free(size);
    return rc;
}

static int analyse(zr_data *d, const zr_opts *o)
{
    for (int m = 0; m < ZR_NMEASURES; m++) {
        zr_result *s = &d->res[m];
        if (s->n < 3) {
            /* only Delta (missing or cut off) and the per-block distance (a zoo.csv without its column) can be
             * missing from ok models; 3 ok models are checked in load() */
            s->why_spearman = s->why_pearson = s->why_ci = s->why_mw = s->why_fit = "fewer than 3 models have it";
            s->ci_lo = s->ci_hi = s->split = s->median_near = s->median_far = NAN;
            continue;
        }
        if (correlations(s, o) || near_far(s, zr_measures[m].larger_is_nearer) || mixed(s, d->n_families)) {
            cli_error("out of memory");
            return -1;
        }
    }
    return 0;
}

static void free_data(zr_data *d)
{
    cli_csv_free(&d->t);
    free(d->used);
    free(d->left_out);
    free(d->families);
    for (int m = 0; m < ZR_NMEASURES; m++) {
        free(d->res[m].x);
        free(d->res[m].acc);
        free(d->res[m].family);
        free(d->res[m].row);
        free(d->res[m].without);
        free(d->res[m].cut);
    }
}

int cmd_zoo_report(int argc, char **argv)
{
    zr_opts o = {.resamples = 2000, .level = 0.95};
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    zr_data d;
    memset(&d, 0, sizeof d);
    char *md = NULL, path[4300];
    size_t md_size = 0;
    FILE *f = NULL;
    int rc = 1;
    /* everything is read, checked and computed before the first file is written, so bad input writes nothing */
    if (load(&d, &o) || analyse(&d, &o)) goto done;
    if (!(f = open_memstream(&md, &md_size))) {
        cli_error("out of memory");
        goto done;
    }
    zr_write_markdown(f, &d, &o);
    if (fclose(f) || !md) {
        cli_error("out of memory");
        goto done;
    }
    if (zr_write_plots(&d, &o)) goto done;
    snprintf(path, sizeof path, "%s/stats.json", o.dir);
    if (zr_write_json(path, &d, &o, argc - 1, argv + 1)) goto done;
    snprintf(path, sizeof path, "%s/stats.md", o.dir);
    if (cli_write_text(path, md)) goto done;
    if (!o.quiet) fputs(md, stdout);
    rc = 0;
done:
    free(md);
    free_data(&d);
    return rc;
}
