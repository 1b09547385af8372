/* zoo_report_write.c: what `critnet zoo-report` writes: the report as markdown (printed and DIR/stats.md), with
 * the verdicts read off the numbers by fixed rules, and DIR/stats.json with every number, the settings and the
 * rules, so that a script can quote the report without parsing its tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zoo_report.h"

/* per test and uncorrected; the report gives the Bonferroni level beside it */
#define ALPHA 0.05

static const char *group_rule =
    "split at the median of the measure over the models used (numpy.median: the mean of the two middle values "
    "for an even count); for |ln sigma| and |lambda_0| the models at or below the median are near-critical, for "
    "Delta the models at or above it; the models at the median go to the near group; the others are far";

static const char *verdict_rules =
    "A test finds accuracy higher nearer to criticality when p < 0.05 and its effect points that way: Spearman's "
    "rho < 0 for a distance (|ln sigma|, |lambda_0|) and > 0 for Delta; U of the near-critical models above "
    "n_near n_far / 2 (they tend to be more accurate); the mixed model's slope < 0 for a distance and > 0 for "
    "Delta. p < 0.05 with the effect the other way: accuracy lower nearer to criticality. p >= 0.05: no evidence "
    "either way. A mixed model that did not converge gets no verdict. The lead of each measure's line is "
    "Spearman's verdict, the primary test: \"accuracy tracks criticality\" only where rho points towards "
    "criticality with p < 0.05; the Mann-Whitney test and the mixed model follow it. 0.05 is per test, "
    "uncorrected; the Bonferroni level over all the tests made is 0.05 divided by their number. Spearman's and the "
    "Mann-Whitney p treat the models as independent, although the models of a family share their design; the "
    "mixed model gives each family its own offset.";

typedef enum { V_UNDEFINED, V_HIGHER, V_LOWER, V_NONE } verdict;
static const char *const verdict_name[] = {"undefined", "higher nearer criticality", "lower nearer criticality",
                                           "no evidence"};
enum { T_SPEARMAN, T_MW, T_MIXED, NTESTS };

/* towards: > 0 where the effect says accuracy is higher nearer to criticality */
static verdict judge(const char *why, double towards, double p)
{
    if (why || !isfinite(p)) return V_UNDEFINED;
    if (p >= ALPHA || towards == 0) return V_NONE;
    return towards > 0 ? V_HIGHER : V_LOWER;
}

/* A fit that stopped short is reported with its numbers but given no verdict: its p is not the optimum's. */
static const char *mixed_why(const zr_result *s)
{
    return s->why_fit ? s->why_fit : !s->fit.converged ? "the fit did not converge" : NULL;
}

static double test_p(const zr_result *s, int t)
{
    return t == T_SPEARMAN ? s->spearman.p_value : t == T_MW ? s->mw.p_value : s->fit.p[1];
}

static verdict test_verdict(const zr_result *s, int m, int t)
{
    double sign = zr_measures[m].larger_is_nearer ? 1 : -1;
    switch (t) {
    case T_SPEARMAN: return judge(s->why_spearman, sign * s->spearman.r, s->spearman.p_value);
    case T_MW: return judge(s->why_mw, s->mw.statistic - 0.5 * s->n_near * s->n_far, s->mw.p_value);
    default: return judge(mixed_why(s), sign * s->fit.beta[1], s->fit.p[1]);
    }
}

static const char *fixed(char *buf, size_t size, const char *fmt, double v)
{
    if (isfinite(v)) snprintf(buf, size, fmt, v);
    else snprintf(buf, size, "n/a");
    return buf;
}

static const char *id_of(const zr_data *d, int row) { return zr_cell(d, row, d->col_id); }

/* ---------------------------------------------------------------- markdown */

