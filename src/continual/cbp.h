/* cbp.h: continual backprop (Dohare et al. 2024): after each update, hidden units of low utility that are
 * past a maturity threshold are re-initialised. Internal; the run (continual.c) drives it. */
#ifndef CN_CL_CBP_H
#define CN_CL_CBP_H
#include "critnet.h"

typedef struct {
    double replacement_rate; /* units per eligible unit and step, in [0, 1] */
    double decay;            /* eta of the running utility and mean activation, in [0, 1) */
    int maturity;            /* units with age > maturity are eligible */
    cn_cbp_utility utility;
    int bias_correction;     /* the next layer's bias absorbs a replaced unit's mean output */
} cn_cbp_cfg;

/* One hidden dense layer and what continual backprop keeps for its units. */
typedef struct {
    int layer, next;      /* chain indices of the hidden dense layer and of the dense layer it feeds */
    int n, fan_in, n_next;
    double bound;         /* new incoming weights ~ U(-bound, bound), bound = sqrt(6 / fan_in) */
    double *util;         /* running utility (not bias-corrected) */
    double *mean_act;     /* running mean activation (not bias-corrected) */
    int64_t *age;         /* updates since the unit was (re)initialised */
    double accumulated;   /* replacements owed, carried across steps */
    /* scratch of one step */
    double *corrected;    /* util / (1 - eta^age): the utility units are ranked by */
    double *in_mag, *out_mag;
    int nsel;             /* units chosen in this step, lowest corrected utility first */
    int *sel;
    double *sel_mean;     /* their bias-corrected mean activation, before the reset */
    unsigned char *taken;
} cn_cbp_layer;

typedef struct {
    cn_net *net;
    cn_cbp_cfg cfg;
    int L;                /* hidden layers */
    cn_cbp_layer *layers;
    int64_t exact_one_after; /* ages beyond this have a bias correction of exactly 1 */
} cn_cbp;

/* net must be an MLP of dense layers (an optional flatten first), every hidden one with a ReLU. */
int cn_cbp_new(cn_cbp **out, cn_net *net, const cn_cbp_cfg *cfg, cn_error *err);
void cn_cbp_free(cn_cbp *c);
/* One generate-and-test step after an optimizer update, for a forward pass of batch 1 whose activations the
 * net still holds: updates ages, running means and utilities (with the updated weights), chooses the units
 * to replace in every layer, then re-initialises them (incoming weights from rng, layer by layer, unit by
 * unit in the order chosen, row-major; bias 0; outgoing weights 0 after the bias correction). The optimizer's
 * state of the changed weights (Adam's moments) is zeroed; opt may be NULL. Returns the units replaced. */
long cn_cbp_step(cn_cbp *c, cn_optim *opt, cn_rng *rng);
#endif
