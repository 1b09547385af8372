/* ops_norm.c: ONNX BatchNormalization (inference form), LayerNormalization (opset 17) and
 * InstanceNormalization, with their Jacobian-vector products. BatchNormalization with stored statistics is a
 * fixed affine map per channel, so forward and jvp fold it into one multiplier (and an offset) per channel.
 * The other two normalise rows of the input by their own mean and standard deviation with the shared row
 * kernels of kernels/norm.h, then apply the scale and bias periodically, which suits both LayerNorm's
 * per-element and InstanceNorm's per-channel parameters. The forward keeps each row's statistics in the node's
 * scratch; the jvp rebuilds a row's xhat from them. Scale, bias and the statistics must be constants. */
#include <math.h>
#include <string.h>
#include "kernels/norm.h"
#include "kernels/simd.h"
#include "onnx/graph.h"


static int float_input(cn_graph *g, const cn_node *n, int i, const char *what, const cn_tensor **t)
{
    *t = cn_node_in(g, n, i);
    if (!*t) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s is missing", what);
    if ((*t)->dtype != CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s is not a float tensor", what);
    return CN_OK;
}

/* A per-channel parameter: float with exactly `channels` entries. */
static int channel_input(cn_graph *g, const cn_node *n, int i, const char *what, size_t channels,
                         const cn_tensor **t)
{
    int st = float_input(g, n, i, what, t);
    if (st) return st;
    if (cn_tensor_numel(*t) != channels)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "%s has %zu entries, the input has %zu channels", what,
                            cn_tensor_numel(*t), channels);
    return CN_OK;
}

static int only_first_output(cn_graph *g, const cn_node *n, const char *extra)
{
    for (int i = 1; i < n->nout; i++)
        if (n->out[i] >= 0) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the %s outputs are not supported", extra);
    return CN_OK;
}

/* Inputs first..nin-1 are parameters: an active one would make the jvp need their tangents too. */
static int parameters_constant(cn_graph *g, const cn_node *n, int first)
{
    for (int i = first; i < n->nin; i++)
        if (cn_node_in_tan(g, n, i))
            return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "weights that depend on the input are not supported");
    return CN_OK;
}

static int set_output_like(cn_graph *g, cn_node *n, const cn_tensor *x, cn_tensor **y)
{
    *y = cn_node_out(g, n, 0);
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "output Y is missing");
    return cn_tensor_set_shape(g, n, *y, CN_T_FLOAT, x->ndim, x->dims);
}

/* The tensor that receives the jvp, or NULL when the output is not active. With a zero input tangent the
 * output's is zero too, and *tx comes back NULL. */
static cn_tensor *jvp_target(cn_graph *g, const cn_node *n, const cn_real **tx)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y || !y->tan) return NULL;
    *tx = cn_node_in_tan(g, n, 0);
    if (!*tx) memset(y->tan, 0, cn_tensor_numel(y) * sizeof *y->tan);
    return y;
}

/* ------------------------------------------------------------------ BatchNormalization */

typedef struct {
    const cn_tensor *x, *scale, *bias, *mean, *var;
    size_t batch, channels, plane;
    double eps;
} bn_args;

static int bn_read(cn_graph *g, const cn_node *n, bn_args *a)
{
    int st = float_input(g, n, 0, "X", &a->x);
    if (st) return st;
    if (a->x->ndim < 2)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has rank %d, expected (N, C, ...)", a->x->ndim);
    if (cn_attr_int(n, "training_mode", 0))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "training_mode=1 is not supported (export in eval mode)");
    if ((st = only_first_output(g, n, "running mean and variance")))
        return st;
    a->batch = (size_t)a->x->dims[0];
    a->channels = (size_t)a->x->dims[1];
    a->plane = 1;
    for (int i = 2; i < a->x->ndim; i++) a->plane *= (size_t)a->x->dims[i];
    a->eps = cn_attr_float(n, "epsilon", 1e-5);
    if ((st = channel_input(g, n, 1, "scale", a->channels, &a->scale)) ||
        (st = channel_input(g, n, 2, "B", a->channels, &a->bias)) ||
        (st = channel_input(g, n, 3, "input_mean", a->channels, &a->mean)) ||
        (st = channel_input(g, n, 4, "input_var", a->channels, &a->var)))
        return st;
    return CN_OK;
}

