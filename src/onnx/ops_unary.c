/* ops_unary.c: the elementwise one-input operators (activations, Sqrt/Exp/Log and friends, Clip, Identity,
 * Dropout at inference, Cast), each with its forward and its Jacobian-vector product.
 *
 * Every activation is two expressions: its value at x, and its tangent from x, the output y and the input
 * tangent t. One macro expands them into a forward and a jvp loop, so the expressions are inlined into
 * plain loops over contiguous data rather than called through a pointer per element. The tangent is written
 * as an expression in t, not as slope * t, so that piecewise ops select (a zero slope gives 0 even for an
 * infinite t) as PyTorch's autograd does. At the kinks the slopes follow PyTorch: Relu'(0) = 0, Abs'(0) = 0,
 * LeakyRelu'(0) = the negative slope, Elu'(0) = alpha, Clip passes the tangent on [min, max] inclusive
 * (torch.clamp), HardSigmoid only strictly inside its linear part, HardSwish as torch's hardswish_backward.
 * Relu and Clip let a NaN through, as torch does. Neg, Abs, Clip, Identity and Dropout also take int64 (shape
 * arithmetic), which carries no tangent. The float build takes its exponentials from expf, three times
 * faster than exp and as accurate once the result is rounded to float.
 */
#include <math.h>
#include <string.h>
#include "onnx/broadcast.h"
#include "onnx/graph.h"

#define INV_SQRT_PI_2 1.12837916709551257390  /* 2/sqrt(pi) */
#define SQRT1_2 0.70710678118654752440        /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794   /* 1/sqrt(2 pi) */
#define SQRT_2_OVER_PI 0.79788456080286535588 /* sqrt(2/pi) */
#define GELU_CUBIC 0.044715

/* attributes and extra inputs an op reads; filled before either loop runs */
typedef struct {
    double alpha, beta;
    double lo, hi;     /* Clip of float */
    int64_t ilo, ihi;  /* Clip of int64 */
    int tanh_approx;   /* Gelu */
} unary_params;

typedef void (*values_fn)(size_t n, const cn_real *x, cn_real *y, const unary_params *p);
typedef void (*tangents_fn)(size_t n, const cn_real *x, const cn_real *y, const cn_real *t, cn_real *ty,
                            const unary_params *p);
typedef int (*params_fn)(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p);
typedef void (*int_values_fn)(size_t n, const int64_t *x, int64_t *y);

static int single_input(cn_graph *g, cn_node *n, cn_tensor **x, cn_tensor **y)
{
    *x = cn_node_in(g, n, 0);
    *y = cn_node_out(g, n, 0);
    if (!*x) return cn_node_fail(g, n, CN_ERR_FORMAT, "the input is missing");
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the output is missing");
    return CN_OK;
}

static int unary_forward(cn_graph *g, cn_node *n, values_fn values, int_values_fn int_values, params_fn params)
{
    cn_tensor *x, *y;
    unary_params p = {0};
    int rc = single_input(g, n, &x, &y);
    if (rc) return rc;
    if (x->dtype != CN_T_FLOAT && !(int_values && x->dtype == CN_T_INT64))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs a float tensor, got %s", cn_dtype_label(x->dtype));
    if (params && (rc = params(g, n, x, &p))) return rc;
    if ((rc = cn_tensor_set_shape(g, n, y, x->dtype, x->ndim, x->dims))) return rc;
    size_t count = cn_tensor_numel(x);
    if (x->dtype == CN_T_FLOAT) values(count, x->data, y->data, &p);
    else int_values(count, x->data, y->data);
    return CN_OK;
}

static int unary_jvp(cn_graph *g, cn_node *n, tangents_fn tangents, params_fn params)
{
    cn_tensor *x, *y;
    unary_params p = {0};
    int rc = single_input(g, n, &x, &y);
    if (rc) return rc;
    if (params && (rc = params(g, n, x, &p))) return rc;
    const cn_real *t = cn_node_in_tan(g, n, 0);
    size_t count = cn_tensor_numel(y);
    if (!t) memset(y->tan, 0, count * sizeof(cn_real));
    else tangents(count, x->data, y->data, t, y->tan, &p);
    return CN_OK;
}

/* Every op here is elementwise, so its Jacobian is diagonal and equals its transpose: the vjp is the tangent
 * expression applied to the output's gradient, added to the input's. */
