/* ops_reduce.c: ReduceMean, ReduceSum, ReduceMax, Softmax and LogSoftmax, forward, jvp and vjp.
 *
 * A reduction walks its input with a broadcast plan (broadcast.h) in which the output, with the reduced axes
 * kept at size 1, is the one operand: the merge turns any set of axes into rows that either end in a
 * contiguous reduced run (the output's step is 0: one sum per row, as global average pooling or a mean over
 * the last axis) or run alongside the output (step 1: rows added into it, as a mean over the batch or the
 * channels). Sums accumulate in double. ReduceMax keeps the flat index of the first maximum in the node's
 * scratch for the jvp, which gathers the input's tangent there.
 *
 * Softmax views its input as (outer, L, inner) around the axis and subtracts the maximum before the
 * exponential. With inner = 1 (the last axis, the usual case) each row is contiguous; otherwise the L
 * entries of one position are inner apart and the loops run over the inner positions together, so memory
 * is still read in order. Opsets before 13 flatten the input to 2-D at the axis instead (inner = 1).
 */
#include <math.h>
#include <string.h>
#include "onnx/broadcast.h"
#include "kernels/softmax.h"
#include "onnx/graph.h"

/* ------------------------------------------------------------------ which axes */

typedef struct {
    int reduced[CN_ONNX_MAX_DIMS]; /* 1 for each reduced input axis */
    int64_t kept[CN_ONNX_MAX_DIMS]; /* the output shape with reduced axes at 1 (keepdims) */
    int out_ndim;
    int64_t out_dims[CN_ONNX_MAX_DIMS];
    size_t count;                  /* input entries per output entry */
    int identity;                  /* no axes and noop_with_empty_axes: the output is the input */
} reduce_shape;

/* axes from the attribute (ReduceSum before opset 13, the others before 18) or else from input 1 */
static int reduce_axes(cn_graph *g, cn_node *n, int64_t *axes, int *count)
{
    if (cn_attr_find(n, "axes")) return cn_attr_ints(g, n, "axes", axes, CN_ONNX_MAX_DIMS, count);
    int rc = cn_input_ints(g, n, 1, axes, CN_ONNX_MAX_DIMS, count);
    if (*count < 0) *count = 0;
    return rc;
}

static int reduce_plan(cn_graph *g, cn_node *n, const cn_tensor *x, reduce_shape *s)
{
    int64_t axes[CN_ONNX_MAX_DIMS];
    int count, rc;
    if ((rc = reduce_axes(g, n, axes, &count))) return rc;
    const int keepdims = cn_attr_int(n, "keepdims", 1) != 0;
    s->identity = count == 0 && cn_attr_int(n, "noop_with_empty_axes", 0) != 0;
    for (int j = 0; j < x->ndim; j++) s->reduced[j] = !s->identity && count == 0;
    for (int i = 0; i < count; i++) {
        int ax;
        if (cn_axis_normalize(axes[i], x->ndim, &ax))
            return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)axes[i],
                                x->ndim);
        if (s->reduced[ax]) return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld is given twice", (long long)axes[i]);
        s->reduced[ax] = 1;
    }
    s->count = 1;
    s->out_ndim = 0;
    for (int j = 0; j < x->ndim; j++) {
        s->kept[j] = s->reduced[j] ? 1 : x->dims[j];
        if (s->reduced[j]) s->count *= (size_t)x->dims[j];
        if (!s->reduced[j] || keepdims) s->out_dims[s->out_ndim++] = s->kept[j];
    }
    return CN_OK;
}

/* the input walked in order, the output (keepdims shape) as the one operand */
static void reduce_walk(cn_bcast *p, const cn_tensor *x, const reduce_shape *s)
{
    const int nd = x->ndim;
    const int64_t *kd = s->kept;
    cn_bcast_plan(p, x->ndim, x->dims, 1, &nd, &kd);
}

static int float_in_out(cn_graph *g, cn_node *n, cn_tensor **x, cn_tensor **y)
{
    *x = cn_node_in(g, n, 0);
    *y = cn_node_out(g, n, 0);
    if (!*x) return cn_node_fail(g, n, CN_ERR_FORMAT, "the input is missing");
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the output is missing");
    if ((*x)->dtype != CN_T_FLOAT)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs a float tensor, got %s", cn_dtype_label((*x)->dtype));
    return CN_OK;
}

/* ------------------------------------------------------------------ ReduceSum, ReduceMean */

