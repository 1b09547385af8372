/* cmd_robustness.c: `critnet robustness`: a checkpoint's test accuracy under Gaussian input noise and FGSM and
 * PGD attacks over grids of sizes, as a table, JSON, CSV and a plot of accuracy against perturbation size. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "plot.h"

static const char *usage =
    "usage: critnet robustness --model DIR/model.cnm [--data D] [options]\n"
    "Accuracy of a checkpoint (eval mode) under Gaussian input noise and under the L-inf attacks FGSM and\n"
    "PGD on the cross-entropy loss, with input gradients from the network's own backward pass.\n"
    "  --model FILE            a checkpoint written by critnet train\n"
    "  --samples N             the first N examples of the split (default 1000)\n"
    "  --split test|train      (default test)\n"
    "  --noise S1,S2,...       noise standard deviations (default 0,0.05,0.1,0.2,0.3; none: skip)\n"
    "  --eps E1,E2,...         attack sizes, L-inf (default 0,0.01,0.02,0.05,0.1)\n"
    "  --attacks fgsm,pgd      which attacks (default both; none: noise only)\n"
    "  --pgd-steps N           PGD iterations of 2.5 eps / N each, from a random start (default 10)\n"
    "  --clip auto|on|off      clip perturbed inputs to [0, 1] (auto, the default: when the data lie in it)\n"
    "  --batch N               examples per pass (default 100)\n"
    "  --json FILE             results with the settings to rerun them\n"
    "  --csv FILE              perturbation,size,accuracy rows\n"
    "  --plot FILE.png         accuracy against perturbation size, a line per perturbation\n"
    "The seed (--seed) draws the noise and the PGD random starts.\n" CLI_COMMON_HELP;

enum { O_MODEL = 2000, O_SAMPLES, O_SPLIT, O_NOISE, O_EPS, O_ATTACKS, O_STEPS, O_CLIP, O_BATCH, O_JSON, O_CSV, O_PLOT };

#define MAX_GRID 64

typedef enum { P_NOISE, P_FGSM, P_PGD, P_COUNT } perturbation;
static const char *const p_names[] = {"noise", "fgsm", "pgd"};
static const char *const p_size_names[] = {"std", "eps", "eps"};
_Static_assert(sizeof p_names / sizeof *p_names == P_COUNT, "a name per perturbation");

typedef struct {
    cli_common c;
    const char *model, *split, *clip, *json, *csv, *plot;
    int samples, steps, batch;
    double grid[P_COUNT][MAX_GRID]; /* noise std; eps for each attack */
    int n[P_COUNT];
} robust_opts;

/* "a,b,c" of sizes in [0, 1e6] into v; "none" is an empty grid */
static int parse_grid(const char *name, const char *arg, double *v, int *n)
{
    *n = 0;
    return strcmp(arg, "none") == 0 ? 0 : cli_parse_real_list(name, arg, 0, 1e6, MAX_GRID, v, n);
}

static int parse_attacks(robust_opts *o, const char *arg)
{
    int fgsm = 0, pgd = 0;
    if (strcmp(arg, "none")) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", arg);
        for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!strcmp(t, "fgsm")) fgsm = 1;
            else if (!strcmp(t, "pgd")) pgd = 1;
            else {
                cli_error("--attacks %s: unknown attack '%s' (expected fgsm, pgd or none)", arg, t);
                return -1;
            }
        }
        if (!fgsm && !pgd) {
            cli_error("--attacks %s: expected fgsm, pgd or none", arg);
            return -1;
        }
    }
    o->n[P_FGSM] = fgsm ? -1 : 0; /* -1: takes the --eps grid once parsing is done */
    o->n[P_PGD] = pgd ? -1 : 0;
    return 0;
}