static int unary_vjp(cn_graph *g, cn_node *n, tangents_fn tangents, params_fn params)
{
    cn_tensor *x, *y;
    unary_params p = {0};
    int rc = single_input(g, n, &x, &y);
    if (rc) return rc;
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (!gx || !gy) return CN_OK;
    if (params && (rc = params(g, n, x, &p))) return rc;
    size_t count = cn_tensor_numel(y);
    cn_real *share = cn_graph_temp(g, n, count); /* shared by every vjp: no buffer per node */
    if (!share) return CN_ERR_NOMEM;
    tangents(count, x->data, y->data, gy, share, &p);
    CN_SIMD for (size_t i = 0; i < count; i++) gx[i] += share[i];
    return CN_OK;
}

typedef void (*curvature_fn)(size_t n, const cn_real *x, const cn_real *y, cn_real *d2, const unary_params *p);

/* The reverse of t_y = phi'(x) t: the tangent's cotangent gains phi'(x) g (the vjp's expression), and x, on
 * which phi' depends, gains sum_k phi''(x) t_k g_k. */
static int unary_jvp_vjp(cn_graph *g, cn_node *n, tangents_fn tangents, curvature_fn curvature, params_fn params)
{
    cn_tensor *x, *y;
    unary_params p = {0};
    int rc = single_input(g, n, &x, &y);
    if (rc) return rc;
    const cn_real *gty = cn_node_out_gtan(g, n, 0), *tx = cn_node_in_tan(g, n, 0);
    cn_real *gtx = cn_node_in_gtan(g, n, 0), *gx = cn_node_in_grad(g, n, 0);
    if (!gty || !tx) return CN_OK;
    if (params && (rc = params(g, n, x, &p))) return rc;
    const size_t count = cn_tensor_numel(y);
    cn_real *work = cn_graph_temp(g, n, count);
    if (!work) return CN_ERR_NOMEM;
    for (int k = 0; k < g->run_k; k++) {
        const size_t o = (size_t)k * count;
        tangents(count, x->data, y->data, gty + o, work, &p);
        if (gtx) cn_grad_add(gtx + o, work, count);
    }
    if (!gx) return CN_OK;
    curvature(count, x->data, y->data, work, &p);
    for (size_t i = 0; i < count; i++) {
        double s = 0;
        for (int k = 0; k < g->run_k; k++) s += (double)tx[(size_t)k * count + i] * gty[(size_t)k * count + i];
        gx[i] += (cn_real)(s * work[i]);
    }
    return CN_OK;
}

/* VALUE: an expression in x (the input, cn_real) and p; TANGENT: in X and Y (input and output, as double),
 * t (the input's tangent) and p. INT_VALUES: the int64 kernel, NULL for float-only ops. The loops carry
 * CN_SIMD; expressions that select rather than branch around arithmetic keep them vectorised.
 * DEFINE_UNARY is for piecewise-linear ops, whose jvp at fixed values is reversed by their own vjp;
 * DEFINE_SMOOTH_UNARY adds CURVE, the second derivative phi''(x) in X, Y and p, for the regulariser's
 * second-order rule (unary_jvp_vjp). */
#define UNARY_PASSES(NAME, VALUE, TANGENT, INT_VALUES, PARAMS)                                                \
    static void NAME##_values(size_t n, const cn_real *in, cn_real *out, const unary_params *p)               \
    {                                                                                                          \
        (void)p;                                                                                               \
        CN_SIMD for (size_t i = 0; i < n; i++) {                                                               \
            const cn_real x = in[i];                                                                           \
            out[i] = (cn_real)(VALUE);                                                                         \
        }                                                                                                      \
    }                                                                                                          \
    static void NAME##_tangents(size_t n, const cn_real *in, const cn_real *out, const cn_real *tin,          \
                                cn_real *tout, const unary_params *p)                                          \
    {                                                                                                          \
        (void)p;                                                                                               \
        (void)in;                                                                                              \
        (void)out;                                                                                             \
        CN_SIMD for (size_t i = 0; i < n; i++) {                                                               \
            const cn_real t = tin[i];                                                                          \
            tout[i] = (cn_real)(TANGENT);                                                                      \
        }                                                                                                      \
    }                                                                                                          \
    static int NAME##_forward(cn_graph *g, cn_node *n)                                                         \
    {                                                                                                          \
        return unary_forward(g, n, NAME##_values, INT_VALUES, PARAMS);                                         \
    }                                                                                                          \
    static int NAME##_jvp(cn_graph *g, cn_node *n) { return unary_jvp(g, n, NAME##_tangents, PARAMS); }      \
    static int NAME##_vjp(cn_graph *g, cn_node *n) { return unary_vjp(g, n, NAME##_tangents, PARAMS); }

#define DEFINE_UNARY(NAME, VALUE, TANGENT, INT_VALUES, PARAMS)                                                \
    UNARY_PASSES(NAME, VALUE, TANGENT, INT_VALUES, PARAMS)                                                     \
    const cn_op cn_op_##NAME = {.name = #NAME, .forward = NAME##_forward, .jvp = NAME##_jvp, .vjp = NAME##_vjp, \
                                .tangent_rule = CN_TANGENT_LINEAR};

