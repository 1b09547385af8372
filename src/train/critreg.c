/* critreg.c: the criticality regulariser of critical training, with its exact gradient. Two targets:
 *   sigma:  R = (1/L) sum_l (ln sigma_l)^2, sigma_l estimated on the minibatch from m Gaussian jvp probes
 *           per block, sigma_l^2 = (sum |J_l u|^2 / n_l) / (sum |u|^2 / n_{l-1}) (`critnet measure`'s);
 *   lambda: R = lambda^2, one tangent per probe and example through every block (apply_lambda).
 * With a crit batch, the probes run on the first examples of the minibatch only.
 *
 * R is a function of jvps, so its gradient is second order. Per block, the tangent pass is run forward
 * with every layer's tangent input kept, then differentiated in reverse: for a layer v = phi'(z) (W t),
 * z = W h + b, a cotangent g on v gives
 *     the tangent path:  gq = g phi'(z),  g_t = W^T gq,  dW += gq t^T
 *     the primal path:   gz = sum_k g a phi''(z) with a = W t
 * and gz, a cotangent on the primal pre-activation, joins the task loss's backward pass at that layer
 * (cn_chain_backward_extra), which carries it into this and every earlier layer's parameters with the
 * GEMMs that pass does anyway. a is kept from the tangent pass rather than computed again. */
#include <math.h>
#include <string.h>
#include "net/net_internal.h"
#include "onnx/onnx_net.h"
#include "train/critreg.h"

struct cn_critreg {
    cn_critreg_graph *graph; /* a graph net's regulariser (critreg_graph.c); the rest is the layer chain's */
    cn_net *net;
    cn_block *blocks;
    int L, m, maxB, maxlayers;
    int target, batch;
    double beta;
    cn_real *block_scale; /* lambda target: per block, the factor its tangent output was rescaled by */
    size_t widest;
    cn_real **t;       /* per layer of the longest span (a block; for lambda, all of them): its tangent input
                        * (m, B, n_in); t[len] the output */
    cn_real *g, *g2;   /* tangent cotangents (m, B, widest) */
    cn_real **a;       /* per layer of that span: its pre-activation tangent W t (m, B, n_out) */
    cn_real *bias_save;
    cn_real **extra_z; /* per layer of the net: cotangent to add at its pre-activation (B, n_i) */
    cn_real *extra_buf;
    size_t *extra_off;
    /* per layer of the net, for smooth activations: phi'(z) and phi''(z) (B, n_i), evaluated once per step
     * from the stored output; the tangent pass, its reverse and the phi'' term all read them, and
     * recomputing tanh for each of those was half of a regularised step */
    cn_real *d1_buf, *d2_buf;
};

void cn_critreg_free(cn_critreg *r)
{
    if (!r) return;
    cn_critreg_graph_free(r->graph);
    for (int i = 0; i <= r->maxlayers; i++) {
        if (r->t) cn_free(r->t[i]);
        if (r->a) cn_free(r->a[i]);
    }
    cn_free(r->t);
    cn_free(r->a);
    cn_free(r->g);
    cn_free(r->g2);
    cn_free(r->bias_save);
    cn_free(r->extra_z);
    cn_free(r->extra_buf);
    cn_free(r->extra_off);
    cn_free(r->d1_buf);
    cn_free(r->block_scale);
    cn_free(r->d2_buf);
    cn_free(r->blocks);
    cn_free(r);
}

