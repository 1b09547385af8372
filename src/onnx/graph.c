/* graph.c: the tensors and nodes of an ONNX graph, the helpers every operator uses, and running nodes
 * forward and in tangent mode. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx/graph.h"

/* a run refuses tensors above this, well before size_t arithmetic could overflow */
#define MAX_ELEMENTS ((int64_t)1 << 31)

size_t cn_tensor_numel(const cn_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->dims[i];
    return n;
}

static size_t elem_size(int dtype) { return dtype == CN_T_FLOAT ? sizeof(cn_real) : sizeof(int64_t); }

cn_tensor *cn_node_in(cn_graph *g, const cn_node *n, int i)
{
    return i < n->nin && n->in[i] >= 0 ? &g->t[n->in[i]] : NULL;
}

cn_tensor *cn_node_out(cn_graph *g, const cn_node *n, int i)
{
    return i < n->nout && n->out[i] >= 0 ? &g->t[n->out[i]] : NULL;
}

const cn_real *cn_node_in_tan(cn_graph *g, const cn_node *n, int i)
{
    cn_tensor *t = cn_node_in(g, n, i);
    return t && t->active ? t->tan : NULL;
}

cn_real *cn_node_in_grad(cn_graph *g, const cn_node *n, int i)
{
    cn_tensor *t = cn_node_in(g, n, i);
    return t && t->diff && !(n->op->frozen_in & (1u << i)) ? t->grad : NULL;
}

const cn_real *cn_node_out_grad(cn_graph *g, const cn_node *n, int i)
{
    cn_tensor *t = cn_node_out(g, n, i);
    return t && t->diff ? t->grad : NULL;
}

int cn_node_fail(cn_graph *g, const cn_node *n, int status, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(g->msg, sizeof g->msg, "%.160s: node %.120s (%.24s): %.190s", g->path, n->name, n->op_type, what);
    return status;
}

int cn_tensor_set_shape(cn_graph *g, const cn_node *n, cn_tensor *t, int dtype, int ndim, const int64_t *dims)
{
    if (ndim < 0 || ndim > CN_ONNX_MAX_DIMS)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "output %s would have rank %d (at most %d)", t->name, ndim,
                            CN_ONNX_MAX_DIMS);
    /* The limit holds for the product of the nonzero dimensions too: an empty tensor of shape (0, 2^40, 2^40)
     * would otherwise pass, and every stride and partial product the operators take of it overflow. */
    int64_t count = 1, extent = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "output %s: negative dimension", t->name);
        if (dims[i] > 0 && extent > MAX_ELEMENTS / dims[i])
            return cn_node_fail(g, n, CN_ERR_FORMAT, "output %s would exceed 2^31 elements", t->name);
        count *= dims[i];
        if (dims[i]) extent *= dims[i];
    }
    /* cap counts elements of the dtype the buffer was sized for */
    size_t need = (size_t)count * elem_size(dtype), have = t->data ? t->cap * elem_size(t->dtype) : 0;
    if (!t->data || need > have) {
        size_t cap = count ? (size_t)count : 1;
        void *data = cn_malloc(cap * elem_size(dtype));
        if (!data) return cn_node_fail(g, n, CN_ERR_NOMEM, "out of memory for %s (%zu elements)", t->name, cap);
        cn_free(t->data);
        t->data = data;
        t->cap = cap;
        if (t->tan) {
            cn_free(t->tan);
            if (!(t->tan = cn_calloc(cap * (size_t)(g->tangents > 1 ? g->tangents : 1), sizeof(cn_real))))
                return cn_node_fail(g, n, CN_ERR_NOMEM, "out of memory for the tangent of %s", t->name);
        }
        if (t->grad) {
            cn_free(t->grad);
            if (!(t->grad = cn_calloc(cap, sizeof(cn_real))))
                return cn_node_fail(g, n, CN_ERR_NOMEM, "out of memory for the gradient of %s", t->name);
        }
        if (t->gtan) {
            cn_free(t->gtan);
            if (!(t->gtan = cn_calloc(cap * (size_t)(g->tangents > 1 ? g->tangents : 1), sizeof(cn_real))))
                return cn_node_fail(g, n, CN_ERR_NOMEM, "out of memory for the tangent cotangent of %s", t->name);
        }
    } else if (dtype != t->dtype) {
        t->cap = have / elem_size(dtype);
    }
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    return CN_OK;
}

