/* train_opts.c: the options of `critnet train`, parsed in one place: `critnet train` and every model line of
 * `critnet zoo` go through the same table and parser, so that the two can never disagree about a setting. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

const char cli_train_usage[] =
    "usage: critnet train [options] --out DIR\n"
    "       critnet train --resume DIR [--quiet]\n"
    "Trains a network and writes DIR/model.cnm (checkpoint, every epoch), DIR/metrics.csv and\n"
    "DIR/summary.json.\n"
    "Training:\n"
    "  --epochs N              (default 5)\n"
    "  --batch N               minibatch size (default 128)\n"
    "  --optim sgd|adam|adamw  (default sgd)\n"
    "  --lr X                  learning rate (default 0.05 for sgd, 0.001 for adam/adamw)\n"
    "  --momentum X            sgd momentum (default 0.9)\n"
    "  --nesterov              nesterov momentum\n"
    "  --weight-decay X        (default 0)\n"
    "  --beta1 X --beta2 X --eps X   adam parameters (0.9, 0.999, 1e-8)\n"
    "  --sched constant|step|cosine  learning-rate schedule per epoch (default constant)\n"
    "  --step-size N --gamma X step schedule: multiply by X every N epochs (1, 0.1)\n"
    "  --loss cross_entropy|mse    (default cross_entropy)\n"
    "  --limit-train N --limit-test N   use only the first N examples\n"
    "  --stop-after N          stop after N epochs of this call (resume later with --resume)\n"
    "  --out DIR               output folder (created if missing)\n"
    "  --resume DIR            continue the run in DIR from its last checkpoint\n"
    "Critical training (docs/critical-training.md):\n"
    "  --crit-weight B         add B * R to the loss, R = mean over blocks of (ln sigma_l)^2 (default 0: off)\n"
    "  --crit-target T         sigma (default): R = mean over blocks of (ln sigma_l)^2;\n"
    "                          lambda: R = lambda_0^2, one tangent carried through the whole depth\n"
    "  --crit-probes M         jvp probes per block (sigma) or tangents (lambda) per example (default 1)\n"
    "  --crit-batch N          run the probes on the first N examples of each minibatch (default: all)\n"
    "  --crit-every N          apply it on every N-th step (default 1)\n"
    "  --crit-layers hidden|all  leave out (default) or include the readout block\n"
    "  --track N               sigma and lambda_0 per epoch on the first N test inputs (default 200; 0: off)\n"
    "  --track-every N         also every N optimizer steps (and at step 0), on the same inputs (200 with\n"
    "                          --track 0): DIR/track.csv (step, epoch, sigma, lambda0, mean |ln sigma_l|,\n"
    "                          sigma_1..sigma_L) and its plot DIR/track.png (default: off)\n"
    "  --engine layers|graph   run a native model on its layer engine (default) or lowered to an ONNX graph,\n"
    "                          written to DIR/model.onnx, on the graph engine: the criticality regulariser then\n"
    "                          covers batch norm, layer norm and residual blocks\n"
    CLI_CONTROL_HELP CLI_COMMON_HELP;

enum { O_EPOCHS = 2000, O_BATCH, O_OPTIM, O_LR, O_MOM, O_NESTEROV, O_WD, O_B1, O_B2, O_EPS, O_SCHED, O_STEPSIZE,
       O_GAMMA, O_LOSS, O_LTRAIN, O_LTEST, O_STOP, O_OUT, O_RESUME, O_TRACK, O_TRACK_EVERY, O_ENGINE };

const struct option cli_train_long_opts[] = {
    CLI_COMMON_OPTIONS,
    {"epochs", required_argument, 0, O_EPOCHS}, {"batch", required_argument, 0, O_BATCH},
    {"optim", required_argument, 0, O_OPTIM},   {"lr", required_argument, 0, O_LR},
    {"momentum", required_argument, 0, O_MOM},  {"nesterov", no_argument, 0, O_NESTEROV},
    {"weight-decay", required_argument, 0, O_WD}, {"beta1", required_argument, 0, O_B1},
    {"beta2", required_argument, 0, O_B2},      {"eps", required_argument, 0, O_EPS},
    {"sched", required_argument, 0, O_SCHED},   {"step-size", required_argument, 0, O_STEPSIZE},
    {"gamma", required_argument, 0, O_GAMMA},   {"loss", required_argument, 0, O_LOSS},
    {"limit-train", required_argument, 0, O_LTRAIN}, {"limit-test", required_argument, 0, O_LTEST},
    {"stop-after", required_argument, 0, O_STOP}, {"out", required_argument, 0, O_OUT},
    {"resume", required_argument, 0, O_RESUME}, CLI_CRIT_OPTIONS, CLI_CONTROL_OPTIONS,
    {"track", required_argument, 0, O_TRACK}, {"track-every", required_argument, 0, O_TRACK_EVERY},
    {"engine", required_argument, 0, O_ENGINE}, {0, 0, 0, 0}};

void cli_train_defaults(cli_train_opts *o)
{
    memset(o, 0, sizeof *o);
    cli_common_defaults(&o->c);
    o->t.epochs = 5;
    o->t.batch = 128;
    o->t.optim = (cn_optim_cfg){.kind = CN_OPT_SGD, .lr = 0.05, .momentum = 0.9, .beta1 = 0.9, .beta2 = 0.999,
                                .eps = 1e-8, .step_size = 1, .gamma = 0.1};
    cn_control_defaults(&o->t.control);
}

int cli_train_parse(cli_train_opts *o, int argc, char **argv)
{
    optind = 0; /* GNU getopt: start afresh, the options may be parsed twice (resume) */
    int opt;
    while ((opt = getopt_long(argc, argv, "h", cli_train_long_opts, NULL)) != -1) {
        int r = cli_common_option(&o->c, opt, optarg);
        if (!r) r = cli_crit_option(&o->t.crit, opt, optarg);
        if (!r) r = cli_control_option(&o->t.control, opt, optarg);
        if (r < 0) return -1;
        if (r > 0) continue;
        cn_optim_cfg *oc = &o->t.optim;
        int bad = 0;
        switch (opt) {
        case 'h': cli_help(cli_train_usage); return 1;
        case O_EPOCHS: bad = cli_parse_int("epochs", optarg, 1, 1000000, &o->t.epochs); break;
        case O_BATCH: bad = cli_parse_int("batch", optarg, 1, 1 << 20, &o->t.batch); break;
        case O_OPTIM:
            if ((bad = cn_opt_from_name(optarg, &oc->kind) ? -1 : 0)) cli_error("--optim %s: expected sgd, adam or adamw", optarg);
            break;
        case O_LR: bad = cli_parse_real("lr", optarg, 0, 1e6, &oc->lr); o->lr_set = 1; break;
        case O_MOM: bad = cli_parse_real("momentum", optarg, 0, 0.999999, &oc->momentum); break;
        case O_NESTEROV: oc->nesterov = 1; break;
        case O_WD: bad = cli_parse_real("weight-decay", optarg, 0, 1e6, &oc->weight_decay); break;
        case O_B1: bad = cli_parse_real("beta1", optarg, 0, 0.999999, &oc->beta1); break;
        case O_B2: bad = cli_parse_real("beta2", optarg, 0, 0.999999, &oc->beta2); break;
        case O_EPS: bad = cli_parse_real("eps", optarg, 0, 1, &oc->eps); break;
        case O_SCHED:
            if ((bad = cn_sched_from_name(optarg, &oc->sched) ? -1 : 0)) cli_error("--sched %s: expected constant, step or cosine", optarg);
            break;
        case O_STEPSIZE: bad = cli_parse_int("step-size", optarg, 1, 1000000, &oc->step_size); break;
        case O_GAMMA: bad = cli_parse_real("gamma", optarg, 0, 1e6, &oc->gamma); break;
        case O_LOSS:
            if ((bad = cn_loss_from_name(optarg, &o->t.loss) ? -1 : 0)) cli_error("--loss %s: expected cross_entropy or mse", optarg);
            break;
        case O_LTRAIN: bad = cli_parse_int("limit-train", optarg, 1, 1 << 30, &o->t.limit_train); break;
        case O_LTEST: bad = cli_parse_int("limit-test", optarg, 1, 1 << 30, &o->t.limit_test); break;
        case O_STOP: bad = cli_parse_int("stop-after", optarg, 1, 1000000, &o->t.stop_after); break;
        case O_OUT: o->out = optarg; break;
        case O_RESUME: o->resume = optarg; break;
        case O_ENGINE:
            if (!strcmp(optarg, "graph")) o->engine_graph = 1;
            else if (!strcmp(optarg, "layers")) o->engine_graph = 0;
            else bad = -1, cli_error("--engine %s: expected layers or graph", optarg);
            break;
        case O_TRACK: {
            int n;
            bad = cli_parse_int("track", optarg, 0, 1 << 30, &n);
            o->t.track_samples = n > 0 ? n : -1;
            break;
        }
        case O_TRACK_EVERY: bad = cli_parse_int("track-every", optarg, 1, 1 << 30, &o->t.track_every); break;
        default: fputs(cli_train_usage, stderr); return -1;
        }
        if (bad) return -1;
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see critnet train --help)", argv[optind]);
        return -1;
    }
    if (!o->lr_set && o->t.optim.kind != CN_OPT_SGD) o->t.optim.lr = 0.001;
    o->t.optim.total_epochs = o->t.epochs;
    o->t.seed = o->c.seed;
    return 0;
}

