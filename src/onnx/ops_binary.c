/* ops_binary.c: the elementwise operators of two or more inputs with ONNX (numpy) broadcasting: Add, Sub,
 * Mul, Div, Pow on float and on int64 (the shape arithmetic torch.onnx.export writes), PRelu (float, its
 * slope broadcast to the input), the comparisons
 * Equal, Less, Greater (bool out), Where, and the variadic Max and Min.
 *
 * Every op walks the rows of one broadcast plan (broadcast.h): merged axes, with a contiguous inner loop in
 * which each operand's step is 0 or 1. A row kernel is one expression expanded four times, once per pair of
 * steps, with the steps as compile-time constants so that each copy vectorises; equal shapes, a scalar
 * operand and the per-channel (N,C,H,W) op (N,C,1,1) cases all reach those loops through the merge. The
 * tangents of the inputs broadcast with the same plan as their values, and an inactive input (a NULL
 * tangent) gets its own expression with that term left out rather than multiplied by zero, so that an
 * infinite value times a zero tangent cannot turn a tangent into NaN.
 *
 * Integer arithmetic wraps (through uint64_t) instead of being undefined on overflow; integer division
 * truncates toward zero, as ONNX, and a zero divisor is an error. Max and Min follow torch.maximum and
 * torch.minimum: a NaN wins, and at a tie the tangent is the mean of the two inputs' tangents (torch's
 * forward-mode formula); with more than two inputs they fold left to right.
 */
#include <math.h>
#include <string.h>
#include "onnx/broadcast.h"
#include "onnx/graph.h"

typedef void (*row_fn)(size_t n, const void *a, int sa, const void *b, int sb, void *o);

/* BODY once per pair of inner steps (sa, sb in {0,1}); SA and SB are constants inside, i the index */
#define FOR_STEPS(n, sa, sb, ...)                                                                              \
    do {                                                                                                       \
        if ((sa) && (sb)) {                                                                                    \
            enum { SA = 1, SB = 1 };                                                                           \
            CN_SIMD for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                           \
        } else if (sa) {                                                                                       \
            enum { SA = 1, SB = 0 };                                                                           \
            CN_SIMD for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                           \
        } else if (sb) {                                                                                       \
            enum { SA = 0, SB = 1 };                                                                           \
            CN_SIMD for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                           \
        } else {                                                                                               \
            enum { SA = 0, SB = 0 };                                                                           \
            CN_SIMD for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                           \
        }                                                                                                      \
    } while (0)

/* a row kernel from an expression in x (from a) and y (from b) */
#define ROWS(NAME, T, TO, EXPR)                                                                                \
    static void NAME(size_t n, const void *pa, int sa, const void *pb, int sb, void *po)                     \
    {                                                                                                          \
        const T *a = pa, *b = pb;                                                                              \
        TO *o = po;                                                                                            \
        FOR_STEPS(n, sa, sb, const T x = a[i * SA]; const T y = b[i * SB]; o[i] = (TO)(EXPR););               \
    }

/* ------------------------------------------------------------------ scalar helpers */

static inline int64_t wrap_add(int64_t x, int64_t y) { return (int64_t)((uint64_t)x + (uint64_t)y); }
static inline int64_t wrap_sub(int64_t x, int64_t y) { return (int64_t)((uint64_t)x - (uint64_t)y); }
static inline int64_t wrap_mul(int64_t x, int64_t y) { return (int64_t)((uint64_t)x * (uint64_t)y); }

/* y != 0 (checked before); INT64_MIN / -1 would overflow */
static inline int64_t int_div(int64_t x, int64_t y) { return y == -1 ? wrap_sub(0, x) : x / y; }

/* by squaring; a negative exponent truncates 1/x^|y| toward zero */
static inline int64_t int_pow(int64_t x, int64_t y)
{
    if (y < 0) return x == 1 ? 1 : x == -1 ? ((y & 1) ? -1 : 1) : 0;
    int64_t r = 1;
    for (; y; y >>= 1, x = wrap_mul(x, x))
        if (y & 1) r = wrap_mul(r, x);
    return r;
}

/* x*x for the squares every exported variance has, exact and cheaper than pow */
static inline double real_pow(double x, double y) { return y == 2 ? x * x : pow(x, y); }

/* ------------------------------------------------------------------ row kernels */

ROWS(add_real, cn_real, cn_real, x + y)
ROWS(sub_real, cn_real, cn_real, x - y)
ROWS(mul_real, cn_real, cn_real, x * y)
ROWS(div_real, cn_real, cn_real, x / y)
ROWS(pow_real, cn_real, cn_real, real_pow(x, y))
ROWS(add_int, int64_t, int64_t, wrap_add(x, y))
ROWS(sub_int, int64_t, int64_t, wrap_sub(x, y))
ROWS(mul_int, int64_t, int64_t, wrap_mul(x, y))
ROWS(div_int, int64_t, int64_t, int_div(x, y))
ROWS(pow_int, int64_t, int64_t, int_pow(x, y))
ROWS(equal_real, cn_real, int64_t, x == y)
ROWS(less_real, cn_real, int64_t, x < y)
ROWS(greater_real, cn_real, int64_t, x > y)
ROWS(equal_int, int64_t, int64_t, x == y)
ROWS(less_int, int64_t, int64_t, x < y)
ROWS(greater_int, int64_t, int64_t, x > y)
/* x != x: a NaN in either input propagates, as torch.maximum */
ROWS(max_real, cn_real, cn_real, (x > y || x != x) ? x : y)
ROWS(min_real, cn_real, cn_real, (x < y || x != x) ? x : y)
ROWS(max_int, int64_t, int64_t, x > y ? x : y)
/* PRelu: x where x >= 0, slope * x below (x < 0 lets a NaN through) */
ROWS(prelu_real, cn_real, cn_real, x < 0 ? x * y : x)
ROWS(min_int, int64_t, int64_t, x < y ? x : y)

