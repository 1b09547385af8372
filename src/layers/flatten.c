/* flatten.c: (C,H,W) -> (C*H*W,1,1). NCHW rows are already flat, so every pass is a copy (or nothing,
 * when the caller hands the same buffer in and out). */
#include <stdio.h>
#include <string.h>
#include "onnx/lower.h"
#include "layers/layer.h"

static int flatten_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    if (y != x) memcpy(y, x, (size_t)B * cn_shape_size(L->in) * sizeof *y);
    return CN_OK;
}

static int flatten_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    if (dx && dx != dy) memcpy(dx, dy, (size_t)B * cn_shape_size(L->in) * sizeof *dx);
    return CN_OK;
}

static int flatten_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    if (ty != tx) memcpy(ty, tx, (size_t)K * B * cn_shape_size(L->in) * sizeof *ty);
    return CN_OK;
}

static int flatten_reserve(cn_layer *L, int B, int K) { return CN_OK; }

static int flatten_init(cn_layer *L, const cn_init *init, cn_rng *rng) { return CN_OK; }

static int flatten_print(const cn_layer *L, char *buf, size_t cap) { return snprintf(buf, cap, "flatten"); }

static int flatten_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    const cn_lower_attr axis = {.name = "axis", .type = CN_LOWER_INT, .i = 1};
    *y = cn_lower_node(b, "Flatten", 1, &x, 1, &axis);
    cn_lower_set_rank(b, 2);
    return CN_OK;
}

static const cn_layer_ops flatten_ops = {
    .kind = "flatten",
    .traits = CN_TRAIT_CRITREG | CN_TRAIT_RESHAPE,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .jvp = flatten_jvp,
    .reserve = flatten_reserve,
    .init = flatten_init,
    .print = flatten_print,
    .lower = flatten_lower,
};

int cn_flatten_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    if (in.c < 1 || in.h < 1 || in.w < 1)
        return cn_error_set(err, CN_ERR_FORMAT, "flatten: input shape %dx%dx%d is empty", in.c, in.h, in.w);
    cn_layer *L = cn_layer_alloc(&flatten_ops, 0);
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "flatten: out of memory");
    L->in = in;
    L->out = (cn_shape){cn_shape_size(in), 1, 1};
    L->act = CN_ACT_IDENTITY;
    L->nparams = L->nstate = 0;
    *out = L;
    return CN_OK;
}