static int parse(robust_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        CLI_COMMON_OPTIONS, {"model", required_argument, 0, O_MODEL}, {"samples", required_argument, 0, O_SAMPLES},
        {"split", required_argument, 0, O_SPLIT}, {"noise", required_argument, 0, O_NOISE},
        {"eps", required_argument, 0, O_EPS}, {"attacks", required_argument, 0, O_ATTACKS},
        {"pgd-steps", required_argument, 0, O_STEPS}, {"clip", required_argument, 0, O_CLIP},
        {"batch", required_argument, 0, O_BATCH}, {"json", required_argument, 0, O_JSON},
        {"csv", required_argument, 0, O_CSV}, {"plot", required_argument, 0, O_PLOT}, {0, 0, 0, 0}};
    static const double noise0[] = {0, 0.05, 0.1, 0.2, 0.3}, eps0[] = {0, 0.01, 0.02, 0.05, 0.1};
    double eps[MAX_GRID];
    int neps = 5;
    memcpy(eps, eps0, sizeof eps0);
    memcpy(o->grid[P_NOISE], noise0, sizeof noise0);
    o->n[P_NOISE] = 5;
    o->n[P_FGSM] = o->n[P_PGD] = -1;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int r = cli_common_option(&o->c, opt, optarg), bad = 0;
        if (r < 0) return -1;
        if (r > 0) continue;
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_MODEL: o->model = optarg; break;
        case O_SAMPLES: bad = cli_parse_int("samples", optarg, 1, 1 << 30, &o->samples); break;
        case O_SPLIT: bad = cli_parse_split(optarg, &o->split); break;
        case O_NOISE: bad = parse_grid("noise", optarg, o->grid[P_NOISE], &o->n[P_NOISE]); break;
        case O_EPS: bad = parse_grid("eps", optarg, eps, &neps); break;
        case O_ATTACKS: bad = parse_attacks(o, optarg); break;
        case O_STEPS: bad = cli_parse_int("pgd-steps", optarg, 1, 100000, &o->steps); break;
        case O_CLIP:
            if ((bad = strcmp(optarg, "auto") && strcmp(optarg, "on") && strcmp(optarg, "off")))
                cli_error("--clip %s: expected auto, on or off", optarg);
            o->clip = optarg;
            break;
        case O_BATCH: bad = cli_parse_int("batch", optarg, 1, 1 << 20, &o->batch); break;
        case O_JSON: o->json = optarg; break;
        case O_CSV: o->csv = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        default: fputs(usage, stderr); return -1;
        }
        if (bad) return -1;
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see critnet robustness --help)", argv[optind]);
        return -1;
    }
    if (!o->model) {
        cli_error("--model FILE is required (see critnet robustness --help)");
        return -1;
    }
    for (int k = P_FGSM; k <= P_PGD; k++)
        if (o->n[k] < 0) {
            memcpy(o->grid[k], eps, sizeof(double) * (size_t)neps);
            o->n[k] = neps;
        }
    return 0;
}

