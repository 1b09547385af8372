/* params.c: what an imported graph trains. PyTorch exports a module's parameters and buffers as initializers,
 * next to the constants of its arithmetic (an epsilon, the 0.5 of a GELU, a shape). The rule that tells them
 * apart: a float constant of at least two values read at an input that its operator does not freeze (an
 * exponent, a clip bound, a pad value) trains; batch norm's running mean and variance are state, which a
 * training forward updates; the rest stays constant. A scalar parameter would therefore be left fixed, and a
 * float buffer of two or more values read by arithmetic would train: docs/onnx.md says so. */
#include <string.h>
#include "onnx/graph.h"

static int is_candidate(const cn_tensor *t)
{
    return t->is_const && t->producer < 0 && t->dtype == CN_T_FLOAT && t->data && cn_tensor_numel(t) >= 2;
}

void cn_graph_assign_roles(cn_graph *g)
{
    for (int i = 0; i < g->nt; i++) {
        g->t[i].role = CN_ROLE_NONE;
        g->t[i].first_reader = -1;
    }
    for (int k = 0; k < g->nn; k++) {
        const cn_node *n = &g->nodes[k];
        for (int j = 0; j < n->nin; j++) {
            if (n->in[j] < 0 || (n->op->shape_only & (1u << j))) continue;
            cn_tensor *t = &g->t[n->in[j]];
            if (t->first_reader < 0) t->first_reader = k;
            if (!is_candidate(t)) continue;
            if (n->op->state_in & (1u << j)) t->role = CN_ROLE_STATE;
            else if (!(n->op->frozen_in & (1u << j)) && t->role == CN_ROLE_NONE) t->role = CN_ROLE_PARAM;
        }
    }
}

static int owned_by(const cn_tensor *t, int role, int first, int last)
{
    return t->role == role && t->first_reader >= first && t->first_reader < last;
}

size_t cn_graph_role_size(const cn_graph *g, int role, int first, int last)
{
    size_t total = 0;
    for (int i = 0; i < g->nt; i++)
        if (owned_by(&g->t[i], role, first, last)) total += cn_tensor_numel(&g->t[i]);
    return total;
}

void cn_graph_bind_role(cn_graph *g, int role, int first, int last, cn_real *data, cn_real *grad)
{
    size_t at = 0;
    for (int i = 0; i < g->nt; i++) {
        cn_tensor *t = &g->t[i];
        if (!owned_by(t, role, first, last)) continue;
        size_t count = cn_tensor_numel(t);
        memcpy(data + at, t->data, count * sizeof *data);
        if (!t->borrowed) cn_free(t->data);
        t->data = data + at;
        t->cap = count;
        t->borrowed = 1;
        if (role == CN_ROLE_PARAM) t->grad = grad + at;
        at += count;
    }
}