/* y = x * mul[c] + add[c] over every plane of channel c, mul = scale / sqrt(var + eps) and
 * add = B - mean * mul; the jvp (with_offset 0) needs the multiplier only. */
static void bn_apply(const bn_args *a, const cn_real *x, cn_real *y, int with_offset)
{
    const cn_real *scale = a->scale->data, *bias = a->bias->data, *mean = a->mean->data, *var = a->var->data;
    const cn_norm_span span = {a->batch, a->plane, a->channels * a->plane};
    for (size_t c = 0; c < a->channels; c++) {
        double m = scale[c] / sqrt((double)var[c] + a->eps);
        const cn_real mul = (cn_real)m, add = with_offset ? (cn_real)(bias[c] - mean[c] * m) : 0;
        cn_norm_span_affine(x + c * a->plane, span, mul, add, y + c * a->plane);
    }
}

/* A training forward's record for the backward and the jvp, in the node's scratch: the mode, each channel's
 * 1/sqrt(var + eps) and the normalised input. An eval forward records its mode only. */
typedef struct {
    int train;
    cn_real *inv_std, *xhat;
} bn_record;

/* mode: 1 or 0 records the forward's mode, -1 keeps the recorded one; with_xhat: room for xhat too */
static int bn_scratch(cn_graph *g, cn_node *n, const bn_args *a, int mode, int with_xhat, bn_record *r)
{
    if (mode < 0) mode = n->scratch ? *(const int *)n->scratch : 0; /* read before a growth loses it */
    size_t head = 64, nx = with_xhat ? cn_tensor_numel(a->x) : 0;
    char *s = cn_node_scratch(g, n, head + (a->channels + nx) * sizeof(cn_real));
    if (!s) return CN_ERR_NOMEM;
    *(int *)s = r->train = mode;
    r->inv_std = (cn_real *)(s + head);
    r->xhat = r->inv_std + a->channels;
    return CN_OK;
}

/* Training mode, as torch.nn.BatchNorm: normalise by the batch's mean and biased variance, and move the
 * running statistics (the net's state) toward the batch's, the variance the unbiased one. ONNX's momentum is
 * the weight of the running value (0.9 for torch's 0.1); the graph's bn_momentum, where set, overrides it. */
static int bn_forward_train(cn_graph *g, cn_node *n, const bn_args *a, cn_real *y)
{
    bn_record r;
    int st = bn_scratch(g, n, a, 1, 1, &r);
    if (st) return st;
    const double keep = g->bn_momentum > 0 ? 1 - g->bn_momentum : cn_attr_float(n, "momentum", 0.9);
    const size_t m = a->batch * a->plane;
    const cn_real *x = a->x->data, *scale = a->scale->data, *bias = a->bias->data;
    cn_real *rmean = a->mean->data, *rvar = a->var->data;
    const cn_norm_span span = {a->batch, a->plane, a->channels * a->plane};
    for (size_t c = 0; c < a->channels; c++) {
        const size_t o = c * a->plane;
        double mean, var;
        cn_norm_span_moments(x + o, span, &mean, &var);
        rmean[c] = (cn_real)(keep * rmean[c] + (1 - keep) * mean);
        if (m > 1) rvar[c] = (cn_real)(keep * rvar[c] + (1 - keep) * var * (double)m / (double)(m - 1));
        const double is = 1.0 / sqrt(var + a->eps);
        r.inv_std[c] = (cn_real)is;
        cn_norm_span_apply(x + o, span, mean, is, scale[c], bias[c], r.xhat + o, y + o);
    }
    return CN_OK;
}