#define DEFINE_SMOOTH_UNARY(NAME, VALUE, TANGENT, CURVE, INT_VALUES, PARAMS)                                  \
    UNARY_PASSES(NAME, VALUE, TANGENT, INT_VALUES, PARAMS)                                                     \
    static void NAME##_curvature(size_t n, const cn_real *in, const cn_real *out, cn_real *d2,                \
                                 const unary_params *p)                                                        \
    {                                                                                                          \
        (void)p;                                                                                               \
        (void)in;                                                                                              \
        (void)out;                                                                                             \
        for (size_t i = 0; i < n; i++) d2[i] = (cn_real)(CURVE);                                              \
    }                                                                                                          \
    static int NAME##_jvp_vjp(cn_graph *g, cn_node *n)                                                         \
    {                                                                                                          \
        return unary_jvp_vjp(g, n, NAME##_tangents, NAME##_curvature, PARAMS);                                 \
    }                                                                                                          \
    const cn_op cn_op_##NAME = {.name = #NAME, .forward = NAME##_forward, .jvp = NAME##_jvp, .vjp = NAME##_vjp, \
                                .tangent_rule = CN_TANGENT_CUSTOM, .jvp_vjp = NAME##_jvp_vjp};

#define X ((double)in[i])
#define Y ((double)out[i])

/* ------------------------------------------------------------------ parameters */

static int read_leaky(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p)
{
    p->alpha = cn_attr_float(n, "alpha", 0.01);
    return CN_OK;
}

static int read_elu(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p)
{
    p->alpha = cn_attr_float(n, "alpha", 1.0);
    return CN_OK;
}

static int read_hard_sigmoid(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p)
{
    p->alpha = cn_attr_float(n, "alpha", 0.2);
    p->beta = cn_attr_float(n, "beta", 0.5);
    return CN_OK;
}

static int read_gelu(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p)
{
    const char *a = cn_attr_string(n, "approximate", "none");
    if (strcmp(a, "none") != 0 && strcmp(a, "tanh") != 0)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "approximate=\"%s\" (expected \"none\" or \"tanh\")", a);
    p->tanh_approx = strcmp(a, "tanh") == 0;
    return CN_OK;
}

static int read_selu(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p)
{
    p->alpha = cn_attr_float(n, "alpha", 1.67326319217681884765625);
    p->beta = cn_attr_float(n, "gamma", 1.05070102214813232421875);
    return CN_OK;
}
static int read_alpha_one(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p)
{
    p->alpha = cn_attr_float(n, "alpha", 1.0);
    return CN_OK;
}
/* a bound of an int64 Clip, read as an integer: through cn_input_scalar's double it would be exact only up
 * to 2^53 */
