/* cmd_phase.c: `critnet phase`: the phase diagram of random networks over a grid of sigma_w, sigma_b and
 * depth: measured sigma, lambda_0, Delta and correlation length xi beside the mean-field q*, chi1 and xi_c,
 * as CSV, JSON and heatmaps with the mean-field critical line chi1 = 1 drawn over them. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "plot.h"

static const char *usage =
    "usage: critnet phase [--act A] [--arch mlp|cnn|resnet] [--sigma-w LO:HI:N] [--sigma-b LO:HI:N]\n"
    "                     [--depth D,D,...] [--width W] [options] [--out DIR | --csv F --json F --plot DIR]\n"
    "The phase diagram of random networks, W ~ N(0, sigma_w^2/fan_in), b ~ N(0, sigma_b^2), on Gaussian inputs\n"
    "(docs/phase.md). At each grid point: sigma, lambda_0, the dynamic range Delta and the correlation length\n"
    "xi (the decay of the correlation of two inputs through depth, |c_l - c*| ~ exp(-l/xi)) beside the\n"
    "mean-field q*, chi1 and xi_c = -1/ln chi1 (an MLP without normalisation). Every point draws the same\n"
    "weights, scaled (common random numbers), so measures vary smoothly across the grid.\n"
    "  --act A                 identity relu leaky_relu tanh sigmoid gelu silu elu (default tanh)\n"
    "  --arch mlp|cnn|resnet   architecture (default mlp; cnn and resnet on 3x16x16 inputs)\n"
    "  --norm none|batch|layer normalisation (default none)\n"
    "  --sigma-w LO:HI:N       N values evenly over [LO, HI], or one value (default 0.5:2.5:9)\n"
    "  --sigma-b LO:HI:N       (default 0.05)\n"
    "  --depth D,D,...         hidden layers (mlp), stages (cnn) or blocks per stage (resnet) (default 20)\n"
    "  --width W               hidden units / channels (default 256)\n"
    "  --samples N             Gaussian inputs for sigma, lambda_0 and Delta (default 20)\n"
    "  --draws N               independent networks per point, pooled (default 1)\n"
    "  --inputs fixed-point|unit  mean square of the inputs: at the length map's fixed point, so that every\n"
    "                          layer is at q* (default where the mean field applies), or 1\n"
    "  --probes M              probes per block for sigma (default 4)\n"
    "  --pairs N               input pairs for xi (default 8; 0: no xi)\n"
    "  --c0 C                  the pairs' initial cosine (default 0.999)\n"
    "  --skip K                blocks left out at the start of the xi fit (default 2)\n"
    "  --no-dynamic-range      skip Delta (the slowest part: one forward pass per stimulus level)\n"
    "  --dr-points N --dr-smin S --dr-smax S   stimulus grid (default 30 points over [1e-4, 1e2])\n"
    "  --stimulus additive|contrast  --response tv|activity|hidden|hidden-rel|driven\n                          as in critnet measure\n"
    "  --out DIR               phase.csv, phase.json and the heatmaps in DIR\n"
    "  --csv FILE --json FILE --plot DIR   each separately\n"
    "  --seed S --threads N --quiet\n";

enum { O_ACT = 2000, O_ARCH, O_NORM, O_SW, O_SB, O_DEPTH, O_WIDTH, O_SAMPLES, O_DRAWS, O_INPUTS, O_PROBES, O_PAIRS,
       O_C0, O_SKIP, O_NODR, O_DRN, O_DRMIN, O_DRMAX, O_STIM, O_RESP, O_OUT, O_CSV, O_JSON, O_PLOT, O_SEED,
       O_THREADS, O_QUIET };

#define MAX_DEPTHS 64
#define CRIT_LINE 20 /* segments of the drawn critical line (each point a bisection: 0.1 s) */

typedef struct {
    double lo, hi;
    int n;
} grid;

