/* cli.h: what the subcommands of the critnet program share: option tables for models and data,
 * building a network from flags or a model file, and the progress display. */
#ifndef CN_CLI_H
#define CN_CLI_H

#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include "critnet.h"

typedef struct {
    /* model from flags */
    const char *arch, *model_file, *act, *norm, *init, *channels;
    int in, width, depth, classes;
    double dropout, sigma_w, sigma_b;
    /* data */
    const char *data, *data_root;
    int standardize;
    int image_resize, image_crop, image_normalize, image_grey; /* images:DIR (0: from the model; normalize -1) */
    int image_limit;                                          /* images:DIR: decode the first N only (0: all) */
    /* run */
    uint64_t seed;
    int threads, quiet;
} cli_common;

/* Long options shared by train/eval/measure; each subcommand appends its own. */
#define CLI_COMMON_OPTIONS                                                                                   \
    {"arch", required_argument, 0, 1000}, {"model-file", required_argument, 0, 1001},                        \
        {"act", required_argument, 0, 1002}, {"norm", required_argument, 0, 1003},                           \
        {"init", required_argument, 0, 1004}, {"channels", required_argument, 0, 1005},                      \
        {"in", required_argument, 0, 1006}, {"width", required_argument, 0, 1007},                           \
        {"depth", required_argument, 0, 1008}, {"classes", required_argument, 0, 1009},                      \
        {"dropout", required_argument, 0, 1010}, {"sigma-w", required_argument, 0, 1011},                    \
        {"sigma-b", required_argument, 0, 1012}, {"data", required_argument, 0, 1013},                       \
        {"data-root", required_argument, 0, 1014}, {"standardize", no_argument, 0, 1015},                    \
        {"seed", required_argument, 0, 1016}, {"threads", required_argument, 0, 1017},                       \
        {"quiet", no_argument, 0, 1018}, {"resize", required_argument, 0, 1019},                             \
        {"crop", required_argument, 0, 1020}, {"normalize", required_argument, 0, 1021},                     \
        {"help", no_argument, 0, 'h'}

#define CLI_COMMON_HELP                                                                                      \
    "Model (ignored when a checkpoint is given):\n"                                                          \
    "  --arch mlp|cnn|resnet   architecture from flags (default mlp)\n"                                      \
    "  --model-file FILE       plain-text model description instead (docs/model-format.md)\n"                \
    "  --width W --depth D     mlp: hidden units and layers (256, 3); cnn: first channels and stages\n"      \
    "                          (32, 2); resnet: base channels and blocks per stage (16, 1)\n"                \
    "  --channels 32,64        cnn: channels per stage\n"                                                    \
    "  --act A                 identity relu leaky_relu tanh sigmoid gelu silu elu (default relu)\n"         \
    "  --norm none|batch|layer normalisation after each hidden linear map (default none)\n"                  \
    "  --dropout P             dropout after each hidden layer (default 0)\n"                                \
    "  --classes C             output units (default: the data's classes)\n"                                 \
    "  --init I                torch kaiming_uniform kaiming_normal xavier orthogonal normal (default torch);\n" \
    "                          critical[:BASE]: BASE (default normal), then each block's gain rescaled until\n" \
    "                          sigma_l = 1 on the first 128 training inputs (docs/critical-training.md)\n"     \
    "  --sigma-w S --sigma-b S normal init: W ~ N(0, S^2/fan_in), b ~ N(0, S^2); orthogonal: gain\n"         \
    "Data:\n"                                                                                                \
    "  --data D                fashion-mnist (default), mnist, idx:DIR, gaussian, cifar10:DIR,\n"           \
    "                          images:DIR (folders of images per class), npy:FILE[,LABELS] (docs/onnx.md)\n" \
    "  --resize N --crop N     images: shorter side to N, then the centre N x N (default: the model's input,\n" \
    "                          resized in the proportion 256:224)\n"                                          \
    "  --normalize imagenet|none  images: ImageNet mean/std (default imagenet for ONNX models)\n"             \
    "  --in N                  input dimension for --data gaussian (default: the --model's input size,\n"   \
    "                          else 784)\n"                                                                   \
    "  --standardize           per-feature standardisation (training statistics)\n"                          \
    "  --data-root DIR         where scripts/setup.sh put the converted data (default ./data)\n"             \
    "Run:\n"                                                                                                 \
    "  --seed S                random seed (default 0)\n"                                                    \
    "  --threads N             BLAS and OpenMP threads (default 2, or 1 on a 1-core machine; see bench/)\n"              \
    "  --quiet                 no progress output\n"

