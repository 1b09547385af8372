/* grad.c: the backward pass of an ONNX graph. Gradients flow to every tensor that depends on the input or on a
 * parameter (diff), node by node in reverse order; each operator's vjp adds its inputs' shares, so a tensor
 * read by several nodes (a residual branch, a weight shared by two layers) sums them as the chain rule says. */
#include <stdio.h>
#include <string.h>
#include "kernels/simd.h"
#include "onnx/graph.h"

/* input j of n carries a gradient back when it is read for its value and is not frozen */
static int flows_back(const cn_node *n, int j) { return !((n->op->shape_only | n->op->frozen_in) & (1u << j)); }

static int has_diff_input(const cn_graph *g, const cn_node *n)
{
    for (int j = 0; j < n->nin; j++)
        if (n->in[j] >= 0 && g->t[n->in[j]].diff && flows_back(n, j)) return 1;
    return 0;
}

/* no backward for this node: none in its operator, or more inputs than the operator's vjp folds back */
static int lacks_vjp(const cn_node *n)
{
    return !n->op->vjp || (n->op->vjp_max_inputs && n->nin > n->op->vjp_max_inputs);
}

static int has_diff_output(const cn_graph *g, const cn_node *n)
{
    for (int j = 0; j < n->nout; j++)
        if (n->out[j] >= 0 && g->t[n->out[j]].diff) return 1;
    return 0;
}

void cn_graph_mark_diff(cn_graph *g)
{
    for (int i = 0; i < g->nt; i++) g->t[i].diff = g->t[i].active || g->t[i].role == CN_ROLE_PARAM;
    for (int i = 0; i < g->nn; i++) {
        cn_node *n = &g->nodes[i];
        /* an op without a jvp has no float output that depends on its inputs' values (Shape, Equal) */
        if (!n->op->jvp || !has_diff_input(g, n)) continue;
        for (int j = 0; j < n->nout; j++) {
            cn_tensor *t = cn_node_out(g, n, j);
            if (t && t->dtype == CN_T_FLOAT) t->diff = 1;
        }
    }
}

int cn_graph_first_without_vjp(const cn_graph *g, int first, int last)
{
    for (int i = first; i < last; i++) {
        const cn_node *n = &g->nodes[i];
        if (lacks_vjp(n) && has_diff_input(g, n) && has_diff_output(g, n)) return i;
    }
    return -1;
}

int cn_graph_reserve_grads(cn_graph *g)
{
    for (int i = 0; i < g->nt; i++) {
        cn_tensor *t = &g->t[i];
        if (!t->diff || t->role == CN_ROLE_PARAM || t->grad) continue;
        if (!(t->grad = cn_calloc(t->cap ? t->cap : 1, sizeof(cn_real)))) {
            snprintf(g->msg, sizeof g->msg, "%s: out of memory for the gradient of %s", g->path, t->name);
            return CN_ERR_NOMEM;
        }
    }
    return CN_OK;
}

void cn_graph_zero_grads(cn_graph *g)
{
    for (int i = 0; i < g->nt; i++) {
        cn_tensor *t = &g->t[i];
        if (t->diff && t->role != CN_ROLE_PARAM && t->grad && t->data)
            memset(t->grad, 0, cn_tensor_numel(t) * sizeof *t->grad);
    }
}

cn_real *cn_graph_temp(cn_graph *g, const cn_node *n, size_t count)
{
    if (count <= g->temp_cap && g->temp) return g->temp;
    cn_real *p = cn_malloc((count ? count : 1) * sizeof *p);
    if (!p) {
        cn_node_fail(g, n, CN_ERR_NOMEM, "out of memory for %zu values of work space", count);
        return NULL;
    }
    cn_free(g->temp);
    g->temp = p;
    g->temp_cap = count;
    return p;
}

void cn_grad_add(cn_real *grad, const cn_real *share, size_t count)
{
    CN_SIMD for (size_t i = 0; i < count; i++) grad[i] += share[i];
}

int cn_graph_run_vjp(cn_graph *g, int first, int last)
{
    for (int i = last - 1; i >= first; i--) {
        cn_node *n = &g->nodes[i];
        if (!has_diff_output(g, n) || !has_diff_input(g, n)) continue;
        if (lacks_vjp(n))
            return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "%s has no backward in critnet yet, so this network "
                                "cannot be trained (docs/onnx.md lists the operators that train)", n->op_type);
        int rc = n->op->vjp(g, n);
        if (rc) return rc;
    }
    return CN_OK;
}