/* ------------------------------------------------------------------ tangent kernels */

typedef struct {
    const cn_real *a, *b, *ta, *tb, *z; /* inputs, their tangents (NULL: zero), the output */
    cn_real *t;                         /* the output's tangent */
} jvp_row;

typedef void (*jvp_fn)(size_t n, int sa, int sb, const jvp_row *r);

#define X ((double)a[i * SA])
#define Y ((double)b[i * SB])
#define Z ((double)z[i])
#define TX ((double)ta[i * SA])
#define TY ((double)tb[i * SB])

/* a tangent kernel from three expressions: both inputs active, only a, only b */
#define JVP_ROWS(NAME, BOTH, ONLY_A, ONLY_B)                                                                   \
    static void NAME(size_t n, int sa, int sb, const jvp_row *r)                                               \
    {                                                                                                          \
        const cn_real *a = r->a, *b = r->b, *ta = r->ta, *tb = r->tb, *z = r->z;                               \
        cn_real *t = r->t;                                                                                     \
        (void)a, (void)b, (void)z;                                                                             \
        if (ta && tb) FOR_STEPS(n, sa, sb, t[i] = (cn_real)(BOTH););                                           \
        else if (ta) FOR_STEPS(n, sa, sb, t[i] = (cn_real)(ONLY_A););                                          \
        else FOR_STEPS(n, sa, sb, t[i] = (cn_real)(ONLY_B););                                                  \
    }

/* torch's pow_backward_self and pow_backward_exponent: a zero exponent gives no tangent through the base
 * (even at base 0), and a zero base with a non-negative exponent none through the exponent */
#define POW_DX (Y == 0 ? 0 : Y * pow(X, Y - 1) * TX)
#define POW_DY ((X == 0 && Y >= 0) ? 0 : Z * log(X) * TY)

/* each op's partial derivatives as tangents of one input, the other's left out */
#define ADD_A TX
#define ADD_B TY
#define SUB_A TX
#define SUB_B (-TY)
#define MUL_A (TX * Y)
#define MUL_B (X * TY)
/* d(a/b) = (ta - (a/b) tb) / b, from the stored quotient as torch's formula */
#define DIV_A (TX / Y)
#define DIV_B (-(Z * TY) / Y)

/* PRelu as torch's prelu backward: the slope's side at 0 gets the tangent through the slope */
#define PRELU_A (X > 0 ? TX : Y * TX)
#define PRELU_B (X > 0 ? 0 : X * TY)

JVP_ROWS(add_jvp, TX + TY, ADD_A, ADD_B)
JVP_ROWS(prelu_jvp, PRELU_A + PRELU_B, PRELU_A, PRELU_B)
JVP_ROWS(sub_jvp, TX - TY, SUB_A, SUB_B)
JVP_ROWS(mul_jvp, TX * Y + X * TY, MUL_A, MUL_B)
JVP_ROWS(div_jvp, (TX - Z * TY) / Y, DIV_A, DIV_B)
JVP_ROWS(pow_jvp, POW_DX + POW_DY, POW_DX, POW_DY)

#undef TX
#undef TY

/* ------------------------------------------------------------------ gradient kernels */

typedef struct {
    const cn_real *a, *b, *z, *dz; /* inputs, the output and its gradient */
    cn_real *ga, *gb;              /* the inputs' gradients to add to (NULL: none wanted) */
} vjp_row;

typedef void (*vjp_fn)(size_t n, int sa, int sb, const vjp_row *r);

/* Each partial is linear in its tangent, so the transpose of the row's Jacobian is the same expression with
 * the output's gradient in place of the tangent. An input broadcast along the row (step 0) sums the row into
 * one element: the loops carry no simd pragma, as their lanes would then write the same place. */
#define TX ((double)dz[i])
#define TY ((double)dz[i])
#define VJP_STEPS(n, sa, sb, ...)                                                                              \
    do {                                                                                                       \
        if ((sa) && (sb)) {                                                                                    \
            enum { SA = 1, SB = 1 };                                                                           \
            for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                                   \
        } else if (sa) {                                                                                       \
            enum { SA = 1, SB = 0 };                                                                           \
            for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                                   \
        } else if (sb) {                                                                                       \
            enum { SA = 0, SB = 1 };                                                                           \
            for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                                   \
        } else {                                                                                               \
            enum { SA = 0, SB = 0 };                                                                           \
            for (size_t i = 0; i < (n); i++) { __VA_ARGS__ }                                                   \
        }                                                                                                      \
    } while (0)
#define VJP_ROWS(NAME, PART_A, PART_B)                                                                         \
    static void NAME(size_t n, int sa, int sb, const vjp_row *r)                                               \
    {                                                                                                          \
        const cn_real *a = r->a, *b = r->b, *z = r->z, *dz = r->dz;                                            \
        cn_real *ga = r->ga, *gb = r->gb;                                                                      \
        (void)a, (void)b, (void)z;                                                                             \
        if (ga) VJP_STEPS(n, sa, sb, ga[i * SA] += (cn_real)(PART_A););                                        \
        if (gb) VJP_STEPS(n, sa, sb, gb[i * SB] += (cn_real)(PART_B););                                        \
    }

