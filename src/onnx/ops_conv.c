/* ops_conv.c: ONNX Conv for 1-D and 2-D NCHW inputs (a 1-D input runs as 2-D with height 1), with
 * non-square kernels, asymmetric pads, strides, dilations, groups and every auto_pad, and its Jacobian-vector
 * product. Most of the time goes into GEMMs, so the layout is chosen for them: one group of one example is
 * unrolled at a time into a (C/group*kH*kW, Ho*Wo) column matrix whose rows follow W's own (M, C/group, kH, kW)
 * order, so that the group's output is a single W_g col product with no copy of the weights. Two shapes skip
 * the unrolling: a 1x1 convolution with stride 1 and no padding, whose input already is the column matrix, and
 * the depthwise kind (one input channel per group), where a GEMM of one row would waste most of its time on
 * overhead and a direct loop over the taps keeps an output plane in cache instead. The jvp is the same
 * convolution of the input's tangent without the bias, since the weights and bias must be constants. */
#include <limits.h>
#include <string.h>
#include "core/blas.h"
#include "onnx/graph.h"

/* Vectorise the loop that follows. The library is built with OpenMP, whose simd pragma lifts -O2's
 * refusal to vectorise loops of unknown trip count; without OpenMP it expands to nothing, not a warning. */
#ifdef _OPENMP
#define PRAGMA(x) _Pragma(#x)
#define SIMD PRAGMA(omp simd)
#else
#define SIMD
#endif

enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER };

/* Everything a run needs, derived from the inputs' shapes and the attributes; a 1-D convolution has
 * h = kh = ho = 1 and no padding or stride along the height. */
typedef struct {
    int spatial;                 /* 1 or 2 */
    int64_t n, c, h, w;          /* input */
    int64_t m, group, cg, mg;    /* output channels; per group: input and output channels */
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t pad_top, pad_left;   /* the end pads only decide the output size */
    int64_t ho, wo;
} conv_geom;

/* Output positions o in [lo, hi) whose input index off + o*stride falls inside [0, n). Clipping the loops
 * once per kernel tap keeps the bounds test out of the innermost copy. */
static void valid_range(int64_t off, int64_t stride, int64_t n, int64_t nout, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = off > n - 1 ? 0 : (n - 1 - off) / stride + 1;
    if (h > nout) h = nout;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

static int parse_auto_pad(cn_graph *g, const cn_node *n, int *kind)
{
    const char *s = cn_attr_string(n, "auto_pad", "NOTSET");
    if (!strcmp(s, "NOTSET") || !*s) *kind = PAD_NOTSET;
    else if (!strcmp(s, "VALID")) *kind = PAD_VALID;
    else if (!strcmp(s, "SAME_UPPER")) *kind = PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *kind = PAD_SAME_LOWER;
    else return cn_node_fail(g, n, CN_ERR_FORMAT, "auto_pad \"%s\" is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", s);
    return CN_OK;
}

/* An INTS attribute with one entry per spatial axis (count: spatial, or 2*spatial for pads), each in
 * [lo, INT_MAX] so that the size arithmetic below cannot overflow; def fills it when absent. */
static int axis_ints(cn_graph *g, const cn_node *n, const char *name, int count, int64_t lo, int64_t def,
                     int64_t *v)
{
    int got;
    int st = cn_attr_ints(g, n, name, v, 4, &got);
    if (st) return st;
    if (got == 0) {
        for (int i = 0; i < count; i++) v[i] = def;
        return CN_OK;
    }
    if (got != count)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "%s has %d entries, expected %d", name, got, count);
    for (int i = 0; i < count; i++)
        if (v[i] < lo || v[i] > INT_MAX)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "%s[%d] = %lld is out of range", name, i, (long long)v[i]);
    return CN_OK;
}

/* Output size and begin pad along one axis (as ONNX: SAME_* splits the padding with the odd one at the end
 * for UPPER, at the start for LOWER). */
static int axis_geometry(cn_graph *g, const cn_node *n, const char *axis, int auto_pad, int64_t in, int64_t k,
                         int64_t stride, int64_t dil, int64_t pad_begin, int64_t pad_end, int64_t *out,
                         int64_t *begin)
{
    int64_t extent = (k - 1) * dil + 1;
    if (auto_pad == PAD_SAME_UPPER || auto_pad == PAD_SAME_LOWER) {
        *out = (in + stride - 1) / stride;
        int64_t total = (*out - 1) * stride + extent - in;
        if (total < 0) total = 0;
        *begin = auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
    } else {
        if (auto_pad == PAD_VALID) pad_begin = pad_end = 0;
        int64_t span = in + pad_begin + pad_end - extent;
        *out = span < 0 ? 0 : span / stride + 1;
        *begin = pad_begin;
    }
    if (*out < 1)
        return cn_node_fail(g, n, CN_ERR_FORMAT,
                            "output %s would be empty: input %lld, kernel extent %lld, pads %lld+%lld", axis,
                            (long long)in, (long long)extent, (long long)pad_begin, (long long)pad_end);
    if (*out > INT_MAX) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "output %s is too large", axis);
    return CN_OK;
}

