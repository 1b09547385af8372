/* measure_aval.c: the avalanche part of `critnet measure`: its options, the cascades and their statistics, and
 * what they print and write (text, JSON, a CSV of the cascades, four plots). */
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ccdf.h"
#include "measure_aval.h"
#include "plot.h"

void cli_aval_defaults(cli_aval_opts *o)
{
    memset(o, 0, sizeof *o);
    cn_cascade_defaults(&o->c);
    cn_avalanche_opts_default(&o->a);
}

static const char *option_name(int opt)
{
    static const struct option t[] = {CLI_AVAL_OPTIONS, {0, 0, 0, 0}};
    for (int i = 0; t[i].name; i++)
        if (t[i].val == opt) return t[i].name;
    return "?";
}

int cli_aval_option(cli_aval_opts *o, int opt, const char *arg)
{
    if (opt < CLI_O_AVAL || opt > CLI_O_AVAL_CSV) return 0;
    if (opt != CLI_O_AVAL && !o->given) o->given = opt;
    int bad = 0;
    switch (opt) {
    case CLI_O_AVAL: o->on = 1; break;
    case CLI_O_AVAL_TRIALS: bad = cli_parse_int("aval-trials", arg, 1, 1000000, &o->c.trials); break;
    case CLI_O_AVAL_EPS: bad = cli_parse_real("aval-eps", arg, 1e-30, 1e30, &o->c.eps); break;
    case CLI_O_AVAL_THRESH:
        bad = cli_parse_real("aval-threshold", arg, 1e-30, 1e30, &o->c.rel_threshold);
        o->thresh_rel_set = 1;
        break;
    case CLI_O_AVAL_THRESH_ABS: bad = cli_parse_real("aval-threshold-abs", arg, 1e-300, 1e300, &o->c.threshold); break;
    case CLI_O_AVAL_MODE:
        if (cn_cascade_mode_from_name(arg, &o->c.mode)) bad = 1, cli_error("--aval-mode %s: expected finite or linear", arg);
        break;
    case CLI_O_AVAL_SITE:
        if (!strcmp(arg, "input")) o->c.site = -1;
        else if (cli_parse_int("aval-site", arg, 0, 1 << 20, &o->c.site)) bad = 1, cli_error("(--aval-site: input or a block number)");
        break;
    case CLI_O_AVAL_CALIB: bad = cli_parse_int("aval-calibration", arg, 1, 1 << 30, &o->c.calibration); break;
    case CLI_O_AVAL_BOOT: bad = cli_parse_int("aval-bootstrap", arg, 0, 1000000, &o->a.fit.bootstrap); break;
    case CLI_O_AVAL_MINCOUNT: bad = cli_parse_int("aval-min-count", arg, 1, 1 << 30, &o->a.min_count); break;
    case CLI_O_AVAL_TMIN: bad = cli_parse_int("aval-tmin", arg, 1, 1 << 20, &o->a.tmin); break;
    case CLI_O_AVAL_CSV: o->csv = arg; break;
    }
    return bad ? -1 : 1;
}

int cli_aval_check(const cli_aval_opts *o)
{
    if (o->given && !o->on) {
        cli_error("--%s needs --avalanches", option_name(o->given));
        return -1;
    }
    if (o->thresh_rel_set && o->c.threshold > 0) {
        cli_error("--aval-threshold and --aval-threshold-abs: give one of them");
        return -1;
    }
    if (o->c.site >= 0 && o->c.mode != CN_CASCADE_LINEAR) {
        cli_error("--aval-site %d needs --aval-mode linear: a network runs forward from its input only, so a unit "
                  "inside it is perturbed through Jacobian-vector products", o->c.site);
        return -1;
    }
    return 0;
}

static void progress(double done, double total, void *user)
{
    static double t0 = 0;
    if (t0 == 0) t0 = cli_now();
    cli_progress_bar(user, "avalanches", done, total, cli_now() - t0, NULL);
}