typedef struct {
    cn_phase_cfg p;
    grid sw, sb;
    int depths[MAX_DEPTHS], ndepth, fixed_point, threads, quiet;
    const char *act_name, *out, *csv, *json, *plot;
} phase_opts;

typedef struct {
    int depth;
    double sigma_w, sigma_b, sigma_w_crit, input_q;
    cn_phase_point r;
} phase_row;

static double grid_at(const grid *g, int i) { return g->n == 1 ? g->lo : g->lo + (g->hi - g->lo) * i / (g->n - 1); }

static int parse_grid(const char *name, const char *arg, grid *g)
{
    return cli_parse_sweep(name, arg, 0, 1e6, 100000, 1, &g->lo, &g->hi, &g->n);
}

static int parse_depths(const char *arg, phase_opts *o)
{
    return cli_parse_int_list("depth", arg, 1, 100000, MAX_DEPTHS, o->depths, &o->ndepth);
}

static int parse(phase_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"act", required_argument, 0, O_ACT}, {"arch", required_argument, 0, O_ARCH},
        {"norm", required_argument, 0, O_NORM}, {"sigma-w", required_argument, 0, O_SW},
        {"sigma-b", required_argument, 0, O_SB}, {"depth", required_argument, 0, O_DEPTH},
        {"width", required_argument, 0, O_WIDTH}, {"samples", required_argument, 0, O_SAMPLES},
        {"draws", required_argument, 0, O_DRAWS}, {"inputs", required_argument, 0, O_INPUTS},
        {"probes", required_argument, 0, O_PROBES}, {"pairs", required_argument, 0, O_PAIRS},
        {"c0", required_argument, 0, O_C0}, {"skip", required_argument, 0, O_SKIP},
        {"no-dynamic-range", no_argument, 0, O_NODR}, {"dr-points", required_argument, 0, O_DRN},
        {"dr-smin", required_argument, 0, O_DRMIN}, {"dr-smax", required_argument, 0, O_DRMAX},
        {"stimulus", required_argument, 0, O_STIM}, {"response", required_argument, 0, O_RESP},
        {"out", required_argument, 0, O_OUT}, {"csv", required_argument, 0, O_CSV},
        {"json", required_argument, 0, O_JSON}, {"plot", required_argument, 0, O_PLOT},
        {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
        {"quiet", no_argument, 0, O_QUIET}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cn_phase_cfg *p = &o->p;
    optind = 0;
    int opt;
    int li = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, &li)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_ACT:
            if ((bad = cn_act_from_name(optarg, &p->arch.act) != CN_OK))
                cli_error("--act %s: expected identity relu leaky_relu tanh sigmoid gelu silu elu", optarg);
            o->act_name = optarg;
            break;
        case O_ARCH:
            if ((bad = strcmp(optarg, "mlp") && strcmp(optarg, "cnn") && strcmp(optarg, "resnet")))
                cli_error("--arch %s: expected mlp, cnn or resnet", optarg);
            p->arch.arch = optarg;
            break;
        case O_NORM:
            if ((bad = strcmp(optarg, "none") && strcmp(optarg, "batch") && strcmp(optarg, "layer")))
                cli_error("--norm %s: expected none, batch or layer", optarg);
            p->arch.norm = optarg;
            break;
        case O_SW: bad = parse_grid("sigma-w", optarg, &o->sw); break;
        case O_SB: bad = parse_grid("sigma-b", optarg, &o->sb); break;
        case O_DEPTH: bad = parse_depths(optarg, o); break;
        case O_WIDTH: bad = cli_parse_int("width", optarg, 1, 1000000, &p->arch.width); break;
        case O_SAMPLES: bad = cli_parse_int("samples", optarg, 1, 1 << 24, &p->samples); break;
        case O_DRAWS: bad = cli_parse_int("draws", optarg, 1, 10000, &p->draws); break;
        case O_INPUTS:
            if ((bad = strcmp(optarg, "fixed-point") && strcmp(optarg, "unit")))
                cli_error("--inputs %s: expected fixed-point or unit", optarg);
            o->fixed_point = !strcmp(optarg, "fixed-point");
            break;
        case O_PROBES: bad = cli_parse_int("probes", optarg, 0, 100000, &p->m.probes); break;
        case O_PAIRS: bad = cli_parse_int("pairs", optarg, 0, 1 << 20, &p->corr.pairs); break;
        case O_C0: bad = cli_parse_real("c0", optarg, -0.999999, 0.999999999, &p->corr.c0); break;
        case O_SKIP: bad = cli_parse_int("skip", optarg, 0, 100000, &p->corr.skip); break;
        case O_NODR: p->m.dynamic_range = 0; break;
        case O_DRN:
        case O_DRMIN:
        case O_DRMAX:
        case O_STIM:
        case O_RESP: bad = cli_dr_option(&p->m, long_opts[li].name, optarg) < 0; break;
        case O_OUT: o->out = optarg; break;
        case O_CSV: o->csv = optarg; break;
        case O_JSON: o->json = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        case O_SEED: bad = cli_parse_u64("seed", optarg, &p->seed); break;
        case O_THREADS: bad = cli_parse_int("threads", optarg, 1, 256, &o->threads); break;
        case O_QUIET: o->quiet = 1; break;
        default: fputs(usage, stderr); return -1;
        }
        if (bad) return -1;
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see critnet phase --help)", argv[optind]);
        return -1;
    }
    return cli_dr_check(&p->m);
}

