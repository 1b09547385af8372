/* arch.c: the architectures behind `--arch mlp|cnn|resnet`, written out as model-format text so that
 * every network, from flags or from a file, goes through the same parser and checkpoint format. */
#include <stdlib.h>
#include <string.h>
#include "core/strbuf.h"
#include "critnet.h"

/* a linear map followed by its normalisation and activation, in the order torch users write them */
static void norm_act(cn_sb *sb, const char *indent, const char *norm, cn_act act)
{
    if (strcmp(norm, "batch") == 0) cn_sb_printf(sb, "%sbatchnorm act=%s\n", indent, cn_act_name(act));
    else if (strcmp(norm, "layer") == 0) cn_sb_printf(sb, "%slayernorm act=%s\n", indent, cn_act_name(act));
}

static int check_common(const cn_arch *a, cn_error *err)
{
    const char *norm = a->norm ? a->norm : "none";
    if (strcmp(norm, "none") && strcmp(norm, "batch") && strcmp(norm, "layer"))
        return cn_error_set(err, CN_ERR_ARG, "--norm %s: expected none, batch or layer", norm);
    if (a->width < 1 || a->width > 1000000) return cn_error_set(err, CN_ERR_ARG, "--width %d: must be >= 1", a->width);
    if (a->depth < 0 || a->depth > 10000) return cn_error_set(err, CN_ERR_ARG, "--depth %d: must be >= 0", a->depth);
    if (a->classes < 1) return cn_error_set(err, CN_ERR_ARG, "--classes %d: must be >= 1", a->classes);
    if (a->dropout < 0 || a->dropout >= 1) return cn_error_set(err, CN_ERR_ARG, "--dropout %g: must be in [0,1)", a->dropout);
    if ((unsigned)a->act >= CN_ACT_COUNT) return cn_error_set(err, CN_ERR_ARG, "unknown activation");
    if (a->in_c < 1 || a->in_h < 1 || a->in_w < 1) return cn_error_set(err, CN_ERR_ARG, "bad input shape");
    return CN_OK;
}

static void mlp(cn_sb *sb, const cn_arch *a, const char *norm)
{
    if (a->in_h * a->in_w > 1) cn_sb_append(sb, "flatten\n");
    int fused = strcmp(norm, "none") == 0;
    for (int l = 0; l < a->depth; l++) {
        cn_sb_printf(sb, "dense out=%d act=%s\n", a->width, cn_act_name(fused ? a->act : CN_ACT_IDENTITY));
        norm_act(sb, "", norm, a->act);
        if (a->dropout > 0) cn_sb_printf(sb, "dropout p=%g\n", a->dropout);
    }
    cn_sb_printf(sb, "dense out=%d\n", a->classes);
}

static int cnn(cn_sb *sb, const cn_arch *a, const char *norm, cn_error *err)
{
    int channels[32], stages = 0;
    if (a->channels && *a->channels) {
        const char *s = a->channels;
        while (*s) {
            char *end;
            long c = strtol(s, &end, 10);
            if (end == s || c < 1 || c > 100000 || stages == 32 || (*end && *end != ','))
                return cn_error_set(err, CN_ERR_ARG, "--channels %s: expected a comma list like 32,64", a->channels);
            channels[stages++] = (int)c;
            s = *end ? end + 1 : end;
        }
    } else {
        for (int i = 0; i < a->depth && i < 32; i++) channels[stages++] = a->width << i;
    }
    int h = a->in_h, w = a->in_w, fused = strcmp(norm, "none") == 0;
    for (int i = 0; i < stages; i++) {
        cn_sb_printf(sb, "conv out=%d k=3 pad=1 act=%s\n", channels[i], cn_act_name(fused ? a->act : CN_ACT_IDENTITY));
        norm_act(sb, "", norm, a->act);
        if (h >= 2 && w >= 2) {
            cn_sb_append(sb, "maxpool k=2\n");
            h /= 2;
            w /= 2;
        }
    }
    cn_sb_append(sb, "flatten\n");
    cn_sb_printf(sb, "dense out=128 act=%s\n", cn_act_name(a->act));
    if (a->dropout > 0) cn_sb_printf(sb, "dropout p=%g\n", a->dropout);
    cn_sb_printf(sb, "dense out=%d\n", a->classes);
    return CN_OK;
}

/* Three stages of basic blocks (width, 2 width, 4 width channels), the last two halving the resolution,
 * as the CIFAR ResNets of He et al. (2016), scaled to 28x28 inputs. */
static void resnet(cn_sb *sb, const cn_arch *a, const char *norm)
{
    int fused = strcmp(norm, "none") == 0;
    const char *act = cn_act_name(a->act), *pre = cn_act_name(fused ? a->act : CN_ACT_IDENTITY);
    cn_sb_printf(sb, "conv out=%d k=3 pad=1 act=%s\n", a->width, pre);
    norm_act(sb, "", norm, a->act);
    int blocks = a->depth > 0 ? a->depth : 1;
    for (int stage = 0; stage < 3; stage++) {
        int c = a->width << stage;
        for (int b = 0; b < blocks; b++) {
            int stride = stage > 0 && b == 0 ? 2 : 1;
            cn_sb_printf(sb, "residual act=%s\n", act);
            cn_sb_printf(sb, "  conv out=%d k=3 stride=%d pad=1 act=%s\n", c, stride, pre);
            norm_act(sb, "  ", norm, a->act);
            cn_sb_printf(sb, "  conv out=%d k=3 pad=1\n", c);
            if (!fused) cn_sb_printf(sb, "  %s\n", strcmp(norm, "batch") == 0 ? "batchnorm" : "layernorm");
            cn_sb_append(sb, "end\n");
        }
    }
    cn_sb_append(sb, "gap\nflatten\n");
    if (a->dropout > 0) cn_sb_printf(sb, "dropout p=%g\n", a->dropout);
    cn_sb_printf(sb, "dense out=%d\n", a->classes);
}

int cn_arch_spec(char **out, const cn_arch *a, cn_error *err)
{
    *out = NULL;
    int rc = check_common(a, err);
    if (rc) return rc;
    const char *norm = a->norm ? a->norm : "none";
    cn_sb sb = {0};
    if (a->in_h == 1 && a->in_w == 1) cn_sb_printf(&sb, "input %d\n", a->in_c);
    else cn_sb_printf(&sb, "input %d %d %d\n", a->in_c, a->in_h, a->in_w);
    if (strcmp(a->arch, "mlp") == 0) {
        mlp(&sb, a, norm);
    } else if (strcmp(a->arch, "cnn") == 0) {
        if (a->in_h < 2) rc = cn_error_set(err, CN_ERR_ARG, "--arch cnn needs image inputs (C H W)");
        else rc = cnn(&sb, a, norm, err);
    } else if (strcmp(a->arch, "resnet") == 0) {
        if (a->in_h < 4) rc = cn_error_set(err, CN_ERR_ARG, "--arch resnet needs image inputs (C H W)");
        else resnet(&sb, a, norm);
    } else {
        rc = cn_error_set(err, CN_ERR_ARG, "--arch %s: expected mlp, cnn or resnet", a->arch);
    }
    if (!rc && sb.failed) rc = cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    if (rc) {
        cn_sb_free(&sb);
        return rc;
    }
    *out = sb.s;
    return CN_OK;
}