VJP_ROWS(add_vjp_rows, ADD_A, ADD_B)
VJP_ROWS(prelu_vjp_rows, PRELU_A, PRELU_B)
VJP_ROWS(sub_vjp_rows, SUB_A, SUB_B)
VJP_ROWS(mul_vjp_rows, MUL_A, MUL_B)
VJP_ROWS(div_vjp_rows, DIV_A, DIV_B)
VJP_ROWS(pow_vjp_rows, POW_DX, POW_DY)

#undef X
#undef Y
#undef Z
#undef TX
#undef TY

/* ------------------------------------------------------------------ the two-input ops */

typedef struct {
    row_fn real, integer; /* float and int64 kernels; integer NULL: float only */
    jvp_fn jvp;           /* NULL for comparisons */
    vjp_fn vjp;
    int compare;          /* the output is bool whatever the inputs */
    int int_divides;      /* refuse a zero divisor */
    int int_exponent;     /* a float first input may meet an int64 second (Pow) */
} binary_kind;

static size_t elem_size(int dtype) { return dtype == CN_T_FLOAT ? sizeof(cn_real) : sizeof(int64_t); }

static int is_int(int dtype) { return dtype == CN_T_INT64 || dtype == CN_T_BOOL; }

static int two_inputs(cn_graph *g, cn_node *n, cn_tensor **a, cn_tensor **b, cn_tensor **y)
{
    *a = cn_node_in(g, n, 0);
    *b = cn_node_in(g, n, 1);
    *y = cn_node_out(g, n, 0);
    if (!*a || !*b) return cn_node_fail(g, n, CN_ERR_FORMAT, "needs two inputs");
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the output is missing");
    return CN_OK;
}

static int shapes_fail(cn_graph *g, cn_node *n, const cn_tensor *a, const cn_tensor *b)
{
    char sa[160], sb[160];
    return cn_node_fail(g, n, CN_ERR_FORMAT, "shapes %s and %s do not broadcast",
                        cn_shape_format(sa, sizeof sa, a->ndim, a->dims),
                        cn_shape_format(sb, sizeof sb, b->ndim, b->dims));
}

/* Pow allows an int64 exponent with a float base: it is read as cn_real from the node's scratch */
static const cn_real *real_data(cn_graph *g, cn_node *n, const cn_tensor *t)
{
    if (t->dtype == CN_T_FLOAT) return t->data;
    size_t count = cn_tensor_numel(t);
    cn_real *r = cn_node_scratch(g, n, count * sizeof(cn_real));
    if (!r) return NULL;
    const int64_t *v = t->data;
    for (size_t i = 0; i < count; i++) r[i] = (cn_real)v[i];
    return r;
}

static void run_rows(const cn_bcast *p, row_fn f, const void *a, size_t ea, const void *b, size_t eb, void *o,
                     size_t eo)
{
    const size_t inner = cn_bcast_inner(p), rows = cn_bcast_rows(p);
    const int sa = cn_bcast_inner_step(p, 0), sb = cn_bcast_inner_step(p, 1);
    cn_bcast_pos q;
    cn_bcast_start(p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(p, &q))
        f(inner, (const char *)a + q.off[0] * ea, sa, (const char *)b + q.off[1] * eb, sb,
          (char *)o + r * inner * eo);
}

static int has_zero(const cn_tensor *t)
{
    const int64_t *v = t->data;
    for (size_t i = 0, m = cn_tensor_numel(t); i < m; i++)
        if (v[i] == 0) return 1;
    return 0;
}

static int binary_forward(cn_graph *g, cn_node *n, const binary_kind *k)
{
    cn_tensor *a, *b, *y;
    int rc = two_inputs(g, n, &a, &b, &y);
    if (rc) return rc;
    const int ints = is_int(a->dtype) && is_int(b->dtype);
    const int float_base_int_exp = k->int_exponent && a->dtype == CN_T_FLOAT && is_int(b->dtype);
    if (!(a->dtype == CN_T_FLOAT && b->dtype == CN_T_FLOAT) && !(ints && k->integer) && !float_base_int_exp)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "inputs of types %s and %s are not supported",
                            cn_dtype_label(a->dtype), cn_dtype_label(b->dtype));
    int ndim;
    int64_t dims[CN_ONNX_MAX_DIMS];
    const cn_tensor *ab[2] = {a, b};
    if (cn_bcast_tensors(2, ab, &ndim, dims)) return shapes_fail(g, n, a, b);
    const int dtype = k->compare ? CN_T_BOOL : ints ? CN_T_INT64 : CN_T_FLOAT;
    if ((rc = cn_tensor_set_shape(g, n, y, dtype, ndim, dims))) return rc;
    if (cn_tensor_numel(y) == 0) return CN_OK;
    if (ints && k->int_divides && has_zero(b)) return cn_node_fail(g, n, CN_ERR_ARG, "integer division by zero");
    const void *bdata = b->data;
    if (float_base_int_exp && !(bdata = real_data(g, n, b))) return CN_ERR_NOMEM;
    cn_bcast p;
    cn_bcast_plan_tensors(&p, ndim, dims, 2, ab);
    const size_t ea = ints ? sizeof(int64_t) : sizeof(cn_real);
    run_rows(&p, ints ? k->integer : k->real, a->data, ea, bdata, ea, y->data, elem_size(dtype));
    return CN_OK;
}

