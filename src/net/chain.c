/* chain.c: the driver loop that walks a sequence of layers forward, backward and in jvp. */
#include <string.h>
#include "net/chain.h"

int cn_chain_push(cn_chain *c, cn_layer *L)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        cn_layer **layers = cn_malloc((size_t)cap * sizeof *layers);
        cn_real **outs = cn_calloc((size_t)cap, sizeof *outs);
        if (!layers || !outs) {
            cn_free(layers);
            cn_free(outs);
            return CN_ERR_NOMEM;
        }
        if (c->n) {
            memcpy(layers, c->layers, (size_t)c->n * sizeof *layers);
            memcpy(outs, c->outs, (size_t)c->n * sizeof *outs);
        }
        cn_free(c->layers);
        cn_free(c->outs);
        c->layers = layers;
        c->outs = outs;
        c->cap = cap;
    }
    c->layers[c->n++] = L;
    /* buffers must be sized again for the new layer */
    c->maxB = c->maxK = 0;
    return CN_OK;
}

static void free_buffers(cn_chain *c)
{
    for (int i = 0; i < c->n; i++) {
        cn_free(c->outs[i]);
        c->outs[i] = NULL;
    }
    for (int j = 0; j < 2; j++) {
        cn_free(c->grad[j]);
        cn_free(c->tan[j]);
        c->grad[j] = c->tan[j] = NULL;
    }
    c->maxB = c->maxK = 0;
}

void cn_chain_free(cn_chain *c)
{
    free_buffers(c);
    for (int i = 0; i < c->n; i++) cn_layer_free(c->layers[i]);
    cn_free(c->layers);
    cn_free(c->outs);
    memset(c, 0, sizeof *c);
}

cn_shape cn_chain_out_shape(const cn_chain *c, cn_shape in) { return c->n ? c->layers[c->n - 1]->out : in; }

size_t cn_chain_nparams(const cn_chain *c)
{
    size_t n = 0;
    for (int i = 0; i < c->n; i++) n += c->layers[i]->nparams;
    return n;
}

size_t cn_chain_nstate(const cn_chain *c)
{
    size_t n = 0;
    for (int i = 0; i < c->n; i++) n += c->layers[i]->nstate;
    return n;
}

void cn_chain_bind(cn_chain *c, cn_real *p, cn_real *g, cn_real *s)
{
    for (int i = 0; i < c->n; i++) {
        cn_layer *L = c->layers[i];
        L->p = p;
        L->g = g;
        L->s = s;
        if (L->ops->bind) L->ops->bind(L, p, g, s);
        p += L->nparams;
        g += L->nparams;
        s += L->nstate;
    }
}

int cn_chain_reserve(cn_chain *c, int B, int K)
{
    if (B < 1 || K < 1) return CN_ERR_ARG;
    if (B <= c->maxB && K <= c->maxK) return CN_OK;
    if (B < c->maxB) B = c->maxB;
    if (K < c->maxK) K = c->maxK;
    free_buffers(c);
    size_t widest = 1;
    for (int i = 0; i < c->n; i++) {
        cn_layer *L = c->layers[i];
        size_t nin = (size_t)cn_shape_size(L->in), nout = (size_t)cn_shape_size(L->out);
        if (nin > widest) widest = nin;
        if (nout > widest) widest = nout;
        c->outs[i] = cn_malloc((size_t)B * nout * sizeof(cn_real));
        if (!c->outs[i]) goto nomem;
        int rc = L->ops->reserve ? L->ops->reserve(L, B, K) : CN_OK;
        if (rc) {
            free_buffers(c);
            return rc;
        }
    }
    c->widest = widest;
    for (int j = 0; j < 2; j++) {
        c->grad[j] = cn_malloc((size_t)B * widest * sizeof(cn_real));
        c->tan[j] = cn_malloc((size_t)K * B * widest * sizeof(cn_real));
        if (!c->grad[j] || !c->tan[j]) goto nomem;
    }
    c->maxB = B;
    c->maxK = K;
    return CN_OK;
nomem:
    free_buffers(c);
    return CN_ERR_NOMEM;
}

int cn_chain_init(cn_chain *c, const cn_init *init, cn_rng *rng)
{
    for (int i = 0; i < c->n; i++) {
        cn_layer *L = c->layers[i];
        if (!L->ops->init) continue;
        int rc = L->ops->init(L, init, rng);
        if (rc) return rc;
    }
    return CN_OK;
}

int cn_chain_forward(cn_chain *c, const cn_real *x, int B, int train)
{
    c->x = x;
    const cn_real *in = x;
    for (int i = 0; i < c->n; i++) {
        int rc = c->layers[i]->ops->forward(c->layers[i], in, c->outs[i], B, train);
        if (rc) return rc;
        in = c->outs[i];
    }
    return CN_OK;
}

const cn_real *cn_chain_output(const cn_chain *c) { return c->n ? c->outs[c->n - 1] : c->x; }

int cn_chain_backward(cn_chain *c, const cn_real *dy, cn_real *dx, int B)
{
    return cn_chain_backward_extra(c, dy, dx, B, NULL);
}

int cn_chain_backward_extra(cn_chain *c, const cn_real *dy, cn_real *dx, int B, cn_real *const *extra_z)
{
    if (c->n == 0) {
        if (dx) memcpy(dx, dy, (size_t)B * c->widest * sizeof *dx);
        return CN_OK;
    }
    /* Without a dx to fill, the gradient need not flow past the first layer with parameters: the
     * parameter-free layers ahead of it (flatten) would only throw it away, and for the first dense
     * layer of an MLP that input gradient is a quarter of the step's FLOPs. */
    int stop = 0;
    while (!dx && stop < c->n - 1 && c->layers[stop]->nparams == 0) stop++;
    const cn_real *d = dy;
    for (int i = c->n - 1; i >= 0; i--) {
        cn_layer *L = c->layers[i];
        const cn_real *in = i ? c->outs[i - 1] : c->x;
        L->dz_extra = extra_z ? extra_z[i] : NULL;
        if (!dx && i == stop) {
            int rc = L->ops->backward(L, in, c->outs[i], d, NULL, B);
            L->dz_extra = NULL;
            return rc;
        }
        cn_real *din = i ? c->grad[i & 1] : dx;
        int rc = L->ops->backward(L, in, c->outs[i], d, din, B);
        L->dz_extra = NULL;
        if (rc) return rc;
        d = din;
    }
    return CN_OK;
}

int cn_chain_jvp(cn_chain *c, const cn_real *tx, cn_real *ty, int B, int K)
{
    const cn_real *t = tx;
    for (int i = 0; i < c->n; i++) {
        cn_real *out = i == c->n - 1 ? ty : c->tan[i & 1];
        int rc = c->layers[i]->ops->jvp(c->layers[i], t, out, B, K);
        if (rc) return rc;
        t = out;
    }
    return CN_OK;
}

void cn_chain_print(const cn_chain *c, cn_sb *out, int indent)
{
    char line[512];
    for (int i = 0; i < c->n; i++) {
        const cn_layer *L = c->layers[i];
        if (cn_layer_is_residual(L)) {
            cn_residual_print(L, out, indent);
            continue;
        }
        L->ops->print(L, line, sizeof line);
        cn_sb_printf(out, "%*s%s\n", indent, "", line);
    }
}
