/* fastpath.c: the batch-1 SGD step of a continual run with the update fused into the backward pass.
 * With one example, a dense layer's weight gradient is the outer product g a^T, so the update is one rank-1
 * call (ger) on the parameters themselves: no gradient buffer to zero, fill and read back, and no separate
 * optimizer pass over every parameter. Forward and input gradients are matrix-vector products (gemv).
 * Layer by layer from the top, the input gradient is taken before that layer's update, so every gradient
 * is the one the generic path (online.c) computes from the same weights; only the rounding of the update's
 * terms differs (tests/test_continual.c compares the two). */
#include <math.h>
#include <string.h>
#include "continual/run.h"
#include "continual/tasks.h"
#include "net/net_internal.h"

int cl_fast_supported(const cn_continual *c)
{
    /* Adam keeps per-parameter moments, and crit's regulariser enters the backward pass at the
     * pre-activations; both go through the generic step */
    return !(c->cfg.methods & (CN_CL_ADAM | CN_CL_CRIT));
}

/* p -= lr (wd p + 2 lambda (p - p0)) for the n parameters of one layer: weight decay and l2init's pull,
 * applied before the rank-1 update of the gradient term. As p -= k p, not p *= (1 - k): in float, 1 - 3e-7
 * (lr 0.003 times weight decay 1e-4) is off by 0.6% of the decay, a bias that would add up over millions of
 * steps, while k p is rounded relative to itself. */
static void shrink(cn_real *restrict p, const cn_real *restrict p0, size_t n, double lr, double wd, double lambda)
{
    const cn_real kd = (cn_real)(lr * wd), kl = (cn_real)(2 * lr * lambda);
    if (p0) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) p[i] -= kd * p[i] + kl * (p[i] - p0[i]);
    } else if (wd > 0) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) p[i] -= kd * p[i];
    }
}

int cl_fast_step(cn_continual *c, int idx, int *hit, double *loss, long *replaced)
{
    const cn_dataset *tr = &c->data->train;
    cn_net *net = c->net;
    cn_chain *ch = &net->chain;
    const unsigned m = c->cfg.methods;
    const double lr = c->lr, wd = (m & (CN_CL_L2 | CN_CL_SNP)) ? c->cfg.weight_decay : 0;
    const double lambda = c->cfg.l2init_weight;
    int32_t y = tr->y[idx];
    cl_permute(c->x, tr->x + (size_t)idx * c->n_in, c->perm, c->n_in);
    ch->x = c->x;
    const cn_real *a = c->x;
    for (int d = 0; d < c->ndense; d++) {
        const cn_layer *L = ch->layers[c->dense[d]];
        const int nout = cn_shape_size(L->out), nin = cn_shape_size(L->in);
        cn_real *out = ch->outs[c->dense[d]];
        memcpy(out, L->p + (size_t)nout * nin, (size_t)nout * sizeof *out);
        cn_gemv(CblasRowMajor, CblasNoTrans, nout, nin, 1, L->p, nin, a, 1, 1, out, 1);
        if (d < c->ndense - 1) {
#pragma omp simd
            for (int i = 0; i < nout; i++) out[i] = out[i] > 0 ? out[i] : 0;
        }
        a = out;
    }
    *loss = cn_loss(CN_LOSS_CROSS_ENTROPY, a, &y, 1, c->classes, c->dlogits, hit);
    if (!isfinite(*loss)) return CN_ERR_NONFINITE;
    const cn_real *g = c->dlogits;
    for (int d = c->ndense - 1; d >= 0; d--) {
        cn_layer *L = ch->layers[c->dense[d]];
        const int nout = cn_shape_size(L->out), nin = cn_shape_size(L->in);
        const cn_real *below = d ? ch->outs[c->dense[d - 1]] : c->x;
        cn_real *W = L->p, *b = L->p + (size_t)nout * nin, *gin = NULL;
        if (d > 0) { /* the input gradient, with the weights before their update; ReLU passes it where a > 0 */
            gin = d & 1 ? c->grad_a : c->grad_b;
            cn_gemv(CblasRowMajor, CblasTrans, nout, nin, 1, W, nin, g, 1, 0, gin, 1);
#pragma omp simd
            for (int j = 0; j < nin; j++) gin[j] = below[j] > 0 ? gin[j] : 0;
        }
        shrink(W, c->theta0 ? c->theta0 + (W - net->params) : NULL, L->nparams, lr, wd, lambda);
        cn_ger(CblasRowMajor, nout, nin, (cn_real)-lr, g, 1, below, 1, W, nin);
        for (int i = 0; i < nout; i++) b[i] -= (cn_real)lr * g[i];
        g = gin;
    }
    cn_optim_set_steps(c->opt, cn_optim_steps(c->opt) + 1); /* as the generic step's optimizer counts */
    if (m & CN_CL_SNP) cl_perturb(c);
    if (m & CN_CL_CBP) *replaced += cn_cbp_step(c->cbp, c->opt, c->rng_method);
    c->steps_done++;
    return CN_OK;
}
