/* pool.c: max and average pooling over square windows (torch.nn.MaxPool2d / AvgPool2d, floor mode,
 * count_include_pad) and global average pooling. x (B,C,H,W) -> y (B,C,Ho,Wo). No parameters. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

typedef struct {
    int k, stride, pad;
    int maxB;
    int32_t *arg; /* maxpool only: (B, C*Ho*Wo) offset of each window's max inside its example (C,H,W) */
} pool_impl;

/* One window of output (oh, ow): rows [*h0, *h1), columns [*w0, *w1) of the input, clipped to it. */
static void window(const pool_impl *p, cn_shape in, int oh, int ow, int *h0, int *h1, int *w0, int *w1)
{
    int hs = oh * p->stride - p->pad, ws = ow * p->stride - p->pad;
    int he = hs + p->k, we = ws + p->k;
    *h0 = hs < 0 ? 0 : hs;
    *w0 = ws < 0 ? 0 : ws;
    *h1 = he > in.h ? in.h : he;
    *w1 = we > in.w ? in.w : we;
}

/* ---------------------------------------------------------------- max pooling */

static void maxpool_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    pool_impl *p = L->impl;
    const cn_shape in = L->in, out = L->out;
    const size_t nin = (size_t)cn_shape_size(in), nout = (size_t)cn_shape_size(out);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < out.c; c++) {
            const cn_real *xc = x + b * nin + (size_t)c * in.h * in.w;
            for (int oh = 0; oh < out.h; oh++)
                for (int ow = 0; ow < out.w; ow++) {
                    int h0, h1, w0, w1;
                    window(p, in, oh, ow, &h0, &h1, &w0, &w1);
                    /* As PyTorch: the first maximum wins a tie, and a NaN wins over numbers so that it
                     * propagates. The padding never wins (it is -inf), and pad <= k/2 keeps every window
                     * non-empty. */
                    int best = h0 * in.w + w0;
                    cn_real bv = -INFINITY;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) {
                            cn_real v = xc[ih * in.w + iw];
                            if (v > bv || isnan(v)) {
                                bv = v;
                                best = ih * in.w + iw;
                            }
                        }
                    size_t o = b * nout + ((size_t)c * out.h + oh) * out.w + ow;
                    y[o] = xc[best];
                    p->arg[o] = (int32_t)((size_t)c * in.h * in.w + best);
                }
        }
}

static void maxpool_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    if (!dx) return;
    const pool_impl *p = L->impl;
    const size_t nin = (size_t)cn_shape_size(L->in), nout = (size_t)cn_shape_size(L->out);
    memset(dx, 0, (size_t)B * nin * sizeof *dx);
    /* windows overlap when stride < k, hence += */
    for (int b = 0; b < B; b++)
        for (size_t o = 0; o < nout; o++) dx[b * nin + p->arg[b * nout + o]] += dy[b * nout + o];
}

static void maxpool_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    const pool_impl *p = L->impl;
    const size_t nin = (size_t)cn_shape_size(L->in), nout = (size_t)cn_shape_size(L->out);
    for (int t = 0; t < K; t++)
        for (int b = 0; b < B; b++) {
            const cn_real *txb = tx + ((size_t)t * B + b) * nin;
            cn_real *tyb = ty + ((size_t)t * B + b) * nout;
            const int32_t *ab = p->arg + b * nout;
            for (size_t o = 0; o < nout; o++) tyb[o] = txb[ab[o]];
        }
}

static int maxpool_reserve(cn_layer *L, int B, int K)
{
    pool_impl *p = L->impl;
    if (B <= p->maxB) return CN_OK;
    cn_free(p->arg);
    p->maxB = 0;
    p->arg = cn_malloc((size_t)B * cn_shape_size(L->out) * sizeof *p->arg);
    if (!p->arg) return CN_ERR_NOMEM;
    p->maxB = B;
    return CN_OK;
}

static void pool_destroy(cn_layer *L)
{
    pool_impl *p = L->impl;
    cn_free(p->arg);
}

/* ---------------------------------------------------------------- average pooling */