static int int_bound(cn_graph *g, cn_node *n, int i, int64_t def, int64_t *out)
{
    int64_t v[1];
    int count, rc = cn_input_ints(g, n, i, v, 1, &count);
    if (rc) return rc;
    if (count == 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %d of Clip is empty", i);
    *out = count < 0 ? def : v[0];
    return CN_OK;
}

/* opset 11 moved min and max from attributes to optional inputs; either may be left out */
static int read_clip(cn_graph *g, cn_node *n, const cn_tensor *x, unary_params *p)
{
    p->ilo = INT64_MIN;
    p->ihi = INT64_MAX;
    if (g->opset < 11) { /* float only then */
        p->lo = cn_attr_float(n, "min", -INFINITY);
        p->hi = cn_attr_float(n, "max", INFINITY);
        return CN_OK;
    }
    int rc;
    if (x->dtype == CN_T_INT64) {
        if ((rc = int_bound(g, n, 1, INT64_MIN, &p->ilo))) return rc;
        return int_bound(g, n, 2, INT64_MAX, &p->ihi);
    }
    if ((rc = cn_input_scalar(g, n, 1, -INFINITY, &p->lo))) return rc;
    return cn_input_scalar(g, n, 2, INFINITY, &p->hi);
}

/* ------------------------------------------------------------------ int64 kernels (no tangent) */

/* through unsigned arithmetic: -INT64_MIN wraps as two's complement instead of being undefined */
static void int_neg(size_t n, const int64_t *x, int64_t *y)
{
    for (size_t i = 0; i < n; i++) y[i] = (int64_t)(0u - (uint64_t)x[i]);
}

static void int_abs(size_t n, const int64_t *x, int64_t *y)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0 ? (int64_t)(0u - (uint64_t)x[i]) : x[i];
}

static void int_clip(size_t n, const int64_t *x, int64_t *y, int64_t lo, int64_t hi)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

/* ------------------------------------------------------------------ the activations */

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

/* log(1 + e^x) without overflow for large x */
static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }

static double gelu_value(double z, int tanh_approx)
{
    if (tanh_approx) return 0.5 * z * (1.0 + tanh(SQRT_2_OVER_PI * (z + GELU_CUBIC * z * z * z)));
    return 0.5 * z * (1.0 + erf(z * SQRT1_2));
}

static double gelu_slope(double z, int tanh_approx)
{
    if (tanh_approx) {
        double th = tanh(SQRT_2_OVER_PI * (z + GELU_CUBIC * z * z * z));
        return 0.5 * (1.0 + th) + 0.5 * z * (1.0 - th * th) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * z * z);
    }
    return 0.5 * (1.0 + erf(z * SQRT1_2)) + z * INV_SQRT_2PI * exp(-0.5 * z * z);
}

/* GELU's second derivative: exact, phi(x) (2 - x^2) with phi the normal density; tanh form, differentiated
 * from its slope: with u = c (x + a x^3) and th = tanh u, slope = (1 + th)/2 + x (1 - th^2) u' / 2 */
static double gelu_curvature(double z, int tanh_approx)
{
    if (!tanh_approx) return INV_SQRT_2PI * exp(-0.5 * z * z) * (2.0 - z * z);
    const double u = SQRT_2_OVER_PI * (z + GELU_CUBIC * z * z * z), th = tanh(u), sech2 = 1.0 - th * th;
    const double du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * z * z), d2u = SQRT_2_OVER_PI * 6.0 * GELU_CUBIC * z;
    return sech2 * du - z * th * sech2 * du * du + 0.5 * z * sech2 * d2u;
}

/* LeakyRelu as selections against 0 plus one product taken whatever the sign: GCC does not if-convert a
 * product that sits in a branch (it might trap), so `x < 0 ? alpha * x : x` left the loop scalar. Exact, as
 * one of the two terms is always 0; x < 0 lets a NaN through. */
static inline cn_real leaky_value(cn_real x, double alpha)
{
    return (x < 0 ? 0 : x) + (cn_real)alpha * (x < 0 ? x : 0);
}

static inline cn_real leaky_tangent(cn_real x, cn_real t, double alpha)
{
    return (x > 0 ? t : 0) + (cn_real)alpha * (x > 0 ? 0 : t);
}

/* comparisons rather than fmin/fmax so that a NaN input stays NaN, as torch.clamp; selections only, in the
 * scalar type, so that the loops vectorise */
static inline cn_real clamp_real(cn_real z, cn_real lo, cn_real hi) { return z < lo ? lo : z > hi ? hi : z; }

static inline cn_real hard_sigmoid_value(cn_real z, const unary_params *p)
{
    return clamp_real((cn_real)p->alpha * z + (cn_real)p->beta, 0, 1);
}

static inline cn_real hard_swish_value(cn_real z) { return z * clamp_real(z / 6 + (cn_real)0.5, 0, 1); }