static int write_json(const char *path, const robust_opts *o, double acc[P_COUNT][MAX_GRID], double clean, int n,
                      const cn_robust_cfg *rc, const char *data_name, int argc, char **argv, const char *spec)
{
    cJSON *root = cJSON_CreateObject(), *res = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", o->model);
    cJSON_AddStringToObject(root, "data", data_name);
    cJSON_AddStringToObject(root, "split", o->split);
    cJSON_AddNumberToObject(root, "examples", n);
    cJSON_AddNumberToObject(root, "clean_accuracy", clean);
    for (int k = 0; k < P_COUNT; k++) {
        if (!o->n[k]) continue;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToObject(p, p_size_names[k], cli_json_numbers(o->grid[k], o->n[k]));
        cJSON_AddItemToObject(p, "accuracy", cli_json_numbers(acc[k], o->n[k]));
        cJSON_AddItemToObject(res, p_names[k], p);
    }
    cJSON_AddItemToObject(root, "results", res);
    cJSON *set = cJSON_CreateObject(), *attacks = cJSON_CreateArray();
    cJSON_AddItemToObject(set, "argv", cli_json_argv(argc, argv));
    cJSON_AddStringToObject(set, "model", o->model);
    cJSON_AddStringToObject(set, "data", data_name);
    cJSON_AddStringToObject(set, "split", o->split);
    cJSON_AddNumberToObject(set, "samples", n);
    cJSON_AddNumberToObject(set, "seed", (double)o->c.seed);
    cJSON_AddItemToObject(set, "noise", cli_json_numbers(o->grid[P_NOISE], o->n[P_NOISE]));
    for (int k = P_FGSM; k <= P_PGD; k++)
        if (o->n[k]) cJSON_AddItemToArray(attacks, cJSON_CreateString(p_names[k]));
    cJSON_AddItemToObject(set, "attacks", attacks);
    int ke = o->n[P_FGSM] ? P_FGSM : P_PGD;
    cJSON_AddItemToObject(set, "eps", cli_json_numbers(o->grid[ke], o->n[ke]));
    cJSON_AddStringToObject(set, "norm", "linf");
    cJSON_AddStringToObject(set, "attack_loss", "cross_entropy");
    cJSON_AddNumberToObject(set, "pgd_steps", rc->steps);
    cJSON_AddNumberToObject(set, "pgd_step_scale", rc->step_scale);
    cJSON_AddStringToObject(set, "pgd_step_size", "step_scale * eps / pgd_steps");
    cJSON_AddBoolToObject(set, "pgd_random_start", rc->random_start);
    cJSON_AddBoolToObject(set, "clip", rc->clip);
    if (rc->clip) {
        double range[2] = {rc->lo, rc->hi};
        cJSON_AddItemToObject(set, "clip_range", cli_json_numbers(range, 2));
    } else {
        cJSON_AddNullToObject(set, "clip_range");
    }
    cJSON_AddNumberToObject(set, "batch", rc->batch);
    cJSON_AddNumberToObject(set, "threads", o->c.threads);
    cJSON_AddBoolToObject(set, "standardize", o->c.standardize);
    if (spec) cJSON_AddStringToObject(set, "model_spec", spec);
    cJSON_AddStringToObject(set, "critnet_version", CRITNET_VERSION);
    cJSON_AddItemToObject(root, "settings", set);
    return cli_json_write(path, root);
}

static int write_csv(const char *path, const robust_opts *o, double acc[P_COUNT][MAX_GRID])
{
    cli_report rep;
    FILE *f = cli_report_open(&rep, path);
    if (!f) return -1;
    fprintf(f, "perturbation,size,accuracy\n");
    for (int k = 0; k < P_COUNT; k++)
        for (int i = 0; i < o->n[k]; i++) fprintf(f, "%s,%.8g,%.8g\n", p_names[k], o->grid[k][i], acc[k][i]);
    return cli_report_commit(&rep);
}

static int write_plot(const char *path, const robust_opts *o, double acc[P_COUNT][MAX_GRID], int classes)
{
    static const char *const labels[] = {"Gaussian noise (std)", "FGSM (eps)", "PGD (eps)"};
    cli_series s[P_COUNT];
    int m = 0;
    for (int k = 0; k < P_COUNT; k++)
        if (o->n[k]) s[m++] = (cli_series){o->grid[k], acc[k], o->n[k], labels[k], 1};
    cli_plot_opts po = {"Accuracy under perturbation (dashed: chance)", "perturbation size (noise std, L-inf eps)",
                        "accuracy", 0, classes > 0 ? 1.0 / classes : NAN};
    return cli_plot_lines(path, &po, s, m);
}