static void models_paragraph(FILE *f, const zr_data *d)
{
    fprintf(f, "Models in %s: %d; used: the %d with status ok, from %d famil%s.", d->path, d->n_models, d->n_ok,
            d->n_families, d->n_families == 1 ? "y" : "ies");
    if (d->n_left_out) fprintf(f, " Left out: %d diverged and %d failed (listed at the end).", d->n_diverged, d->n_failed);
    if (d->n_replaced)
        fprintf(f, " %d earlier row%s of a model that ran again (a resumed zoo) %s not counted: the last row of an id "
                   "counts.", d->n_replaced, d->n_replaced > 1 ? "s" : "", d->n_replaced > 1 ? "are" : "is");
    for (int m = 0; m < ZR_NMEASURES; m++) {
        const zr_result *s = &d->res[m];
        if (!s->n_without) continue;
        fprintf(f, " %d ok model%s ha%s no %s (", s->n_without, s->n_without > 1 ? "s" : "", s->n_without > 1 ? "ve" : "s",
                zr_measures[m].name);
        for (int i = 0; i < s->n_without; i++) fprintf(f, "%s%s", i ? ", " : "", id_of(d, s->without[i]));
        fprintf(f, "%s) and sit%s out its tests.",
                m == ZR_ABS_LN_SIGMA ? ": sigma = 0"
                : m == ZR_MEAN_ABS_LN_SIGMA_BLOCK ? (d->col_block < 0 ? ": zoo.csv has no mean_abs_ln_sigma_block column"
                                                                      : ": no value")
                : ": no rise of the response",
                s->n_without > 1 ? "" : "s");
    }
    const zr_result *dl = &d->res[ZR_DELTA];
    if (dl->n_cut) {
        fprintf(f, " Delta of %d ok model%s is left out of its tests, because the stimulus grid cut the response curve "
                   "off (%d not saturated by s_max, %d still rising at s_min; a curve may be both): ",
                dl->n_cut, dl->n_cut > 1 ? "s" : "", dl->n_cut_high, dl->n_cut_low);
        for (int i = 0; i < dl->n_cut; i++) fprintf(f, "%s%s", i ? ", " : "", id_of(d, dl->cut[i]));
        fprintf(f, ".");
    }
    if (d->col_saturated < 0 || d->col_truncated_low < 0)
        fprintf(f, " zoo.csv has no %s column (an older critnet): those Delta curves could not be checked for "
                   "truncation.", d->col_saturated < 0 ? "delta_saturated" : "delta_truncated_low");
    fprintf(f, "\n\nThe measures, against test_accuracy (on the whole test split): abs_ln_sigma = |ln sigma| (of the "
               "geometric mean over blocks), mean_abs_ln_sigma_block = the mean over blocks of |ln sigma_l| (expanding "
               "and contracting blocks do not cancel) and abs_lambda0 = |lambda_0|, the distances from criticality "
               "(0 at it); delta = Delta, the dynamic range "
               "in dB, which the paper takes to be largest at criticality (on random networks it is not: docs/phase.md).\n");
    fprintf(f, "\n%s\n", cli_dr_caution);
}

static void correlation_table(FILE *f, const zr_data *d, const zr_opts *o)
{
    char a[32], b[32], c[32], e[32], g[32], h[32];
    fprintf(f, "\n### Correlation with test accuracy\n\n");
    fprintf(f, "| measure | models | Spearman rho | %g%% interval | p | Pearson r | p |\n", 100 * o->level);
    fprintf(f, "|---|---:|---:|---|---:|---:|---:|\n");
    for (int m = 0; m < ZR_NMEASURES; m++) {
        const zr_result *s = &d->res[m];
        fprintf(f, "| %s | %d | %s | ", zr_measures[m].name, s->n,
                fixed(a, sizeof a, "%.3f", s->why_spearman ? NAN : s->spearman.r));
        if (s->why_ci) fprintf(f, "n/a");
        else fprintf(f, "[%s, %s]", fixed(b, sizeof b, "%.3f", s->ci_lo), fixed(c, sizeof c, "%.3f", s->ci_hi));
        fprintf(f, " | %s | %s | %s |\n", cli_p_text(e, sizeof e, s->why_spearman ? NAN : s->spearman.p_value),
                fixed(g, sizeof g, "%.3f", s->why_pearson ? NAN : s->pearson.r),
                cli_p_text(h, sizeof h, s->why_pearson ? NAN : s->pearson.p_value));
    }
    fprintf(f, "\nTwo-sided p from Student's t with n - 2 degrees of freedom (scipy.stats.spearmanr, pearsonr). The "
               "interval: percentile bootstrap of rho over %d resamples of the models (seed %llu, restarted for each "
               "measure).", o->resamples, (unsigned long long)o->seed);
    for (int m = 0; m < ZR_NMEASURES; m++) {
        const zr_result *s = &d->res[m];
        if (s->ci_skipped && !s->why_ci)
            fprintf(f, " %s: %d resample%s without a rho (a constant column) left out.", zr_measures[m].name,
                    s->ci_skipped, s->ci_skipped > 1 ? "s" : "");
        const char *why = s->why_spearman ? s->why_spearman : s->why_ci;
        if (why) fprintf(f, " %s: n/a, %s.", zr_measures[m].name, why);
    }
    fprintf(f, "\n");
}

