/* cmd_stats.c: `critnet stats`: summary statistics, paired Wilcoxon tests against baselines, plots, and
 * correlations between columns of a CSV of results (one row per training run, or per task of a run), so
 * the experiment scripts need no Python. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "csv.h"
#include "plot.h"

static const char *usage =
    "usage: critnet stats --csv FILE --condition COL [--group COL] [--pair COL] --metrics M1,M2,...\n"
    "                     [--baselines C1,C2] [--md FILE] [--json FILE] [--plot DIR] [--seed S] [--resamples N]\n"
    "       critnet stats --csv FILE --correlate X:Y,... [--condition COL] [--group COL] [--md FILE] [--json FILE]\n"
    "Summary statistics of per-run results, one CSV row per run. For each group and condition (in order of\n"
    "first appearance) and each metric: n, mean, sample sd (n - 1) and a 95% BCa bootstrap confidence\n"
    "interval of the mean. With --baselines, every other condition is tested against each baseline in the\n"
    "same group: the two-sided Wilcoxon signed-rank test on the paired differences condition - baseline\n"
    "(exact for up to 50 pairs without a zero difference, else the normal approximation).\n"
    "Prints markdown: a table of mean +- sd, then a table of the tests.\n"
    "With --correlate, the correlation of each pair of columns X and Y over the rows: Pearson's r and\n"
    "Spearman's rho, each with its two-sided p (Student's t with n - 2 degrees of freedom, as\n"
    "scipy.stats.pearsonr and spearmanr; the p-values treat the rows as independent). One row of the table\n"
    "per group and condition, and one for all conditions of the group together, \"(all)\". Rows missing X or\n"
    "Y are left out and counted. --correlate alone needs no --condition and no --metrics.\n"
    "  --csv FILE              header row, then comma-separated fields without quotes\n"
    "  --condition COL         the column naming each run's condition (method, setting)\n"
    "  --group COL             the column splitting the runs into groups (architecture, data; default: one)\n"
    "  --pair COL              the column matching runs across conditions (e.g. seed); default: the order\n"
    "                          of the runs within each group and condition\n"
    "  --metrics M1,M2,...     numeric columns to summarise; empty or nan cells are skipped and counted\n"
    "  --baselines C1,C2       the conditions the others are tested against\n"
    "  --md FILE               the printed markdown, also to FILE\n"
    "  --json FILE             every number (intervals, test details) and the command line\n"
    "  --plot DIR              DIR/METRIC.png: mean +- sd per condition, a series per group\n"
    "  --seed S                bootstrap seed (default 0); every interval starts afresh from it\n"
    "  --resamples N           bootstrap resamples (default 2000)\n"
    "  --correlate X:Y,...     correlate the numeric columns X and Y (several pairs: comma-separated)\n";

enum { O_CSV = 2000, O_CONDITION, O_GROUP, O_PAIR, O_METRICS, O_BASELINES, O_MD, O_JSON, O_PLOT, O_SEED, O_RESAMPLES,
       O_CORRELATE };

#define MAX_LIST 64
#define CI_LEVEL 0.95

typedef struct {
    const char *csv, *condition, *group, *pair, *metrics, *baselines, *md, *json, *plot, *correlate;
    uint64_t seed;
    int resamples;
} stats_opts;

/* one (group, condition, metric) */
typedef struct {
    int runs, n;             /* rows, and the values present among them */
    double mean, sd, lo, hi; /* NaN where undefined: sd for n < 2, the interval for n < 2 or constant values */
} summary;

/* one condition against one baseline, in one group, for one metric */
typedef struct {
    int group, metric, cond, base;
    int pairs, unpaired, missing; /* pairs tested; runs without a partner; matched pairs missing a value */
    double median_diff, mean_diff;
    cn_stats_wilcoxon w;
    int tested; /* 0: no pairs, or every difference zero */
} paired_test;

/* one pair of columns in one group, over one condition's rows or (cond -1) all of the group's */
typedef struct {
    int group, cond, pair;
    int n, missing;                   /* rows used; rows missing x or y */
    cn_stats_correlation pearson, spearman; /* r NaN where undefined (n < 2, a constant column) */
} correlation;

typedef struct {
    cli_csv t;
    char *metric_buf, *base_buf, *metric[MAX_LIST], *base_name[MAX_LIST];
    int nm, nb, metric_col[MAX_LIST], base[MAX_LIST]; /* base: the baselines' condition indices */
    const char **groups, **conds, **keys;
    int ng, nc, *row_group, *row_cond, *row_key;
    double *value;       /* (rows, nm), NaN where missing */
    summary *sum;        /* (ng, nc, nm) */
    paired_test *test;
    int ntests;
    char *corr_buf, *corr_x[MAX_LIST], *corr_y[MAX_LIST];
    int npairs;
    double *cx, *cy;     /* (rows, npairs), NaN where missing */
    correlation *corr;
    int ncorr;
} stats_data;

