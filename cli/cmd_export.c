/* cmd_export.c: `critnet export`: a checkpoint written as ONNX with its trained weights, for PyTorch,
 * onnxruntime or any other ONNX reader: an imported model back into its own file's graph, a native one as the
 * graph its layers write (opset 17). */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const char *usage =
    "usage: critnet export --model DIR/model.cnm --out FILE.onnx\n"
    "Writes a checkpoint as ONNX. An imported model: the file the checkpoint refers to, with the weights and\n"
    "batch-norm statistics of the checkpoint in place of the file's (graph, names and opset unchanged). A native\n"
    "model (--arch, the model format): the graph of its layers at opset 17, weights and statistics in the\n"
    "checkpoint's order, named l<line>.weight, l<line>.bias, ... (dropout is written as Dropout).\n"
    "  --model FILE   a checkpoint (model.cnm), a model-format file, or an .onnx file (a copy)\n"
    "  --out FILE     the ONNX file to write (replaced whole, or left as it was on failure)\n";

enum { O_MODEL = 2000, O_OUT };

int cmd_export(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"out", required_argument, 0, O_OUT}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *model = NULL, *out = NULL;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cli_help(usage); return 0;
        case O_MODEL: model = optarg; break;
        case O_OUT: out = optarg; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!model || !out) {
        cli_error("--model FILE and --out FILE.onnx are required (see critnet export --help)");
        return 2;
    }
    cn_net *net;
    cli_model_opts mo = {0};
    if (cli_load_model(&net, model, &mo)) return 1;
    cn_error err = {0};
    int rc = cn_net_export_onnx(net, out, &err);
    if (rc) cli_error("%s", err.msg);
    else printf("wrote %s (%zu parameters, %zu batch-norm statistics from %s)\n", out, cn_net_param_count(net),
                cn_net_state_count(net), model);
    cn_net_free(net);
    return rc ? 1 : 0;
}
