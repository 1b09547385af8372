/* ops_pool.c: ONNX MaxPool, AveragePool, GlobalAveragePool and GlobalMaxPool on NCHW inputs (1-D inputs run as
 * 2-D with height 1; the global pools take any number of spatial axes), with their Jacobian-vector products.
 * The windows follow ONNX as PyTorch exports it: asymmetric pads, dilations, every auto_pad, ceil_mode with
 * PyTorch's rule that a last window starting in the right padding is dropped, and count_include_pad, which
 * counts the padding a window covers but not what lies beyond it. Each output row and column gets its window's
 * first position, the range of taps that land inside the input and the count of taps inside the padded input
 * once per call (a table per axis), so the inner loops carry no bounds tests and no divisions. A max pool
 * is piecewise the identity on one element per window, so its forward records that element (NaN wins, as in
 * PyTorch, so that a NaN is never hidden) and the jvp gathers the tangent there; an average pool is linear,
 * so its jvp is the same pool applied to the tangent. */
#include <float.h>
#include <limits.h>
#include <string.h>
#include "kernels/simd.h"
#include "onnx/graph.h"


#ifdef CRITNET_DOUBLE
#define EMPTY_WINDOW_MAX (-DBL_MAX)
#else
#define EMPTY_WINDOW_MAX (-FLT_MAX)
#endif

enum { PAD_NOTSET, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER };

typedef struct {
    int spatial;                        /* 1 or 2 */
    int64_t planes;                     /* N*C */
    int64_t h, w, kh, kw, sh, sw, dh, dw;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t ho, wo;
} pool_geom;

/* One output position along an axis: its window starts at input index `start`, taps [lo, hi) fall inside
 * the input, and `padded` taps fall inside the padded input (the divisor of count_include_pad). */
typedef struct {
    int start, lo, hi, padded;
} window;

static int check_float_input(cn_graph *g, const cn_node *n, const cn_tensor **x)
{
    *x = cn_node_in(g, n, 0);
    if (!*x) return cn_node_fail(g, n, CN_ERR_FORMAT, "input X is missing");
    if ((*x)->dtype != CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "input X is not a float tensor");
    return CN_OK;
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

/* An INTS attribute with `count` entries, each in [lo, INT_MAX] so that the size arithmetic cannot overflow;
 * def fills it when absent. */
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
    if (got != count) return cn_node_fail(g, n, CN_ERR_FORMAT, "%s has %d entries, expected %d", name, got, count);
    for (int i = 0; i < count; i++)
        if (v[i] < lo || v[i] > INT_MAX)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "%s[%d] = %lld is out of range", name, i, (long long)v[i]);
    return CN_OK;
}

/* Output size and pads along one axis. Explicit pads: floor, or ceil without a last window that would start
 * in the end padding; SAME_*: ceil(in/stride) with the padding split as ONNX does (the odd one at the end for
 * UPPER, at the start for LOWER); VALID: no padding. */
static int axis_geometry(cn_graph *g, const cn_node *n, const char *axis, int auto_pad, int ceil_mode, int64_t in,
                         int64_t k, int64_t stride, int64_t dil, int64_t *pad_begin, int64_t *pad_end, int64_t *out)
{
    int64_t extent = (k - 1) * dil + 1;
    if (in + *pad_begin + *pad_end > INT_MAX || extent > INT_MAX)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the padded input or the kernel is too large along the %s",
                            axis);
    if (auto_pad == PAD_SAME_UPPER || auto_pad == PAD_SAME_LOWER) {
        *out = (in + stride - 1) / stride;
        int64_t total = (*out - 1) * stride + extent - in;
        if (total < 0) total = 0;
        *pad_begin = auto_pad == PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pad_end = total - *pad_begin;
    } else {
        if (auto_pad == PAD_VALID) *pad_begin = *pad_end = 0;
        int64_t span = in + *pad_begin + *pad_end - extent;
        if (span < 0) *out = 0;
        else if (!ceil_mode) *out = span / stride + 1;
        else {
            *out = (span + stride - 1) / stride + 1;
            if ((*out - 1) * stride >= in + *pad_begin) --*out;
        }
    }
    if (*out < 1)
        return cn_node_fail(g, n, CN_ERR_FORMAT,
                            "output %s would be empty: input %lld, kernel extent %lld, pads %lld+%lld", axis,
                            (long long)in, (long long)extent, (long long)*pad_begin, (long long)*pad_end);
    if (*out > INT_MAX) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "output %s is too large", axis);
    return CN_OK;
}

