/* cmd_eval.c: `critnet eval`: accuracy and loss of a checkpoint on a data set's test split. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const char *usage =
    "usage: critnet eval --model FILE [--data D] [--json] [--loss L] [--limit N] [--batch N]\n"
    "Evaluates a model (eval mode: running batch-norm statistics, no dropout) on the test split.\n"
    "  --model FILE            a checkpoint written by critnet train, or an ONNX model (FILE.onnx)\n"
    "  --max-bytes N           ONNX: refuse larger files (default 2 GiB - 1)\n"
    "  --top5                  ONNX/ImageNet style: also report top-5 accuracy\n"
    "  --json                  print a JSON object instead of text\n"
    "  --loss cross_entropy|mse  (default cross_entropy)\n"
    "  --limit N               only the first N test examples\n"
    "  --batch N               evaluation batch (default 500, 16 for ONNX models)\n"
    "  --split test|train      which split (default test)\n" CLI_COMMON_HELP;

enum { O_MODEL = 2000, O_JSON, O_LOSS, O_LIMIT, O_BATCH, O_SPLIT, O_MAXBYTES, O_TOP5 };

int cmd_eval(int argc, char **argv)
{
    static const struct option long_opts[] = {
        CLI_COMMON_OPTIONS, {"model", required_argument, 0, O_MODEL}, {"json", no_argument, 0, O_JSON},
        {"loss", required_argument, 0, O_LOSS}, {"limit", required_argument, 0, O_LIMIT},
        {"batch", required_argument, 0, O_BATCH}, {"split", required_argument, 0, O_SPLIT},
        {"max-bytes", required_argument, 0, O_MAXBYTES}, {"top5", no_argument, 0, O_TOP5}, {0, 0, 0, 0}};
    cli_common c;
    cli_common_defaults(&c);
    const char *model = NULL, *split = "test";
    int json = 0, limit = 0, batch = 0, top5 = 0, opt;
    cli_model_opts mo = {0};
    cn_loss_kind loss = CN_LOSS_CROSS_ENTROPY;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return 2;
        if (r > 0) continue;
        switch (opt) {
        case 'h': cli_help(usage); return 0;
        case O_MODEL: model = optarg; break;
        case O_JSON: json = 1; break;
        case O_LOSS:
            if (cn_loss_from_name(optarg, &loss)) {
                cli_error("--loss %s: expected cross_entropy or mse", optarg);
                return 2;
            }
            break;
        case O_LIMIT: if (cli_parse_int("limit", optarg, 1, 1 << 30, &limit)) return 2; break;
        case O_BATCH: if (cli_parse_int("batch", optarg, 1, 1 << 20, &batch)) return 2; break;
        case O_MAXBYTES: if (cli_parse_size("max-bytes", optarg, &mo.max_bytes)) return 2; break;
        case O_TOP5: top5 = 1; break;
        case O_SPLIT: if (cli_parse_split(optarg, &split)) return 2; break;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s'", argv[optind]);
        return 2;
    }
    if (!model) {
        cli_error("--model FILE is required (see critnet eval --help)");
        return 2;
    }
    cn_set_threads(c.threads);
    cn_net *net;
    cn_error err = {0};
    if (cli_load_model(&net, model, &mo)) return 1;
    cli_image_defaults_for(&c, net);
    if (!batch) batch = cli_is_onnx_net(net) ? 16 : 500;
    cn_data data = {0};
    int rc = 1;
    c.image_limit = limit;
    if (cli_load_data(&data, &c)) goto done;
    const cn_dataset *d = cli_split(&data, split);
    if (d->classes < 1) {
        cli_error("%s has no labels: eval needs a labelled set (images:DIR with a folder per class, or npy with "
                  "labels)", data.name);
        goto done;
    }
    double l, acc, acc5 = NAN;
    if (cn_evaluate(net, d, loss, batch, limit, &l, &acc, &err) ||
        (top5 && cn_evaluate_topk(net, d, 5, batch, limit, &acc5, &err))) {
        cli_error("%s: %s", model, err.msg);
        goto done;
    }
    int n = limit > 0 && limit < d->count ? limit : d->count;
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "model", model);
        cJSON_AddStringToObject(root, "data", data.name);
        cJSON_AddStringToObject(root, "split", split);
        cJSON_AddNumberToObject(root, "examples", n);
        cJSON_AddNumberToObject(root, "accuracy", acc);
        if (top5) cJSON_AddItemToObject(root, "top5_accuracy", cli_json_num(acc5));
        cJSON_AddNumberToObject(root, "loss", l);
        cJSON_AddStringToObject(root, "loss_kind", cn_loss_name(loss));
        char *text = cJSON_Print(root);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(root);
    } else {
        printf("%s on %s (%s, %d examples): accuracy %.4f  loss %.4f", model, data.name, split, n, acc, l);
        if (top5) printf("  top-5 %.4f", acc5);
        printf("\n");
    }
    rc = 0;
done:
    cn_data_free(&data);
    cn_net_free(net);
    return rc;
}
