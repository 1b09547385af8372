/* cmd_eval.c: `critnet eval`: accuracy and loss of a checkpoint on a data set's test split. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const char *usage =
    "usage: critnet eval --model DIR/model.cnm [--data D] [--json] [--loss L] [--limit N] [--batch N]\n"
    "Evaluates a checkpoint (eval mode: running batch-norm statistics, no dropout) on the test split.\n"
    "  --model FILE            a checkpoint written by critnet train\n"
    "  --json                  print a JSON object instead of text\n"
    "  --loss cross_entropy|mse  (default cross_entropy)\n"
    "  --limit N               only the first N test examples\n"
    "  --batch N               evaluation batch (default 500)\n"
    "  --split test|train      which split (default test)\n" CLI_COMMON_HELP;

enum { O_MODEL = 2000, O_JSON, O_LOSS, O_LIMIT, O_BATCH, O_SPLIT };

int cmd_eval(int argc, char **argv)
{
    static const struct option long_opts[] = {
        CLI_COMMON_OPTIONS, {"model", required_argument, 0, O_MODEL}, {"json", no_argument, 0, O_JSON},
        {"loss", required_argument, 0, O_LOSS}, {"limit", required_argument, 0, O_LIMIT},
        {"batch", required_argument, 0, O_BATCH}, {"split", required_argument, 0, O_SPLIT}, {0, 0, 0, 0}};
    cli_common c;
    cli_common_defaults(&c);
    const char *model = NULL, *split = "test";
    int json = 0, limit = 0, batch = 500, opt;
    cn_loss_kind loss = CN_LOSS_CROSS_ENTROPY;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return 2;
        if (r > 0) continue;
        switch (opt) {
        case 'h': fputs(usage, stdout); return 0;
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
        case O_SPLIT:
            if (strcmp(optarg, "test") && strcmp(optarg, "train")) {
                cli_error("--split %s: expected test or train", optarg);
                return 2;
            }
            split = optarg;
            break;
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
    cn_checkpoint ck;
    cn_error err = {0};
    if (cn_checkpoint_load(&ck, model, &err)) {
        cli_error("%s", err.msg);
        return 1;
    }
    cn_data data = {0};
    int rc = 1;
    if (cli_load_data(&data, &c)) goto done;
    const cn_dataset *d = strcmp(split, "train") == 0 ? &data.train : &data.test;
    double l, acc;
    if (cn_evaluate(ck.net, d, loss, batch, limit, &l, &acc, &err)) {
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
        cJSON_AddNumberToObject(root, "loss", l);
        cJSON_AddStringToObject(root, "loss_kind", cn_loss_name(loss));
        char *text = cJSON_Print(root);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(root);
    } else {
        printf("%s on %s (%s, %d examples): accuracy %.4f  loss %.4f\n", model, data.name, split, n, acc, l);
    }
    rc = 0;
done:
    cn_data_free(&data);
    cn_checkpoint_free(&ck);
    return rc;
}