/* The window geometry of MaxPool / AveragePool from X's shape and the attributes. */
static int pool_geometry(cn_graph *g, const cn_node *n, const cn_tensor *x, pool_geom *q)
{
    if (x->ndim != 3 && x->ndim != 4)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "only 1-D and 2-D pooling is supported; input has rank %d",
                            x->ndim);
    memset(q, 0, sizeof *q);
    int sp = q->spatial = x->ndim - 2, st, auto_pad = PAD_NOTSET;
    int64_t ks[4], strides[4], dils[4], pads[4];
    q->planes = x->dims[0] * x->dims[1];
    q->h = sp == 2 ? x->dims[2] : 1;
    q->w = x->dims[x->ndim - 1];
    if (!cn_attr_find(n, "kernel_shape")) return cn_node_fail(g, n, CN_ERR_FORMAT, "kernel_shape is missing");
    if ((st = axis_ints(g, n, "kernel_shape", sp, 1, 1, ks)) || (st = axis_ints(g, n, "strides", sp, 1, 1, strides)) ||
        (st = axis_ints(g, n, "dilations", sp, 1, 1, dils)) || (st = axis_ints(g, n, "pads", 2 * sp, 0, 0, pads)) ||
        (st = parse_auto_pad(g, n, &auto_pad)))
        return st;
    int ceil_mode = cn_attr_int(n, "ceil_mode", 0) != 0;
    q->kw = ks[sp - 1];
    q->sw = strides[sp - 1];
    q->dw = dils[sp - 1];
    if (sp == 2) {
        q->kh = ks[0];
        q->sh = strides[0];
        q->dh = dils[0];
        q->pad_top = pads[0];
        q->pad_bottom = pads[2];
        q->pad_left = pads[1];
        q->pad_right = pads[3];
        if ((st = axis_geometry(g, n, "height", auto_pad, ceil_mode, q->h, q->kh, q->sh, q->dh, &q->pad_top,
                                &q->pad_bottom, &q->ho)))
            return st;
    } else {
        q->kh = q->sh = q->dh = q->ho = 1;
        q->pad_left = pads[0];
        q->pad_right = pads[1];
    }
    return axis_geometry(g, n, "width", auto_pad, ceil_mode, q->w, q->kw, q->sw, q->dw, &q->pad_left, &q->pad_right,
                         &q->wo);
}

static void axis_windows(window *win, int64_t nout, int64_t in, int64_t k, int64_t stride, int64_t dil,
                         int64_t pad_begin, int64_t pad_end)
{
    /* in closed form, not by stepping tap by tap: a kernel of 2^30 taps over a few inputs and a wide padding
     * is valid, and stepping it took seconds per window */
    for (int64_t o = 0; o < nout; o++) {
        int64_t start = o * stride - pad_begin;
        /* lo: the first tap at or after index 0 */
        int64_t lo = start >= 0 ? 0 : (-start + dil - 1) / dil;
        if (lo > k) lo = k;
        /* hi: one past the last tap before index in (taps t with start + t dil <= in - 1), at least lo */
        int64_t hi = in - 1 - start >= 0 ? (in - 1 - start) / dil + 1 : 0;
        if (hi > k) hi = k;
        if (hi < lo) hi = lo;
        /* padded: the taps before the end of the padded input */
        int64_t padded = in + pad_end - 1 - start >= 0 ? (in + pad_end - 1 - start) / dil + 1 : 0;
        if (padded > k) padded = k;
        win[o] = (window){(int)start, (int)lo, (int)hi, (int)padded};
    }
}

/* The row and column window tables, placed in the scratch after `skip` bytes (MaxPool's argmax). */
static int window_tables(cn_graph *g, cn_node *n, const pool_geom *q, size_t skip, window **rows, window **cols)
{
    size_t bytes = skip + (size_t)(q->ho + q->wo) * sizeof(window);
    char *s = cn_node_scratch(g, n, bytes);
    if (!s) return CN_ERR_NOMEM;
    *rows = (window *)(s + skip);
    *cols = *rows + q->ho;
    axis_windows(*rows, q->ho, q->h, q->kh, q->sh, q->dh, q->pad_top, q->pad_bottom);
    axis_windows(*cols, q->wo, q->w, q->kw, q->sw, q->dw, q->pad_left, q->pad_right);
    return CN_OK;
}

