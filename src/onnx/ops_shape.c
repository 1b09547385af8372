/* ops_shape.c: the ONNX operators that report a shape (Shape, Size), give the same elements another shape
 * (Reshape, Flatten, Squeeze, Unsqueeze) or build a tensor from numbers alone (ConstantOfShape, Range).
 * Expand moves data by broadcasting, so it lives with the strided copies in ops_move.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "onnx/graph.h"

#define SHAPE_TEXT 200 /* "(d0,...,d7)" with 8 dimensions of up to 20 digits each */
#define MAX_RANGE ((int64_t)1 << 31) /* cn_tensor_set_shape refuses more; checked before a double is cast */

static size_t elem_size(int dtype) { return dtype == CN_T_FLOAT ? sizeof(cn_real) : sizeof(int64_t); }

/* "(1,512,7,7)" for messages */
static const char *shape_text(char *buf, int ndim, const int64_t *dims)
{
    int len = snprintf(buf, SHAPE_TEXT, "(");
    for (int i = 0; i < ndim && len < SHAPE_TEXT; i++)
        len += snprintf(buf + len, (size_t)(SHAPE_TEXT - len), i ? ",%lld" : "%lld", (long long)dims[i]);
    if (len < SHAPE_TEXT) snprintf(buf + len, (size_t)(SHAPE_TEXT - len), ")");
    return buf;
}

/* input 0 and output 0, which every operator here needs */
static int first_in_out(cn_graph *g, const cn_node *n, cn_tensor **in, cn_tensor **out)
{
    *in = cn_node_in(g, n, 0);
    *out = cn_node_out(g, n, 0);
    if (!*in) return cn_node_fail(g, n, CN_ERR_FORMAT, "input 0 is missing");
    if (!*out) return cn_node_fail(g, n, CN_ERR_FORMAT, "output 0 is missing");
    return CN_OK;
}

/* ONNX axes may count from the end: [-rank, rank) becomes [0, rank) */
static int normalize_axis(cn_graph *g, const cn_node *n, int64_t axis, int rank, int *out)
{
    *out = 0;
    if (axis < -rank || axis >= rank)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return CN_OK;
}

/* Squeeze and Unsqueeze took axes as an attribute until opset 13 and as input 1 since; a model of either
 * age is read the same way. *count is -1 when neither gives them. */
static int axes_input_or_attr(cn_graph *g, const cn_node *n, int64_t *axes, int *count)
{
    int rc = cn_input_ints(g, n, 1, axes, CN_ONNX_MAX_DIMS, count);
    if (rc || *count >= 0) return rc;
    if (!cn_attr_find(n, "axes")) return CN_OK;
    return cn_attr_ints(g, n, "axes", axes, CN_ONNX_MAX_DIMS, count);
}

/* ------------------------------------------------------------------ Shape, Size */

/* Shape's start and end (opset 15) count from the end when negative and are clamped, never refused */
static int64_t shape_bound(int64_t v, int rank)
{
    if (v < 0) v += rank;
    return v < 0 ? 0 : v > rank ? rank : v;
}

static int shape_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    int rc = first_in_out(g, n, &in, &out);
    if (rc) return rc;
    int64_t start = shape_bound(cn_attr_int(n, "start", 0), in->ndim);
    int64_t end = shape_bound(cn_attr_int(n, "end", in->ndim), in->ndim);
    int64_t count = end > start ? end - start : 0;
    if ((rc = cn_tensor_set_shape(g, n, out, CN_T_INT64, 1, &count))) return rc;
    memcpy(out->data, in->dims + start, (size_t)count * sizeof(int64_t));
    return CN_OK;
}

static int size_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    int rc = first_in_out(g, n, &in, &out);
    if (rc) return rc;
    if ((rc = cn_tensor_set_shape(g, n, out, CN_T_INT64, 0, NULL))) return rc;
    ((int64_t *)out->data)[0] = (int64_t)cn_tensor_numel(in);
    return CN_OK;
}

/* ------------------------------------------------------------------ the same elements, another shape */

/* Every tensor owns its buffer, so a reshape is a copy; one memcpy costs little next to the layers around it. */
static int copy_with_shape(cn_graph *g, const cn_node *n, const cn_tensor *in, cn_tensor *out, int ndim,
                           const int64_t *dims)
{
    int rc = cn_tensor_set_shape(g, n, out, in->dtype, ndim, dims);
    if (rc) return rc;
    size_t bytes = cn_tensor_numel(in) * elem_size(in->dtype);
    if (bytes) memcpy(out->data, in->data, bytes);
    return CN_OK;
}

