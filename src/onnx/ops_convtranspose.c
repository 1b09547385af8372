/* ops_convtranspose.c: ONNX ConvTranspose for 1-D, 2-D and 3-D inputs, the transpose of Conv: its forward is
 * the conv kernels' input gradient (kernels/conv.h), with the roles of input and output swapped, so the two
 * share one arithmetic. W (C_in, C_out/group, k...) is the weight of the convolution that maps ConvTranspose's
 * output back to its input. Pads, strides, dilations, groups and output_padding are read; output_shape and an
 * auto_pad other than NOTSET are refused, naming the node. The jvp is the same map of the tangent (no bias);
 * the vjp to the input is the convolution itself, and to the weights the conv kernel's weight gradient with
 * the output's gradient as the convolution's input. */
#include <limits.h>
#include <string.h>
#include "kernels/conv.h"
#include "onnx/graph.h"
#include "onnx/window.h"

/* the convolution whose input is ConvTranspose's output: q->c output channels, q->m = C_in, q->in the output's
 * spatial extent, q->out the input's */
static int deconv_geometry(cn_graph *g, const cn_node *n, cn_conv_geom *q, int64_t *batch)
{
    const cn_tensor *x = cn_node_in(g, n, 0), *w = cn_node_in(g, n, 1), *b = cn_node_in(g, n, 2);
    if (!x || !w || x->dtype != CN_T_FLOAT || w->dtype != CN_T_FLOAT || (b && b->dtype != CN_T_FLOAT))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs float X and W (and B)");
    if (x->ndim < 3 || x->ndim > 2 + CN_CONV_AXES || w->ndim != x->ndim)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "only 1-D, 2-D and 3-D inputs with weights of the same rank");
    if (cn_attr_find(n, "output_shape"))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "output_shape is not supported (export with pads)");
    int auto_pad = CN_PAD_NOTSET, st;
    if ((st = cn_onnx_auto_pad(g, n, &auto_pad))) return st;
    if (auto_pad != CN_PAD_NOTSET) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "auto_pad is not supported here");
    const int sp = x->ndim - 2, first = CN_CONV_AXES - sp;
    *q = (cn_conv_geom){.in = {1, 1, 1}, .k = {1, 1, 1}, .stride = {1, 1, 1}, .dil = {1, 1, 1}, .out = {1, 1, 1}};
    *batch = x->dims[0];
    q->groups = cn_attr_int(n, "group", 1);
    if (q->groups < 1 || q->groups > INT_MAX || x->dims[1] != w->dims[0] || w->dims[0] % q->groups)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has %lld channels, weights %lld, group %lld",
                            (long long)x->dims[1], (long long)w->dims[0], (long long)q->groups);
    q->m = x->dims[1];
    q->c = w->dims[1] * q->groups;
    if (b && cn_tensor_numel(b) != (size_t)q->c)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "bias has %zu entries for %lld output channels", cn_tensor_numel(b),
                            (long long)q->c);
    int64_t strides[2 * CN_ONNX_WINDOW_AXES], dils[2 * CN_ONNX_WINDOW_AXES], pads[2 * CN_ONNX_WINDOW_AXES],
        extra[2 * CN_ONNX_WINDOW_AXES];
    if ((st = cn_onnx_axis_ints(g, n, "strides", sp, 1, 1, strides)) ||
        (st = cn_onnx_axis_ints(g, n, "dilations", sp, 1, 1, dils)) ||
        (st = cn_onnx_axis_ints(g, n, "pads", 2 * sp, 0, 0, pads)) ||
        (st = cn_onnx_axis_ints(g, n, "output_padding", sp, 0, 0, extra)))
        return st;
    for (int j = 0; j < sp; j++) {
        const int a = first + j;
        q->k[a] = w->dims[2 + j];
        q->stride[a] = strides[j];
        q->dil[a] = dils[j];
        q->pad[a] = pads[j];
        q->out[a] = x->dims[2 + j];
        if (extra[j] >= strides[j] && extra[j] >= dils[j])
            return cn_node_fail(g, n, CN_ERR_FORMAT, "output_padding %lld must be below the stride or the dilation",
                                (long long)extra[j]);
        q->in[a] = (x->dims[2 + j] - 1) * strides[j] - pads[j] - pads[sp + j] + dils[j] * (q->k[a] - 1) + extra[j] + 1;
        if (q->in[a] < 1 || q->k[a] < 1)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "the output would be empty along spatial axis %d", j);
    }
    return CN_OK;
}