static int binary_jvp(cn_graph *g, cn_node *n, const binary_kind *k)
{
    cn_tensor *a, *b, *y;
    int rc = two_inputs(g, n, &a, &b, &y);
    if (rc) return rc;
    jvp_row args = {.a = a->data, .ta = cn_node_in_tan(g, n, 0), .tb = cn_node_in_tan(g, n, 1), .z = y->data};
    const size_t count = cn_tensor_numel(y);
    if (!args.ta && !args.tb) {
        memset(y->tan, 0, count * sizeof(cn_real));
        return CN_OK;
    }
    if (count == 0) return CN_OK;
    if (!(args.b = real_data(g, n, b))) return CN_ERR_NOMEM;
    const cn_tensor *ab[2] = {a, b};
    cn_bcast p;
    cn_bcast_plan_tensors(&p, y->ndim, y->dims, 2, ab);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sa = cn_bcast_inner_step(&p, 0), sb = cn_bcast_inner_step(&p, 1);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
        jvp_row row = {
            .a = (const cn_real *)a->data + q.off[0],
            .b = args.b + q.off[1],
            .ta = args.ta ? args.ta + q.off[0] : NULL,
            .tb = args.tb ? args.tb + q.off[1] : NULL,
            .z = args.z + r * inner,
            .t = y->tan + r * inner,
        };
        k->jvp(inner, sa, sb, &row);
    }
    return CN_OK;
}

/* adds each input's share of the output's gradient, walking the forward's broadcast plan */
static int binary_vjp(cn_graph *g, cn_node *n, const binary_kind *k)
{
    cn_tensor *a, *b, *y;
    int rc = two_inputs(g, n, &a, &b, &y);
    if (rc) return rc;
    vjp_row args = {.a = a->data, .z = y->data, .dz = cn_node_out_grad(g, n, 0), .ga = cn_node_in_grad(g, n, 0),
                    .gb = b->dtype == CN_T_FLOAT ? cn_node_in_grad(g, n, 1) : NULL};
    const size_t count = cn_tensor_numel(y);
    if (!args.dz || (!args.ga && !args.gb) || count == 0) return CN_OK;
    if (!(args.b = real_data(g, n, b))) return CN_ERR_NOMEM;
    const cn_tensor *ab[2] = {a, b};
    cn_bcast p;
    cn_bcast_plan_tensors(&p, y->ndim, y->dims, 2, ab);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sa = cn_bcast_inner_step(&p, 0), sb = cn_bcast_inner_step(&p, 1);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
        vjp_row row = {
            .a = (const cn_real *)a->data + q.off[0],
            .b = args.b + q.off[1],
            .z = args.z + r * inner,
            .dz = args.dz + r * inner,
            .ga = args.ga ? args.ga + q.off[0] : NULL,
            .gb = args.gb ? args.gb + q.off[1] : NULL,
        };
        k->vjp(inner, sa, sb, &row);
    }
    return CN_OK;
}

/* ------------------------------------------------------------------ the reverse of the jvp (Mul, Div) */

/* One row of the reverse of u = d(op)(a, b)[ta, tb] for the cotangent gu of u: the tangents' cotangents gta,
 * gtb, and the values' grads ga, gb (second-order terms); any pointer but a, b, z, gu may be NULL. */
typedef struct {
    const cn_real *a, *b, *z, *ta, *tb, *gu;
    cn_real *gta, *gtb, *ga, *gb;
} reverse_row;

/* Mul, u = ta b + a tb: gta = gu b, gtb = gu a, ga = gu tb, gb = gu ta. The same tensor at both inputs (x * x)
 * needs nothing special: its shares add up. */
static void mul_reverse_rows(size_t n, int sa, int sb, const reverse_row *r)
{
    for (size_t i = 0; i < n; i++) {
        const size_t ia = i * (size_t)sa, ib = i * (size_t)sb;
        const double g = r->gu[i], ta = r->ta ? r->ta[ia] : 0, tb = r->tb ? r->tb[ib] : 0;
        if (r->gta) r->gta[ia] += (cn_real)(g * r->b[ib]);
        if (r->gtb) r->gtb[ib] += (cn_real)(g * r->a[ia]);
        if (r->ga) r->ga[ia] += (cn_real)(g * tb);
        if (r->gb) r->gb[ib] += (cn_real)(g * ta);
    }
}

/* Div, u = ta / b - z tb / b with z = a / b: gta = gu / b, gtb = -gu z / b, ga = -gu tb / b^2,
 * gb = -gu ta / b^2 + 2 gu z tb / b^2 */
static void div_reverse_rows(size_t n, int sa, int sb, const reverse_row *r)
{
    for (size_t i = 0; i < n; i++) {
        const size_t ia = i * (size_t)sa, ib = i * (size_t)sb;
        const double g = r->gu[i], b = r->b[ib], z = r->z[i], ta = r->ta ? r->ta[ia] : 0, tb = r->tb ? r->tb[ib] : 0;
        if (r->gta) r->gta[ia] += (cn_real)(g / b);
        if (r->gtb) r->gtb[ib] += (cn_real)(-g * z / b);
        if (r->ga) r->ga[ia] += (cn_real)(-g * tb / (b * b));
        if (r->gb) r->gb[ib] += (cn_real)((2 * g * z * tb - g * ta) / (b * b));
    }
}

/* PRelu, u = ta (a > 0) or b ta + a tb: piecewise bilinear, so gta = gu (or gu b), gtb = gu a, ga = gu tb and
 * gb = gu ta where a <= 0, nothing else */
