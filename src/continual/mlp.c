/* mlp.c: the network of a continual run. */
#include <math.h>
#include <string.h>
#include "core/strbuf.h"
#include "continual/mlp.h"
#include "net/net_internal.h"

char *cl_mlp_spec(int c, int h, int w, int width, int depth, int classes)
{
    cn_sb sb = {0};
    cn_sb_printf(&sb, "input %d %d %d\nflatten\n", c, h, w);
    for (int l = 0; l < depth; l++) cn_sb_printf(&sb, "dense out=%d act=relu\n", width);
    cn_sb_printf(&sb, "dense out=%d\n", classes);
    if (sb.failed) {
        cn_sb_free(&sb);
        return NULL;
    }
    return sb.s;
}

int cl_mlp_dense(const cn_net *net, int *idx, int cap)
{
    const cn_chain *ch = &net->chain;
    int n = 0;
    for (int i = 0; i < ch->n; i++) {
        const unsigned traits = ch->layers[i]->ops->traits;
        if (i == 0 && (traits & CN_TRAIT_RESHAPE)) continue;
        if (!(traits & CN_TRAIT_DENSE) || n >= cap) return -1;
        idx[n++] = i;
    }
    return n;
}

int cl_mlp_init(cn_net *net, cn_rng *rng)
{
    cn_init init = {.kind = CN_INIT_KAIMING_UNIFORM};
    int rc = cn_net_init(net, &init, rng);
    if (rc) return rc;
    cn_layer *out = net->chain.layers[net->chain.n - 1];
    size_t nw = out->nparams - out->nbias;
    const cn_real s = (cn_real)(1 / sqrt(2.0));
    for (size_t i = 0; i < nw; i++) out->p[i] *= s;
    return CN_OK;
}
