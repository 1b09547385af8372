/* conv2d.c: 2-D convolution with a fused activation, as torch.nn.Conv2d, by im2col + GEMM per example.
 * x (B,Cin,H,W), W (Cout,Cin/groups,k,k), b (Cout) -> z (B,Cout,Ho,Wo) pre-activation -> y. Params: W then b. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "layers/conv2d.h"
#include "layers/layer.h"

typedef struct {
    cn_conv2d_geom g;
    int ho, wo;
    int bias;
    /* 1x1, stride 1, no padding: each example (Cin, H*W) already is its own column matrix */
    int direct;
    int maxB;
    cn_real *z;   /* (B,Cout,Ho,Wo) pre-activations; aliases y when the activation is the identity */
    cn_real *dz;  /* (B,Cout,Ho,Wo) backward scratch */
    cn_real *col; /* (Cin*k*k, Ho*Wo) one example's columns; backward reuses it for their gradient */
} conv_impl;

/* Output positions o in [lo, hi) whose input index off + o*stride falls inside [0, n). Clipping the
 * loops once per row keeps the bounds test out of the innermost copy. */
static void valid_range(int off, int stride, int n, int nout, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = off > n - 1 ? 0 : (n - 1 - off) / stride + 1;
    if (h > nout) h = nout;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* x (Cin,H,W) -> col (Cin*k*k, Ho*Wo); row (c*k + ki)*k + kj, so the rows of group gi are one
 * contiguous block matching W's (Cout, Cin/groups*k*k) view. Padding reads as zero. */
static void im2col(cn_real *col, const cn_real *x, const cn_conv2d_geom *g, int ho, int wo)
{
    const int k = g->k, s = g->stride;
    const size_t hw = (size_t)ho * wo;
    for (int c = 0; c < g->cin; c++) {
        const cn_real *xc = x + (size_t)c * g->h * g->w;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                cn_real *row = col + ((size_t)(c * k + ki) * k + kj) * hw;
                int ih0 = ki * g->dilation - g->pad, iw0 = kj * g->dilation - g->pad;
                int hlo, hhi, wlo, whi;
                valid_range(ih0, s, g->h, ho, &hlo, &hhi);
                valid_range(iw0, s, g->w, wo, &wlo, &whi);
                for (int oh = 0; oh < ho; oh++) {
                    cn_real *r = row + (size_t)oh * wo;
                    if (oh < hlo || oh >= hhi) {
                        memset(r, 0, (size_t)wo * sizeof *r);
                        continue;
                    }
                    const cn_real *xr = xc + (size_t)(ih0 + oh * s) * g->w;
                    for (int ow = 0; ow < wlo; ow++) r[ow] = 0;
                    for (int ow = wlo; ow < whi; ow++) r[ow] = xr[iw0 + ow * s];
                    for (int ow = whi; ow < wo; ow++) r[ow] = 0;
                }
            }
    }
}

/* The adjoint of im2col: dx (Cin,H,W) += scatter of dcol (Cin*k*k, Ho*Wo); padding drops out. */
static void col2im(cn_real *dx, const cn_real *dcol, const cn_conv2d_geom *g, int ho, int wo)
{
    const int k = g->k, s = g->stride;
    const size_t hw = (size_t)ho * wo;
    for (int c = 0; c < g->cin; c++) {
        cn_real *dxc = dx + (size_t)c * g->h * g->w;
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const cn_real *row = dcol + ((size_t)(c * k + ki) * k + kj) * hw;
                int ih0 = ki * g->dilation - g->pad, iw0 = kj * g->dilation - g->pad;
                int hlo, hhi, wlo, whi;
                valid_range(ih0, s, g->h, ho, &hlo, &hhi);
                valid_range(iw0, s, g->w, wo, &wlo, &whi);
                for (int oh = hlo; oh < hhi; oh++) {
                    const cn_real *r = row + (size_t)oh * wo;
                    cn_real *dxr = dxc + (size_t)(ih0 + oh * s) * g->w;
                    for (int ow = wlo; ow < whi; ow++) dxr[iw0 + ow * s] += r[ow];
                }
            }
    }
}

/* x (n,Cin,H,W) -> y (n,Cout,Ho,Wo) = conv(x) + b; b may be NULL. Forward runs it on the batch and jvp
 * on the K*B tangents, which is why n is not tied to B. */