static int bn_forward(cn_graph *g, cn_node *n)
{
    bn_args a;
    bn_record r;
    cn_tensor *y = NULL;
    int st = bn_read(g, n, &a);
    if (st || (st = set_output_like(g, n, a.x, &y))) return st;
    if (g->train && a.mean->role == CN_ROLE_STATE) return bn_forward_train(g, n, &a, y->data);
    if ((st = bn_scratch(g, n, &a, 0, 0, &r))) return st;
    bn_apply(&a, a.x->data, y->data, 1);
    return CN_OK;
}

static int bn_jvp(cn_graph *g, cn_node *n)
{
    const cn_real *tx = NULL;
    cn_tensor *y = jvp_target(g, n, &tx);
    int st = parameters_constant(g, n, 1);
    if (st || !y || !tx) return st;
    bn_args a;
    bn_record r;
    if ((st = bn_read(g, n, &a)) || (st = bn_scratch(g, n, &a, -1, 0, &r))) return st;
    if (!r.train) {
        bn_apply(&a, tx, y->tan, 0);
        return CN_OK;
    }
    /* the batch's statistics move with the tangent: the span's normalisation Jacobian */
    const double m = (double)(a.batch * a.plane);
    const cn_real *scale = a.scale->data;
    const cn_norm_span span = {a.batch, a.plane, a.channels * a.plane};
    for (size_t c = 0; c < a.channels; c++) {
        const size_t o = c * a.plane;
        double sum_t, sum_tx;
        cn_norm_span_sums(tx + o, r.xhat + o, span, &sum_t, &sum_tx);
        cn_norm_span_combine(tx + o, r.xhat + o, span, (double)scale[c] * r.inv_std[c], sum_t / m, sum_tx / m,
                             y->tan + o);
    }
    return CN_OK;
}

/* gscale += sum(gy xhat), gB += sum(gy) per channel; gx += the mode's Jacobian (transposed: it is symmetric)
 * applied to gy. In eval mode xhat comes from the running statistics, rebuilt per channel. */
static int bn_vjp(cn_graph *g, cn_node *n)
{
    bn_args a;
    bn_record r;
    int st;
    if ((st = bn_read(g, n, &a)) || (st = bn_scratch(g, n, &a, -1, 1, &r))) return st;
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0), *gscale = cn_node_in_grad(g, n, 1), *gbias = cn_node_in_grad(g, n, 2);
    if (!gy) return CN_OK;
    const size_t nx = cn_tensor_numel(a.x);
    const double m = (double)(a.batch * a.plane);
    cn_real *dx = NULL;
    if (gx && !(dx = cn_graph_temp(g, n, nx))) return CN_ERR_NOMEM;
    const cn_real *x = a.x->data, *scale = a.scale->data, *mean = a.mean->data, *var = a.var->data;
    const cn_norm_span span = {a.batch, a.plane, a.channels * a.plane};
    if (!r.train) /* the eval forward kept nothing: xhat of the running statistics */
        for (size_t c = 0; c < a.channels; c++) {
            r.inv_std[c] = (cn_real)(1.0 / sqrt((double)var[c] + a.eps));
            cn_norm_span_apply(x + c * a.plane, span, mean[c], r.inv_std[c], 1, 0, NULL, r.xhat + c * a.plane);
        }
    for (size_t c = 0; c < a.channels; c++) {
        const size_t o = c * a.plane;
        double sum_g, sum_gx;
        cn_norm_span_sums(gy + o, r.xhat + o, span, &sum_g, &sum_gx);
        if (gscale) gscale[c] += (cn_real)sum_gx;
        if (gbias) gbias[c] += (cn_real)sum_g;
        if (dx)
            cn_norm_span_combine(gy + o, r.xhat + o, span, (double)scale[c] * r.inv_std[c], r.train ? sum_g / m : 0,
                                 r.train ? sum_gx / m : 0, dx + o);
    }
    if (gx) cn_grad_add(gx, dx, nx);
    return CN_OK;
}

/* ------------------------------------------------------------------ the rows' statistics */