static int mean_field_applies(const cn_phase_cfg *p) { return !strcmp(p->arch.arch, "mlp") && !strcmp(p->arch.norm, "none"); }

/* the mean-field critical sigma_w at sigma_b, NAN where chi1 does not cross 1 in [0.1, 10] */
static double critical_sw(cn_act act, double sigma_b)
{
    double sw;
    return cn_meanfield_critical_sigma_w(&sw, act, sigma_b, 0.1, 10) == CN_OK ? sw : NAN;
}

static void progress_show(cli_progress *pr, int done, int total, double t0, const phase_row *last)
{
    char extra[96] = "";
    if (last)
        snprintf(extra, sizeof extra, "depth %d sigma_w %.3g sigma_b %.3g: lambda_0 %+.3f", last->depth, last->sigma_w,
                 last->sigma_b, last->r.lambda0);
    cli_progress_bar(pr, "phase", done, total, cli_now() - t0, extra);
}

static const char *csv_header =
    "depth,sigma_b,sigma_w,sigma_w_critical,input_q,sigma,sigma_stderr,ln_sigma,lambda0,lambda0_stderr,delta_db,"
    "dr_s10,dr_s90,dr_saturated,dr_truncated_low,xi,xi_stderr,c_star,c_last,q_star,chi1,xi_c,lambda_pred,"
    "delta_db_raw,dr_class,abs_ln_sigma,mean_abs_ln_sigma_block\n";

typedef struct {
    int high, low, both, norise; /* not saturated only, cut at s_min only, both, no Delta at all */
} phase_dr_count;

static phase_dr_count phase_dr_counts(const phase_row *rows, int n)
{
    phase_dr_count c = {0};
    for (int i = 0; i < n; i++) {
        const cn_phase_point *r = &rows[i].r;
        if (!r->has_dr) c.norise++;
        else if (!r->dr.saturated && r->dr.truncated_low) c.both++;
        else if (!r->dr.saturated) c.high++;
        else if (r->dr.truncated_low) c.low++;
    }
    return c;
}

/* Delta where its curve is complete (cn_dynrange_complete), else NaN: the heatmap, the lines and the CSV's
 * delta_db leave out curves cut off by the stimulus grid (delta_db_raw keeps every value) */
static double delta_kept(const cn_phase_point *r) { return r->has_dr && cn_dynrange_complete(&r->dr) ? r->dr.delta_db : NAN; }