/* the tangent of a reshape is the input's tangent in the new shape */
static int same_elements_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *out = cn_node_out(g, n, 0);
    if (!out || !out->active) return CN_OK;
    const cn_real *tan = cn_node_in_tan(g, n, 0);
    size_t bytes = cn_tensor_numel(out) * sizeof(cn_real);
    if (tan) memcpy(out->tan, tan, bytes);
    else memset(out->tan, 0, bytes);
    return CN_OK;
}

/* the gradient of a reshape is the output's gradient in the input's shape */
static int same_elements_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *out = cn_node_out(g, n, 0);
    cn_real *gin = cn_node_in_grad(g, n, 0);
    const cn_real *gout = cn_node_out_grad(g, n, 0);
    if (out && gin && gout) cn_grad_add(gin, gout, cn_tensor_numel(out));
    return CN_OK;
}

/* The requested shape with its 0s (copy the input's dimension, unless allowzero) and its one -1 (whatever
 * makes the element count match) resolved. */
static int reshape_dims(cn_graph *g, const cn_node *n, const cn_tensor *in, int *ndim, int64_t *dims)
{
    int rc = cn_input_ints(g, n, 1, dims, CN_ONNX_MAX_DIMS, ndim);
    if (rc) return rc;
    if (*ndim < 0) { /* before opset 5 the shape was an attribute */
        if (!cn_attr_find(n, "shape")) return cn_node_fail(g, n, CN_ERR_FORMAT, "the shape input is missing");
        if ((rc = cn_attr_ints(g, n, "shape", dims, CN_ONNX_MAX_DIMS, ndim))) return rc;
    }
    int64_t asked[CN_ONNX_MAX_DIMS];
    memcpy(asked, dims, (size_t)*ndim * sizeof *dims);
    int allow_zero = cn_attr_int(n, "allowzero", 0) != 0, inferred = -1;
    int64_t known = 1, total = (int64_t)cn_tensor_numel(in);
    char a[SHAPE_TEXT], b[SHAPE_TEXT];
    for (int i = 0; i < *ndim; i++) {
        if (dims[i] == 0 && !allow_zero) {
            if (i >= in->ndim)
                return cn_node_fail(g, n, CN_ERR_FORMAT, "shape entry %d is 0 (keep the input's) but the input is %s",
                                    i, shape_text(a, in->ndim, in->dims));
            dims[i] = in->dims[i];
        }
        if (dims[i] == -1 && inferred < 0) {
            inferred = i;
            continue;
        }
        if (dims[i] < 0)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "cannot reshape %s to %s: one entry at most may be -1, none less",
                                shape_text(a, in->ndim, in->dims), shape_text(b, *ndim, asked));
        /* any product beyond the input's count fails alike; capping it there keeps it from overflowing */
        if (dims[i] && known > total / dims[i]) known = total + 1;
        else known *= dims[i];
    }
    if (inferred >= 0 && known > 0 && total % known == 0) dims[inferred] = total / known;
    else if (inferred >= 0 || known != total)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "cannot reshape %s to %s", shape_text(a, in->ndim, in->dims),
                            shape_text(b, *ndim, asked));
    return CN_OK;
}

static int reshape_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    int64_t dims[CN_ONNX_MAX_DIMS];
    int ndim, rc = first_in_out(g, n, &in, &out);
    if (!rc) rc = reshape_dims(g, n, in, &ndim, dims);
    return rc ? rc : copy_with_shape(g, n, in, out, ndim, dims);
}

static int flatten_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    int rc = first_in_out(g, n, &in, &out);
    if (rc) return rc;
    /* unlike most axes, Flatten's may equal the rank (everything goes to the first dimension) */
    int64_t axis = cn_attr_int(n, "axis", 1);
    if (axis < -in->ndim || axis > in->ndim)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld out of range for rank %d", (long long)axis, in->ndim);
    if (axis < 0) axis += in->ndim;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < in->ndim; i++) dims[i >= axis] *= in->dims[i];
    return copy_with_shape(g, n, in, out, 2, dims);
}