/* The forward's record for the jvp, in the node's scratch: each row's statistics, then room for one row of
 * xhat, which the jvp rebuilds from the input and the statistics (keeping every row's xhat would double the
 * forward's memory traffic). */
static int row_record(cn_graph *g, cn_node *n, size_t rows, size_t d, cn_norm_stats **stats, cn_real **row)
{
    size_t head = (rows * sizeof **stats + 63) / 64 * 64;
    char *s = cn_node_scratch(g, n, head + d * sizeof **row);
    if (!s) return CN_ERR_NOMEM;
    *stats = (cn_norm_stats *)s;
    *row = (cn_real *)(s + head);
    return CN_OK;
}

/* ------------------------------------------------------------------ LayerNormalization */

typedef struct {
    const cn_tensor *x, *scale, *bias;
    size_t rows, d;   /* the input as (rows, d): d spans the axes axis..end */
    size_t period;    /* scale and bias repeat every `period` entries along a row (they cover its last axes) */
    double eps;
} ln_args;

/* A parameter broadcasts over the normalised axes when, leading ones aside, its shape is a suffix of theirs;
 * then it repeats along a row with period numel. */
static int ln_parameter(cn_graph *g, const cn_node *n, int i, const char *what, int axis, const cn_tensor **p,
                        size_t *period)
{
    int st = float_input(g, n, i, what, p);
    if (st) return st;
    const cn_tensor *x = cn_node_in(g, n, 0), *t = *p;
    int first = 0;
    while (first < t->ndim && t->dims[first] == 1) first++;
    int rank = t->ndim - first, ok = rank <= x->ndim - axis;
    for (int k = 0; ok && k < rank; k++) ok = t->dims[first + k] == x->dims[x->ndim - rank + k];
    if (!ok)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "%s (%zu entries) does not match the normalised axes %d..%d of X",
                            what, cn_tensor_numel(t), axis, x->ndim - 1);
    *period = cn_tensor_numel(t);
    return CN_OK;
}

static int ln_read(cn_graph *g, const cn_node *n, ln_args *a)
{
    int st = float_input(g, n, 0, "X", &a->x);
    if (st || (st = only_first_output(g, n, "Mean and InvStdDev"))) return st;
    const int r = a->x->ndim;
    int64_t axis = cn_attr_int(n, "axis", -1);
    if (axis < -r || axis >= r)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld is out of range for an input of rank %d",
                            (long long)axis, r);
    if (axis < 0) axis += r;
    a->rows = 1;
    a->d = 1;
    for (int i = 0; i < r; i++) *(i < axis ? &a->rows : &a->d) *= (size_t)a->x->dims[i];
    a->eps = cn_attr_float(n, "epsilon", 1e-5);
    size_t bias_period = 0;
    a->bias = NULL;
    if ((st = ln_parameter(g, n, 1, "Scale", (int)axis, &a->scale, &a->period))) return st;
    if (cn_node_in(g, n, 2) && (st = ln_parameter(g, n, 2, "B", (int)axis, &a->bias, &bias_period))) return st;
    if (a->bias && bias_period != a->period)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "Scale has %zu entries but B has %zu", a->period, bias_period);
    return CN_OK;
}

static int ln_forward(cn_graph *g, cn_node *n)
{
    ln_args a;
    cn_tensor *y = NULL;
    int st = ln_read(g, n, &a);
    if (st || (st = set_output_like(g, n, a.x, &y)) || a.rows == 0) return st;
    cn_norm_stats *stats;
    cn_real *row;
    if ((st = row_record(g, n, a.rows, a.d, &stats, &row))) return st;
    const cn_real *x = a.x->data, *scale = a.scale->data, *bias = a.bias ? a.bias->data : NULL;
    cn_real *yd = y->data;
    for (size_t i = 0; i < a.rows; i++) {
        cn_real *yr = yd + i * a.d;
        stats[i] = cn_norm_row(x + i * a.d, yr, a.d, a.eps);
        cn_norm_affine_periodic(yr, yr, a.d, scale, bias, a.period);
    }
    return CN_OK;
}