void cli_common_defaults(cli_common *c);
/* 1 if opt was a common option (handled), 0 if not, -1 on a bad value (message printed) */
int cli_common_option(cli_common *c, int opt, const char *arg);

int cli_load_data(cn_data *d, const cli_common *c);

/* model_load.c: --model FILE, a checkpoint or an ONNX file */
typedef struct {
    const char *blocks; /* ONNX: --blocks */
    size_t max_bytes;   /* ONNX: --max-bytes (0: the library's limit) */
} cli_model_opts;
int cli_is_onnx(const char *path);
int cli_is_onnx_net(const cn_net *net);
/* 0, or -1 after a message */
int cli_load_model(cn_net **net, const char *path, const cli_model_opts *o);
/* data settings that follow from the model's input shape, where the user gave none: the image crop,
 * normalisation and grey for images:DIR, and --in for gaussian */
void cli_image_defaults_for(cli_common *c, const cn_net *net);
/* Builds the network from --model-file or the --arch flags for data of the given shape. */
int cli_build_net(cn_net **net, const cli_common *c, const cn_dataset *shape);
int cli_init_kind(const cli_common *c, cn_init *init);

/* Creates path and its missing parents; 0, or -1 with errno set. */
int cli_make_dir(const char *path);
/* Writes text to path, replaced whole or left as it was (cn_file_replace); 0, or -1 with the message given to
 * cli_error. */
int cli_write_text(const char *path, const char *text);
/* A report written with stdio into memory and then to its file as cli_write_text does, so that a full disk, a
 * file-size limit or a kill keeps the earlier file: f = cli_report_open(&r, path) (NULL after a message),
 * fprintf(f, ...), then cli_report_commit(&r) (0, or -1 after a message). */
typedef struct {
    FILE *f;
    char *buf;
    size_t size;
    const char *path;
} cli_report;
FILE *cli_report_open(cli_report *r, const char *path);
int cli_report_commit(cli_report *r);
/* The numbers of the statistics reports (critnet stats, zoo-report): 4 significant digits, without an exponent
 * between 1e-4 and 1e9; a p-value to 2 digits, in exponent form below 1e-3; "n/a" where not finite. */
const char *cli_sig4(char *buf, size_t size, double v);
const char *cli_p_text(char *buf, size_t size, double p);
/* The argument list stored in a checkpoint's settings JSON ("argv"), with argv[0] first and this call's own
 * options (argv[1..]) after it, so that they override; NULL if the settings hold none. Free with
 * cli_free_args. */
char **cli_resume_args(const char *settings, int argc, char **argv, int *nargs);
void cli_free_args(char **v, int n);

/* --help: the usage text, then the valid values of the command's numeric options (option_ranges.c) */
void cli_help(const char *usage);

/* The numeric option parsers: a value that is not a number, NaN, infinite, out of range or with trailing text is
 * refused with "--NAME VALUE: expected ... in [LO, HI]"; 0, or -1 after the message. */