static int write_csv(const char *path, const phase_row *rows, int n)
{
    cli_report rep;
    FILE *f = cli_report_open(&rep, path);
    if (!f) return -1;
    fputs(csv_header, f);
    for (int i = 0; i < n; i++) {
        const phase_row *w = &rows[i];
        const cn_phase_point *r = &w->r;
        double nan = NAN;
        fprintf(f, "%d,%.6g,%.6g,%.8g,%.8g,%.8g,%.4g,%.8g,%.8g,%.4g,%.6g,%.6g,%.6g,%d,%d,%.6g,%.4g,%.10g,%.10g,%.8g,%.8g,%.6g,%.8g,"
                   "%.6g,%s,%.8g,%.8g\n",
                w->depth, w->sigma_b, w->sigma_w, w->sigma_w_crit, w->input_q, r->sigma, r->sigma_se, log(r->sigma),
                r->lambda0, r->lambda0_se, delta_kept(r), r->has_dr ? r->dr.s10 : nan,
                r->has_dr ? r->dr.s90 : nan, r->has_dr && r->dr.saturated, r->has_dr && r->dr.truncated_low, r->xi, r->xi_se, r->c_star, r->c_last,
                r->has_mf ? r->mf.q_star : nan, r->has_mf ? r->mf.chi1 : nan, r->has_mf ? r->mf.xi_c : nan,
                r->has_mf ? r->mf.lambda_pred : nan, r->has_dr ? r->dr.delta_db : nan,
                r->has_dr ? cn_dynrange_class(&r->dr) : "no-rise", fabs(log(r->sigma)), r->mean_abs_ln_sigma_block);
    }
    return cli_report_commit(&rep);
}

static cJSON *dr_json(const cn_phase_point *r)
{
    if (!r->has_dr) return cJSON_CreateNull();
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "delta_db", cli_json_num(r->dr.delta_db));
    cJSON_AddItemToObject(d, "s10", cli_json_num(r->dr.s10));
    cJSON_AddItemToObject(d, "s90", cli_json_num(r->dr.s90));
    cJSON_AddBoolToObject(d, "saturated", r->dr.saturated);
    cJSON_AddBoolToObject(d, "truncated_low", r->dr.truncated_low);
    cJSON_AddBoolToObject(d, "truncated_high", !r->dr.saturated);
    cJSON_AddStringToObject(d, "class", cn_dynrange_class(&r->dr));
    cJSON_AddBoolToObject(d, "complete", cn_dynrange_complete(&r->dr));
    return d;
}

