/* layernorm.c: layer normalisation over each example's whole (C,H,W) vector with a fused activation, as
 * torch.nn.LayerNorm(normalized_shape=(C,H,W)). Params: gamma (n) then beta (n), n = C*H*W. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx/lower.h"
#include "kernels/norm.h"
#include "layers/layer.h"

#define LN_EPS 1e-5

typedef struct {
    int n;
    double eps;
    int maxB;
    cn_real *inv_std; /* (B) 1/sqrt(var + eps) per example */
    cn_real *xhat;    /* (B,n) normalised input */
    cn_real *z;       /* (B,n) pre-activation gamma*xhat + beta; NULL for identity (y holds it) */
    cn_real *dz;      /* (B,n) backward scratch */
} ln_impl;

/* x (B,n), gamma (n), beta (n) -> xhat, z (B,n) -> y (B,n) */
static int ln_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    ln_impl *d = L->impl;
    const int n = d->n;
    const cn_real *gamma = L->p, *beta = L->p + n;
    cn_real *z = L->act == CN_ACT_IDENTITY ? y : d->z;
    /* row by row, reading all of row i before writing it, so y may alias x */
    for (int b = 0; b < B; b++) {
        cn_real *xh = d->xhat + (size_t)b * n, *zr = z + (size_t)b * n;
        d->inv_std[b] = cn_norm_row(x + (size_t)b * n, xh, (size_t)n, d->eps).inv_std;
        cn_norm_affine_periodic(zr, xh, (size_t)n, gamma, beta, (size_t)n);
    }
    if (z != y) cn_act_forward(L->act, z, y, (size_t)B * n);
    return CN_OK;
}

/* dy (B,n) -> dgamma, dbeta (n) accumulated, dx (B,n): with g = dz * gamma, per example, the normalisation's
 * (symmetric) Jacobian applied to g, dx = inv_std * (g - mean(g) - xhat * mean(g * xhat)) */
static int ln_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    ln_impl *d = L->impl;
    const int n = d->n;
    const cn_real *gamma = L->p;
    cn_real *dgamma = L->g, *dbeta = L->g + n;
    const cn_real *dz = dy;
    if (L->act != CN_ACT_IDENTITY) {
        cn_act_backward(L->act, d->z, y, dy, d->dz, (size_t)B * n);
        dz = d->dz;
    }
    for (int b = 0; b < B; b++) {
        const cn_real *dr = dz + (size_t)b * n, *xh = d->xhat + (size_t)b * n;
        for (int j = 0; j < n; j++) {
            dgamma[j] += dr[j] * xh[j];
            dbeta[j] += dr[j];
        }
        if (dx) cn_norm_row_project(xh, d->inv_std[b], dr, gamma, dx + (size_t)b * n, (size_t)n);
    }
    return CN_OK;
}

/* tx (K,B,n) -> ty (K,B,n): ty = gamma * inv_std * (t - mean(t) - xhat * mean(t * xhat)), per example */
static int ln_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    ln_impl *d = L->impl;
    const int n = d->n;
    const cn_real *gamma = L->p;
    for (int r = 0; r < K * B; r++) {
        const int b = r % B;
        cn_real *u = ty + (size_t)r * n;
        cn_norm_row_project(d->xhat + (size_t)b * n, d->inv_std[b], tx + (size_t)r * n, NULL, u, (size_t)n);
        cn_norm_affine_periodic(u, u, (size_t)n, gamma, NULL, (size_t)n);
    }
    cn_act_jvp(L->act, d->z, ty, (size_t)B * n, K);
    return CN_OK;
}

static int ln_reserve(cn_layer *L, int B, int K)
{
    ln_impl *d = L->impl;
    if (B <= d->maxB) return CN_OK;
    const size_t n = (size_t)B * d->n;
    cn_free(d->inv_std);
    cn_free(d->xhat);
    cn_free(d->z);
    cn_free(d->dz);
    d->inv_std = d->xhat = d->z = d->dz = NULL;
    d->maxB = 0;
    d->inv_std = cn_malloc((size_t)B * sizeof *d->inv_std);
    d->xhat = cn_malloc(n * sizeof *d->xhat);
    if (!d->inv_std || !d->xhat) return CN_ERR_NOMEM;
    if (L->act != CN_ACT_IDENTITY) {
        d->z = cn_malloc(n * sizeof *d->z);
        d->dz = cn_malloc(n * sizeof *d->dz);
        if (!d->z || !d->dz) return CN_ERR_NOMEM;
    }
    d->maxB = B;
    return CN_OK;
}