static void near_far_table(FILE *f, const zr_data *d)
{
    char a[32], b[32], c[32], e[32], g[32];
    fprintf(f, "\n### Near-critical against far from criticality (Mann-Whitney U)\n\n");
    fprintf(f, "| measure | split (median) | near: models | near: median accuracy | far: models | far: median accuracy "
               "| U (near) | p | p from |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int m = 0; m < ZR_NMEASURES; m++) {
        const zr_result *s = &d->res[m];
        fprintf(f, "| %s | %s %s | %d | %s | %d | %s | %s | %s | %s |\n", zr_measures[m].name,
                zr_measures[m].larger_is_nearer ? ">=" : "<=", cli_sig4(a, sizeof a, s->split), s->n_near,
                fixed(b, sizeof b, "%.4f", s->median_near), s->n_far, fixed(c, sizeof c, "%.4f", s->median_far),
                cli_sig4(e, sizeof e, s->why_mw ? NAN : s->mw.statistic), cli_p_text(g, sizeof g, s->why_mw ? NAN : s->mw.p_value),
                s->why_mw ? s->why_mw : s->mw.exact ? "exact" : "normal approx.");
    }
    fprintf(f, "\nThe groups: %s. Two-sided test of the accuracies (scipy.stats.mannwhitneyu at its defaults); U counts "
               "the (near, far) pairs where the near model is more accurate, ties as 1/2.\n", group_rule);
}

static void mixed_table(FILE *f, const zr_data *d)
{
    char a[32], b[32], c[32], e[32], g[32], h[32], k[32];
    fprintf(f, "\n### Mixed model: test_accuracy ~ 1 + measure + (1 | family), REML\n\n");
    fprintf(f, "| measure | models | families | slope | SE | z | p | intercept | family variance | residual variance "
               "| note |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int m = 0; m < ZR_NMEASURES; m++) {
        const zr_result *s = &d->res[m];
        int ok = !s->why_fit;
        char note[200] = "";
        size_t len = 0;
        if (!ok) snprintf(note, sizeof note, "%s", s->why_fit);
        if (ok && s->fit.boundary) len += (size_t)snprintf(note + len, sizeof note - len, "family variance 0 (boundary)");
        /* at the boundary the observed information can be singular: statsmodels' bse_fe is NaN there too */
        if (ok && !isfinite(s->fit.se[1]))
            len += (size_t)snprintf(note + len, sizeof note - len, "%sSE undefined (singular information)", len ? "; " : "");
        if (ok && !s->fit.converged) snprintf(note + len, sizeof note - len, "%sdid not converge", len ? "; " : "");
        fprintf(f, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", zr_measures[m].name, s->n,
                s->fit_families, cli_sig4(a, sizeof a, ok ? s->fit.beta[1] : NAN), cli_sig4(b, sizeof b, ok ? s->fit.se[1] : NAN),
                fixed(c, sizeof c, "%.3f", ok ? s->fit.z[1] : NAN), cli_p_text(e, sizeof e, ok ? s->fit.p[1] : NAN),
                cli_sig4(g, sizeof g, ok ? s->fit.beta[0] : NAN), cli_sig4(h, sizeof h, ok ? s->fit.tau2 : NAN),
                cli_sig4(k, sizeof k, ok ? s->fit.s2 : NAN), note);
    }
    fprintf(f, "\nA random intercept per family, fitted by REML (statsmodels' MixedLM); slope: the change of accuracy "
               "per unit of the measure within the families; SE from the observed information as statsmodels' bse_fe; "
               "p two-sided from the normal distribution of z = slope / SE.\n");
}