/* acc (output entries) = sums of v (input layout) over the reduced axes */
static void sum_into(const cn_bcast *p, const cn_real *v, double *acc, size_t out_count)
{
    const size_t inner = cn_bcast_inner(p), rows = cn_bcast_rows(p);
    const int along = cn_bcast_inner_step(p, 0);
    memset(acc, 0, out_count * sizeof *acc);
    cn_bcast_pos q;
    cn_bcast_start(p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(p, &q)) {
        const cn_real *row = v + r * inner;
        double *a = acc + q.off[0];
        if (along) {
            CN_SIMD for (size_t i = 0; i < inner; i++) a[i] += row[i];
        } else {
            double s = 0;
            CN_SIMD_SUM(s)
            for (size_t i = 0; i < inner; i++) s += row[i];
            a[0] += s;
        }
    }
}

/* out = sum over the reduced axes of v, divided by count for a mean; the work of forward and jvp alike */
static int reduce_linear(cn_graph *g, cn_node *n, const cn_tensor *x, const reduce_shape *s, const cn_real *v,
                         cn_real *out, size_t out_count, int mean)
{
    if (s->identity) {
        memcpy(out, v, out_count * sizeof *out);
        return CN_OK;
    }
    double *acc = cn_node_scratch(g, n, out_count * sizeof *acc);
    if (!acc) return CN_ERR_NOMEM;
    cn_bcast p;
    reduce_walk(&p, x, s);
    if (cn_tensor_numel(x)) sum_into(&p, v, acc, out_count);
    else memset(acc, 0, out_count * sizeof *acc);
    const double scale = mean ? 1.0 / (double)s->count : 1.0; /* an empty mean is NaN (0 * inf), as numpy */
    for (size_t i = 0; i < out_count; i++) out[i] = (cn_real)(acc[i] * scale);
    return CN_OK;
}

static int linear_forward(cn_graph *g, cn_node *n, int mean)
{
    cn_tensor *x, *y;
    reduce_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = reduce_plan(g, n, x, &s))) return rc;
    if (s.identity) rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, x->ndim, x->dims);
    else rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, s.out_ndim, s.out_dims);
    if (rc) return rc;
    return reduce_linear(g, n, x, &s, x->data, y->data, cn_tensor_numel(y), mean);
}

static int linear_jvp(cn_graph *g, cn_node *n, int mean)
{
    cn_tensor *x, *y;
    reduce_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = reduce_plan(g, n, x, &s))) return rc;
    const cn_real *t = cn_node_in_tan(g, n, 0);
    if (!t) {
        memset(y->tan, 0, cn_tensor_numel(y) * sizeof(cn_real));
        return CN_OK;
    }
    return reduce_linear(g, n, x, &s, t, y->tan, cn_tensor_numel(y), mean);
}

/* the transpose of a sum: every input entry gains its output entry's gradient (times 1/count for a mean) */
static int linear_vjp(cn_graph *g, cn_node *n, int mean)
{
    cn_tensor *x, *y;
    reduce_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = reduce_plan(g, n, x, &s))) return rc;
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (!gx || !gy || cn_tensor_numel(x) == 0) return CN_OK;
    if (s.identity) {
        cn_grad_add(gx, gy, cn_tensor_numel(x));
        return CN_OK;
    }
    const cn_real scale = (cn_real)(mean ? 1.0 / (double)s.count : 1.0);
    cn_bcast p;
    reduce_walk(&p, x, &s);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int along = cn_bcast_inner_step(&p, 0);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
        cn_real *row = gx + r * inner;
        const cn_real *from = gy + q.off[0];
        if (along) {
            CN_SIMD for (size_t i = 0; i < inner; i++) row[i] += scale * from[i];
        } else {
            const cn_real v = scale * from[0];
            CN_SIMD for (size_t i = 0; i < inner; i++) row[i] += v;
        }
    }
    return CN_OK;
}

static int sum_vjp(cn_graph *g, cn_node *n) { return linear_vjp(g, n, 0); }
static int mean_vjp(cn_graph *g, cn_node *n) { return linear_vjp(g, n, 1); }
static int sum_forward(cn_graph *g, cn_node *n) { return linear_forward(g, n, 0); }
static int sum_jvp(cn_graph *g, cn_node *n) { return linear_jvp(g, n, 0); }
static int mean_forward(cn_graph *g, cn_node *n) { return linear_forward(g, n, 1); }
static int mean_jvp(cn_graph *g, cn_node *n) { return linear_jvp(g, n, 1); }

