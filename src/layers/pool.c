/* pool.c: the native max and average pooling layers over square windows (torch.nn.MaxPool2d / AvgPool2d, floor
 * mode, count_include_pad) and global average pooling, as adapters over the shared kernels of kernels/pool.h.
 * x (B,C,H,W) -> y (B,C,Ho,Wo). No parameters. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include "kernels/pool.h"
#include "layers/layer.h"
#include "onnx/lower.h"

typedef struct {
    cn_pool_geom q;                   /* the kernels' geometry for one example (planes = C): k, stride, pad */
    cn_pool_window *rows, *cols;      /* its window tables */
    int maxB;
    int32_t *arg; /* maxpool only: (B*C, Ho*Wo) offset of each window's max inside its plane */
} pool_impl;

/* the geometry of n examples: the kernels see them as one stack of n*C planes */
static cn_pool_geom stacked(const pool_impl *p, int64_t n)
{
    cn_pool_geom q = p->q;
    q.planes *= n;
    return q;
}

/* ---------------------------------------------------------------- max pooling */

static int maxpool_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    pool_impl *p = L->impl;
    const cn_pool_geom q = stacked(p, B);
    cn_pool_max_forward(&q, p->rows, p->cols, y, p->arg, x);
    return CN_OK;
}

static int maxpool_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    if (!dx) return CN_OK;
    const pool_impl *p = L->impl;
    cn_pool_max_backward(p->q.planes * B, p->q.h * p->q.w, p->q.ho * p->q.wo, p->arg, dx, dy);
    return CN_OK;
}

static int maxpool_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    const pool_impl *p = L->impl;
    cn_pool_max_jvp(p->q.planes * B, p->q.h * p->q.w, p->q.ho * p->q.wo, p->arg, K, ty, tx);
    return CN_OK;
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
    cn_free(p->rows);
}

/* ---------------------------------------------------------------- average pooling */

/* count_include_pad=True, as PyTorch's default: the divisor counts the padding a window covers */
static int avgpool_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    const pool_impl *p = L->impl;
    const cn_pool_geom q = stacked(p, B);
    cn_pool_avg_forward(&q, p->rows, p->cols, 1, y, x);
    return CN_OK;
}

static int avgpool_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    if (!dx) return CN_OK;
    const pool_impl *p = L->impl;
    const cn_pool_geom q = stacked(p, B);
    cn_pool_avg_backward(&q, p->rows, p->cols, 1, dx, dy);
    return CN_OK;
}

/* linear: the same pool of the K*B tangents */
static int avgpool_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    return avgpool_forward(L, tx, ty, K * B, 0);
}

static int pool_reserve_none(cn_layer *L, int B, int K) { return CN_OK; }

/* nothing to initialise, but callers may run init on every layer */
static int pool_init(cn_layer *L, const cn_init *init, cn_rng *rng) { return CN_OK; }

static int pool_print(const cn_layer *L, char *buf, size_t cap)
{
    const pool_impl *p = L->impl;
    char pad[32] = "";
    if (p->q.pad_top) snprintf(pad, sizeof pad, " pad=%d", (int)p->q.pad_top);
    return snprintf(buf, cap, "%s k=%d stride=%d%s", L->ops->kind, (int)p->q.kh, (int)p->q.sh, pad);
}

/* MaxPool / AveragePool (count_include_pad, as torch's default) with the layer's window */
static int pool_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y, int avg)
{
    const pool_impl *p = L->impl;
    const int64_t k[2] = {p->q.kh, p->q.kw}, s[2] = {p->q.sh, p->q.sw},
                  pads[4] = {p->q.pad_top, p->q.pad_left, p->q.pad_bottom, p->q.pad_right};
    const cn_lower_attr attr[4] = {{.name = "kernel_shape", .type = CN_LOWER_INTS, .n = 2, .ints = k},
                                   {.name = "strides", .type = CN_LOWER_INTS, .n = 2, .ints = s},
                                   {.name = "pads", .type = CN_LOWER_INTS, .n = 4, .ints = pads},
                                   {.name = "count_include_pad", .type = CN_LOWER_INT, .i = 1}};
    *y = cn_lower_node(b, avg ? "AveragePool" : "MaxPool", 1, &x, avg ? 4 : 3, attr);
    return CN_OK;
}

static int maxpool_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    return pool_lower(L, b, x, y, 0);
}

static int avgpool_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    return pool_lower(L, b, x, y, 1);
}

static int gap_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    *y = cn_lower_node(b, "GlobalAveragePool", 1, &x, 0, NULL);
    return CN_OK;
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
    .lower = maxpool_lower,
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
    .lower = avgpool_lower,
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
    L->in = in;
    L->out = (cn_shape){in.c, sh / stride + 1, sw / stride + 1};
    p->q = (cn_pool_geom){.planes = in.c, .h = in.h, .w = in.w, .kh = k, .kw = k, .sh = stride, .sw = stride,
                          .dh = 1, .dw = 1, .pad_top = pad, .pad_left = pad, .pad_bottom = pad, .pad_right = pad,
                          .ho = L->out.h, .wo = L->out.w};
    p->rows = cn_malloc((size_t)(L->out.h + L->out.w) * sizeof *p->rows);
    if (!p->rows) {
        cn_layer_free(L);
        return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", kind);
    }
    p->cols = p->rows + L->out.h;
    cn_pool_windows(&p->q, p->rows, p->cols);
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
static int gap_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    cn_pool_plane_mean((int64_t)B * L->in.c, (int64_t)L->in.h * L->in.w, y, x);
    return CN_OK;
}

static int gap_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    if (dx) cn_pool_plane_mean_backward((int64_t)B * L->in.c, (int64_t)L->in.h * L->in.w, dx, dy);
    return CN_OK;
}

static int gap_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K) { return gap_forward(L, tx, ty, K * B, 0); }

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
    .lower = gap_lower,
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
