/* cmd_powerlaw.c: `critnet powerlaw`: the power-law fit of Clauset, Shalizi & Newman (2009) on a column of a
 * CSV file (avalanche sizes or durations, or any positive sample): alpha and its standard error, x_min, the
 * KS distance, the bootstrap goodness-of-fit p-value and likelihood-ratio tests against four alternatives. */
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ccdf.h"
#include "cli.h"
#include "critnet_avalanche.h"
#include "series.h"

static const char *usage =
    "usage: critnet powerlaw --csv FILE [--column C] [--discrete] [--xmin X] [--bootstrap N] [--seed S]\n"
    "                        [--min-tail M] [--candidates N|all] [--threads N] [--json F] [--csv-out F] [--plot F.png]\n"
    "Fits p(x) ~ x^-alpha for x >= x_min to one column of FILE by the method of Clauset, Shalizi & Newman (2009):\n"
    "the maximum-likelihood alpha (for --discrete the exact MLE with the Hurwitz zeta), x_min minimising the\n"
    "Kolmogorov-Smirnov distance, the standard error of alpha, and likelihood-ratio (Vuong) tests against the\n"
    "exponential, log-normal, stretched exponential and truncated power law, each fitted above the same x_min\n"
    "(R > 0 favours the power law; p small: the sign of R is significant). With --bootstrap, the goodness-of-fit\n"
    "p-value: the share of semi-parametric bootstrap replicates, each fitted the same way, whose KS distance is\n"
    "at least the data's (p < 0.1 rules the power law out, in the paper's convention). docs/avalanches.md.\n"
    "  --csv FILE          a header row, then one value per row in the column (every value > 0)\n"
    "  --column C          the column to fit (default: the first)\n"
    "  --discrete          integer data (avalanche sizes, durations in steps)\n"
    "  --xmin X            fix x_min instead of searching it\n"
    "  --min-tail M        fewest values at or above x_min (default 50)\n"
    "  --candidates N|all  x_min candidates: the distinct values, thinned to N evenly spaced in log(tail size)\n"
    "                      where there are more (default 1000); all: every distinct value, as in the paper\n"
    "  --bootstrap N       replicates for the goodness-of-fit p-value (default 0: none; the paper uses 2500)\n"
    "  --seed S            the bootstrap's seed (default 0); the p-value does not depend on --threads\n"
    "  --threads N         threads for the bootstrap (default 2, or 1 on a 1-core machine)\n"
    "  --json F            every number and the command line\n"
    "  --csv-out F         the CCDF: x, P(X >= x) of the data, and of the fit (n_tail/n times its CCDF, x >= x_min)\n"
    "  --plot F.png        the CCDF of the data and of the fit, log-log\n";

enum { O_CSV = 2000, O_COLUMN, O_DISCRETE, O_XMIN, O_BOOT, O_SEED, O_MINTAIL, O_CAND, O_THREADS, O_JSON, O_CSVOUT,
       O_PLOT };

typedef struct {
    const char *csv, *column, *json, *csv_out, *plot;
    cn_powerlaw_opts p;
    int threads;
} pl_opts;