static void conv_apply(conv_impl *d, const cn_real *W, const cn_real *b, const cn_real *x, cn_real *y, int n)
{
    const cn_conv2d_geom *g = &d->g;
    const size_t hw = (size_t)d->ho * d->wo, nin = (size_t)g->cin * g->h * g->w, nout = (size_t)g->cout * hw;
    const int coutg = g->cout / g->groups, kg = g->cin / g->groups * g->k * g->k;
    for (int i = 0; i < n; i++) {
        const cn_real *xi = x + i * nin;
        cn_real *yi = y + i * nout;
        const cn_real *col = xi;
        if (!d->direct) {
            im2col(d->col, xi, g, d->ho, d->wo);
            col = d->col;
        }
        if (b)
            for (int co = 0; co < g->cout; co++)
                for (size_t j = 0; j < hw; j++) yi[co * hw + j] = b[co];
        /* y_g (Cout/G, HoWo) (+)= W_g (Cout/G, kg) col_g (kg, HoWo) */
        for (int gi = 0; gi < g->groups; gi++)
            cn_matmul(0, 0, coutg, (int)hw, kg, 1, W + (size_t)gi * coutg * kg, col + (size_t)gi * kg * hw,
                      b ? 1 : 0, yi + (size_t)gi * coutg * hw);
    }
}

static void conv_forward(cn_layer *L, const cn_real *x, cn_real *y, int B, int train)
{
    conv_impl *d = L->impl;
    cn_real *z = L->act == CN_ACT_IDENTITY ? y : d->z;
    const cn_real *W = L->p;
    const cn_real *b = d->bias ? L->p + (size_t)d->g.cout * (d->g.cin / d->g.groups) * d->g.k * d->g.k : NULL;
    conv_apply(d, W, b, x, z, B);
    if (z != y) cn_act_forward(L->act, z, y, (size_t)B * cn_shape_size(L->out));
}

static void conv_backward(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B)
{
    conv_impl *d = L->impl;
    const cn_conv2d_geom *g = &d->g;
    const size_t hw = (size_t)d->ho * d->wo, nin = (size_t)cn_shape_size(L->in), nout = (size_t)g->cout * hw;
    const int coutg = g->cout / g->groups, kg = g->cin / g->groups * g->k * g->k;
    const cn_real *W = L->p;
    cn_real *gW = L->g, *gb = L->g + (size_t)g->cout * kg;
    const cn_real *dz = dy;
    if (L->act != CN_ACT_IDENTITY) {
        cn_act_backward(L->act, d->z, y, dy, d->dz, (size_t)B * nout);
        if (L->dz_extra)
            for (size_t i = 0; i < (size_t)B * nout; i++) d->dz[i] += L->dz_extra[i];
        dz = d->dz;
    }
    for (int i = 0; i < B; i++) {
        const cn_real *xi = x + i * nin, *dzi = dz + i * nout;
        const cn_real *col = xi;
        if (!d->direct) {
            im2col(d->col, xi, g, d->ho, d->wo);
            col = d->col;
        }
        /* gW_g (Cout/G, kg) += dz_g (Cout/G, HoWo) col_g^T */
        for (int gi = 0; gi < g->groups; gi++)
            cn_matmul(0, 1, coutg, kg, (int)hw, 1, dzi + (size_t)gi * coutg * hw, col + (size_t)gi * kg * hw, 1,
                      gW + (size_t)gi * coutg * kg);
        if (d->bias)
            for (int co = 0; co < g->cout; co++) {
                const cn_real *r = dzi + co * hw;
                cn_real s = 0;
                for (size_t j = 0; j < hw; j++) s += r[j];
                gb[co] += s;
            }
        if (!dx) continue;
        /* dcol_g (kg, HoWo) = W_g^T dz_g; in the direct case dcol is dx itself */
        cn_real *dxi = dx + i * nin, *dcol = d->direct ? dxi : d->col;
        for (int gi = 0; gi < g->groups; gi++)
            cn_matmul(1, 0, kg, (int)hw, coutg, 1, W + (size_t)gi * coutg * kg, dzi + (size_t)gi * coutg * hw, 0,
                      dcol + (size_t)gi * kg * hw);
        if (!d->direct) {
            memset(dxi, 0, nin * sizeof *dxi);
            col2im(dxi, dcol, g, d->ho, d->wo);
        }
    }
}

