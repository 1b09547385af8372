/* residual.c: a residual block y = phi(body(x) + skip(x)), where skip is the identity or a projection
 * (dense for flat inputs; 1x1 strided conv, plus batch norm when the body has one, for feature maps). */
#include <string.h>
#include "onnx/lower.h"
#include "net/chain.h"

typedef struct {
    cn_chain body, proj; /* proj is empty for an identity skip */
    cn_skip skip;        /* as written in the model file (auto, identity or projection) */
    int n, nin, maxB, maxK;
    cn_real *z, *dz, *dxb, *tb, *tp;
} residual_impl;

static int residual_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    residual_impl *r = L->impl;
    size_t n = (size_t)B * r->n;
    int rc = cn_chain_forward(&r->body, x, B, train);
    if (rc) return rc;
    const cn_real *h = cn_chain_output(&r->body), *s = x;
    if (r->proj.n) {
        if ((rc = cn_chain_forward(&r->proj, x, B, train))) return rc;
        s = cn_chain_output(&r->proj);
    }
    cn_real *z = L->act == CN_ACT_IDENTITY ? y : r->z;
    for (size_t i = 0; i < n; i++) z[i] = h[i] + s[i];
    if (z != y) cn_act_forward(L->act, z, y, n);
    return CN_OK;
}

static int residual_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    residual_impl *r = L->impl;
    const cn_real *dz = dy;
    if (L->act != CN_ACT_IDENTITY) {
        cn_act_backward(L->act, r->z, y, dy, r->dz, (size_t)B * r->n);
        dz = r->dz;
    }
    int rc = cn_chain_backward(&r->body, dz, dx ? r->dxb : NULL, B);
    if (rc) return rc;
    size_t nin = (size_t)B * r->nin;
    if (r->proj.n) {
        if ((rc = cn_chain_backward(&r->proj, dz, dx, B))) return rc;
        if (dx)
            for (size_t i = 0; i < nin; i++) dx[i] += r->dxb[i];
    } else if (dx) {
        for (size_t i = 0; i < nin; i++) dx[i] = r->dxb[i] + dz[i];
    }
    return CN_OK;
}

static int residual_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    residual_impl *r = L->impl;
    size_t n = (size_t)K * B * r->n;
    int rc = cn_chain_jvp(&r->body, tx, r->tb, B, K);
    if (rc) return rc;
    const cn_real *ts = tx;
    if (r->proj.n) {
        if ((rc = cn_chain_jvp(&r->proj, tx, r->tp, B, K))) return rc;
        ts = r->tp;
    }
    for (size_t i = 0; i < n; i++) ty[i] = r->tb[i] + ts[i];
    cn_act_jvp(L->act, r->z, ty, (size_t)B * r->n, K);
    return CN_OK;
}

static void free_buffers(residual_impl *r)
{
    cn_free(r->z);
    cn_free(r->dz);
    cn_free(r->dxb);
    cn_free(r->tb);
    cn_free(r->tp);
    r->z = r->dz = r->dxb = r->tb = r->tp = NULL;
    r->maxB = r->maxK = 0;
}

static int residual_reserve(cn_layer *L, int B, int K)
{
    residual_impl *r = L->impl;
    int rc = cn_chain_reserve(&r->body, B, K);
    if (!rc && r->proj.n) rc = cn_chain_reserve(&r->proj, B, K);
    if (rc) return rc;
    if (B <= r->maxB && K <= r->maxK) return CN_OK;
    free_buffers(r);
    size_t n = (size_t)B * r->n;
    r->z = cn_malloc(n * sizeof(cn_real));
    r->dz = cn_malloc(n * sizeof(cn_real));
    r->dxb = cn_malloc((size_t)B * r->nin * sizeof(cn_real));
    r->tb = cn_malloc((size_t)K * n * sizeof(cn_real));
    r->tp = cn_malloc((size_t)K * n * sizeof(cn_real));
    if (!r->z || !r->dz || !r->dxb || !r->tb || !r->tp) {
        free_buffers(r);
        return CN_ERR_NOMEM;
    }
    r->maxB = B;
    r->maxK = K;
    return CN_OK;
}

static int residual_init(cn_layer *L, const cn_init *init, cn_rng *rng)
{
    residual_impl *r = L->impl;
    int rc = cn_chain_init(&r->body, init, rng);
    return rc ? rc : cn_chain_init(&r->proj, init, rng);
}

static void residual_bind(cn_layer *L, cn_real *p, cn_real *g, cn_real *s)
{
    residual_impl *r = L->impl;
    cn_chain_bind(&r->body, p, g, s);
    size_t np = cn_chain_nparams(&r->body), ns = cn_chain_nstate(&r->body);
    cn_chain_bind(&r->proj, p + np, g + np, s + ns);
}

static int residual_print(const cn_layer *L, char *buf, size_t cap)
{
    return snprintf(buf, cap, "residual"); /* the full text comes from cn_residual_print */
}

static void residual_destroy(cn_layer *L)
{
    residual_impl *r = L->impl;
    free_buffers(r);
    cn_chain_free(&r->body);
    cn_chain_free(&r->proj);
}