static int ln_jvp(cn_graph *g, cn_node *n)
{
    const cn_real *tx = NULL;
    cn_tensor *y = jvp_target(g, n, &tx);
    int st = parameters_constant(g, n, 1);
    if (st || !y || !tx) return st;
    ln_args a;
    if ((st = ln_read(g, n, &a))) return st;
    cn_norm_stats *stats;
    cn_real *row;
    if ((st = row_record(g, n, a.rows, a.d, &stats, &row))) return st; /* the forward's scratch, as it left it */
    const cn_real *x = a.x->data, *scale = a.scale->data;
    for (size_t i = 0; i < a.rows; i++) {
        cn_real *u = y->tan + i * a.d;
        cn_norm_row_xhat(x + i * a.d, stats[i], row, a.d);
        cn_norm_row_project(row, stats[i].inv_std, tx + i * a.d, NULL, u, a.d);
        cn_norm_affine_periodic(u, u, a.d, scale, NULL, a.period);
    }
    return CN_OK;
}

/* Rows normalised by their own statistics (layer and instance norm) share the backward: per row, the
 * periodic scale's gradient gains gy * xhat and the bias's gy; gx gains the row Jacobian (symmetric) applied
 * to gy * scale. scale_of(i) is row i's scale, repeating every period entries. */
static int rows_vjp(cn_graph *g, cn_node *n, size_t rows, size_t d, size_t period, const cn_real *(*scale_of)(const void *, size_t),
                    const void *args, cn_real *gscale, cn_real *gbias, size_t (*param_offset)(const void *, size_t))
{
    const cn_real *gy = cn_node_out_grad(g, n, 0), *x = cn_node_in(g, n, 0)->data;
    cn_real *gx = cn_node_in_grad(g, n, 0);
    if (!gy || rows == 0) return CN_OK;
    cn_norm_stats *stats;
    cn_real *row;
    int st = row_record(g, n, rows, d, &stats, &row); /* the forward's scratch, as it left it */
    if (st) return st;
    cn_real *v = gx ? cn_graph_temp(g, n, d) : NULL;
    if (gx && !v) return CN_ERR_NOMEM;
    for (size_t i = 0; i < rows; i++) {
        const cn_real *gyr = gy + i * d, *sc = scale_of(args, i);
        const size_t po = param_offset(args, i);
        cn_norm_row_xhat(x + i * d, stats[i], row, d);
        for (size_t j = 0; j < d; j++) {
            if (gscale) gscale[po + j % period] += gyr[j] * row[j];
            if (gbias) gbias[po + j % period] += gyr[j];
            if (v) v[j] = gyr[j] * sc[j % period];
        }
        if (!gx) continue;
        cn_norm_row_project(row, stats[i].inv_std, v, NULL, v, d);
        cn_grad_add(gx + i * d, v, d);
    }
    return CN_OK;
}

static const cn_real *ln_scale_of(const void *p, size_t i) { return ((const ln_args *)p)->scale->data; }
static size_t ln_param_offset(const void *p, size_t i) { return 0; }

static int ln_vjp(cn_graph *g, cn_node *n)
{
    ln_args a;
    int st = ln_read(g, n, &a);
    if (st) return st;
    return rows_vjp(g, n, a.rows, a.d, a.period, ln_scale_of, &a, cn_node_in_grad(g, n, 1),
                    a.bias ? cn_node_in_grad(g, n, 2) : NULL, ln_param_offset);
}

/* ------------------------------------------------------------------ InstanceNormalization */

typedef struct {
    const cn_tensor *x, *scale, *bias;
    size_t batch, channels, plane;
    double eps;
} in_args;

