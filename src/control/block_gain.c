/* block_gain.c: the gain parameters of a block. One factor on one layer's multiplicative parameters turns the
 * block's gain: the last layer that has any, since everything after it in the block is parameter-free (an
 * activation) and so sees exactly the scaled pre-activation. A normalisation layer's scale is taken rather
 * than the weights before it, because batch statistics cancel a factor on the weights. Biases are never
 * scaled: they set the operating point, not the gain.
 * A residual block adds its body to its skip path. With an identity skip only the body can be turned (its
 * last layer, so that the branch scales as a whole). With a projection skip (a strided 1x1 conv, perhaps with
 * batch norm) the projection's gain is turned too, by the same factor: the projection alone had a gain
 * of e^1.26 in a batch-norm ResNet's third block, which no factor on the body could bring down to 1.
 * A graph's block (an imported or lowered net) follows the same rule through its nodes: graph_path_gain. */
#include "control/block_gain.h"
#include "net/net_internal.h"
#include "onnx/onnx_net.h"

static int chain_gain(cn_chain *c, cn_gain_slice *s);

/* the multiplicative parameters of one layer into s (s->n 0: none); a residual block may fill two */
static int layer_gain(cn_layer *L, cn_gain_slice *s)
{
    if (cn_layer_is_residual(L)) {
        int parts = chain_gain(cn_residual_body(L), s);
        if (parts) parts += chain_gain(cn_residual_proj(L), s + 1);
        return parts > 2 ? 2 : parts;
    }
    if (L->nparams == 0) return 0;
    unsigned t = L->ops->traits;
    if (t & CN_TRAIT_JOINS_PREVIOUS) { /* batch or layer norm: gamma, then beta */
        *s = (cn_gain_slice){.p = L->p, .n = L->nparams / 2};
        return 1;
    }
    if (t & CN_TRAIT_MAIN) {           /* dense or conv: W, then b */
        *s = (cn_gain_slice){.p = L->p, .n = L->nparams - L->nbias};
        return s->n > 0;
    }
    return 0;
}

/* the last layer of c that has gain parameters (a nested residual block is not built by any spec, so one
 * slice suffices here) */
static int chain_gain(cn_chain *c, cn_gain_slice *s)
{
    for (int i = c->n - 1; i >= 0; i--) {
        cn_gain_slice two[2] = {{0}};
        int k = layer_gain(c->layers[i], two);
        if (k) {
            *s = two[0];
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ a block of a graph */

extern const cn_op cn_op_BatchNormalization, cn_op_LayerNormalization, cn_op_InstanceNormalization, cn_op_Add;

/* The node's gain parameter, by the same rule as the layers': a norm's scale, or a trained weight that a
 * multilinear op (Conv, Gemm, MatMul, Mul, ...) multiplies, never an added bias; NULL when it has none. */
static const cn_tensor *node_gain(const cn_graph *g, const cn_node *n)
{
    const int norm = n->op == &cn_op_BatchNormalization || n->op == &cn_op_LayerNormalization ||
                     n->op == &cn_op_InstanceNormalization;
    for (int j = 0; j < n->nin; j++) {
        const cn_tensor *t = n->in[j] >= 0 ? &g->t[n->in[j]] : NULL;
        if (!t || t->role != CN_ROLE_PARAM) continue;
        if (norm ? j == 1 : n->op->tangent_rule == CN_TANGENT_MULTILINEAR && !((n->op->additive_in >> j) & 1)) return t;
    }
    return NULL;
}

static int active_inputs(const cn_graph *g, const cn_node *n, int *first, int *second)
{
    int count = 0;
    for (int j = 0; j < n->nin; j++)
        if (n->in[j] >= 0 && g->t[n->in[j]].active) {
            if (count == 0) *first = n->in[j];
            else if (count == 1) *second = n->in[j];
            count++;
        }
    return count;
}

/* Walks back from tensor t through the nodes in [first, last) that produce it, along their active input, to the
 * first node with a gain parameter: 1 with the slice in s, 0 when the path reaches the block's input without
 * one (an identity skip). A residual merge (an Add of two active tensors) met on the way is a block inside the
 * block: its two branches give up to two slices, as a native residual block does. */
static int graph_path_gain(const cn_graph *g, int t, int first, int last, cn_gain_slice *s, int depth)
{
    while (t >= 0 && g->t[t].producer >= first && g->t[t].producer < last) {
        const cn_node *n = &g->nodes[g->t[t].producer];
        const cn_tensor *p = node_gain(g, n);
        if (p) {
            *s = (cn_gain_slice){.p = p->data, .n = cn_tensor_numel(p)};
            return 1;
        }
        int a = -1, b = -1;
        const int k = active_inputs(g, n, &a, &b);
        if (k == 2 && n->op == &cn_op_Add && depth == 0) {
            int parts = graph_path_gain(g, a, first, last, s, 1);
            return parts + graph_path_gain(g, b, first, last, s + parts, 1);
        }
        if (k != 1) return 0; /* a product of two activations, or a wider merge: no single gain */
        t = a;
    }
    return 0;
}

int cn_block_gain_find(cn_net *net, const cn_block *blk, cn_block_gain *g)
{
    *g = (cn_block_gain){.parts = 0};
    if (net->graph) {
        int first, last, in, out;
        cn_net_graph_span(net, blk->first, blk->last, &first, &last, &in, &out);
        g->parts = graph_path_gain(net->graph, out, first, last, g->part, 0);
        return CN_OK;
    }
    for (int i = blk->last; i >= blk->first && g->parts == 0; i--) g->parts = layer_gain(net->chain.layers[i], g->part);
    return CN_OK;
}

void cn_block_gain_scale(const cn_block_gain *g, double factor)
{
    for (int k = 0; k < g->parts; k++)
        for (size_t i = 0; i < g->part[k].n; i++) g->part[k].p[i] = (cn_real)(g->part[k].p[i] * factor);
}
