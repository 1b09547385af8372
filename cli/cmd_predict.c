/* cmd_predict.c: `critnet predict`: a model's outputs (logits) on a data set, written as a .npy file, so that
 * they can be set beside another framework's outputs on the same inputs. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const char *usage =
    "usage: critnet predict --model FILE --out FILE.npy [--data D] [--split test|train] [--limit N] [--batch N]\n"
    "Runs a model in eval mode (running batch-norm statistics, no dropout) on a data set and writes its outputs\n"
    "(logits, before any softmax) as a float32 array of shape (examples, outputs) in NumPy's .npy format.\n"
    "  --model FILE            a checkpoint written by critnet train, or an ONNX model (FILE.onnx)\n"
    "  --out FILE.npy          where to write the outputs (replaced whole, or left as it was on failure)\n"
    "  --max-bytes N           ONNX: refuse larger files (default 2 GiB - 1)\n"
    "  --split test|train      which split (default test; images:DIR and npy:FILE are all test)\n"
    "  --limit N               only the first N examples\n"
    "  --batch N               batch size (default 500, 16 for ONNX models)\n" CLI_COMMON_HELP;

enum { O_MODEL = 2000, O_OUT, O_LIMIT, O_BATCH, O_SPLIT, O_MAXBYTES };

int cmd_predict(int argc, char **argv)
{
    static const struct option long_opts[] = {
        CLI_COMMON_OPTIONS, {"model", required_argument, 0, O_MODEL}, {"out", required_argument, 0, O_OUT},
        {"limit", required_argument, 0, O_LIMIT}, {"batch", required_argument, 0, O_BATCH},
        {"split", required_argument, 0, O_SPLIT}, {"max-bytes", required_argument, 0, O_MAXBYTES}, {0, 0, 0, 0}};
    cli_common c;
    cli_common_defaults(&c);
    const char *model = NULL, *out = NULL, *split = "test";
    int limit = 0, batch = 0, opt;
    cli_model_opts mo = {0};
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return 2;
        if (r > 0) continue;
        switch (opt) {
        case 'h': cli_help(usage); return 0;
        case O_MODEL: model = optarg; break;
        case O_OUT: out = optarg; break;
        case O_LIMIT: if (cli_parse_int("limit", optarg, 1, 1 << 30, &limit)) return 2; break;
        case O_BATCH: if (cli_parse_int("batch", optarg, 1, 1 << 20, &batch)) return 2; break;
        case O_MAXBYTES: if (cli_parse_size("max-bytes", optarg, &mo.max_bytes)) return 2; break;
        case O_SPLIT: if (cli_parse_split(optarg, &split)) return 2; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!model || !out) {
        cli_error("--model FILE and --out FILE.npy are required (see critnet predict --help)");
        return 2;
    }
    cn_set_threads(c.threads);
    cn_net *net;
    if (cli_load_model(&net, model, &mo)) return 1;
    cli_image_defaults_for(&c, net);
    if (!batch) batch = cli_is_onnx_net(net) ? 16 : 500;
    cn_data data = {0};
    cn_real *logits = NULL;
    cn_error err = {0};
    int rc = 1;
    c.image_limit = limit;
    if (cli_load_data(&data, &c)) goto done;
    const cn_dataset *d = cli_split(&data, split);
    int n = limit > 0 && limit < d->count ? limit : d->count, classes = cn_net_out_size(net);
    if (n < 1) {
        cli_error("%s: the %s split is empty", data.name, split);
        goto done;
    }
    if (!(logits = cn_malloc((size_t)n * classes * sizeof *logits))) {
        cli_error("out of memory for %d x %d outputs", n, classes);
        goto done;
    }
    int64_t dims[2] = {n, classes};
    if (cn_predict(net, d, batch, n, logits, &err) || cn_npy_write(out, logits, 2, dims, &err)) {
        cli_error("%s: %s", model, err.msg);
        goto done;
    }
    if (!c.quiet) printf("%s on %s (%s): %d x %d outputs written to %s\n", model, data.name, split, n, classes, out);
    rc = 0;
done:
    cn_free(logits);
    cn_data_free(&data);
    cn_net_free(net);
    return rc;
}