static int check_float(cn_graph *g, const cn_node *n, const cn_tensor *t, const char *what)
{
    if (!t) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s is missing", what);
    if (t->dtype != CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s is not a float tensor", what);
    return CN_OK;
}

/* Reads and checks the shapes of X, W, B and the attributes into *q. */
static int conv_geometry(cn_graph *g, const cn_node *n, conv_geom *q)
{
    const cn_tensor *x = cn_node_in(g, n, 0), *wt = cn_node_in(g, n, 1), *b = cn_node_in(g, n, 2);
    int st;
    if ((st = check_float(g, n, x, "X")) || (st = check_float(g, n, wt, "W"))) return st;
    if (b && (st = check_float(g, n, b, "B"))) return st;
    if (x->ndim != 3 && x->ndim != 4)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                            "only 1-D and 2-D convolutions are supported; input has rank %d", x->ndim);
    if (wt->ndim != x->ndim)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "weights have rank %d, input has rank %d", wt->ndim, x->ndim);
    memset(q, 0, sizeof *q);
    int sp = q->spatial = x->ndim - 2;
    q->n = x->dims[0];
    q->c = x->dims[1];
    q->h = sp == 2 ? x->dims[2] : 1;
    q->w = x->dims[x->ndim - 1];
    q->m = wt->dims[0];
    q->cg = wt->dims[1];
    q->kh = sp == 2 ? wt->dims[2] : 1;
    q->kw = wt->dims[wt->ndim - 1];
    q->group = cn_attr_int(n, "group", 1);
    if (q->group < 1 || q->group > INT_MAX)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "group %lld is not positive", (long long)q->group);
    if (q->c % q->group)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has %lld channels, not divisible by group %lld",
                            (long long)q->c, (long long)q->group);
    if (q->m % q->group)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "weights have %lld output channels, not divisible by group %lld",
                            (long long)q->m, (long long)q->group);
    if (q->cg != q->c / q->group)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has %lld channels, weights expect %lld (group %lld)",
                            (long long)q->c, (long long)(q->cg * q->group), (long long)q->group);
    if (q->m < 1 || q->cg < 1 || q->kh < 1 || q->kw < 1)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "weights have an empty dimension");
    q->mg = q->m / q->group;
    if (b && cn_tensor_numel(b) != (size_t)q->m)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "bias has %zu entries, weights have %lld output channels",
                            cn_tensor_numel(b), (long long)q->m);

    /* 4 each: axis_ints reads up to 4 entries before it checks the count (strides of 3 or 4 entries) */
    int64_t ks[4], strides[4], dils[4], pads[4];
    if ((st = axis_ints(g, n, "kernel_shape", sp, 1, 1, ks))) return st;
    if (cn_attr_find(n, "kernel_shape") && (ks[0] != (sp == 2 ? q->kh : q->kw) || (sp == 2 && ks[1] != q->kw)))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "kernel_shape does not match the weights' %lldx%lld kernel",
                            (long long)q->kh, (long long)q->kw);
    int auto_pad = PAD_NOTSET;
    if ((st = axis_ints(g, n, "strides", sp, 1, 1, strides)) || (st = axis_ints(g, n, "dilations", sp, 1, 1, dils)) ||
        (st = axis_ints(g, n, "pads", 2 * sp, 0, 0, pads)) || (st = parse_auto_pad(g, n, &auto_pad)))
        return st;
    q->sw = strides[sp - 1];
    q->dw = dils[sp - 1];
    if (sp == 2) {
        q->sh = strides[0];
        q->dh = dils[0];
        if ((st = axis_geometry(g, n, "height", auto_pad, q->h, q->kh, q->sh, q->dh, pads[0], pads[2], &q->ho,
                                &q->pad_top)))
            return st;
        st = axis_geometry(g, n, "width", auto_pad, q->w, q->kw, q->sw, q->dw, pads[1], pads[3], &q->wo,
                           &q->pad_left);
    } else {
        q->sh = q->dh = q->ho = 1;
        st = axis_geometry(g, n, "width", auto_pad, q->w, q->kw, q->sw, q->dw, pads[0], pads[1], &q->wo,
                           &q->pad_left);
    }
    if (st) return st;
    int64_t rows = q->cg * q->kh * q->kw, cols = q->ho * q->wo;
    if (cols > INT_MAX || rows > INT_MAX || rows > (INT64_MAX / (int64_t)sizeof(cn_real)) / cols)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "a column matrix of %lld x %lld is too large",
                            (long long)rows, (long long)cols);
    return CN_OK;
}