int cli_aval_run(cli_aval_result *res, cli_aval_opts *o, cn_net *net, const cn_real *x, int n, uint64_t seed, int quiet)
{
    memset(res, 0, sizeof *res);
    double t0 = cli_now();
    cli_progress prog;
    cli_progress_init(&prog, quiet);
    o->c.seed = seed;
    o->c.progress = progress;
    o->c.user = &prog;
    cn_error err = {0};
    int rc = cn_cascade_run(&res->r, net, x, n, &o->c, &err);
    cli_progress_end(&prog);
    if (!rc) rc = cn_avalanche_analyse(&res->s, res->r.counts, res->r.cascades, res->r.len, &o->a, &err);
    if (rc) {
        cli_error("avalanches: %s", err.msg);
        return -1;
    }
    /* the likelihood-ratio tests on the same completed avalanches the fits used */
    double *v = malloc(sizeof(double) * (size_t)res->s.n + 1);
    if (!v) {
        cli_error("out of memory");
        return -1;
    }
    for (int which = 0; which < 2; which++) {
        const cn_powerlaw_fit *f = which ? &res->s.duration_fit : &res->s.size_fit;
        if (!(which ? res->s.has_duration_fit : res->s.has_size_fit)) continue;
        int m = 0;
        for (int i = 0; i < res->s.n; i++)
            if (res->s.duration[i] > 0 && res->s.duration[i] < res->s.len)
                v[m++] = which ? res->s.duration[i] : res->s.size[i];
        /* an alternative that cannot be fitted to this tail (no finite likelihood) leaves its R and p NaN */
        for (int a = 0; a < CN_PL_ALT_COUNT && rc != CN_ERR_NOMEM; a++) {
            rc = cn_powerlaw_compare(&res->lr[which][a], v, m, f, a, &err);
            if (rc) res->lr[which][a].R = res->lr[which][a].p_value = NAN;
        }
        if (rc != CN_ERR_NOMEM) rc = CN_OK;
    }
    free(v);
    if (rc) {
        cli_error("avalanches: %s", err.msg);
        return -1;
    }
    res->seconds = cli_now() - t0;
    return 0;
}

void cli_aval_free(cli_aval_result *res)
{
    cn_cascade_result_free(&res->r);
    cn_avalanche_stats_free(&res->s);
}

static int completed(const cn_avalanche_stats *s) { return s->n - s->empty - s->truncated; }

static void print_fit(const char *what, const cli_aval_result *res, int which)
{
    const cn_avalanche_stats *s = &res->s;
    const cn_powerlaw_fit *f = which ? &s->duration_fit : &s->size_fit;
    if (!(which ? s->has_duration_fit : s->has_size_fit)) {
        printf("  %-10s  no power-law fit: %s\n", what, which ? s->duration_msg : s->size_msg);
        return;
    }
    char p[32], pe[32], pl[32];
    printf("  %-10s  alpha %.3f +- %.3f above x_min %g (%d of %d), KS %.4f", what, f->alpha, f->sigma, f->xmin,
           f->n_tail, f->n, f->ks);
    if (f->replicates) printf(", goodness of fit p = %s", cli_p_text(p, sizeof p, f->p_value));
    printf("\n  %-10s  R against the exponential %+.2f (p %s), the log-normal %+.2f (p %s)\n", "",
           res->lr[which][CN_PL_EXPONENTIAL].R, cli_p_text(pe, sizeof pe, res->lr[which][CN_PL_EXPONENTIAL].p_value),
           res->lr[which][CN_PL_LOGNORMAL].R, cli_p_text(pl, sizeof pl, res->lr[which][CN_PL_LOGNORMAL].p_value));
}

