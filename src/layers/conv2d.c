/* conv2d.c: the native conv layer, 2-D convolution with a fused activation as torch.nn.Conv2d: parsing,
 * buffers and the activation around the shared kernels of kernels/conv.h, which do the arithmetic.
 * x (B,Cin,H,W), W (Cout,Cin/groups,k,k), b (Cout) -> z (B,Cout,Ho,Wo) pre-activation -> y. Params: W then b. */
#include <limits.h>
#include <stdio.h>
#include "onnx/lower.h"
#include "layers/conv2d.h"
#include "layers/layer.h"

typedef struct {
    cn_conv2d_geom g;
    cn_conv_geom kg; /* the same convolution as the shared kernels take it */
    int bias;
    int maxB;
    cn_real *z;   /* (B,Cout,Ho,Wo) pre-activations; aliases y when the activation is the identity */
    cn_real *dz;  /* (B,Cout,Ho,Wo) backward scratch */
    cn_real *col; /* the kernels' column scratch for one group of one example; NULL on their direct paths */
} conv_impl;

void cn_conv2d_kernel_geom(const cn_conv2d_geom *g, cn_conv_geom *out)
{
    *out = (cn_conv_geom){
        .c = g->cin, .m = g->cout, .groups = g->groups,
        .in = {1, g->h, g->w}, .k = {1, g->k, g->k},
        .stride = {1, g->stride, g->stride}, .dil = {1, g->dilation, g->dilation}, .pad = {0, g->pad, g->pad},
        .out = {1, cn_conv2d_out_dim(g->h, g->k, g->stride, g->pad, g->dilation),
                cn_conv2d_out_dim(g->w, g->k, g->stride, g->pad, g->dilation)},
    };
}

static const cn_real *conv_bias(const cn_layer *L)
{
    const conv_impl *d = L->impl;
    return d->bias ? L->p + (size_t)d->g.cout * (d->g.cin / d->g.groups) * d->g.k * d->g.k : NULL;
}

static int conv_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    conv_impl *d = L->impl;
    cn_real *z = L->act == CN_ACT_IDENTITY ? y : d->z;
    cn_conv_forward(&d->kg, z, x, L->p, conv_bias(L), B, d->col);
    if (z != y) cn_act_forward(L->act, z, y, (size_t)B * cn_shape_size(L->out));
    return CN_OK;
}

static int conv_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    conv_impl *d = L->impl;
    const size_t nout = (size_t)cn_shape_size(L->out);
    const cn_real *dz = dy;
    if (L->act != CN_ACT_IDENTITY) {
        cn_act_backward(L->act, d->z, y, dy, d->dz, (size_t)B * nout);
        if (L->dz_extra)
            for (size_t i = 0; i < (size_t)B * nout; i++) d->dz[i] += L->dz_extra[i];
        dz = d->dz;
    }
    cn_real *gb = d->bias ? L->g + (conv_bias(L) - L->p) : NULL;
    cn_conv_backward(&d->kg, dx, L->g, gb, dz, x, L->p, B, d->col);
    return CN_OK;
}

static int conv_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    conv_impl *d = L->impl;
    cn_conv_forward(&d->kg, ty, tx, L->p, NULL, (int64_t)K * B, d->col);
    cn_act_jvp(L->act, d->z, ty, (size_t)B * cn_shape_size(L->out), K);
    return CN_OK;
}

static int conv_reserve(cn_layer *L, int B, int K)
{
    conv_impl *d = L->impl;
    size_t ncol = cn_conv_col_size(&d->kg);
    if (ncol && !d->col) {
        d->col = cn_malloc(ncol * sizeof *d->col);
        if (!d->col) return CN_ERR_NOMEM;
    }
    if (B <= d->maxB) return CN_OK;
    cn_free(d->z);
    cn_free(d->dz);
    d->z = d->dz = NULL;
    d->maxB = 0;
    if (L->act != CN_ACT_IDENTITY) {
        size_t n = (size_t)B * cn_shape_size(L->out);
        d->z = cn_malloc(n * sizeof *d->z);
        d->dz = cn_malloc(n * sizeof *d->dz);
        if (!d->z || !d->dz) return CN_ERR_NOMEM;
    }
    d->maxB = B;
    return CN_OK;
}

static int conv_init(cn_layer *L, const cn_init *init, cn_rng *rng)
{
    conv_impl *d = L->impl;
    const cn_conv2d_geom *g = &d->g;
    int kk = g->k * g->k, fan_in = g->cin / g->groups * kk, fan_out = g->cout / g->groups * kk;
    return cn_init_weights(init, rng, L->p, d->bias ? L->p + (size_t)g->cout * fan_in : NULL, g->cout, fan_in,
                           fan_out);
}

static int conv_print(const cn_layer *L, char *buf, size_t cap)
{
    const conv_impl *d = L->impl;
    const cn_conv2d_geom *g = &d->g;
    char groups[32] = "", dil[32] = "";
    if (g->groups != 1) snprintf(groups, sizeof groups, " groups=%d", g->groups);
    if (g->dilation != 1) snprintf(dil, sizeof dil, " dilation=%d", g->dilation);
    return snprintf(buf, cap, "conv out=%d k=%d stride=%d pad=%d%s%s act=%s%s", g->cout, g->k, g->stride, g->pad,
                    groups, dil, cn_act_name(L->act), d->bias ? "" : " bias=0");
}

static void conv_destroy(cn_layer *L)
{
    conv_impl *d = L->impl;
    cn_free(d->z);
    cn_free(d->dz);
    cn_free(d->col);
}

static const cn_real *conv2d_preact(const cn_layer *L)
{
    return L->act == CN_ACT_IDENTITY ? NULL : ((conv_impl *)L->impl)->z;
}

