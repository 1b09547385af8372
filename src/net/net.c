/* net.c: a network: the top-level chain, its flat parameter/gradient/state buffers, and the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/dropout.h"
#include "net/net_internal.h"
#include "onnx/graph.h"

int cn_net_from_spec(cn_net **out, const char *text, cn_error *err)
{
    *out = NULL;
    cn_net *net = cn_calloc(1, sizeof *net);
    if (!net) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    int rc = cn_spec_parse(&net->chain, &net->in, text, err);
    if (rc) {
        cn_free(net);
        return rc;
    }
    net->nparams = cn_chain_nparams(&net->chain);
    net->nstate = cn_chain_nstate(&net->chain);
    net->params = cn_calloc(net->nparams ? net->nparams : 1, sizeof(cn_real));
    net->grads = cn_calloc(net->nparams ? net->nparams : 1, sizeof(cn_real));
    net->state = cn_calloc(net->nstate ? net->nstate : 1, sizeof(cn_real));
    if (!net->params || !net->grads || !net->state) {
        cn_error_set(err, CN_ERR_NOMEM, "out of memory for %zu parameters", net->nparams); /* before the free */
        cn_net_free(net);
        return CN_ERR_NOMEM;
    }
    cn_chain_bind(&net->chain, net->params, net->grads, net->state);
    *out = net;
    return CN_OK;
}

int cn_net_from_spec_file(cn_net **out, const char *path, cn_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error_set(err, CN_ERR_IO, "%s: cannot open", path);
    char *text = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    int rc = CN_OK;
    if (size < 0 || size > (1 << 24) || fseek(f, 0, SEEK_SET) != 0) {
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: not a model file (unreadable or over 16 MiB)", path);
    } else if (!(text = cn_malloc((size_t)size + 1))) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path);
    } else if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        rc = cn_error_set(err, CN_ERR_IO, "%s: read error", path);
    } else {
        text[size] = 0;
        cn_error local = {0};
        rc = cn_net_from_spec(out, text, &local);
        if (rc) cn_error_set(err, rc, "%s: %s", path, local.msg);
    }
    cn_free(text);
    fclose(f);
    return rc;
}

void cn_net_free(cn_net *net)
{
    if (!net) return;
    cn_chain_free(&net->chain);
    cn_graph_free(net->graph);
    cn_free(net->failed);
    cn_free(net->params);
    cn_free(net->grads);
    cn_free(net->state);
    cn_free(net);
}

char *cn_net_spec(const cn_net *net)
{
    cn_sb sb = {0};
    if (net->in.h == 1 && net->in.w == 1) cn_sb_printf(&sb, "input %d\n", net->in.c);
    else cn_sb_printf(&sb, "input %d %d %d\n", net->in.c, net->in.h, net->in.w);
    cn_chain_print(&net->chain, &sb, 0);
    if (sb.failed) {
        cn_sb_free(&sb);
        return NULL;
    }
    return sb.s;
}

int cn_net_reserve(cn_net *net, int max_batch, int max_tangents)
{
    return cn_chain_reserve(&net->chain, max_batch, max_tangents);
}

int cn_net_init(cn_net *net, const cn_init *init, cn_rng *rng)
{
    if ((unsigned)init->kind >= CN_INIT_COUNT) return CN_ERR_ARG;
    return cn_chain_init(&net->chain, init, rng);
}

size_t cn_net_param_count(const cn_net *net) { return net->nparams; }
cn_real *cn_net_params(cn_net *net) { return net->params; }
cn_real *cn_net_grads(cn_net *net) { return net->grads; }
size_t cn_net_state_count(const cn_net *net) { return net->nstate; }
cn_real *cn_net_state(cn_net *net) { return net->state; }
int cn_net_in_size(const cn_net *net) { return cn_shape_size(net->in); }
int cn_net_out_size(const cn_net *net) { return cn_shape_size(cn_chain_out_shape(&net->chain, net->in)); }

void cn_net_in_shape(const cn_net *net, int chw[3])
{
    chw[0] = net->in.c;
    chw[1] = net->in.h;
    chw[2] = net->in.w;
}

/* the passes write into buffers that cn_net_reserve sized: a larger batch would write past them */
static int reserved_for(const cn_net *net, int batch, int tangents)
{
    return batch >= 1 && batch <= net->chain.maxB && tangents >= 1 && tangents <= net->chain.maxK;
}

int cn_net_forward(cn_net *net, const cn_real *x, int batch, int train)
{
    if (!reserved_for(net, batch, 1)) return CN_ERR_ARG;
    return cn_chain_forward(&net->chain, x, batch, train);
}

const cn_real *cn_net_output(const cn_net *net) { return cn_chain_output(&net->chain); }

void cn_net_zero_grad(cn_net *net) { memset(net->grads, 0, net->nparams * sizeof *net->grads); }

int cn_net_backward(cn_net *net, const cn_real *dout, cn_real *dx, int batch)
{
    if (!reserved_for(net, batch, 1)) return CN_ERR_ARG;
    return cn_chain_backward(&net->chain, dout, dx, batch);
}

int cn_net_jvp(cn_net *net, const cn_real *tx, cn_real *ty, int batch, int tangents)
{
    if (!reserved_for(net, batch, tangents)) return CN_ERR_ARG;
    return cn_chain_jvp(&net->chain, tx, ty, batch, tangents);
}

int cn_net_layer_count(const cn_net *net) { return net->chain.n; }
const char *cn_net_layer_kind(const cn_net *net, int i) { return net->chain.layers[i]->ops->kind; }
unsigned cn_net_layer_traits(const cn_net *net, int i) { return net->chain.layers[i]->ops->traits; }
int cn_net_layer_out_size(const cn_net *net, int i) { return cn_shape_size(net->chain.layers[i]->out); }
const cn_real *cn_net_layer_output(const cn_net *net, int i) { return net->chain.outs[i]; }

int cn_net_layer_jvp(cn_net *net, int i, const cn_real *tx, cn_real *ty, int batch, int tangents)
{
    cn_layer *L = net->chain.layers[i];
    return L->ops->jvp(L, tx, ty, batch, tangents);
}

int cn_net_layer_forward(cn_net *net, int i, const cn_real *x, int batch)
{
    cn_layer *L = net->chain.layers[i];
    return L->ops->forward(L, x, net->chain.outs[i], batch, 0);
}

static void set_rng(cn_chain *c, cn_rng *rng)
{
    for (int i = 0; i < c->n; i++) {
        cn_layer *L = c->layers[i];
        if (L->ops->traits & CN_TRAIT_RANDOM) cn_dropout_set_rng(L, rng);
        else if (cn_layer_is_residual(L)) set_rng(cn_residual_body(L), rng);
    }
}

void cn_net_set_dropout_rng(cn_net *net, cn_rng *rng)
{
    if (net->graph) net->graph->rng = rng; /* its Dropout nodes draw from it, as the layers do */
    set_rng(&net->chain, rng);
}