static void conv_jvp(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K)
{
    conv_impl *d = L->impl;
    conv_apply(d, L->p, NULL, tx, ty, K * B);
    cn_act_jvp(L->act, d->z, ty, (size_t)B * cn_shape_size(L->out), K);
}

static int conv_reserve(cn_layer *L, int B, int K)
{
    conv_impl *d = L->impl;
    if (!d->direct && !d->col) {
        d->col = cn_malloc((size_t)d->g.cin * d->g.k * d->g.k * d->ho * d->wo * sizeof *d->col);
        if (!d->col) return CN_ERR_NOMEM;
    }
    if (B <= d->maxB) return CN_OK;
    cn_free(d->z);
    cn_free(d->dz);
    d->z = d->dz = NULL;
    d->maxB = 0;
    if (L->act != CN_ACT_IDENTITY) {
        size_t n = (size_t)B * cn_shape_size(L->out);
        d->z = cn_malloc(n * sizeof *d->z);
        d->dz = cn_malloc(n * sizeof *d->dz);
        if (!d->z || !d->dz) return CN_ERR_NOMEM;
    }
    d->maxB = B;
    return CN_OK;
}

static int conv_init(cn_layer *L, const cn_init *init, cn_rng *rng)
{
    conv_impl *d = L->impl;
    const cn_conv2d_geom *g = &d->g;
    int kk = g->k * g->k, fan_in = g->cin / g->groups * kk, fan_out = g->cout / g->groups * kk;
    return cn_init_weights(init, rng, L->p, d->bias ? L->p + (size_t)g->cout * fan_in : NULL, g->cout, fan_in,
                           fan_out);
}

static int conv_print(const cn_layer *L, char *buf, size_t cap)
{
    const conv_impl *d = L->impl;
    const cn_conv2d_geom *g = &d->g;
    char groups[32] = "", dil[32] = "";
    if (g->groups != 1) snprintf(groups, sizeof groups, " groups=%d", g->groups);
    if (g->dilation != 1) snprintf(dil, sizeof dil, " dilation=%d", g->dilation);
    return snprintf(buf, cap, "conv out=%d k=%d stride=%d pad=%d%s%s act=%s%s", g->cout, g->k, g->stride, g->pad,
                    groups, dil, cn_act_name(L->act), d->bias ? "" : " bias=0");
}

static void conv_destroy(cn_layer *L)
{
    conv_impl *d = L->impl;
    cn_free(d->z);
    cn_free(d->dz);
    cn_free(d->col);
}

static const cn_real *conv2d_preact(const cn_layer *L)
{
    return L->act == CN_ACT_IDENTITY ? NULL : ((conv_impl *)L->impl)->z;
}

static const cn_layer_ops conv_ops = {
    .kind = "conv",
    .forward = conv_forward,
    .backward = conv_backward,
    .jvp = conv_jvp,
    .reserve = conv_reserve,
    .init = conv_init,
    .print = conv_print,
    .destroy = conv_destroy,
    .preact = conv2d_preact,
};

void cn_conv2d_forward_naive(cn_real *y, const cn_real *x, const cn_real *W, const cn_real *b,
                             const cn_conv2d_geom *g, int B)
{
    const int ho = cn_conv2d_out_dim(g->h, g->k, g->stride, g->pad, g->dilation);
    const int wo = cn_conv2d_out_dim(g->w, g->k, g->stride, g->pad, g->dilation);
    const int cing = g->cin / g->groups, coutg = g->cout / g->groups, k = g->k;
    for (int n = 0; n < B; n++)
        for (int co = 0; co < g->cout; co++) {
            const int gi = co / coutg;
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double acc = b ? b[co] : 0;
                    for (int cl = 0; cl < cing; cl++) {
                        const int c = gi * cing + cl;
                        for (int ki = 0; ki < k; ki++) {
                            const int ih = oh * g->stride - g->pad + ki * g->dilation;
                            if (ih < 0 || ih >= g->h) continue;
                            for (int kj = 0; kj < k; kj++) {
                                const int iw = ow * g->stride - g->pad + kj * g->dilation;
                                if (iw < 0 || iw >= g->w) continue;
                                acc += (double)W[((size_t)(co * cing + cl) * k + ki) * k + kj] *
                                       x[(((size_t)n * g->cin + c) * g->h + ih) * g->w + iw];
                            }
                        }
                    }
                    y[(((size_t)n * g->cout + co) * ho + oh) * wo + ow] = (cn_real)acc;
                }
        }
}