static int set_output(cn_graph *g, cn_node *n, const cn_tensor *x, const int64_t *spatial_out, cn_tensor **y)
{
    int64_t dims[CN_ONNX_MAX_DIMS];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->ndim; i++) dims[i] = spatial_out[i - 2];
    *y = cn_node_out(g, n, 0);
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "output Y is missing");
    return cn_tensor_set_shape(g, n, *y, CN_T_FLOAT, x->ndim, dims);
}

/* ------------------------------------------------------------------ MaxPool */

/* The largest element of one window (taps r x c of plane xp, row length w) and its offset in *at; NaN wins,
 * as in PyTorch, so that a NaN is never hidden. The exact path, for windows cut by the border and rows that
 * hold a NaN. */
static cn_real window_max(const cn_real *xp, int64_t w, window r, window c, int64_t dh, int64_t dw, int32_t *at)
{
    int64_t best_at = (r.start + r.lo * dh) * w + c.start + c.lo * dw;
    for (int64_t i = r.lo; i < r.hi; i++) {
        const int64_t row = (r.start + i * dh) * w + c.start;
        for (int64_t j = c.lo; j < c.hi; j++) {
            const cn_real v = xp[row + j * dw];
            if (v > xp[best_at] || v != v) best_at = row + j * dw;
        }
    }
    *at = (int32_t)best_at;
    return xp[best_at];
}

/* The outputs ow in [c0, c1) of one output row, whose windows lie inside the input's width. The taps are the
 * outer loops and the outputs the inner one, so that consecutive outputs are independent instead of one chain
 * of dependent max instructions, and the winner is chosen by a max and a mask, because a branch on data
 * mispredicts on every other tap. A strict > keeps the first of equal elements, as PyTorch does. Returns 0
 * when the row met a NaN, which a max instruction would drop: the caller redoes it on the exact path. */
static int max_row_interior(const cn_real *xp, const pool_geom *q, window r, int64_t c0, int64_t c1, cn_real *yr,
                            int32_t *ar)
{
    const int64_t sw = q->sw, first_col = -q->pad_left;
    int nan = 0;
    const int64_t base0 = (r.start + r.lo * q->dh) * q->w + first_col;
    for (int64_t ow = c0; ow < c1; ow++) {
        yr[ow] = xp[base0 + ow * sw];
        ar[ow] = (int32_t)(base0 + ow * sw);
    }
    for (int64_t i = r.lo; i < r.hi; i++)
        for (int64_t j = 0; j < q->kw; j++) {
            const int32_t base = (int32_t)((r.start + i * q->dh) * q->w + first_col + j * q->dw);
            CN_SIMD_REDUCE(|, nan)
            for (int64_t ow = c0; ow < c1; ow++) {
                const cn_real v = xp[base + ow * sw], b = yr[ow];
                const int32_t wins = -(int32_t)(v > b), at = base + (int32_t)(ow * sw);
                yr[ow] = v > b ? v : b;
                ar[ow] = (at & wins) | (ar[ow] & ~wins);
                nan |= v != v;
            }
        }
    return !nan;
}

/* The columns [*c0, *c1) whose windows have all their taps inside the input's width. */
static void interior_columns(const pool_geom *q, const window *cols, int64_t *c0, int64_t *c1)
{
    int64_t a = 0, b = 0;
    while (a < q->wo && cols[a].lo > 0) a++;
    while (b < q->wo && cols[b].hi == q->kw) b++;
    *c0 = a;
    *c1 = b > a ? b : a;
}

/* The pool of every plane, and in arg each output's input offset within its plane (-1: a window that covers
 * only padding, whose output is the lowest finite value, as onnxruntime gives). */
