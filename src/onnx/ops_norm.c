/* ops_norm.c: ONNX BatchNormalization (inference form), LayerNormalization (opset 17) and
 * InstanceNormalization, with their Jacobian-vector products. BatchNormalization with stored statistics is a
 * fixed affine map per channel, so forward and jvp fold it into one multiplier (and an offset) per channel.
 * The other two normalise rows of the input by their own mean and standard deviation, so they share one row
 * kernel: sums in double and a two-pass variance (one pass over squares would lose the variance of rows whose
 * mean is large), then the scale and bias in a separate pass that suits both LayerNorm's per-element and
 * InstanceNorm's per-channel parameters. The forward keeps each row's mean and 1/sqrt(var + eps) in the node's
 * scratch; the jvp recomputes xhat from them and the input, and applies
 * d xhat = (t - mean(t) - xhat * mean(t * xhat)) / s. Scale, bias and the statistics must be constants. */
#include <math.h>
#include <string.h>
#include "onnx/graph.h"

/* Vectorise the loop that follows. The library is built with OpenMP, whose simd pragma lifts -O2's
 * refusal to vectorise loops of unknown trip count; without OpenMP these expand to nothing, not a warning. */
#ifdef _OPENMP
#define PRAGMA(x) _Pragma(#x)
#define SIMD PRAGMA(omp simd)
#define SIMD_REDUCE(op, ...) PRAGMA(omp simd reduction(op : __VA_ARGS__))
#else
#define SIMD
#define SIMD_REDUCE(op, ...)
#endif

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
    for (size_t c = 0; c < a->channels; c++) {
        double m = scale[c] / sqrt((double)var[c] + a->eps);
        const cn_real mul = (cn_real)m, add = with_offset ? (cn_real)(bias[c] - mean[c] * m) : 0;
        for (size_t b = 0; b < a->batch; b++) {
            const size_t off = (b * a->channels + c) * a->plane;
            const cn_real *xp = x + off;
            cn_real *yp = y + off;
            SIMD
            for (size_t i = 0; i < a->plane; i++) yp[i] = xp[i] * mul + add;
        }
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

/* ------------------------------------------------------------------ the row kernel */

/* Per row: mean and 1/sqrt(var + eps) */
typedef struct {
    double mean, inv_std;
} row_stats;

/* xhat = (x - mean) / sqrt(var + eps) of one row into y. */
static row_stats normalise_row(const cn_real *x, cn_real *y, size_t d, double eps)
{
    double sum = 0, sq = 0;
    SIMD_REDUCE(+, sum)
    for (size_t j = 0; j < d; j++) sum += x[j];
    const double mean = d ? sum / (double)d : 0;
    SIMD_REDUCE(+, sq)
    for (size_t j = 0; j < d; j++) {
        double e = x[j] - mean;
        sq += e * e;
    }
    row_stats r = {mean, 1 / sqrt((d ? sq / (double)d : 0) + eps)};
    const cn_real m = (cn_real)r.mean, s = (cn_real)r.inv_std;
    SIMD
    for (size_t j = 0; j < d; j++) y[j] = (x[j] - m) * s;
    return r;
}

/* The tangent of xhat for one row with input x and input tangent t, into dy. */
static void normalise_row_jvp(const cn_real *x, const cn_real *t, cn_real *dy, size_t d, row_stats r)
{
    double st = 0, stx = 0;
    SIMD_REDUCE(+, st, stx)
    for (size_t j = 0; j < d; j++) {
        double xhat = (x[j] - r.mean) * r.inv_std;
        st += t[j];
        stx += t[j] * xhat;
    }
    const double mt = d ? st / (double)d : 0, mtx = d ? stx / (double)d : 0;
    SIMD
    for (size_t j = 0; j < d; j++) {
        double xhat = (x[j] - r.mean) * r.inv_std;
        dy[j] = (cn_real)((t[j] - mt - xhat * mtx) * r.inv_std);
    }
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

/* y = y * scale + bias along a row, the parameters repeating every `period` entries; bias may be NULL. */
static void affine_periodic(cn_real *y, size_t d, const cn_real *scale, const cn_real *bias, size_t period)
{
    if (period == 1) {
        const cn_real s = scale[0], b = bias ? bias[0] : 0;
        SIMD
        for (size_t j = 0; j < d; j++) y[j] = y[j] * s + b;
        return;
    }
    for (size_t j0 = 0; j0 < d; j0 += period) {
        cn_real *yb = y + j0;
        if (bias) {
            SIMD
            for (size_t k = 0; k < period; k++) yb[k] = yb[k] * scale[k] + bias[k];
        } else {
            SIMD
            for (size_t k = 0; k < period; k++) yb[k] *= scale[k];
        }
    }
}

static int ln_forward(cn_graph *g, cn_node *n)
{
    ln_args a;
    cn_tensor *y = NULL;
    int st = ln_read(g, n, &a);
    if (st || (st = set_output_like(g, n, a.x, &y)) || a.rows == 0) return st;
    row_stats *stats = cn_node_scratch(g, n, a.rows * sizeof *stats);
    if (!stats) return CN_ERR_NOMEM;
    const cn_real *x = a.x->data, *scale = a.scale->data, *bias = a.bias ? a.bias->data : NULL;
    cn_real *yd = y->data;
    for (size_t i = 0; i < a.rows; i++) {
        stats[i] = normalise_row(x + i * a.d, yd + i * a.d, a.d, a.eps);
        affine_periodic(yd + i * a.d, a.d, scale, bias, a.period);
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
    const row_stats *stats = n->scratch;
    const cn_real *x = a.x->data, *scale = a.scale->data;
    for (size_t i = 0; i < a.rows; i++) {
        normalise_row_jvp(x + i * a.d, tx + i * a.d, y->tan + i * a.d, a.d, stats[i]);
        affine_periodic(y->tan + i * a.d, a.d, scale, NULL, a.period);
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
    row_stats *stats = cn_node_scratch(g, n, rows * sizeof *stats);
    if (!stats) return CN_ERR_NOMEM;
    const cn_real *x = a.x->data, *scale = a.scale->data, *bias = a.bias->data;
    cn_real *yd = y->data;
    for (size_t i = 0; i < rows; i++) {
        stats[i] = normalise_row(x + i * a.plane, yd + i * a.plane, a.plane, a.eps);
        const size_t c = i % a.channels;
        affine_periodic(yd + i * a.plane, a.plane, scale + c, bias + c, 1);
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
    const row_stats *stats = n->scratch;
    const cn_real *x = a.x->data, *scale = a.scale->data;
    for (size_t i = 0; i < a.batch * a.channels; i++) {
        normalise_row_jvp(x + i * a.plane, tx + i * a.plane, y->tan + i * a.plane, a.plane, stats[i]);
        affine_periodic(y->tan + i * a.plane, a.plane, scale + i % a.channels, NULL, 1);
    }
    return CN_OK;
}

const cn_op cn_op_BatchNormalization = {"BatchNormalization", bn_forward, bn_jvp, 0};
const cn_op cn_op_LayerNormalization = {"LayerNormalization", ln_forward, ln_jvp, 0};
const cn_op cn_op_InstanceNormalization = {"InstanceNormalization", in_forward, in_jvp, 0};