int cn_conv2d_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err)
{
    cn_conv2d_geom g = {.cin = in.c, .h = in.h, .w = in.w};
    int bias, rc;
    cn_act act;
    if ((rc = cn_args_int(args, "out", 0, &g.cout, err)) || (rc = cn_args_int(args, "k", 3, &g.k, err)) ||
        (rc = cn_args_int(args, "stride", 1, &g.stride, err)) || (rc = cn_args_int(args, "pad", 0, &g.pad, err)) ||
        (rc = cn_args_int(args, "groups", 1, &g.groups, err)) ||
        (rc = cn_args_int(args, "dilation", 1, &g.dilation, err)) ||
        (rc = cn_args_int(args, "bias", 1, &bias, err)) || (rc = cn_args_act(args, "act", CN_ACT_IDENTITY, &act, err)))
        return rc;
    if (in.c < 1 || in.h < 1 || in.w < 1)
        return cn_error_set(err, CN_ERR_FORMAT, "conv: input shape %dx%dx%d is empty", in.c, in.h, in.w);
    if (g.cout < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: out=N (N >= 1) is required");
    if (g.k < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: k=%d must be >= 1", g.k);
    if (g.stride < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: stride=%d must be >= 1", g.stride);
    if (g.pad < 0) return cn_error_set(err, CN_ERR_FORMAT, "conv: pad=%d must be >= 0", g.pad);
    if (g.dilation < 1) return cn_error_set(err, CN_ERR_FORMAT, "conv: dilation=%d must be >= 1", g.dilation);
    if (g.groups < 1 || in.c % g.groups || g.cout % g.groups)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "conv: groups=%d must divide both the input channels (%d) and out=%d", g.groups, in.c,
                            g.cout);
    /* bound every buffer size before any int product below can overflow */
    long long span = (long long)g.dilation * (g.k - 1) + 1, kk = (long long)g.k * g.k;
    if (span > INT_MAX / 2 || (long long)in.h + 2LL * g.pad > INT_MAX / 2 || (long long)in.w + 2LL * g.pad > INT_MAX / 2)
        return cn_error_set(err, CN_ERR_FORMAT, "conv: k, dilation or pad too large");
    int ho = cn_conv2d_out_dim(in.h, g.k, g.stride, g.pad, g.dilation);
    int wo = cn_conv2d_out_dim(in.w, g.k, g.stride, g.pad, g.dilation);
    if (ho < 1 || wo < 1)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "conv: kernel k=%d (dilation %d, extent %lld) does not fit the %dx%d input with pad=%d",
                            g.k, g.dilation, span, in.h, in.w, g.pad);
    if ((long long)g.cout * ho * wo > INT_MAX || kk * in.c * ho * wo > INT_MAX || kk * in.c * g.cout > INT_MAX)
        return cn_error_set(err, CN_ERR_FORMAT, "conv: layer too large (out=%d k=%d on %dx%dx%d)", g.cout, g.k,
                            in.c, in.h, in.w);
    cn_layer *L = cn_layer_alloc(&conv_ops, sizeof(conv_impl));
    if (!L) return cn_error_set(err, CN_ERR_NOMEM, "conv: out of memory");
    conv_impl *d = L->impl;
    d->g = g;
    d->ho = ho;
    d->wo = wo;
    d->bias = bias != 0;
    d->direct = g.k == 1 && g.stride == 1 && g.pad == 0;
    L->in = in;
    L->out = (cn_shape){g.cout, ho, wo};
    L->act = act;
    L->nbias = d->bias ? (size_t)g.cout : 0;
    L->nparams = (size_t)g.cout * (g.cin / g.groups) * g.k * g.k + L->nbias;
    L->nstate = 0;
    *out = L;
    return CN_OK;
}