/* x (n,C,H,W) -> y (n,C,Ho,Wo); linear, so jvp reuses it on the K*B tangents. The divisor counts the
 * padding (count_include_pad=True) but not the part of a window beyond it, as PyTorch. */
static void avgpool_apply(const cn_layer *L, const cn_real *x, cn_real *y, int n)
{
    const pool_impl *p = L->impl;
    const cn_shape in = L->in, out = L->out;
    const size_t nin = (size_t)cn_shape_size(in), nout = (size_t)cn_shape_size(out);
    for (int b = 0; b < n; b++)
        for (int c = 0; c < out.c; c++) {
            const cn_real *xc = x + b * nin + (size_t)c * in.h * in.w;
            cn_real *yc = y + b * nout + (size_t)c * out.h * out.w;
            for (int oh = 0; oh < out.h; oh++)
                for (int ow = 0; ow < out.w; ow++) {
                    int h0, h1, w0, w1;
                    window(p, in, oh, ow, &h0, &h1, &w0, &w1);
                    int hs = oh * p->stride - p->pad, ws = ow * p->stride - p->pad;
                    int he = hs + p->k < in.h + p->pad ? hs + p->k : in.h + p->pad;
                    int we = ws + p->k < in.w + p->pad ? ws + p->k : in.w + p->pad;
                    cn_real s = 0;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) s += xc[ih * in.w + iw];
                    yc[oh * out.w + ow] = s / (cn_real)((he - hs) * (we - ws));
                }
        }
}

static void avgpool_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    avgpool_apply(L, x, y, B);
}

static void avgpool_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    if (!dx) return;
    const pool_impl *p = L->impl;
    const cn_shape in = L->in, out = L->out;
    const size_t nin = (size_t)cn_shape_size(in), nout = (size_t)cn_shape_size(out);
    memset(dx, 0, (size_t)B * nin * sizeof *dx);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < out.c; c++) {
            cn_real *dxc = dx + b * nin + (size_t)c * in.h * in.w;
            const cn_real *dyc = dy + b * nout + (size_t)c * out.h * out.w;
            for (int oh = 0; oh < out.h; oh++)
                for (int ow = 0; ow < out.w; ow++) {
                    int h0, h1, w0, w1;
                    window(p, in, oh, ow, &h0, &h1, &w0, &w1);
                    int hs = oh * p->stride - p->pad, ws = ow * p->stride - p->pad;
                    int he = hs + p->k < in.h + p->pad ? hs + p->k : in.h + p->pad;
                    int we = ws + p->k < in.w + p->pad ? ws + p->k : in.w + p->pad;
                    cn_real v = dyc[oh * out.w + ow] / (cn_real)((he - hs) * (we - ws));
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) dxc[ih * in.w + iw] += v;
                }
        }
}

static void avgpool_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    avgpool_apply(L, tx, ty, K * B);
}

static int pool_reserve_none(cn_layer *L, int B, int K) { return CN_OK; }

/* nothing to initialise, but callers may run init on every layer */
static int pool_init(cn_layer *L, const cn_init *init, cn_rng *rng) { return CN_OK; }

static int pool_print(const cn_layer *L, char *buf, size_t cap)
{
    const pool_impl *p = L->impl;
    char pad[32] = "";
    if (p->pad) snprintf(pad, sizeof pad, " pad=%d", p->pad);
    return snprintf(buf, cap, "%s k=%d stride=%d%s", L->ops->kind, p->k, p->stride, pad);
}

static const cn_layer_ops maxpool_ops = {
    .kind = "maxpool",
    .traits = CN_TRAIT_CRITREG,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .jvp = maxpool_jvp,
    .reserve = maxpool_reserve,
    .init = pool_init,
    .print = pool_print,
    .destroy = pool_destroy,
};

static const cn_layer_ops avgpool_ops = {
    .kind = "avgpool",
    .traits = CN_TRAIT_CRITREG,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .jvp = avgpool_jvp,
    .reserve = pool_reserve_none,
    .init = pool_init,
    .print = pool_print,
    .destroy = pool_destroy,
};

