/* model_load.c: `--model FILE` for measure and eval: a checkpoint written by critnet train, or an ONNX file
 * (docs/onnx.md), told apart by the .onnx extension so that a corrupt file of either kind gets the message of
 * its own reader. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "cli.h"

int cli_is_onnx(const char *path)
{
    size_t n = strlen(path);
    return n >= 5 && strcasecmp(path + n - 5, ".onnx") == 0;
}

int cli_load_model(cn_net **net, const char *path, const cli_model_opts *o)
{
    cn_error err = {0};
    *net = NULL;
    if (cli_is_onnx(path)) {
        cn_onnx_opts oo = {.blocks = o->blocks, .max_bytes = o->max_bytes};
        if (cn_net_from_onnx(net, path, &oo, &err) == CN_OK) {
            if (cn_net_onnx_rebatched(*net))
                fprintf(stderr, "critnet: note: %s fixes the batch at %d; its first input axis runs as a batch of "
                        "any size\n", path, cn_net_onnx_rebatched(*net));
            return 0;
        }
    } else {
        if (o->blocks) {
            cli_error("--blocks applies to ONNX models (FILE.onnx) only");
            return -1;
        }
        cn_checkpoint ck;
        if (cn_checkpoint_load(&ck, path, &err) == CN_OK) {
            *net = ck.net;
            ck.net = NULL;
            cn_checkpoint_free(&ck);
            return 0;
        }
    }
    cli_error("%s", err.msg);
    return -1;
}

void cli_image_defaults_for(cli_common *c, const cn_net *net)
{
    int chw[3];
    cn_net_in_shape(net, chw);
    /* an image model's input fixes the crop; a square input is the usual case, and the shorter side is
     * resized in the 256:224 proportion of torchvision's ImageNet evaluation */
    if (c->image_crop == 0 && chw[1] == chw[2] && chw[1] > 1) c->image_crop = chw[1];
    if (c->image_normalize < 0) c->image_normalize = cli_is_onnx_net(net);
    if (chw[0] == 1) c->image_grey = 1;
    /* Gaussian inputs as many as the model takes: the 784 of an MNIST model was the default, so `measure
     * --model resnet18.onnx --data gaussian` failed with "takes 150528 inputs, but gaussian has 784" */
    if (c->in == 0 && c->data && strcmp(c->data, "gaussian") == 0) c->in = cn_net_in_size(net);
    /* and as many classes as it has outputs, or eval of a 3-class model on gaussian data failed on 10 classes */
    if (c->classes == 0 && c->data && strcmp(c->data, "gaussian") == 0) c->classes = cn_net_out_size(net);
}

int cli_is_onnx_net(const cn_net *net) { return cn_net_layer_name(net, 0) != NULL; }