/* x < 0 rather than x > 0 so that a NaN passes, as torch.relu */
DEFINE_UNARY(Relu, x < 0 ? 0 : x, X > 0 ? t : 0, NULL, NULL)
DEFINE_UNARY(LeakyRelu, leaky_value(x, p->alpha), leaky_tangent(in[i], t, p->alpha), NULL, read_leaky)
DEFINE_SMOOTH_UNARY(Elu, x > 0 ? x : p->alpha * cn_real_expm1(x), X > 0 ? t : p->alpha * exp(X) * t, X > 0 ? 0 : p->alpha * exp(X), NULL, read_elu)
DEFINE_SMOOTH_UNARY(Sigmoid, 1 / (1 + cn_real_exp(-x)), Y * (1.0 - Y) * t, Y * (1.0 - Y) * (1.0 - 2.0 * Y), NULL, NULL)
DEFINE_UNARY(HardSigmoid, hard_sigmoid_value(x, p),
             (p->alpha * X + p->beta > 0 && p->alpha * X + p->beta < 1) ? p->alpha * t : 0, NULL,
             read_hard_sigmoid)
DEFINE_SMOOTH_UNARY(HardSwish, hard_swish_value(x), X < -3 ? 0 : X <= 3 ? (X / 3.0 + 0.5) * t : t, X > -3 && X < 3 ? 1.0 / 3.0 : 0, NULL, NULL)
DEFINE_SMOOTH_UNARY(Tanh, tanh(x), (1.0 - Y * Y) * t, -2.0 * Y * (1.0 - Y * Y), NULL, NULL)
DEFINE_SMOOTH_UNARY(Erf, erf(x), INV_SQRT_PI_2 * exp(-X * X) * t, -2.0 * X * INV_SQRT_PI_2 * exp(-X * X), NULL, NULL)
DEFINE_SMOOTH_UNARY(Sqrt, sqrt(x), 0.5 * t / Y, -0.25 / (Y * Y * Y), NULL, NULL)
DEFINE_SMOOTH_UNARY(Exp, cn_real_exp(x), Y * t, Y, NULL, NULL)
DEFINE_SMOOTH_UNARY(Log, log(x), t / X, -1.0 / (X * X), NULL, NULL)
DEFINE_UNARY(Neg, -x, -t, int_neg, NULL)
DEFINE_UNARY(Abs, fabs(x), X > 0 ? t : X < 0 ? -t : 0, int_abs, NULL)
DEFINE_SMOOTH_UNARY(Reciprocal, 1.0 / x, -(Y * Y) * t, 2.0 * Y * Y * Y, NULL, NULL)
/* Selu: gamma (beta here) times an Elu of alpha; Celu: an Elu continuous in alpha; ThresholdedRelu: x above
 * alpha, else 0; Softsign: x / (1 + |x|) */
DEFINE_SMOOTH_UNARY(Selu, p->beta * (x > 0 ? x : p->alpha * cn_real_expm1(x)),
             X > 0 ? p->beta * t : p->beta * p->alpha * exp(X) * t, X > 0 ? 0 : p->beta * p->alpha * exp(X), NULL, read_selu)
DEFINE_SMOOTH_UNARY(Celu, x > 0 ? x : p->alpha * expm1(x / p->alpha), X > 0 ? t : exp(X / p->alpha) * t, X > 0 ? 0 : exp(X / p->alpha) / p->alpha, NULL,
             read_alpha_one)