/* the axes are not trained */
const cn_op cn_op_ReduceSum = {.name = "ReduceSum", .forward = sum_forward, .jvp = sum_jvp, .vjp = sum_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_ReduceMean = {.name = "ReduceMean", .forward = mean_forward, .jvp = mean_jvp, .vjp = mean_vjp, .tangent_rule = CN_TANGENT_LINEAR};

/* ------------------------------------------------------------------ ReduceMax */

/* v beats the best so far: larger, or the first NaN (which then stays, as torch.amax) */
static inline int beats(cn_real v, cn_real best) { return v > best || (v != v && best == best); }

static void max_into(const cn_bcast *p, const cn_real *x, cn_real *out, int64_t *arg, size_t out_count)
{
    const size_t inner = cn_bcast_inner(p), rows = cn_bcast_rows(p);
    const int along = cn_bcast_inner_step(p, 0);
    for (size_t i = 0; i < out_count; i++) {
        out[i] = -INFINITY;
        arg[i] = -1;
    }
    cn_bcast_pos q;
    cn_bcast_start(p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(p, &q)) {
        const cn_real *row = x + r * inner;
        const int64_t base = (int64_t)(r * inner);
        cn_real *o = out + q.off[0];
        int64_t *a = arg + q.off[0];
        for (size_t i = 0; i < inner; i++) {
            const size_t k = along ? i : 0;
            /* arg < 0: the first entry seen, taken even when it is -inf */
            if (beats(row[i], o[k]) || a[k] < 0) {
                o[k] = row[i];
                a[k] = base + (int64_t)i;
            }
        }
    }
}

static int max_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *x, *y;
    reduce_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = reduce_plan(g, n, x, &s))) return rc;
    if (s.identity) {
        if ((rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, x->ndim, x->dims))) return rc;
        memcpy(y->data, x->data, cn_tensor_numel(x) * sizeof(cn_real));
        return CN_OK;
    }
    if ((rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, s.out_ndim, s.out_dims))) return rc;
    const size_t out_count = cn_tensor_numel(y);
    int64_t *arg = cn_node_scratch(g, n, out_count * sizeof *arg);
    if (!arg) return CN_ERR_NOMEM;
    cn_bcast p;
    reduce_walk(&p, x, &s);
    if (cn_tensor_numel(x)) max_into(&p, x->data, y->data, arg, out_count);
    else
        for (size_t i = 0; i < out_count; i++) {
            ((cn_real *)y->data)[i] = -INFINITY;
            arg[i] = -1;
        }
    return CN_OK;
}

/* the tangent at the (first) maximum; the argmax the forward stored is still valid, the shapes being the
 * last forward's */
static int max_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *x, *y;
    reduce_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = reduce_plan(g, n, x, &s))) return rc;
    const cn_real *t = cn_node_in_tan(g, n, 0);
    const size_t out_count = cn_tensor_numel(y);
    if (s.identity) {
        if (t) memcpy(y->tan, t, out_count * sizeof(cn_real));
        else memset(y->tan, 0, out_count * sizeof(cn_real));
        return CN_OK;
    }
    const int64_t *arg = n->scratch;
    for (size_t i = 0; i < out_count; i++) y->tan[i] = t && arg[i] >= 0 ? t[arg[i]] : 0;
    return CN_OK;
}


/* ------------------------------------------------------------------ Softmax, LogSoftmax */

typedef struct {
    size_t outer, len, inner; /* the input as (outer, len, inner), softmax along len */
} softmax_shape;

static int softmax_plan(cn_graph *g, cn_node *n, const cn_tensor *x, softmax_shape *s)
{
    const int flatten = g->opset < 13; /* the older semantics: 2-D at the axis, softmax over the rest */
    int64_t axis = cn_attr_int(n, "axis", flatten ? 1 : -1);
    int ax;
    if (x->ndim == 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "needs a tensor of rank 1 or more");
    if (cn_axis_normalize(axis, x->ndim, &ax))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)axis, x->ndim);
    s->outer = s->len = s->inner = 1;
    for (int j = 0; j < ax; j++) s->outer *= (size_t)x->dims[j];
    if (flatten) {
        for (int j = ax; j < x->ndim; j++) s->len *= (size_t)x->dims[j];
    } else {
        s->len = (size_t)x->dims[ax];
        for (int j = ax + 1; j < x->ndim; j++) s->inner *= (size_t)x->dims[j];
    }
    return CN_OK;
}

/* one (len, inner) block, the positions of the inner axis side by side; m and sum hold inner entries */
static void softmax_block(const softmax_shape *s, const cn_real *x, cn_real *y, int log_out, cn_real *m,
                          double *sum)
{
    const size_t len = s->len, inner = s->inner;
    for (size_t j = 0; j < inner; j++) {
        m[j] = -INFINITY;
        sum[j] = 0;
    }
    for (size_t l = 0; l < len; l++)
        CN_SIMD for (size_t j = 0; j < inner; j++) m[j] = x[l * inner + j] > m[j] ? x[l * inner + j] : m[j];
    for (size_t l = 0; l < len; l++)
        for (size_t j = 0; j < inner; j++) {
            const cn_real e = cn_real_exp(x[l * inner + j] - m[j]);
            if (!log_out) y[l * inner + j] = e;
            sum[j] += e;
        }
    for (size_t j = 0; j < inner; j++) sum[j] = log_out ? log(sum[j]) : 1.0 / sum[j];
    for (size_t l = 0; l < len; l++)
        CN_SIMD for (size_t j = 0; j < inner; j++) {
            const size_t k = l * inner + j;
            y[k] = (cn_real)(log_out ? (double)x[k] - m[j] - sum[j] : y[k] * sum[j]);
        }
}