static int parse(stats_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"csv", required_argument, 0, O_CSV}, {"condition", required_argument, 0, O_CONDITION},
        {"group", required_argument, 0, O_GROUP}, {"pair", required_argument, 0, O_PAIR},
        {"metrics", required_argument, 0, O_METRICS}, {"baselines", required_argument, 0, O_BASELINES},
        {"md", required_argument, 0, O_MD}, {"json", required_argument, 0, O_JSON},
        {"plot", required_argument, 0, O_PLOT}, {"seed", required_argument, 0, O_SEED},
        {"resamples", required_argument, 0, O_RESAMPLES}, {"correlate", required_argument, 0, O_CORRELATE},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    int opt, bad = 0;
    while (!bad && (opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_CSV: o->csv = optarg; break;
        case O_CONDITION: o->condition = optarg; break;
        case O_GROUP: o->group = optarg; break;
        case O_PAIR: o->pair = optarg; break;
        case O_METRICS: o->metrics = optarg; break;
        case O_BASELINES: o->baselines = optarg; break;
        case O_MD: o->md = optarg; break;
        case O_JSON: o->json = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        case O_SEED: bad = cli_parse_u64("seed", optarg, &o->seed); break;
        case O_RESAMPLES: bad = cli_parse_int("resamples", optarg, 10, 10000000, &o->resamples); break;
        case O_CORRELATE: o->correlate = optarg; break;
        default: fputs(usage, stderr); return -1;
        }
    }
    if (bad) return -1;
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see critnet stats --help)", argv[optind]);
        return -1;
    }
    /* --correlate alone needs neither a condition nor metrics; the summaries, tests and plots need both */
    const char *missing = !o->csv                         ? "--csv FILE"
                          : !o->metrics && !o->correlate  ? "--metrics M1,M2,..."
                          : o->metrics && !o->condition   ? "--condition COL"
                                                          : NULL;
    if (missing) {
        cli_error("%s is required (%ssee critnet stats --help)", missing,
                  !o->metrics && o->csv ? "or --correlate X:Y; " : "");
        return -1;
    }
    const char *needs = o->baselines ? "--baselines" : o->plot ? "--plot" : o->pair ? "--pair" : NULL;
    if (!o->metrics && needs) {
        cli_error("%s belongs to the summaries and needs --metrics (see critnet stats --help)", needs);
        return -1;
    }
    return 0;
}

/* "a,b,c" into names (in buf, a copy of arg); empty and repeated names rejected */
static int parse_list(const char *option, const char *arg, char **buf, char **names, int *n)
{
    if (!(*buf = strdup(arg))) {
        cli_error("--%s: out of memory", option);
        return -1;
    }
    if ((*n = cli_csv_split(*buf, names, MAX_LIST)) < 0) {
        cli_error("--%s: at most %d names", option, MAX_LIST);
        return -1;
    }
    for (int i = 0; i < *n; i++) {
        if (!*names[i]) {
            cli_error("--%s %s: an empty name", option, arg);
            return -1;
        }
        for (int k = 0; k < i; k++)
            if (!strcmp(names[k], names[i])) {
                cli_error("--%s %s: '%s' appears twice", option, arg, names[i]);
                return -1;
            }
    }
    return 0;
}