DEFINE_UNARY(ThresholdedRelu, x > p->alpha ? x : 0, X > p->alpha ? t : 0, NULL, read_alpha_one)
DEFINE_SMOOTH_UNARY(Softsign, x / (1 + fabs(x)), t / ((1 + fabs(X)) * (1 + fabs(X))), (X > 0 ? -2.0 : X < 0 ? 2.0 : 0) / ((1 + fabs(X)) * (1 + fabs(X)) * (1 + fabs(X))), NULL, NULL)
/* the trigonometric and hyperbolic functions and their inverses */
DEFINE_SMOOTH_UNARY(Sin, sin(x), cos(X) * t, -Y, NULL, NULL)
DEFINE_SMOOTH_UNARY(Cos, cos(x), -sin(X) * t, -Y, NULL, NULL)
DEFINE_SMOOTH_UNARY(Tan, tan(x), (1.0 + Y * Y) * t, 2.0 * Y * (1.0 + Y * Y), NULL, NULL)
DEFINE_SMOOTH_UNARY(Asin, asin(x), t / sqrt(1.0 - X * X), X / pow(1.0 - X * X, 1.5), NULL, NULL)
DEFINE_SMOOTH_UNARY(Acos, acos(x), -t / sqrt(1.0 - X * X), -X / pow(1.0 - X * X, 1.5), NULL, NULL)
DEFINE_SMOOTH_UNARY(Atan, atan(x), t / (1.0 + X * X), -2.0 * X / ((1.0 + X * X) * (1.0 + X * X)), NULL, NULL)
DEFINE_SMOOTH_UNARY(Sinh, sinh(x), cosh(X) * t, Y, NULL, NULL)
DEFINE_SMOOTH_UNARY(Cosh, cosh(x), sinh(X) * t, Y, NULL, NULL)
DEFINE_SMOOTH_UNARY(Asinh, asinh(x), t / sqrt(X * X + 1.0), -X / pow(X * X + 1.0, 1.5), NULL, NULL)
DEFINE_SMOOTH_UNARY(Acosh, acosh(x), t / sqrt(X * X - 1.0), -X / pow(X * X - 1.0, 1.5), NULL, NULL)
DEFINE_SMOOTH_UNARY(Atanh, atanh(x), t / (1.0 - X * X), 2.0 * X / ((1.0 - X * X) * (1.0 - X * X)), NULL, NULL)
DEFINE_SMOOTH_UNARY(Softplus, softplus(x), sigmoid(X) * t, sigmoid(X) * (1.0 - sigmoid(X)), NULL, NULL)
DEFINE_SMOOTH_UNARY(Gelu, gelu_value(x, p->tanh_approx), gelu_slope(X, p->tanh_approx) * t, gelu_curvature(X, p->tanh_approx), NULL, read_gelu)

/* ------------------------------------------------------------------ Clip: float or int64 */

static void clip_values(size_t n, const cn_real *in, cn_real *out, const unary_params *p)
{
    /* bounds beyond the scalar type's range become infinities, which clamp the same */
    const cn_real lo = (cn_real)p->lo, hi = (cn_real)p->hi;
    CN_SIMD for (size_t i = 0; i < n; i++) out[i] = clamp_real(in[i], lo, hi);
}

static void clip_tangents(size_t n, const cn_real *in, const cn_real *out, const cn_real *tin, cn_real *tout,
                          const unary_params *p)
{
    const cn_real lo = (cn_real)p->lo, hi = (cn_real)p->hi;
    /* & rather than &&, and the tangent loaded whatever the test: a branch would keep the loop scalar */
    CN_SIMD for (size_t i = 0; i < n; i++) {
        const cn_real x = in[i], t = tin[i];
        tout[i] = ((x >= lo) & (x <= hi)) ? t : 0;
    }
}

static int clip_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *x, *y;
    unary_params p = {0};
    int rc = single_input(g, n, &x, &y);
    if (rc) return rc;
    if (x->dtype != CN_T_FLOAT && x->dtype != CN_T_INT64)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs a float or int64 tensor, got %s", cn_dtype_label(x->dtype));
    if ((rc = read_clip(g, n, x, &p))) return rc;
    if ((rc = cn_tensor_set_shape(g, n, y, x->dtype, x->ndim, x->dims))) return rc;
    if (x->dtype == CN_T_FLOAT) clip_values(cn_tensor_numel(x), x->data, y->data, &p);
    else int_clip(cn_tensor_numel(x), x->data, y->data, p.ilo, p.ihi);
    return CN_OK;
}

static int clip_jvp(cn_graph *g, cn_node *n) { return unary_jvp(g, n, clip_tangents, read_clip); }
static int clip_vjp(cn_graph *g, cn_node *n) { return unary_vjp(g, n, clip_tangents, read_clip); }

/* the bounds are not trained */
const cn_op cn_op_Clip = {.name = "Clip", .forward = clip_forward, .jvp = clip_jvp, .vjp = clip_vjp, .frozen_in = 0x6, .tangent_rule = CN_TANGENT_LINEAR};

#undef X
#undef Y

/* ------------------------------------------------------------------ Identity, Dropout (inference) */