void cli_aval_print(const cli_aval_result *res, const cli_aval_opts *o)
{
    const cn_cascade_result *r = &res->r;
    const cn_avalanche_stats *s = &res->s;
    char site[48];
    if (o->c.site < 0) snprintf(site, sizeof site, "one of %d input units", r->site_units);
    else snprintf(site, sizeof site, "one of %d units of block %d", r->site_units, o->c.site);
    printf("  avalanches  %d cascades (%d per input) from %s, eps %g, %s mode, over blocks %d..%d\n", r->cascades,
           o->c.trials, site, o->c.eps, cn_cascade_mode_name(o->c.mode), r->first_block, r->first_block + r->len - 1);
    if (isnan(r->calib_rms)) printf("  threshold   %.4g (absolute)\n", r->threshold);
    else printf("  threshold   %.4g = %g x the first block's RMS change %.4g\n", r->threshold, o->c.rel_threshold,
                r->calib_rms);
    printf("  cascades    %d empty (nothing changed at the first block), %d completed, %d still active at the last "
           "block (left out of the fits)\n", s->empty, completed(s), s->truncated);
    print_fit("sizes", res, 0);
    print_fit("durations", res, 1);
    if (s->nT) printf("  crackling   <S>(T) ~ T^gamma: gamma %.3f +- %.3f over T = %d..%d (%d durations); predicted "
                      "(alpha_T - 1)/(alpha_S - 1) = %.3f\n", s->gamma, s->gamma_se, s->T[0], s->T[s->nT - 1], s->nT,
                      s->gamma_pred);
    else printf("  crackling   no duration has %d completed avalanches\n", o->a.min_count);
    if (s->nshapes >= 2)
        printf("  shapes      %d average shapes (T = %d..%d) collapse best at gamma %.3f (relative spread %.3g)\n",
               s->nshapes, s->shape_T[0], s->shape_T[s->nshapes - 1], s->gamma_collapse, s->collapse_err);
    printf("  (%.1f s)\n", res->seconds);
}

static cJSON *fit_json(const cli_aval_result *res, int which)
{
    const cn_avalanche_stats *s = &res->s;
    const cn_powerlaw_fit *f = which ? &s->duration_fit : &s->size_fit;
    cJSON *o = cJSON_CreateObject();
    if (!(which ? s->has_duration_fit : s->has_size_fit)) {
        cJSON_AddNullToObject(o, "alpha");
        cJSON_AddStringToObject(o, "reason", which ? s->duration_msg : s->size_msg);
        return o;
    }
    cJSON_AddItemToObject(o, "alpha", cli_json_num(f->alpha));
    cJSON_AddItemToObject(o, "sigma", cli_json_num(f->sigma));
    cJSON_AddItemToObject(o, "xmin", cli_json_num(f->xmin));
    cJSON_AddItemToObject(o, "ks", cli_json_num(f->ks));
    cJSON_AddNumberToObject(o, "n", f->n);
    cJSON_AddNumberToObject(o, "n_tail", f->n_tail);
    cJSON_AddItemToObject(o, "p_value", cli_json_num(f->p_value));
    cJSON_AddNumberToObject(o, "replicates", f->replicates);
    cJSON *lr = cJSON_CreateArray();
    for (int a = 0; a < CN_PL_ALT_COUNT; a++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "alternative", cn_powerlaw_alt_name(a));
        cJSON_AddItemToObject(t, "R", cli_json_num(res->lr[which][a].R));
        cJSON_AddItemToObject(t, "p_value", cli_json_num(res->lr[which][a].p_value));
        cJSON_AddItemToArray(lr, t);
    }
    cJSON_AddItemToObject(o, "likelihood_ratio", lr);
    return o;
}