static int softmax_forward(cn_graph *g, cn_node *n, int log_out)
{
    cn_tensor *x, *y;
    softmax_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = softmax_plan(g, n, x, &s))) return rc;
    if ((rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, x->ndim, x->dims))) return rc;
    const cn_real *xd = x->data;
    cn_real *yd = y->data;
    const size_t block = s.len * s.inner;
    if (s.inner == 1) {
        for (size_t o = 0; o < s.outer; o++) cn_softmax_row(s.len, xd + o * block, yd + o * block, log_out);
        return CN_OK;
    }
    double *sum = cn_node_scratch(g, n, s.inner * (sizeof(double) + sizeof(cn_real)));
    if (!sum) return CN_ERR_NOMEM;
    cn_real *m = (cn_real *)(sum + s.inner);
    for (size_t o = 0; o < s.outer; o++) softmax_block(&s, xd + o * block, yd + o * block, log_out, m, sum);
    return CN_OK;
}

/* Softmax: ty = s * (t - sum(s t)); LogSoftmax (y = log s): ty = t - sum(s t); rows: cn_softmax_row_jvp. */
/* the same for one (len, inner) block, the inner positions side by side; dot holds inner entries */
static void softmax_tangent_block(const softmax_shape *s, const cn_real *y, const cn_real *t, cn_real *ty,
                                  int log_out, double *dot)
{
    const size_t len = s->len, inner = s->inner;
    for (size_t j = 0; j < inner; j++) dot[j] = 0;
    for (size_t l = 0; l < len; l++)
        CN_SIMD for (size_t j = 0; j < inner; j++) {
            const double p = log_out ? exp((double)y[l * inner + j]) : (double)y[l * inner + j];
            dot[j] += p * t[l * inner + j];
        }
    for (size_t l = 0; l < len; l++)
        CN_SIMD for (size_t j = 0; j < inner; j++) {
            const size_t k = l * inner + j;
            const double d = (double)t[k] - dot[j];
            ty[k] = (cn_real)(log_out ? d : (double)y[k] * d);
        }
}

static int softmax_jvp(cn_graph *g, cn_node *n, int log_out)
{
    cn_tensor *x, *y;
    softmax_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = softmax_plan(g, n, x, &s))) return rc;
    const cn_real *t = cn_node_in_tan(g, n, 0);
    if (!t) {
        memset(y->tan, 0, cn_tensor_numel(y) * sizeof(cn_real));
        return CN_OK;
    }
    const size_t block = s.len * s.inner;
    const cn_real *yd = y->data;
    if (s.inner == 1) {
        for (size_t o = 0; o < s.outer; o++)
            cn_softmax_row_jvp(s.len, yd + o * block, t + o * block, y->tan + o * block, log_out);
        return CN_OK;
    }
    double *dot = cn_node_scratch(g, n, s.inner * sizeof(double));
    if (!dot) return CN_ERR_NOMEM;
    for (size_t o = 0; o < s.outer; o++)
        softmax_tangent_block(&s, yd + o * block, t + o * block, y->tan + o * block, log_out, dot);
    return CN_OK;
}

/* The transposed Jacobians: Softmax's is symmetric, gx += s * (gy - sum(s gy)); LogSoftmax's is I - 1 s^T,
 * gx += gy - s * sum(gy). One (len, inner) block at a time, the inner positions side by side. */
static void softmax_vjp_block(const softmax_shape *s, const cn_real *y, const cn_real *gy, cn_real *gx,
                              int log_out, double *dot)
{
    const size_t len = s->len, inner = s->inner;
    for (size_t j = 0; j < inner; j++) dot[j] = 0;
    for (size_t l = 0; l < len; l++)
        for (size_t j = 0; j < inner; j++) {
            const size_t k = l * inner + j;
            dot[j] += log_out ? (double)gy[k] : (double)y[k] * gy[k];
        }
    for (size_t l = 0; l < len; l++)
        for (size_t j = 0; j < inner; j++) {
            const size_t k = l * inner + j;
            gx[k] += (cn_real)(log_out ? (double)gy[k] - exp((double)y[k]) * dot[j]
                                       : (double)y[k] * ((double)gy[k] - dot[j]));
        }
}

