/* block_gain.c: the gain parameters of a block. One factor on one layer's multiplicative parameters turns the
 * block's gain: the last layer that has any, since everything after it in the block is parameter-free (an
 * activation) and so sees exactly the scaled pre-activation. A normalisation layer's scale is taken rather
 * than the weights before it, because batch statistics cancel a factor on the weights. Biases are never
 * scaled: they set the operating point, not the gain.
 * A residual block adds its body to its skip path. With an identity skip only the body can be turned (its
 * last layer, so that the branch scales as a whole). With a projection skip (a strided 1x1 conv, perhaps with
 * batch norm) the projection's gain is turned too, by the same factor: the projection alone had a gain
 * of e^1.26 in a batch-norm ResNet's third block, which no factor on the body could bring down to 1. */
#include "control/block_gain.h"
#include "net/net_internal.h"

static int chain_gain(cn_chain *c, cn_gain_slice *s);

/* the multiplicative parameters of one layer into s (s->n 0: none); a residual block may fill two */
static int layer_gain(cn_layer *L, cn_gain_slice *s)
{
    if (cn_layer_is_residual(L)) {
        int parts = chain_gain(cn_residual_body(L), s);
        if (parts) parts += chain_gain(cn_residual_proj(L), s + 1);
        return parts > 2 ? 2 : parts;
    }
    if (L->nparams == 0) return 0;
    unsigned t = L->ops->traits;
    if (t & CN_TRAIT_JOINS_PREVIOUS) { /* batch or layer norm: gamma, then beta */
        *s = (cn_gain_slice){.p = L->p, .n = L->nparams / 2};
        return 1;
    }
    if (t & CN_TRAIT_MAIN) {           /* dense or conv: W, then b */
        *s = (cn_gain_slice){.p = L->p, .n = L->nparams - L->nbias};
        return s->n > 0;
    }
    return 0;
}

/* the last layer of c that has gain parameters (a nested residual block is not built by any spec, so one
 * slice suffices here) */
static int chain_gain(cn_chain *c, cn_gain_slice *s)
{
    for (int i = c->n - 1; i >= 0; i--) {
        cn_gain_slice two[2] = {{0}};
        int k = layer_gain(c->layers[i], two);
        if (k) {
            *s = two[0];
            return 1;
        }
    }
    return 0;
}

int cn_block_gain_find(cn_net *net, const cn_block *blk, cn_block_gain *g)
{
    *g = (cn_block_gain){.parts = 0};
    if (net->graph) return CN_ERR_UNSUPPORTED;
    for (int i = blk->last; i >= blk->first && g->parts == 0; i--) g->parts = layer_gain(net->chain.layers[i], g->part);
    return CN_OK;
}

void cn_block_gain_scale(const cn_block_gain *g, double factor)
{
    for (int k = 0; k < g->parts; k++)
        for (size_t i = 0; i < g->part[k].n; i++) g->part[k].p[i] = (cn_real)(g->part[k].p[i] * factor);
}
