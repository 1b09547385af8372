/* cmd_measure.c: `critnet measure`: sigma, the Lyapunov spectrum, sigma_act and the dynamic range of a
 * trained checkpoint or a freshly initialised network, with JSON, CSV and plots. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "measure_aval.h"
#include "measure_jac.h"
#include "plot.h"

static const char *usage =
    "usage: critnet measure [--model DIR/model.cnm | model flags] [options]\n"
    "Measures how close a network's dynamics are to criticality (docs/criticality-measures.md):\n"
    "branching parameter sigma (critical at 1), Lyapunov spectrum and lambda_0 (critical at 0),\n"
    "activity branching ratio sigma_act and, with --dynamic-range, the dynamic range Delta.\n"
    "Without --model the network is built from the model flags and initialised with --init/--seed;\n"
    "then the mean-field prediction is reported too where it applies (an MLP with --init normal or kaiming).\n"
    "  --model FILE            a checkpoint written by critnet train, or an ONNX model (FILE.onnx)\n"
    "  --blocks T,T,...        ONNX: the tensors (or nodes) that end blocks, instead of the default rule\n"
    "  --max-bytes N           ONNX: refuse larger files (default 2 GiB - 1)\n"
    "  --samples N             evaluation inputs: the first N of the split (default 1000)\n"
    "  --split test|train      (default test)\n"
    "  --probes M              Gaussian probes per block for sigma (default 8; 0: skip sigma)\n"
    "  --spectrum K            number of Lyapunov exponents (default 1: lambda_0 only; 0: none)\n"
    "  --layers hidden|all     leave out (default) or include the readout block\n"
    "  --batch N               inputs per pass (default 100, 8 for ONNX models; memory does not grow with\n"
    "                          --samples)\n"
    "  --dynamic-range         also measure Delta (which does not find criticality on random networks:\n"
    "                          docs/phase.md)\n"
    "  --dr-points N --dr-smin S --dr-smax S   stimulus grid (60 points over [1e-4, 1e2])\n"
    "  --stimulus additive|contrast   x + s|x|u (default) or s x\n"
    "  --response R            tv: softmax total variation (default); activity: RMS activity of a block;\n"
    "                          hidden: RMS distance of its hidden state from the reference's; hidden-rel:\n"
    "                          that distance over the reference's RMS activity; driven: RMS activity of a\n"
    "                          block when noise of RMS s enters every block (Kinouchi & Copelli's drive)\n"
    "                          (docs/phase.md)\n"
    "  --dr-block L            block for --response activity (default: the last measured)\n"
    "  --json FILE             everything, with the settings to rerun it\n"
    "  --csv FILE              the per-block profile\n"
    "  --plot DIR              sigma_profile.png, spectrum.png, dynamic_range.png, jacobian_spectrum.png with\n"
    "                          --jacobian-spectrum, and with --avalanches\n"
    "                          avalanche_sizes.png, avalanche_durations.png, avalanche_crackling.png,\n"
    "                          avalanche_shapes.png\n"
    "(measure defaults to --threads 1, which was faster than 2 for it: bench/results/spectrum.md)\n" CLI_AVAL_HELP
    CLI_AB_HELP CLI_JAC_HELP
    CLI_COMMON_HELP;

enum { O_MODEL = 2000, O_SAMPLES, O_SPLIT, O_PROBES, O_SPECTRUM, O_LAYERS, O_BATCH, O_DR, O_DRN, O_DRMIN, O_DRMAX,
       O_STIM, O_RESP, O_DRBLOCK, O_JSON, O_CSV, O_PLOT, O_BLOCKS, O_MAXBYTES };

typedef struct {
    cli_common c;
    cn_measure_cfg m;
    const char *model, *split, *json, *csv, *plot;
    int samples, batch_set;
    cli_model_opts mo;
    cli_aval_opts aval;
    cli_ab_opts ab;
    cli_jac_opts jac;
} measure_opts;

static void progress(double done, double total, void *user)
{
    static double t0 = 0;
    if (t0 == 0) t0 = cli_now();
    cli_progress_bar(user, "measuring", done, total, cli_now() - t0, NULL);
}

static int parse(measure_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        CLI_COMMON_OPTIONS, {"model", required_argument, 0, O_MODEL}, {"samples", required_argument, 0, O_SAMPLES},
        {"split", required_argument, 0, O_SPLIT}, {"probes", required_argument, 0, O_PROBES},
        {"spectrum", required_argument, 0, O_SPECTRUM}, {"layers", required_argument, 0, O_LAYERS},
        {"batch", required_argument, 0, O_BATCH}, {"dynamic-range", no_argument, 0, O_DR},
        {"dr-points", required_argument, 0, O_DRN}, {"dr-smin", required_argument, 0, O_DRMIN},
        {"dr-smax", required_argument, 0, O_DRMAX}, {"stimulus", required_argument, 0, O_STIM},
        {"response", required_argument, 0, O_RESP}, {"dr-block", required_argument, 0, O_DRBLOCK},
        {"json", required_argument, 0, O_JSON}, {"csv", required_argument, 0, O_CSV},
        {"plot", required_argument, 0, O_PLOT}, {"blocks", required_argument, 0, O_BLOCKS},
        {"max-bytes", required_argument, 0, O_MAXBYTES}, CLI_AVAL_OPTIONS, CLI_AB_OPTIONS, CLI_JAC_OPTIONS, {0, 0, 0, 0}};
    optind = 0;
    int opt;
    int li = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, &li)) != -1) {
        int r = cli_common_option(&o->c, opt, optarg), bad = 0;
        if (r == 0) r = cli_aval_option(&o->aval, opt, optarg);
        if (r == 0) r = cli_ab_option(&o->ab, opt, optarg);
        if (r == 0) r = cli_jac_option(&o->jac, opt, optarg);
        if (r < 0) return -1;
        if (r > 0) continue;
        cn_measure_cfg *m = &o->m;
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_MODEL: o->model = optarg; break;
        case O_SAMPLES: bad = cli_parse_int("samples", optarg, 1, 1 << 30, &o->samples); break;
        case O_SPLIT: bad = cli_parse_split(optarg, &o->split); break;
        case O_PROBES: bad = cli_parse_int("probes", optarg, 0, 100000, &m->probes); break;
        case O_SPECTRUM: bad = cli_parse_int("spectrum", optarg, 0, 1 << 20, &m->spectrum); break;
        case O_LAYERS:
            if (!strcmp(optarg, "all")) m->include_readout = 1;
            else if (!strcmp(optarg, "hidden")) m->include_readout = 0;
            else bad = 1, cli_error("--layers %s: expected hidden or all", optarg);
            break;
        case O_BATCH: bad = cli_parse_int("batch", optarg, 1, 1 << 20, &m->batch), o->batch_set = 1; break;
        case O_BLOCKS: o->mo.blocks = optarg; break;
        case O_MAXBYTES: bad = cli_parse_size("max-bytes", optarg, &o->mo.max_bytes); break;
        case O_DR: m->dynamic_range = 1; break;
        case O_DRN:
        case O_DRMIN:
        case O_DRMAX:
        case O_STIM:
        case O_RESP: bad = cli_dr_option(&o->m, long_opts[li].name, optarg) < 0; break;
        case O_DRBLOCK: bad = cli_parse_int("dr-block", optarg, 0, 1 << 20, &m->dr_block); break;
        case O_JSON: o->json = optarg; break;
        case O_CSV: o->csv = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        default: fputs(usage, stderr); return -1;
        }
        if (bad) return -1;
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see critnet measure --help)", argv[optind]);
        return -1;
    }
    return cli_dr_check(&o->m) || cli_aval_check(&o->aval) || cli_ab_check(&o->ab) || cli_jac_check(&o->jac) ? -1 : 0;
}

/* The mean-field theory covers a freshly initialised MLP of Gaussian-like weights without normalisation. */
static int mean_field_applies(const measure_opts *o, double *sw, double *sb, cn_act *act)
{
    if (o->model || o->c.model_file || strcmp(o->c.arch, "mlp") || strcmp(o->c.norm, "none") || o->c.dropout > 0)
        return 0;
    cn_init_kind k;
    if (cn_init_from_name(o->c.init, &k)) return 0; /* --init critical: the calibrated net is no longer i.i.d. */
    cn_act_from_name(o->c.act, act);
    if (k == CN_INIT_NORMAL) *sw = o->c.sigma_w, *sb = o->c.sigma_b;
    else if (k == CN_INIT_KAIMING_NORMAL || k == CN_INIT_KAIMING_UNIFORM) *sw = sqrt(2.0), *sb = 0;
    else return 0;
    return 1;
}

