/* ops_conv.c: ONNX Conv for 1-D, 2-D and 3-D inputs (N, C, [D,] [H,] W), with non-square kernels, asymmetric
 * pads, strides, dilations, groups and every auto_pad, and its Jacobian-vector product: the attributes and
 * shapes turned into the geometry of the shared kernels (kernels/conv.h), which do the arithmetic. The jvp is
 * the same convolution of the input's tangent without the bias, since the weights and bias must be constants;
 * the vjp is the kernels' backward, to the input and to the weights and bias when they are trained. */
#include <limits.h>
#include <string.h>
#include "kernels/conv.h"
#include "onnx/graph.h"
#include "onnx/window.h"

_Static_assert((int)CN_ONNX_WINDOW_AXES == (int)CN_CONV_AXES, "ONNX Conv reads as many axes as the kernels take");

static int check_float(cn_graph *g, const cn_node *n, const cn_tensor *t, const char *what)
{
    if (!t) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s is missing", what);
    if (t->dtype != CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s is not a float tensor", what);
    return CN_OK;
}

/* Reads and checks the shapes of X, W, B and the attributes into the kernels' geometry *q (a 1-D or 2-D
 * convolution fills the trailing axes, the leading ones stay 1) and the batch *batch. */
static int conv_geometry(cn_graph *g, const cn_node *n, cn_conv_geom *q, int64_t *batch)
{
    static const char *const axis_name[CN_CONV_AXES] = {"depth", "height", "width"};
    const cn_tensor *x = cn_node_in(g, n, 0), *wt = cn_node_in(g, n, 1), *b = cn_node_in(g, n, 2);
    int st;
    if ((st = check_float(g, n, x, "X")) || (st = check_float(g, n, wt, "W"))) return st;
    if (b && (st = check_float(g, n, b, "B"))) return st;
    if (x->ndim < 3 || x->ndim > 2 + CN_CONV_AXES)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                            "only 1-D, 2-D and 3-D convolutions are supported; input has rank %d", x->ndim);
    if (wt->ndim != x->ndim)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "weights have rank %d, input has rank %d", wt->ndim, x->ndim);
    const int sp = x->ndim - 2, first = CN_CONV_AXES - sp; /* spatial axis j is kernel axis first + j */
    *q = (cn_conv_geom){.in = {1, 1, 1}, .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}, .out = {1, 1, 1}};
    *batch = x->dims[0];
    q->c = x->dims[1];
    q->m = wt->dims[0];
    const int64_t cg = wt->dims[1];
    for (int j = 0; j < sp; j++) {
        q->in[first + j] = x->dims[2 + j];
        q->k[first + j] = wt->dims[2 + j];
    }
    q->groups = cn_attr_int(n, "group", 1);
    if (q->groups < 1 || q->groups > INT_MAX)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "group %lld is not positive", (long long)q->groups);
    if (q->c % q->groups)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has %lld channels, not divisible by group %lld",
                            (long long)q->c, (long long)q->groups);
    if (q->m % q->groups)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "weights have %lld output channels, not divisible by group %lld",
                            (long long)q->m, (long long)q->groups);
    if (cg != q->c / q->groups)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has %lld channels, weights expect %lld (group %lld)",
                            (long long)q->c, (long long)(cg * q->groups), (long long)q->groups);
    if (q->m < 1 || cg < 1 || q->k[0] < 1 || q->k[1] < 1 || q->k[2] < 1)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "weights have an empty dimension");
    if (b && cn_tensor_numel(b) != (size_t)q->m)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "bias has %zu entries, weights have %lld output channels",
                            cn_tensor_numel(b), (long long)q->m);

    int64_t ks[2 * CN_ONNX_WINDOW_AXES], strides[2 * CN_ONNX_WINDOW_AXES], dils[2 * CN_ONNX_WINDOW_AXES],
        pads[2 * CN_ONNX_WINDOW_AXES];
    if ((st = cn_onnx_axis_ints(g, n, "kernel_shape", sp, 1, 1, ks))) return st;
    if (cn_attr_find(n, "kernel_shape"))
        for (int j = 0; j < sp; j++)
            if (ks[j] != q->k[first + j])
                return cn_node_fail(g, n, CN_ERR_FORMAT, "kernel_shape[%d] = %lld does not match the weights' %lld",
                                    j, (long long)ks[j], (long long)q->k[first + j]);
    int auto_pad = CN_PAD_NOTSET;
    if ((st = cn_onnx_axis_ints(g, n, "strides", sp, 1, 1, strides)) || (st = cn_onnx_axis_ints(g, n, "dilations", sp, 1, 1, dils)) ||
        (st = cn_onnx_axis_ints(g, n, "pads", 2 * sp, 0, 0, pads)) || (st = cn_onnx_auto_pad(g, n, &auto_pad)))
        return st;
    for (int j = 0; j < sp; j++) {
        const int a = first + j;
        q->stride[a] = strides[j];
        q->dil[a] = dils[j];
        int64_t pad_end = pads[sp + j];
        q->pad[a] = pads[j];
        if ((st = cn_onnx_axis_geometry(g, n, axis_name[a], auto_pad, 0, q->in[a], q->k[a], q->stride[a], q->dil[a],
                                        &q->pad[a], &pad_end, &q->out[a])))
            return st;
    }
    int64_t rows = cg * q->k[0] * q->k[1] * q->k[2], cols = q->out[0] * q->out[1] * q->out[2];
    int64_t per_group_out = q->m / q->groups;
    if (cols > INT_MAX || rows > INT_MAX || per_group_out > INT_MAX ||
        rows > (INT64_MAX / (int64_t)sizeof(cn_real)) / cols)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "a column matrix of %lld x %lld is too large",
                            (long long)rows, (long long)cols);
    return CN_OK;
}