static int softmax_vjp(cn_graph *g, cn_node *n, int log_out)
{
    cn_tensor *x, *y;
    softmax_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = softmax_plan(g, n, x, &s))) return rc;
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (!gx || !gy) return CN_OK;
    double *dot = cn_node_scratch(g, n, s.inner * sizeof(double));
    if (!dot) return CN_ERR_NOMEM;
    const size_t block = s.len * s.inner;
    const cn_real *yd = y->data;
    for (size_t o = 0; o < s.outer; o++)
        softmax_vjp_block(&s, yd + o * block, gy + o * block, gx + o * block, log_out, dot);
    return CN_OK;
}

/* The reverse of the jvp along one softmax row (stride `inner`), p the probabilities, t the tangent and gu the
 * cotangent of its tangent, with s = sum(p t) and b = sum(p gu):
 *   Softmax, u = p (t - s):  t gains p (gu - b); x, through p, gains p (w - sum(p w)) with w = gu t - s gu - b t;
 *   LogSoftmax, u = t - s:   t gains gu - p sum(gu); x gains -sum(gu) p (t - s).
 * (Both from dp = p (dx - sum(p dx)), whose Jacobian is symmetric.) */
static void softmax_row_reverse(size_t len, size_t inner, const cn_real *y, const cn_real *t, const cn_real *gu,
                                cn_real *gt, cn_real *gx, int log_out)
{
    double s = 0, b = 0, G = 0;
    for (size_t l = 0; l < len; l++) {
        const size_t k = l * inner;
        const double p = log_out ? exp((double)y[k]) : (double)y[k];
        s += p * t[k];
        b += p * gu[k];
        G += gu[k];
    }
    double pw = 0;
    if (!log_out)
        for (size_t l = 0; l < len; l++) {
            const size_t k = l * inner;
            pw += (double)y[k] * ((double)gu[k] * t[k] - s * gu[k] - b * t[k]);
        }
    for (size_t l = 0; l < len; l++) {
        const size_t k = l * inner;
        const double p = log_out ? exp((double)y[k]) : (double)y[k];
        if (gt) gt[k] += (cn_real)(log_out ? gu[k] - p * G : p * (gu[k] - b));
        if (!gx) continue;
        const double w = (double)gu[k] * t[k] - s * gu[k] - b * t[k];
        gx[k] += (cn_real)(log_out ? -G * p * (t[k] - s) : p * (w - pw));
    }
}

static int softmax_jvp_vjp(cn_graph *g, cn_node *n, int log_out)
{
    cn_tensor *x, *y;
    softmax_shape s;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = softmax_plan(g, n, x, &s))) return rc;
    const cn_real *gu = cn_node_out_gtan(g, n, 0), *t = cn_node_in_tan(g, n, 0);
    cn_real *gt = cn_node_in_gtan(g, n, 0), *gx = cn_node_in_grad(g, n, 0);
    if (!gu || !t) return CN_OK;
    const size_t block = s.len * s.inner, count = cn_tensor_numel(y);
    for (int k = 0; k < g->run_k; k++) {
        const size_t off = (size_t)k * count;
        for (size_t o = 0; o < s.outer; o++)
            for (size_t j = 0; j < s.inner; j++) {
                const size_t at = o * block + j;
                softmax_row_reverse(s.len, s.inner, (const cn_real *)y->data + at, t + off + at, gu + off + at,
                                    gt ? gt + off + at : NULL, gx ? gx + at : NULL, log_out);
            }
    }
    return CN_OK;
}

static int softmax_back2(cn_graph *g, cn_node *n) { return softmax_jvp_vjp(g, n, 0); }
static int log_softmax_back2(cn_graph *g, cn_node *n) { return softmax_jvp_vjp(g, n, 1); }
static int softmax_back(cn_graph *g, cn_node *n) { return softmax_vjp(g, n, 0); }
static int log_softmax_back(cn_graph *g, cn_node *n) { return softmax_vjp(g, n, 1); }
static int softmax_fw(cn_graph *g, cn_node *n) { return softmax_forward(g, n, 0); }
static int softmax_tan(cn_graph *g, cn_node *n) { return softmax_jvp(g, n, 0); }
static int log_softmax_fw(cn_graph *g, cn_node *n) { return softmax_forward(g, n, 1); }
static int log_softmax_tan(cn_graph *g, cn_node *n) { return softmax_jvp(g, n, 1); }

const cn_op cn_op_Softmax = {.name = "Softmax", .forward = softmax_fw, .jvp = softmax_tan, .vjp = softmax_back,
                             .tangent_rule = CN_TANGENT_CUSTOM, .jvp_vjp = softmax_back2};
const cn_op cn_op_LogSoftmax = {.name = "LogSoftmax", .forward = log_softmax_fw, .jvp = log_softmax_tan,
                                .vjp = log_softmax_back,
                                .tangent_rule = CN_TANGENT_CUSTOM, .jvp_vjp = log_softmax_back2};

