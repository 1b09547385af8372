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

static int bn_forward(cn_graph *g, cn_node *n)
{
    bn_args a;
    cn_tensor *y = NULL;
    int st = bn_read(g, n, &a);
    if (st || (st = set_output_like(g, n, a.x, &y))) return st;
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
    if ((st = bn_read(g, n, &a))) return st;
    bn_apply(&a, tx, y->tan, 0);
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

const cn_op cn_op_BatchNormalization = {"BatchNormalization", bn_forward, bn_jvp, 0};
const cn_op cn_op_LayerNormalization = {"LayerNormalization", ln_forward, ln_jvp, 0};
const cn_op cn_op_InstanceNormalization = {"InstanceNormalization", in_forward, in_jvp, 0};