static int write_json(const char *path, const phase_opts *o, const phase_row *rows, int n, int argc, char **argv)
{
    cJSON *root = cJSON_CreateObject(), *set = cJSON_CreateObject(), *pts = cJSON_CreateArray();
    const cn_phase_cfg *p = &o->p;
    cJSON_AddItemToObject(set, "argv", cli_json_argv(argc, argv));
    cJSON_AddStringToObject(set, "act", cn_act_name(p->arch.act));
    cJSON_AddStringToObject(set, "arch", p->arch.arch);
    cJSON_AddStringToObject(set, "norm", p->arch.norm);
    cJSON_AddNumberToObject(set, "width", p->arch.width);
    cJSON_AddItemToObject(set, "depths", cJSON_CreateIntArray(o->depths, o->ndepth));
    cJSON_AddNumberToObject(set, "samples", p->samples);
    cJSON_AddNumberToObject(set, "draws", p->draws);
    cJSON_AddStringToObject(set, "inputs", o->fixed_point ? "fixed-point" : "unit");
    cJSON_AddNumberToObject(set, "probes", p->m.probes);
    cJSON_AddNumberToObject(set, "pairs", p->corr.pairs);
    cJSON_AddNumberToObject(set, "c0", p->corr.c0);
    cJSON_AddNumberToObject(set, "skip", p->corr.skip);
    cJSON_AddBoolToObject(set, "dynamic_range", p->m.dynamic_range);
    if (p->m.dynamic_range) {
        cJSON_AddNumberToObject(set, "dr_points", p->m.dr_points);
        cJSON_AddNumberToObject(set, "dr_smin", p->m.dr_smin);
        cJSON_AddNumberToObject(set, "dr_smax", p->m.dr_smax);
        cJSON_AddStringToObject(set, "stimulus", p->m.dr_stimulus == CN_STIM_CONTRAST ? "contrast" : "additive");
        cJSON_AddStringToObject(set, "response", cn_response_name(p->m.dr_response));
    }
    cJSON_AddNumberToObject(set, "seed", (double)p->seed);
    cJSON_AddNumberToObject(set, "threads", o->threads);
    cJSON_AddStringToObject(set, "critnet_version", CRITNET_VERSION);
    cJSON_AddItemToObject(root, "settings", set);
    for (int i = 0; i < n; i++) {
        const phase_row *w = &rows[i];
        const cn_phase_point *r = &w->r;
        cJSON *o2 = cJSON_CreateObject();
        cJSON_AddNumberToObject(o2, "depth", w->depth);
        cJSON_AddItemToObject(o2, "sigma_b", cli_json_num(w->sigma_b));
        cJSON_AddItemToObject(o2, "sigma_w", cli_json_num(w->sigma_w));
        cJSON_AddItemToObject(o2, "sigma_w_critical", cli_json_num(w->sigma_w_crit));
        cJSON_AddItemToObject(o2, "input_q", cli_json_num(w->input_q));
        cJSON_AddItemToObject(o2, "sigma", cli_json_num(r->sigma));
        cJSON_AddItemToObject(o2, "sigma_stderr", cli_json_num(r->sigma_se));
        cJSON_AddItemToObject(o2, "abs_ln_sigma", cli_json_num(fabs(log(r->sigma))));
        cJSON_AddItemToObject(o2, "mean_abs_ln_sigma_block", cli_json_num(r->mean_abs_ln_sigma_block));
        cJSON_AddItemToObject(o2, "lambda0", cli_json_num(r->lambda0));
        cJSON_AddItemToObject(o2, "lambda0_stderr", cli_json_num(r->lambda0_se));
        cJSON_AddItemToObject(o2, "dynamic_range", dr_json(r));
        cJSON_AddItemToObject(o2, "xi", cli_json_num(r->xi));
        cJSON_AddItemToObject(o2, "xi_stderr", cli_json_num(r->xi_se));
        cJSON_AddItemToObject(o2, "c_star", cli_json_num(r->c_star));
        cJSON_AddItemToObject(o2, "c_last", cli_json_num(r->c_last));
        if (r->has_mf) {
            cJSON *m = cJSON_CreateObject();
            cJSON_AddItemToObject(m, "q_star", cli_json_num(r->mf.q_star));
            cJSON_AddItemToObject(m, "chi1", cli_json_num(r->mf.chi1));
            cJSON_AddItemToObject(m, "xi_c", cli_json_num(r->mf.xi_c));
            cJSON_AddItemToObject(m, "lambda_pred", cli_json_num(r->mf.lambda_pred));
            cJSON_AddItemToObject(o2, "mean_field", m);
        } else {
            cJSON_AddNullToObject(o2, "mean_field");
        }
        cJSON_AddItemToArray(pts, o2);
    }
    cJSON_AddItemToObject(root, "points", pts);
    return cli_json_write(path, root);
}

/* One heatmap per measure and depth, over (sigma_w, sigma_b), the critical line over it; and Delta against
 * sigma_w, a line per sigma_b, with the critical sigma_w marked. */
