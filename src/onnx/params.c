/* params.c: what an imported graph trains. PyTorch exports a module's parameters and buffers as initializers,
 * next to the constants of its arithmetic (an epsilon, the 0.5 of a GELU, a shape). The rule that tells them
 * apart: a float constant of at least two values read at an input that its operator does not freeze (an
 * exponent, a clip bound, a pad value) trains; batch norm's running mean and variance are state, which a
 * training forward updates; the rest stays constant. A scalar parameter would therefore be left fixed, and a
 * float buffer of two or more values read by arithmetic would train: docs/onnx.md says so. */
#include <stdio.h>
#include <string.h>
#include "onnx/graph.h"

/* A copy of constant src under a new name; its index, or -1 (out of memory). */
static int clone_const(cn_graph *g, int src)
{
    char name[512];
    snprintf(name, sizeof name, "%s#%d", g->t[src].name, g->nt);
    int ti = cn_graph_add_tensor(g, name); /* may move g->t */
    if (ti < 0) return -1;
    cn_tensor *t = &g->t[ti];
    const cn_tensor *s = &g->t[src];
    size_t count = cn_tensor_numel(s);
    if (!(t->data = cn_malloc((count ? count : 1) * sizeof(cn_real)))) return -1;
    memcpy(t->data, s->data, count * sizeof(cn_real));
    t->cap = count ? count : 1;
    t->dtype = s->dtype;
    t->ndim = s->ndim;
    memcpy(t->dims, s->dims, sizeof t->dims);
    t->is_const = 1;
    return ti;
}

/* torch.onnx.export merges initializers of equal values, so a freshly initialised batch norm reads its running
 * variance through Identity(its weight) and its running mean through Identity(its bias), and batch norms of
 * one width share all four. Trained as found, the statistics would move the weights and one norm's update
 * another's. Each batch norm therefore gets its own copy of every scale, bias and statistic that something
 * else also reads, or that reaches it through an Identity of a constant. */
/* reads[t]: value reads of each tensor by live nodes (a node is dead when nothing reads its outputs and none
 * is the graph output, as the Identity that aliased a statistic is once its norm has a copy) */
static void count_reads(const cn_graph *g, int *reads)
{
    memset(reads, 0, ((size_t)g->nt + 1) * sizeof *reads);
    for (int k = 0; k < g->nn; k++)
        for (int j = 0; j < g->nodes[k].nin; j++)
            if (g->nodes[k].in[j] >= 0) reads[g->nodes[k].in[j]]++;
    for (int k = g->nn - 1; k >= 0; k--) {
        const cn_node *n = &g->nodes[k];
        int live = 0;
        for (int j = 0; j < n->nout; j++)
            live |= n->out[j] >= 0 && (reads[n->out[j]] > 0 || n->out[j] == g->output);
        if (!live)
            for (int j = 0; j < n->nin; j++)
                if (n->in[j] >= 0) reads[n->in[j]]--;
    }
}

/* the constant behind input j of n, looking through an Identity; -1 if none */
static int constant_behind(const cn_graph *g, const cn_node *n, int j)
{
    int ti = n->in[j];
    if (ti < 0) return -1;
    const cn_tensor *t = &g->t[ti];
    if (t->producer >= 0 && strcmp(g->nodes[t->producer].op_type, "Identity") == 0 &&
        g->nodes[t->producer].nin == 1)
        ti = g->nodes[t->producer].in[0];
    if (ti < 0) return -1;
    t = &g->t[ti];
    return t->is_const && t->producer < 0 && t->dtype == CN_T_FLOAT && t->data ? ti : -1;
}

/* torch.onnx.export merges initializers of equal values, so a freshly initialised batch norm reads its running
 * variance through Identity(its weight) and its running mean through Identity(its bias), and batch norms of
 * one width share their tensors. Trained as found, the statistics would move the weights, and one norm's
 * update would move another's. So each batch norm gets its own copy of a statistic that reaches it through
 * an Identity or that something else also reads, and then of a scale or bias that is still shared. */
static int unshare_batch_norms(cn_graph *g)
{
    int rc = CN_OK;
    for (int pass = 0; pass < 2 && !rc; pass++) { /* the statistics, then the scales and biases */
        int *reads = cn_calloc((size_t)g->nt + 1, sizeof *reads);
        if (!reads) return CN_ERR_NOMEM;
        count_reads(g, reads);
        const int nt = g->nt; /* clones are their own already */
        for (int k = 0; k < g->nn && !rc; k++) {
            cn_node *n = &g->nodes[k];
            if (!n->op->state_in) continue; /* batch norm */
            for (int j = pass ? 1 : 3; j < n->nin && j <= (pass ? 2 : 4) && !rc; j++) {
                int src = constant_behind(g, n, j);
                if (src < 0 || src >= nt || (src == n->in[j] && reads[src] <= 1)) continue;
                int copy = clone_const(g, src);
                if (copy < 0) rc = CN_ERR_NOMEM;
                else {
                    if (n->in[j] < nt) reads[n->in[j]]--;
                    n->in[j] = copy;
                }
            }
        }
        cn_free(reads);
    }
    return rc;
}

static int is_candidate(const cn_tensor *t)
{
    return t->is_const && t->producer < 0 && t->dtype == CN_T_FLOAT && t->data && cn_tensor_numel(t) >= 2;
}

int cn_graph_assign_roles(cn_graph *g)
{
    int rc = unshare_batch_norms(g);
    if (rc) {
        snprintf(g->msg, sizeof g->msg, "%s: out of memory", g->path);
        return rc;
    }
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
    return CN_OK;
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
