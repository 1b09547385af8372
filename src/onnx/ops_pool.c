/* ops_pool.c: ONNX MaxPool (and its Indices output), AveragePool, GlobalAveragePool and GlobalMaxPool on NCHW and
 * NCDHW inputs (1-D inputs run as 2-D with height 1, 3-D on the kernels' 3-D pools; the global pools take any
 * number of spatial axes), with their Jacobian-vector products:
 * the attributes turned into the shared kernels' geometry (kernels/pool.h), which do the arithmetic. The
 * windows follow ONNX as PyTorch exports it: asymmetric pads, dilations, every auto_pad, ceil_mode with
 * PyTorch's rule that a last window starting in the right padding is dropped, and count_include_pad. */
#include <float.h>
#include <limits.h>
#include <string.h>
#include "kernels/pool.h"
#include "onnx/graph.h"
#include "onnx/window.h"




typedef struct {
    int spatial;      /* 1, 2 or 3 */
    cn_pool3_geom k;  /* the kernels' geometry; below 3-D the depth axis is 1 (k.hw is the 2-D kernels') */
} pool_geom;

static int check_float_input(cn_graph *g, const cn_node *n, const cn_tensor **x)
{
    *x = cn_node_in(g, n, 0);
    if (!*x) return cn_node_fail(g, n, CN_ERR_FORMAT, "input X is missing");
    if ((*x)->dtype != CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "input X is not a float tensor");
    return CN_OK;
}

/* The window geometry of MaxPool / AveragePool from X's shape and the attributes. */
static int pool_geometry(cn_graph *g, const cn_node *n, const cn_tensor *x, pool_geom *pg)
{
    if (x->ndim < 3 || x->ndim > 5)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "only 1-D, 2-D and 3-D pooling is supported; input has rank %d",
                            x->ndim);
    memset(pg, 0, sizeof *pg);
    cn_pool3_geom *q3 = &pg->k;
    cn_pool_geom *q = &q3->hw;
    int sp = pg->spatial = x->ndim - 2, st, auto_pad = CN_PAD_NOTSET;
    int64_t ks[2 * CN_ONNX_WINDOW_AXES], strides[2 * CN_ONNX_WINDOW_AXES], dils[2 * CN_ONNX_WINDOW_AXES],
        pads[2 * CN_ONNX_WINDOW_AXES];
    q->planes = x->dims[0] * x->dims[1];
    q->h = sp >= 2 ? x->dims[x->ndim - 2] : 1;
    q->w = x->dims[x->ndim - 1];
    q3->d = sp == 3 ? x->dims[2] : 1;
    if (!cn_attr_find(n, "kernel_shape")) return cn_node_fail(g, n, CN_ERR_FORMAT, "kernel_shape is missing");
    if ((st = cn_onnx_axis_ints(g, n, "kernel_shape", sp, 1, 1, ks)) || (st = cn_onnx_axis_ints(g, n, "strides", sp, 1, 1, strides)) ||
        (st = cn_onnx_axis_ints(g, n, "dilations", sp, 1, 1, dils)) || (st = cn_onnx_axis_ints(g, n, "pads", 2 * sp, 0, 0, pads)) ||
        (st = cn_onnx_auto_pad(g, n, &auto_pad)))
        return st;
    int ceil_mode = cn_attr_int(n, "ceil_mode", 0) != 0;
    /* pads are (begin of each axis..., end of each axis...); axis a of sp here is the spatial axis a */
    q->kw = ks[sp - 1];
    q->sw = strides[sp - 1];
    q->dw = dils[sp - 1];
    q->pad_left = pads[sp - 1];
    q->pad_right = pads[2 * sp - 1];
    q->kh = q->sh = q->dh = q->ho = 1;
    q3->kd = q3->sd = q3->dd = q3->dout = 1;
    if (sp >= 2) {
        q->kh = ks[sp - 2];
        q->sh = strides[sp - 2];
        q->dh = dils[sp - 2];
        q->pad_top = pads[sp - 2];
        q->pad_bottom = pads[2 * sp - 2];
        if ((st = cn_onnx_axis_geometry(g, n, "height", auto_pad, ceil_mode, q->h, q->kh, q->sh, q->dh, &q->pad_top,
                                &q->pad_bottom, &q->ho)))
            return st;
    }
    if (sp == 3) {
        q3->kd = ks[0];
        q3->sd = strides[0];
        q3->dd = dils[0];
        q3->pad_front = pads[0];
        q3->pad_back = pads[3];
        if ((st = cn_onnx_axis_geometry(g, n, "depth", auto_pad, ceil_mode, q3->d, q3->kd, q3->sd, q3->dd,
                                        &q3->pad_front, &q3->pad_back, &q3->dout)))
            return st;
    }
    return cn_onnx_axis_geometry(g, n, "width", auto_pad, ceil_mode, q->w, q->kw, q->sw, q->dw, &q->pad_left, &q->pad_right,
                         &q->wo);
}