/* The kernels' column scratch; *col stays NULL when their direct paths need none. */
static int column_scratch(cn_graph *g, cn_node *n, const cn_conv_geom *q, cn_real **col)
{
    *col = NULL;
    size_t count = cn_conv_col_size(q);
    if (!count) return CN_OK;
    *col = cn_node_scratch(g, n, count * sizeof(cn_real));
    return *col ? CN_OK : CN_ERR_NOMEM;
}

static int conv_set_output(cn_graph *g, cn_node *n, const cn_conv_geom *q, int64_t batch, cn_tensor **out)
{
    const int sp = cn_node_in(g, n, 0)->ndim - 2;
    int64_t dims[2 + CN_CONV_AXES] = {batch, q->m};
    for (int j = 0; j < sp; j++) dims[2 + j] = q->out[CN_CONV_AXES - sp + j];
    *out = cn_node_out(g, n, 0);
    if (!*out) return cn_node_fail(g, n, CN_ERR_FORMAT, "output Y is missing");
    return cn_tensor_set_shape(g, n, *out, CN_T_FLOAT, sp + 2, dims);
}

static int conv_forward(cn_graph *g, cn_node *n)
{
    cn_conv_geom q;
    int64_t batch;
    cn_tensor *y = NULL;
    int st = conv_geometry(g, n, &q, &batch);
    if (st || (st = conv_set_output(g, n, &q, batch, &y))) return st;
    cn_real *col = NULL;
    if (batch == 0 || (st = column_scratch(g, n, &q, &col))) return st;
    const cn_tensor *x = cn_node_in(g, n, 0), *w = cn_node_in(g, n, 1), *b = cn_node_in(g, n, 2);
    cn_conv_forward(&q, y->data, x->data, w->data, b ? b->data : NULL, batch, col);
    return CN_OK;
}

/* all K tangents in one call: they lie one after another, K * batch examples of the input's shape */
static int conv_jvp(cn_graph *g, cn_node *n)
{
    if (cn_node_in_tan(g, n, 1) || cn_node_in_tan(g, n, 2))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "weights that depend on the input are not supported");
    cn_conv_geom q;
    int64_t batch;
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK; /* not active: nothing to write */
    int st = conv_geometry(g, n, &q, &batch);
    if (st) return st;
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    size_t count = cn_tensor_numel(y) * (size_t)g->run_k;
    if (!tx || count == 0) {
        memset(y->tan, 0, count * sizeof *y->tan);
        return CN_OK;
    }
    cn_real *col = NULL;
    if ((st = column_scratch(g, n, &q, &col))) return st;
    cn_conv_forward(&q, y->tan, tx, cn_node_in(g, n, 1)->data, NULL, batch * g->run_k, col);
    return CN_OK;
}

/* The kernels' backward overwrites dx; X may feed other nodes too, so dx goes through the graph's work space
 * and is added to X's gradient. */
static int conv_vjp(cn_graph *g, cn_node *n)
{
    cn_conv_geom q;
    int64_t batch;
    int st = conv_geometry(g, n, &q, &batch);
    if (st) return st;
    const cn_tensor *x = cn_node_in(g, n, 0), *w = cn_node_in(g, n, 1);
    const cn_real *dy = cn_node_out_grad(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0), *gw = cn_node_in_grad(g, n, 1), *gb = cn_node_in_grad(g, n, 2);
    if (!dy || batch == 0) return CN_OK;
    cn_real *col = NULL, *dx = NULL;
    if ((st = column_scratch(g, n, &q, &col))) return st;
    if (gx && !(dx = cn_graph_temp(g, n, cn_tensor_numel(x)))) return CN_ERR_NOMEM;
    cn_conv_backward(&q, dx, gw, gb, dy, x->data, w->data, batch, col);
    if (gx) cn_grad_add(gx, dx, cn_tensor_numel(x));
    return CN_OK;
}

const cn_op cn_op_Conv = {.name = "Conv", .forward = conv_forward, .jvp = conv_jvp, .vjp = conv_vjp, .jvp_batched = 1, .tangent_rule = CN_TANGENT_MULTILINEAR,
                         .additive_in = 1u << 2};