int cn_critreg_new(cn_critreg **out, cn_net *net, const cn_critreg_cfg *cfg, int max_batch, cn_error *err)
{
    *out = NULL;
    const double beta = cfg->beta;
    const int probes = cfg->probes;
    if (!(beta >= 0)) return cn_error_set(err, CN_ERR_ARG, "--crit-weight %g: must be >= 0", beta);
    if (probes < 1) return cn_error_set(err, CN_ERR_ARG, "--crit-probes %d: must be >= 1", probes);
    if (cfg->target != CN_CRIT_SIGMA && cfg->target != CN_CRIT_LAMBDA)
        return cn_error_set(err, CN_ERR_ARG, "criticality target %d: unknown (sigma or lambda)", cfg->target);
    if (cfg->batch < 0) return cn_error_set(err, CN_ERR_ARG, "--crit-batch %d: must be >= 1", cfg->batch);
    if (max_batch < 1) return cn_error_set(err, CN_ERR_ARG, "batch %d: must be >= 1", max_batch);
    if (cn_net_graph(net)) {
        cn_critreg *r = cn_calloc(1, sizeof *r);
        if (!r) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
        int rc = cn_critreg_graph_new(&r->graph, net, cfg, max_batch, err);
        if (rc) {
            cn_free(r);
            return rc;
        }
        *out = r;
        return CN_OK;
    }
    int n = cn_net_layer_count(net);
    for (int i = 0; i < n; i++)
        if (!(cn_net_layer_traits(net, i) & CN_TRAIT_CRITREG))
            return cn_error_set(err, CN_ERR_UNSUPPORTED,
                                "the layer engine's criticality regulariser does not support '%s' layers (layer %d); "
                                "it covers dense, conv, act, pools, flatten and dropout: train with --engine graph, "
                                "whose regulariser covers every layer",
                                cn_net_layer_kind(net, i), i + 1);
    cn_critreg *r = cn_calloc(1, sizeof *r);
    if (!r) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    r->net = net;
    r->beta = beta;
    r->m = probes;
    r->maxB = max_batch;
    r->target = cfg->target;
    r->batch = cfg->batch;
    int rc = cn_net_blocks(net, cfg->include_readout, &r->blocks, &r->L);
    if (rc) goto nomem;
    r->widest = (size_t)cn_net_in_size(net);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t w = (size_t)cn_net_layer_out_size(net, i);
        if (w > r->widest) r->widest = w;
        total += w;
    }
    for (int l = 0; l < r->L; l++) {
        int len = r->blocks[l].last - r->blocks[l].first + 1;
        if (len > r->maxlayers) r->maxlayers = len;
    }
    /* the lambda target carries its tangent through every block at once */
    if (r->target == CN_CRIT_LAMBDA) r->maxlayers = r->blocks[r->L - 1].last - r->blocks[0].first + 1;
    size_t tan = (size_t)probes * max_batch * r->widest;
    r->t = cn_calloc((size_t)r->maxlayers + 1, sizeof *r->t);
    r->a = cn_calloc((size_t)r->maxlayers + 1, sizeof *r->a);
    r->extra_z = cn_calloc((size_t)n, sizeof *r->extra_z);
    r->extra_off = cn_calloc((size_t)n, sizeof *r->extra_off);
    r->extra_buf = cn_calloc(total * max_batch, sizeof(cn_real));
    r->d1_buf = cn_malloc(total * max_batch * sizeof(cn_real));
    r->d2_buf = cn_malloc(total * max_batch * sizeof(cn_real));
    r->g = cn_malloc(tan * sizeof(cn_real));
    r->g2 = cn_malloc(tan * sizeof(cn_real));
    r->bias_save = cn_malloc(r->widest * sizeof(cn_real));
    r->block_scale = cn_malloc((size_t)r->L * sizeof *r->block_scale);
    if (!r->t || !r->a || !r->extra_z || !r->extra_off || !r->extra_buf || !r->d1_buf || !r->d2_buf || !r->g ||
        !r->g2 || !r->bias_save || !r->block_scale)
        goto nomem;
    for (int i = 0; i <= r->maxlayers; i++)
        if (!(r->t[i] = cn_malloc(tan * sizeof(cn_real))) || !(r->a[i] = cn_malloc(tan * sizeof(cn_real))))
            goto nomem;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        r->extra_off[i] = off;
        off += (size_t)max_batch * cn_net_layer_out_size(net, i);
    }
    if ((rc = cn_net_reserve(net, max_batch, probes))) goto nomem;
    *out = r;
    return CN_OK;