static int write_json(const char *path, const measure_opts *o, const cn_measure_result *r, const cn_meanfield *mf,
                      const char *data_name, int argc, char **argv, const char *spec, const cli_aval_result *aval,
                      const cn_jacobian_result *jac, const cli_ab_result *ab)
{
    cJSON *root = cJSON_CreateObject(), *s = cJSON_CreateObject();
    cJSON_AddItemToObject(s, "value", cli_json_num(r->sigma));
    cJSON_AddItemToObject(s, "stderr", cli_json_num(r->sigma_se));
    cJSON_AddItemToObject(s, "per_layer", cli_json_numbers(r->sigma_block, r->nblocks));
    cJSON_AddItemToObject(s, "per_layer_stderr", cli_json_numbers(r->sigma_block_se, r->nblocks));
    /* two distances from criticality: of the geometric mean, and per block (no cancellation) */
    cJSON_AddItemToObject(s, "abs_ln", cli_json_num(fabs(log(r->sigma))));
    cJSON_AddItemToObject(s, "mean_abs_ln_per_block", cli_json_num(r->mean_abs_ln_sigma_block));
    cJSON_AddItemToObject(root, "sigma", s);
    cJSON *lm = cJSON_CreateObject();
    cJSON_AddItemToObject(lm, "value", cli_json_num(r->lambda_max));
    cJSON_AddItemToObject(lm, "stderr", cli_json_num(r->lambda_max_se));
    cJSON_AddItemToObject(root, "lambda_max", lm);
    cJSON_AddItemToObject(root, "lyapunov_spectrum", cli_json_numbers(r->spectrum, r->k));
    cJSON_AddItemToObject(root, "lyapunov_spectrum_stderr", cli_json_numbers(r->spectrum_se, r->k));
    cJSON *local = cJSON_CreateArray();
    for (int l = 0; l < r->nblocks; l++) cJSON_AddItemToArray(local, cli_json_numbers(r->local_exponents + (size_t)l * r->k, r->k));
    cJSON_AddItemToObject(root, "local_exponents", local);
    cJSON_AddNumberToObject(root, "degenerate_directions", (double)r->degenerate);
    cJSON_AddItemToObject(root, "sigma_activity", cli_json_num(r->sigma_act));
    cJSON_AddItemToObject(root, "activity", cli_json_numbers(r->activity, r->nblocks + 1));
    cJSON_AddItemToObject(root, "activity_slope", cli_json_numbers(r->activity_slope, r->nblocks));
    if (o->m.dynamic_range) {
        cJSON *d = cJSON_CreateObject(), *curve = cJSON_CreateArray();
        cJSON_AddItemToObject(d, "delta_db", r->has_dr ? cli_json_num(r->dr.delta_db) : cJSON_CreateNull());
        cJSON_AddBoolToObject(d, "saturated", r->has_dr && r->dr.saturated);
        /* a curve cut off at either end of the stimulus grid: Delta then says more about the grid than the net */
        cJSON_AddBoolToObject(d, "truncated_low", r->has_dr && r->dr.truncated_low);
        cJSON_AddBoolToObject(d, "truncated_high", r->has_dr && !r->dr.saturated);
        cJSON_AddStringToObject(d, "class", r->has_dr ? cn_dynrange_class(&r->dr) : "no-rise");
        cJSON_AddBoolToObject(d, "complete", r->has_dr && cn_dynrange_complete(&r->dr));
        cJSON_AddItemToObject(d, "s10", r->has_dr ? cli_json_num(r->dr.s10) : cJSON_CreateNull());
        cJSON_AddItemToObject(d, "s90", r->has_dr ? cli_json_num(r->dr.s90) : cJSON_CreateNull());
        for (int i = 0; i < r->dr_n; i++) {
            double pt[2] = {r->dr_s[i], r->dr_F[i]};
            cJSON_AddItemToArray(curve, cli_json_numbers(pt, 2));
        }
        cJSON_AddItemToObject(d, "curve", curve);
        cJSON_AddStringToObject(d, "note", "not a distance from criticality: on random networks Delta does not peak "
                                           "on the critical line (docs/phase.md)");
        cJSON_AddItemToObject(root, "dynamic_range", d);
    } else {
        cJSON_AddNullToObject(root, "dynamic_range");
    }
    if (mf) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToObject(m, "q_star", cli_json_num(mf->q_star));
        cJSON_AddItemToObject(m, "chi1", cli_json_num(mf->chi1));
        cJSON_AddItemToObject(m, "xi_c", cli_json_num(mf->xi_c));
        cJSON_AddItemToObject(m, "lambda_pred", cli_json_num(mf->lambda_pred));
        cJSON_AddItemToObject(root, "mean_field", m);
    } else {
        cJSON_AddNullToObject(root, "mean_field");
    }
    cJSON *blocks = cJSON_CreateArray();
    for (int l = 0; l < r->nblocks; l++) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "index", l);
        cJSON_AddStringToObject(b, "name", r->blocks[l].name);
        cJSON_AddNumberToObject(b, "first_layer", r->blocks[l].first);
        cJSON_AddNumberToObject(b, "last_layer", r->blocks[l].last);
        cJSON_AddNumberToObject(b, "units_in", r->blocks[l].n_in);
        cJSON_AddNumberToObject(b, "units", r->blocks[l].n_out);
        cJSON_AddItemToArray(blocks, b);
    }
    cJSON_AddItemToObject(root, "blocks", blocks);
    if (aval) cJSON_AddItemToObject(root, "avalanches", cli_aval_json(aval, &o->aval));
    if (jac) cJSON_AddItemToObject(root, "jacobian", cli_jac_json(jac));
    if (ab) cJSON_AddItemToObject(root, "activity_branching", cli_ab_json(ab, &o->ab, r->sigma));
    cJSON *set = cJSON_CreateObject();
    cJSON_AddItemToObject(set, "argv", cli_json_argv(argc, argv));
    cJSON_AddStringToObject(set, "model", o->model ? o->model : o->c.model_file ? o->c.model_file : o->c.arch);
    cJSON_AddStringToObject(set, "init", o->model ? "checkpoint" : o->c.init);
    cJSON_AddNumberToObject(set, "sigma_w", o->c.sigma_w);
    cJSON_AddNumberToObject(set, "sigma_b", o->c.sigma_b);
    cJSON_AddStringToObject(set, "data", data_name);
    cJSON_AddStringToObject(set, "split", o->split);
    char inputs[96];
    snprintf(inputs, sizeof inputs, "the first %d examples of the %s split", r->inputs, o->split);
    cJSON_AddStringToObject(set, "inputs", inputs);
    cJSON_AddNumberToObject(set, "samples", r->inputs);
    cJSON_AddNumberToObject(set, "seed", (double)o->c.seed);
    cJSON_AddNumberToObject(set, "probes", o->m.probes);
    cJSON_AddNumberToObject(set, "spectrum", o->m.spectrum);
    cJSON_AddStringToObject(set, "layers", o->m.include_readout ? "all" : "hidden");
    cJSON_AddNumberToObject(set, "batch", o->m.batch);
    cJSON_AddNumberToObject(set, "threads", o->c.threads);
    cJSON_AddBoolToObject(set, "standardize", o->c.standardize);
    if (o->m.dynamic_range) {
        cJSON_AddNumberToObject(set, "dr_points", o->m.dr_points);
        cJSON_AddNumberToObject(set, "dr_smin", o->m.dr_smin);
        cJSON_AddNumberToObject(set, "dr_smax", o->m.dr_smax);
        cJSON_AddStringToObject(set, "stimulus", o->m.dr_stimulus == CN_STIM_CONTRAST ? "contrast" : "additive");
        cJSON_AddStringToObject(set, "response", cn_response_name(o->m.dr_response));
    }
    if (spec) cJSON_AddStringToObject(set, "model_spec", spec);
    cJSON_AddStringToObject(set, "critnet_version", CRITNET_VERSION);
    cJSON_AddItemToObject(root, "settings", set);
    return cli_json_write(path, root);
}