int cli_parse_int(const char *name, const char *arg, int lo, int hi, int *out);
int cli_parse_real(const char *name, const char *arg, double lo, double hi, double *out);
int cli_parse_u64(const char *name, const char *arg, uint64_t *out);
int cli_parse_u64_in(const char *name, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out);
int cli_parse_size(const char *name, const char *arg, size_t *out);
/* "a,b,c": at most max values into v, each in [lo, hi]; *n of them. 0, or -1 after a message naming --name. */
int cli_parse_int_list(const char *name, const char *arg, int lo, int hi, int max, int *v, int *n);
int cli_parse_real_list(const char *name, const char *arg, double lo, double hi, int max, double *v, int *n);
/* "LO:HI:N" with lo <= LO <= HI <= hi and N in [1, max_n] (with single, also one value V, read as V:V:1) */
int cli_parse_sweep(const char *name, const char *arg, double lo, double hi, int max_n, int single, double *from,
                    double *to, int *n);
/* --split test|train into *out (0), or -1 after a message */
int cli_parse_split(const char *arg, const char **out);
/* the split that name ("test" or "train") selects */
const cn_dataset *cli_split(const cn_data *d, const char *name);

/* messages to stderr, prefixed "critnet CMD: " and, while it is set, cli_error_where (e.g. "FILE:LINE: ",
 * so that the messages of an option parser name the line of a spec file the options came from) */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern const char *cli_command;
extern const char *cli_error_where;
/* the text of the last message (without the prefixes), for a caller that records it, e.g. in a zoo row */
const char *cli_error_last(void);

/* progress: a redrawn bar on a terminal, plain lines otherwise, nothing when quiet */
typedef struct {
    int quiet, tty;
    double last_draw;
} cli_progress;
void cli_progress_init(cli_progress *p, int quiet);
void cli_progress_train(const cn_train_progress *tp, void *user);
void cli_progress_bar(cli_progress *p, const char *label, double done, double total, double elapsed,
                      const char *extra);
void cli_progress_end(cli_progress *p);
void cli_format_time(char *buf, size_t cap, double seconds); /* "42s", "3m05s", "1h02m"; "--" if unknown */
double cli_now(void);

/* json.c */
cJSON *cli_json_num(double v);                 /* null for NaN or Inf */
cJSON *cli_json_numbers(const double *v, int n);
cJSON *cli_json_argv(int argc, char **argv);
int cli_json_write(const char *path, cJSON *root); /* takes root; 0, or -1 with a message */

/* crit_opts.c: the criticality regulariser's options, one parser for critnet train (and zoo) and continual; each
 * command lists in its option table those it takes (CLI_CRIT_OPTIONS: all six) */
enum { CLI_O_CRIT_WEIGHT = 1900, CLI_O_CRIT_TARGET, CLI_O_CRIT_PROBES, CLI_O_CRIT_EVERY, CLI_O_CRIT_BATCH,
       CLI_O_CRIT_LAYERS };
#define CLI_CRIT_OPTIONS                                                                                     \
    {"crit-weight", required_argument, 0, CLI_O_CRIT_WEIGHT},                                                \
        {"crit-target", required_argument, 0, CLI_O_CRIT_TARGET},                                            \
        {"crit-probes", required_argument, 0, CLI_O_CRIT_PROBES},                                            \
        {"crit-every", required_argument, 0, CLI_O_CRIT_EVERY},                                              \
        {"crit-batch", required_argument, 0, CLI_O_CRIT_BATCH},                                              \
        {"crit-layers", required_argument, 0, CLI_O_CRIT_LAYERS}
/* 1 if opt was a crit option (handled), 0 if not, -1 on a bad value (message printed) */
int cli_crit_option(cn_crit_settings *s, int opt, const char *arg);

/* control_opts.c: the homeostatic controller's options (--control, --control-every, --control-rate, --control-band),
 * one parser for every command that trains */
enum { CLI_O_CONTROL = 1950, CLI_O_CONTROL_EVERY, CLI_O_CONTROL_RATE, CLI_O_CONTROL_BAND };
#define CLI_CONTROL_OPTIONS                                                                                  \
    {"control", required_argument, 0, CLI_O_CONTROL},                                                        \
        {"control-every", required_argument, 0, CLI_O_CONTROL_EVERY},                                        \
        {"control-rate", required_argument, 0, CLI_O_CONTROL_RATE},                                          \
        {"control-band", required_argument, 0, CLI_O_CONTROL_BAND}