static int unsqueeze_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    int64_t axes[CN_ONNX_MAX_DIMS], dims[CN_ONNX_MAX_DIMS];
    int count, rc = first_in_out(g, n, &in, &out);
    if (!rc) rc = axes_input_or_attr(g, n, axes, &count);
    if (rc) return rc;
    if (count < 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "the axes are missing");
    int rank = in->ndim + count;
    if (rank > CN_ONNX_MAX_DIMS)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "output would have rank %d (at most %d)", rank, CN_ONNX_MAX_DIMS);
    /* the axes index the output, so they are placed first and the input's dimensions fill the rest */
    int is_new[CN_ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < count; i++) {
        int axis;
        if ((rc = normalize_axis(g, n, axes[i], rank, &axis))) return rc;
        if (is_new[axis]) return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld appears twice", (long long)axes[i]);
        is_new[axis] = 1;
    }
    for (int i = 0, j = 0; i < rank; i++) dims[i] = is_new[i] ? 1 : in->dims[j++];
    return copy_with_shape(g, n, in, out, rank, dims);
}

static int squeeze_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    int64_t axes[CN_ONNX_MAX_DIMS], dims[CN_ONNX_MAX_DIMS];
    int count, rc = first_in_out(g, n, &in, &out);
    if (!rc) rc = axes_input_or_attr(g, n, axes, &count);
    if (rc) return rc;
    int dropped[CN_ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < count; i++) {
        int axis;
        if ((rc = normalize_axis(g, n, axes[i], in->ndim, &axis))) return rc;
        if (in->dims[axis] != 1)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "cannot squeeze axis %lld of size %lld", (long long)axes[i],
                                (long long)in->dims[axis]);
        dropped[axis] = 1;
    }
    if (count <= 0) /* no axes: every dimension of size 1 goes */
        for (int i = 0; i < in->ndim; i++) dropped[i] = in->dims[i] == 1;
    int rank = 0;
    for (int i = 0; i < in->ndim; i++)
        if (!dropped[i]) dims[rank++] = in->dims[i];
    return copy_with_shape(g, n, in, out, rank, dims);
}

/* ------------------------------------------------------------------ tensors from numbers */

/* ConstantOfShape's value is a one-element TENSOR attribute; without it the output is float zeros */
static int constant_value(cn_graph *g, const cn_node *n, int *dtype, cn_real *real, int64_t *integer)
{
    const cn_attr *a = cn_attr_find(n, "value");
    *dtype = CN_T_FLOAT;
    *real = 0;
    *integer = 0;
    if (!a) return CN_OK;
    if (a->type != CN_ATTR_TENSOR || a->tensor < 0 || a->tensor >= g->nt)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "attribute value is not a tensor");
    const cn_tensor *v = &g->t[a->tensor];
    if (cn_tensor_numel(v) != 1 || !v->data)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "attribute value must hold one element, not %zu", cn_tensor_numel(v));
    *dtype = v->dtype;
    if (v->dtype == CN_T_FLOAT) *real = ((const cn_real *)v->data)[0];
    else *integer = ((const int64_t *)v->data)[0];
    return CN_OK;
}

static int constant_of_shape_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *out = cn_node_out(g, n, 0);
    int64_t dims[CN_ONNX_MAX_DIMS], integer;
    cn_real real;
    int ndim, dtype, rc = cn_input_ints(g, n, 0, dims, CN_ONNX_MAX_DIMS, &ndim);
    if (rc) return rc;
    if (ndim < 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "the shape input is missing");
    if (!out) return cn_node_fail(g, n, CN_ERR_FORMAT, "output 0 is missing");
    if ((rc = constant_value(g, n, &dtype, &real, &integer))) return rc;
    if ((rc = cn_tensor_set_shape(g, n, out, dtype, ndim, dims))) return rc;
    size_t count = cn_tensor_numel(out);
    if (dtype == CN_T_FLOAT)
        for (size_t i = 0; i < count; i++) ((cn_real *)out->data)[i] = real;
    else
        for (size_t i = 0; i < count; i++) ((int64_t *)out->data)[i] = integer;
    return CN_OK;
}

/* ceil((limit - start) / delta) clamped at 0, in unsigned arithmetic: limit - start can exceed INT64_MAX */
static int64_t range_count_int(int64_t start, int64_t limit, int64_t delta)
{
    uint64_t span, step;
    if (delta > 0) {
        if (limit <= start) return 0;
        span = (uint64_t)limit - (uint64_t)start;
        step = (uint64_t)delta;
    } else {
        if (limit >= start) return 0;
        span = (uint64_t)start - (uint64_t)limit;
        step = -(uint64_t)delta;
    }
    uint64_t count = span / step + (span % step != 0);
    return count > (uint64_t)MAX_RANGE ? MAX_RANGE + 1 : (int64_t)count;
}