int cmd_robustness(int argc, char **argv)
{
    robust_opts o;
    memset(&o, 0, sizeof o);
    cli_common_defaults(&o.c);
    o.split = "test";
    o.clip = "auto";
    o.samples = 1000;
    o.steps = 10;
    o.batch = 100;
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    cn_set_threads(o.c.threads);
    cn_error err = {0};
    cn_checkpoint ck = {0};
    cn_data data = {0};
    char *spec = NULL;
    int rc = 1;
    if (cn_checkpoint_load(&ck, o.model, &err)) {
        cli_error("%s", err.msg);
        return 1;
    }
    cli_image_defaults_for(&o.c, ck.net);
    if (cli_load_data(&data, &o.c)) goto done;
    const cn_dataset *d = cli_split(&data, o.split);
    cn_net *net = ck.net;
    if (cn_net_in_size(net) != d->c * d->h * d->w) {
        cli_error("%s takes %d inputs, but %s has %d per example", o.model, cn_net_in_size(net), data.name,
                  d->c * d->h * d->w);
        goto done;
    }
    int n = o.samples < d->count ? o.samples : d->count, in = cn_net_in_size(net);
    cn_robust_cfg cfg;
    cn_robust_defaults(&cfg);
    cfg.batch = o.batch;
    cfg.steps = o.steps;
    cfg.seed = o.c.seed;
    int in_unit = 1; /* clipping to [0, 1] only makes sense for data that lie in it (images, not standardised) */
    for (size_t i = 0; i < (size_t)n * in && in_unit; i++) in_unit = d->x[i] >= 0 && d->x[i] <= 1;
    cfg.clip = !strcmp(o.clip, "on") || (!strcmp(o.clip, "auto") && in_unit);
    if (cfg.clip && !in_unit) {
        cli_error("--clip on: %s has inputs outside [0, 1] (standardised?); use --clip off", data.name);
        goto done;
    }
    double clean, loss, acc[P_COUNT][MAX_GRID];
    if (cn_evaluate(net, d, CN_LOSS_CROSS_ENTROPY, o.batch, n, &loss, &clean, &err)) {
        cli_error("%s: %s", o.model, err.msg);
        goto done;
    }
    typedef int (*measure_fn)(cn_net *, const cn_dataset *, int, double, const cn_robust_cfg *, double *, cn_error *);
    static const measure_fn fns[P_COUNT] = {cn_robustness_noise, cn_attack_fgsm, cn_attack_pgd};
    int total = o.n[P_NOISE] + o.n[P_FGSM] + o.n[P_PGD], done_pts = 0;
    cli_progress prog;
    cli_progress_init(&prog, o.c.quiet);
    double t0 = cli_now();
    for (int k = 0; k < P_COUNT; k++)
        for (int i = 0; i < o.n[k]; i++) {
            char what[64];
            snprintf(what, sizeof what, "%s %s %g", p_names[k], p_size_names[k], o.grid[k][i]);
            cli_progress_bar(&prog, "robustness", done_pts, total, cli_now() - t0, what);
            if (fns[k](net, d, n, o.grid[k][i], &cfg, &acc[k][i], &err)) {
                cli_progress_end(&prog);
                cli_error("%s: %s", what, err.msg);
                goto done;
            }
            done_pts++;
        }
    cli_progress_bar(&prog, "robustness", done_pts, total, cli_now() - t0, NULL);
    cli_progress_end(&prog);
    if (!o.c.quiet) {
        printf("critnet robustness: %s on %d %s examples of %s\n", o.model, n, o.split, data.name);
        printf("  clean accuracy %.4f; inputs %s; PGD: %d steps of %g eps/%d from a random start\n", clean,
               cfg.clip ? "clipped to [0, 1]" : "not clipped", cfg.steps, cfg.step_scale, cfg.steps);
        printf("  perturbation   size      accuracy\n");
        for (int k = 0; k < P_COUNT; k++)
            for (int i = 0; i < o.n[k]; i++) {
                char label[32];
                snprintf(label, sizeof label, "%s %s", p_names[k], p_size_names[k]);
                printf("  %-13s  %-8.4g  %.4f\n", label, o.grid[k][i], acc[k][i]);
            }
    }
    spec = cn_net_spec(net);
    if (o.json && write_json(o.json, &o, acc, clean, n, &cfg, data.name, argc - 1, argv + 1, spec)) goto done;
    if (o.csv && write_csv(o.csv, &o, acc)) goto done;
    if (o.plot && write_plot(o.plot, &o, acc, d->classes)) goto done;
    rc = 0;
done:
    cn_free(spec);
    cn_data_free(&data);
    cn_checkpoint_free(&ck);
    return rc;
}