/* The input needs no unrolling: each group's (C/group, H*W) block already is its column matrix. */
static int is_pointwise(const conv_geom *q)
{
    return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->pad_top == 0 && q->pad_left == 0 &&
           q->ho == q->h && q->wo == q->w;
}

static int is_depthwise(const conv_geom *q) { return q->cg == 1 && q->group > 1; }

/* x (C/group channels of one example, H, W) -> col (C/group*kH*kW, Ho*Wo), row (c*kH + ki)*kW + kj, the order
 * of a row of W_g. Padding reads as zero. */
static void im2col(cn_real *col, const cn_real *x, const conv_geom *q)
{
    const int64_t hw = q->ho * q->wo;
    for (int64_t c = 0; c < q->cg; c++) {
        const cn_real *xc = x + c * q->h * q->w;
        for (int64_t ki = 0; ki < q->kh; ki++)
            for (int64_t kj = 0; kj < q->kw; kj++) {
                cn_real *row = col + ((c * q->kh + ki) * q->kw + kj) * hw;
                int64_t ih0 = ki * q->dh - q->pad_top, iw0 = kj * q->dw - q->pad_left;
                int64_t hlo, hhi, wlo, whi;
                valid_range(ih0, q->sh, q->h, q->ho, &hlo, &hhi);
                valid_range(iw0, q->sw, q->w, q->wo, &wlo, &whi);
                memset(row, 0, (size_t)(hlo * q->wo) * sizeof *row);
                for (int64_t oh = hlo; oh < hhi; oh++) {
                    cn_real *r = row + oh * q->wo;
                    const cn_real *xr = xc + (ih0 + oh * q->sh) * q->w; /* iw0 + ow*sw indexes it */
                    for (int64_t ow = 0; ow < wlo; ow++) r[ow] = 0;
                    if (q->sw == 1) {
                        memcpy(r + wlo, xr + iw0 + wlo, (size_t)(whi - wlo) * sizeof *r);
                    } else {
                        const int64_t s = q->sw;
                        SIMD
                        for (int64_t ow = wlo; ow < whi; ow++) r[ow] = xr[iw0 + ow * s];
                    }
                    for (int64_t ow = whi; ow < q->wo; ow++) r[ow] = 0;
                }
                memset(row + hhi * q->wo, 0, (size_t)((q->ho - hhi) * q->wo) * sizeof *row);
            }
    }
}

/* One example's depthwise convolution: output channel o reads input channel o / (M/C) only. The taps are the
 * outer loops so that each inner loop is a strided axpy along an output row, and the output plane, revisited
 * once per tap, stays in cache. */
static void depthwise(const conv_geom *q, const cn_real *W, const cn_real *b, const cn_real *x, cn_real *y)
{
    const int64_t hw = q->ho * q->wo, taps = q->kh * q->kw;
    for (int64_t o = 0; o < q->m; o++) {
        cn_real *yo = y + o * hw;
        const cn_real *xc = x + (o / q->mg) * q->h * q->w, *wt = W + o * taps;
        cn_real bias = b ? b[o] : 0;
        SIMD
        for (int64_t j = 0; j < hw; j++) yo[j] = bias;
        for (int64_t ki = 0; ki < q->kh; ki++) {
            int64_t ih0 = ki * q->dh - q->pad_top, hlo, hhi;
            valid_range(ih0, q->sh, q->h, q->ho, &hlo, &hhi);
            for (int64_t kj = 0; kj < q->kw; kj++) {
                int64_t iw0 = kj * q->dw - q->pad_left, wlo, whi;
                valid_range(iw0, q->sw, q->w, q->wo, &wlo, &whi);
                const cn_real wv = wt[ki * q->kw + kj];
                const int64_t s = q->sw;
                for (int64_t oh = hlo; oh < hhi; oh++) {
                    cn_real *yr = yo + oh * q->wo;
                    const cn_real *xr = xc + (ih0 + oh * q->sh) * q->w; /* iw0 + ow*sw indexes it */
                    if (s == 1) {
                        SIMD
                        for (int64_t ow = wlo; ow < whi; ow++) yr[ow] += wv * xr[iw0 + ow];
                    } else {
                        SIMD
                        for (int64_t ow = wlo; ow < whi; ow++) yr[ow] += wv * xr[iw0 + ow * s];
                    }
                }
            }
        }
    }
}