/* The per-block profile; with the dynamic range, its Delta and the curve's class (cn_dynrange_class) repeat on
 * every row, so that a table of many runs keeps them beside the blocks. */
static int write_csv(const char *path, const cn_measure_result *r, int dynamic_range)
{
    cli_report rep;
    FILE *f = cli_report_open(&rep, path);
    if (!f) return -1;
    fprintf(f, "block,name,units,sigma,sigma_stderr,abs_ln_sigma,activity");
    for (int j = 0; j < r->k; j++) fprintf(f, ",local_exponent_%d", j + 1);
    if (dynamic_range) fprintf(f, ",delta_db,dr_class");
    fputc('\n', f);
    for (int l = 0; l < r->nblocks; l++) {
        fprintf(f, "%d,%s,%d,%.8g,%.8g,%.8g,%.8g", l + 1, r->blocks[l].name, r->blocks[l].n_out, r->sigma_block[l],
                r->sigma_block_se[l], fabs(log(r->sigma_block[l])), r->activity[l + 1]);
        for (int j = 0; j < r->k; j++) fprintf(f, ",%.8g", r->local_exponents[(size_t)l * r->k + j]);
        if (dynamic_range)
            fprintf(f, ",%.6g,%s", r->has_dr ? r->dr.delta_db : NAN, r->has_dr ? cn_dynrange_class(&r->dr) : "no-rise");
        fputc('\n', f);
    }
    return cli_report_commit(&rep);
}