void *cn_node_scratch(cn_graph *g, cn_node *n, size_t bytes)
{
    if (bytes <= n->scratch_bytes && n->scratch) return n->scratch;
    void *p = cn_malloc(bytes ? bytes : 1);
    if (!p) {
        cn_node_fail(g, n, CN_ERR_NOMEM, "out of memory for %zu bytes of work space", bytes);
        return NULL;
    }
    cn_free(n->scratch);
    n->scratch = p;
    n->scratch_bytes = bytes;
    return p;
}

const cn_attr *cn_attr_find(const cn_node *n, const char *name)
{
    for (int i = 0; i < n->nattr; i++)
        if (strcmp(n->attr[i].name, name) == 0) return &n->attr[i];
    return NULL;
}

int64_t cn_attr_int(const cn_node *n, const char *name, int64_t def)
{
    const cn_attr *a = cn_attr_find(n, name);
    return a && a->type == CN_ATTR_INT ? a->i : def;
}

double cn_attr_float(const cn_node *n, const char *name, double def)
{
    const cn_attr *a = cn_attr_find(n, name);
    if (!a) return def;
    if (a->type == CN_ATTR_FLOAT) return a->f;
    if (a->type == CN_ATTR_INT) return (double)a->i;
    return def;
}

const char *cn_attr_string(const cn_node *n, const char *name, const char *def)
{
    const cn_attr *a = cn_attr_find(n, name);
    return a && a->type == CN_ATTR_STRING && a->s ? a->s : def;
}

int cn_attr_ints(cn_graph *g, const cn_node *n, const char *name, int64_t *v, int max, int *count)
{
    const cn_attr *a = cn_attr_find(n, name);
    *count = 0;
    if (!a) return CN_OK;
    if (a->type != CN_ATTR_INTS) return cn_node_fail(g, n, CN_ERR_FORMAT, "attribute %s is not a list of ints", name);
    if (a->n > max) return cn_node_fail(g, n, CN_ERR_FORMAT, "attribute %s has %d entries (at most %d)", name, a->n, max);
    for (int i = 0; i < a->n; i++) v[i] = a->ints[i];
    *count = a->n;
    return CN_OK;
}

int cn_input_ints(cn_graph *g, const cn_node *n, int i, int64_t *v, int max, int *count)
{
    cn_tensor *t = cn_node_in(g, n, i);
    *count = -1;
    if (!t) return CN_OK;
    if (t->dtype == CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s must hold integers", t->name);
    if (!t->data && cn_tensor_numel(t)) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s has no value", t->name);
    size_t m = cn_tensor_numel(t);
    if (m > (size_t)max) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s has %zu entries (at most %d)", t->name, m, max);
    if (m) memcpy(v, t->data, m * sizeof *v);
    *count = (int)m;
    return CN_OK;
}

int cn_input_scalar(cn_graph *g, const cn_node *n, int i, double def, double *out)
{
    cn_tensor *t = cn_node_in(g, n, i);
    *out = def;
    if (!t) return CN_OK;
    if (cn_tensor_numel(t) != 1 || !t->data)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s must be a single number", t->name);
    *out = t->dtype == CN_T_FLOAT ? (double)((cn_real *)t->data)[0] : (double)((int64_t *)t->data)[0];
    return CN_OK;
}

int cn_graph_add_tensor(cn_graph *g, const char *name)
{
    if (g->nt == g->cap_t) {
        int cap = g->cap_t ? 2 * g->cap_t : 64;
        cn_tensor *t = cn_calloc((size_t)cap, sizeof *t);
        if (!t) return -1;
        if (g->t) memcpy(t, g->t, (size_t)g->nt * sizeof *t);
        cn_free(g->t);
        g->t = t;
        g->cap_t = cap;
    }
    cn_tensor *t = &g->t[g->nt];
    memset(t, 0, sizeof *t);
    t->producer = -1;
    if (!(t->name = cn_strdup(name ? name : ""))) return -1;
    return g->nt++;
}

/* a node that produced nothing for an output it declares is an operator bug; refuse it rather than run on */
static int check_outputs(cn_graph *g, const cn_node *n)
{
    for (int i = 0; i < n->nout; i++) {
        cn_tensor *t = cn_node_out(g, n, i);
        if (t && !t->data) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "output %s was not produced", t->name);
    }
    return CN_OK;
}