static int parse(pl_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"csv", required_argument, 0, O_CSV}, {"column", required_argument, 0, O_COLUMN},
        {"discrete", no_argument, 0, O_DISCRETE}, {"xmin", required_argument, 0, O_XMIN},
        {"bootstrap", required_argument, 0, O_BOOT}, {"seed", required_argument, 0, O_SEED},
        {"min-tail", required_argument, 0, O_MINTAIL}, {"candidates", required_argument, 0, O_CAND},
        {"threads", required_argument, 0, O_THREADS}, {"json", required_argument, 0, O_JSON},
        {"csv-out", required_argument, 0, O_CSVOUT}, {"plot", required_argument, 0, O_PLOT},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    int opt, bad = 0;
    while (!bad && (opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_CSV: o->csv = optarg; break;
        case O_COLUMN: o->column = optarg; break;
        case O_DISCRETE: o->p.discrete = 1; break;
        case O_XMIN: bad = cli_parse_real("xmin", optarg, 1e-300, 1e300, &o->p.xmin); break;
        case O_BOOT: bad = cli_parse_int("bootstrap", optarg, 0, 10000000, &o->p.bootstrap); break;
        case O_SEED: bad = cli_parse_u64("seed", optarg, &o->p.seed); break;
        case O_MINTAIL: bad = cli_parse_int("min-tail", optarg, 2, 1 << 30, &o->p.min_tail); break;
        case O_CAND:
            if (!strcmp(optarg, "all")) o->p.max_candidates = 0;
            else bad = cli_parse_int("candidates", optarg, 2, 1 << 30, &o->p.max_candidates);
            break;
        case O_THREADS: bad = cli_parse_int("threads", optarg, 1, 256, &o->threads); break;
        case O_JSON: o->json = optarg; break;
        case O_CSVOUT: o->csv_out = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        default: fputs(usage, stderr); return -1;
        }
    }
    if (bad || cli_series_args_done(argc, argv, o->csv)) return -1;
    if (o->p.discrete && o->p.xmin > 0 && o->p.xmin != floor(o->p.xmin)) {
        cli_error("--xmin %g: --discrete needs an integer x_min", o->p.xmin);
        return -1;
    }
    return 0;
}

static int write_csv(const char *path, const double *cx, const double *cy, const double *cf, int m)
{
    cli_report rep;
    FILE *fp = cli_report_open(&rep, path);
    if (!fp) return -1;
    fprintf(fp, "x,ccdf_data,ccdf_fit\n");
    for (int i = 0; i < m; i++) {
        fprintf(fp, "%.17g,%.17g,", cx[i], cy[i]);
        if (isnan(cf[i])) fprintf(fp, "\n");
        else fprintf(fp, "%.17g\n", cf[i]);
    }
    return cli_report_commit(&rep);
}

static const char *param_names[CN_PL_ALT_COUNT][2] = {
    {"lambda", NULL}, {"mu", "sigma"}, {"lambda", "beta"}, {"alpha", "lambda"}};

static int write_json(const char *path, const pl_opts *o, const char *name, const cn_powerlaw_fit *f,
                      const cn_powerlaw_lr *lr, int argc, char **argv)
{
    cJSON *root = cJSON_CreateObject(), *fit = cJSON_CreateObject(), *tests = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "command", cli_json_argv(argc, argv));
    cJSON_AddStringToObject(root, "csv", o->csv);
    cJSON_AddStringToObject(root, "column", name);
    cJSON_AddStringToObject(root, "method", "Clauset, Shalizi & Newman 2009");
    cJSON_AddBoolToObject(fit, "discrete", f->discrete);
    cJSON_AddItemToObject(fit, "alpha", cli_json_num(f->alpha));
    cJSON_AddItemToObject(fit, "sigma", cli_json_num(f->sigma));
    cJSON_AddItemToObject(fit, "xmin", cli_json_num(f->xmin));
    cJSON_AddBoolToObject(fit, "xmin_fixed", o->p.xmin > 0);
    cJSON_AddItemToObject(fit, "ks", cli_json_num(f->ks));
    cJSON_AddItemToObject(fit, "loglik", cli_json_num(f->loglik));
    cJSON_AddNumberToObject(fit, "n", f->n);
    cJSON_AddNumberToObject(fit, "n_tail", f->n_tail);
    cJSON_AddNumberToObject(fit, "candidates", f->candidates);
    cJSON_AddItemToObject(fit, "p_value", cli_json_num(f->p_value));
    cJSON_AddNumberToObject(fit, "replicates", f->replicates);
    cJSON_AddNumberToObject(fit, "seed", (double)o->p.seed);
    cJSON_AddItemToObject(root, "fit", fit);
    for (int a = 0; a < CN_PL_ALT_COUNT; a++) {
        cJSON *t = cJSON_CreateObject(), *par = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "alternative", cn_powerlaw_alt_name(a));
        cJSON_AddItemToObject(t, "R", cli_json_num(lr[a].R));
        cJSON_AddItemToObject(t, "llr", cli_json_num(lr[a].llr));
        cJSON_AddItemToObject(t, "p_value", cli_json_num(lr[a].p_value));
        cJSON_AddBoolToObject(t, "nested", a == CN_PL_TRUNCATED);
        cJSON_AddItemToObject(t, "loglik", cli_json_num(lr[a].loglik));
        for (int k = 0; k < 2; k++)
            if (param_names[a][k]) cJSON_AddItemToObject(par, param_names[a][k], cli_json_num(lr[a].param[k]));
        cJSON_AddItemToObject(t, "params", par);
        cJSON_AddItemToArray(tests, t);
    }
    cJSON_AddItemToObject(root, "likelihood_ratio", tests);
    return cli_json_write(path, root);
}