static int write_plots(const char *dir, const phase_opts *o, const phase_row *rows)
{
    if (cli_make_dir(dir)) {
        cli_error("%s: cannot create the plot folder: %s", dir, strerror(errno));
        return -1;
    }
    int nx = o->sw.n, ny = o->sb.n, rc = 0, ncrit = 0;
    double *x = malloc(sizeof(double) * (size_t)nx), *y = malloc(sizeof(double) * (size_t)ny);
    double *z = malloc(sizeof(double) * (size_t)nx * ny);
    double cx[CRIT_LINE + 1], cy[CRIT_LINE + 1];
    if (!x || !y || !z) {
        cli_error("out of memory");
        rc = -1;
        goto done;
    }
    for (int i = 0; i < nx; i++) x[i] = grid_at(&o->sw, i);
    for (int j = 0; j < ny; j++) y[j] = grid_at(&o->sb, j);
    if (mean_field_applies(&o->p)) /* the critical line, finely, over the sigma_b range of the grid */
        for (int k = 0; k <= CRIT_LINE; k++) {
            double sb = ny > 1 ? y[0] + (y[ny - 1] - y[0]) * k / CRIT_LINE : y[0];
            double sw = critical_sw(o->p.arch.act, sb);
            if (isfinite(sw)) cx[ncrit] = sw, cy[ncrit++] = sb;
            if (ny == 1) { /* a vertical mark across the single row */
                if (ncrit) cx[1] = cx[0], cy[0] = sb - 0.05 * fmax(sb, 1), cy[1] = sb + 0.05 * fmax(sb, 1), ncrit = 2;
                break;
            }
        }
    static const char *names[] = {"ln_sigma", "lambda0", "delta", "xi", "xi_c"};
    static const char *labels[] = {"ln sigma", "lambda_0", "Delta (dB), cut-off curves blank", "xi (layers)",
                                   "xi_c mean field"};
    for (int d = 0; d < o->ndepth; d++) {
        for (int m = 0; m < 5; m++) {
            const phase_row *base = rows + (size_t)d * nx * ny;
            for (int k = 0; k < nx * ny; k++) {
                const cn_phase_point *r = &base[k].r;
                double v = m == 0 ? log(r->sigma) : m == 1 ? r->lambda0 : m == 2 ? delta_kept(r)
                         : m == 3 ? r->xi : (r->has_mf ? r->mf.xi_c : NAN);
                /* xi diverges at the transition: clip it to the depth so that the colours stay readable */
                if (m >= 3 && isfinite(v)) v = fmin(fabs(v), (double)o->depths[d]);
                z[k] = v;
            }
            if (m == 2 && !o->p.m.dynamic_range) continue;
            if (m == 3 && !o->p.corr.pairs) continue;
            if (m == 4 && !mean_field_applies(&o->p)) continue;
            char path[4096], title[160];
            snprintf(path, sizeof path, "%s/%s_d%d.png", dir, names[m], o->depths[d]);
            snprintf(title, sizeof title, "%s %s %s, depth %d, width %d", labels[m], cn_act_name(o->p.arch.act),
                     o->p.arch.arch, o->depths[d], o->p.arch.width);
            cli_plot_opts po = {title, "sigma_w", "sigma_b", 0, NAN};
            rc |= cli_plot_heatmap(path, &po, x, nx, y, ny, z, labels[m], cx, cy, ncrit,
                                   ncrit ? "dashed: mean-field chi1 = 1" : NULL);
        }
        if (o->p.m.dynamic_range && ny <= 8) {
            cli_series s[9];
            char lab[8][32];
            double *dv = z, vx[2], vy[2] = {INFINITY, -INFINITY};
            for (int j = 0; j < ny; j++) {
                for (int i = 0; i < nx; i++) {
                    const cn_phase_point *r = &rows[((size_t)d * ny + j) * nx + i].r;
                    dv[j * nx + i] = delta_kept(r);
                    if (isfinite(dv[j * nx + i])) vy[0] = fmin(vy[0], dv[j * nx + i]), vy[1] = fmax(vy[1], dv[j * nx + i]);
                }
                snprintf(lab[j], sizeof lab[j], "sigma_b %.3g", y[j]);
                s[j] = (cli_series){x, dv + (size_t)j * nx, nx, lab[j], 1};
            }
            int ns = ny;
            double crit = mean_field_applies(&o->p) ? critical_sw(o->p.arch.act, y[0]) : NAN;
            if (isfinite(crit) && isfinite(vy[0])) { /* the critical sigma_w of the first sigma_b, as a vertical line */
                vx[0] = vx[1] = crit;
                s[ns++] = (cli_series){vx, vy, 2, "critical sigma_w (first sigma_b)", 0};
            }
            char path[4096], title[128];
            snprintf(path, sizeof path, "%s/delta_vs_sigma_w_d%d.png", dir, o->depths[d]);
            snprintf(title, sizeof title, "Delta against sigma_w, %s, depth %d", cn_act_name(o->p.arch.act), o->depths[d]);
            cli_plot_opts po = {title, "sigma_w", "Delta (dB)", 0, NAN};
            rc |= cli_plot_lines(path, &po, s, ns);
        }
    }
done:
    free(x);
    free(y);
    free(z);
    return rc ? -1 : 0;
}

