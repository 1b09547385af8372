/* onnx_net.c: an ONNX graph as a cn_net. The graph is cut into segments at its block ends, and each
 * segment is one layer of the network's chain, so everything that works on a chain of layers (the
 * criticality measures, evaluation, training) works on an imported model unchanged. All segments share one
 * graph: a segment's forward runs its range of nodes on the tensors the earlier segments left, its jvp runs
 * the same nodes in tangent mode, tangent by tangent, and its backward runs their vjps in reverse. The
 * graph's parameters and batch-norm statistics (params.c) live in the net's flat buffers, each segment owning
 * those its nodes read first, so optimizers and checkpoints see them as a native net's. A pass that fails
 * returns its status, and g->msg (cn_net_status) says which node failed and why. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/net_internal.h"
#include "onnx/blocks.h"
#include "onnx/graph.h"
#include "onnx/onnx_net.h"

typedef struct {
    cn_graph *g;
    int first, last;   /* nodes [first, last) */
    int in, out;       /* tensors */
    int *failed;       /* shared by the segments of one net: the last failure, for cn_net_status's message */
} segment;

static int expect_rows(segment *s, int t, int B, size_t per_example)
{
    cn_tensor *x = &s->g->t[t];
    if (x->ndim >= 1 && x->dims[0] == B && cn_tensor_numel(x) == (size_t)B * per_example) return CN_OK;
    snprintf(s->g->msg, sizeof s->g->msg, "%s: tensor %s does not hold %d examples of %zu values (its first "
             "dimension must stay the batch)", s->g->path, x->name, B, per_example);
    return CN_ERR_FORMAT;
}

/* records a failure for cn_net_status (g->msg already says what went wrong) and returns it */
static int seg_failed(segment *s, int rc)
{
    *s->failed = rc;
    return rc;
}

static int seg_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    segment *s = L->impl;
    cn_graph *g = s->g;
    size_t n_in = (size_t)cn_shape_size(L->in), n_out = (size_t)cn_shape_size(L->out);
    int rc;
    g->train = train != 0;
    if (s->first == 0) rc = cn_graph_set_input(g, x, B);
    else if ((rc = expect_rows(s, s->in, B, n_in)) == CN_OK && g->t[s->in].data != x)
        memcpy(g->t[s->in].data, x, (size_t)B * n_in * sizeof *x);
    if (!rc) rc = cn_graph_run(g, s->first, s->last);
    if (!rc) rc = expect_rows(s, s->out, B, n_out);
    if (rc) return seg_failed(s, rc);
    memcpy(y, g->t[s->out].data, (size_t)B * n_out * sizeof *y);
    return CN_OK;
}

/* The K tangents run through the segment's nodes together, as many at a time as the graph has room for
 * (cn_graph_reserve's budget): tangent k of a tensor lies at tan + k * numel, so a chunk of the chain's
 * (K, B, n) layout copies in and out in one piece. */
static int seg_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    segment *s = L->impl;
    cn_graph *g = s->g;
    size_t n_in = (size_t)B * cn_shape_size(L->in), n_out = (size_t)B * cn_shape_size(L->out);
    cn_tensor *in = &g->t[s->in], *out = &g->t[s->out];
    if (!in->tan || in->cap < n_in || g->tangents < 1) {
        snprintf(g->msg, sizeof g->msg, "%s: no tangent buffer for %s (reserve the net first)", g->path, in->name);
        return seg_failed(s, CN_ERR_ARG);
    }
    for (int k0 = 0; k0 < K; k0 += g->tangents) {
        int kc = K - k0 < g->tangents ? K - k0 : g->tangents;
        memcpy(in->tan, tx + (size_t)k0 * n_in, (size_t)kc * n_in * sizeof *tx);
        int rc = cn_graph_run_jvp(g, s->first, s->last, kc);
        if (rc) return seg_failed(s, rc);
        if (out->active) memcpy(ty + (size_t)k0 * n_out, out->tan, (size_t)kc * n_out * sizeof *ty);
        else memset(ty + (size_t)k0 * n_out, 0, (size_t)kc * n_out * sizeof *ty);
    }
    return CN_OK;
}