/* ------------------------------------------------------------------ ReduceMin, L1, L2, SumSquare, LogSum,
 * LogSumExp, Prod (and ReduceMax's backward)
 *
 * These walk the input once with a map from each input entry to its output entry (from the same broadcast
 * plan), so that each is a loop over the input: fewer lines than a kernel per reduction, and none of them is
 * on a hot path. The jvp and the vjp share the partial derivatives d_i = dy/dx_i, recomputed from the stored
 * values: ty = sum_i d_i t_i, gx_i += d_i gy. At kinks they follow torch: |x|' = 0 at 0, the L2 norm's
 * gradient is 0 where the norm is 0, the product's is the product of the others (also at zeros), and min
 * and max pass it to the first extreme entry. A reduction with no axes and noop_with_empty_axes is refused:
 * ONNX leaves its meaning to each operator. */

enum { R_MAX, R_MIN, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP, R_PROD };

typedef struct {
    int64_t *map;   /* input entry -> output entry */
    double *acc;    /* per output: the sum, product or extreme */
    double *aux;    /* per output: LogSumExp's maximum, Prod's product of the nonzero entries */
    int64_t *arg;   /* per output: min/max's first extreme entry, Prod's count of zeros */
    double *d;      /* per input entry: dy/dx */
    double *spare;  /* per output: room for the values recomputed before the partials */
} reduce_work;

/* The forward's work space is the node's scratch; the jvp's and vjp's (with_d) the graph's temp, so that they
 * leave the scratch of ReduceMax's forward (its argmax, which its jvp reads) alone. */
static int work_plan(cn_graph *g, cn_node *n, const cn_tensor *x, reduce_shape *s, size_t out_count,
                     int with_d, reduce_work *w)
{
    if (s->identity) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "noop_with_empty_axes with no axes is not supported");
    const size_t nx = cn_tensor_numel(x), no = out_count ? out_count : 1;
    const size_t bytes = nx * sizeof(int64_t) + no * (3 * sizeof(double) + sizeof(int64_t)) +
                         (with_d ? nx * sizeof(double) : 0) + 8;
    char *p = with_d ? (char *)cn_graph_temp(g, n, bytes / sizeof(cn_real) + 1) : cn_node_scratch(g, n, bytes);
    if (!p) return CN_ERR_NOMEM;
    w->map = (int64_t *)p;
    w->acc = (double *)(w->map + nx);
    w->aux = w->acc + no;
    w->arg = (int64_t *)(w->aux + no);
    w->d = with_d ? (double *)(w->arg + no) : NULL;
    w->spare = (double *)(w->arg + no) + (with_d ? nx : 0);
    if (!nx) return CN_OK;
    cn_bcast b;
    reduce_walk(&b, x, s);
    const size_t inner = cn_bcast_inner(&b), rows = cn_bcast_rows(&b);
    const int along = cn_bcast_inner_step(&b, 0);
    cn_bcast_pos q;
    cn_bcast_start(&b, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&b, &q))
        for (size_t i = 0; i < inner; i++) w->map[r * inner + i] = (int64_t)q.off[0] + (along ? (int64_t)i : 0);
    return CN_OK;
}

/* the values of y (out_count entries) from x, leaving min/max's arguments and Prod's zero counts in w */
static void reduce_values(int kind, const cn_real *x, size_t nx, size_t no, reduce_work *w, cn_real *y)
{
    for (size_t o = 0; o < no; o++) {
        w->acc[o] = kind == R_PROD ? 1 : kind == R_LOGSUMEXP ? -INFINITY : 0;
        w->aux[o] = kind == R_LOGSUMEXP ? -INFINITY : 1;
        w->arg[o] = kind == R_MIN || kind == R_MAX ? -1 : 0;
    }
    for (size_t i = 0; i < nx; i++) {
        const int64_t o = w->map[i];
        const double v = x[i];
        switch (kind) {
        case R_MAX: case R_MIN: {
            const double best = w->acc[o];
            const int wins = kind == R_MAX ? v > best : v < best;
            if (w->arg[o] < 0 || wins || (v != v && best == best)) w->acc[o] = v, w->arg[o] = (int64_t)i;
            break;
        }
        case R_L1: w->acc[o] += fabs(v); break;
        case R_L2: case R_SUMSQ: w->acc[o] += v * v; break;
        case R_LOGSUM: w->acc[o] += v; break;
        case R_LOGSUMEXP: if (v > w->aux[o] || v != v) w->aux[o] = v; break;
        case R_PROD:
            w->acc[o] *= v;
            if (v == 0) w->arg[o]++;
            else w->aux[o] *= v;
            break;
        }
    }
    if (kind == R_LOGSUMEXP) {
        for (size_t o = 0; o < no; o++) w->acc[o] = 0;
        for (size_t i = 0; i < nx; i++) {
            const double m = w->aux[w->map[i]];
            w->acc[w->map[i]] += isinf(m) ? 0 : exp((double)x[i] - m);
        }
    }
    for (size_t o = 0; o < no; o++) {
        const double a = w->acc[o];
        double v = a;
        if (kind == R_MIN || kind == R_MAX) v = w->arg[o] < 0 ? (kind == R_MAX ? -INFINITY : INFINITY) : a;
        else if (kind == R_L2) v = sqrt(a);
        else if (kind == R_LOGSUM) v = log(a);
        else if (kind == R_LOGSUMEXP) v = isinf(w->aux[o]) ? w->aux[o] : w->aux[o] + log(a);
        y[o] = (cn_real)v;
    }
}