static void prelu_reverse_rows(size_t n, int sa, int sb, const reverse_row *r)
{
    for (size_t i = 0; i < n; i++) {
        const size_t ia = i * (size_t)sa, ib = i * (size_t)sb;
        const double g = r->gu[i], a = r->a[ia], ta = r->ta ? r->ta[ia] : 0, tb = r->tb ? r->tb[ib] : 0;
        if (r->gta) r->gta[ia] += (cn_real)(a > 0 ? g : g * r->b[ib]);
        if (a > 0) continue;
        if (r->gtb) r->gtb[ib] += (cn_real)(g * a);
        if (r->ga) r->ga[ia] += (cn_real)(g * tb);
        if (r->gb) r->gb[ib] += (cn_real)(g * ta);
    }
}

typedef void (*reverse_fn)(size_t n, int sa, int sb, const reverse_row *r);

/* walks the forward's broadcast plan once per tangent; a weight (a parameter) at either input gets its share
 * through ga or gb like any value */
static int binary_jvp_vjp(cn_graph *g, cn_node *n, reverse_fn f)
{
    cn_tensor *a, *b, *y;
    int rc = two_inputs(g, n, &a, &b, &y);
    if (rc) return rc;
    const cn_real *gu = cn_node_out_gtan(g, n, 0);
    const size_t count = cn_tensor_numel(y), na = cn_tensor_numel(a), nb = cn_tensor_numel(b);
    if (!gu || count == 0) return CN_OK;
    const cn_real *bdata = real_data(g, n, b);
    if (!bdata) return CN_ERR_NOMEM;
    const cn_real *ta = cn_node_in_tan(g, n, 0), *tb = b->dtype == CN_T_FLOAT ? cn_node_in_tan(g, n, 1) : NULL;
    cn_real *gta = cn_node_in_gtan(g, n, 0), *gtb = b->dtype == CN_T_FLOAT ? cn_node_in_gtan(g, n, 1) : NULL;
    cn_real *ga = cn_node_in_grad(g, n, 0), *gb = b->dtype == CN_T_FLOAT ? cn_node_in_grad(g, n, 1) : NULL;
    const cn_tensor *ab[2] = {a, b};
    cn_bcast p;
    cn_bcast_plan_tensors(&p, y->ndim, y->dims, 2, ab);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sa = cn_bcast_inner_step(&p, 0), sb = cn_bcast_inner_step(&p, 1);
    for (int k = 0; k < g->run_k; k++) {
        const size_t ka = (size_t)k * na, kb = (size_t)k * nb, ky = (size_t)k * count;
        cn_bcast_pos q;
        cn_bcast_start(&p, &q);
        for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
            const size_t oa = q.off[0], ob = q.off[1];
            reverse_row row = {
                .a = (const cn_real *)a->data + oa, .b = bdata + ob, .z = (const cn_real *)y->data + r * inner,
                .ta = ta ? ta + ka + oa : NULL, .tb = tb ? tb + kb + ob : NULL, .gu = gu + ky + r * inner,
                .gta = gta ? gta + ka + oa : NULL, .gtb = gtb ? gtb + kb + ob : NULL,
                .ga = ga ? ga + oa : NULL, .gb = gb ? gb + ob : NULL,
            };
            f(inner, sa, sb, &row);
        }
    }
    return CN_OK;
}

static int mul_jvp_vjp(cn_graph *g, cn_node *n) { return binary_jvp_vjp(g, n, mul_reverse_rows); }
static int div_jvp_vjp(cn_graph *g, cn_node *n) { return binary_jvp_vjp(g, n, div_reverse_rows); }
static int prelu_jvp_vjp(cn_graph *g, cn_node *n) { return binary_jvp_vjp(g, n, prelu_reverse_rows); }

/* RULE: the regulariser's second-order rule (graph.h): Add and Sub are linear, Mul multilinear, Div's own */
#define BINARY_OP(NAME, RULE, JVP_VJP, ...)                                                                    \
    static const binary_kind NAME##_kind = {__VA_ARGS__};                                                      \
    static int NAME##_forward(cn_graph *g, cn_node *n) { return binary_forward(g, n, &NAME##_kind); }         \
    static int NAME##_jvp(cn_graph *g, cn_node *n) { return binary_jvp(g, n, &NAME##_kind); }                 \
    static int NAME##_vjp(cn_graph *g, cn_node *n) { return binary_vjp(g, n, &NAME##_kind); }                 \
    const cn_op cn_op_##NAME = {.name = #NAME, .forward = NAME##_forward, .jvp = NAME##_jvp, .vjp = NAME##_vjp, \
                                .tangent_rule = RULE, .jvp_vjp = JVP_VJP};

/* comparisons have no jvp: their output is never active */
#define COMPARE_OP(NAME, ...)                                                                                  \
    static const binary_kind NAME##_kind = {__VA_ARGS__};                                                      \
    static int NAME##_forward(cn_graph *g, cn_node *n) { return binary_forward(g, n, &NAME##_kind); }         \
    const cn_op cn_op_##NAME = {.name = #NAME, .forward = NAME##_forward};

BINARY_OP(Add, CN_TANGENT_LINEAR, NULL, .real = add_real, .integer = add_int, .jvp = add_jvp, .vjp = add_vjp_rows)
BINARY_OP(Sub, CN_TANGENT_LINEAR, NULL, .real = sub_real, .integer = sub_int, .jvp = sub_jvp, .vjp = sub_vjp_rows)
BINARY_OP(Mul, CN_TANGENT_CUSTOM, mul_jvp_vjp, .real = mul_real, .integer = mul_int, .jvp = mul_jvp, .vjp = mul_vjp_rows)
BINARY_OP(Div, CN_TANGENT_CUSTOM, div_jvp_vjp, .real = div_real, .integer = div_int, .jvp = div_jvp, .vjp = div_vjp_rows, .int_divides = 1)
/* x^e with e a fixed scalar: u = e x^(e-1) t, so t gains e x^(e-1) g (the vjp, LINEAR) and x gains
 * e (e-1) x^(e-2) t g; an exponent that trains or depends on the input has no rule yet */