static int copy_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *x, *y;
    int rc = single_input(g, n, &x, &y);
    if (rc) return rc;
    if ((rc = cn_tensor_set_shape(g, n, y, x->dtype, x->ndim, x->dims))) return rc;
    size_t elem = x->dtype == CN_T_FLOAT ? sizeof(cn_real) : sizeof(int64_t);
    if (cn_tensor_numel(x)) memcpy(y->data, x->data, cn_tensor_numel(x) * elem);
    return CN_OK;
}

/* the output's tangent is the input's: shared by Identity and a float-to-float Cast */
static int copy_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    const cn_real *t = cn_node_in_tan(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    size_t count = cn_tensor_numel(y);
    if (t) memcpy(y->tan, t, count * sizeof(cn_real));
    else memset(y->tan, 0, count * sizeof(cn_real));
    return CN_OK;
}

/* the input's gradient gains the output's: Identity and a float-to-float Cast */
static int copy_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    if (!y || !gx || !gy) return CN_OK;
    size_t count = cn_tensor_numel(y);
    CN_SIMD for (size_t i = 0; i < count; i++) gx[i] += gy[i];
    return CN_OK;
}

const cn_op cn_op_Identity = {.name = "Identity", .forward = copy_forward, .jvp = copy_jvp, .vjp = copy_vjp, .tangent_rule = CN_TANGENT_LINEAR};

/* Dropout: the identity at inference. In a training forward with the run's RNG (g->rng, which the trainer sets
 * as it does for the native dropout layer) it keeps each value with probability 1 - ratio and scales the kept
 * ones by 1 / (1 - ratio), drawing one uniform per value in order, exactly as layers/dropout.c: a lowered
 * native net draws the same mask. The mask stays in the node's scratch for the jvp and the vjp. Its mask output
 * and training_mode=true at inference are refused. */
typedef struct {
    int masked; /* the last forward applied a mask */
    double scale;
} dropout_record;

static dropout_record *dropout_scratch(cn_graph *g, cn_node *n, size_t count, uint8_t **keep)
{
    const size_t head = (sizeof(dropout_record) + 15) / 16 * 16;
    char *s = cn_node_scratch(g, n, head + (count ? count : 1));
    if (!s) return NULL;
    *keep = (uint8_t *)s + head;
    return (dropout_record *)s;
}

static int dropout_forward(cn_graph *g, cn_node *n)
{
    if (n->nout > 1 && n->out[1] >= 0)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the mask output of Dropout is not supported");
    const cn_tensor *mode = cn_node_in(g, n, 2);
    if (mode && mode->data && mode->dtype != CN_T_FLOAT && cn_tensor_numel(mode) == 1 &&
        ((const int64_t *)mode->data)[0] != 0)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "Dropout in training mode is not supported");
    double ratio = cn_attr_float(n, "ratio", 0.5); /* an attribute before opset 12, an input since */
    int rc = cn_input_scalar(g, n, 1, ratio, &ratio);
    if (rc) return rc;
    if (!(ratio >= 0 && ratio < 1)) return cn_node_fail(g, n, CN_ERR_FORMAT, "ratio %g is not in [0, 1)", ratio);
    if ((rc = copy_forward(g, n))) return rc;
    cn_tensor *y = cn_node_out(g, n, 0);
    const size_t count = cn_tensor_numel(y);
    uint8_t *keep;
    dropout_record *r = dropout_scratch(g, n, count, &keep);
    if (!r) return CN_ERR_NOMEM;
    r->masked = g->train && g->rng && ratio > 0 && y->dtype == CN_T_FLOAT;
    r->scale = 1.0 / (1.0 - ratio);
    if (!r->masked) return CN_OK;
    cn_real *v = y->data;
    const cn_real scale = (cn_real)r->scale;
    for (size_t i = 0; i < count; i++) {
        keep[i] = cn_rng_uniform(g->rng) >= ratio;
        v[i] = keep[i] ? v[i] * scale : 0;
    }
    return CN_OK;
}

