/* online.c: one step of online learning with batch size 1. The example is scored before the update on it,
 * as Dohare et al.'s online accuracy is: their learner returns the output of the forward pass that the
 * update then uses (lop/algos/bp.py, Backprop.learn). */
#include <math.h>
#include <string.h>
#include "continual/run.h"
#include "continual/tasks.h"
#include "net/net_internal.h"

/* l2init (Kumar et al.): the gradient of lambda |theta - theta_0|^2 is 2 lambda (theta - theta_0) */
static void add_l2init(cn_real *restrict g, const cn_real *restrict p, const cn_real *restrict p0, size_t n,
                       double lambda)
{
    const cn_real k = (cn_real)(2 * lambda);
#pragma omp simd
    for (size_t i = 0; i < n; i++) g[i] += k * (p[i] - p0[i]);
}

/* snp: Gaussian noise on every parameter after every step, in the flat parameter order (lop/algos/bp.py,
 * Backprop.perturb: weights and biases of every layer) */
void cl_perturb(cn_continual *c)
{
    cn_real *p = c->net->params;
    const double std = c->cfg.noise_std;
    for (size_t i = 0; i < c->net->nparams; i++) p[i] += (cn_real)(std * cn_rng_normal(c->rng_method));
}

int cl_online_step(cn_continual *c, int idx, int *hit, double *loss, long *replaced)
{
    const cn_dataset *tr = &c->data->train;
    const unsigned m = c->cfg.methods;
    cn_net *net = c->net;
    int32_t y = tr->y[idx];
    cl_permute(c->x, tr->x + (size_t)idx * c->n_in, c->perm, c->n_in);
    cn_net_forward(net, c->x, 1, 1);
    *loss = cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(net), &y, 1, c->classes, c->dlogits, hit);
    if (!isfinite(*loss)) return CN_ERR_NONFINITE;
    cn_net_zero_grad(net);
    int plain = 1;
    if ((m & CN_CL_CRIT) && c->steps_done % c->cfg.crit.every == 0) {
        /* With one example, a ReLU block whose units are all off for it has J_l = 0 and ln sigma_l = -inf:
         * R is undefined there, not divergent. Such a step takes the task loss alone (and is counted); the
         * regulariser's partial gradient is discarded. */
        double R;
        if (cn_critreg_apply(c->reg, c->rng_method, 1, &R, NULL) == CN_OK && isfinite(R)) {
            cn_critreg_backward(c->reg, c->dlogits, 1);
            plain = 0;
        } else {
            c->crit_skipped++;
            cn_net_zero_grad(net);
        }
    }
    if (plain) cn_net_backward(net, c->dlogits, NULL, 1);
    if (m & CN_CL_L2INIT) add_l2init(net->grads, net->params, c->theta0, net->nparams, c->cfg.l2init_weight);
    cn_optim_step(c->opt, net->params, net->grads, c->lr);
    if (m & CN_CL_SNP) cl_perturb(c);
    if (m & CN_CL_CBP) *replaced += cn_cbp_step(c->cbp, c->opt, c->rng_method);
    c->steps_done++;
    return CN_OK;
}