static void max_pool(const pool_geom *q, const window *rows, const window *cols, const cn_real *x, cn_real *y,
                     int32_t *arg)
{
    const int64_t in_plane = q->h * q->w, out_plane = q->ho * q->wo;
    int64_t c0, c1;
    interior_columns(q, cols, &c0, &c1);
    for (int64_t p = 0; p < q->planes; p++) {
        const cn_real *xp = x + p * in_plane;
        for (int64_t oh = 0; oh < q->ho; oh++) {
            const window r = rows[oh];
            cn_real *yr = y + p * out_plane + oh * q->wo;
            int32_t *ar = arg + p * out_plane + oh * q->wo;
            const int fast = r.lo < r.hi && max_row_interior(xp, q, r, c0, c1, yr, ar);
            for (int64_t ow = 0; ow < q->wo; ow++) {
                if (fast && ow == c0) ow = c1;
                if (ow >= q->wo) break;
                const window c = cols[ow];
                if (r.lo >= r.hi || c.lo >= c.hi) {
                    yr[ow] = EMPTY_WINDOW_MAX;
                    ar[ow] = -1;
                } else {
                    yr[ow] = window_max(xp, q->w, r, c, q->dh, q->dw, &ar[ow]);
                }
            }
        }
    }
}

static int only_first_output(cn_graph *g, const cn_node *n, const char *extra)
{
    for (int i = 1; i < n->nout; i++)
        if (n->out[i] >= 0)
            return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the %s output is not supported", extra);
    return CN_OK;
}

static int maxpool_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = NULL;
    cn_tensor *y = NULL;
    pool_geom q;
    window *rows = NULL, *cols = NULL;
    int st;
    if ((st = only_first_output(g, n, "Indices")) || (st = check_float_input(g, n, &x)) ||
        (st = pool_geometry(g, n, x, &q)))
        return st;
    int64_t out[2] = {q.ho, q.wo};
    if ((st = set_output(g, n, x, q.spatial == 2 ? out : out + 1, &y))) return st;
    size_t count = cn_tensor_numel(y), arg_bytes = (count * sizeof(int32_t) + 63) / 64 * 64;
    if ((st = window_tables(g, n, &q, arg_bytes, &rows, &cols))) return st;
    max_pool(&q, rows, cols, x->data, y->data, n->scratch);
    return CN_OK;
}

/* The tangent of each output is the input's tangent at the element the forward picked. */
static void gather_at_argmax(const int32_t *arg, size_t planes, size_t out_plane, size_t in_plane,
                             const cn_real *tx, cn_real *ty)
{
    for (size_t p = 0; p < planes; p++) {
        const cn_real *tp = tx + p * in_plane;
        const int32_t *ap = arg + p * out_plane;
        cn_real *yp = ty + p * out_plane;
        for (size_t i = 0; i < out_plane; i++) yp[i] = ap[i] >= 0 ? tp[ap[i]] : 0;
    }
}

static size_t spatial_size(const cn_tensor *t)
{
    size_t s = 1;
    for (int i = 2; i < t->ndim; i++) s *= (size_t)t->dims[i];
    return s;
}

/* MaxPool and GlobalMaxPool alike: the argmax is at the start of the scratch. */
static int argmax_jvp(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = cn_node_in(g, n, 0);
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    size_t count = cn_tensor_numel(y);
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    if (!tx || count == 0) {
        memset(y->tan, 0, count * sizeof *y->tan);
        return CN_OK;
    }
    size_t out_plane = spatial_size(y);
    gather_at_argmax(n->scratch, count / out_plane, out_plane, spatial_size(x), tx, y->tan);
    return CN_OK;
}

/* ------------------------------------------------------------------ AveragePool */

static void average_pool(const pool_geom *q, const window *rows, const window *cols, int include_pad,
                         const cn_real *x, cn_real *y)
{
    const int64_t in_plane = q->h * q->w, out_plane = q->ho * q->wo, dh = q->dh, dw = q->dw;
    for (int64_t p = 0; p < q->planes; p++) {
        const cn_real *xp = x + p * in_plane;
        for (int64_t oh = 0; oh < q->ho; oh++) {
            const window r = rows[oh];
            cn_real *yr = y + p * out_plane + oh * q->wo;
            for (int64_t ow = 0; ow < q->wo; ow++) {
                const window c = cols[ow];
                double sum = 0;
                for (int64_t i = r.lo; i < r.hi; i++) {
                    const int64_t row = (r.start + i * dh) * q->w + c.start;
                    for (int64_t j = c.lo; j < c.hi; j++) sum += xp[row + j * dw];
                }
                const int64_t count =
                    include_pad ? (int64_t)r.padded * c.padded : (int64_t)(r.hi - r.lo) * (c.hi - c.lo);
                yr[ow] = count > 0 ? (cn_real)(sum / (double)count) : 0;
            }
        }
    }
}

