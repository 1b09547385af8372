/* cmd_theory.c: `critnet theory`: the mean-field prediction for a random MLP (q*, chi1, xi_c, lambda_0)
 * at one sigma_w, over a sweep of sigma_w, or the critical sigma_w where chi1 = 1. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char *usage =
    "usage: critnet theory [--act A] [--sigma-w S] [--sigma-b S] [--q0 Q] [--sweep LO:HI:N] [--critical]\n"
    "                      [--json] [--csv FILE]\n"
    "Mean-field theory of a wide random MLP, W ~ N(0, sigma_w^2/n), b ~ N(0, sigma_b^2) (Poole et al. 2016,\n"
    "Schoenholz et al. 2017; docs/criticality-measures.md section 5): the fixed point q* of the length map,\n"
    "chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2], the correlation depth xi_c = -1/ln chi1 and the predicted\n"
    "largest Lyapunov exponent lambda_0 = 0.5 ln chi1. The phase is ordered (chi1 < 1), chaotic (chi1 > 1)\n"
    "or critical (|ln chi1| < 1e-3). In the chaotic phase xi_c is negative: |xi_c| layers grow a\n"
    "perturbation by e. No network is built and nothing is sampled.\n"
    "  --act A                 identity relu leaky_relu tanh sigmoid gelu silu elu (default relu)\n"
    "  --sigma-w S             weight scale (default 1)\n"
    "  --sigma-b S             bias scale (default 0)\n"
    "  --q0 Q                  length of the input, where the length map starts (default 1)\n"
    "  --sweep LO:HI:N         N values of sigma_w evenly spaced over [LO, HI], as a table\n"
    "  --critical              the sigma_w in [0.1, 10] at which chi1 = 1, for --act and --sigma-b\n"
    "  --json                  print a JSON object instead of text\n"
    "  --csv FILE              also write the point or the sweep as CSV\n";

enum { O_ACT = 2000, O_SW, O_SB, O_Q0, O_SWEEP, O_CRITICAL, O_JSON, O_CSV };

#define CRIT_LO 0.1
#define CRIT_HI 10.0

static const char *phase_name(double chi1)
{
    double l = log(chi1);
    return fabs(l) < 1e-3 ? "critical" : l < 0 ? "ordered" : "chaotic";
}

static void print_json(cJSON *root)
{
    char *text = cJSON_Print(root);
    if (text) puts(text);
    cJSON_free(text);
    cJSON_Delete(root);
}

/* adds the point's fields to o (a new object when o is NULL) */
static cJSON *point_json(cJSON *o, double sigma_w, const cn_meanfield *m)
{
    if (!o) o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "sigma_w", cli_json_num(sigma_w));
    cJSON_AddItemToObject(o, "q_star", cli_json_num(m->q_star));
    cJSON_AddBoolToObject(o, "converged", m->converged);
    cJSON_AddNumberToObject(o, "iterations", m->iterations);
    cJSON_AddItemToObject(o, "chi1", cli_json_num(m->chi1));
    cJSON_AddItemToObject(o, "xi_c", cli_json_num(m->xi_c));
    cJSON_AddItemToObject(o, "lambda_pred", cli_json_num(m->lambda_pred));
    cJSON_AddStringToObject(o, "phase", phase_name(m->chi1));
    return o;
}

static int write_csv(const char *path, const double *sw, const cn_meanfield *m, int n)
{
    cli_report rep;
    FILE *f = cli_report_open(&rep, path);
    if (!f) return -1;
    fprintf(f, "sigma_w,q_star,chi1,xi_c,lambda_pred,converged\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%.10g,%.10g,%.10g,%.10g,%.10g,%d\n", sw[i], m[i].q_star, m[i].chi1, m[i].xi_c, m[i].lambda_pred,
                m[i].converged);
    return cli_report_commit(&rep);
}

static int run_critical(cn_act act, double sigma_b, double q0, int json)
{
    double sw;
    int rc = cn_meanfield_critical_sigma_w(&sw, act, sigma_b, CRIT_LO, CRIT_HI);
    if (rc == CN_ERR_ARG) {
        cli_error("%s at sigma_b %g: chi1 does not cross 1 for sigma_w in [%g, %g] (it may jump across 1 where "
                  "the length map is bistable)", cn_act_name(act), sigma_b, CRIT_LO, CRIT_HI);
        return 1;
    }
    cn_meanfield m;
    if (!rc) rc = cn_meanfield_compute(&m, act, sw, sigma_b, q0);
    if (rc) {
        cli_error("%s", cn_strerror(rc));
        return 1;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "act", cn_act_name(act));
        cJSON_AddItemToObject(root, "sigma_b", cli_json_num(sigma_b));
        cJSON_AddItemToObject(root, "sigma_w_critical", cli_json_num(sw));
        cJSON_AddItemToObject(root, "at_critical", point_json(NULL, sw, &m));
        print_json(root);
    } else {
        printf("critical sigma_w %.6f  (%s, sigma_b %g; bisection on chi1 = 1 over [%g, %g])\n", sw,
               cn_act_name(act), sigma_b, CRIT_LO, CRIT_HI);
        printf("there: q* %.10g, chi1 %.10g\n", m.q_star, m.chi1);
    }
    return 0;
}

