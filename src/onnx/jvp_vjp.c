/* jvp_vjp.c: the reverse of a jvp pass, which the criticality regulariser needs. Its penalty R is a function of
 * the tangents a jvp pass computes, so its gradient runs that pass backward: for each node, from the cotangents
 * of the output tangents (gtan) to those of the input tangents, and to the grads of everything else the jvp
 * read, the forward's values and the weights, which the task's backward then carries on.
 *
 * Most ops need no rule of their own (graph.h, CN_TANGENT_*): an op whose jvp is its Jacobian at fixed values
 * (LINEAR) is reversed by its own vjp; an op linear in each input (MULTILINEAR) by its vjp with that input's
 * value replaced by its tangent. Both run the op's vjp with the node's tensors' data and grad pointers moved
 * to the tangent being reversed, the way cn_node_jvp_each moves tan. */
#include <stdio.h>
#include <string.h>
#include "onnx/graph.h"

cn_real *cn_node_in_gtan(cn_graph *g, const cn_node *n, int i)
{
    cn_tensor *t = cn_node_in(g, n, i);
    return t && t->active ? t->gtan : NULL;
}

const cn_real *cn_node_out_gtan(cn_graph *g, const cn_node *n, int i)
{
    cn_tensor *t = cn_node_out(g, n, i);
    return t && t->active ? t->gtan : NULL;
}

int cn_graph_reserve_gtan(cn_graph *g)
{
    for (int i = 0; i < g->nt; i++) {
        cn_tensor *t = &g->t[i];
        if (!t->active || t->gtan) continue;
        if (!(t->gtan = cn_calloc(t->cap * (size_t)(g->tangents > 1 ? g->tangents : 1), sizeof(cn_real)))) {
            snprintf(g->msg, sizeof g->msg, "%s: out of memory for the tangent cotangents of %s", g->path, t->name);
            return CN_ERR_NOMEM;
        }
    }
    return CN_OK;
}

static void zero_tensor_gtan(cn_graph *g, int ti, int K)
{
    cn_tensor *t = &g->t[ti];
    if (ti >= 0 && t->active && t->gtan) memset(t->gtan, 0, (size_t)K * cn_tensor_numel(t) * sizeof *t->gtan);
}

void cn_graph_zero_gtan(cn_graph *g, int first, int last, int K)
{
    for (int i = first; i < last; i++) {
        const cn_node *n = &g->nodes[i];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] >= 0) zero_tensor_gtan(g, n->in[j], K);
        for (int j = 0; j < n->nout; j++)
            if (n->out[j] >= 0) zero_tensor_gtan(g, n->out[j], K);
    }
}

static int has_active_output(const cn_graph *g, const cn_node *n)
{
    for (int j = 0; j < n->nout; j++)
        if (n->out[j] >= 0 && g->t[n->out[j]].active) return 1;
    return 0;
}

static int has_active_input(const cn_graph *g, const cn_node *n)
{
    for (int j = 0; j < n->nin; j++)
        if (n->in[j] >= 0 && g->t[n->in[j]].active && !(n->op->shape_only & (1u << j))) return 1;
    return 0;
}

int cn_graph_first_without_tangent_rule(const cn_graph *g, int first, int last)
{
    for (int i = first; i < last; i++) {
        const cn_node *n = &g->nodes[i];
        if (!has_active_input(g, n) || !has_active_output(g, n)) continue;
        if (n->op->tangent_rule == CN_TANGENT_NONE || !n->op->vjp ||
            (n->op->vjp_max_inputs && n->nin > n->op->vjp_max_inputs))
            return i;
    }
    return -1;
}

/* ------------------------------------------------------------------ moving a node's pointers to tangent k */

/* The data and grad of the node's distinct tensors, saved so that a rule can move them and put them back. */
typedef struct {
    int count;
    int index[2 * 16];
    void *data[2 * 16];
    cn_real *grad[2 * 16];
} saved_pointers;

static int save_pointers(cn_graph *g, const cn_node *n, saved_pointers *s)
{
    s->count = 0;
    for (int j = 0; j < n->nin + n->nout; j++) {
        int ti = j < n->nin ? n->in[j] : n->out[j - n->nin], seen = ti < 0;
        for (int e = 0; e < s->count && !seen; e++) seen = s->index[e] == ti;
        if (seen) continue;
        if (s->count == (int)(sizeof s->index / sizeof *s->index))
            return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "too many inputs and outputs for the regulariser");
        s->index[s->count] = ti;
        s->data[s->count] = g->t[ti].data;
        s->grad[s->count] = g->t[ti].grad;
        s->count++;
    }
    return CN_OK;
}