/* The chain calls the segments from the readout back to the first. The readout starts the pass from zero
 * gradients everywhere: a tensor a later segment reads (a parameter, or a value that depends on one only)
 * gathers shares from several segments. Each segment sets its output's gradient to dy, which is exactly what
 * the later segments gave its output, and hands its input's gradient back as dx. */
static int seg_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    segment *s = L->impl;
    cn_graph *g = s->g;
    cn_tensor *in = &g->t[s->in], *out = &g->t[s->out];
    size_t n_in = (size_t)B * cn_shape_size(L->in), n_out = (size_t)B * cn_shape_size(L->out);
    int rc;
    if (s->last == g->nn) { /* a node without a backward fails in cn_graph_run_vjp, naming itself */
        if ((rc = cn_graph_reserve_grads(g))) return seg_failed(s, rc);
        if (!g->keep_grads) cn_graph_zero_grads(g); /* else the regulariser's shares are already there */
        g->keep_grads = 0;
    }
    if (!out->grad || cn_tensor_numel(out) != n_out) {
        snprintf(g->msg, sizeof g->msg, "%s: no gradient for %s (run a forward at this batch first)", g->path, out->name);
        return seg_failed(s, CN_ERR_ARG);
    }
    memcpy(out->grad, dy, n_out * sizeof *dy);
    if ((rc = cn_graph_run_vjp(g, s->first, s->last))) return seg_failed(s, rc);
    if (!dx) return CN_OK;
    if (in->grad && in->diff) memcpy(dx, in->grad, n_in * sizeof *dx);
    else memset(dx, 0, n_in * sizeof *dx);
    return CN_OK;
}

static int seg_reserve(cn_layer *L, int B, int K)
{
    segment *s = L->impl;
    int rc = cn_graph_reserve(s->g, B, K);
    return rc ? seg_failed(s, rc) : CN_OK;
}

static int seg_init(cn_layer *L, const cn_init *init, cn_rng *rng) { return CN_OK; }

static int seg_print(const cn_layer *L, char *buf, size_t cap)
{
    const segment *s = L->impl;
    int n = snprintf(buf, cap, "# onnx nodes %d-%d, ending at %s", s->first, s->last - 1, s->g->t[s->out].name);
    return n < 0 || (size_t)n >= cap ? CN_ERR_ARG : CN_OK;
}

static const cn_layer_ops segment_ops = {
    .kind = "onnx",
    .traits = CN_TRAIT_MAIN,
    .forward = seg_forward,
    .backward = seg_backward,
    .jvp = seg_jvp,
    .reserve = seg_reserve,
    .init = seg_init,
    .print = seg_print,
};

const char *cn_net_layer_name(const cn_net *net, int i)
{
    const cn_layer *L = net->chain.layers[i];
    if (L->ops != &segment_ops) return NULL;
    const segment *s = L->impl;
    return s->g->t[s->out].name;
}

/* the per-example shape of tensor t as the chain sees it: up to three dimensions, the rest folded in */
static cn_shape example_shape(const cn_tensor *t)
{
    cn_shape sh = {1, 1, 1};
    int r = t->ndim - 1;
    if (r >= 1) sh.c = (int)t->dims[1];
    if (r >= 2) sh.h = (int)t->dims[2];
    for (int i = 3; i <= r; i++) sh.w *= (int)t->dims[i];
    return sh;
}

static int add_segment(cn_net *net, int first, int last, int in, int out, int *failed, cn_error *err)
{
    cn_graph *g = net->graph;
    cn_layer *L = cn_layer_alloc(&segment_ops, sizeof(segment));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", g->path);
    segment *s = L->impl;
    *s = (segment){g, first, last, in, out, failed};
    L->nparams = cn_graph_role_size(g, CN_ROLE_PARAM, first, last);
    L->nstate = cn_graph_role_size(g, CN_ROLE_STATE, first, last);
    L->in = example_shape(&g->t[in]);
    L->out = example_shape(&g->t[out]);
    if (cn_chain_push(&net->chain, L)) {
        cn_layer_free(L);
        return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", g->path);
    }
    return CN_OK;
}