static int deconv_output(cn_graph *g, cn_node *n, const cn_conv_geom *q, int64_t batch, cn_tensor **y)
{
    const int sp = cn_node_in(g, n, 0)->ndim - 2;
    int64_t dims[2 + CN_CONV_AXES] = {batch, q->c};
    for (int j = 0; j < sp; j++) dims[2 + j] = q->in[CN_CONV_AXES - sp + j];
    *y = cn_node_out(g, n, 0);
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "output Y is missing");
    return cn_tensor_set_shape(g, n, *y, CN_T_FLOAT, sp + 2, dims);
}

static int col_scratch(cn_graph *g, cn_node *n, const cn_conv_geom *q, cn_real **col)
{
    size_t count = cn_conv_col_size(q);
    *col = count ? cn_node_scratch(g, n, count * sizeof(cn_real)) : NULL;
    return count && !*col ? CN_ERR_NOMEM : CN_OK;
}

static void add_bias(cn_real *y, const cn_real *b, int64_t batch, int64_t channels, size_t plane)
{
    for (int64_t i = 0; i < batch * channels; i++) {
        cn_real *p = y + (size_t)i * plane, v = b[i % channels];
        for (size_t j = 0; j < plane; j++) p[j] += v;
    }
}

static int deconv_forward(cn_graph *g, cn_node *n)
{
    cn_conv_geom q;
    int64_t batch;
    cn_tensor *y;
    cn_real *col;
    int st = deconv_geometry(g, n, &q, &batch);
    if (st || (st = deconv_output(g, n, &q, batch, &y)) || (st = col_scratch(g, n, &q, &col)) || batch == 0) return st;
    const cn_tensor *x = cn_node_in(g, n, 0), *w = cn_node_in(g, n, 1), *b = cn_node_in(g, n, 2);
    /* the kernel reads its x only for dW: y stands in, of the right extent */
    cn_conv_backward(&q, y->data, NULL, NULL, x->data, y->data, w->data, batch, col);
    if (b) add_bias(y->data, b->data, batch, q.c, cn_tensor_numel(y) / (size_t)(batch * q.c));
    return CN_OK;
}

static int deconv_jvp(cn_graph *g, cn_node *n)
{
    if (cn_node_in_tan(g, n, 1) || cn_node_in_tan(g, n, 2))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "weights that depend on the input are not supported");
    cn_conv_geom q;
    int64_t batch;
    cn_real *col;
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    int st = deconv_geometry(g, n, &q, &batch);
    if (st || (st = col_scratch(g, n, &q, &col))) return st;
    const cn_real *tx = cn_node_in_tan(g, n, 0);
    size_t count = cn_tensor_numel(y) * (size_t)g->run_k;
    if (!tx || batch == 0) memset(y->tan, 0, count * sizeof *y->tan);
    else cn_conv_backward(&q, y->tan, NULL, NULL, tx, y->tan, cn_node_in(g, n, 1)->data, batch * g->run_k, col);
    return CN_OK;
}

static int deconv_vjp(cn_graph *g, cn_node *n)
{
    cn_conv_geom q;
    int64_t batch;
    cn_real *col;
    int st = deconv_geometry(g, n, &q, &batch);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (st || !gy || batch == 0 || (st = col_scratch(g, n, &q, &col))) return st;
    const cn_tensor *x = cn_node_in(g, n, 0), *w = cn_node_in(g, n, 1), *y = cn_node_out(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0), *gw = cn_node_in_grad(g, n, 1), *gb = cn_node_in_grad(g, n, 2);
    if (gx) {
        cn_real *dx = cn_graph_temp(g, n, cn_tensor_numel(x));
        if (!dx) return CN_ERR_NOMEM;
        cn_conv_forward(&q, dx, gy, w->data, NULL, batch, col);
        cn_grad_add(gx, dx, cn_tensor_numel(x));
    }
    if (gw) cn_conv_backward(&q, NULL, gw, NULL, x->data, gy, w->data, batch, col);
    if (gb) {
        const size_t plane = cn_tensor_numel(y) / (size_t)(batch * q.c);
        for (int64_t i = 0; i < batch * q.c; i++) {
            double s = 0;
            for (size_t j = 0; j < plane; j++) s += gy[(size_t)i * plane + j];
            gb[i % q.c] += (cn_real)s;
        }
    }
    return CN_OK;
}

const cn_op cn_op_ConvTranspose = {.name = "ConvTranspose", .forward = deconv_forward, .jvp = deconv_jvp,
                                   .vjp = deconv_vjp, .jvp_batched = 1, .tangent_rule = CN_TANGENT_MULTILINEAR,
                                   .additive_in = 1u << 2};