cJSON *cli_aval_json(const cli_aval_result *res, const cli_aval_opts *o)
{
    const cn_cascade_result *r = &res->r;
    const cn_avalanche_stats *s = &res->s;
    cJSON *root = cJSON_CreateObject(), *set = cJSON_CreateObject();
    cJSON_AddStringToObject(set, "mode", cn_cascade_mode_name(o->c.mode));
    if (o->c.site < 0) cJSON_AddStringToObject(set, "site", "input");
    else cJSON_AddNumberToObject(set, "site", o->c.site);
    cJSON_AddNumberToObject(set, "eps", o->c.eps);
    cJSON_AddNumberToObject(set, "trials", o->c.trials);
    cJSON_AddItemToObject(set, "rel_threshold", o->c.threshold > 0 ? cJSON_CreateNull() : cli_json_num(o->c.rel_threshold));
    cJSON_AddNumberToObject(set, "calibration", o->c.calibration);
    cJSON_AddNumberToObject(set, "seed", (double)o->c.seed);
    cJSON_AddNumberToObject(set, "min_count", o->a.min_count);
    cJSON_AddNumberToObject(set, "tmin", o->a.tmin);
    cJSON_AddNumberToObject(set, "bootstrap", o->a.fit.bootstrap);
    cJSON_AddItemToObject(root, "settings", set);
    cJSON_AddItemToObject(root, "threshold", cli_json_num(r->threshold));
    cJSON_AddItemToObject(root, "calib_rms", cli_json_num(r->calib_rms));
    cJSON_AddNumberToObject(root, "cascades", r->cascades);
    cJSON_AddNumberToObject(root, "first_block", r->first_block);
    cJSON_AddNumberToObject(root, "blocks", r->len);
    cJSON_AddNumberToObject(root, "site_units", r->site_units);
    cJSON_AddNumberToObject(root, "empty", s->empty);
    cJSON_AddNumberToObject(root, "completed", completed(s));
    cJSON_AddNumberToObject(root, "truncated", s->truncated);
    double *mc = calloc((size_t)r->len + 1, sizeof *mc), *units = malloc(sizeof(double) * ((size_t)r->len + 1));
    for (int l = 0; mc && units && l < r->len; l++) {
        units[l] = r->units[l];
        for (int c = 0; c < r->cascades; c++) mc[l] += r->counts[(size_t)c * r->len + l];
        mc[l] /= r->cascades;
    }
    cJSON_AddItemToObject(root, "units", cli_json_numbers(units, units ? r->len : 0));
    cJSON_AddItemToObject(root, "rms_change", cli_json_numbers(r->rms, r->len));
    cJSON_AddItemToObject(root, "mean_count", cli_json_numbers(mc, mc ? r->len : 0));
    free(mc);
    free(units);
    cJSON_AddItemToObject(root, "size", fit_json(res, 0));
    cJSON_AddItemToObject(root, "duration", fit_json(res, 1));
    cJSON *ck = cJSON_CreateObject(), *T = cJSON_CreateArray(), *cnt = cJSON_CreateArray();
    for (int k = 0; k < s->nT; k++) {
        cJSON_AddItemToArray(T, cJSON_CreateNumber(s->T[k]));
        cJSON_AddItemToArray(cnt, cJSON_CreateNumber(s->T_count[k]));
    }
    cJSON_AddItemToObject(ck, "gamma", cli_json_num(s->gamma));
    cJSON_AddItemToObject(ck, "gamma_se", cli_json_num(s->gamma_se));
    cJSON_AddItemToObject(ck, "gamma_pred", cli_json_num(s->gamma_pred));
    cJSON_AddItemToObject(ck, "T", T);
    cJSON_AddItemToObject(ck, "count", cnt);
    cJSON_AddItemToObject(ck, "mean_size", cli_json_numbers(s->mean_size, s->nT));
    cJSON_AddItemToObject(root, "crackling", ck);
    cJSON *sh = cJSON_CreateArray();
    for (int k = 0; k < s->nshapes; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "T", s->shape_T[k]);
        cJSON_AddItemToObject(e, "profile", cli_json_numbers(s->shape + (size_t)k * s->len, s->shape_T[k]));
        cJSON_AddItemToArray(sh, e);
    }
    cJSON_AddItemToObject(root, "shapes", sh);
    cJSON *col = cJSON_CreateObject();
    cJSON_AddItemToObject(col, "gamma", cli_json_num(s->gamma_collapse));
    cJSON_AddItemToObject(col, "error", cli_json_num(s->collapse_err));
    cJSON_AddItemToObject(root, "collapse", col);
    return root;
}

