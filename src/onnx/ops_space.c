/* ops_space.c: DepthToSpace and SpaceToDepth on (N, C, H, W), with their jvp and vjp.
 *
 * Both only move entries, so each is a table: for every output entry, the input entry it copies (built per
 * call in the node's scratch). The forward and the jvp gather through it, the vjp scatters back through it;
 * as every input entry is used exactly once, the scatter is the exact transpose. The index formulas are the
 * reshape-transpose-reshape of the ONNX definitions written out:
 *   DepthToSpace DCR  y[n, c, h b + i, w b + j] = x[n, (i b + j) C' + c, h, w]   (C' = C / b^2)
 *   DepthToSpace CRD  y[n, c, h b + i, w b + j] = x[n, c b^2 + i b + j, h, w]    (torch.pixel_shuffle)
 *   SpaceToDepth      y[n, (i b + j) C + c, h, w] = x[n, c, h b + i, w b + j]
 */
#include <string.h>
#include "onnx/graph.h"

static int space_map(cn_graph *g, cn_node *n, int to_space, cn_tensor **px, cn_tensor **py, const int64_t **map)
{
    cn_tensor *x = *px = cn_node_in(g, n, 0), *y = *py = cn_node_out(g, n, 0);
    if (!x || !y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the input or the output is missing");
    if (x->dtype != CN_T_FLOAT || x->ndim != 4)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs a float tensor (N, C, H, W)");
    const int64_t b = cn_attr_int(n, "blocksize", 0), N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (b < 1 || b > (1 << 15)) return cn_node_fail(g, n, CN_ERR_FORMAT, "blocksize %lld", (long long)b);
    const char *mode = cn_attr_string(n, "mode", "DCR");
    const int crd = strcmp(mode, "CRD") == 0;
    if (to_space && !crd && strcmp(mode, "DCR") != 0)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "mode %s (expected DCR or CRD)", mode);
    int64_t dims[4] = {N, 0, 0, 0};
    if (to_space) {
        if (C % (b * b)) return cn_node_fail(g, n, CN_ERR_FORMAT, "%lld channels are not a multiple of %lld", (long long)C, (long long)(b * b));
        dims[1] = C / (b * b), dims[2] = H * b, dims[3] = W * b;
    } else {
        if (H % b || W % b) return cn_node_fail(g, n, CN_ERR_FORMAT, "%lld x %lld is not a multiple of the blocksize %lld", (long long)H, (long long)W, (long long)b);
        dims[1] = C * b * b, dims[2] = H / b, dims[3] = W / b;
    }
    int rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, 4, dims);
    if (rc) return rc;
    const size_t count = cn_tensor_numel(y);
    int64_t *m = cn_node_scratch(g, n, (count ? count : 1) * sizeof *m);
    if (!m) return CN_ERR_NOMEM;
    const int64_t Co = dims[1], Ho = dims[2], Wo = dims[3];
    size_t k = 0;
    for (int64_t in = 0; in < N; in++)
        for (int64_t c = 0; c < Co; c++)
            for (int64_t h = 0; h < Ho; h++)
                for (int64_t w = 0; w < Wo; w++, k++) {
                    int64_t src;
                    if (to_space) {
                        const int64_t i = h % b, j = w % b;
                        const int64_t ch = crd ? c * b * b + i * b + j : (i * b + j) * Co + c;
                        src = ((in * C + ch) * H + h / b) * W + w / b;
                    } else {
                        const int64_t blk = c / C, ch = c % C, i = blk / b, j = blk % b;
                        src = ((in * C + ch) * H + h * b + i) * W + w * b + j;
                    }
                    m[k] = src;
                }
    *map = m;
    return CN_OK;
}

static int space_forward(cn_graph *g, cn_node *n, int to_space)
{
    cn_tensor *x, *y;
    const int64_t *m;
    int rc = space_map(g, n, to_space, &x, &y, &m);
    if (rc) return rc;
    const cn_real *xd = x->data;
    cn_real *yd = y->data;
    for (size_t k = 0, count = cn_tensor_numel(y); k < count; k++) yd[k] = xd[m[k]];
    return CN_OK;
}

static int space_jvp(cn_graph *g, cn_node *n, int to_space)
{
    cn_tensor *x, *y;
    const int64_t *m;
    int rc = space_map(g, n, to_space, &x, &y, &m);
    if (rc) return rc;
    const cn_real *t = cn_node_in_tan(g, n, 0);
    for (size_t k = 0, count = cn_tensor_numel(y); k < count; k++) y->tan[k] = t ? t[m[k]] : 0;
    return CN_OK;
}

static int space_vjp(cn_graph *g, cn_node *n, int to_space)
{
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (!gx || !gy) return CN_OK;
    cn_tensor *x, *y;
    const int64_t *m;
    int rc = space_map(g, n, to_space, &x, &y, &m);
    if (rc) return rc;
    for (size_t k = 0, count = cn_tensor_numel(y); k < count; k++) gx[m[k]] += gy[k];
    return CN_OK;
}

static int d2s_forward(cn_graph *g, cn_node *n) { return space_forward(g, n, 1); }
static int d2s_jvp(cn_graph *g, cn_node *n) { return space_jvp(g, n, 1); }
static int d2s_vjp(cn_graph *g, cn_node *n) { return space_vjp(g, n, 1); }
static int s2d_forward(cn_graph *g, cn_node *n) { return space_forward(g, n, 0); }
static int s2d_jvp(cn_graph *g, cn_node *n) { return space_jvp(g, n, 0); }
static int s2d_vjp(cn_graph *g, cn_node *n) { return space_vjp(g, n, 0); }

const cn_op cn_op_DepthToSpace = {.name = "DepthToSpace", .forward = d2s_forward, .jvp = d2s_jvp, .vjp = d2s_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_SpaceToDepth = {.name = "SpaceToDepth", .forward = s2d_forward, .jvp = s2d_jvp, .vjp = s2d_vjp, .tangent_rule = CN_TANGENT_LINEAR};
