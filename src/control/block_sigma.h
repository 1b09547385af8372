/* block_sigma.h: ln sigma_l of one block on the stored forward pass, by jvp probes, with the estimator of
 * cn_measure (internal; shared by the critical initialisation and the homeostatic controller). */
#ifndef CN_BLOCK_SIGMA_H
#define CN_BLOCK_SIGMA_H

#include "critnet.h"

typedef struct {
    cn_net *net;
    int probes, max_batch;
    cn_real *ta, *tb, *tc, *td; /* (probes, max_batch, widest): probes, their images, and ping-pong scratch */
} cn_block_probe;

/* Buffers for `probes` probes on batches up to max_batch; the net must be reserved for as many (its tangent
 * buffers are not grown here, since growing them would drop the stored forward pass). */
int cn_block_probe_init(cn_block_probe *bp, cn_net *net, int max_batch, int probes);
void cn_block_probe_free(cn_block_probe *bp);
/* On the stored forward pass of B examples: the mean over examples of 0.5 ln(sum_p |J u_p|^2 / sum_p |u_p|^2)
 * (RMS norms), u_p ~ N(0, I) from rng. A per-example value that is not finite (a block whose Jacobian is 0)
 * counts as ln 1e-19, as in cn_measure. Returns the status of a failed jvp. */
int cn_block_ln_sigma(cn_block_probe *bp, const cn_block *blk, cn_rng *rng, int B, double *ln_sigma);

#endif
