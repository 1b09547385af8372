/* option_ranges.c: the valid values of every numeric option, printed at the end of each command's --help by
 * cli_help. The parsers enforce the same bounds (cli_parse_* in common.c); tests/cli/options.sh feeds every option
 * bad values and checks that each bound printed here is the one its parser enforces, so the two cannot drift. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

#define END NULL
static const char *const common[] = {
    "--width [1, 1000000]", "--depth [0, 100000]", "--channels a list of at most 32, each in [1, 100000]",
    "--dropout [0, 0.999999]", "--classes [1, 1000000]", "--sigma-w [0, 1e+06]", "--sigma-b [0, 1e+06]",
    "--resize [1, 16384]", "--crop [1, 16384]", "--in [1, 100000000]", "--seed [0, 2^64 - 1]", "--threads [1, 256]",
    END};

static const struct {
    const char *command;
    int with_common; /* the command takes CLI_COMMON_OPTIONS */
    const char *const *items;
} ranges[] = {
    {"train", 1, (const char *const[]){
        "--epochs [1, 1000000]", "--batch [1, 1048576]", "--lr [0, 1e+06]", "--momentum [0, 0.999999]",
        "--weight-decay [0, 1e+06]", "--beta1 [0, 0.999999]", "--beta2 [0, 0.999999]", "--eps [0, 1]",
        "--step-size [1, 1000000]", "--gamma [0, 1e+06]", "--limit-train [1, 1073741824]",
        "--limit-test [1, 1073741824]", "--stop-after [1, 1000000]", "--crit-weight [0, 1e+09]",
        "--crit-probes [1, 100000]", "--crit-batch [1, 1073741824]", "--crit-every [1, 1073741824]",
        "--track [0, 1073741824]", "--track-every [1, 1073741824]",
        "--control-every [1, 1073741824]", "--control-rate [0, 1]",
        "--control-band [0, 9.99]", END}},
    {"eval", 1, (const char *const[]){"--max-bytes [1, 2^64 - 1]", "--limit [1, 1073741824]",
        "--batch [1, 1048576]", END}},
    {"predict", 1, (const char *const[]){"--max-bytes [1, 2^64 - 1]", "--limit [1, 1073741824]",
        "--batch [1, 1048576]", END}},
    {"measure", 1, (const char *const[]){
        "--max-bytes [1, 2^64 - 1]", "--samples [1, 1073741824]", "--probes [0, 100000]",
        "--spectrum [0, 1048576]", "--batch [1, 1048576]", "--dr-points [2, 100000]", "--dr-smin [1e-300, 1e+300]",
        "--dr-smax [1e-300, 1e+300]", "--dr-block [0, 1048576]", "--aval-trials [1, 1000000]",
        "--aval-eps [1e-30, 1e+30]", "--aval-threshold [1e-30, 1e+30]", "--aval-calibration [1, 1073741824]",
        "--aval-threshold-abs [1e-300, 1e+300]", "--aval-site [0, 1048576]", "--aval-bootstrap [0, 1000000]",
        "--aval-min-count [1, 1073741824]", "--aval-tmin [1, 1048576]", "--jacobian-samples [1, 1048576]",
        "--ab-threshold [1e-30, 1e+30]", "--ab-threshold-abs [1e-300, 1e+300]", "--ab-kmax [2, 1048576]",
        "--ab-bootstrap [0, 1000000]", END}},
    {"robustness", 1, (const char *const[]){
        "--samples [1, 1073741824]", "--noise a list of at most 64, each in [0, 1e+06]",
        "--eps a list of at most 64, each in [0, 1e+06]", "--pgd-steps [1, 100000]", "--batch [1, 1048576]", END}},
    {"theory", 0, (const char *const[]){
        "--sigma-w [0, 1e+06]", "--sigma-b [0, 1e+06]", "--q0 [1e-300, 1e+100]",
        "--sweep LO:HI:N, LO and HI in [0, 1e+06], N in [1, 1000000]", END}},
    {"phase", 0, (const char *const[]){
        "--sigma-w LO:HI:N, LO and HI in [0, 1e+06], N in [1, 100000]",
        "--sigma-b LO:HI:N, LO and HI in [0, 1e+06], N in [1, 100000]",
        "--depth a list of at most 64, each in [1, 100000]", "--width [1, 1000000]", "--samples [1, 16777216]",
        "--draws [1, 10000]", "--probes [0, 100000]", "--pairs [0, 1048576]", "--c0 [-0.999999, 1]",
        "--skip [0, 100000]", "--dr-points [2, 100000]", "--dr-smin [1e-300, 1e+300]", "--dr-smax [1e-300, 1e+300]",
        "--seed [0, 2^64 - 1]", "--threads [1, 256]", END}},
    {"stats", 0, (const char *const[]){"--seed [0, 2^64 - 1]", "--resamples [10, 10000000]", END}},
    {"continual", 0, (const char *const[]){
        "--tasks [1, 100000000]", "--examples-per-task [1, 1073741824]", "--width [1, 1000000]",
        "--depth [0, 100000]", "--seed [0, 2^64 - 1]", "--lr [0, 1e+06]", "--beta1 [0, 0.999999]",
        "--beta2 [0, 0.999999]", "--eps [0, 1]", "--weight-decay [0, 1e+06]", "--noise-std [0, 1e+06]",
        "--l2init-weight [0, 1e+06]", "--replacement-rate [0, 1]", "--maturity [0, 1073741824]",
        "--utility-decay [0, 1]", "--crit-weight [0, 1e+09]", "--crit-probes [1, 100000]",
        "--crit-every [1, 1073741824]", "--probe-samples [1, 1073741824]", "--track [0, 1073741824]",
        "--checkpoint-every [1, 1073741824]", "--stop-after [1, 1073741824]", "--threads [1, 256]", END}},
    {"zoo", 0, (const char *const[]){"--in [1, 100000000]", "--samples [1, 1073741824]", "--threads [1, 256]", END}},
    {"powerlaw", 0, (const char *const[]){
        "--xmin [1e-300, 1e+300]", "--min-tail [2, 1073741824]", "--candidates [2, 1073741824] (or all)",
        "--bootstrap [0, 10000000]", "--seed [0, 2^64 - 1]", "--threads [1, 256]", END}},
    {"branching", 0, (const char *const[]){
        "--kmax [2, 1000000]", "--dt [1e-300, 1e+300]", "--bootstrap [0, 1000000]", "--blocks [2, 1024]",
        "--seed [0, 2^64 - 1]", END}},
    {"zoo-report", 0, (const char *const[]){"--resamples [10, 10000000]", "--seed [0, 2^64 - 1]", "--level [0, 1]",
        END}},
};

/* items two spaces apart, wrapped before 110 columns */
static void print_items(FILE *f, const char *const *items, int *col)
{
    for (; *items; items++) {
        int n = (int)strlen(*items);
        if (*col > 2 && *col + 2 + n > 110) fputs("\n  ", f), *col = 2;
        fprintf(f, "%s%s", *col > 2 ? "  " : "", *items);
        *col += (*col > 2 ? 2 : 0) + n;
    }
}

void cli_help(const char *usage)
{
    fputs(usage, stdout);
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
        if (strcmp(ranges[i].command, cli_command) != 0) continue;
        int col = 2;
        fputs("Valid values (bounds included; a value outside them, or not a number, is refused with exit status 2):\n  ",
              stdout);
        print_items(stdout, ranges[i].items, &col);
        if (ranges[i].with_common) print_items(stdout, common, &col);
        fputs("\n", stdout);
    }
}