nomem:
    cn_critreg_free(r);
    return cn_error_set(err, CN_ERR_NOMEM, "out of memory for the criticality regulariser");
}

static double rms2_sum(const cn_real *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return s;
}

/* Layers whose second derivative enters the gradient: a smooth activation after a linear map. */
static int has_curvature(const cn_layer *L)
{
    return L->ops->preact && L->ops->preact(L) && L->act != CN_ACT_RELU && L->act != CN_ACT_LEAKY_RELU;
}

/* One layer's tangent pass, t_out = phi'(z) (W t_in), keeping a = W t_in where the reverse needs it. The layers
 * the regulariser covers (CN_TRAIT_CRITREG) are critnet's own, whose passes cannot fail once reserved, so
 * their statuses are not checked here; the primal backward (cn_critreg_backward) returns the chain's. */
static void layer_tangent(cn_critreg *r, int li, const cn_real *t_in, cn_real *a, cn_real *t_out, int B)
{
    cn_layer *L = r->net->chain.layers[li];
    if (!has_curvature(L)) {
        cn_net_layer_jvp(r->net, li, t_in, t_out, B, r->m);
        return;
    }
    cn_act act = L->act;
    const size_t bn = (size_t)B * cn_shape_size(L->out);
    const cn_real *d1 = r->d1_buf + r->extra_off[li];
    L->act = CN_ACT_IDENTITY;
    L->ops->jvp(L, t_in, a, B, r->m);
    L->act = act;
    for (int k = 0; k < r->m; k++) {
        const cn_real *ak = a + (size_t)k * bn;
        cn_real *tk = t_out + (size_t)k * bn;
#pragma omp simd
        for (size_t j = 0; j < bn; j++) tk[j] = ak[j] * d1[j];
    }
}

/* Reverse of one layer's tangent pass. g: cotangent of its tangent output (m,B,n_out); writes the
 * cotangent of its tangent input into g_in (may be NULL) and the primal cotangent at its pre-activation
 * into extra_z[li]. */
static void layer_tangent_vjp(cn_critreg *r, int li, const cn_real *t_in, const cn_real *a, const cn_real *g,
                              cn_real *g_in, int B)
{
    cn_net *net = r->net;
    cn_layer *L = net->chain.layers[li];
    const int m = r->m;
    const size_t nin = (size_t)cn_shape_size(L->in), nout = (size_t)cn_shape_size(L->out), bn = (size_t)B * nout;
    const cn_real *y = net->chain.outs[li];
    const cn_real *z = L->ops->preact ? L->ops->preact(L) : NULL;
    const int smooth = has_curvature(L);
    const cn_real *d1 = r->d1_buf + r->extra_off[li], *d2 = r->d2_buf + r->extra_off[li];
    cn_act act = L->act;
    /* gq = g phi'(z): the cotangent of the linear part's output */
    cn_real *gq = r->g2;
    if (smooth) {
        for (int k = 0; k < m; k++) {
            const cn_real *gk = g + (size_t)k * bn;
            cn_real *qk = gq + (size_t)k * bn;
#pragma omp simd
            for (size_t j = 0; j < bn; j++) qk[j] = gk[j] * d1[j];
        }
    } else {
        memcpy(gq, g, (size_t)m * bn * sizeof *gq);
        if (z) cn_act_jvp(act, z, gq, bn, m);
    }
    /* the linear part's backward, tangent by tangent; the bias, used by the primal pass only, gets no
     * gradient from the tangent path, so its gradient is saved and put back */
    size_t nbias = L->nbias;
    if (nbias) memcpy(r->bias_save, L->g + L->nparams - nbias, nbias * sizeof(cn_real));
    L->act = CN_ACT_IDENTITY;
    for (int k = 0; k < m; k++)
        L->ops->backward(L, t_in + (size_t)k * B * nin, y, gq + (size_t)k * bn,
                         g_in ? g_in + (size_t)k * B * nin : NULL, B);
    L->act = act;
    if (nbias) memcpy(L->g + L->nparams - nbias, r->bias_save, nbias * sizeof(cn_real));
    /* the primal path through phi''(z): gz = sum_k g a phi''(z) */
    if (smooth) {
        cn_real *gz = r->extra_z[li];
        for (size_t j = 0; j < bn; j++) {
            double s = 0;
            for (int k = 0; k < m; k++) s += (double)g[(size_t)k * bn + j] * a[(size_t)k * bn + j];
            gz[j] += (cn_real)(s * d2[j]);
        }
    }
}