/* the verdicts of every test made, and how many of the "higher" ones also pass the Bonferroni level */
typedef struct {
    int count[4], tests, strict;
    double bonferroni;
} tally;

static tally count_verdicts(const zr_data *d)
{
    tally k = {{0}, 0, 0, NAN};
    for (int m = 0; m < ZR_NMEASURES; m++)
        for (int t = 0; t < NTESTS; t++) k.tests += test_verdict(&d->res[m], m, t) != V_UNDEFINED;
    if (k.tests) k.bonferroni = ALPHA / k.tests;
    for (int m = 0; m < ZR_NMEASURES; m++)
        for (int t = 0; t < NTESTS; t++) {
            verdict v = test_verdict(&d->res[m], m, t);
            k.count[v]++;
            k.strict += v == V_HIGHER && test_p(&d->res[m], t) < k.bonferroni;
        }
    return k;
}

static void effect_text(char *buf, size_t size, const zr_result *s, int t)
{
    char a[32], b[32], c[32];
    if (t == T_SPEARMAN)
        snprintf(buf, size, "rho = %.3f, p = %s", s->spearman.r, cli_p_text(a, sizeof a, s->spearman.p_value));
    else if (t == T_MW)
        snprintf(buf, size, "median accuracy %s near vs %s far, p = %s", fixed(a, sizeof a, "%.4f", s->median_near),
                 fixed(b, sizeof b, "%.4f", s->median_far), cli_p_text(c, sizeof c, s->mw.p_value));
    else snprintf(buf, size, "slope %s, p = %s", cli_sig4(a, sizeof a, s->fit.beta[1]), cli_p_text(b, sizeof b, s->fit.p[1]));
}

static void conclusions(FILE *f, const zr_data *d)
{
    static const char *const test_name[] = {"Spearman", "Mann-Whitney", "mixed model"};
    static const char *const phrase[][4] = {
        /* V_UNDEFINED, V_HIGHER, V_LOWER, V_NONE */
        {"undefined", "accuracy is higher nearer to criticality", "accuracy is lower nearer to criticality",
         "no monotone relation at p < 0.05"},
        {"undefined", "the near-critical models are more accurate", "the near-critical models are less accurate",
         "the two groups do not differ at p < 0.05"},
        {"undefined", "within families, accuracy is higher nearer to criticality",
         "within families, accuracy is lower nearer to criticality", "no slope within families at p < 0.05"},
    };
    tally k = count_verdicts(d);
    fprintf(f, "\n### What the numbers say\n\n");
    for (int m = 0; m < ZR_NMEASURES; m++) {
        const zr_result *s = &d->res[m];
        static const char *const lead[] = {"not testable", "accuracy tracks criticality",
                                           "accuracy runs against criticality (higher farther from it)",
                                           "no evidence that accuracy tracks criticality"};
        fprintf(f, "- **%s** (%d models): %s. ", zr_measures[m].name, s->n, lead[test_verdict(s, m, T_SPEARMAN)]);
        for (int t = 0; t < NTESTS; t++) {
            verdict v = test_verdict(s, m, t);
            const char *why = t == T_SPEARMAN ? s->why_spearman : t == T_MW ? s->why_mw : mixed_why(s);
            char effect[160];
            if (v == V_UNDEFINED)
                snprintf(effect, sizeof effect, "%s", why ? why : "the slope's standard error is undefined here");
            else effect_text(effect, sizeof effect, s, t);
            fprintf(f, "%s%s: %s (%s)", t ? "; " : "", test_name[t], phrase[t][v], effect);
        }
        fprintf(f, ".\n");
    }
    char a[32];
    fprintf(f, "- In all, of %d tests: %d find%s accuracy higher nearer to criticality at p < 0.05 (%d of them also at "
               "the Bonferroni level p < %s), %d find%s it lower, and %d find%s no evidence either way.\n",
            k.tests, k.count[V_HIGHER], k.count[V_HIGHER] == 1 ? "s" : "", k.strict, cli_sig4(a, sizeof a, k.bonferroni),
            k.count[V_LOWER], k.count[V_LOWER] == 1 ? "s" : "", k.count[V_NONE], k.count[V_NONE] == 1 ? "s" : "");
    fprintf(f, "\nRules: %s\n", verdict_rules);
}