/* the body's nodes, the projection's (or x itself), Add, then the block's activation */
static int residual_lower(const cn_layer *L, cn_lowering *b, const char *x, const char **y)
{
    const residual_impl *r = L->impl;
    char mine[32];
    snprintf(mine, sizeof mine, "%s", cn_lower_prefix(b));
    const int rank = cn_lower_rank(b);
    const char *in[2] = {NULL, x};
    int rc = cn_lower_chain(b, &r->body, x, &in[0]);
    const int out_rank = cn_lower_rank(b);
    if (!rc && r->proj.n) {
        cn_lower_set_rank(b, rank);
        rc = cn_lower_chain(b, &r->proj, x, &in[1]);
    }
    if (rc) return rc;
    cn_lower_set_rank(b, out_rank);
    cn_lower_set_prefix(b, mine);
    const char *z = in[0] && in[1] ? cn_lower_node(b, "Add", 2, in, 0, NULL) : NULL;
    *y = z ? cn_lower_act(b, L->act, z) : NULL;
    return CN_OK;
}

static const cn_layer_ops residual_ops = {
    .kind = "residual",
    .traits = CN_TRAIT_MAIN,
    .forward = residual_forward,
    .backward = residual_backward,
    .jvp = residual_jvp,
    .reserve = residual_reserve,
    .init = residual_init,
    .bind = residual_bind,
    .print = residual_print,
    .lower = residual_lower,
    .destroy = residual_destroy,
};

int cn_layer_is_residual(const cn_layer *L) { return L->ops == &residual_ops; }
cn_chain *cn_residual_body(cn_layer *L) { return &((residual_impl *)L->impl)->body; }
cn_chain *cn_residual_proj(cn_layer *L) { return &((residual_impl *)L->impl)->proj; }

void cn_residual_print(const cn_layer *L, cn_sb *out, int indent)
{
    const residual_impl *r = L->impl;
    static const char *const skip_names[] = {"", " skip=identity", " skip=projection"};
    cn_sb_printf(out, "%*sresidual", indent, "");
    if (L->act != CN_ACT_IDENTITY) cn_sb_printf(out, " act=%s", cn_act_name(L->act));
    cn_sb_printf(out, "%s\n", skip_names[r->skip]);
    cn_chain_print(&r->body, out, indent + 2);
    cn_sb_printf(out, "%*send\n", indent, "");
}

static void set_arg(cn_args *a, const char *key, const char *fmt, int v)
{
    snprintf(a->key[a->count], sizeof a->key[0], "%s", key);
    snprintf(a->val[a->count], sizeof a->val[0], fmt, v);
    a->count++;
}

static int build_projection(residual_impl *r, cn_shape in, cn_shape out, cn_error *err)
{
    cn_args a = {0};
    cn_layer *L = NULL;
    int rc;
    if (in.h == 1 && in.w == 1 && out.h == 1 && out.w == 1) {
        set_arg(&a, "out", "%d", out.c);
        rc = cn_dense_create(&L, &a, in, err);
    } else {
        if (out.h < 1 || in.h % out.h || in.w % out.w || in.h / out.h != in.w / out.w)
            return cn_error_set(err, CN_ERR_FORMAT, "residual: no strided 1x1 projection maps %dx%d to %dx%d", in.h,
                                in.w, out.h, out.w);
        int has_bn = 0;
        for (int i = 0; i < r->body.n; i++) has_bn |= (r->body.layers[i]->ops->traits & CN_TRAIT_BATCH_STATS) != 0;
        set_arg(&a, "out", "%d", out.c);
        set_arg(&a, "k", "%d", 1);
        set_arg(&a, "stride", "%d", in.h / out.h);
        set_arg(&a, "bias", "%d", !has_bn);
        rc = cn_conv2d_create(&L, &a, in, err);
        if (!rc && (rc = cn_chain_push(&r->proj, L)) != CN_OK) cn_layer_free(L);
        if (rc || !has_bn) return rc;
        cn_args none = {0};
        L = NULL;
        rc = cn_batchnorm_create(&L, &none, out, err);
    }
    if (rc) return rc;
    if ((rc = cn_chain_push(&r->proj, L)) != CN_OK) {
        cn_layer_free(L);
        return cn_error_set(err, rc, "residual: out of memory");
    }
    return CN_OK;
}

int cn_residual_create(cn_layer **out, cn_chain *body, cn_act act, cn_skip skip, cn_shape in, cn_error *err)
{
    cn_shape bout = cn_chain_out_shape(body, in);
    int same = bout.c == in.c && bout.h == in.h && bout.w == in.w;
    if (skip == CN_SKIP_IDENTITY && !same)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "residual: skip=identity needs the body to keep the shape (%dx%dx%d -> %dx%dx%d)", in.c,
                            in.h, in.w, bout.c, bout.h, bout.w);
    cn_layer *L = cn_layer_alloc(&residual_ops, sizeof(residual_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "residual: out of memory");
    residual_impl *r = L->impl;
    r->body = *body;
    memset(body, 0, sizeof *body);
    r->skip = skip;
    int rc = CN_OK;
    if (skip == CN_SKIP_PROJECTION || (skip == CN_SKIP_AUTO && !same)) rc = build_projection(r, in, bout, err);
    if (rc) {
        cn_layer_free(L);
        return rc;
    }
    r->n = cn_shape_size(bout);
    r->nin = cn_shape_size(in);
    L->in = in;
    L->out = bout;
    L->act = act;
    L->nparams = cn_chain_nparams(&r->body) + cn_chain_nparams(&r->proj);
    L->nstate = cn_chain_nstate(&r->body) + cn_chain_nstate(&r->proj);
    *out = L;
    return CN_OK;
}