static int range_int(cn_graph *g, const cn_node *n, cn_tensor *out, int64_t start, int64_t limit, int64_t delta)
{
    int64_t count = range_count_int(start, limit, delta);
    int rc = cn_tensor_set_shape(g, n, out, CN_T_INT64, 1, &count);
    if (rc) return rc;
    /* every value lies between start and limit, but i * delta alone can overflow (start INT64_MAX, limit
     * INT64_MIN, a large negative delta): the sum is taken in unsigned arithmetic, where it wraps back exactly */
    for (int64_t i = 0; i < count; i++)
        ((int64_t *)out->data)[i] = (int64_t)((uint64_t)start + (uint64_t)i * (uint64_t)delta);
    return CN_OK;
}

static int range_real(cn_graph *g, const cn_node *n, cn_tensor *out, cn_real start, cn_real limit, cn_real delta)
{
    /* the count in cn_real, as a runtime computing in the tensor's type gets it */
    double steps = ceil((double)((cn_real)(limit - start) / delta));
    if (isnan(steps)) return cn_node_fail(g, n, CN_ERR_FORMAT, "Range from %g to %g by %g", start, limit, delta);
    int64_t count = steps <= 0 ? 0 : steps > (double)MAX_RANGE ? MAX_RANGE + 1 : (int64_t)steps;
    int rc = cn_tensor_set_shape(g, n, out, CN_T_FLOAT, 1, &count);
    if (rc) return rc;
    for (int64_t i = 0; i < count; i++) ((cn_real *)out->data)[i] = (cn_real)(start + (double)i * delta);
    return CN_OK;
}

static int range_forward(cn_graph *g, cn_node *n)
{
    static const char *const what[3] = {"start", "limit", "delta"};
    cn_tensor *arg[3], *out = cn_node_out(g, n, 0);
    for (int i = 0; i < 3; i++) {
        arg[i] = cn_node_in(g, n, i);
        if (!arg[i]) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s is missing", what[i]);
        if (cn_tensor_numel(arg[i]) != 1 || !arg[i]->data)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "%s must be a single number", what[i]);
        if ((arg[i]->dtype == CN_T_FLOAT) != (arg[0]->dtype == CN_T_FLOAT))
            return cn_node_fail(g, n, CN_ERR_FORMAT, "start, limit and delta must have one type");
    }
    if (!out) return cn_node_fail(g, n, CN_ERR_FORMAT, "output 0 is missing");
    if (arg[0]->dtype == CN_T_FLOAT) {
        const cn_real *v[3] = {arg[0]->data, arg[1]->data, arg[2]->data};
        if (*v[2] == 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "delta is 0");
        return range_real(g, n, out, *v[0], *v[1], *v[2]);
    }
    const int64_t *v[3] = {arg[0]->data, arg[1]->data, arg[2]->data};
    if (*v[2] == 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "delta is 0");
    return range_int(g, n, out, *v[0], *v[1], *v[2]);
}

/* ------------------------------------------------------------------ the table entries */

/* Shape and Size never read their input's values, so a block cut may cross them */
const cn_op cn_op_Shape = {.name = "Shape", .forward = shape_forward, .shape_only = 1u << 0};
const cn_op cn_op_Size = {.name = "Size", .forward = size_forward, .shape_only = 1u << 0};
const cn_op cn_op_Reshape = {.name = "Reshape", .forward = reshape_forward, .jvp = same_elements_jvp,
                           .vjp = same_elements_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Flatten = {.name = "Flatten", .forward = flatten_forward, .jvp = same_elements_jvp,
                           .vjp = same_elements_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Unsqueeze = {.name = "Unsqueeze", .forward = unsqueeze_forward, .jvp = same_elements_jvp,
                           .vjp = same_elements_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Squeeze = {.name = "Squeeze", .forward = squeeze_forward, .jvp = same_elements_jvp,
                           .vjp = same_elements_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_ConstantOfShape = {.name = "ConstantOfShape", .forward = constant_of_shape_forward};
const cn_op cn_op_Range = {.name = "Range", .forward = range_forward};