/* The depth, row and column window tables, placed in the scratch after `skip` bytes (MaxPool's argmax). */
typedef struct {
    cn_pool_window *depths, *rows, *cols;
} pool_tables;

static int window_tables(cn_graph *g, cn_node *n, const cn_pool3_geom *q, size_t skip, pool_tables *t)
{
    size_t bytes = skip + (size_t)(q->dout + q->hw.ho + q->hw.wo) * sizeof(cn_pool_window);
    char *s = cn_node_scratch(g, n, bytes);
    if (!s) return CN_ERR_NOMEM;
    t->depths = (cn_pool_window *)(s + skip);
    t->rows = t->depths + q->dout;
    t->cols = t->rows + q->hw.ho;
    cn_pool3_windows(q, t->depths, t->rows, t->cols);
    return CN_OK;
}

static int set_output(cn_graph *g, cn_node *n, int i, int dtype, const cn_tensor *x, const int64_t *spatial_out,
                      cn_tensor **y)
{
    int64_t dims[CN_ONNX_MAX_DIMS];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int a = 2; a < x->ndim; a++) dims[a] = spatial_out[a - 2];
    *y = cn_node_out(g, n, i);
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "output %d is missing", i);
    return cn_tensor_set_shape(g, n, *y, dtype, x->ndim, dims);
}

static int set_pool_output(cn_graph *g, cn_node *n, int i, int dtype, const cn_tensor *x, const pool_geom *pg,
                           cn_tensor **y)
{
    int64_t out[3] = {pg->k.dout, pg->k.hw.ho, pg->k.hw.wo};
    return set_output(g, n, i, dtype, x, out + 3 - pg->spatial, y);
}

/* ------------------------------------------------------------------ MaxPool */

/* The Indices output as ONNX defines it: each output's element as a flat index into X (N, C, spatial...), in
 * row-major order (storage_order 0) or with the spatial axes column-major (storage_order 1: w H + h in 2-D);
 * -1 for a window of padding only, which has no element. */
static int write_indices(cn_graph *g, cn_node *n, const cn_tensor *x, const pool_geom *q, const int32_t *arg)
{
    cn_tensor *ind = NULL;
    const int64_t order = cn_attr_int(n, "storage_order", 0);
    if (order != 0 && order != 1) return cn_node_fail(g, n, CN_ERR_FORMAT, "storage_order %lld", (long long)order);
    if (order == 1 && q->spatial == 3)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the Indices output of a 3-D pool in storage_order 1 is not "
                            "supported");
    int st = set_pool_output(g, n, 1, CN_T_INT64, x, q, &ind);
    if (st) return st;
    const int64_t h = q->k.hw.h, w = q->k.hw.w, in_plane = q->k.d * h * w,
                  out_plane = q->k.dout * q->k.hw.ho * q->k.hw.wo;
    int64_t *out = ind->data;
    for (size_t i = 0, count = cn_tensor_numel(ind); i < count; i++) {
        const int64_t a = arg[i];
        if (a < 0) out[i] = -1;
        else out[i] = (int64_t)i / out_plane * in_plane + (order ? a % w * h + a / w : a);
    }
    return CN_OK;
}

static int maxpool_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = NULL;
    cn_tensor *y = NULL;
    pool_geom q;
    pool_tables t;
    int st;
    if ((st = check_float_input(g, n, &x)) || (st = pool_geometry(g, n, x, &q)) ||
        (st = set_pool_output(g, n, 0, CN_T_FLOAT, x, &q, &y)))
        return st;
    size_t count = cn_tensor_numel(y), arg_bytes = (count * sizeof(int32_t) + 63) / 64 * 64;
    if ((st = window_tables(g, n, &q.k, arg_bytes, &t))) return st;
    if (q.spatial == 3) cn_pool3_max_forward(&q.k, t.depths, t.rows, t.cols, y->data, n->scratch, x->data);
    else cn_pool_max_forward(&q.k.hw, t.rows, t.cols, y->data, n->scratch, x->data);
    if (n->nout > 1 && n->out[1] >= 0) return write_indices(g, n, x, &q, n->scratch);
    return CN_OK;
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
    cn_pool_max_jvp((int64_t)(count / out_plane), (int64_t)spatial_size(x), (int64_t)out_plane, n->scratch, 1,
                    y->tan, tx);
    return CN_OK;
}

/* ------------------------------------------------------------------ AveragePool */

static int averagepool_prepare(cn_graph *g, cn_node *n, const cn_tensor **x, pool_geom *q, pool_tables *t)
{
    int st;
    if ((st = check_float_input(g, n, x)) || (st = pool_geometry(g, n, *x, q))) return st;
    return window_tables(g, n, &q->k, 0, t);
}