int cmd_powerlaw(int argc, char **argv)
{
    pl_opts o = {0};
    cn_powerlaw_opts_default(&o.p);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = cores >= 2 ? 2 : 1;
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    cn_set_threads(o.threads);
    double *x = NULL, *cx = NULL, *cy, *cf;
    int n, m, rc = 1;
    const char *name;
    if (cli_read_series(o.csv, o.column, &x, &n, &name)) return 1;
    cn_powerlaw_fit f;
    cn_powerlaw_lr lr[CN_PL_ALT_COUNT];
    cn_error err = {0};
    if (cn_powerlaw_estimate(&f, x, n, &o.p, &err)) {
        cli_error("%s, column '%s': %s", o.csv, name, err.msg);
        goto done;
    }
    for (int a = 0; a < CN_PL_ALT_COUNT; a++)
        if (cn_powerlaw_compare(&lr[a], x, n, &f, (cn_powerlaw_alt)a, &err)) {
            cli_error("%s, column '%s': %s", o.csv, name, err.msg);
            goto done;
        }
    gsl_sort(x, 1, (size_t)n);
    if ((o.csv_out || o.plot) && cli_ccdf(x, n, &f, &cx, &cy, &cf, &m)) {
        cli_error("out of memory");
        goto done;
    }
    if (o.csv_out && write_csv(o.csv_out, cx, cy, cf, m)) goto done;
    if (o.plot && cli_ccdf_plot(o.plot, name, cx, cy, cf, m, &f)) goto done;
    if (o.json && write_json(o.json, &o, name, &f, lr, argc - 1, argv + 1)) goto done;

    printf("%s, column '%s': %d values, %s\n", o.csv, name, n, f.discrete ? "discrete" : "continuous");
    printf("alpha   %.4f +- %.4f\n", f.alpha, f.sigma);
    printf("x_min   %g (%s; %d values at or above it)\n", f.xmin, o.p.xmin > 0 ? "fixed" : "minimising the KS distance",
           f.n_tail);
    printf("KS      %.4g", f.ks);
    if (f.replicates) printf("   goodness of fit p = %.3f (%d bootstrap replicates, seed %llu)\n", f.p_value,
                             f.replicates, (unsigned long long)o.p.seed);
    else printf("   (no goodness-of-fit p-value: --bootstrap N)\n");
    printf("likelihood ratio tests (R > 0 favours the power law):\n");
    printf("  %-22s %8s %10s  %s\n", "alternative", "R", "p", "its fit");
    for (int a = 0; a < CN_PL_ALT_COUNT; a++) {
        char pbuf[32], par[96] = "";
        for (int k = 0, len = 0; k < 2; k++)
            if (param_names[a][k])
                len += snprintf(par + len, sizeof par - (size_t)len, "%s%s = %.4g", k ? ", " : "", param_names[a][k],
                                lr[a].param[k]);
        printf("  %-22s %8.3f %10s  %s%s\n", cn_powerlaw_alt_name(a), lr[a].R, cli_p_text(pbuf, sizeof pbuf, lr[a].p_value),
               par, a == CN_PL_TRUNCATED ? " (nested: p from chi2_1 / 2)" : "");
    }
    rc = 0;
done:
    free(x);
    free(cx);
    return rc;
}
