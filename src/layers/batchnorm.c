/* batchnorm.c: batch normalisation with a fused activation, as torch.nn.BatchNorm2d (per channel over B,H,W)
 * and, on flat inputs (C,1,1), torch.nn.BatchNorm1d. Params: gamma (C) then beta (C); state: running_mean (C)
 * then running_var (C). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx/lower.h"
#include "kernels/norm.h"
#include "layers/layer.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

typedef struct {
    int C, HW; /* x is viewed as (B, C, HW); HW = 1 for flat inputs */
    double eps, momentum;
    int train; /* mode of the last forward: backward and jvp differentiate that same function */
    int maxB;
    cn_real *inv_std; /* (C) 1/sqrt(var + eps) of the batch (train) or running (eval) variance */
    cn_real *xhat;    /* (B,C,HW) normalised input */
    cn_real *z;       /* (B,C,HW) pre-activation gamma*xhat + beta; NULL for identity (y holds it) */
    cn_real *dz;      /* (B,C,HW) backward scratch */
} bn_impl;

/* x (B,C,HW), gamma (C), beta (C) -> xhat, z (B,C,HW) -> y (B,C,HW) */
static int bn_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    bn_impl *d = L->impl;
    const int C = d->C, HW = d->HW;
    const size_t m = (size_t)B * HW; /* values per channel */
    const cn_real *gamma = L->p, *beta = L->p + C;
    cn_real *rmean = L->s, *rvar = L->s + C;
    cn_real *z = L->act == CN_ACT_IDENTITY ? y : d->z;
    d->train = train != 0;
    /* Channel by channel, reading all of channel c before writing it, so y may alias x. */
    const cn_norm_span span = {(size_t)B, (size_t)HW, (size_t)C * HW};
    for (int c = 0; c < C; c++) {
        const size_t o = (size_t)c * HW;
        double mean, var;
        if (d->train) {
            cn_norm_span_moments(x + o, span, &mean, &var);
            /* PyTorch normalises with the biased variance but tracks the unbiased one. It refuses m = 1 in
             * training; we cannot fail here, so the running variance then keeps its value. */
            rmean[c] = (cn_real)((1 - d->momentum) * rmean[c] + d->momentum * mean);
            if (m > 1)
                rvar[c] = (cn_real)((1 - d->momentum) * rvar[c] + d->momentum * var * (double)m / (double)(m - 1));
        } else {
            mean = rmean[c];
            var = rvar[c];
        }
        const double is = 1.0 / sqrt(var + d->eps);
        d->inv_std[c] = (cn_real)is;
        cn_norm_span_apply(x + o, span, mean, is, gamma[c], beta[c], d->xhat + o, z + o);
    }
    if (z != y) cn_act_forward(L->act, z, y, m * C);
    return CN_OK;
}

/* dy (B,C,HW) -> dgamma, dbeta (C) accumulated, dx (B,C,HW).
 * Train mode couples the batch through the statistics:
 *   dx = gamma * inv_std * (dz - mean(dz) - xhat * mean(dz * xhat)), means per channel. */
static int bn_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    bn_impl *d = L->impl;
    const int C = d->C, HW = d->HW;
    const size_t m = (size_t)B * HW;
    const cn_real *gamma = L->p;
    cn_real *dgamma = L->g, *dbeta = L->g + C;
    const cn_real *dz = dy;
    if (L->act != CN_ACT_IDENTITY) {
        cn_act_backward(L->act, d->z, y, dy, d->dz, m * C);
        dz = d->dz;
    }
    const cn_norm_span span = {(size_t)B, (size_t)HW, (size_t)C * HW};
    for (int c = 0; c < C; c++) {
        const size_t o = (size_t)c * HW;
        double sdz, sdzx;
        cn_norm_span_sums(dz + o, d->xhat + o, span, &sdz, &sdzx);
        dgamma[c] += (cn_real)sdzx;
        dbeta[c] += (cn_real)sdz;
        if (!dx) continue;
        const double k = (double)gamma[c] * d->inv_std[c];
        const double a = d->train ? sdz / (double)m : 0, e = d->train ? sdzx / (double)m : 0;
        cn_norm_span_combine(dz + o, d->xhat + o, span, k, a, e, dx + o);
    }
    return CN_OK;
}

/* tx (K,B,C,HW) -> ty (K,B,C,HW). In train mode the tangent moves the batch mean and variance too:
 *   d xhat = inv_std * (t - mean(t) - xhat * mean(t * xhat)), means per channel over the batch. */
static int bn_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    bn_impl *d = L->impl;
    const int C = d->C, HW = d->HW;
    const size_t m = (size_t)B * HW, n = m * C;
    const cn_real *gamma = L->p;
    const cn_norm_span span = {(size_t)B, (size_t)HW, (size_t)C * HW};
    for (int k = 0; k < K; k++) {
        const cn_real *t = tx + (size_t)k * n;
        cn_real *u = ty + (size_t)k * n;
        for (int c = 0; c < C; c++) {
            const size_t o = (size_t)c * HW;
            double st = 0, stx = 0;
            if (d->train) cn_norm_span_sums(t + o, d->xhat + o, span, &st, &stx);
            cn_norm_span_combine(t + o, d->xhat + o, span, (double)gamma[c] * d->inv_std[c], st / (double)m,
                                 stx / (double)m, u + o);
        }
    }
    cn_act_jvp(L->act, d->z, ty, n, K);
    return CN_OK;
}