static void left_out_list(FILE *f, const zr_data *d)
{
    if (!d->n_left_out) return;
    fprintf(f, "\n### Models left out\n\n| id | family | status | message |\n|---|---|---|---|\n");
    for (int i = 0; i < d->n_left_out; i++) {
        int r = d->left_out[i];
        fprintf(f, "| %s | %s | %s | %s |\n", id_of(d, r), zr_cell(d, r, d->col_family), zr_cell(d, r, d->col_status),
                d->col_message >= 0 ? zr_cell(d, r, d->col_message) : "");
    }
}

void zr_write_markdown(FILE *f, const zr_data *d, const zr_opts *o)
{
    models_paragraph(f, d);
    correlation_table(f, d, o);
    near_far_table(f, d);
    mixed_table(f, d);
    conclusions(f, d);
    left_out_list(f, d);
}

/* ---------------------------------------------------------------- stats.json */

static cJSON *why_json(const char *why) { return why ? cJSON_CreateString(why) : cJSON_CreateNull(); }

static cJSON *ids_json(const zr_data *d, const int *rows, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(id_of(d, rows[i])));
    return a;
}

/* value, or null where why says it is undefined */
static cJSON *num_if(const char *why, double v) { return cli_json_num(why ? NAN : v); }

static cJSON *group_json(const zr_data *d, const zr_result *s, int larger_is_nearer, int near)
{
    cJSON *g = cJSON_CreateObject(), *ids = cJSON_CreateArray();
    for (int i = 0; i < s->n; i++) {
        int is_near = larger_is_nearer ? s->x[i] >= s->split : s->x[i] <= s->split;
        if (is_near == near) cJSON_AddItemToArray(ids, cJSON_CreateString(id_of(d, s->row[i])));
    }
    cJSON_AddNumberToObject(g, "n", near ? s->n_near : s->n_far);
    cJSON_AddItemToObject(g, "median_accuracy", cli_json_num(near ? s->median_near : s->median_far));
    cJSON_AddItemToObject(g, "ids", ids);
    return g;
}

static cJSON *coef_json(const zr_result *s, int j)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "estimate", num_if(s->why_fit, s->fit.beta[j]));
    cJSON_AddItemToObject(c, "se", num_if(s->why_fit, s->fit.se[j]));
    cJSON_AddItemToObject(c, "z", num_if(s->why_fit, s->fit.z[j]));
    cJSON_AddItemToObject(c, "p_value", num_if(s->why_fit, s->fit.p[j]));
    return c;
}