static void print_table(const phase_opts *o, const phase_row *rows, int n)
{
    printf("critnet phase: %s %s, width %d, %d inputs, %d draw(s)\n", cn_act_name(o->p.arch.act), o->p.arch.arch,
           o->p.arch.width, o->p.samples, o->p.draws);
    printf("%5s %7s %7s %7s %8s %8s %9s %8s %8s %8s %8s %s\n", "depth", "sig_b", "sig_w", "sw_crit", "ln_sig",
           "|ln s_l|", "lambda0", "Delta", "xi", "xi_c", "chi1", "");
    for (int i = 0; i < n; i++) {
        const phase_row *w = &rows[i];
        const cn_phase_point *r = &w->r;
        int cut = r->has_dr && !cn_dynrange_complete(&r->dr);
        printf("%5d %7.3g %7.4g %7.4g %+8.4f %8.4f %+9.4f %8.2f %8.3g %8.3g %8.4g %s%s%s\n", w->depth, w->sigma_b,
               w->sigma_w, w->sigma_w_crit, log(r->sigma), r->mean_abs_ln_sigma_block, r->lambda0,
               r->has_dr ? r->dr.delta_db : NAN, r->xi, r->has_mf ? r->mf.xi_c : NAN, r->has_mf ? r->mf.chi1 : NAN,
               cut ? "(Delta left out: " : "", cut ? cn_dynrange_class(&r->dr) : "", cut ? ")" : "");
    }
    printf("ln_sig: ln of the geometric mean of sigma; |ln s_l|: the mean over blocks of |ln sigma_l|, in which\n"
           "expanding and contracting blocks do not cancel\n");
    if (!o->p.m.dynamic_range) return;
    phase_dr_count c = phase_dr_counts(rows, n);
    printf("Delta: %d of %d curves left out of the heatmap and the CSV's delta_db (%d not saturated by s_max, %d cut\n"
           "at s_min, %d both, %d with no rise); delta_db_raw and dr_class keep them\n",
           c.high + c.low + c.both + c.norise, n, c.high, c.low, c.both, c.norise);
    puts(cli_dr_caution);
}