static void restore_pointers(cn_graph *g, const saved_pointers *s)
{
    for (int e = 0; e < s->count; e++) {
        g->t[s->index[e]].data = s->data[e];
        g->t[s->index[e]].grad = s->grad[e];
    }
}

static size_t tangent_offset(const cn_tensor *t, int k) { return (size_t)k * cn_tensor_numel(t); }

/* Points every active output's grad at tangent k's cotangent, and every other output's at nothing. */
static void outputs_to_tangent(cn_graph *g, const cn_node *n, int k)
{
    for (int j = 0; j < n->nout; j++) {
        cn_tensor *t = cn_node_out(g, n, j);
        if (t) t->grad = t->active && t->gtan ? t->gtan + tangent_offset(t, k) : NULL;
    }
}

/* LINEAR: the op's vjp, tangent by tangent, from the outputs' tangent cotangents to the active inputs'; the
 * other inputs (a constant bias, a parameter) get nothing, since the jvp does not depend on them. */
int cn_node_reverse_linear(cn_graph *g, cn_node *n, int K)
{
    saved_pointers s;
    int rc = save_pointers(g, n, &s);
    for (int k = 0; k < K && rc == CN_OK; k++) {
        for (int j = 0; j < n->nin; j++) {
            cn_tensor *t = cn_node_in(g, n, j);
            if (t) t->grad = t->active && t->gtan ? t->gtan + tangent_offset(t, k) : NULL;
        }
        outputs_to_tangent(g, n, k);
        rc = n->op->vjp(g, n);
        restore_pointers(g, &s);
    }
    return rc;
}

/* MULTILINEAR: for each active input i, the tangent term is the op at (..., t_i, ...), so its reverse is the op's
 * vjp with input i's value moved to its tangent: input i gets the cotangent of its tangent, every other
 * multiplied input (a weight, or a second activation) its share of the gradient (the weight's second-order term,
 * or the activation's primal grad), and added inputs (a bias) nothing. An active added input passes its tangent
 * straight through: LINEAR for it alone. */
static int reverse_multilinear(cn_graph *g, cn_node *n, int K)
{
    saved_pointers s;
    int rc = save_pointers(g, n, &s);
    for (int i = 0; i < n->nin && rc == CN_OK; i++) {
        cn_tensor *ti = cn_node_in(g, n, i);
        if (!ti || !ti->active || (n->op->shape_only & (1u << i))) continue;
        for (int j = 0; j < n->nin && rc == CN_OK; j++)
            if (j != i && n->in[j] == n->in[i])
                rc = cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the same tensor at two inputs (a square) has no "
                                  "second-order rule yet; write it as Pow");
        const int added = (n->op->additive_in >> i) & 1;
        for (int k = 0; k < K && rc == CN_OK; k++) {
            for (int j = 0; j < n->nin; j++) {
                cn_tensor *t = cn_node_in(g, n, j);
                if (!t || j == i) continue;
                if (added || ((n->op->additive_in >> j) & 1)) t->grad = NULL;
            }
            if (!added) ti->data = ti->tan + tangent_offset(ti, k);
            ti->grad = ti->gtan + tangent_offset(ti, k);
            outputs_to_tangent(g, n, k);
            rc = n->op->vjp(g, n);
            restore_pointers(g, &s);
        }
    }
    return rc;
}

int cn_graph_run_jvp_vjp(cn_graph *g, int first, int last, int K)
{
    if (K < 1 || K > g->tangents) {
        snprintf(g->msg, sizeof g->msg, "%s: %d tangents to reverse, room for %d", g->path, K, g->tangents);
        return CN_ERR_ARG;
    }
    g->run_k = K;
    for (int i = last - 1; i >= first; i--) {
        cn_node *n = &g->nodes[i];
        if (!has_active_input(g, n) || !has_active_output(g, n)) continue;
        int rc;
        switch (n->op->tangent_rule) {
        case CN_TANGENT_LINEAR: rc = cn_node_reverse_linear(g, n, K); break;
        case CN_TANGENT_MULTILINEAR: rc = reverse_multilinear(g, n, K); break;
        case CN_TANGENT_CUSTOM: rc = n->op->jvp_vjp(g, n); break;
        default:
            rc = cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "%s has no second-order rule in critnet yet, so the "
                              "criticality regulariser cannot pass it (docs/onnx.md lists the operators it "
                              "passes)", n->op_type);
        }
        if (rc) return rc;
    }
    return CN_OK;
}