/* y = the pool of x: the forward, and the jvp on the tangent */
static void average(cn_node *n, const pool_geom *q, const pool_tables *t, cn_real *y, const cn_real *x)
{
    const int include_pad = cn_attr_int(n, "count_include_pad", 0) != 0;
    if (q->spatial == 3) cn_pool3_avg_forward(&q->k, t->depths, t->rows, t->cols, include_pad, y, x);
    else cn_pool_avg_forward(&q->k.hw, t->rows, t->cols, include_pad, y, x);
}

static int averagepool_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = NULL;
    cn_tensor *y = NULL;
    pool_geom q;
    pool_tables t;
    int st = averagepool_prepare(g, n, &x, &q, &t);
    if (st || (st = set_pool_output(g, n, 0, CN_T_FLOAT, x, &q, &y))) return st;
    average(n, &q, &t, y->data, x->data);
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
    pool_tables t;
    int st = averagepool_prepare(g, n, &x, &q, &t);
    if (st) return st;
    average(n, &q, &t, y->tan, tx);
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
    return set_output(g, n, 0, CN_T_FLOAT, *x, ones, y);
}

static int global_average_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = NULL;
    cn_tensor *y = NULL;
    int st = global_prepare(g, n, &x, &y);
    if (st) return st;
    cn_pool_plane_mean((int64_t)cn_tensor_numel(y), (int64_t)spatial_size(x), y->data, x->data);
    return CN_OK;
}

static int global_average_jvp(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = cn_node_in(g, n, 0);
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    if (!tx) memset(y->tan, 0, cn_tensor_numel(y) * sizeof *y->tan);
    else cn_pool_plane_mean((int64_t)cn_tensor_numel(y), (int64_t)spatial_size(x), y->tan, tx);
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
    cn_pool_plane_max((int64_t)planes, (int64_t)size, y->data, arg, x->data);
    return CN_OK;
}

/* ------------------------------------------------------------------ gradients */

/* MaxPool and GlobalMaxPool: the gradient goes to the recorded elements */
static int argmax_vjp(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = cn_node_in(g, n, 0), *y = cn_node_out(g, n, 0);
    const cn_real *dy = cn_node_out_grad(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0), *dx;
    size_t count = y ? cn_tensor_numel(y) : 0, out_plane = y ? spatial_size(y) : 1;
    if (!dy || !gx || count == 0) return CN_OK;
    if (!(dx = cn_graph_temp(g, n, cn_tensor_numel(x)))) return CN_ERR_NOMEM;
    cn_pool_max_backward((int64_t)(count / out_plane), (int64_t)spatial_size(x), (int64_t)out_plane, n->scratch,
                         dx, dy);
    cn_grad_add(gx, dx, cn_tensor_numel(x));
    return CN_OK;
}

static int averagepool_vjp(cn_graph *g, cn_node *n)
{
    const cn_real *dy = cn_node_out_grad(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0), *dx;
    if (!dy || !gx) return CN_OK;
    const cn_tensor *x = NULL;
    pool_geom q;
    pool_tables t;
    int st = averagepool_prepare(g, n, &x, &q, &t);
    if (st) return st;
    if (!(dx = cn_graph_temp(g, n, cn_tensor_numel(x)))) return CN_ERR_NOMEM;
    const int include_pad = cn_attr_int(n, "count_include_pad", 0) != 0;
    if (q.spatial == 3) cn_pool3_avg_backward(&q.k, t.depths, t.rows, t.cols, include_pad, dx, dy);
    else cn_pool_avg_backward(&q.k.hw, t.rows, t.cols, include_pad, dx, dy);
    cn_grad_add(gx, dx, cn_tensor_numel(x));
    return CN_OK;
}

static int global_average_vjp(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = cn_node_in(g, n, 0), *y = cn_node_out(g, n, 0);
    const cn_real *dy = cn_node_out_grad(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0), *dx;
    if (!dy || !gx) return CN_OK;
    if (!(dx = cn_graph_temp(g, n, cn_tensor_numel(x)))) return CN_ERR_NOMEM;
    cn_pool_plane_mean_backward((int64_t)cn_tensor_numel(y), (int64_t)spatial_size(x), dx, dy);
    cn_grad_add(gx, dx, cn_tensor_numel(x));
    return CN_OK;
}

const cn_op cn_op_MaxPool = {.name = "MaxPool", .forward = maxpool_forward, .jvp = argmax_jvp, .vjp = argmax_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_AveragePool = {.name = "AveragePool", .forward = averagepool_forward, .jvp = averagepool_jvp,
                                 .vjp = averagepool_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_GlobalAveragePool = {.name = "GlobalAveragePool", .forward = global_average_forward,
                                       .jvp = global_average_jvp, .vjp = global_average_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_GlobalMaxPool = {.name = "GlobalMaxPool", .forward = global_max_forward, .jvp = argmax_jvp,
                                   .vjp = argmax_vjp, .tangent_rule = CN_TANGENT_LINEAR};