static int pow_jvp_vjp(cn_graph *g, cn_node *n)
{
    const cn_tensor *x = cn_node_in(g, n, 0), *e = cn_node_in(g, n, 1);
    if (e->diff || cn_tensor_numel(e) != 1)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "Pow has a second-order rule for a fixed scalar exponent "
                            "only, so the criticality regulariser cannot pass it");
    int rc = cn_node_reverse_linear(g, n, g->run_k);
    cn_real *gx = cn_node_in_grad(g, n, 0);
    const cn_real *gu = cn_node_out_gtan(g, n, 0), *t = cn_node_in_tan(g, n, 0);
    if (rc || !gx || !gu || !t) return rc;
    const double p = e->dtype == CN_T_FLOAT ? (double)*(const cn_real *)e->data : (double)*(const int64_t *)e->data;
    const size_t count = cn_tensor_numel(x);
    const cn_real *xd = x->data;
    for (size_t i = 0; i < count; i++) {
        double s = 0;
        for (int k = 0; k < g->run_k; k++) s += (double)t[(size_t)k * count + i] * gu[(size_t)k * count + i];
        const double curve = p == 0 || p == 1 ? 0 : p * (p - 1) * pow((double)xd[i], p - 2);
        gx[i] += (cn_real)(curve * s);
    }
    return CN_OK;
}

BINARY_OP(Pow, CN_TANGENT_CUSTOM, pow_jvp_vjp, .real = pow_real, .integer = pow_int, .jvp = pow_jvp, .vjp = pow_vjp_rows, .int_exponent = 1)
BINARY_OP(PRelu, CN_TANGENT_CUSTOM, prelu_jvp_vjp, .real = prelu_real, .jvp = prelu_jvp, .vjp = prelu_vjp_rows)
COMPARE_OP(Equal, .real = equal_real, .integer = equal_int, .compare = 1)
COMPARE_OP(Less, .real = less_real, .integer = less_int, .compare = 1)
COMPARE_OP(Greater, .real = greater_real, .integer = greater_int, .compare = 1)

/* ------------------------------------------------------------------ Where */

static int where_inputs(cn_graph *g, cn_node *n, cn_tensor **c, cn_tensor **a, cn_tensor **b, cn_tensor **y)
{
    *c = cn_node_in(g, n, 0);
    *a = cn_node_in(g, n, 1);
    *b = cn_node_in(g, n, 2);
    *y = cn_node_out(g, n, 0);
    if (!*c || !*a || !*b) return cn_node_fail(g, n, CN_ERR_FORMAT, "needs three inputs");
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the output is missing");
    return CN_OK;
}

/* picks rows of one element type; steps are 0 or 1, and Where is rare enough for plain strided loops */
#define WHERE_ROW                                                                                                      \
    CN_SIMD for (size_t i = 0; i < inner; i++) o[i] = c[i * sc] ? x[i * sx] : y[i * sy];

static void where_rows(const cn_bcast *p, const int64_t *cond, const void *xa, const void *ya, void *out, int dtype)
{
    const size_t inner = cn_bcast_inner(p), rows = cn_bcast_rows(p);
    const int sc = cn_bcast_inner_step(p, 0), sx = cn_bcast_inner_step(p, 1), sy = cn_bcast_inner_step(p, 2);
    cn_bcast_pos q;
    cn_bcast_start(p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(p, &q)) {
        const int64_t *c = cond + q.off[0];
        if (dtype == CN_T_FLOAT) {
            const cn_real *x = (const cn_real *)xa + q.off[1], *y = (const cn_real *)ya + q.off[2];
            cn_real *o = (cn_real *)out + r * inner;
            WHERE_ROW
        } else {
            const int64_t *x = (const int64_t *)xa + q.off[1], *y = (const int64_t *)ya + q.off[2];
            int64_t *o = (int64_t *)out + r * inner;
            WHERE_ROW
        }
    }
}

static int where_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *c, *a, *b, *y;
    int rc = where_inputs(g, n, &c, &a, &b, &y);
    if (rc) return rc;
    if (!is_int(c->dtype))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "the condition must be bool, got %s", cn_dtype_label(c->dtype));
    if (a->dtype != b->dtype && !(is_int(a->dtype) && is_int(b->dtype)))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "X (%s) and Y (%s) differ in type", cn_dtype_label(a->dtype),
                            cn_dtype_label(b->dtype));
    int ndim;
    int64_t dims[CN_ONNX_MAX_DIMS];
    const cn_tensor *cab[3] = {c, a, b};
    if (cn_bcast_tensors(3, cab, &ndim, dims)) {
        char s0[160], s1[160], s2[160];
        return cn_node_fail(g, n, CN_ERR_FORMAT, "shapes %s, %s and %s do not broadcast",
                            cn_shape_format(s0, sizeof s0, c->ndim, c->dims),
                            cn_shape_format(s1, sizeof s1, a->ndim, a->dims),
                            cn_shape_format(s2, sizeof s2, b->ndim, b->dims));
    }
    if ((rc = cn_tensor_set_shape(g, n, y, a->dtype, ndim, dims))) return rc;
    if (cn_tensor_numel(y) == 0) return CN_OK;
    cn_bcast p;
    cn_bcast_plan_tensors(&p, ndim, dims, 3, cab);
    where_rows(&p, c->data, a->data, b->data, y->data, a->dtype);
    return CN_OK;
}