/* The settings record the argument list itself, so that --resume re-reads exactly the same run. */
char *cli_train_settings_json(const cli_train_opts *o, int argc, char **argv, const cn_net *net)
{
    cJSON *root = cJSON_CreateObject(), *args = cJSON_CreateArray();
    for (int i = 0; i < argc; i++) {
        /* run control is not part of the run: leaving it out keeps a stopped-and-resumed checkpoint
         * byte-identical to an uninterrupted one, and stops --stop-after from applying again on resume */
        int takes_value = !strcmp(argv[i], "--stop-after") || !strcmp(argv[i], "--out");
        if (takes_value || !strcmp(argv[i], "--quiet") || !strncmp(argv[i], "--stop-after=", 13) ||
            !strncmp(argv[i], "--out=", 6)) {
            i += takes_value;
            continue;
        }
        cJSON_AddItemToArray(args, cJSON_CreateString(argv[i]));
    }
    cJSON_AddItemToObject(root, "argv", args);
    cJSON_AddStringToObject(root, "data", o->c.data);
    cJSON_AddStringToObject(root, "model", o->c.model_file ? o->c.model_file : o->c.arch);
    cJSON_AddStringToObject(root, "init", o->c.init);
    cJSON_AddNumberToObject(root, "seed", (double)o->c.seed);
    cJSON_AddNumberToObject(root, "threads", o->c.threads);
    cJSON_AddNumberToObject(root, "epochs", o->t.epochs);
    cJSON_AddNumberToObject(root, "batch", o->t.batch);
    cJSON_AddStringToObject(root, "optim", cn_opt_name(o->t.optim.kind));
    cJSON_AddNumberToObject(root, "lr", o->t.optim.lr);
    cJSON_AddNumberToObject(root, "momentum", o->t.optim.momentum);
    cJSON_AddNumberToObject(root, "weight_decay", o->t.optim.weight_decay);
    cJSON_AddStringToObject(root, "sched", cn_sched_name(o->t.optim.sched));
    cJSON_AddStringToObject(root, "loss", cn_loss_name(o->t.loss));
    const cn_crit_settings *cs = &o->t.crit;
    cJSON_AddNumberToObject(root, "crit_weight", cs->weight);
    cJSON_AddStringToObject(root, "crit_target", cs->target == CN_CRIT_LAMBDA ? "lambda" : "sigma");
    cJSON_AddNumberToObject(root, "crit_probes", cs->probes > 0 ? cs->probes : 1);
    cJSON_AddNumberToObject(root, "crit_batch", cs->batch);
    cJSON_AddNumberToObject(root, "crit_every", cs->every > 0 ? cs->every : 1);
    const cn_control_settings *ctl = &o->t.control;
    cJSON_AddStringToObject(root, "control", cli_control_name(ctl->kind));
    if (ctl->kind != CN_CONTROL_NONE) {
        cJSON_AddNumberToObject(root, "control_every", ctl->every);
        cJSON_AddNumberToObject(root, "control_rate", ctl->rate);
        cJSON_AddNumberToObject(root, "control_band", ctl->band);
        cJSON_AddNumberToObject(root, "control_smoothing", ctl->smoothing);
    }
    if (o->init_report) cJSON_AddItemToObject(root, "critical_init", cJSON_Duplicate(o->init_report, 1));
    char *spec = cn_net_spec((cn_net *)net);
    if (spec) cJSON_AddStringToObject(root, "model_spec", spec);
    cn_free(spec);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

int cli_train_option_arg(const char *name)
{
    for (const struct option *o = cli_train_long_opts; o->name; o++)
        if (strcmp(o->name, name) == 0) return o->has_arg;
    return -1;
}