static void draw_probes(cn_rng *rng, cn_real *u, size_t n)
{
    for (size_t i = 0; i < n; i++) u[i] = (cn_real)cn_rng_normal(rng);
}

/* Reverse of the tangent pass over layers first .. first+len-1, from the cotangent r->g of its output.
 * lambda: undo the forward's rescaling at each block end inside the span. */
static void reverse_span(cn_critreg *r, int first, int len, int B, int lambda)
{
    cn_net *net = r->net;
    int l = lambda ? r->L - 1 : 0;
    for (int j = len - 1; j >= 0; j--) {
        int li = first + j;
        if (lambda && l > 0 && li == r->blocks[l - 1].last) {
            /* the forward rescaled this block's output by c: the cotangent of the unscaled output is c times
             * that of the scaled one */
            l--;
            const size_t nv = (size_t)r->m * B * r->blocks[l].n_out;
            const cn_real c = r->block_scale[l];
            for (size_t i = 0; i < nv; i++) r->g[i] *= c;
        }
        /* g_in reuses t[j + 1], whose contents are no longer needed once layer j is done */
        cn_real *g_in = j > 0 ? r->t[j + 1] : NULL;
        layer_tangent_vjp(r, li, r->t[j], r->a[j], r->g, g_in, B);
        if (g_in) memcpy(r->g, g_in, (size_t)r->m * B * cn_shape_size(net->chain.layers[li]->in) * sizeof(cn_real));
    }
}

/* sigma target: each block on its own, sigma_l^2 pooled over the probes and examples */
static int apply_sigma(cn_critreg *r, cn_rng *rng, int B, double *R, double *estimate)
{
    const int m = r->m;
    double total = 0, ln_sum = 0;
    for (int l = 0; l < r->L; l++) {
        const cn_block *blk = &r->blocks[l];
        int len = blk->last - blk->first + 1;
        size_t nu = (size_t)m * B * blk->n_in, nv = (size_t)m * B * blk->n_out;
        draw_probes(rng, r->t[0], nu);
        for (int j = 0; j < len; j++) layer_tangent(r, blk->first + j, r->t[j], r->a[j], r->t[j + 1], B);
        const cn_real *v = r->t[len];
        double U = rms2_sum(r->t[0], nu) / blk->n_in, S = rms2_sum(v, nv) / blk->n_out;
        double ln_sigma = 0.5 * log(S / U);
        if (!isfinite(ln_sigma)) return CN_ERR_NONFINITE;
        total += ln_sigma * ln_sigma / r->L;
        ln_sum += ln_sigma / r->L;
        /* dR/dv = (beta / L) (ln sigma / S) (2 v / n_out) */
        cn_real scale = (cn_real)(r->beta / r->L * ln_sigma / S * 2.0 / blk->n_out);
        for (size_t i = 0; i < nv; i++) r->g[i] = scale * v[i];
        reverse_span(r, blk->first, len, B, 0);
    }
    *R = total;
    if (estimate) *estimate = exp(ln_sum);
    return CN_OK;
}

/* lambda target: one tangent per probe and example carried through every block, pooled over the minibatch
 * in ratio form as sigma is: lambda = (1/L) (1/2) ln[(sum |v_L|^2 / n_L) / (sum |u|^2 / n_0)], R = lambda^2.
 * (The mean over rows of per-row logs, which `critnet measure` reports, was tried first: its gradient
 * v/|v|^2 blows up on the row whose tangent nearly vanishes, and a tanh MLP at sigma_w = 2.5 diverged.)
 * Each block's output is rescaled by one factor so that deep chaotic nets do not overflow; lambda is
 * invariant to such factors, so the gradient is that of the unscaled chain, with the cotangent rescaled by
 * the same factors on the way back. */