static int in_read(cn_graph *g, const cn_node *n, in_args *a)
{
    int st = float_input(g, n, 0, "X", &a->x);
    if (st) return st;
    if (a->x->ndim < 3)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "input has rank %d, expected (N, C, spatial...)", a->x->ndim);
    a->batch = (size_t)a->x->dims[0];
    a->channels = (size_t)a->x->dims[1];
    a->plane = 1;
    for (int i = 2; i < a->x->ndim; i++) a->plane *= (size_t)a->x->dims[i];
    a->eps = cn_attr_float(n, "epsilon", 1e-5);
    if ((st = channel_input(g, n, 1, "scale", a->channels, &a->scale)) ||
        (st = channel_input(g, n, 2, "B", a->channels, &a->bias)))
        return st;
    return CN_OK;
}

static int in_forward(cn_graph *g, cn_node *n)
{
    in_args a;
    cn_tensor *y = NULL;
    int st = in_read(g, n, &a);
    if (st || (st = set_output_like(g, n, a.x, &y))) return st;
    size_t rows = a.batch * a.channels;
    if (rows == 0) return CN_OK;
    cn_norm_stats *stats;
    cn_real *row;
    if ((st = row_record(g, n, rows, a.plane, &stats, &row))) return st;
    const cn_real *x = a.x->data, *scale = a.scale->data, *bias = a.bias->data;
    cn_real *yd = y->data;
    for (size_t i = 0; i < rows; i++) {
        cn_real *yr = yd + i * a.plane;
        const size_t c = i % a.channels;
        stats[i] = cn_norm_row(x + i * a.plane, yr, a.plane, a.eps);
        cn_norm_affine_periodic(yr, yr, a.plane, scale + c, bias + c, 1);
    }
    return CN_OK;
}

static int in_jvp(cn_graph *g, cn_node *n)
{
    const cn_real *tx = NULL;
    cn_tensor *y = jvp_target(g, n, &tx);
    int st = parameters_constant(g, n, 1);
    if (st || !y || !tx) return st;
    in_args a;
    if ((st = in_read(g, n, &a))) return st;
    const size_t rows = a.batch * a.channels;
    cn_norm_stats *stats;
    cn_real *row;
    if ((st = row_record(g, n, rows, a.plane, &stats, &row))) return st; /* the forward's scratch, as it left it */
    const cn_real *x = a.x->data, *scale = a.scale->data;
    for (size_t i = 0; i < rows; i++) {
        cn_real *u = y->tan + i * a.plane;
        cn_norm_row_xhat(x + i * a.plane, stats[i], row, a.plane);
        cn_norm_row_project(row, stats[i].inv_std, tx + i * a.plane, NULL, u, a.plane);
        cn_norm_affine_periodic(u, u, a.plane, scale + i % a.channels, NULL, 1);
    }
    return CN_OK;
}

static const cn_real *in_scale_of(const void *p, size_t i)
{
    const in_args *a = p;
    return (const cn_real *)a->scale->data + i % a->channels;
}
static size_t in_param_offset(const void *p, size_t i) { return i % ((const in_args *)p)->channels; }

static int in_vjp(cn_graph *g, cn_node *n)
{
    in_args a;
    int st = in_read(g, n, &a);
    if (st) return st;
    return rows_vjp(g, n, a.batch * a.channels, a.plane, 1, in_scale_of, &a, cn_node_in_grad(g, n, 1),
                    cn_node_in_grad(g, n, 2), in_param_offset);
}

/* ------------------------------------------------------------------ the reverse of the jvp */

/* One group of N values normalised together (a batch-norm channel in training mode, a layer-norm row), with
 * xhat and inv_std of the forward. Its jvp is u = scale * is * (t - mean(t) - xhat mean(xhat t)); this is the
 * reverse, for the cotangent gy of u: t's cotangent gains is * P(h) with h = scale * gy and P the (symmetric)
 * projection above; x, through xhat and is, gains -(is/N) (S xhat + A txhat) - c is^2 P(h), where
 * txhat = u / scale, S = sum(h txhat), A = sum(h xhat) and c = mean(xhat t); the scale gains gy txhat.
 * (d xhat = is P(dx) and d(1/is) = mean(xhat dx) give it.) scale and gscale repeat every `period` values. */