int cmd_phase(int argc, char **argv)
{
    phase_opts o;
    memset(&o, 0, sizeof o);
    cn_phase_defaults(&o.p);
    o.p.m.dynamic_range = 1;
    o.p.m.dr_points = 30;
    o.sw = (grid){0.5, 2.5, 9};
    o.sb = (grid){0.05, 0.05, 1};
    o.depths[0] = 20;
    o.ndepth = 1;
    o.fixed_point = -1;
    o.threads = 1;
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    if (o.fixed_point < 0) o.fixed_point = mean_field_applies(&o.p);
    if (o.fixed_point && !mean_field_applies(&o.p)) {
        cli_error("--inputs fixed-point needs the mean field: an MLP without normalisation");
        return 2;
    }
    cn_set_threads(o.threads);
    int is_mlp = !strcmp(o.p.arch.arch, "mlp");
    o.p.arch.in_c = is_mlp ? o.p.arch.width : 3;
    o.p.arch.in_h = o.p.arch.in_w = is_mlp ? 1 : 16;
    char csv[4096], json[4096];
    if (o.out) {
        if (cli_make_dir(o.out)) {
            cli_error("%s: cannot create the folder: %s", o.out, strerror(errno));
            return 1;
        }
        snprintf(csv, sizeof csv, "%s/phase.csv", o.out);
        snprintf(json, sizeof json, "%s/phase.json", o.out);
        o.csv = o.csv ? o.csv : csv;
        o.json = o.json ? o.json : json;
        o.plot = o.plot ? o.plot : o.out;
    }
    int n = o.ndepth * o.sb.n * o.sw.n;
    phase_row *rows = calloc((size_t)n, sizeof *rows);
    if (!rows) {
        cli_error("out of memory for %d grid points", n);
        return 1;
    }
    cli_progress pr;
    cli_progress_init(&pr, o.quiet);
    double t0 = cli_now();
    int rc = 1;
    double *crit = malloc(sizeof(double) * (size_t)o.sb.n); /* the critical sigma_w of each sigma_b, once */
    if (!crit) {
        cli_error("out of memory");
        goto done;
    }
    for (int j = 0; j < o.sb.n; j++) crit[j] = mean_field_applies(&o.p) ? critical_sw(o.p.arch.act, grid_at(&o.sb, j)) : NAN;
    /* the grid in order depth, sigma_b, sigma_w; one point after the other, each bit-identical for a given
     * seed and thread count (the points are not spread over threads: BLAS uses them inside each) */
    for (int k = 0; k < n; k++) {
        phase_row *w = &rows[k];
        int d = k / (o.sb.n * o.sw.n), j = k / o.sw.n % o.sb.n, i = k % o.sw.n;
        cn_phase_cfg p = o.p;
        w->depth = p.arch.depth = o.depths[d];
        w->sigma_b = p.sigma_b = grid_at(&o.sb, j);
        w->sigma_w = p.sigma_w = grid_at(&o.sw, i);
        w->sigma_w_crit = crit[j];
        if (o.fixed_point) {
            /* inputs whose first pre-activations have q_1 = sigma_w^2 q_x + sigma_b^2 = q*; where q* is 0 or
             * diverges, inputs of mean square 1 */
            cn_meanfield mf;
            p.input_q = 1;
            if (cn_meanfield_compute(&mf, p.arch.act, p.sigma_w, p.sigma_b, 1) == CN_OK && isfinite(mf.q_star) &&
                mf.q_star > p.sigma_b * p.sigma_b && p.sigma_w > 0)
                p.input_q = (mf.q_star - p.sigma_b * p.sigma_b) / (p.sigma_w * p.sigma_w);
        }
        w->input_q = p.input_q;
        cn_error err = {0};
        progress_show(&pr, k, n, t0, k ? &rows[k - 1] : NULL);
        if (cn_phase_point_run(&w->r, &p, &err)) {
            cli_progress_end(&pr);
            cli_error("depth %d, sigma_w %g, sigma_b %g: %s", w->depth, w->sigma_w, w->sigma_b, err.msg);
            goto done;
        }
    }
    progress_show(&pr, n, n, t0, &rows[n - 1]);
    cli_progress_end(&pr);
    if (!o.quiet) print_table(&o, rows, n);
    if (o.csv && write_csv(o.csv, rows, n)) goto done;
    if (o.json && write_json(o.json, &o, rows, n, argc - 1, argv + 1)) goto done;
    if (o.plot && write_plots(o.plot, &o, rows)) goto done;
    rc = 0;
done:
    free(crit);
    free(rows);
    return rc;
}