/* Conv with the layer's square kernel, stride, padding, dilation and groups, as nn.Conv2d exports */
static int conv_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    const conv_impl *d = L->impl;
    const cn_conv2d_geom *q = &d->g;
    char wname[48], bname[48];
    const int64_t wd[4] = {q->cout, q->cin / q->groups, q->k, q->k}, bd[1] = {q->cout};
    const int64_t k[2] = {q->k, q->k}, s[2] = {q->stride, q->stride}, dil[2] = {q->dilation, q->dilation},
                  pads[4] = {q->pad, q->pad, q->pad, q->pad};
    const cn_lower_attr attr[5] = {
        {.name = "kernel_shape", .type = CN_LOWER_INTS, .n = 2, .ints = k},
        {.name = "strides", .type = CN_LOWER_INTS, .n = 2, .ints = s},
        {.name = "dilations", .type = CN_LOWER_INTS, .n = 2, .ints = dil},
        {.name = "pads", .type = CN_LOWER_INTS, .n = 4, .ints = pads},
        {.name = "group", .type = CN_LOWER_INT, .i = q->groups},
    };
    const char *in[3] = {x, cn_lower_tensor(b, cn_lower_name(b, wname, sizeof wname, "weight"), L->p, 4, wd),
                         d->bias ? cn_lower_tensor(b, cn_lower_name(b, bname, sizeof bname, "bias"), conv_bias(L), 1, bd)
                                 : NULL};
    const char *z = in[1] ? cn_lower_node(b, "Conv", d->bias ? 3 : 2, in, 5, attr) : NULL;
    *y = z ? cn_lower_act(b, L->act, z) : NULL;
    return CN_OK;
}

static const cn_layer_ops conv_ops = {
    .kind = "conv",
    .traits = CN_TRAIT_MAIN | CN_TRAIT_CRITREG,
    .forward = conv_forward,
    .backward = conv_backward,
    .jvp = conv_jvp,
    .reserve = conv_reserve,
    .init = conv_init,
    .print = conv_print,
    .lower = conv_lower,
    .destroy = conv_destroy,
    .preact = conv2d_preact,
};

int cn_conv2d_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    cn_conv2d_geom g = {.cin = in.c, .h = in.h, .w = in.w};
    int bias, rc;
    cn_act act;
    if ((rc = cn_args_int(args, "out", 0, &g.cout, err)) || (rc = cn_args_int(args, "k", 3, &g.k, err)) ||
        (rc = cn_args_int(args, "stride", 1, &g.stride, err)) || (rc = cn_args_int(args, "pad", 0, &g.pad, err)) ||
        (rc = cn_args_int(args, "groups", 1, &g.groups, err)) ||
        (rc = cn_args_int(args, "dilation", 1, &g.dilation, err)) ||
        (rc = cn_args_int(args, "bias", 1, &bias, err)) || (rc = cn_args_act(args, "act", CN_ACT_IDENTITY, &act, err)))
        return rc;
    if (in.c < 1 || in.h < 1 || in.w < 1)
        return cn_error_set(err, CN_ERR_FORMAT, "conv: input shape %dx%dx%d is empty", in.c, in.h, in.w);
    if (g.cout < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: out=N (N >= 1) is required");
    if (g.k < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: k=%d must be >= 1", g.k);
    if (g.stride < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: stride=%d must be >= 1", g.stride);
    if (g.pad < 0) return cn_error_set(err, CN_ERR_FORMAT, "conv: pad=%d must be >= 0", g.pad);
    if (g.dilation < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: dilation=%d must be >= 1", g.dilation);
    if (g.groups < 1 || in.c % g.groups || g.cout % g.groups)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "conv: groups=%d must divide both the input channels (%d) and out=%d", g.groups, in.c,
                            g.cout);
    /* bound every buffer size before any int product below can overflow */
    long long span = (long long)g.dilation * (g.k - 1) + 1, kk = (long long)g.k * g.k;
    if (span > INT_MAX / 2 || (long long)in.h + 2LL * g.pad > INT_MAX / 2 || (long long)in.w + 2LL * g.pad > INT_MAX / 2)
        return cn_error_set(err, CN_ERR_FORMAT, "conv: k, dilation or pad too large");
    int ho = cn_conv2d_out_dim(in.h, g.k, g.stride, g.pad, g.dilation);
    int wo = cn_conv2d_out_dim(in.w, g.k, g.stride, g.pad, g.dilation);
    if (ho < 1 || wo < 1)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "conv: kernel k=%d (dilation %d, extent %lld) does not fit the %dx%d input with pad=%d",
                            g.k, g.dilation, span, in.h, in.w, g.pad);
    if ((long long)g.cout * ho * wo > INT_MAX || kk * in.c * ho * wo > INT_MAX || kk * in.c * g.cout > INT_MAX)
        return cn_error_set(err, CN_ERR_FORMAT, "conv: layer too large (out=%d k=%d on %dx%dx%d)", g.cout, g.k,
                            in.c, in.h, in.w);
    cn_layer *L = cn_layer_alloc(&conv_ops, sizeof(conv_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "conv: out of memory");
    conv_impl *d = L->impl;
    d->g = g;
    d->bias = bias != 0;
    cn_conv2d_kernel_geom(&g, &d->kg);
    L->in = in;
    L->out = (cn_shape){g.cout, ho, wo};
    L->act = act;
    L->nbias = d->bias ? (size_t)g.cout : 0;
    L->nparams = (size_t)g.cout * (g.cin / g.groups) * g.k * g.k + L->nbias;
    L->nstate = 0;
    *out = L;
    return CN_OK;
}