static void norm_tangent_reverse(size_t N, const cn_real *xhat, double is, const cn_real *scale, size_t period,
                                 const cn_real *t, const cn_real *gy, cn_real *gt, cn_real *gx, cn_real *gscale)
{
    double sum_t = 0, sum_xt = 0;
    for (size_t j = 0; j < N; j++) {
        sum_t += t[j];
        sum_xt += (double)xhat[j] * t[j];
    }
    const double mean_t = sum_t / (double)N, c = sum_xt / (double)N;
    double sum_h = 0, A = 0, S = 0;
    for (size_t j = 0; j < N; j++) {
        const double h = (double)scale[j % period] * gy[j], txhat = is * (t[j] - mean_t - xhat[j] * c);
        sum_h += h;
        A += h * xhat[j];
        S += h * txhat;
        if (gscale) gscale[j % period] += (cn_real)(gy[j] * txhat);
    }
    const double mean_h = sum_h / (double)N, e_h = A / (double)N;
    for (size_t j = 0; j < N; j++) {
        const double h = (double)scale[j % period] * gy[j], ph = h - mean_h - xhat[j] * e_h;
        const double txhat = is * (t[j] - mean_t - xhat[j] * c);
        if (gt) gt[j] += (cn_real)(is * ph);
        if (gx) gx[j] += (cn_real)(-(is / (double)N) * (S * xhat[j] + A * txhat) - c * is * is * ph);
    }
}

static void span_gather(const cn_real *src, cn_norm_span s, cn_real *dst)
{
    for (size_t i = 0; i < s.segs; i++) memcpy(dst + i * s.len, src + i * s.stride, s.len * sizeof *dst);
}

static void span_scatter_add(const cn_real *src, cn_norm_span s, cn_real *dst)
{
    for (size_t i = 0; i < s.segs; i++) cn_grad_add(dst + i * s.stride, src + i * s.len, s.len);
}

/* Eval mode: u = scale * inv_std(running) * t per channel, so t's cotangent gains that factor times gy and the
 * scale gains inv_std sum(gy t). Training mode: each channel is a group of norm_tangent_reverse, gathered out
 * of its strided span. */
static int bn_jvp_vjp(cn_graph *g, cn_node *n)
{
    bn_args a;
    bn_record r;
    int st;
    if ((st = bn_read(g, n, &a)) || (st = bn_scratch(g, n, &a, -1, 1, &r))) return st;
    const cn_real *gty = cn_node_out_gtan(g, n, 0), *tx = cn_node_in_tan(g, n, 0);
    cn_real *gtx = cn_node_in_gtan(g, n, 0), *gx = cn_node_in_grad(g, n, 0), *gscale = cn_node_in_grad(g, n, 1);
    if (!gty || !tx) return CN_OK;
    const size_t nx = cn_tensor_numel(a.x), N = a.batch * a.plane;
    const cn_real *scale = a.scale->data, *var = a.var->data;
    const cn_norm_span span = {a.batch, a.plane, a.channels * a.plane};
    cn_real *work = cn_graph_temp(g, n, 5 * (N ? N : 1));
    if (!work) return CN_ERR_NOMEM;
    cn_real *xh = work, *t = work + N, *gy = work + 2 * N, *gt = work + 3 * N, *gxc = work + 4 * N;
    for (size_t c = 0; c < a.channels; c++) {
        const size_t o = c * a.plane;
        if (!r.train) {
            const double is = 1.0 / sqrt((double)var[c] + a.eps), mul = scale[c] * is;
            for (int k = 0; k < g->run_k; k++) {
                span_gather(tx + (size_t)k * nx + o, span, t);
                span_gather(gty + (size_t)k * nx + o, span, gy);
                double sum = 0;
                for (size_t j = 0; j < N; j++) {
                    sum += (double)gy[j] * t[j];
                    gt[j] = (cn_real)(mul * gy[j]);
                }
                if (gscale) gscale[c] += (cn_real)(is * sum);
                if (gtx) span_scatter_add(gt, span, gtx + (size_t)k * nx + o);
            }
            continue;
        }
        span_gather(r.xhat + o, span, xh);
        memset(gxc, 0, N * sizeof *gxc);
        for (int k = 0; k < g->run_k; k++) {
            span_gather(tx + (size_t)k * nx + o, span, t);
            span_gather(gty + (size_t)k * nx + o, span, gy);
            memset(gt, 0, N * sizeof *gt);
            norm_tangent_reverse(N, xh, r.inv_std[c], scale + c, 1, t, gy, gt, gxc, gscale ? gscale + c : NULL);
            if (gtx) span_scatter_add(gt, span, gtx + (size_t)k * nx + o);
        }
        if (gx) span_scatter_add(gxc, span, gx + o);
    }
    return CN_OK;
}

