/* critreg.h: the criticality regulariser of critical training (internal; see critreg.c). */
#ifndef CN_CRITREG_H
#define CN_CRITREG_H
#include "critnet.h"

typedef struct cn_critreg cn_critreg;

/* beta: weight of R in the total loss; probes: m jvp probes per block; include_readout: --crit-layers all */
int cn_critreg_new(cn_critreg **out, cn_net *net, double beta, int probes, int include_readout, int max_batch,
                   cn_error *err);
void cn_critreg_free(cn_critreg *r);
/* On the stored forward pass of B examples: R into *R (unweighted), the minibatch sigma into *sigma_geo,
 * beta dR/dtheta accumulated into the net's gradients, and the primal cotangents kept for the backward. */
int cn_critreg_apply(cn_critreg *r, cn_rng *rng, int B, double *R, double *sigma_geo);
/* The task loss's backward pass with the regulariser's primal cotangents joined in. */
void cn_critreg_backward(cn_critreg *r, const cn_real *dlogits, int B);
#endif