int cli_aval_write_csv(const char *path, const cli_aval_result *res)
{
    const cn_cascade_result *r = &res->r;
    cli_report rep;
    FILE *f = cli_report_open(&rep, path);
    if (!f) return -1;
    fprintf(f, "cascade,input,unit,sign,size,duration,complete");
    for (int l = 0; l < r->len; l++) fprintf(f, ",block_%d", r->first_block + l);
    fputc('\n', f);
    for (int c = 0; c < r->cascades; c++) {
        int T = res->s.duration[c];
        fprintf(f, "%d,%d,%d,%d,%d,%d,%d", c, r->input[c], r->unit[c], r->sign[c], res->s.size[c], T, T > 0 && T < r->len);
        for (int l = 0; l < r->len; l++) fprintf(f, ",%d", r->counts[(size_t)c * r->len + l]);
        fputc('\n', f);
    }
    return cli_report_commit(&rep);
}

/* the CCDF of the completed avalanches' sizes or durations with the fit */
static int ccdf_plot(const char *path, const char *name, const cli_aval_result *res, int which)
{
    const cn_avalanche_stats *s = &res->s;
    const cn_powerlaw_fit *f = which ? &s->duration_fit : &s->size_fit;
    double *v = malloc(sizeof(double) * (size_t)s->n + 1), *cx = NULL, *cy, *cf;
    int m = 0, k, rc = -1;
    for (int i = 0; v && i < s->n; i++)
        if (s->duration[i] > 0 && s->duration[i] < s->len) v[m++] = which ? s->duration[i] : s->size[i];
    if (v) gsl_sort(v, 1, (size_t)m);
    if (v && !cli_ccdf(v, m, f, &cx, &cy, &cf, &k)) rc = cli_ccdf_plot(path, name, cx, cy, cf, k, f);
    else cli_error("out of memory");
    free(v);
    free(cx);
    return rc;
}

