/* cmd_branching.c: `critnet branching`: the multistep-regression estimate of the branching ratio of an
 * activity time series in a CSV column (Wilting & Priesemann 2018), beside the conventional r_1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "critnet_avalanche.h"
#include "plot.h"
#include "series.h"

static const char *usage =
    "usage: critnet branching --csv FILE [--column C] [--kmax K] [--dt D] [--bootstrap N] [--blocks B] [--seed S]\n"
    "                         [--json F] [--plot F.png]\n"
    "The branching ratio m of an activity time series (one row a time step: spike counts, active units) by the\n"
    "multistep-regression (MR) estimator of Wilting & Priesemann (2018): the slopes r_k of the regression of\n"
    "A_{t+k} on A_t for k = 1..K, the fit r_k = b m^k, m and the autocorrelation time tau = -dt / ln m. Unlike\n"
    "the conventional estimate r_1 (printed beside it), m is not biased when only a fraction of the units is\n"
    "observed (b < 1 absorbs the subsampling). docs/avalanches.md.\n"
    "  --csv FILE      a header row, then one time step per row\n"
    "  --column C      the activity column (default: the first)\n"
    "  --kmax K        largest lag (default 40; a few times the expected tau)\n"
    "  --dt D          the time step, in the unit tau is wanted in (default 1)\n"
    "  --bootstrap N   replicates for a 95% CI of m: the series is cut into --blocks blocks (default 20, each at\n"
    "                  least 4 K steps long), resampled with replacement (default 0: no CI)\n"
    "  --seed S        the bootstrap's seed (default 0)\n"
    "  --json F        every number (r_k included) and the command line\n"
    "  --plot F.png    r_k against k with the fit b m^k\n";

enum { O_CSV = 2000, O_COLUMN, O_KMAX, O_DT, O_BOOT, O_BLOCKS, O_SEED, O_JSON, O_PLOT };

typedef struct {
    const char *csv, *column, *json, *plot;
    cn_branching_opts b;
} br_opts;

static int parse(br_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"csv", required_argument, 0, O_CSV}, {"column", required_argument, 0, O_COLUMN},
        {"kmax", required_argument, 0, O_KMAX}, {"dt", required_argument, 0, O_DT},
        {"bootstrap", required_argument, 0, O_BOOT}, {"blocks", required_argument, 0, O_BLOCKS},
        {"seed", required_argument, 0, O_SEED}, {"json", required_argument, 0, O_JSON},
        {"plot", required_argument, 0, O_PLOT}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    int opt, bad = 0;
    while (!bad && (opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_CSV: o->csv = optarg; break;
        case O_COLUMN: o->column = optarg; break;
        case O_KMAX: bad = cli_parse_int("kmax", optarg, 2, 1000000, &o->b.kmax); break;
        case O_DT: bad = cli_parse_real("dt", optarg, 1e-300, 1e300, &o->b.dt); break;
        case O_BOOT: bad = cli_parse_int("bootstrap", optarg, 0, 1000000, &o->b.bootstrap); break;
        case O_BLOCKS: bad = cli_parse_int("blocks", optarg, 2, 1024, &o->b.blocks); break;
        case O_SEED: bad = cli_parse_u64("seed", optarg, &o->b.seed); break;
        case O_JSON: o->json = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        default: fputs(usage, stderr); return -1;
        }
    }
    if (bad || cli_series_args_done(argc, argv, o->csv)) return -1;
    return 0;
}

static int write_json(const char *path, const br_opts *o, const char *name, int n, const cn_branching_fit *f, int argc,
                      char **argv)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "command", cli_json_argv(argc, argv));
    cJSON_AddStringToObject(root, "csv", o->csv);
    cJSON_AddStringToObject(root, "column", name);
    cJSON_AddStringToObject(root, "method", "multistep regression, Wilting & Priesemann 2018");
    cJSON_AddNumberToObject(root, "steps", n);
    cJSON_AddNumberToObject(root, "kmax", f->kmax);
    cJSON_AddNumberToObject(root, "dt", o->b.dt);
    cJSON_AddItemToObject(root, "m", cli_json_num(f->m));
    cJSON_AddItemToObject(root, "b", cli_json_num(f->b));
    cJSON_AddItemToObject(root, "m_naive", cli_json_num(f->m_naive));
    cJSON_AddItemToObject(root, "tau", cli_json_num(f->tau));
    cJSON_AddItemToObject(root, "m_ci", cli_json_numbers((double[]){f->m_lo, f->m_hi}, 2));
    cJSON_AddNumberToObject(root, "ci_level", o->b.level);
    cJSON_AddNumberToObject(root, "replicates", f->replicates);
    cJSON_AddNumberToObject(root, "blocks", o->b.blocks);
    cJSON_AddNumberToObject(root, "seed", (double)o->b.seed);
    cJSON_AddItemToObject(root, "r_k", cli_json_numbers(f->r, f->kmax));
    return cli_json_write(path, root);
}

static int write_plot(const char *path, const char *name, const cn_branching_fit *f)
{
    double *k = malloc(sizeof(double) * 2 * (size_t)f->kmax), *fit = k ? k + f->kmax : NULL;
    if (!k) {
        cli_error("out of memory");
        return -1;
    }
    for (int i = 0; i < f->kmax; i++) k[i] = i + 1, fit[i] = f->b * pow(f->m, i + 1);
    char title[256], label[128];
    snprintf(title, sizeof title, "%s: multistep regression (naive r_1 = %.4f)", name, f->m_naive);
    snprintf(label, sizeof label, "fit b m^k: m = %.4f, b = %.3f", f->m, f->b);
    cli_series s[2] = {{k, f->r, f->kmax, "r_k", 1}, {k, fit, f->kmax, label, 0}};
    cli_plot_opts po = {title, "lag k", "r_k", 0, NAN};
    int rc = cli_plot_lines(path, &po, s, 2);
    free(k);
    return rc;
}

int cmd_branching(int argc, char **argv)
{
    br_opts o = {0};
    cn_branching_opts_default(&o.b);
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    double *a = NULL;
    int n, rc = 1;
    const char *name;
    if (cli_read_series(o.csv, o.column, &a, &n, &name)) return 1;
    cn_branching_fit f;
    cn_error err = {0};
    if (cn_branching_estimate(&f, a, n, &o.b, &err)) {
        cli_error("%s, column '%s': %s", o.csv, name, err.msg);
        free(a);
        return 1;
    }
    if (o.plot && write_plot(o.plot, name, &f)) goto done;
    if (o.json && write_json(o.json, &o, name, n, &f, argc - 1, argv + 1)) goto done;
    printf("%s, column '%s': %d time steps, lags 1..%d\n", o.csv, name, n, f.kmax);
    printf("m (MR)      %.5f", f.m);
    if (f.replicates) printf("   %g%% CI [%.5f, %.5f] (%d block-bootstrap replicates)", 100 * o.b.level, f.m_lo, f.m_hi,
                             f.replicates);
    printf("\nb           %.4f   (1 when every unit is observed)\n", f.b);
    printf("m (naive)   %.5f   (r_1, biased under subsampling)\n", f.m_naive);
    if (isfinite(f.tau)) printf("tau         %.4g   (-dt / ln m, dt = %g)\n", f.tau, o.b.dt);
    else printf("tau         undefined (m = %.4f is not in (0, 1))\n", f.m);
    rc = 0;
done:
    cn_branching_fit_free(&f);
    free(a);
    return rc;
}
