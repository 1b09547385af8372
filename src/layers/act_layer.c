/* act_layer.c: a standalone activation, y = phi(x), for activations that do not follow a layer with a
 * fused one (e.g. after a residual sum). x (B,n) -> y (B,n). */
#include <stdio.h>
#include <string.h>
#include "onnx/lower.h"
#include "layers/layer.h"

typedef struct {
    int n;
    int maxB;
    cn_real *z; /* (B,n) copy of the input: the net does not keep x alive between passes */
} act_impl;

static int act_layer_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    act_impl *d = L->impl;
    const size_t n = (size_t)B * d->n;
    memcpy(d->z, x, n * sizeof *d->z);
    cn_act_forward(L->act, d->z, y, n);
    return CN_OK;
}

static int act_layer_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx,
                               int B)
{
    act_impl *d = L->impl;
    if (!dx) return CN_OK;
    cn_act_backward(L->act, d->z, y, dy, dx, (size_t)B * d->n);
    if (L->dz_extra)
        for (size_t i = 0; i < (size_t)B * d->n; i++) dx[i] += L->dz_extra[i];
    return CN_OK;
}

static int act_layer_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    act_impl *d = L->impl;
    const size_t n = (size_t)B * d->n;
    if (ty != tx) memcpy(ty, tx, n * K * sizeof *ty);
    cn_act_jvp(L->act, d->z, ty, n, K);
    return CN_OK;
}

static int act_layer_reserve(cn_layer *L, int B, int K)
{
    act_impl *d = L->impl;
    if (B <= d->maxB) return CN_OK;
    cn_free(d->z);
    d->maxB = 0;
    d->z = cn_malloc((size_t)B * d->n * sizeof *d->z);
    if (!d->z) return CN_ERR_NOMEM;
    d->maxB = B;
    return CN_OK;
}

static int act_layer_init(cn_layer *L, const cn_init *init, cn_rng *rng) { return CN_OK; }

static int act_layer_print(const cn_layer *L, char *buf, size_t cap)
{
    return snprintf(buf, cap, "act fn=%s", cn_act_name(L->act));
}

static void act_layer_destroy(cn_layer *L) { cn_free(((act_impl *)L->impl)->z); }

static const cn_real *act_layer_preact(const cn_layer *L)
{
    return L->act == CN_ACT_IDENTITY ? NULL : ((act_impl *)L->impl)->z;
}

static int act_layer_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    *y = cn_lower_act(b, L->act, x);
    return CN_OK;
}

static const cn_layer_ops act_layer_ops = {
    .kind = "act",
    .traits = CN_TRAIT_MAIN | CN_TRAIT_JOINS_PREVIOUS | CN_TRAIT_CRITREG,
    .forward = act_layer_forward,
    .backward = act_layer_backward,
    .jvp = act_layer_jvp,
    .reserve = act_layer_reserve,
    .init = act_layer_init,
    .print = act_layer_print,
    .lower = act_layer_lower,
    .destroy = act_layer_destroy,
    .preact = act_layer_preact,
};

int cn_act_layer_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    cn_act fn;
    int rc;
    /* CN_ACT_COUNT as the default marks a missing fn=: an activation layer without one is a spec mistake */
    if ((rc = cn_args_act(args, "fn", CN_ACT_COUNT, &fn, err))) return rc;
    if (fn == CN_ACT_COUNT)
        return cn_error_set(err, CN_ERR_FORMAT, "act: fn=NAME is required (relu, tanh, gelu, ...)");
    cn_layer *L = cn_layer_alloc(&act_layer_ops, sizeof(act_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "act: out of memory");
    ((act_impl *)L->impl)->n = cn_shape_size(in);
    L->in = in;
    L->out = in;
    L->act = fn;
    *out = L;
    return CN_OK;
}