/* Shared by maxpool and avgpool: k=K (default 2), stride=S (default k), pad=P (default 0). */
static int pool_create(cn_layer **out, const cn_layer_ops *ops, cn_args *args, cn_shape in, cn_error *err)
{
    const char *kind = ops->kind;
    int k, stride, pad, rc;
    if ((rc = cn_args_int(args, "k", 2, &k, err))) return rc;
    if ((rc = cn_args_int(args, "stride", k, &stride, err)) || (rc = cn_args_int(args, "pad", 0, &pad, err)))
        return rc;
    if (in.c < 1 || in.h < 1 || in.w < 1)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: input shape %dx%dx%d is empty", kind, in.c, in.h, in.w);
    if (k < 1) return cn_error_set(err, CN_ERR_FORMAT, "%s: k=%d must be >= 1", kind, k);
    if (stride < 1) return cn_error_set(err, CN_ERR_FORMAT, "%s: stride=%d must be >= 1", kind, stride);
    /* PyTorch's limit too: a window made only of padding would have no maximum */
    if (pad < 0 || pad > k / 2)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: pad=%d must be between 0 and k/2 = %d", kind, pad, k / 2);
    if (in.h > INT_MAX / 4 || in.w > INT_MAX / 4)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: input %dx%d too large", kind, in.h, in.w);
    int sh = in.h + 2 * pad - k, sw = in.w + 2 * pad - k;
    if (sh < 0 || sw < 0)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: window k=%d does not fit the %dx%d input with pad=%d", kind, k,
                            in.h, in.w, pad);
    cn_layer *L = cn_layer_alloc(ops, sizeof(pool_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", kind);
    pool_impl *p = L->impl;
    p->k = k;
    p->stride = stride;
    p->pad = pad;
    L->in = in;
    L->out = (cn_shape){in.c, sh / stride + 1, sw / stride + 1};
    L->act = CN_ACT_IDENTITY;
    L->nparams = L->nstate = 0;
    *out = L;
    return CN_OK;
}

int cn_maxpool_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    return pool_create(out, &maxpool_ops, args, in, err);
}

int cn_avgpool_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    return pool_create(out, &avgpool_ops, args, in, err);
}

/* ---------------------------------------------------------------- global average pooling */

/* x (n,C,H,W) -> y (n,C): the mean of each feature map; linear, so also the jvp on K*B tangents */
static void gap_apply(const cn_layer *L, const cn_real *x, cn_real *y, int n)
{
    const size_t hw = (size_t)L->in.h * L->in.w;
    const size_t maps = (size_t)n * L->in.c;
    for (size_t m = 0; m < maps; m++) {
        const cn_real *xm = x + m * hw;
        cn_real s = 0;
        for (size_t j = 0; j < hw; j++) s += xm[j];
        y[m] = s / (cn_real)hw;
    }
}

static void gap_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train) { gap_apply(L, x, y, B); }

static void gap_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    if (!dx) return;
    const size_t hw = (size_t)L->in.h * L->in.w;
    const size_t maps = (size_t)B * L->in.c;
    for (size_t m = 0; m < maps; m++) {
        cn_real v = dy[m] / (cn_real)hw;
        for (size_t j = 0; j < hw; j++) dx[m * hw + j] = v;
    }
}

static void gap_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K) { gap_apply(L, tx, ty, K * B); }

static int gap_print(const cn_layer *L, char *buf, size_t cap) { return snprintf(buf, cap, "gap"); }

static const cn_layer_ops gap_ops = {
    .kind = "gap",
    .traits = CN_TRAIT_CRITREG,
    .forward = gap_forward,
    .backward = gap_backward,
    .jvp = gap_jvp,
    .reserve = pool_reserve_none,
    .init = pool_init,
    .print = gap_print,
};

int cn_gap_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    if (in.c < 1 || in.h < 1 || in.w < 1)
        return cn_error_set(err, CN_ERR_FORMAT, "gap: input shape %dx%dx%d is empty", in.c, in.h, in.w);
    cn_layer *L = cn_layer_alloc(&gap_ops, 0);
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "gap: out of memory");
    L->in = in;
    L->out = (cn_shape){in.c, 1, 1};
    L->act = CN_ACT_IDENTITY;
    L->nparams = L->nstate = 0;
    *out = L;
    return CN_OK;
}