static int write_plots(const char *dir, const cn_measure_result *r, const cli_aval_result *aval)
{
    if (mkdir(dir, 0777) && errno != EEXIST) {
        cli_error("%s: cannot create the plot folder", dir);
        return -1;
    }
    char path[4096];
    int L = r->nblocks, rc = 0;
    double *idx = malloc(sizeof(double) * (size_t)(L > r->k ? L : r->k) + sizeof(double));
    double *rho1 = malloc(sizeof(double) * (size_t)L + sizeof(double));
    double *lnsig = malloc(sizeof(double) * (size_t)L + sizeof(double));
    for (int i = 0; i < (L > r->k ? L : r->k); i++) idx[i] = i + 1;
    for (int l = 0; l < L; l++) {
        rho1[l] = r->k ? r->local_exponents[(size_t)l * r->k] : NAN;
        lnsig[l] = log(r->sigma_block[l]);
    }
    cli_series prof[2] = {{idx, lnsig, L, "ln sigma_l", 1}, {idx, rho1, L, "local exponent rho_1", 1}};
    cli_plot_opts po = {"Per-block profile (critical at 0)", "block", "ln sigma_l, rho_1", 0, 0};
    snprintf(path, sizeof path, "%s/sigma_profile.png", dir);
    rc |= cli_plot_lines(path, &po, prof, r->k ? 2 : 1);
    if (r->k) {
        cli_series sp = {idx, r->spectrum, r->k, NULL, 1};
        cli_plot_opts so = {"Lyapunov spectrum (mean over inputs)", "i", "lambda_i", 0, 0};
        snprintf(path, sizeof path, "%s/spectrum.png", dir);
        rc |= cli_plot_lines(path, &so, &sp, 1);
    }
    if (r->dr_n) {
        cli_series d = {r->dr_s, r->dr_F, r->dr_n, NULL, 1};
        char title[128];
        if (r->has_dr) snprintf(title, sizeof title, "Response curve: Delta = %.1f dB%s", r->dr.delta_db, r->dr.saturated ? "" : " (not saturated)");
        else snprintf(title, sizeof title, "Response curve (no rise: Delta undefined)");
        cli_plot_opts dop = {title, "stimulus s", "response F(s)", 1, NAN};
        snprintf(path, sizeof path, "%s/dynamic_range.png", dir);
        rc |= cli_plot_lines(path, &dop, &d, 1);
    }
    free(idx);
    free(rho1);
    free(lnsig);
    if (aval) rc |= cli_aval_plots(dir, aval);
    return rc ? -1 : 0;
}