static int averagepool_prepare(cn_graph *g, cn_node *n, const cn_tensor **x, pool_geom *q, window **rows,
                               window **cols)
{
    int st;
    if ((st = check_float_input(g, n, x)) || (st = pool_geometry(g, n, *x, q))) return st;
    return window_tables(g, n, q, 0, rows, cols);
}

static int averagepool_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = NULL;
    cn_tensor *y = NULL;
    pool_geom q;
    window *rows = NULL, *cols = NULL;
    int st = averagepool_prepare(g, n, &x, &q, &rows, &cols);
    if (st) return st;
    int64_t out[2] = {q.ho, q.wo};
    if ((st = set_output(g, n, x, q.spatial == 2 ? out : out + 1, &y))) return st;
    average_pool(&q, rows, cols, cn_attr_int(n, "count_include_pad", 0) != 0, x->data, y->data);
    return CN_OK;
}

static int averagepool_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    if (!tx) {
        memset(y->tan, 0, cn_tensor_numel(y) * sizeof *y->tan);
        return CN_OK;
    }
    const cn_tensor *x = NULL;
    pool_geom q;
    window *rows = NULL, *cols = NULL;
    int st = averagepool_prepare(g, n, &x, &q, &rows, &cols);
    if (st) return st;
    average_pool(&q, rows, cols, cn_attr_int(n, "count_include_pad", 0) != 0, tx, y->tan);
    return CN_OK;
}

/* ------------------------------------------------------------------ GlobalAveragePool, GlobalMaxPool */

static int global_prepare(cn_graph *g, cn_node *n, const cn_tensor **x, cn_tensor **y)
{
    int st = check_float_input(g, n, x);
    if (st) return st;
    if ((*x)->ndim < 3)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has rank %d, expected (N, C, spatial...)", (*x)->ndim);
    int64_t ones[CN_ONNX_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    return set_output(g, n, *x, ones, y);
}

static void plane_means(const cn_real *x, size_t planes, size_t size, cn_real *y)
{
    for (size_t p = 0; p < planes; p++) {
        const cn_real *xp = x + p * size;
        double sum = 0;
        CN_SIMD_REDUCE(+, sum)
        for (size_t i = 0; i < size; i++) sum += xp[i];
        y[p] = size ? (cn_real)(sum / (double)size) : 0;
    }
}

static int global_average_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = NULL;
    cn_tensor *y = NULL;
    int st = global_prepare(g, n, &x, &y);
    if (st) return st;
    plane_means(x->data, cn_tensor_numel(y), spatial_size(x), y->data);
    return CN_OK;
}

static int global_average_jvp(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = cn_node_in(g, n, 0);
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    if (!tx) memset(y->tan, 0, cn_tensor_numel(y) * sizeof *y->tan);
    else plane_means(tx, cn_tensor_numel(y), spatial_size(x), y->tan);
    return CN_OK;
}

static int global_max_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = NULL;
    cn_tensor *y = NULL;
    int st = global_prepare(g, n, &x, &y);
    if (st) return st;
    size_t planes = cn_tensor_numel(y), size = spatial_size(x);
    if (size > INT32_MAX) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "a plane of %zu elements is too large", size);
    if (planes == 0) return CN_OK;
    int32_t *arg = cn_node_scratch(g, n, planes * sizeof *arg);
    if (!arg) return CN_ERR_NOMEM;
    const cn_real *xd = x->data;
    cn_real *yd = y->data;
    for (size_t p = 0; p < planes; p++) {
        const cn_real *xp = xd + p * size;
        if (size == 0) {
            yd[p] = EMPTY_WINDOW_MAX;
            arg[p] = -1;
            continue;
        }
        size_t best_at = 0;
        for (size_t i = 1; i < size; i++)
            if (xp[i] > xp[best_at] || xp[i] != xp[i]) best_at = i;
        yd[p] = xp[best_at];
        arg[p] = (int32_t)best_at;
    }
    return CN_OK;
}

const cn_op cn_op_MaxPool = {"MaxPool", maxpool_forward, argmax_jvp, 0};
const cn_op cn_op_AveragePool = {"AveragePool", averagepool_forward, averagepool_jvp, 0};
const cn_op cn_op_GlobalAveragePool = {"GlobalAveragePool", global_average_forward, global_average_jvp, 0};
const cn_op cn_op_GlobalMaxPool = {"GlobalMaxPool", global_max_forward, argmax_jvp, 0};
