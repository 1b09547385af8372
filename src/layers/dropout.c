/* dropout.c: inverted dropout as torch.nn.Dropout: in train mode each value is zeroed with probability p
 * and the kept ones scaled by 1/(1-p); in eval mode the identity. x (B,n) -> y (B,n). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx/lower.h"
#include "layers/dropout.h"

typedef struct {
    int n;
    double p;
    cn_rng *rng; /* the net's training RNG, borrowed; NULL makes train mode the identity */
    int masked;  /* whether the last forward applied the mask: backward and jvp follow that forward */
    int maxB;
    uint8_t *keep; /* (B,n) 1 where the last forward kept the value */
} dropout_impl;

static int dropout_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    dropout_impl *d = L->impl;
    const size_t n = (size_t)B * d->n;
    d->masked = train && d->rng && d->p > 0;
    if (!d->masked) {
        if (y != x) memcpy(y, x, n * sizeof *y);
        return CN_OK;
    }
    const cn_real scale = (cn_real)(1.0 / (1.0 - d->p));
    for (size_t i = 0; i < n; i++) {
        d->keep[i] = cn_rng_uniform(d->rng) >= d->p;
        y[i] = d->keep[i] ? x[i] * scale : 0;
    }
    return CN_OK;
}

/* the same mask and scale on any array of (B,n) blocks: dx = mask * dy, ty = mask * tx */
static void apply_mask(const dropout_impl *d, const cn_real *in, cn_real *out, int B, int K)
{
    const size_t n = (size_t)B * d->n;
    if (!d->masked) {
        if (out != in) memcpy(out, in, n * K * sizeof *out);
        return;
    }
    const cn_real scale = (cn_real)(1.0 / (1.0 - d->p));
    for (int k = 0; k < K; k++)
        for (size_t i = 0; i < n; i++) out[k * n + i] = d->keep[i] ? in[k * n + i] * scale : 0;
}

static int dropout_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx,
                             int B)
{
    if (dx) apply_mask(L->impl, dy, dx, B, 1);
    return CN_OK;
}

static int dropout_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    apply_mask(L->impl, tx, ty, B, K);
    return CN_OK;
}

static int dropout_reserve(cn_layer *L, int B, int K)
{
    dropout_impl *d = L->impl;
    if (B <= d->maxB) return CN_OK;
    cn_free(d->keep);
    d->maxB = 0;
    d->keep = cn_malloc((size_t)B * d->n);
    if (!d->keep) return CN_ERR_NOMEM;
    d->maxB = B;
    return CN_OK;
}

static int dropout_init(cn_layer *L, const cn_init *init, cn_rng *rng) { return CN_OK; }

static int dropout_print(const cn_layer *L, char *buf, size_t cap)
{
    char num[32];
    cn_format_real(num, sizeof num, ((const dropout_impl *)L->impl)->p);
    return snprintf(buf, cap, "dropout p=%s", num);
}

static void dropout_destroy(cn_layer *L) { cn_free(((dropout_impl *)L->impl)->keep); }

/* Dropout with its ratio: the identity at inference; critnet's graph engine draws the same mask in training
 * mode from the same RNG (onnx/ops_unary.c) */
static int dropout_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    const dropout_impl *d = L->impl;
    char n[48];
    const cn_real ratio = (cn_real)d->p;
    const char *in[2] = {x, cn_lower_tensor(b, cn_lower_name(b, n, sizeof n, "ratio"), &ratio, 0, NULL)};
    *y = in[1] ? cn_lower_node(b, "Dropout", 2, in, 0, NULL) : NULL;
    return CN_OK;
}

static const cn_layer_ops dropout_ops = {
    .kind = "dropout",
    .traits = CN_TRAIT_CRITREG | CN_TRAIT_RANDOM,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .jvp = dropout_jvp,
    .reserve = dropout_reserve,
    .init = dropout_init,
    .print = dropout_print,
    .lower = dropout_lower,
    .destroy = dropout_destroy,
};

void cn_dropout_set_rng(cn_layer *L, cn_rng *rng)
{
    if (L && L->ops == &dropout_ops) ((dropout_impl *)L->impl)->rng = rng;
}

int cn_dropout_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    double p;
    int rc;
    if ((rc = cn_args_real(args, "p", 0.5, &p, err))) return rc;
    /* p = 1 would scale by 1/0; torch allows it, but a layer that zeroes everything is a spec mistake */
    if (!(p >= 0 && p < 1)) return cn_error_set(err, CN_ERR_FORMAT, "dropout: p=%g must be in [0,1)", p);
    cn_layer *L = cn_layer_alloc(&dropout_ops, sizeof(dropout_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "dropout: out of memory");
    dropout_impl *d = L->impl;
    d->n = cn_shape_size(in);
    d->p = p;
    L->in = in;
    L->out = in;
    L->act = CN_ACT_IDENTITY;
    *out = L;
    return CN_OK;
}