static int find(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

/* index of s in names[0..*n), appended if new: first appearance fixes the order */
static int intern(const char **names, int *n, const char *s)
{
    int i = find(names, *n, s);
    if (i >= 0) return i;
    names[*n] = s;
    return (*n)++;
}

static const char *cell(const stats_data *d, int row, int col) { return d->t.cell[(size_t)row * d->t.cols + col]; }

/* --correlate "x1:y1,x2:y2" into d->corr_x/corr_y and their columns */
static int parse_pairs(stats_data *d, const char *arg, int *xcol, int *ycol)
{
    char *item[MAX_LIST];
    if (parse_list("correlate", arg, &d->corr_buf, item, &d->npairs)) return -1;
    for (int j = 0; j < d->npairs; j++) {
        char *colon = strchr(item[j], ':');
        if (!colon || colon == item[j] || !colon[1] || strchr(colon + 1, ':')) {
            cli_error("--correlate %s: '%s' is not a pair X:Y of two column names", arg, item[j]);
            return -1;
        }
        *colon = 0;
        d->corr_x[j] = item[j], d->corr_y[j] = colon + 1;
        if ((xcol[j] = cli_csv_column(&d->t, d->corr_x[j], "correlate")) < 0 ||
            (ycol[j] = cli_csv_column(&d->t, d->corr_y[j], "correlate")) < 0)
            return -1;
    }
    return 0;
}

/* Reads the CSV and checks everything before anything is computed or written. */
static int load(stats_data *d, const stats_opts *o)
{
    if (cli_csv_read(&d->t, o->csv)) return -1;
    const cli_csv *t = &d->t;
    int rows = t->rows, ccol = -1, gcol = -1, pcol = -1;
    if (o->condition && (ccol = cli_csv_column(t, o->condition, "condition")) < 0) return -1;
    if (o->group && (gcol = cli_csv_column(t, o->group, "group")) < 0) return -1;
    if (o->pair && (pcol = cli_csv_column(t, o->pair, "pair")) < 0) return -1;
    if (o->metrics && parse_list("metrics", o->metrics, &d->metric_buf, d->metric, &d->nm)) return -1;
    for (int j = 0; j < d->nm; j++)
        if ((d->metric_col[j] = cli_csv_column(t, d->metric[j], "metrics")) < 0) return -1;
    int xcol[MAX_LIST], ycol[MAX_LIST];
    if (o->correlate && parse_pairs(d, o->correlate, xcol, ycol)) return -1;
    d->groups = malloc(sizeof(char *) * rows), d->conds = malloc(sizeof(char *) * rows);
    d->keys = malloc(sizeof(char *) * rows);
    d->row_group = malloc(sizeof(int) * rows), d->row_cond = malloc(sizeof(int) * rows);
    d->row_key = calloc(rows, sizeof(int));
    d->value = malloc(sizeof(double) * rows * (d->nm ? d->nm : 1));
    d->cx = malloc(sizeof(double) * rows * (d->npairs ? d->npairs : 1));
    d->cy = malloc(sizeof(double) * rows * (d->npairs ? d->npairs : 1));
    if (!d->groups || !d->conds || !d->keys || !d->row_group || !d->row_cond || !d->row_key || !d->value || !d->cx ||
        !d->cy) {
        cli_error("%s: out of memory", t->path);
        return -1;
    }
    for (int r = 0; r < rows; r++) {
        int cols[3] = {ccol, gcol, pcol};
        for (int k = 0; k < 3; k++)
            if (cols[k] >= 0 && !*cell(d, r, cols[k])) {
                cli_error("%s:%d: column '%s' is empty", t->path, t->line[r], t->header[cols[k]]);
                return -1;
            }
        d->row_group[r] = gcol < 0 ? intern(d->groups, &d->ng, "all") : intern(d->groups, &d->ng, cell(d, r, gcol));
        d->row_cond[r] = ccol < 0 ? intern(d->conds, &d->nc, "all") : intern(d->conds, &d->nc, cell(d, r, ccol));
        for (int j = 0; j < d->nm; j++)
            if (cli_csv_number(t, r, d->metric_col[j], &d->value[(size_t)r * d->nm + j])) return -1;
        for (int j = 0; j < d->npairs; j++)
            if (cli_csv_number(t, r, xcol[j], &d->cx[(size_t)r * d->npairs + j]) ||
                cli_csv_number(t, r, ycol[j], &d->cy[(size_t)r * d->npairs + j]))
                return -1;
    }
    /* the pair key: the --pair value, which must not repeat within a group and condition; else the ordinal */
    int nkeys = 0;
    for (int r = 0; r < rows; r++)
        for (int s = 0; s < r; s++) {
            if (d->row_group[s] != d->row_group[r] || d->row_cond[s] != d->row_cond[r]) continue;
            if (pcol < 0) d->row_key[r]++;
            else if (!strcmp(cell(d, s, pcol), cell(d, r, pcol))) {
                cli_error("%s:%d: %s '%s' repeats line %d in the same group and condition", t->path, t->line[r],
                          o->pair, cell(d, r, pcol), t->line[s]);
                return -1;
            }
        }
    if (pcol >= 0)
        for (int r = 0; r < rows; r++) d->row_key[r] = intern(d->keys, &nkeys, cell(d, r, pcol));
    if (o->baselines) {
        if (parse_list("baselines", o->baselines, &d->base_buf, d->base_name, &d->nb)) return -1;
        for (int b = 0; b < d->nb; b++)
            if ((d->base[b] = find(d->conds, d->nc, d->base_name[b])) < 0) {
                char known[1024];
                cli_csv_join(known, sizeof known, d->conds, d->nc);
                cli_error("--baselines %s: no run in %s has %s '%s' (its conditions: %s)", o->baselines, t->path,
                          o->condition, d->base_name[b], known);
                return -1;
            }
    }
    return 0;
}

static summary *sum_at(const stats_data *d, int g, int c, int m) { return &d->sum[((size_t)g * d->nc + c) * d->nm + m]; }
static double value_at(const stats_data *d, int row, int m) { return d->value[(size_t)row * d->nm + m]; }

/* Each interval restarts the generator from the seed, so it does not depend on which other metrics or
 * conditions are in the file, and an independent implementation can replay it cell by cell. */
static int summarise(stats_data *d, const stats_opts *o)
{
    double *v = malloc(sizeof(double) * d->t.rows);
    if (!v || !(d->sum = malloc(sizeof(summary) * d->ng * d->nc * d->nm))) {
        free(v);
        return -1;
    }
    int rc = 0;
    for (int g = 0; g < d->ng; g++)
        for (int c = 0; c < d->nc; c++)
            for (int m = 0; m < d->nm && !rc; m++) {
                summary *s = sum_at(d, g, c, m);
                *s = (summary){0, 0, NAN, NAN, NAN, NAN};
                for (int r = 0; r < d->t.rows; r++) {
                    if (d->row_group[r] != g || d->row_cond[r] != c) continue;
                    s->runs++;
                    if (!isnan(value_at(d, r, m))) v[s->n++] = value_at(d, r, m);
                }
                if (s->n) cn_stats_mean_sd(v, s->n, &s->mean, &s->sd);
                if (s->n < 2) continue;
                cn_rng *rng = cn_rng_new(o->seed);
                /* constant values give CN_ERR_ARG and no interval: that is an answer, not a failure */
                rc = !rng || cn_stats_bootstrap_ci_bca(&s->lo, &s->hi, v, s->n, o->resamples, CI_LEVEL,
                                                       rng) == CN_ERR_NOMEM;
                cn_rng_free(rng);
            }
    free(v);
    return rc ? -1 : 0;
}

static int is_baseline(const stats_data *d, int c)
{
    for (int b = 0; b < d->nb; b++)
        if (d->base[b] == c) return 1;
    return 0;
}

static int ascending(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

/* the runs of condition c matched with those of baseline b by pair key, within group g */
static int pair_up(stats_data *d, paired_test *p, double *x, double *y, double *diff)
{
    int rows = d->t.rows, g = p->group, m = p->metric;
    for (int pass = 0; pass < 2; pass++) /* pass 0: the condition's runs; pass 1: the baseline's partnerless */
        for (int r = 0; r < rows; r++) {
            if (d->row_group[r] != g || d->row_cond[r] != (pass ? p->base : p->cond)) continue;
            int partner = -1;
            for (int s = 0; s < rows && partner < 0; s++)
                if (d->row_group[s] == g && d->row_cond[s] == (pass ? p->cond : p->base) && d->row_key[s] == d->row_key[r])
                    partner = s;
            if (partner < 0) p->unpaired++;
            else if (pass == 0 && (isnan(value_at(d, r, m)) || isnan(value_at(d, partner, m)))) p->missing++;
            else if (pass == 0) {
                x[p->pairs] = value_at(d, r, m), y[p->pairs] = value_at(d, partner, m);
                diff[p->pairs] = x[p->pairs] - y[p->pairs];
                p->pairs++;
            }
        }
    p->median_diff = p->mean_diff = NAN;
    if (!p->pairs) return 0;
    cn_stats_mean_sd(diff, p->pairs, &p->mean_diff, NULL);
    qsort(diff, p->pairs, sizeof *diff, ascending);
    p->median_diff = 0.5 * (diff[(p->pairs - 1) / 2] + diff[p->pairs / 2]);
    int rc = cn_stats_wilcoxon_signed_rank(&p->w, x, y, p->pairs, CN_STATS_ALT_TWO_SIDED);
    p->tested = rc == CN_OK;
    return rc == CN_ERR_NOMEM ? -1 : 0; /* CN_ERR_ARG: every difference zero, which the table says */
}

static int run_tests(stats_data *d)
{
    int rows = d->t.rows;
    double *x = malloc(sizeof(double) * rows), *y = malloc(sizeof(double) * rows), *diff = malloc(sizeof(double) * rows);
    d->test = malloc(sizeof(paired_test) * d->ng * d->nc * (d->nb ? d->nb : 1) * d->nm);
    int rc = x && y && diff && d->test ? 0 : -1;
    for (int g = 0; g < d->ng && !rc; g++)
        for (int m = 0; m < d->nm; m++)
            for (int c = 0; c < d->nc; c++) {
                if (is_baseline(d, c) || !sum_at(d, g, c, m)->runs) continue;
                for (int b = 0; b < d->nb && !rc; b++) {
                    paired_test *p = &d->test[d->ntests++];
                    *p = (paired_test){.group = g, .metric = m, .cond = c, .base = d->base[b]};
                    rc = pair_up(d, p, x, y, diff);
                }
            }
    free(x);
    free(y);
    free(diff);
    return rc;
}

/* For each group and pair: each condition's rows, then (where there are several conditions, or none was
 * named) all of the group's rows together. A correlation that is undefined there (fewer than 2 rows, a
 * constant column) is an answer, r NaN, not a failure. */
static int correlate(stats_data *d, const stats_opts *o)
{
    int rows = d->t.rows, conds = o->condition ? d->nc : 0, per_group = conds + (conds != 1);
    double *x = malloc(sizeof(double) * rows), *y = malloc(sizeof(double) * rows);
    d->corr = malloc(sizeof(correlation) * d->ng * d->npairs * per_group);
    int rc = x && y && d->corr ? 0 : -1;
    for (int g = 0; g < d->ng && !rc; g++)
        for (int j = 0; j < d->npairs && !rc; j++)
            for (int c = 0; c < per_group && !rc; c++) {
                int cond = c < conds ? c : -1, present = 0;
                correlation *k = &d->corr[d->ncorr];
                *k = (correlation){.group = g, .cond = cond, .pair = j};
                for (int r = 0; r < rows; r++) {
                    if (d->row_group[r] != g || (cond >= 0 && d->row_cond[r] != cond)) continue;
                    present = 1;
                    double u = d->cx[(size_t)r * d->npairs + j], v = d->cy[(size_t)r * d->npairs + j];
                    if (isnan(u) || isnan(v)) k->missing++;
                    else x[k->n] = u, y[k->n] = v, k->n++;
                }
                if (!present) continue; /* this condition has no rows in this group */
                d->ncorr++;
                if (cn_stats_pearson(&k->pearson, x, y, k->n) == CN_ERR_NOMEM ||
                    cn_stats_spearman(&k->spearman, x, y, k->n) == CN_ERR_NOMEM)
                    rc = -1;
            }
    free(x);
    free(y);
    return rc;
}

static void write_markdown(FILE *f, const stats_data *d, const stats_opts *o)
{
    char a[32], b[32], c[32];
    int grouped = o->group != NULL, missing[MAX_LIST] = {0}, any_missing = 0;
    fprintf(f, "| %s%s%s | runs |", grouped ? o->group : "", grouped ? " | " : "", o->condition);
    for (int m = 0; m < d->nm; m++) fprintf(f, " %s (mean ± sd) |", d->metric[m]);
    fprintf(f, "\n|%s---|---:|", grouped ? "---|" : "");
    for (int m = 0; m < d->nm; m++) fprintf(f, "---:|");
    for (int g = 0; g < d->ng; g++)
        for (int k = 0; k < d->nc; k++) {
            if (!sum_at(d, g, k, 0)->runs) continue;
            fprintf(f, "\n| %s%s%s | %d |", grouped ? d->groups[g] : "", grouped ? " | " : "", d->conds[k],
                    sum_at(d, g, k, 0)->runs);
            for (int m = 0; m < d->nm; m++) {
                const summary *s = sum_at(d, g, k, m);
                fprintf(f, " %s", cli_sig4(a, sizeof a, s->mean));
                if (isfinite(s->sd)) fprintf(f, " ± %s", cli_sig4(b, sizeof b, s->sd));
                if (s->n < s->runs) fprintf(f, " (n=%d)", s->n);
                fprintf(f, " |");
                missing[m] += s->runs - s->n;
                any_missing += s->runs - s->n;
            }
        }
    fprintf(f, "\n");
    if (any_missing) {
        fprintf(f, "\nSkipped %d missing value%s (", any_missing, any_missing > 1 ? "s" : "");
        for (int m = 0, first = 1; m < d->nm; m++)
            if (missing[m]) fprintf(f, "%s%s: %d", first ? "" : ", ", d->metric[m], missing[m]), first = 0;
        fprintf(f, ").\n");
    }
    if (!o->baselines) return;
    if (!d->ntests) {
        fprintf(f, "\nNo tests: every condition is a baseline.\n");
        return;
    }
    fprintf(f, "\n| %s%smetric | %s | baseline | pairs | left out | median diff | mean diff | p | test |\n",
            grouped ? o->group : "", grouped ? " | " : "", o->condition);
    if (grouped) fprintf(f, "|---");
    fprintf(f, "|---|---|---|---:|---|---:|---:|---:|---|\n");
    for (int i = 0; i < d->ntests; i++) {
        const paired_test *p = &d->test[i];
        char left[64];
        int n = snprintf(left, sizeof left, "%s", p->unpaired || p->missing ? "" : "0");
        if (p->unpaired) n += snprintf(left + n, sizeof left - n, "%d unpaired", p->unpaired);
        if (p->missing) snprintf(left + n, sizeof left - n, "%s%d missing", p->unpaired ? ", " : "", p->missing);
        if (grouped) fprintf(f, "| %s ", d->groups[p->group]);
        fprintf(f, "| %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", d->metric[p->metric], d->conds[p->cond],
                d->conds[p->base], p->pairs, left, cli_sig4(a, sizeof a, p->median_diff), cli_sig4(b, sizeof b, p->mean_diff),
                cli_p_text(c, sizeof c, p->tested ? p->w.p_value : NAN),
                p->tested ? (p->w.exact ? "exact" : "normal approx.") : p->pairs ? "all differences 0" : "no pairs");
    }
    fprintf(f, "\nTwo-sided Wilcoxon signed-rank tests on the differences %s - baseline; ", o->condition);
    if (o->pair) fprintf(f, "runs paired by the column %s.", o->pair);
    else fprintf(f, "no --pair given: runs paired by their order within each group and %s.", o->condition);
    fprintf(f, " Left out: runs without a partner (unpaired) and pairs with a missing value (missing).\n");
}

static const char *corr_condition(const stats_data *d, const correlation *k) { return k->cond < 0 ? "(all)" : d->conds[k->cond]; }

static void write_correlations(FILE *f, const stats_data *d, const stats_opts *o)
{
    char r1[32], p1[32], r2[32], p2[32];
    int grouped = o->group != NULL;
    fprintf(f, "| %s%s%s | x | y | n | left out | Pearson r | p | Spearman rho | p |\n", grouped ? o->group : "",
            grouped ? " | " : "", o->condition ? o->condition : "rows");
    fprintf(f, "|%s---|---|---|---:|---:|---:|---:|---:|---:|\n", grouped ? "---|" : "");
    for (int i = 0; i < d->ncorr; i++) {
        const correlation *k = &d->corr[i];
        snprintf(r1, sizeof r1, isnan(k->pearson.r) ? "n/a" : "%.3f", k->pearson.r);
        snprintf(r2, sizeof r2, isnan(k->spearman.r) ? "n/a" : "%.3f", k->spearman.r);
        if (grouped) fprintf(f, "| %s ", d->groups[k->group]);
        fprintf(f, "| %s | %s | %s | %d | %d | %s | %s | %s | %s |\n", corr_condition(d, k), d->corr_x[k->pair],
                d->corr_y[k->pair], k->n, k->missing, r1, cli_p_text(p1, sizeof p1, k->pearson.p_value), r2,
                cli_p_text(p2, sizeof p2, k->spearman.p_value));
    }
    fprintf(f, "\nPearson's r and Spearman's rho over the rows%s%s; two-sided p from Student's t with n - 2 degrees of "
               "freedom (as scipy.stats.pearsonr and spearmanr), which treats the rows as independent. n/a: fewer "
               "than 2 rows or a constant column. Left out: rows missing x or y.\n",
            o->condition ? " of each " : "", o->condition ? o->condition : "");
}

static cJSON *name_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

static cJSON *names_json(char *const *names, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
    return a;
}

static int write_json(const char *path, const stats_data *d, const stats_opts *o, int argc, char **argv)
{
    cJSON *root = cJSON_CreateObject(), *boot = cJSON_CreateObject(), *sums = cJSON_CreateArray();
    cJSON *tests = cJSON_CreateArray(), *missing = cJSON_CreateObject(), *set = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "csv", o->csv);
    cJSON_AddItemToObject(root, "condition", name_or_null(o->condition));
    cJSON_AddItemToObject(root, "group", name_or_null(o->group));
    cJSON_AddItemToObject(root, "pair", name_or_null(o->pair));
    cJSON_AddStringToObject(root, "pairing", o->pair ? "column" : "order within group and condition");
    cJSON_AddItemToObject(root, "metrics", names_json(d->metric, d->nm));
    cJSON_AddItemToObject(root, "baselines", names_json(d->base_name, d->nb));
    cJSON_AddItemToObject(root, "conditions", names_json((char *const *)d->conds, d->nc));
    cJSON_AddItemToObject(root, "groups", o->group ? names_json((char *const *)d->groups, d->ng) : cJSON_CreateNull());
    cJSON_AddNumberToObject(root, "runs", d->t.rows);
    cJSON_AddStringToObject(boot, "method", "BCa");
    cJSON_AddNumberToObject(boot, "level", CI_LEVEL);
    cJSON_AddNumberToObject(boot, "resamples", o->resamples);
    cJSON_AddNumberToObject(boot, "seed", (double)o->seed);
    cJSON_AddStringToObject(boot, "rng", "restarted from the seed for every interval");
    cJSON_AddItemToObject(root, "bootstrap", boot);
    for (int m = 0; m < d->nm; m++) {
        int skipped = 0;
        for (int g = 0; g < d->ng; g++)
            for (int c = 0; c < d->nc; c++) skipped += sum_at(d, g, c, m)->runs - sum_at(d, g, c, m)->n;
        cJSON_AddNumberToObject(missing, d->metric[m], skipped);
    }
    cJSON_AddItemToObject(root, "missing", missing);
    for (int g = 0; g < d->ng; g++)
        for (int c = 0; c < d->nc; c++)
            for (int m = 0; m < d->nm; m++) {
                const summary *s = sum_at(d, g, c, m);
                if (!s->runs) continue;
                cJSON *j = cJSON_CreateObject();
                double ci[2] = {s->lo, s->hi};
                cJSON_AddItemToObject(j, "group", name_or_null(o->group ? d->groups[g] : NULL));
                cJSON_AddStringToObject(j, "condition", d->conds[c]);
                cJSON_AddStringToObject(j, "metric", d->metric[m]);
                cJSON_AddNumberToObject(j, "runs", s->runs);
                cJSON_AddNumberToObject(j, "n", s->n);
                cJSON_AddNumberToObject(j, "missing", s->runs - s->n);
                cJSON_AddItemToObject(j, "mean", cli_json_num(s->mean));
                cJSON_AddItemToObject(j, "sd", cli_json_num(s->sd));
                cJSON_AddItemToObject(j, "ci95", cli_json_numbers(ci, 2));
                cJSON_AddItemToArray(sums, j);
            }
    cJSON_AddItemToObject(root, "summary", sums);
    for (int i = 0; i < d->ntests; i++) {
        const paired_test *p = &d->test[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddItemToObject(j, "group", name_or_null(o->group ? d->groups[p->group] : NULL));
        cJSON_AddStringToObject(j, "metric", d->metric[p->metric]);
        cJSON_AddStringToObject(j, "condition", d->conds[p->cond]);
        cJSON_AddStringToObject(j, "baseline", d->conds[p->base]);
        cJSON_AddNumberToObject(j, "pairs", p->pairs);
        cJSON_AddNumberToObject(j, "unpaired", p->unpaired);
        cJSON_AddNumberToObject(j, "missing", p->missing);
        cJSON_AddItemToObject(j, "median_diff", cli_json_num(p->median_diff));
        cJSON_AddItemToObject(j, "mean_diff", cli_json_num(p->mean_diff));
        cJSON_AddStringToObject(j, "alternative", "two-sided");
        cJSON_AddItemToObject(j, "method", p->tested ? cJSON_CreateString(p->w.exact ? "exact" : "normal") : cJSON_CreateNull());
        cJSON_AddItemToObject(j, "p_value", cli_json_num(p->tested ? p->w.p_value : NAN));
        cJSON_AddItemToObject(j, "statistic", cli_json_num(p->tested ? p->w.statistic : NAN));
        cJSON_AddItemToObject(j, "w_plus", cli_json_num(p->tested ? p->w.w_plus : NAN));
        cJSON_AddItemToObject(j, "w_minus", cli_json_num(p->tested ? p->w.w_minus : NAN));
        cJSON_AddItemToObject(j, "z", cli_json_num(p->tested ? p->w.z : NAN));
        cJSON_AddNumberToObject(j, "nonzero_differences", p->tested ? p->w.n_used : 0);
        cJSON_AddItemToArray(tests, j);
    }
    cJSON_AddItemToObject(root, "tests", tests);
    if (o->correlate) {
        cJSON *corrs = cJSON_CreateArray();
        for (int i = 0; i < d->ncorr; i++) {
            const correlation *k = &d->corr[i];
            cJSON *j = cJSON_CreateObject();
            cJSON_AddItemToObject(j, "group", name_or_null(o->group ? d->groups[k->group] : NULL));
            cJSON_AddStringToObject(j, "condition", corr_condition(d, k));
            cJSON_AddStringToObject(j, "x", d->corr_x[k->pair]);
            cJSON_AddStringToObject(j, "y", d->corr_y[k->pair]);
            cJSON_AddNumberToObject(j, "n", k->n);
            cJSON_AddNumberToObject(j, "missing", k->missing);
            cJSON_AddItemToObject(j, "pearson_r", cli_json_num(k->pearson.r));
            cJSON_AddItemToObject(j, "pearson_p", cli_json_num(k->pearson.p_value));
            cJSON_AddItemToObject(j, "spearman_rho", cli_json_num(k->spearman.r));
            cJSON_AddItemToObject(j, "spearman_p", cli_json_num(k->spearman.p_value));
            cJSON_AddItemToArray(corrs, j);
        }
        cJSON_AddItemToObject(root, "correlations", corrs);
    }
    cJSON_AddItemToObject(set, "argv", cli_json_argv(argc, argv));
    cJSON_AddStringToObject(set, "critnet_version", CRITNET_VERSION);
    cJSON_AddItemToObject(root, "settings", set);
    return cli_json_write(path, root);
}

/* DIR/METRIC.png; characters a file name should not hold become '_' */
static int write_plots(const char *dir, const stats_data *d, const stats_opts *o)
{
    if (mkdir(dir, 0777) && errno != EEXIST) {
        cli_error("%s: cannot create the plot folder: %s", dir, strerror(errno));
        return -1;
    }
    double *y = malloc(sizeof(double) * d->ng * d->nc), *sd = malloc(sizeof(double) * d->ng * d->nc);
    cli_point_series *s = malloc(sizeof(cli_point_series) * d->ng);
    int rc = y && sd && s ? 0 : -1;
    for (int m = 0; m < d->nm && !rc; m++) {
        for (int g = 0; g < d->ng; g++) {
            for (int c = 0; c < d->nc; c++) {
                y[g * d->nc + c] = sum_at(d, g, c, m)->mean;
                sd[g * d->nc + c] = sum_at(d, g, c, m)->sd;
            }
            s[g] = (cli_point_series){y + g * d->nc, sd + g * d->nc, o->group ? d->groups[g] : NULL};
        }
        char path[4096], ylabel[256];
        int n = snprintf(path, sizeof path, "%s/", dir);
        for (const char *q = d->metric[m]; *q && n < (int)sizeof path - 5; q++)
            path[n++] = strchr("/\\:*?\"<>| ", *q) ? '_' : *q;
        snprintf(path + n, sizeof path - n, ".png");
        snprintf(ylabel, sizeof ylabel, "%s (mean, bars: sd)", d->metric[m]);
        cli_plot_opts po = {d->metric[m], o->condition, ylabel, 0, NAN};
        rc = cli_plot_points(path, &po, d->conds, d->nc, s, d->ng);
    }
    free(y);
    free(sd);
    free(s);
    return rc;
}

static void free_data(stats_data *d)
{
    cli_csv_free(&d->t);
    free(d->metric_buf);
    free(d->base_buf);
    free(d->groups);
    free(d->conds);
    free(d->keys);
    free(d->row_group);
    free(d->row_cond);
    free(d->row_key);
    free(d->value);
    free(d->sum);
    free(d->test);
    free(d->corr_buf);
    free(d->cx);
    free(d->cy);
    free(d->corr);
}

int cmd_stats(int argc, char **argv)
{
    stats_opts o = {.resamples = 2000};
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    stats_data d;
    memset(&d, 0, sizeof d);
    char *md = NULL;
    size_t md_size = 0;
    FILE *f = NULL;
    int rc = 1;
    /* everything is read, checked and computed before the first output, so a bad input writes nothing */
    if (load(&d, &o)) goto done;
    if ((d.nm && (summarise(&d, &o) || run_tests(&d))) || (d.npairs && correlate(&d, &o)) ||
        !(f = open_memstream(&md, &md_size))) {
        cli_error("out of memory");
        goto done;
    }
    if (d.nm) write_markdown(f, &d, &o);
    if (d.nm && d.npairs) fprintf(f, "\n");
    if (d.npairs) write_correlations(f, &d, &o);
    if (fclose(f) || !md) {
        cli_error("out of memory");
        goto done;
    }
    if (o.plot && write_plots(o.plot, &d, &o)) goto done;
    if (o.json && write_json(o.json, &d, &o, argc - 1, argv + 1)) goto done;
    if (o.md && cli_write_text(o.md, md)) goto done;
    fputs(md, stdout);
    rc = 0;
done:
    free(md);
    free_data(&d);
    return rc;
}