/* y (N, M, Ho, Wo) = conv(x) + b; b may be NULL. col: the column scratch (unused by the direct paths). */
static void conv_apply(const conv_geom *q, const cn_real *W, const cn_real *b, const cn_real *x, cn_real *y,
                       cn_real *col)
{
    const int64_t hw = q->ho * q->wo, in_plane = q->h * q->w, kg = q->cg * q->kh * q->kw;
    const int pointwise = is_pointwise(q);
    for (int64_t i = 0; i < q->n; i++) {
        const cn_real *xi = x + i * q->c * in_plane;
        cn_real *yi = y + i * q->m * hw;
        if (is_depthwise(q)) {
            depthwise(q, W, b, xi, yi);
            continue;
        }
        if (b)
            for (int64_t o = 0; o < q->m; o++) {
                cn_real *r = yi + o * hw;
                SIMD
                for (int64_t j = 0; j < hw; j++) r[j] = b[o];
            }
        /* y_g (M/group, Ho*Wo) (+)= W_g (M/group, kg) col_g (kg, Ho*Wo) */
        for (int64_t gi = 0; gi < q->group; gi++) {
            const cn_real *xg = xi + gi * q->cg * in_plane, *columns = xg;
            if (!pointwise) {
                im2col(col, xg, q);
                columns = col;
            }
            cn_matmul(0, 0, (int)q->mg, (int)hw, (int)kg, 1, W + gi * q->mg * kg, columns, b ? 1 : 0,
                      yi + gi * q->mg * hw);
        }
    }
}

/* The column scratch; *col stays NULL when the direct paths need none. */
static int column_scratch(cn_graph *g, cn_node *n, const conv_geom *q, cn_real **col)
{
    *col = NULL;
    if (is_pointwise(q) || is_depthwise(q)) return CN_OK;
    *col = cn_node_scratch(g, n, (size_t)(q->cg * q->kh * q->kw * q->ho * q->wo) * sizeof(cn_real));
    return *col ? CN_OK : CN_ERR_NOMEM;
}

static int conv_set_output(cn_graph *g, cn_node *n, const conv_geom *q, cn_tensor **out)
{
    int64_t dims[4] = {q->n, q->m, q->ho, q->wo};
    if (q->spatial == 1) dims[2] = q->wo;
    *out = cn_node_out(g, n, 0);
    if (!*out) return cn_node_fail(g, n, CN_ERR_FORMAT, "output Y is missing");
    return cn_tensor_set_shape(g, n, *out, CN_T_FLOAT, q->spatial + 2, dims);
}

static int conv_forward(cn_graph *g, cn_node *n)
{
    conv_geom q;
    cn_tensor *y = NULL;
    int st = conv_geometry(g, n, &q);
    if (st || (st = conv_set_output(g, n, &q, &y))) return st;
    cn_real *col = NULL;
    if (q.n == 0 || (st = column_scratch(g, n, &q, &col))) return st;
    const cn_tensor *x = cn_node_in(g, n, 0), *w = cn_node_in(g, n, 1), *b = cn_node_in(g, n, 2);
    conv_apply(&q, w->data, b ? b->data : NULL, x->data, y->data, col);
    return CN_OK;
}

static int conv_jvp(cn_graph *g, cn_node *n)
{
    if (cn_node_in_tan(g, n, 1) || cn_node_in_tan(g, n, 2))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "weights that depend on the input are not supported");
    conv_geom q;
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK; /* not active: nothing to write */
    int st = conv_geometry(g, n, &q);
    if (st) return st;
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    size_t count = (size_t)(q.n * q.m) * (size_t)(q.ho * q.wo);
    if (!tx || count == 0) {
        memset(y->tan, 0, count * sizeof *y->tan);
        return CN_OK;
    }
    cn_real *col = NULL;
    if ((st = column_scratch(g, n, &q, &col))) return st;
    conv_apply(&q, cn_node_in(g, n, 1)->data, NULL, tx, y->tan, col);
    return CN_OK;
}

const cn_op cn_op_Conv = {"Conv", conv_forward, conv_jvp, 0};