static int end_tensor(cn_graph *g, int node)
{
    for (int j = 0; j < g->nodes[node].nout; j++) {
        int t = g->nodes[node].out[j];
        if (t >= 0 && g->t[t].active) return t;
    }
    return -1;
}

/* A layer's per-example shape is int (cn_shape): the product of t's dimensions after the first, zeros left
 * out (example_shape multiplies the others even when one is 0), must fit one. */
static int example_fits_int(const cn_tensor *t)
{
    int64_t extent = 1;
    for (int i = 1; i < t->ndim; i++)
        if (t->dims[i] && (extent *= t->dims[i]) > INT_MAX) return 0;
    return 1;
}

/* Every block end must keep the batch first: run at batch 2 and compare with the batch-1 shapes (a batch
 * fixed at 1 stays at the run at batch 1 that build made). */
static int check_batch_axis(cn_graph *g, const int *ends, int count, cn_error *err)
{
    int batch = g->fixed_batch ? g->fixed_batch : 2;
    if (!g->fixed_batch) {
        int rc = cn_graph_set_input(g, NULL, 2);
        if (!rc) rc = cn_graph_run(g, 0, g->nn);
        if (rc) return cn_error_set(err, rc, "%s (running at batch 2)", g->msg);
    }
    for (int i = -1; i <= count; i++) {
        const cn_tensor *t = &g->t[i < 0 ? g->input : i < count ? end_tensor(g, ends[i]) : g->output];
        if (t->ndim < 1 || t->dims[0] != batch)
            return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: tensor %s does not keep the batch as its first "
                                "dimension; choose other block ends with --blocks", g->path, t->name);
        if (!example_fits_int(t))
            return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: tensor %s has too many values per example (at most "
                                "%d)", g->path, t->name, INT_MAX);
    }
    if (!g->fixed_batch) g->reserved_batch = 2;
    return CN_OK;
}

static int build(cn_net *net, const cn_onnx_opts *opts, cn_error *err)
{
    cn_graph *g = net->graph;
    /* a batch the file fixed above 1 runs as a dynamic one once rebatch.c has checked that it is a batch */
    int rc = g->file_batch ? cn_graph_check_rebatch(g, err) : CN_OK;
    if (rc) return rc;
    /* a first run at batch 1 checks every node and fixes the dtypes and per-example shapes */
    rc = cn_graph_set_input(g, NULL, 1);
    if (!rc) rc = cn_graph_run(g, 0, g->nn);
    if (rc) return cn_error_set(err, rc, "%s", g->msg);
    cn_graph_mark_active(g);
    if ((rc = cn_graph_assign_roles(g))) return cn_error_set(err, rc, "%s", g->msg);
    cn_graph_mark_diff(g);
    if (!g->t[g->output].active || g->t[g->output].dtype != CN_T_FLOAT)
        return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: output %s is not a float tensor that depends on the input",
                            g->path, g->t[g->output].name);
    int *ends = cn_calloc((size_t)g->nn + 1, sizeof *ends), count = 0;
    if (!ends) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", g->path);
    int *failed = NULL;
    net->in = example_shape(&g->t[g->input]);
    rc = cn_onnx_block_ends(g, opts ? opts->blocks : NULL, ends, &count, err);
    if (!rc && !(failed = cn_calloc(1, sizeof *failed))) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", g->path);
    if (!rc) rc = check_batch_axis(g, ends, count, err);
    /* one segment per block, then the readout up to the output */
    int first = 0, in = g->input;
    for (int i = 0; !rc && i <= count; i++) {
        int last = i < count ? ends[i] + 1 : g->nn, out = i < count ? end_tensor(g, ends[i]) : g->output;
        rc = add_segment(net, first, last, in, out, failed, err);
        first = last;
        in = out;
    }
    cn_free(ends);
    net->failed = failed; /* the net frees it, also when building failed half way */
    return rc;
}