int cn_graph_run(cn_graph *g, int first, int last)
{
    for (int i = first; i < last; i++) {
        cn_node *n = &g->nodes[i];
        int rc = n->op->forward(g, n);
        if (rc == CN_OK) rc = check_outputs(g, n);
        if (rc) return rc;
    }
    return CN_OK;
}

static int any_active_output(cn_graph *g, const cn_node *n)
{
    for (int i = 0; i < n->nout; i++) {
        cn_tensor *t = cn_node_out(g, n, i);
        if (t && t->active) return 1;
    }
    return 0;
}

/* moves the tan pointer of every distinct active tensor of n by `by` tangents */
static void shift_tangents(cn_graph *g, const cn_node *n, int by)
{
    for (int j = 0; j < n->nin + n->nout; j++) {
        int ti = j < n->nin ? n->in[j] : n->out[j - n->nin], seen = 0;
        if (ti < 0 || !g->t[ti].active || !g->t[ti].tan) continue;
        for (int e = 0; e < j && !seen; e++) seen = (e < n->nin ? n->in[e] : n->out[e - n->nin]) == ti;
        if (!seen) g->t[ti].tan += (ptrdiff_t)by * (ptrdiff_t)cn_tensor_numel(&g->t[ti]);
    }
}

int cn_node_jvp_each(cn_graph *g, cn_node *n, int (*one_tangent)(cn_graph *, cn_node *))
{
    int K = g->run_k, rc = CN_OK;
    for (int k = 0; k < K && rc == CN_OK; k++) {
        shift_tangents(g, n, k);
        rc = one_tangent(g, n);
        shift_tangents(g, n, -k);
    }
    return rc;
}

int cn_graph_run_jvp(cn_graph *g, int first, int last, int K)
{
    if (K < 1 || K > (g->tangents > 1 ? g->tangents : 1)) {
        snprintf(g->msg, sizeof g->msg, "%s: %d tangents at once, room for %d", g->path, K, g->tangents);
        return CN_ERR_ARG;
    }
    g->run_k = K;
    for (int i = first; i < last; i++) {
        cn_node *n = &g->nodes[i];
        if (!any_active_output(g, n)) continue;
        int rc = n->op->jvp_batched || K == 1 ? n->op->jvp(g, n) : cn_node_jvp_each(g, n, n->op->jvp);
        if (rc) return rc;
    }
    return CN_OK;
}

int cn_graph_set_input(cn_graph *g, const cn_real *x, int batch)
{
    cn_tensor *in = &g->t[g->input];
    int64_t dims[CN_ONNX_MAX_DIMS];
    memcpy(dims, in->dims, sizeof dims);
    dims[0] = batch;
    static const cn_node loader = {.name = "(input)", .op_type = "input"};
    int rc = cn_tensor_set_shape(g, &loader, in, CN_T_FLOAT, in->ndim, dims);
    if (rc) return rc;
    size_t n = cn_tensor_numel(in);
    if (x) memcpy(in->data, x, n * sizeof(cn_real));
    else memset(in->data, 0, n * sizeof(cn_real));
    return CN_OK;
}