/* the tangent of the side the condition picks; an inactive side contributes zero */
static int where_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *c, *a, *b, *y;
    int rc = where_inputs(g, n, &c, &a, &b, &y);
    if (rc) return rc;
    const cn_real *ta = cn_node_in_tan(g, n, 1), *tb = cn_node_in_tan(g, n, 2);
    const size_t count = cn_tensor_numel(y);
    if (count == 0) return CN_OK;
    const cn_tensor *cab[3] = {c, a, b};
    cn_bcast p;
    cn_bcast_plan_tensors(&p, y->ndim, y->dims, 3, cab);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sc = cn_bcast_inner_step(&p, 0), sx = cn_bcast_inner_step(&p, 1), sy = cn_bcast_inner_step(&p, 2);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
        const int64_t *cond = (const int64_t *)c->data + q.off[0];
        const cn_real *tx = ta ? ta + q.off[1] : NULL, *ty = tb ? tb + q.off[2] : NULL;
        cn_real *t = y->tan + r * inner;
        CN_SIMD for (size_t i = 0; i < inner; i++)
            t[i] = cond[i * sc] ? (tx ? tx[i * sx] : 0) : (ty ? ty[i * sy] : 0);
    }
    return CN_OK;
}

/* the gradient goes to the side the condition picked; a broadcast side sums its share */
static int where_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *c, *a, *b, *y;
    int rc = where_inputs(g, n, &c, &a, &b, &y);
    if (rc) return rc;
    cn_real *ga = cn_node_in_grad(g, n, 1), *gb = cn_node_in_grad(g, n, 2);
    const cn_real *dz = cn_node_out_grad(g, n, 0);
    if (!dz || (!ga && !gb) || cn_tensor_numel(y) == 0) return CN_OK;
    const cn_tensor *cab[3] = {c, a, b};
    cn_bcast p;
    cn_bcast_plan_tensors(&p, y->ndim, y->dims, 3, cab);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sc = cn_bcast_inner_step(&p, 0), sx = cn_bcast_inner_step(&p, 1), sy = cn_bcast_inner_step(&p, 2);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
        const int64_t *cond = (const int64_t *)c->data + q.off[0];
        const cn_real *d = dz + r * inner;
        for (size_t i = 0; i < inner; i++) {
            if (cond[i * sc]) {
                if (ga) ga[q.off[1] + i * sx] += d[i];
            } else if (gb) {
                gb[q.off[2] + i * sy] += d[i];
            }
        }
    }
    return CN_OK;
}

const cn_op cn_op_Where = {.name = "Where", .forward = where_forward, .jvp = where_jvp, .vjp = where_vjp, .tangent_rule = CN_TANGENT_LINEAR};

/* ------------------------------------------------------------------ Max, Min (variadic) */

static int extreme_inputs(cn_graph *g, cn_node *n, int *ndim, int64_t *dims)
{
    const cn_tensor *first = cn_node_in(g, n, 0);
    if (!first) return cn_node_fail(g, n, CN_ERR_FORMAT, "needs at least one input");
    if (first->dtype != CN_T_FLOAT && first->dtype != CN_T_INT64)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "inputs must be float or int64, got %s",
                            cn_dtype_label(first->dtype));
    *ndim = first->ndim;
    memcpy(dims, first->dims, (size_t)first->ndim * sizeof *dims);
    for (int k = 1; k < n->nin; k++) {
        const cn_tensor *t = cn_node_in(g, n, k);
        if (!t) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %d is missing", k);
        if (t->dtype != first->dtype)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "inputs of types %s and %s", cn_dtype_label(first->dtype),
                                cn_dtype_label(t->dtype));
        int nd[2] = {*ndim, t->ndim};
        int64_t so_far[CN_ONNX_MAX_DIMS];
        memcpy(so_far, dims, sizeof so_far);
        const int64_t *dd[2] = {so_far, t->dims};
        if (cn_bcast_shape(2, nd, dd, ndim, dims)) {
            char s0[160], s1[160];
            return cn_node_fail(g, n, CN_ERR_FORMAT, "shapes %s and %s do not broadcast",
                                cn_shape_format(s0, sizeof s0, nd[0], so_far),
                                cn_shape_format(s1, sizeof s1, t->ndim, t->dims));
        }
    }
    return CN_OK;
}

/* plan of the running result y (full shape) against input t */
static void fold_plan(cn_bcast *p, const cn_tensor *y, const cn_tensor *t)
{
    const cn_tensor *yt[2] = {y, t};
    cn_bcast_plan_tensors(p, y->ndim, y->dims, 2, yt);
}