/* the flat buffers, as for a native net, and every segment's parameters and state moved into its slices */
static int bind_buffers(cn_net *net, cn_error *err)
{
    net->nparams = cn_chain_nparams(&net->chain);
    net->nstate = cn_chain_nstate(&net->chain);
    net->params = cn_calloc(net->nparams ? net->nparams : 1, sizeof(cn_real));
    net->grads = cn_calloc(net->nparams ? net->nparams : 1, sizeof(cn_real));
    net->state = cn_calloc(net->nstate ? net->nstate : 1, sizeof(cn_real));
    if (!net->params || !net->grads || !net->state)
        return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %zu parameters", net->graph->path, net->nparams);
    cn_chain_bind(&net->chain, net->params, net->grads, net->state);
    for (int i = 0; i < net->chain.n; i++) {
        cn_layer *L = net->chain.layers[i];
        const segment *s = L->impl;
        cn_graph_bind_role(net->graph, CN_ROLE_PARAM, s->first, s->last, L->p, L->g);
        cn_graph_bind_role(net->graph, CN_ROLE_STATE, s->first, s->last, L->s, NULL);
    }
    return CN_OK;
}

static int finish(cn_net **out, cn_net *net, cn_graph *g, const cn_onnx_opts *opts, cn_error *err)
{
    net->graph = g;
    int rc = build(net, opts, err);
    if (!rc) rc = bind_buffers(net, err);
    if (rc) {
        cn_net_free(net);
        return rc;
    }
    *out = net;
    return CN_OK;
}

int cn_net_from_onnx(cn_net **out, const char *path, const cn_onnx_opts *opts, cn_error *err)
{
    *out = NULL;
    cn_net *net = cn_calloc(1, sizeof *net);
    if (!net) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path);
    cn_graph *g;
    int rc = cn_graph_load(&g, path, opts ? opts->max_bytes : 0, err);
    if (rc) {
        cn_free(net);
        return rc;
    }
    g->source = realpath(path, NULL); /* NULL (out of memory) only loses the checkpoint's reference */
    return finish(out, net, g, opts, err);
}

int cn_net_from_onnx_buffer(cn_net **out, const void *buf, size_t len, const char *name, const cn_onnx_opts *opts,
                            cn_error *err)
{
    *out = NULL;
    cn_net *net = cn_calloc(1, sizeof *net);
    if (!net) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", name);
    cn_graph *g;
    int rc = cn_graph_load_buffer(&g, buf, len, name, err);
    if (rc) {
        cn_free(net);
        return rc;
    }
    return finish(out, net, g, opts, err);
}

int cn_net_status(const cn_net *net, cn_error *err)
{
    if (!net->failed || !*net->failed) return CN_OK;
    return cn_error_set(err, *net->failed, "%s", net->graph->msg);
}

void cn_net_clear_status(cn_net *net)
{
    if (net->failed) *net->failed = 0;
}

int cn_net_pass_error(const cn_net *net, int rc, cn_error *err)
{
    if (net->failed && *net->failed == rc) return cn_error_set(err, rc, "%s", net->graph->msg);
    return cn_error_set(err, rc, "a pass through the network failed: %s", cn_strerror(rc));
}

int cn_net_trainable(const cn_net *net, cn_error *err)
{
    if (!net->graph) return CN_OK;
    cn_graph *g = net->graph;
    int node = cn_graph_first_without_vjp(g, 0, g->nn);
    if (node < 0) return CN_OK;
    return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: node %s (%s) has no backward in critnet yet, so this network "
                        "runs forward and jvp only (docs/onnx.md lists the operators that train)", g->path,
                        g->nodes[node].name, g->nodes[node].op_type);
}

cn_graph *cn_net_graph(const cn_net *net) { return net->graph; }

void cn_net_graph_failed(cn_net *net, int rc)
{
    if (net->failed) *net->failed = rc;
}

void cn_net_graph_span(const cn_net *net, int first_layer, int last_layer, int *first, int *last, int *in, int *out)
{
    const segment *a = net->chain.layers[first_layer]->impl, *b = net->chain.layers[last_layer]->impl;
    *first = a->first;
    *last = b->last;
    *in = a->in;
    *out = b->out;
}

const char *cn_net_source(const cn_net *net) { return net->graph ? net->graph->source : NULL; }

int cn_net_inference_only(const cn_net *net) { return cn_net_trainable(net, NULL) != CN_OK; }

int cn_net_batch_limit(const cn_net *net) { return net->graph ? net->graph->fixed_batch : 0; }
