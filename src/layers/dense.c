/* dense.c: fully connected layer with a fused activation, y = phi(x W^T + b), as torch.nn.Linear.
 * x (B,IN), W (OUT,IN), b (OUT) -> z (B,OUT) pre-activation -> y (B,OUT). Params: W then b. */
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"
#include "onnx/lower.h"

typedef struct {
    int nin, nout, bias;
    int maxB;
    cn_real *z;  /* (B,OUT) pre-activations; aliases y when the activation is the identity */
    cn_real *dz; /* (B,OUT) backward scratch */
} dense_impl;

static int dense_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    dense_impl *d = L->impl;
    cn_real *z = L->act == CN_ACT_IDENTITY ? y : d->z;
    const cn_real *W = L->p, *b = L->p + (size_t)d->nout * d->nin;
    if (d->bias)
        for (int i = 0; i < B; i++) memcpy(z + (size_t)i * d->nout, b, (size_t)d->nout * sizeof *z);
    cn_matmul(0, 1, B, d->nout, d->nin, 1, x, W, d->bias ? 1 : 0, z);
    if (z != y) cn_act_forward(L->act, z, y, (size_t)B * d->nout);
    return CN_OK;
}

static int dense_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    dense_impl *d = L->impl;
    const cn_real *W = L->p;
    cn_real *gW = L->g, *gb = L->g + (size_t)d->nout * d->nin;
    const cn_real *dz = dy;
    if (L->act != CN_ACT_IDENTITY) {
        cn_act_backward(L->act, d->z, y, dy, d->dz, (size_t)B * d->nout);
        if (L->dz_extra)
            for (size_t i = 0; i < (size_t)B * d->nout; i++) d->dz[i] += L->dz_extra[i];
        dz = d->dz;
    }
    cn_matmul(1, 0, d->nout, d->nin, B, 1, dz, x, 1, gW); /* gW += dz^T x */
    if (d->bias)
        for (int i = 0; i < B; i++) {
            const cn_real *row = dz + (size_t)i * d->nout;
            for (int j = 0; j < d->nout; j++) gb[j] += row[j];
        }
    if (dx) cn_matmul(0, 0, B, d->nin, d->nout, 1, dz, W, 0, dx); /* dx = dz W */
    return CN_OK;
}

static int dense_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    dense_impl *d = L->impl;
    cn_matmul(0, 1, K * B, d->nout, d->nin, 1, tx, L->p, 0, ty);
    cn_act_jvp(L->act, d->z, ty, (size_t)B * d->nout, K);
    return CN_OK;
}

static int dense_reserve(cn_layer *L, int B, int K)
{
    dense_impl *d = L->impl;
    if (B <= d->maxB) return CN_OK;
    cn_free(d->z);
    cn_free(d->dz);
    d->z = d->dz = NULL;
    d->maxB = 0;
    if (L->act != CN_ACT_IDENTITY) {
        d->z = cn_malloc((size_t)B * d->nout * sizeof *d->z);
        d->dz = cn_malloc((size_t)B * d->nout * sizeof *d->dz);
        if (!d->z || !d->dz) return CN_ERR_NOMEM;
    }
    d->maxB = B;
    return CN_OK;
}

static int dense_init(cn_layer *L, const cn_init *init, cn_rng *rng)
{
    dense_impl *d = L->impl;
    return cn_init_weights(init, rng, L->p, d->bias ? L->p + (size_t)d->nout * d->nin : NULL, d->nout, d->nin,
                           d->nout);
}

static int dense_print(const cn_layer *L, char *buf, size_t cap)
{
    const dense_impl *d = L->impl;
    return snprintf(buf, cap, "dense out=%d act=%s%s", d->nout, cn_act_name(L->act), d->bias ? "" : " bias=0");
}

static void dense_destroy(cn_layer *L)
{
    dense_impl *d = L->impl;
    cn_free(d->z);
    cn_free(d->dz);
}

static const cn_real *dense_preact(const cn_layer *L)
{
    return L->act == CN_ACT_IDENTITY ? NULL : ((dense_impl *)L->impl)->z;
}

/* Gemm(x, W, b) with W (out, in) transposed, as torch.onnx.export writes nn.Linear; a feature map is
 * flattened first, as the layer does implicitly */
static int dense_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    const dense_impl *d = L->impl;
    char wname[48], bname[48];
    if (cn_lower_rank(b) != 2) {
        x = cn_lower_node(b, "Flatten", 1, &x, 0, NULL);
        cn_lower_set_rank(b, 2);
    }
    const int64_t wd[2] = {d->nout, d->nin}, bd[1] = {d->nout};
    const char *in[3] = {x, cn_lower_tensor(b, cn_lower_name(b, wname, sizeof wname, "weight"), L->p, 2, wd),
                         d->bias ? cn_lower_tensor(b, cn_lower_name(b, bname, sizeof bname, "bias"),
                                                   L->p + (size_t)d->nout * d->nin, 1, bd)
                                 : NULL};
    const cn_lower_attr transB = {.name = "transB", .type = CN_LOWER_INT, .i = 1};
    const char *z = x && in[1] ? cn_lower_node(b, "Gemm", d->bias ? 3 : 2, in, 1, &transB) : NULL;
    *y = z ? cn_lower_act(b, L->act, z) : NULL;
    return CN_OK;
}

static const cn_layer_ops dense_ops = {
    .kind = "dense",
    .traits = CN_TRAIT_MAIN | CN_TRAIT_CRITREG | CN_TRAIT_DENSE,
    .forward = dense_forward,
    .backward = dense_backward,
    .jvp = dense_jvp,
    .reserve = dense_reserve,
    .init = dense_init,
    .print = dense_print,
    .destroy = dense_destroy,
    .preact = dense_preact,
    .lower = dense_lower,
};

int cn_dense_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    int nout, bias;
    cn_act act;
    int rc;
    if ((rc = cn_args_int(args, "out", 0, &nout, err)) || (rc = cn_args_int(args, "bias", 1, &bias, err)) ||
        (rc = cn_args_act(args, "act", CN_ACT_IDENTITY, &act, err)))
        return rc;
    if (nout < 1) return cn_error_set(err, CN_ERR_FORMAT, "dense: out=N (N >= 1) is required");
    cn_layer *L = cn_layer_alloc(&dense_ops, sizeof(dense_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "dense: out of memory");
    dense_impl *d = L->impl;
    d->nin = cn_shape_size(in);
    d->nout = nout;
    d->bias = bias != 0;
    L->in = in;
    L->out = (cn_shape){nout, 1, 1};
    L->act = act;
    L->nbias = d->bias ? (size_t)nout : 0;
    L->nparams = (size_t)nout * d->nin + L->nbias;
    *out = L;
    return CN_OK;
}