void cn_graph_mark_active(cn_graph *g)
{
    for (int i = 0; i < g->nt; i++) g->t[i].active = 0;
    g->t[g->input].active = 1;
    for (int i = 0; i < g->nn; i++) {
        cn_node *n = &g->nodes[i];
        if (!n->op->jvp) continue;
        int active_in = 0;
        for (int j = 0; j < n->nin; j++) {
            cn_tensor *t = cn_node_in(g, n, j);
            if (t && t->active && !(n->op->shape_only & (1u << j))) active_in = 1;
        }
        if (!active_in) continue;
        for (int j = 0; j < n->nout; j++) {
            cn_tensor *t = cn_node_out(g, n, j);
            if (t && t->dtype == CN_T_FLOAT) t->active = 1;
        }
    }
}

int cn_graph_reserve(cn_graph *g, int batch, int tangents)
{
    if (g->fixed_batch && batch > g->fixed_batch) {
        snprintf(g->msg, sizeof g->msg, "%s: the model's batch size is fixed at %d; it cannot run %d examples at once",
                 g->path, g->fixed_batch, batch);
        return CN_ERR_ARG;
    }
    if (batch > g->reserved_batch) {
        int rc = cn_graph_set_input(g, NULL, batch);
        if (!rc) rc = cn_graph_run(g, 0, g->nn);
        if (rc) return rc;
        g->reserved_batch = batch;
    }
    /* as many tangents as asked, within the budget (at least one) */
    size_t per_tangent = 0;
    for (int i = 0; i < g->nt; i++)
        if (g->t[i].active) per_tangent += g->t[i].cap * sizeof(cn_real);
    int K = tangents > 1 ? tangents : 1;
    if (per_tangent && (size_t)K * per_tangent > CN_GRAPH_TANGENT_BYTES) K = (int)(CN_GRAPH_TANGENT_BYTES / per_tangent);
    if (K < g->min_tangents) K = g->min_tangents;
    if (K < 1) K = 1;
    int grow = K > g->tangents;
    if (grow) g->tangents = K;
    for (int i = 0; i < g->nt; i++) {
        cn_tensor *t = &g->t[i];
        if (!t->active || (t->tan && !grow)) continue;
        cn_free(t->tan);
        if (!(t->tan = cn_calloc(t->cap * (size_t)g->tangents, sizeof(cn_real)))) {
            snprintf(g->msg, sizeof g->msg, "%s: out of memory for the tangents of %s", g->path, t->name);
            return CN_ERR_NOMEM;
        }
        if (t->gtan) {
            cn_free(t->gtan);
            if (!(t->gtan = cn_calloc(t->cap * (size_t)g->tangents, sizeof(cn_real)))) {
                snprintf(g->msg, sizeof g->msg, "%s: out of memory for the tangent cotangents of %s", g->path, t->name);
                return CN_ERR_NOMEM;
            }
        }
    }
    return CN_OK;
}

void cn_graph_free(cn_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->nt; i++) {
        cn_free(g->t[i].name);
        if (!g->t[i].borrowed) cn_free(g->t[i].data); /* else views of the net's buffers */
        cn_free(g->t[i].tan);
        cn_free(g->t[i].gtan);
        if (!(g->t[i].borrowed && g->t[i].role == CN_ROLE_PARAM)) cn_free(g->t[i].grad);
    }
    for (int i = 0; i < g->nn; i++) {
        cn_node *n = &g->nodes[i];
        cn_free(n->name);
        cn_free(n->op_type);
        cn_free(n->in);
        cn_free(n->out);
        cn_free(n->scratch);
        for (int j = 0; j < n->nattr; j++) {
            cn_free(n->attr[j].name);
            cn_free(n->attr[j].s);
            cn_free(n->attr[j].ints);
            cn_free(n->attr[j].floats);
        }
        cn_free(n->attr);
    }
    cn_free(g->t);
    cn_free(g->nodes);
    cn_free(g->temp);
    free(g->source); /* from realpath */
    cn_free(g);
}
