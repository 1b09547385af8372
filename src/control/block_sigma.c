/* block_sigma.c: one block's ln sigma_l from Gaussian jvp probes on the stored forward pass. The same ratio
 * form and the same per-example logarithm as measure/measure.c, so that a controller that drives this to 0
 * drives what `critnet measure` reports to 0, not a biased cousin of it. */
#include <math.h>
#include <string.h>
#include "control/block_sigma.h"

#define LN_FLOOR (-87.498) /* ln 1e-38, as measure.c floors a collapsed direction */

int cn_block_probe_init(cn_block_probe *bp, cn_net *net, int max_batch, int probes)
{
    memset(bp, 0, sizeof *bp);
    size_t widest = (size_t)cn_net_in_size(net);
    for (int i = 0; i < cn_net_layer_count(net); i++)
        if ((size_t)cn_net_layer_out_size(net, i) > widest) widest = (size_t)cn_net_layer_out_size(net, i);
    size_t n = (size_t)probes * max_batch * widest;
    bp->net = net;
    bp->probes = probes;
    bp->max_batch = max_batch;
    bp->ta = cn_malloc(n * sizeof(cn_real));
    bp->tb = cn_malloc(n * sizeof(cn_real));
    bp->tc = cn_malloc(n * sizeof(cn_real));
    bp->td = cn_malloc(n * sizeof(cn_real));
    if (bp->ta && bp->tb && bp->tc && bp->td) return CN_OK;
    cn_block_probe_free(bp);
    return CN_ERR_NOMEM;
}

void cn_block_probe_free(cn_block_probe *bp)
{
    cn_free(bp->ta);
    cn_free(bp->tb);
    cn_free(bp->tc);
    cn_free(bp->td);
    memset(bp, 0, sizeof *bp);
}

static double sum_sq(const cn_real *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    return s;
}

int cn_block_ln_sigma(cn_block_probe *bp, const cn_block *blk, cn_rng *rng, int B, double *ln_sigma)
{
    const int m = bp->probes;
    for (size_t i = 0; i < (size_t)m * B * blk->n_in; i++) bp->ta[i] = (cn_real)cn_rng_normal(rng);
    const cn_real *in = bp->ta;
    for (int i = blk->first; i <= blk->last; i++) {
        cn_real *out = i == blk->last ? bp->tb : ((i - blk->first) & 1 ? bp->td : bp->tc);
        int rc = cn_net_layer_jvp(bp->net, i, in, out, B, m);
        if (rc) return rc;
        in = out;
    }
    double total = 0;
    for (int b = 0; b < B; b++) {
        double ju = 0, u = 0;
        for (int p = 0; p < m; p++) {
            ju += sum_sq(bp->tb + ((size_t)p * B + b) * blk->n_out, blk->n_out) / blk->n_out;
            u += sum_sq(bp->ta + ((size_t)p * B + b) * blk->n_in, blk->n_in) / blk->n_in;
        }
        double l = 0.5 * log(ju / u);
        total += isfinite(l) ? l : 0.5 * LN_FLOOR;
    }
    *ln_sigma = total / B;
    return CN_OK;
}