/* out += mask * scale * in (add) or out = the same (copy), or plain in where no mask was applied */
static int dropout_apply(cn_graph *g, cn_node *n, const cn_real *in, cn_real *out, int add)
{
    const size_t count = cn_tensor_numel(cn_node_out(g, n, 0));
    uint8_t *keep;
    dropout_record *r = dropout_scratch(g, n, count, &keep); /* the forward's, as it left it */
    if (!r) return CN_ERR_NOMEM;
    const cn_real scale = (cn_real)r->scale;
    for (size_t i = 0; i < count; i++) {
        const cn_real v = !r->masked ? in[i] : keep[i] ? in[i] * scale : 0;
        out[i] = add ? out[i] + v : v;
    }
    return CN_OK;
}

static int dropout_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    const cn_real *t = cn_node_in_tan(g, n, 0);
    if (!y || !y->tan) return CN_OK;
    if (!t) {
        memset(y->tan, 0, cn_tensor_numel(y) * sizeof(cn_real));
        return CN_OK;
    }
    return dropout_apply(g, n, t, y->tan, 0);
}

static int dropout_vjp(cn_graph *g, cn_node *n)
{
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    return gx && gy ? dropout_apply(g, n, gy, gx, 1) : CN_OK;
}

const cn_op cn_op_Dropout = {.name = "Dropout", .forward = dropout_forward, .jvp = dropout_jvp, .vjp = dropout_vjp,
                             .frozen_in = 0x6, .tangent_rule = CN_TANGENT_LINEAR};

/* ------------------------------------------------------------------ Cast */

enum { ONNX_FLOAT = 1, ONNX_INT32 = 6, ONNX_INT64 = 7, ONNX_BOOL = 9, ONNX_DOUBLE = 11 };

/* the storage type of an ONNX TensorProto type: int32 is widened, double narrowed to cn_real; 0 if unsupported */
static int cast_target(int64_t onnx_type)
{
    switch (onnx_type) {
    case ONNX_FLOAT: case ONNX_DOUBLE: return CN_T_FLOAT;
    case ONNX_INT32: case ONNX_INT64: return CN_T_INT64;
    case ONNX_BOOL: return CN_T_BOOL;
    default: return 0;
    }
}

/* float to integer truncates toward zero (a C cast); a value an int64 cannot hold would make that cast
 * undefined, so it is refused */
static int cast_float_to_int(cn_graph *g, cn_node *n, size_t count, const cn_real *x, int64_t *y, int to_bool)
{
    for (size_t i = 0; i < count; i++) {
        if (to_bool) {
            y[i] = x[i] != 0; /* NaN is true, as numpy */
            continue;
        }
        if (!(x[i] >= -9223372036854775808.0 && x[i] < 9223372036854775808.0))
            return cn_node_fail(g, n, CN_ERR_NONFINITE, "cannot cast %g to int64", (double)x[i]);
        y[i] = (int64_t)x[i];
    }
    return CN_OK;
}

static int cast_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *x, *y;
    int rc = single_input(g, n, &x, &y);
    if (rc) return rc;
    int64_t to = cn_attr_int(n, "to", -1);
    int dtype = cast_target(to);
    if (!dtype)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "Cast to ONNX type %lld (supported: 1 float, 6 int32, "
                            "7 int64, 9 bool, 11 double)", (long long)to);
    if ((rc = cn_tensor_set_shape(g, n, y, dtype, x->ndim, x->dims))) return rc;
    size_t count = cn_tensor_numel(x);
    const int from_float = x->dtype == CN_T_FLOAT;
    if (dtype == CN_T_FLOAT && from_float) {
        if (count) memcpy(y->data, x->data, count * sizeof(cn_real));
    } else if (dtype == CN_T_FLOAT) {
        const int64_t *s = x->data;
        cn_real *d = y->data;
        for (size_t i = 0; i < count; i++) d[i] = (cn_real)s[i];
    } else if (from_float) {
        return cast_float_to_int(g, n, count, x->data, y->data, dtype == CN_T_BOOL);
    } else {
        const int64_t *s = x->data;
        int64_t *d = y->data;
        for (size_t i = 0; i < count; i++) d[i] = dtype == CN_T_BOOL ? s[i] != 0 : s[i];
    }
    return CN_OK;
}

/* only a float output can be active, and then the input was float too (an int64 one never is): the tangent
 * passes through, or is zero */
const cn_op cn_op_Cast = {.name = "Cast", .forward = cast_forward, .jvp = copy_jvp, .vjp = copy_vjp, .tangent_rule = CN_TANGENT_LINEAR};
