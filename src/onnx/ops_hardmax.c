/* ops_hardmax.c: ONNX Hardmax, the one-hot of the first largest entry along an axis (a NaN counts as largest,
 * as numpy's argmax that the ONNX reference uses). Its output is piecewise constant in the input: the jvp writes
 * zeros and the vjp adds nothing. (Without a jvp the output would not count as depending on the input, and a
 * model that ends in a Hardmax would be refused.)
 * Before opset 13 the input is read as a matrix (the axes before `axis`, default 1, by those from it on) and the
 * hardmax runs along each row; from 13 on it runs along the one axis (default -1). */
#include <string.h>
#include "onnx/graph.h"

static int hardmax_forward(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = cn_node_in(g, n, 0);
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!x || !y || x->dtype != CN_T_FLOAT)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs a float input and an output");
    const int r = x->ndim, coerced = g->opset < 13;
    int64_t axis = cn_attr_int(n, "axis", coerced ? 1 : -1);
    if (r < 1 || axis < -r || axis >= r) return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld for rank %d", (long long)axis, r);
    if (axis < 0) axis += r;
    int st = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, r, x->dims);
    if (st) return st;
    /* the entries compared: `len` of them, `inner` apart, in outer * inner lines */
    size_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis) outer *= (size_t)x->dims[i];
        else if (i == axis || coerced) len *= (size_t)x->dims[i];
        else inner *= (size_t)x->dims[i];
    }
    const cn_real *xd = x->data;
    cn_real *yd = y->data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            const cn_real *xl = xd + o * len * inner + i;
            cn_real *yl = yd + o * len * inner + i;
            size_t best = 0;
            for (size_t k = 0; k < len; k++) {
                const cn_real v = xl[k * inner], b = xl[best * inner];
                if (b == b && (v > b || v != v)) best = k;
                yl[k * inner] = 0;
            }
            if (len) yl[best * inner] = 1;
        }
    return CN_OK;
}

static int hardmax_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    if (y && y->tan) memset(y->tan, 0, cn_tensor_numel(y) * sizeof *y->tan);
    return CN_OK;
}

static int hardmax_vjp(cn_graph *g, cn_node *n)
{
    (void)g, (void)n;
    return CN_OK;
}

const cn_op cn_op_Hardmax = {.name = "Hardmax", .forward = hardmax_forward, .jvp = hardmax_jvp, .vjp = hardmax_vjp,
                             .tangent_rule = CN_TANGENT_LINEAR};