static void print_summary(const measure_opts *o, const cn_measure_result *r, const cn_meanfield *mf, const char *what,
                          const char *data_name)
{
    printf("critnet measure: %s, %d blocks, on %d %s inputs of %s\n", what, r->nblocks, r->inputs, o->split, data_name);
    printf("  sigma       %9.4f +- %.4f   (critical at 1; ln sigma = %+.4f)\n", r->sigma, r->sigma_se, log(r->sigma));
    printf("  distance    |ln sigma| %.4f, mean over blocks of |ln sigma_l| %.4f\n", fabs(log(r->sigma)),
           r->mean_abs_ln_sigma_block);
    if (r->k) {
        printf("  lambda_0    %+9.4f +- %.4f   (critical at 0)\n", r->lambda_max, r->lambda_max_se);
        if (r->k > 1) {
            printf("  spectrum   ");
            for (int j = 0; j < r->k && j < 8; j++) printf(" %+.4f", r->spectrum[j]);
            printf(r->k > 8 ? " ... %+.4f\n" : "\n", r->spectrum[r->k - 1]);
        }
        if (r->degenerate) printf("  note: %ld collapsed directions (R_ii = 0) floored at ln 1e-38\n", r->degenerate);
    }
    printf("  sigma_act   %9.4f\n", r->sigma_act);
    if (o->m.dynamic_range) {
        if (r->has_dr)
            printf("  Delta       %9.2f dB  (s10 %.3g, s90 %.3g%s%s)\n", r->dr.delta_db, r->dr.s10, r->dr.s90,
                   r->dr.saturated ? "" : "; F has NOT saturated by s_max",
                   r->dr.truncated_low ? "; F is still rising at s_min: cut off at the low end" : "");
        else printf("  Delta       undefined: the response does not rise over the stimulus range\n");
        if (r->has_dr) printf("              curve: %s%s\n", cn_dynrange_class(&r->dr),
                              cn_dynrange_complete(&r->dr) ? "" : " (reports that pool Delta leave this one out)");
        printf("%s\n", cli_dr_caution);
    }
    if (mf)
        printf("  mean field  q* %.4g  chi1 %.4f  xi_c %.3g  lambda_pred %+.4f\n", mf->q_star, mf->chi1, mf->xi_c,
               mf->lambda_pred);
    /* an imported model's blocks are named by the tensors that end them, too long for a column: last */
    printf("  block      units    sigma_l    rho_1  name\n");
    for (int l = 0; l < r->nblocks; l++)
        printf("  %5d  %9d  %9.4f  %+8.4f  %s\n", l + 1, r->blocks[l].n_out, r->sigma_block[l],
               r->k ? r->local_exponents[(size_t)l * r->k] : NAN, r->blocks[l].name);
}