static int apply_lambda(cn_critreg *r, cn_rng *rng, int B, double *R, double *estimate)
{
    const int m = r->m, first = r->blocks[0].first, len = r->blocks[r->L - 1].last - first + 1;
    const size_t rows = (size_t)m * B, n0 = (size_t)r->blocks[0].n_in;
    draw_probes(rng, r->t[0], rows * n0);
    double ln_growth = -0.5 * log(rms2_sum(r->t[0], rows * n0) / (rows * n0)), s = 0;
    int l = 0;
    for (int j = 0; j < len; j++) {
        layer_tangent(r, first + j, r->t[j], r->a[j], r->t[j + 1], B);
        if (first + j != r->blocks[l].last) continue;
        const size_t nv = rows * r->blocks[l].n_out;
        cn_real *v = r->t[j + 1];
        s = rms2_sum(v, nv) / nv;
        ln_growth += 0.5 * log(s);
        if (l < r->L - 1) {
            cn_real c = (cn_real)(1 / sqrt(s));
            r->block_scale[l] = c;
            for (size_t i = 0; i < nv; i++) v[i] *= c;
        }
        l++;
    }
    const double lambda = ln_growth / r->L;
    if (!isfinite(lambda)) return CN_ERR_NONFINITE;
    /* dR/dv = beta 2 lambda / L * v / |v|^2, with |v|^2 = nv s over the last block's output */
    const size_t nv = rows * r->blocks[r->L - 1].n_out;
    const cn_real scale = (cn_real)(r->beta * 2 * lambda / r->L / (nv * s));
    for (size_t i = 0; i < nv; i++) r->g[i] = scale * r->t[len][i];
    reverse_span(r, first, len, B, 1);
    *R = lambda * lambda;
    if (estimate) *estimate = lambda;
    return CN_OK;
}

int cn_critreg_apply(cn_critreg *r, cn_rng *rng, int B, double *R, double *estimate)
{
    if (r->graph) return cn_critreg_graph_apply(r->graph, rng, B, R, estimate);
    if (B < 1 || B > r->maxB) return CN_ERR_ARG;
    cn_net *net = r->net;
    const int n = cn_net_layer_count(net);
    /* the probes run on the first Bc examples; the rest of the batch only sees the task loss */
    const int Bc = r->batch > 0 && r->batch < B ? r->batch : B;
    for (int i = 0; i < n; i++) {
        r->extra_z[i] = r->extra_buf + r->extra_off[i];
        memset(r->extra_z[i], 0, (size_t)B * cn_net_layer_out_size(net, i) * sizeof(cn_real));
        cn_layer *L = net->chain.layers[i];
        if (has_curvature(L))
            cn_act_derivs(L->act, L->ops->preact(L), net->chain.outs[i], r->d1_buf + r->extra_off[i],
                          r->d2_buf + r->extra_off[i], (size_t)Bc * cn_net_layer_out_size(net, i));
    }
    double Rv = 0;
    int rc = r->target == CN_CRIT_LAMBDA ? apply_lambda(r, rng, Bc, &Rv, estimate)
                                         : apply_sigma(r, rng, Bc, &Rv, estimate);
    if (R) *R = Rv;
    return rc;
}

int cn_critreg_backward(cn_critreg *r, const cn_real *dlogits, int B)
{
    if (r->graph) return cn_critreg_graph_backward(r->graph, dlogits, B);
    return cn_chain_backward_extra(&r->net->chain, dlogits, NULL, B, r->extra_z);
}

void cn_critreg_set_probes(cn_critreg *r, const cn_real *u)
{
    if (r->graph) cn_critreg_graph_set_probes(r->graph, u);
}
