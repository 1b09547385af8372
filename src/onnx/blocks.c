/* blocks.c: the blocks of an ONNX graph (docs/onnx.md#blocks).
 *
 * A block can only end at a cut: a tensor after which nothing computed earlier is needed any more, so that
 * the whole state of the network is that one tensor, as a layer's output is in a chain. Among the cuts, the
 * default blocks end at each nonlinearity's output and at each tensor that closes a branched stretch (a
 * residual add, a concatenation of parallel paths, x * sigmoid(x)); a merge that feeds a lone nonlinearity
 * ends its block at the nonlinearity instead, so a ResNet block ends after its final ReLU. Reads of a tensor's
 * shape only (Shape, Size) do not keep it alive: a run keeps every tensor, so its shape is still there. */
#include <stdio.h>
#include <string.h>
#include "onnx/blocks.h"

static int is_nonlinearity(const char *op)
{
    static const char *const ops[] = {"Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "HardSigmoid",
                                      "HardSwish", "Clip", "Softplus", "Gelu"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(op, ops[i]) == 0) return 1;
    return 0;
}

/* the one active output of node i, or -1 */
static int single_active_output(cn_graph *g, int i)
{
    int found = -1;
    for (int j = 0; j < g->nodes[i].nout; j++) {
        cn_tensor *t = cn_node_out(g, &g->nodes[i], j);
        if (t && t->active) {
            if (found >= 0) return -1;
            found = (int)(t - g->t);
        }
    }
    return found;
}

typedef struct {
    int *last_use;  /* per tensor: the last node that reads its values (nn for the graph output) */
    int *uses;      /* per tensor: how many value reads */
    char *cut;      /* per node: its output is a cut */
} liveness;

static int value_read(const cn_node *n, int j) { return !(n->op->shape_only & (1u << j)); }

static int liveness_compute(cn_graph *g, liveness *lv)
{
    lv->last_use = cn_calloc((size_t)g->nt, sizeof *lv->last_use);
    lv->uses = cn_calloc((size_t)g->nt, sizeof *lv->uses);
    lv->cut = cn_calloc((size_t)g->nn + 1, 1);
    int *closes = cn_calloc((size_t)g->nn + 1, sizeof *closes);
    if (!lv->last_use || !lv->uses || !lv->cut || !closes) {
        cn_free(closes);
        return CN_ERR_NOMEM;
    }
    for (int t = 0; t < g->nt; t++) lv->last_use[t] = -1;
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            int t = g->nodes[i].in[j];
            if (t >= 0 && g->t[t].active && value_read(&g->nodes[i], j)) {
                lv->last_use[t] = i;
                lv->uses[t]++;
            }
        }
    lv->last_use[g->output] = g->nn;
    for (int t = 0; t < g->nt; t++)
        if (g->t[t].active && lv->last_use[t] >= 0 && lv->last_use[t] < g->nn) closes[lv->last_use[t]]++;
    /* open: active tensors produced so far that a later node still reads */
    int open = lv->last_use[g->input] >= 0 ? 1 : 0;
    for (int i = 0; i < g->nn; i++) {
        for (int j = 0; j < g->nodes[i].nout; j++) {
            int t = g->nodes[i].out[j];
            if (t >= 0 && g->t[t].active && lv->last_use[t] > i) open++;
        }
        open -= closes[i];
        int t = single_active_output(g, i);
        lv->cut[i] = open == 1 && t >= 0 && lv->last_use[t] > i;
    }
    cn_free(closes);
    return CN_OK;
}

static void liveness_free(liveness *lv)
{
    cn_free(lv->last_use);
    cn_free(lv->uses);
    cn_free(lv->cut);
}

/* the node that reads t's value, when exactly one does */
static int sole_reader(cn_graph *g, const liveness *lv, int t)
{
    if (lv->uses[t] != 1) return -1;
    for (int i = 0; i < g->nn; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == t && value_read(&g->nodes[i], j)) return i;
    return -1;
}

static int default_ends(cn_graph *g, const liveness *lv, int *ends, int *count)
{
    int n = 0, prev_cut_tensor = g->input, branched = 0;
    for (int i = 0; i < g->nn; i++) {
        if (!lv->cut[i]) {
            /* a tensor inside the stretch read twice: paths split here and merge by the next cut */
            for (int j = 0; j < g->nodes[i].nout; j++) {
                int t = g->nodes[i].out[j];
                if (t >= 0 && g->t[t].active && lv->uses[t] > 1) branched = 1;
            }
            continue;
        }
        if (lv->uses[prev_cut_tensor] > 1) branched = 1;
        int t = single_active_output(g, i);
        int end = is_nonlinearity(g->nodes[i].op_type);
        if (!end && branched) {
            int r = sole_reader(g, lv, t);
            end = !(r >= 0 && lv->cut[r] && is_nonlinearity(g->nodes[r].op_type));
        }
        if (end && t != g->output) ends[n++] = i;
        prev_cut_tensor = t;
        branched = 0;
    }
    *count = n;
    return CN_OK;
}

static int named_ends(cn_graph *g, const liveness *lv, const char *names, int *ends, int *count, cn_error *err)
{
    int n = 0;
    const char *p = names;
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len < 255 ? len : 255), p);
        p += len + (p[len] == ',');
        if (!name[0]) continue;
        int node = -1;
        for (int i = 0; i < g->nn && node < 0; i++) {
            int t = single_active_output(g, i);
            if (strcmp(g->nodes[i].name, name) == 0 || (t >= 0 && strcmp(g->t[t].name, name) == 0)) node = i;
        }
        if (node < 0)
            return cn_error_set(err, CN_ERR_ARG, "%s: --blocks: no node or tensor named %s", g->path, name);
        if (!lv->cut[node] || single_active_output(g, node) == g->output)
            return cn_error_set(err, CN_ERR_ARG, "%s: --blocks: %s is not on the main path (a block must end where "
                                "the network's whole state is that one tensor), or it is the output", g->path, name);
        for (int k = 0; k < n; k++)
            if (ends[k] == node) return cn_error_set(err, CN_ERR_ARG, "%s: --blocks: %s is named twice", g->path, name);
        ends[n++] = node;
    }
    if (!n) return cn_error_set(err, CN_ERR_ARG, "%s: --blocks names no tensor", g->path);
    /* graph order, whatever order they were named in */
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && ends[k - 1] > ends[k]; k--) {
            int tmp = ends[k];
            ends[k] = ends[k - 1];
            ends[k - 1] = tmp;
        }
    *count = n;
    return CN_OK;
}

int cn_onnx_block_ends(cn_graph *g, const char *names, int *ends, int *count, cn_error *err)
{
    liveness lv = {0};
    int rc = liveness_compute(g, &lv);
    if (rc) {
        liveness_free(&lv);
        return cn_error_set(err, rc, "%s: out of memory", g->path);
    }
    rc = names ? named_ends(g, &lv, names, ends, count, err) : default_ends(g, &lv, ends, count);
    liveness_free(&lv);
    return rc;
}