static cJSON *measure_json(const zr_data *d, int m)
{
    const zr_result *s = &d->res[m];
    const zr_measure_def *def = &zr_measures[m];
    cJSON *j = cJSON_CreateObject(), *sp = cJSON_CreateObject(), *pe = cJSON_CreateObject();
    cJSON *mw = cJSON_CreateObject(), *mx = cJSON_CreateObject(), *v = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "definition", def->text);
    cJSON_AddStringToObject(j, "column", def->column);
    cJSON_AddStringToObject(j, "nearer_criticality", def->larger_is_nearer ? "larger" : "smaller");
    cJSON_AddNumberToObject(j, "n", s->n);
    cJSON_AddItemToObject(j, "without_value", ids_json(d, s->without, s->n_without));
    if (m == ZR_DELTA) { /* curves cut off by the stimulus grid: counted and named, not used */
        cJSON *c = cJSON_CreateObject();
        cJSON_AddNumberToObject(c, "count", s->n_cut);
        cJSON_AddNumberToObject(c, "not_saturated", s->n_cut_high);
        cJSON_AddNumberToObject(c, "truncated_low", s->n_cut_low);
        cJSON_AddItemToObject(c, "ids", ids_json(d, s->cut, s->n_cut));
        cJSON_AddBoolToObject(c, "checked", d->col_saturated >= 0 && d->col_truncated_low >= 0);
        cJSON_AddItemToObject(j, "left_out_truncated", c);
    }

    cJSON_AddItemToObject(sp, "rho", num_if(s->why_spearman, s->spearman.r));
    cJSON_AddItemToObject(sp, "p_value", num_if(s->why_spearman, s->spearman.p_value));
    double ci[2] = {s->ci_lo, s->ci_hi};
    cJSON_AddItemToObject(sp, "ci", cli_json_numbers(ci, 2));
    cJSON_AddNumberToObject(sp, "ci_skipped_resamples", s->ci_skipped);
    cJSON_AddItemToObject(sp, "why_undefined", why_json(s->why_spearman));
    cJSON_AddItemToObject(sp, "ci_why_undefined", why_json(s->why_ci));
    cJSON_AddItemToObject(j, "spearman", sp);

    cJSON_AddItemToObject(pe, "r", num_if(s->why_pearson, s->pearson.r));
    cJSON_AddItemToObject(pe, "p_value", num_if(s->why_pearson, s->pearson.p_value));
    cJSON_AddItemToObject(pe, "why_undefined", why_json(s->why_pearson));
    cJSON_AddItemToObject(j, "pearson", pe);

    char rule[128];
    snprintf(rule, sizeof rule, "near: %s %s split; far: the others", def->name, def->larger_is_nearer ? ">=" : "<=");
    cJSON_AddItemToObject(mw, "split", cli_json_num(s->split));
    cJSON_AddStringToObject(mw, "rule", rule);
    cJSON_AddItemToObject(mw, "near", group_json(d, s, def->larger_is_nearer, 1));
    cJSON_AddItemToObject(mw, "far", group_json(d, s, def->larger_is_nearer, 0));
    cJSON_AddStringToObject(mw, "alternative", "two-sided");
    cJSON_AddItemToObject(mw, "U", num_if(s->why_mw, s->mw.statistic));
    cJSON_AddItemToObject(mw, "p_value", num_if(s->why_mw, s->mw.p_value));
    cJSON_AddItemToObject(mw, "z", num_if(s->why_mw, s->mw.z));
    cJSON_AddItemToObject(mw, "method", s->why_mw ? cJSON_CreateNull() : cJSON_CreateString(s->mw.exact ? "exact" : "normal"));
    cJSON_AddItemToObject(mw, "why_undefined", why_json(s->why_mw));
    cJSON_AddItemToObject(j, "mann_whitney", mw);

    char formula[128];
    snprintf(formula, sizeof formula, "test_accuracy ~ 1 + %s + (1 | family)", def->name);
    cJSON_AddStringToObject(mx, "formula", formula);
    cJSON_AddStringToObject(mx, "method", "REML");
    cJSON_AddNumberToObject(mx, "n", s->n);
    cJSON_AddNumberToObject(mx, "families", s->fit_families);
    cJSON_AddItemToObject(mx, "intercept", coef_json(s, 0));
    cJSON_AddItemToObject(mx, "slope", coef_json(s, 1));
    cJSON_AddItemToObject(mx, "group_variance", num_if(s->why_fit, s->fit.tau2));
    cJSON_AddItemToObject(mx, "residual_variance", num_if(s->why_fit, s->fit.s2));
    cJSON_AddItemToObject(mx, "llf", num_if(s->why_fit, s->fit.llf));
    cJSON_AddItemToObject(mx, "boundary", s->why_fit ? cJSON_CreateNull() : cJSON_CreateBool(s->fit.boundary));
    cJSON_AddItemToObject(mx, "converged", s->why_fit ? cJSON_CreateNull() : cJSON_CreateBool(s->fit.converged));
    cJSON_AddItemToObject(mx, "why_undefined", why_json(s->why_fit));
    cJSON_AddItemToObject(j, "mixed_model", mx);

    cJSON_AddStringToObject(v, "spearman", verdict_name[test_verdict(s, m, T_SPEARMAN)]);
    cJSON_AddStringToObject(v, "mann_whitney", verdict_name[test_verdict(s, m, T_MW)]);
    cJSON_AddStringToObject(v, "mixed_model", verdict_name[test_verdict(s, m, T_MIXED)]);
    cJSON_AddItemToObject(j, "verdicts", v);
    return j;
}

