/* critreg.h: the criticality regulariser of critical training (internal; see critreg.c). */
#ifndef CN_CRITREG_H
#define CN_CRITREG_H
#include "critnet.h"

typedef struct cn_critreg cn_critreg;

typedef struct {
    double beta;         /* weight of R in the total loss */
    cn_crit_target target;
    int probes;          /* m jvp probes (per block for sigma; tangents through the whole depth for lambda) */
    int include_readout; /* --crit-layers all */
    int batch;           /* the probes run on the first `batch` examples of each minibatch (0: all) */
} cn_critreg_cfg;

int cn_critreg_new(cn_critreg **out, cn_net *net, const cn_critreg_cfg *cfg, int max_batch, cn_error *err);
void cn_critreg_free(cn_critreg *r);
/* On the stored forward pass of B examples: R into *R (unweighted),
 * beta dR/dtheta accumulated into the net's gradients, and the primal cotangents kept for the backward.
 * estimate (may be NULL): the minibatch's sigma (geometric mean over blocks) or lambda_0, by target. */
int cn_critreg_apply(cn_critreg *r, cn_rng *rng, int B, double *R, double *estimate);
/* The task loss's backward pass with the regulariser's primal cotangents joined in. */
int cn_critreg_backward(cn_critreg *r, const cn_real *dlogits, int B);
/* Tests: use these probes (m x Bc x n_in values per block, the same for every block and step) instead of
 * drawing them; a graph net's regulariser only (NULL draws again). */
void cn_critreg_set_probes(cn_critreg *r, const cn_real *u);

/* The same on a network that runs a graph (critreg_graph.c); cn_critreg_* dispatch to it. */
typedef struct cn_critreg_graph cn_critreg_graph;
int cn_critreg_graph_new(cn_critreg_graph **out, cn_net *net, const cn_critreg_cfg *cfg, int max_batch, cn_error *err);
void cn_critreg_graph_free(cn_critreg_graph *r);
int cn_critreg_graph_apply(cn_critreg_graph *r, cn_rng *rng, int B, double *R, double *estimate);
int cn_critreg_graph_backward(cn_critreg_graph *r, const cn_real *dlogits, int B);
void cn_critreg_graph_set_probes(cn_critreg_graph *r, const cn_real *u);
#endif