/* Rows normalised by their own statistics (layer and instance norm), as rows_vjp: each row a group of
 * norm_tangent_reverse, its scale scale_of(i) repeating every period values, its gradient at param_offset(i). */
static int rows_jvp_vjp(cn_graph *g, cn_node *n, size_t rows, size_t d, size_t period,
                        const cn_real *(*scale_of)(const void *, size_t), const void *args,
                        size_t (*param_offset)(const void *, size_t))
{
    const cn_real *gty = cn_node_out_gtan(g, n, 0), *tx = cn_node_in_tan(g, n, 0), *x = cn_node_in(g, n, 0)->data;
    cn_real *gtx = cn_node_in_gtan(g, n, 0), *gx = cn_node_in_grad(g, n, 0), *gscale = cn_node_in_grad(g, n, 1);
    if (!gty || !tx || rows == 0) return CN_OK;
    cn_norm_stats *stats;
    cn_real *row;
    int st = row_record(g, n, rows, d, &stats, &row); /* the forward's scratch, as it left it */
    if (st) return st;
    const size_t nx = rows * d;
    for (size_t i = 0; i < rows; i++) {
        cn_norm_row_xhat(x + i * d, stats[i], row, d);
        for (int k = 0; k < g->run_k; k++) {
            const size_t o = (size_t)k * nx + i * d;
            norm_tangent_reverse(d, row, stats[i].inv_std, scale_of(args, i), period, tx + o, gty + o,
                                 gtx ? gtx + o : NULL, gx ? gx + i * d : NULL,
                                 gscale ? gscale + param_offset(args, i) : NULL);
        }
    }
    return CN_OK;
}

static int ln_jvp_vjp(cn_graph *g, cn_node *n)
{
    ln_args a;
    int st = ln_read(g, n, &a);
    return st ? st : rows_jvp_vjp(g, n, a.rows, a.d, a.period, ln_scale_of, &a, ln_param_offset);
}

static int in_jvp_vjp(cn_graph *g, cn_node *n)
{
    in_args a;
    int st = in_read(g, n, &a);
    return st ? st : rows_jvp_vjp(g, n, a.batch * a.channels, a.plane, 1, in_scale_of, &a, in_param_offset);
}

/* batch norm's running mean and variance are state that a training forward updates, never parameters */
const cn_op cn_op_BatchNormalization = {.name = "BatchNormalization", .forward = bn_forward, .jvp = bn_jvp,
                                        .vjp = bn_vjp, .frozen_in = 3u << 3, .state_in = 3u << 3,
                                        .tangent_rule = CN_TANGENT_CUSTOM, .jvp_vjp = bn_jvp_vjp};
const cn_op cn_op_LayerNormalization = {.name = "LayerNormalization", .forward = ln_forward, .jvp = ln_jvp,
                                        .vjp = ln_vjp, .tangent_rule = CN_TANGENT_CUSTOM, .jvp_vjp = ln_jvp_vjp};
const cn_op cn_op_InstanceNormalization = {.name = "InstanceNormalization", .forward = in_forward, .jvp = in_jvp,
                                           .vjp = in_vjp, .tangent_rule = CN_TANGENT_CUSTOM, .jvp_vjp = in_jvp_vjp};