/* d_i = dy_o / dx_i for every input entry, after reduce_values */
static void reduce_partials(int kind, const cn_real *x, const cn_real *y, size_t nx, reduce_work *w)
{
    for (size_t i = 0; i < nx; i++) {
        const int64_t o = w->map[i];
        const double v = x[i], out = y[o];
        double d = 0;
        switch (kind) {
        case R_MAX: case R_MIN: d = w->arg[o] == (int64_t)i; break;
        case R_L1: d = v > 0 ? 1 : v < 0 ? -1 : 0; break;
        case R_L2: d = out == 0 ? 0 : v / out; break;
        case R_SUMSQ: d = 2 * v; break;
        case R_LOGSUM: d = 1 / w->acc[o]; break;
        case R_LOGSUMEXP: d = exp(v - out); break;
        case R_PROD: d = v != 0 ? (w->arg[o] ? 0 : w->aux[o] / v) : (w->arg[o] == 1 ? w->aux[o] : 0); break;
        }
        w->d[i] = d;
    }
}

static int extra_forward(cn_graph *g, cn_node *n, int kind)
{
    cn_tensor *x, *y;
    reduce_shape s;
    reduce_work w;
    int rc;
    if ((rc = float_in_out(g, n, &x, &y)) || (rc = reduce_plan(g, n, x, &s))) return rc;
    if (s.identity) return work_plan(g, n, x, &s, 0, 0, &w);
    if ((rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, s.out_ndim, s.out_dims))) return rc;
    if ((rc = work_plan(g, n, x, &s, cn_tensor_numel(y), 0, &w))) return rc;
    reduce_values(kind, x->data, cn_tensor_numel(x), cn_tensor_numel(y), &w, y->data);
    return CN_OK;
}

/* the partials of the last forward's values, in w->d */
static int extra_partials(cn_graph *g, cn_node *n, int kind, cn_tensor **x, cn_tensor **y, reduce_work *w)
{
    reduce_shape s;
    int rc;
    if ((rc = float_in_out(g, n, x, y)) || (rc = reduce_plan(g, n, *x, &s))) return rc;
    const size_t nx = cn_tensor_numel(*x), no = cn_tensor_numel(*y);
    if ((rc = work_plan(g, n, *x, &s, no, 1, w))) return rc;
    reduce_values(kind, (*x)->data, nx, no, w, (cn_real *)w->spare); /* refills acc, aux and arg */
    reduce_partials(kind, (*x)->data, (*y)->data, nx, w);
    return CN_OK;
}

static int extra_jvp(cn_graph *g, cn_node *n, int kind)
{
    cn_tensor *x, *y;
    reduce_work w;
    int rc = extra_partials(g, n, kind, &x, &y, &w);
    if (rc) return rc;
    const cn_real *t = cn_node_in_tan(g, n, 0);
    const size_t nx = cn_tensor_numel(x), no = cn_tensor_numel(y);
    for (size_t o = 0; o < no; o++) w.acc[o] = 0;
    if (t)
        for (size_t i = 0; i < nx; i++)
            if (w.d[i] != 0) w.acc[w.map[i]] += w.d[i] * t[i]; /* a zero slope passes no infinite tangent */
    for (size_t o = 0; o < no; o++) y->tan[o] = (cn_real)w.acc[o];
    return CN_OK;
}

static int extra_vjp(cn_graph *g, cn_node *n, int kind)
{
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (!gx || !gy) return CN_OK;
    cn_tensor *x, *y;
    reduce_work w;
    int rc = extra_partials(g, n, kind, &x, &y, &w);
    if (rc) return rc;
    const size_t nx = cn_tensor_numel(x);
    for (size_t i = 0; i < nx; i++)
        if (w.d[i] != 0) gx[i] += (cn_real)(w.d[i] * gy[w.map[i]]);
    return CN_OK;
}