static int extreme_forward(cn_graph *g, cn_node *n, int is_max)
{
    int ndim, rc;
    int64_t dims[CN_ONNX_MAX_DIMS];
    if ((rc = extreme_inputs(g, n, &ndim, dims))) return rc;
    const cn_tensor *first = cn_node_in(g, n, 0);
    cn_tensor *y = cn_node_out(g, n, 0);
    if (!y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the output is missing");
    const int dtype = first->dtype;
    if ((rc = cn_tensor_set_shape(g, n, y, dtype, ndim, dims))) return rc;
    if (cn_tensor_numel(y) == 0) return CN_OK;
    if (dtype == CN_T_FLOAT) cn_bcast_copy_real(y->data, ndim, dims, first->data, first->ndim, first->dims);
    else cn_bcast_copy_int(y->data, ndim, dims, first->data, first->ndim, first->dims);
    row_fn f = dtype == CN_T_FLOAT ? (is_max ? max_real : min_real) : (is_max ? max_int : min_int);
    for (int k = 1; k < n->nin; k++) {
        const cn_tensor *t = cn_node_in(g, n, k);
        cn_bcast p;
        fold_plan(&p, y, t);
        run_rows(&p, f, y->data, elem_size(dtype), t->data, elem_size(dtype), y->data, elem_size(dtype));
    }
    return CN_OK;
}

/* one fold step for the tangent: v, tv the running value and tangent, w, tw the next input's */
static void extreme_jvp_row(size_t n, cn_real *v, cn_real *tv, const cn_real *w, const cn_real *tw, int sw,
                            int is_max)
{
    for (size_t i = 0; i < n; i++) {
        const cn_real x = v[i], u = w[i * sw], tu = tw ? tw[i * sw] : 0;
        if (x != x) continue;
        const int keep = is_max ? x > u : x < u, take = u != u || (is_max ? u > x : u < x);
        if (keep) continue;
        tv[i] = take ? tu : (cn_real)(0.5 * ((double)tv[i] + tu));
        v[i] = u;
    }
}

static int extreme_jvp(cn_graph *g, cn_node *n, int is_max)
{
    const cn_tensor *first = cn_node_in(g, n, 0);
    cn_tensor *y = cn_node_out(g, n, 0);
    const size_t count = cn_tensor_numel(y);
    if (count == 0) return CN_OK;
    /* the fold's running value: the output holds only its end */
    cn_real *v = cn_node_scratch(g, n, count * sizeof(cn_real));
    if (!v) return CN_ERR_NOMEM;
    cn_bcast_copy_real(v, y->ndim, y->dims, first->data, first->ndim, first->dims);
    const cn_real *t0 = cn_node_in_tan(g, n, 0);
    if (t0) cn_bcast_copy_real(y->tan, y->ndim, y->dims, t0, first->ndim, first->dims);
    else memset(y->tan, 0, count * sizeof(cn_real));
    for (int k = 1; k < n->nin; k++) {
        const cn_tensor *t = cn_node_in(g, n, k);
        const cn_real *tk = cn_node_in_tan(g, n, k);
        cn_bcast p;
        fold_plan(&p, y, t);
        const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
        const int sw = cn_bcast_inner_step(&p, 1);
        cn_bcast_pos q;
        cn_bcast_start(&p, &q);
        for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q))
            extreme_jvp_row(inner, v + r * inner, y->tan + r * inner, (const cn_real *)t->data + q.off[1],
                            tk ? tk + q.off[1] : NULL, sw, is_max);
    }
    return CN_OK;
}

/* The transpose of the jvp for two inputs (torch.maximum, torch.minimum): the gradient goes to the input that
 * holds the result, half to each at a tie (torch's convention), all to a NaN. */
static int extreme_vjp(cn_graph *g, cn_node *n, int is_max)
{
    cn_tensor *y = cn_node_out(g, n, 0);
    const cn_real *gy = cn_node_out_grad(g, n, 0);
    const size_t count = y ? cn_tensor_numel(y) : 0;
    if (!gy || count == 0) return CN_OK;
    const cn_tensor *a = cn_node_in(g, n, 0), *b = n->nin > 1 ? cn_node_in(g, n, 1) : NULL;
    cn_real *ga = cn_node_in_grad(g, n, 0), *gb = b ? cn_node_in_grad(g, n, 1) : NULL;
    if (!b) {
        if (ga) cn_grad_add(ga, gy, count);
        return CN_OK;
    }
    const cn_tensor *ab[2] = {a, b};
    cn_bcast p;
    cn_bcast_plan_tensors(&p, y->ndim, y->dims, 2, ab);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sa = cn_bcast_inner_step(&p, 0), sb = cn_bcast_inner_step(&p, 1);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
        const cn_real *x = (const cn_real *)a->data + q.off[0], *u = (const cn_real *)b->data + q.off[1];
        const cn_real *d = gy + r * inner;
        for (size_t i = 0; i < inner; i++) {
            const cn_real xv = x[i * sa], uv = u[i * sb];
            /* as extreme_jvp_row: a NaN first input keeps it; a NaN second takes it */
            const int keep = xv != xv || (is_max ? xv > uv : xv < uv), take = uv != uv || (is_max ? uv > xv : uv < xv);
            const double wa = keep ? 1 : take ? 0 : 0.5;
            if (ga) ga[q.off[0] + i * sa] += (cn_real)(wa * d[i]);
            if (gb) gb[q.off[1] + i * sb] += (cn_real)((1 - wa) * d[i]);
        }
    }
    return CN_OK;
}

static int max_vjp(cn_graph *g, cn_node *n) { return extreme_vjp(g, n, 1); }
static int min_vjp(cn_graph *g, cn_node *n) { return extreme_vjp(g, n, 0); }
static int max_forward(cn_graph *g, cn_node *n) { return extreme_forward(g, n, 1); }
static int max_jvp(cn_graph *g, cn_node *n) { return extreme_jvp(g, n, 1); }
static int min_forward(cn_graph *g, cn_node *n) { return extreme_forward(g, n, 0); }
static int min_jvp(cn_graph *g, cn_node *n) { return extreme_jvp(g, n, 0); }

/* torch.maximum and torch.minimum export two inputs; a longer fold has no backward yet */
const cn_op cn_op_Max = {.name = "Max", .forward = max_forward, .jvp = max_jvp, .vjp = max_vjp, .vjp_max_inputs = 2, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Min = {.name = "Min", .forward = min_forward, .jvp = min_jvp, .vjp = min_vjp, .vjp_max_inputs = 2, .tangent_rule = CN_TANGENT_LINEAR};
