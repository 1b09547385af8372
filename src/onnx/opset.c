/* opset.c: the opsets of the default domain critnet reads (1 to 21), and the few operators whose older or
 * newer definitions say something critnet does not do, refused node by node.
 *
 * Most operators kept their meaning across opsets and only moved attributes to inputs (Clip, Pad, Slice,
 * Split, Squeeze, Unsqueeze, Reshape, the reductions' axes), which their ops_*.c read in either form, or
 * gained types (opsets 19 to 21) that critnet refuses as types. What is left is listed here: an older form
 * that means something else (the legacy broadcast along an axis before opset 7, Cast's type as a string, a
 * training-mode or per-activation batch norm, Concat's old default axis) or has no reader (Tile's old
 * inputs, Pad's `paddings`). The operators critnet runs are checked against the ONNX backend test data of
 * every opset it holds (tests/onnx_backend.py). */
#include <string.h>
#include "onnx/graph.h"

static int is_one_of(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(op, *list) == 0) return 1;
    return 0;
}

int cn_onnx_opset_check(cn_graph *g, const cn_node *n)
{
    const int v = g->opset;
    const char *op = n->op_type;
    /* before opset 7, broadcast=1 with an axis lined B up with A from that axis, not from the end */
    static const char *const legacy_broadcast[] = {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Greater", "Less",
                                                   "PRelu", NULL};
    if (v < 7 && is_one_of(op, legacy_broadcast) && cn_attr_int(n, "broadcast", 0) && cn_attr_find(n, "axis"))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the broadcast along an axis of opset %d is not supported "
                            "(export at opset 7 or later)", v);
    if (strcmp(op, "BatchNormalization") == 0) {
        if (v < 7 && !cn_attr_int(n, "is_test", 0))
            return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "is_test=0 (training mode, opset %d) is not supported", v);
        if (v < 9 && !cn_attr_int(n, "spatial", 1))
            return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "spatial=0 (statistics per activation) is not supported");
    }
    if (v < 6 && (strcmp(op, "Cast") == 0 || strcmp(op, "Tile") == 0))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "%s of opset %d is not supported (opset 6 or later)", op, v);
    if (v < 2 && strcmp(op, "Pad") == 0)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "Pad of opset 1 (paddings) is not supported");
    if (v < 4 && strcmp(op, "Concat") == 0 && !cn_attr_find(n, "axis"))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "Concat of opset %d without an axis is not supported", v);
    return CN_OK;
}