int cmd_measure(int argc, char **argv)
{
    measure_opts o;
    memset(&o, 0, sizeof o);
    cli_common_defaults(&o.c);
    /* unlike training, measuring ran slower on 2 threads than on 1 here: its many small QRs and
     * element-wise loops share the cores with OpenBLAS's spinning threads (bench/results/spectrum.md) */
    o.c.threads = 1;
    cn_measure_defaults(&o.m);
    cli_aval_defaults(&o.aval);
    cli_ab_defaults(&o.ab);
    o.split = "test";
    o.samples = 1000;
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    cn_set_threads(o.c.threads);
    cn_error err = {0};
    cn_net *net = NULL;
    cn_data data = {0};
    cn_measure_result res = {0};
    cli_aval_result ar = {0};
    cli_ab_result abr = {0};
    cn_jacobian_result jr = {0};
    char *spec = NULL;
    int rc = 1;
    if (o.model) {
        if (cli_load_model(&net, o.model, &o.mo)) return 1;
        cli_image_defaults_for(&o.c, net);
        /* an ImageNet model keeps every intermediate tensor of a batch for the jvps: 8 at a time fit easily */
        if (cli_is_onnx_net(net) && !o.batch_set) o.m.batch = 8;
    }
    if (strcmp(o.split, "test") == 0) o.c.image_limit = o.samples; /* images: only those measured are decoded */
    if (cli_load_data(&data, &o.c)) goto done;
    const cn_dataset *d = cli_split(&data, o.split);
    if (o.model) {
        if (cn_net_in_size(net) != d->c * d->h * d->w) {
            cli_error("%s takes %d inputs, but %s has %d per example", o.model, cn_net_in_size(net), data.name,
                      d->c * d->h * d->w);
            goto done;
        }
    } else {
        if (cli_build_net(&net, &o.c, d)) goto done;
        cn_rng *rng = cn_rng_new(o.c.seed);
        /* --init critical calibrates on the training inputs where there are any, so that the measured split
         * (the test inputs by default) is not the one the gains were fitted on */
        int irc = rng ? cli_init_net(net, &o.c, data.train.count ? &data.train : d, rng, NULL) : -1;
        cn_rng_free(rng);
        if (irc) {
            if (!rng) cli_error("out of memory");
            goto done;
        }
    }
    int n = o.samples < d->count ? o.samples : d->count;
    cli_progress prog;
    cli_progress_init(&prog, o.c.quiet);
    o.m.seed = o.c.seed + 1; /* the probes draw from their own stream, apart from the initialisation's */
    o.m.progress = progress;
    o.m.user = &prog;
    if (cn_measure(net, d->x, n, &o.m, &res, &err)) {
        cli_progress_end(&prog);
        cli_error("%s", err.msg);
        goto done;
    }
    cli_progress_end(&prog);
    cn_meanfield mf;
    double sw, sb;
    cn_act act;
    int have_mf = mean_field_applies(&o, &sw, &sb, &act) && cn_meanfield_compute(&mf, act, sw, sb, res.activity[0]) == CN_OK;
    const char *what = o.model ? o.model : o.c.model_file ? o.c.model_file : o.c.arch;
    /* the cascades draw their seed units from a stream of their own */
    if (o.aval.on && cli_aval_run(&ar, &o.aval, net, d->x, n, o.c.seed + 3, o.c.quiet)) goto done;
    const cli_aval_result *aval = o.aval.on ? &ar : NULL;
    /* the bootstrap of the activity's branching ratio draws from its own stream too */
    if (o.ab.on && cli_ab_run(&abr, &o.ab, net, d->x, n, o.m.include_readout, o.c.seed + 5)) goto done;
    const cli_ab_result *ab = o.ab.on ? &abr : NULL;
    if (o.jac.on && cli_jac_run(&jr, &o.jac, net, d->x, n, o.m.include_readout)) goto done;
    const cn_jacobian_result *jac = o.jac.on ? &jr : NULL;
    if (!o.c.quiet) print_summary(&o, &res, have_mf ? &mf : NULL, what, data.name);
    if (!o.c.quiet && aval) cli_aval_print(aval, &o.aval);
    if (!o.c.quiet && ab) cli_ab_print(ab, &o.ab, res.sigma);
    if (!o.c.quiet && jac) cli_jac_print(jac);
    spec = cn_net_spec(net);
    if (o.json && write_json(o.json, &o, &res, have_mf ? &mf : NULL, data.name, argc - 1, argv + 1, spec, aval, jac, ab)) goto done;
    if (o.csv && write_csv(o.csv, &res, o.m.dynamic_range)) goto done;
    if (o.aval.csv && cli_aval_write_csv(o.aval.csv, &ar)) goto done;
    if (o.ab.csv && cli_ab_write_csv(o.ab.csv, &abr)) goto done;
    if (o.jac.csv && cli_jac_write_csv(o.jac.csv, &jr)) goto done;
    if (o.plot && write_plots(o.plot, &res, aval)) goto done;
    if (o.plot && jac && cli_jac_plot(o.plot, jac)) goto done;
    rc = 0;
done:
    cn_free(spec);
    cli_aval_free(&ar);
    cli_ab_free(&abr);
    cn_jacobian_result_free(&jr);
    cn_measure_result_free(&res);
    cn_net_free(net);
    cn_data_free(&data);
    return rc;
}