/* ReduceMax keeps its own forward and jvp above; its backward goes to the first maximum, as its jvp */
static int max_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *x = cn_node_in(g, n, 0);
    reduce_shape s;
    if (x && x->dtype == CN_T_FLOAT && reduce_plan(g, n, x, &s) == CN_OK && s.identity) {
        cn_real *gx = cn_node_in_grad(g, n, 0);
        const cn_real *gy = cn_node_out_grad(g, n, 0);
        if (gx && gy) cn_grad_add(gx, gy, cn_tensor_numel(x));
        return CN_OK;
    }
    return extra_vjp(g, n, R_MAX);
}
const cn_op cn_op_ReduceMax = {.name = "ReduceMax", .forward = max_forward, .jvp = max_jvp, .vjp = max_vjp, .tangent_rule = CN_TANGENT_LINEAR};

/* RULE: the piecewise-linear reductions (min, L1) are reversed by their vjp; the curved ones have no
 * second-order rule yet (CN_TANGENT_NONE) */
#define EXTRA_REDUCE(NAME, KIND, RULE)                                                                         \
    static int NAME##_fw(cn_graph *g, cn_node *n) { return extra_forward(g, n, KIND); }                        \
    static int NAME##_tan(cn_graph *g, cn_node *n) { return extra_jvp(g, n, KIND); }                           \
    static int NAME##_back(cn_graph *g, cn_node *n) { return extra_vjp(g, n, KIND); }                          \
    const cn_op cn_op_##NAME = {.name = #NAME, .forward = NAME##_fw, .jvp = NAME##_tan, .vjp = NAME##_back,    \
                                .tangent_rule = RULE};

EXTRA_REDUCE(ReduceMin, R_MIN, CN_TANGENT_LINEAR)
EXTRA_REDUCE(ReduceL1, R_L1, CN_TANGENT_LINEAR)
EXTRA_REDUCE(ReduceL2, R_L2, CN_TANGENT_NONE)
EXTRA_REDUCE(ReduceSumSquare, R_SUMSQ, CN_TANGENT_NONE)
EXTRA_REDUCE(ReduceLogSum, R_LOGSUM, CN_TANGENT_NONE)
EXTRA_REDUCE(ReduceLogSumExp, R_LOGSUMEXP, CN_TANGENT_NONE)
EXTRA_REDUCE(ReduceProd, R_PROD, CN_TANGENT_NONE)

/* ------------------------------------------------------------------ ArgMax, ArgMin
 * int64 indices along one axis (keepdims, select_last_index); no tangent. A NaN counts as the extreme, as
 * numpy's argmax. */

static int arg_forward(cn_graph *g, cn_node *n, int is_max)
{
    cn_tensor *x, *y;
    int rc, ax;
    if ((rc = float_in_out(g, n, &x, &y))) return rc;
    const int64_t axis = cn_attr_int(n, "axis", 0);
    const int keepdims = cn_attr_int(n, "keepdims", 1) != 0, last = cn_attr_int(n, "select_last_index", 0) != 0;
    if (cn_axis_normalize(axis, x->ndim, &ax))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)axis, x->ndim);
    if (x->dims[ax] == 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %d is empty", ax);
    int64_t dims[CN_ONNX_MAX_DIMS];
    int nd = 0;
    size_t outer = 1, inner = 1, len = (size_t)x->dims[ax];
    for (int j = 0; j < x->ndim; j++) {
        if (j < ax) outer *= (size_t)x->dims[j];
        if (j > ax) inner *= (size_t)x->dims[j];
        if (j != ax) dims[nd++] = x->dims[j];
        else if (keepdims) dims[nd++] = 1;
    }
    if ((rc = cn_tensor_set_shape(g, n, y, CN_T_INT64, nd, dims))) return rc;
    const cn_real *xd = x->data;
    int64_t *yd = y->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < inner; k++) {
            const cn_real *v = xd + o * len * inner + k;
            size_t best = 0;
            for (size_t l = 1; l < len; l++) {
                const cn_real a = v[l * inner], b = v[best * inner];
                if (b != b) break; /* the first NaN wins */
                const int wins = a != a || (is_max ? a > b : a < b) || (last && a == b);
                if (wins) best = l;
            }
            yd[o * inner + k] = (int64_t)best;
        }
    return CN_OK;
}

static int argmax_forward(cn_graph *g, cn_node *n) { return arg_forward(g, n, 1); }
static int argmin_forward(cn_graph *g, cn_node *n) { return arg_forward(g, n, 0); }
const cn_op cn_op_ArgMax = {.name = "ArgMax", .forward = argmax_forward};
const cn_op cn_op_ArgMin = {.name = "ArgMin", .forward = argmin_forward};