int zr_write_json(const char *path, const zr_data *d, const zr_opts *o, int argc, char **argv)
{
    cJSON *root = cJSON_CreateObject(), *models = cJSON_CreateObject(), *left = cJSON_CreateArray();
    cJSON *fams = cJSON_CreateArray(), *measures = cJSON_CreateObject(), *sum = cJSON_CreateObject();
    cJSON *set = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "zoo_csv", d->path);
    cJSON_AddStringToObject(root, "accuracy", "test_accuracy");
    cJSON_AddNumberToObject(models, "rows", d->n_models);
    cJSON_AddNumberToObject(models, "ok", d->n_ok);
    cJSON_AddNumberToObject(models, "diverged", d->n_diverged);
    cJSON_AddNumberToObject(models, "failed", d->n_failed);
    cJSON_AddNumberToObject(models, "replaced_rows", d->n_replaced);
    cJSON_AddItemToObject(root, "models", models);
    for (int i = 0; i < d->n_left_out; i++) {
        int r = d->left_out[i];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "id", id_of(d, r));
        cJSON_AddStringToObject(j, "family", zr_cell(d, r, d->col_family));
        cJSON_AddStringToObject(j, "status", zr_cell(d, r, d->col_status));
        cJSON_AddStringToObject(j, "message", d->col_message >= 0 ? zr_cell(d, r, d->col_message) : "");
        cJSON_AddItemToArray(left, j);
    }
    cJSON_AddItemToObject(root, "left_out", left);
    for (int i = 0; i < d->n_families; i++) cJSON_AddItemToArray(fams, cJSON_CreateString(d->families[i]));
    cJSON_AddItemToObject(root, "families", fams);
    cJSON_AddStringToObject(root, "group_rule", group_rule);
    for (int m = 0; m < ZR_NMEASURES; m++) cJSON_AddItemToObject(measures, zr_measures[m].name, measure_json(d, m));
    cJSON_AddItemToObject(root, "measures", measures);

    tally k = count_verdicts(d);
    cJSON_AddNumberToObject(sum, "alpha", ALPHA);
    cJSON_AddNumberToObject(sum, "tests", k.tests);
    cJSON_AddNumberToObject(sum, "higher_nearer_criticality", k.count[V_HIGHER]);
    cJSON_AddNumberToObject(sum, "lower_nearer_criticality", k.count[V_LOWER]);
    cJSON_AddNumberToObject(sum, "no_evidence", k.count[V_NONE]);
    cJSON_AddNumberToObject(sum, "undefined", k.count[V_UNDEFINED]);
    cJSON_AddItemToObject(sum, "bonferroni_alpha", cli_json_num(k.bonferroni));
    cJSON_AddNumberToObject(sum, "higher_nearer_criticality_bonferroni", k.strict);
    cJSON_AddStringToObject(sum, "rules", verdict_rules);
    cJSON_AddItemToObject(root, "verdicts", sum);

    cJSON_AddNumberToObject(set, "resamples", o->resamples);
    cJSON_AddNumberToObject(set, "seed", (double)o->seed);
    cJSON_AddNumberToObject(set, "level", o->level);
    cJSON_AddStringToObject(set, "bootstrap", "percentile interval of Spearman's rho over resamples of the models; "
                                              "the generator restarts from the seed for each measure");
    cJSON_AddItemToObject(set, "argv", cli_json_argv(argc, argv));
    cJSON_AddStringToObject(set, "critnet_version", CRITNET_VERSION);
    cJSON_AddItemToObject(root, "settings", set);
    return cli_json_write(path, root);
}