#define CLI_CONTROL_HELP                                                                                     \
    "Homeostatic control (docs/critical-training.md, \"Control methods\"):\n"                                 \
    "  --control none|homeostatic   keep every block at sigma_l = 1 by scaling its gain (default none)\n"     \
    "  --control-every N       steps between observations, one jvp probe per block (default 10)\n"           \
    "  --control-rate R        fraction of the running ln sigma_l corrected per observation (default 0.5)\n" \
    "  --control-band B        no correction while |running ln sigma_l| <= B (default 0.02)\n"
/* 1 if opt was a control option (handled), 0 if not, -1 on a bad value (message printed) */
int cli_control_option(cn_control_settings *s, int opt, const char *arg);
/* "none" or "homeostatic" */
const char *cli_control_name(cn_control_kind k);

/* init_net.c: --init I, or --init critical[:BASE] (BASE initialisation, default normal, then critical calibration
 * on the first inputs of calib): 0, or -1 after a message. report (may be NULL): a JSON object of the calibration
 * (NULL when the initialisation is not critical), for the run's settings; the caller deletes it. */
int cli_init_net(cn_net *net, const cli_common *c, const cn_dataset *calib, cn_rng *rng, cJSON **report);
/* 1 for --init critical[:BASE] */
int cli_init_is_critical(const char *name);

/* train_opts.c: the options of `critnet train`, shared with `critnet zoo` (one parser: they cannot disagree) */
typedef struct {
    cli_common c;
    cn_train_cfg t;
    const char *out, *resume;
    int lr_set;
    cJSON *init_report; /* the critical initialisation's report, written into the settings (not owned) */
    int engine_graph;   /* --engine graph: a native net is lowered to an ONNX graph (OUT/model.onnx) and trained
                         * on the graph engine, where the regulariser covers batch norm, layer norm and residuals */
} cli_train_opts;
extern const char cli_train_usage[];
extern const struct option cli_train_long_opts[];
void cli_train_defaults(cli_train_opts *o);
/* getopt over argv (argv[0] is skipped): 0 on success, 1 after --help, -1 on a bad option (message printed) */
int cli_train_parse(cli_train_opts *o, int argc, char **argv);
/* required_argument or no_argument for a long option name of critnet train (no dashes); -1 if there is none */
int cli_train_option_arg(const char *name);
/* The settings JSON stored in a checkpoint: the argument list (minus --out, --stop-after, --quiet) and the
 * settings it resolves to; caller frees. */
char *cli_train_settings_json(const cli_train_opts *o, int argc, char **argv, const cn_net *net);

/* dr_opts.c: --dr-points, --dr-smin, --dr-smax, --stimulus, --response (name without dashes) into m: 1 if
 * handled, 0 if the name is none of them, -1 on a bad value (message printed) */
int cli_dr_option(cn_measure_cfg *m, const char *name, const char *arg);
/* 0, or -1 after a message when the stimulus grid is empty (--dr-smax not above --dr-smin) */
int cli_dr_check(const cn_measure_cfg *m);
/* the one-line caution printed wherever Delta is (docs/phase.md: no response finds the critical line) */
extern const char cli_dr_caution[];

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_measure(int argc, char **argv);
int cmd_robustness(int argc, char **argv);
int cmd_theory(int argc, char **argv);
int cmd_phase(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_continual(int argc, char **argv);
int cmd_zoo(int argc, char **argv);
int cmd_zoo_report(int argc, char **argv);
int cmd_powerlaw(int argc, char **argv);
int cmd_branching(int argc, char **argv);
/* continual/continual_plot.c: DIR/tasks.csv of each run folder drawn into out (PNG); 0, or -1 (message printed) */
int cli_continual_plot(const char *out, char *const *dirs, int n);
/* train_track_plot.c: DIR/track.csv of `train --track-every` drawn into DIR/track.png; 0, or -1 (message printed) */
int cli_train_track_plot(const char *dir);

#endif