static int bn_reserve(cn_layer *L, int B, int K)
{
    bn_impl *d = L->impl;
    if (B <= d->maxB) return CN_OK;
    const size_t n = (size_t)B * d->C * d->HW;
    cn_free(d->xhat);
    cn_free(d->z);
    cn_free(d->dz);
    d->xhat = d->z = d->dz = NULL;
    d->maxB = 0;
    d->xhat = cn_malloc(n * sizeof *d->xhat);
    if (!d->xhat) return CN_ERR_NOMEM;
    if (L->act != CN_ACT_IDENTITY) {
        d->z = cn_malloc(n * sizeof *d->z);
        d->dz = cn_malloc(n * sizeof *d->dz);
        if (!d->z || !d->dz) return CN_ERR_NOMEM;
    }
    d->maxB = B;
    return CN_OK;
}

/* The torch defaults whatever the init kind: the weight inits are meant for weight matrices. */
static int bn_init(cn_layer *L, const cn_init *init, cn_rng *rng)
{
    const int C = ((bn_impl *)L->impl)->C;
    for (int c = 0; c < C; c++) {
        L->p[c] = 1;
        L->p[C + c] = 0;
        L->s[c] = 0;
        L->s[C + c] = 1;
    }
    return CN_OK;
}

static int bn_print(const cn_layer *L, char *buf, size_t cap)
{
    const bn_impl *d = L->impl;
    char act[48] = "", eps[48] = "", mom[48] = "", num[32];
    if (L->act != CN_ACT_IDENTITY) snprintf(act, sizeof act, " act=%s", cn_act_name(L->act));
    if (d->eps != BN_EPS) {
        cn_format_real(num, sizeof num, d->eps);
        snprintf(eps, sizeof eps, " eps=%s", num);
    }
    if (d->momentum != BN_MOMENTUM) {
        cn_format_real(num, sizeof num, d->momentum);
        snprintf(mom, sizeof mom, " momentum=%s", num);
    }
    return snprintf(buf, cap, "batchnorm%s%s%s", act, eps, mom);
}

static void bn_destroy(cn_layer *L)
{
    bn_impl *d = L->impl;
    cn_free(d->inv_std);
    cn_free(d->xhat);
    cn_free(d->z);
    cn_free(d->dz);
}

/* BatchNormalization with gamma, beta and the running statistics; ONNX's momentum weighs the running value,
 * the complement of torch's */
static int bn_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    const bn_impl *d = L->impl;
    char n[4][48];
    const int64_t cd[1] = {d->C};
    const char *in[5] = {x, cn_lower_tensor(b, cn_lower_name(b, n[0], sizeof n[0], "weight"), L->p, 1, cd),
                         cn_lower_tensor(b, cn_lower_name(b, n[1], sizeof n[1], "bias"), L->p + d->C, 1, cd),
                         cn_lower_tensor(b, cn_lower_name(b, n[2], sizeof n[2], "running_mean"), L->s, 1, cd),
                         cn_lower_tensor(b, cn_lower_name(b, n[3], sizeof n[3], "running_var"), L->s + d->C, 1, cd)};
    const cn_lower_attr attr[2] = {{.name = "epsilon", .type = CN_LOWER_FLOAT, .f = d->eps},
                                   {.name = "momentum", .type = CN_LOWER_FLOAT, .f = 1 - d->momentum}};
    const char *z = in[1] && in[2] && in[3] && in[4] ? cn_lower_node(b, "BatchNormalization", 5, in, 2, attr) : NULL;
    *y = z ? cn_lower_act(b, L->act, z) : NULL;
    return CN_OK;
}

static const cn_layer_ops bn_ops = {
    .kind = "batchnorm",
    .traits = CN_TRAIT_MAIN | CN_TRAIT_JOINS_PREVIOUS | CN_TRAIT_BATCH_STATS,
    .forward = bn_forward,
    .backward = bn_backward,
    .jvp = bn_jvp,
    .reserve = bn_reserve,
    .init = bn_init,
    .print = bn_print,
    .lower = bn_lower,
    .destroy = bn_destroy,
};

int cn_batchnorm_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    double eps, momentum;
    cn_act act;
    int rc;
    if ((rc = cn_args_real(args, "eps", BN_EPS, &eps, err)) ||
        (rc = cn_args_real(args, "momentum", BN_MOMENTUM, &momentum, err)) ||
        (rc = cn_args_act(args, "act", CN_ACT_IDENTITY, &act, err)))
        return rc;
    if (!(eps > 0)) return cn_error_set(err, CN_ERR_FORMAT, "batchnorm: eps=%g must be > 0", eps);
    if (!(momentum >= 0 && momentum <= 1))
        return cn_error_set(err, CN_ERR_FORMAT, "batchnorm: momentum=%g must be in [0,1]", momentum);
    if (cn_shape_size(in) < 1) return cn_error_set(err, CN_ERR_FORMAT, "batchnorm: empty input");
    cn_layer *L = cn_layer_alloc(&bn_ops, sizeof(bn_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "batchnorm: out of memory");
    bn_impl *d = L->impl;
    d->C = in.c;
    d->HW = in.h * in.w;
    d->eps = eps;
    d->momentum = momentum;
    d->inv_std = cn_malloc((size_t)in.c * sizeof *d->inv_std);
    if (!d->inv_std) {
        cn_layer_free(L);
        return cn_error_set(err, CN_ERR_NOMEM, "batchnorm: out of memory");
    }
    L->in = in;
    L->out = in;
    L->act = act;
    L->nparams = 2 * (size_t)in.c;
    L->nstate = 2 * (size_t)in.c;
    *out = L;
    return CN_OK;
}