static int run_sweep(cn_act act, double sigma_b, double q0, double lo, double hi, int n, int json, const char *csv)
{
    double *sw = malloc((size_t)n * sizeof *sw);
    cn_meanfield *m = malloc((size_t)n * sizeof *m);
    int rc = 1;
    if (!sw || !m) {
        cli_error("out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        sw[i] = n == 1 ? lo : lo + (hi - lo) * i / (n - 1);
        int r = cn_meanfield_compute(&m[i], act, sw[i], sigma_b, q0);
        if (r) {
            cli_error("sigma_w %g: %s", sw[i], cn_strerror(r));
            goto done;
        }
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "act", cn_act_name(act));
        cJSON_AddItemToObject(root, "sigma_b", cli_json_num(sigma_b));
        cJSON_AddItemToObject(root, "q0", cli_json_num(q0));
        cJSON *pts = cJSON_AddArrayToObject(root, "points");
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(pts, point_json(NULL, sw[i], &m[i]));
        print_json(root);
    } else {
        printf("%s, sigma_b %g, q0 %g\n", cn_act_name(act), sigma_b, q0);
        printf("%10s %14s %12s %12s %12s  %s\n", "sigma_w", "q*", "chi1", "xi_c", "lambda_0", "phase");
        for (int i = 0; i < n; i++)
            printf("%10.6g %14.8g %12.8g %12.6g %12.6g  %s%s\n", sw[i], m[i].q_star, m[i].chi1, m[i].xi_c,
                   m[i].lambda_pred, phase_name(m[i].chi1), m[i].converged ? "" : " (q* not converged)");
    }
    rc = csv && write_csv(csv, sw, m, n) ? 1 : 0;
done:
    free(sw);
    free(m);
    return rc;
}

static int run_point(cn_act act, double sigma_w, double sigma_b, double q0, int json, const char *csv)
{
    cn_meanfield m;
    int rc = cn_meanfield_compute(&m, act, sigma_w, sigma_b, q0);
    if (rc) {
        cli_error("%s", cn_strerror(rc));
        return 1;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "act", cn_act_name(act));
        cJSON_AddItemToObject(root, "sigma_b", cli_json_num(sigma_b));
        cJSON_AddItemToObject(root, "q0", cli_json_num(q0));
        print_json(point_json(root, sigma_w, &m));
    } else {
        printf("%s, sigma_w %g, sigma_b %g, q0 %g\n", cn_act_name(act), sigma_w, sigma_b, q0);
        printf("  q*        %.10g  ", m.q_star);
        if (m.iterations == 0)
            printf("(closed form: the length map is linear for %s)\n", cn_act_name(act));
        else if (m.converged)
            printf("(fixed point, %d length-map evaluations)\n", m.iterations);
        else if (isinf(m.q_star))
            printf("(diverges)\n");
        else
            printf("(not converged after %d length-map evaluations)\n", m.iterations);
        printf("  chi1      %.10g\n", m.chi1);
        printf("  xi_c      %.10g\n", m.xi_c);
        printf("  lambda_0  %.10g  (predicted, 0.5 ln chi1)\n", m.lambda_pred);
        printf("  phase     %s\n", phase_name(m.chi1));
    }
    return csv && write_csv(csv, &sigma_w, &m, 1) ? 1 : 0;
}

int cmd_theory(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"act", required_argument, 0, O_ACT},     {"sigma-w", required_argument, 0, O_SW},
        {"sigma-b", required_argument, 0, O_SB},  {"q0", required_argument, 0, O_Q0},
        {"sweep", required_argument, 0, O_SWEEP}, {"critical", no_argument, 0, O_CRITICAL},
        {"json", no_argument, 0, O_JSON},         {"csv", required_argument, 0, O_CSV},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    cn_act act = CN_ACT_RELU;
    double sigma_w = 1, sigma_b = 0, q0 = 1, lo = 0, hi = 0;
    int json = 0, critical = 0, sweep_n = 0, opt;
    const char *csv = NULL;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cli_help(usage); return 0;
        case O_ACT:
            if (cn_act_from_name(optarg, &act)) {
                char names[256] = "";
                for (int i = 0; i < CN_ACT_COUNT; i++) {
                    strcat(names, i ? " " : "");
                    strcat(names, cn_act_name((cn_act)i));
                }
                cli_error("--act %s: unknown activation (expected one of: %s)", optarg, names);
                return 2;
            }
            break;
        case O_SW: if (cli_parse_real("sigma-w", optarg, 0, 1e6, &sigma_w)) return 2; break;
        case O_SB: if (cli_parse_real("sigma-b", optarg, 0, 1e6, &sigma_b)) return 2; break;
        case O_Q0: if (cli_parse_real("q0", optarg, 1e-300, 1e100, &q0)) return 2; break;
        case O_SWEEP: if (cli_parse_sweep("sweep", optarg, 0, 1e6, 1000000, 0, &lo, &hi, &sweep_n)) return 2; break;
        case O_CRITICAL: critical = 1; break;
        case O_JSON: json = 1; break;
        case O_CSV: csv = optarg; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (critical && sweep_n) {
        cli_error("--critical and --sweep do not go together");
        return 2;
    }
    if (critical && csv) {
        cli_error("--csv writes a point or a sweep, not --critical");
        return 2;
    }
    if (critical) return run_critical(act, sigma_b, q0, json);
    if (sweep_n) return run_sweep(act, sigma_b, q0, lo, hi, sweep_n, json, csv);
    return run_point(act, sigma_w, sigma_b, q0, json, csv);
}