int cli_aval_plots(const char *dir, const cli_aval_result *res)
{
    const cn_avalanche_stats *s = &res->s;
    char path[4096], title[256];
    int rc = 0;
    if (s->has_size_fit) {
        snprintf(path, sizeof path, "%s/avalanche_sizes.png", dir);
        rc |= ccdf_plot(path, "avalanche sizes", res, 0);
    }
    if (s->has_duration_fit) {
        snprintf(path, sizeof path, "%s/avalanche_durations.png", dir);
        rc |= ccdf_plot(path, "avalanche durations", res, 1);
    }
    if (s->nT >= 1) {
        /* <S>(T) and the fitted line, log-log */
        double *x = malloc(sizeof(double) * 3 * (size_t)s->nT), *y = x + s->nT, *fy = x + 2 * s->nT;
        double mx = 0, my = 0;
        if (!x) {
            cli_error("out of memory");
            return -1;
        }
        for (int k = 0; k < s->nT; k++) x[k] = s->T[k], y[k] = log10(s->mean_size[k]), mx += log10(x[k]) / s->nT, my += y[k] / s->nT;
        for (int k = 0; k < s->nT; k++) fy[k] = my + s->gamma * (log10(x[k]) - mx);
        char label[96];
        snprintf(label, sizeof label, "gamma = %.3f (predicted %.3f)", s->gamma, s->gamma_pred);
        cli_series ser[2] = {{x, y, s->nT, "<S>(T)", 1}, {x, fy, isnan(s->gamma) ? 0 : s->nT, label, 0}};
        cli_plot_opts po = {"Crackling noise: mean size against duration", "duration T (blocks)", "log10 <S>", 1, NAN};
        snprintf(path, sizeof path, "%s/avalanche_crackling.png", dir);
        rc |= cli_plot_lines(path, &po, ser, 2);
        free(x);
    }
    if (s->nshapes >= 2) {
        /* up to 8 shapes, evenly spread over the durations, rescaled by the collapse's gamma */
        int shown = s->nshapes < 8 ? s->nshapes : 8;
        double *buf = malloc(sizeof(double) * 2 * (size_t)shown * s->len);
        cli_series ser[8];
        if (!buf) {
            cli_error("out of memory");
            return -1;
        }
        char labels[8][32];
        for (int j = 0; j < shown; j++) {
            int k = shown > 1 ? (int)lround((double)j * (s->nshapes - 1) / (shown - 1)) : 0, T = s->shape_T[k];
            double *u = buf + (size_t)2 * j * s->len, *w = u + s->len;
            for (int t = 0; t < T; t++)
                u[t] = (t + 0.5) / T, w[t] = pow(T, 1 - s->gamma_collapse) * s->shape[(size_t)k * s->len + t];
            snprintf(labels[j], sizeof labels[j], "T = %d", T);
            ser[j] = (cli_series){u, w, T, labels[j], 1};
        }
        snprintf(title, sizeof title, "Average shapes, collapsed at gamma = %.3f", s->gamma_collapse);
        cli_plot_opts po = {title, "t / T", "T^(1-gamma) s(t | T)", 0, NAN};
        snprintf(path, sizeof path, "%s/avalanche_shapes.png", dir);
        rc |= cli_plot_lines(path, &po, ser, shown);
        free(buf);
    }
    return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- --activity-branching */

void cli_ab_defaults(cli_ab_opts *o)
{
    memset(o, 0, sizeof *o);
    cn_branching_opts_default(&o->b);
    o->rel_threshold = 1;
    o->b.kmax = 10;
    o->b.bootstrap = 200;
}

int cli_ab_option(cli_ab_opts *o, int opt, const char *arg)
{
    if (opt < CLI_O_AB || opt > CLI_O_AB_CSV) return 0;
    if (opt != CLI_O_AB && !o->given) o->given = opt;
    int bad = 0;
    switch (opt) {
    case CLI_O_AB: o->on = 1; break;
    case CLI_O_AB_THRESH:
        bad = cli_parse_real("ab-threshold", arg, 1e-30, 1e30, &o->rel_threshold);
        o->thresh_rel_set = 1;
        break;
    case CLI_O_AB_THRESH_ABS: bad = cli_parse_real("ab-threshold-abs", arg, 1e-300, 1e300, &o->abs_threshold); break;
    case CLI_O_AB_KMAX: bad = cli_parse_int("ab-kmax", arg, 2, 1 << 20, &o->b.kmax); break;
    case CLI_O_AB_BOOT: bad = cli_parse_int("ab-bootstrap", arg, 0, 1000000, &o->b.bootstrap); break;
    case CLI_O_AB_CSV: o->csv = arg; break;
    }
    return bad ? -1 : 1;
}

int cli_ab_check(const cli_ab_opts *o)
{
    static const struct option t[] = {CLI_AB_OPTIONS, {0, 0, 0, 0}};
    if (o->given && !o->on) {
        const char *name = "?";
        for (int i = 0; t[i].name; i++)
            if (t[i].val == o->given) name = t[i].name;
        cli_error("--%s needs --activity-branching", name);
        return -1;
    }
    if (o->thresh_rel_set && o->abs_threshold > 0) {
        cli_error("--ab-threshold and --ab-threshold-abs: give one of them");
        return -1;
    }
    return 0;
}

int cli_ab_run(cli_ab_result *res, const cli_ab_opts *o, cn_net *net, const cn_real *x, int n, int include_readout,
               uint64_t seed)
{
    memset(res, 0, sizeof *res);
    cn_error err = {0};
    cn_branching_opts b = o->b;
    b.seed = seed;
    int rc = cn_net_activity_counts(net, x, n, include_readout, o->rel_threshold, o->abs_threshold, &res->counts,
                                    &res->len, &res->threshold, &res->rms, &err);
    res->inputs = n;
    if (!rc && res->len < b.kmax + 2) {
        cli_error("--activity-branching: %d blocks; --ab-kmax %d needs at least %d", res->len, b.kmax, b.kmax + 2);
        return -1;
    }
    if (!rc) rc = cn_branching_estimate_trials(&res->fit, res->counts, n, res->len, &b, &err);
    if (rc) {
        cli_error("activity branching: %s", err.msg);
        return -1;
    }
    return 0;
}

void cli_ab_print(const cli_ab_result *res, const cli_ab_opts *o, double sigma)
{
    const cn_branching_fit *f = &res->fit;
    printf("  activity    units with |h| > %.4g", res->threshold);
    if (isnan(res->rms)) printf(" (absolute)");
    else printf(" (%g x the RMS output %.4g)", o->rel_threshold, res->rms);
    printf(" per block, %d inputs as trials, %d blocks, lags 1..%d\n", res->inputs, res->len, f->kmax);
    printf("  m (MR)      %9.4f", f->m);
    if (f->replicates) printf("   95%% CI [%.4f, %.4f] (%d replicates)", f->m_lo, f->m_hi, f->replicates);
    printf("   beside sigma %.4f (both critical at 1)\n", sigma);
    printf("  m (naive)   %9.4f   (r_1); b %.4f\n", f->m_naive, f->b);
}

cJSON *cli_ab_json(const cli_ab_result *res, const cli_ab_opts *o, double sigma)
{
    const cn_branching_fit *f = &res->fit;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "method", "multistep regression (Wilting & Priesemann 2018), inputs as trials, "
                                            "each block's mean over the inputs subtracted");
    cJSON_AddStringToObject(root, "activity", "units with |output| > threshold, per block");
    cJSON_AddItemToObject(root, "rel_threshold", o->abs_threshold > 0 ? cJSON_CreateNull() : cli_json_num(o->rel_threshold));
    cJSON_AddItemToObject(root, "threshold", cli_json_num(res->threshold));
    cJSON_AddItemToObject(root, "rms_output", cli_json_num(res->rms));
    cJSON_AddNumberToObject(root, "inputs", res->inputs);
    cJSON_AddNumberToObject(root, "blocks", res->len);
    cJSON_AddNumberToObject(root, "kmax", f->kmax);
    cJSON_AddItemToObject(root, "m", cli_json_num(f->m));
    cJSON_AddItemToObject(root, "m_ci", cli_json_numbers((double[]){f->m_lo, f->m_hi}, 2));
    cJSON_AddNumberToObject(root, "ci_level", o->b.level);
    cJSON_AddNumberToObject(root, "replicates", f->replicates);
    cJSON_AddItemToObject(root, "m_naive", cli_json_num(f->m_naive));
    cJSON_AddItemToObject(root, "b", cli_json_num(f->b));
    cJSON_AddItemToObject(root, "tau_blocks", cli_json_num(f->tau));
    cJSON_AddItemToObject(root, "r_k", cli_json_numbers(f->r, f->kmax));
    cJSON_AddItemToObject(root, "sigma", cli_json_num(sigma));
    double *mean = calloc((size_t)res->len + 1, sizeof *mean);
    for (int l = 0; mean && l < res->len; l++) {
        for (int i = 0; i < res->inputs; i++) mean[l] += res->counts[(size_t)i * res->len + l];
        mean[l] /= res->inputs;
    }
    cJSON_AddItemToObject(root, "mean_count", cli_json_numbers(mean, mean ? res->len : 0));
    free(mean);
    return root;
}

int cli_ab_write_csv(const char *path, const cli_ab_result *res)
{
    cli_report rep;
    FILE *f = cli_report_open(&rep, path);
    if (!f) return -1;
    fprintf(f, "input");
    for (int l = 0; l < res->len; l++) fprintf(f, ",block_%d", l + 1);
    fputc('\n', f);
    for (int i = 0; i < res->inputs; i++) {
        fprintf(f, "%d", i);
        for (int l = 0; l < res->len; l++) fprintf(f, ",%.0f", res->counts[(size_t)i * res->len + l]);
        fputc('\n', f);
    }
    return cli_report_commit(&rep);
}

void cli_ab_free(cli_ab_result *res)
{
    cn_free(res->counts);
    cn_branching_fit_free(&res->fit);
    memset(res, 0, sizeof *res);
}
