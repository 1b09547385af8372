/* main.c: the critnet program: one binary, a subcommand per task. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a network (MLP, CNN, ResNet or a model file) and checkpoint it"},
    {"eval", cmd_eval, "accuracy and loss of a checkpoint on a data set"},
    {"export", cmd_export, "a trained imported model (checkpoint of train --model X.onnx) written back as ONNX"},
    {"predict", cmd_predict, "a model's outputs (logits) on a data set, as a .npy file to compare with your framework"},
    {"measure", cmd_measure, "criticality: sigma, Lyapunov spectrum, sigma_act, dynamic range (+ mean field)"},
    {"robustness", cmd_robustness, "accuracy under Gaussian noise, FGSM and PGD attacks"},
    {"theory", cmd_theory, "mean-field prediction (q*, chi1, xi_c, lambda_0) for random MLPs; critical line"},
    {"phase", cmd_phase, "phase diagram of random networks: sigma, lambda_0, Delta, xi against the mean-field line"},
    {"stats", cmd_stats, "per-run results (CSV) to mean +- sd, bootstrap CIs, paired Wilcoxon tests, plots"},
    {"continual", cmd_continual, "Online Permuted MNIST (Dohare et al.): bp, adam, l2, snp, cbp, l2init, crit"},
    {"zoo", cmd_zoo, "train and measure a population of models (a spec or a preset); over MPI ranks if built with it"},
    {"powerlaw", cmd_powerlaw, "power-law fit of a CSV column (Clauset et al. 2009): alpha, x_min, bootstrap p, LR tests"},
    {"branching", cmd_branching, "branching ratio of an activity time series (MR estimator, Wilting & Priesemann 2018)"},
    {"zoo-report", cmd_zoo_report, "statistics of a zoo run: does accuracy track criticality? (tests, stats.json, plots)"},
};

static void usage(FILE *f)
{
    fprintf(f, "critnet %s: measure and control critical dynamics in deep neural networks\n\n"
               "usage: critnet COMMAND [options]   (critnet COMMAND --help for its options)\n\n"
               "commands:\n", CRITNET_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    /* a file-size limit (ulimit -f) then makes the write fail with EFBIG, which the writers report with the
     * file's name and survive with the earlier file intact, instead of a SIGXFSZ that kills the run mid-write */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            char *args[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    cli_command = commands[i].name;
                    return commands[i].run(2, args);
                }
        }
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("critnet %s\n", CRITNET_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, argv[1]) == 0) {
            cli_command = commands[i].name;
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "critnet: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