/* the torch defaults whatever the init kind: the weight inits are meant for weight matrices */
static int ln_init(cn_layer *L, const cn_init *init, cn_rng *rng)
{
    const int n = ((ln_impl *)L->impl)->n;
    for (int j = 0; j < n; j++) {
        L->p[j] = 1;
        L->p[n + j] = 0;
    }
    return CN_OK;
}

static int ln_print(const cn_layer *L, char *buf, size_t cap)
{
    const ln_impl *d = L->impl;
    char act[48] = "", eps[48] = "", num[32];
    if (L->act != CN_ACT_IDENTITY) snprintf(act, sizeof act, " act=%s", cn_act_name(L->act));
    if (d->eps != LN_EPS) {
        cn_format_real(num, sizeof num, d->eps);
        snprintf(eps, sizeof eps, " eps=%s", num);
    }
    return snprintf(buf, cap, "layernorm%s%s", act, eps);
}

static void ln_destroy(cn_layer *L)
{
    ln_impl *d = L->impl;
    cn_free(d->inv_std);
    cn_free(d->xhat);
    cn_free(d->z);
    cn_free(d->dz);
}

/* LayerNormalization over every axis after the batch (axis 1), gamma and beta shaped like one example */
static int ln_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    const ln_impl *d = L->impl;
    char n[2][48];
    const int maps = cn_lower_rank(b) == 4;
    const int64_t dims[3] = {maps ? L->in.c : d->n, L->in.h, L->in.w};
    const int rank = maps ? 3 : 1;
    const char *in[3] = {x, cn_lower_tensor(b, cn_lower_name(b, n[0], sizeof n[0], "weight"), L->p, rank, dims),
                         cn_lower_tensor(b, cn_lower_name(b, n[1], sizeof n[1], "bias"), L->p + d->n, rank, dims)};
    const cn_lower_attr attr[2] = {{.name = "axis", .type = CN_LOWER_INT, .i = 1},
                                   {.name = "epsilon", .type = CN_LOWER_FLOAT, .f = d->eps}};
    const char *z = in[1] && in[2] ? cn_lower_node(b, "LayerNormalization", 3, in, 2, attr) : NULL;
    *y = z ? cn_lower_act(b, L->act, z) : NULL;
    return CN_OK;
}

static const cn_layer_ops ln_ops = {
    .kind = "layernorm",
    .traits = CN_TRAIT_MAIN | CN_TRAIT_JOINS_PREVIOUS,
    .forward = ln_forward,
    .backward = ln_backward,
    .jvp = ln_jvp,
    .reserve = ln_reserve,
    .init = ln_init,
    .print = ln_print,
    .lower = ln_lower,
    .destroy = ln_destroy,
};

int cn_layernorm_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    double eps;
    cn_act act;
    int rc;
    if ((rc = cn_args_real(args, "eps", LN_EPS, &eps, err)) ||
        (rc = cn_args_act(args, "act", CN_ACT_IDENTITY, &act, err)))
        return rc;
    if (!(eps > 0)) return cn_error_set(err, CN_ERR_FORMAT, "layernorm: eps=%g must be > 0", eps);
    if (cn_shape_size(in) < 1) return cn_error_set(err, CN_ERR_FORMAT, "layernorm: empty input");
    cn_layer *L = cn_layer_alloc(&ln_ops, sizeof(ln_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "layernorm: out of memory");
    ln_impl *d = L->impl;
    d->n = cn_shape_size(in);
    d->eps = eps;
    L->in = in;
    L->out = in;
    L->act = act;
    L->nparams = 2 * (size_t)d->n;
    *out = L;
    return CN_OK;
}
