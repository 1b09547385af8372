/* ops_move.c: the ONNX operators that move elements without computing on them: Transpose, Expand, Tile and
 * Slice (each a strided view of its input), Concat, Split, Gather and Pad. A float output's tangent is the
 * same movement of the input's tangent, so every forward plans the movement in a function its jvp calls
 * again on the values the forward left in place. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "onnx/broadcast.h"
#include "onnx/graph.h"

/* Tile reads each dimension as (repeat, index): twice the rank */
#define VIEW_MAX_DIMS (2 * CN_ONNX_MAX_DIMS)

#define SHAPE_TEXT 200 /* "(d0,...,d7)" with 8 dimensions of up to 20 digits each */
/* cn_tensor_set_shape refuses tensors above this; repeats and pads beyond it are refused before the
 * dimensions they give overflow or size the scratch tables */
#define MAX_ELEMENTS ((int64_t)1 << 31)

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

/* elements between consecutive indices of each dimension of a dense row-major tensor */
static void dense_strides(int ndim, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

static int64_t product(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= dims[i];
    return p;
}

/* The tangent of an output whose input is not active is zero; so is the padding Pad adds. */
static void zero_tangent(cn_tensor *out) { memset(out->tan, 0, cn_tensor_numel(out) * sizeof(cn_real)); }

/* ------------------------------------------------------------------ strided views */

/* Element (i_0..i_k) of a view reads src[offset + sum i_j * stride_j]. A stride of 0 repeats (broadcast,
 * tiling); a negative one walks backwards (a slice with a negative step). */
typedef struct {
    int ndim;
    int64_t dims[VIEW_MAX_DIMS];
    int64_t stride[VIEW_MAX_DIMS];
    int64_t offset;
} view;

/* Dimensions of size 1 never move the index, and one whose stride continues the next one's is the same walk
 * with a longer run. Merging them makes the innermost run, and so each memcpy, as long as it can be: a
 * (0,2,1,3) transpose copies whole rows. */
static void view_merge(view *v)
{
    int m = 0;
    for (int k = 0; k < v->ndim; k++) {
        if (v->dims[k] == 1) continue;
        if (m > 0 && v->stride[m - 1] == v->stride[k] * v->dims[k]) {
            v->dims[m - 1] *= v->dims[k];
            v->stride[m - 1] = v->stride[k];
            continue;
        }
        v->dims[m] = v->dims[k];
        v->stride[m] = v->stride[k];
        m++;
    }
    if (m == 0) {
        v->dims[0] = 1;
        v->stride[0] = 1;
        m = 1;
    }
    v->ndim = m;
}

/* fixed-size memcpy compiles to a plain load and store, without breaking strict aliasing */
static void strided_run4(char *dst, const char *src, int64_t count, int64_t stride)
{
    for (int64_t i = 0; i < count; i++) memcpy(dst + 4 * i, src + 4 * stride * i, 4);
}

static void strided_run8(char *dst, const char *src, int64_t count, int64_t stride)
{
    for (int64_t i = 0; i < count; i++) memcpy(dst + 8 * i, src + 8 * stride * i, 8);
}

/* Writes the view of src densely to dst, one innermost run at a time, the source offset kept up to date
 * with an odometer so that no index is multiplied out per element. A transpose's run reads with a large
 * step; tiling it into square blocks measured no faster here (the prefetchers follow the step), so it
 * stays simple. The view must hold elements. */
static void view_copy(void *dst, const void *src, const view *v, size_t esize)
{
    int inner = v->ndim - 1;
    int64_t run = v->dims[inner], step = v->stride[inner], runs = product(v->dims, 0, inner);
    int64_t idx[VIEW_MAX_DIMS] = {0}, at = v->offset, e = (int64_t)esize;
    char *d = dst;
    for (int64_t r = 0; r < runs; r++, d += run * e) {
        const char *s = (const char *)src + at * e;
        if (step == 1) memcpy(d, s, (size_t)(run * e));
        else if (esize == 4) strided_run4(d, s, run, step);
        else strided_run8(d, s, run, step);
        for (int k = inner - 1; k >= 0; k--) {
            at += v->stride[k];
            if (++idx[k] < v->dims[k]) break;
            at -= v->stride[k] * v->dims[k];
            idx[k] = 0;
        }
    }
}

/* From input 0 and the node's attributes and other inputs: the output's shape and the view of input 0 that
 * fills it. */
typedef int (*view_planner)(cn_graph *g, const cn_node *n, const cn_tensor *in, int *ndim, int64_t *dims,
                            view *v);

static int view_forward(cn_graph *g, cn_node *n, view_planner plan)
{
    cn_tensor *in, *out;
    int64_t dims[CN_ONNX_MAX_DIMS];
    int ndim;
    view v;
    int rc = first_in_out(g, n, &in, &out);
    if (!rc) rc = plan(g, n, in, &ndim, dims, &v);
    if (!rc) rc = cn_tensor_set_shape(g, n, out, in->dtype, ndim, dims);
    if (rc || cn_tensor_numel(out) == 0) return rc;
    view_merge(&v);
    view_copy(out->data, in->data, &v, elem_size(in->dtype));
    return CN_OK;
}

static int view_jvp(cn_graph *g, cn_node *n, view_planner plan)
{
    cn_tensor *in, *out;
    int64_t dims[CN_ONNX_MAX_DIMS];
    int ndim;
    view v;
    int rc = first_in_out(g, n, &in, &out);
    if (rc || !out->active) return rc;
    const cn_real *tan = cn_node_in_tan(g, n, 0);
    if (!tan) {
        zero_tangent(out);
        return CN_OK;
    }
    if ((rc = plan(g, n, in, &ndim, dims, &v)) || cn_tensor_numel(out) == 0) return rc;
    view_merge(&v);
    view_copy(out->tan, tan, &v, sizeof(cn_real));
    return CN_OK;
}

/* The transpose of a view's copy: every output element's gradient is added to the input element it read, so
 * a repeated element (stride 0: Expand, Tile) sums its reads and an element no view reads (cut off by Slice)
 * gets nothing. */
static void view_scatter_add(cn_real *gin, const cn_real *gout, const view *v, size_t count)
{
    int64_t idx[VIEW_MAX_DIMS] = {0}, at = v->offset;
    for (size_t i = 0; i < count; i++) {
        gin[at] += gout[i];
        for (int k = v->ndim - 1; k >= 0; k--) {
            at += v->stride[k];
            if (++idx[k] < v->dims[k]) break;
            at -= v->stride[k] * v->dims[k];
            idx[k] = 0;
        }
    }
}

static int view_vjp(cn_graph *g, cn_node *n, view_planner plan)
{
    cn_tensor *in, *out;
    int64_t dims[CN_ONNX_MAX_DIMS];
    int ndim;
    view v;
    int rc = first_in_out(g, n, &in, &out);
    if (rc) return rc;
    cn_real *gin = cn_node_in_grad(g, n, 0);
    const cn_real *gout = cn_node_out_grad(g, n, 0);
    if (!gin || !gout) return CN_OK;
    if ((rc = plan(g, n, in, &ndim, dims, &v)) || cn_tensor_numel(out) == 0) return rc;
    view_merge(&v);
    view_scatter_add(gin, gout, &v, cn_tensor_numel(out));
    return CN_OK;
}

/* the identity view of t, which the planners then permute, broadcast or cut */
static void view_of(const cn_tensor *t, view *v)
{
    v->ndim = t->ndim;
    v->offset = 0;
    memcpy(v->dims, t->dims, (size_t)t->ndim * sizeof *v->dims);
    dense_strides(t->ndim, t->dims, v->stride);
}

/* ------------------------------------------------------------------ Transpose */

static int transpose_plan(cn_graph *g, const cn_node *n, const cn_tensor *in, int *ndim, int64_t *dims, view *v)
{
    int64_t perm[CN_ONNX_MAX_DIMS], stride[CN_ONNX_MAX_DIMS];
    int count, rank = in->ndim, rc = cn_attr_ints(g, n, "perm", perm, CN_ONNX_MAX_DIMS, &count);
    if (rc) return rc;
    if (count == 0) /* the default reverses the dimensions */
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
    else if (count != rank)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "perm has %d entries for rank %d", count, rank);
    int used[CN_ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < rank; i++) {
        if (perm[i] < 0 || perm[i] >= rank || used[perm[i]]++)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "perm is not a permutation of 0..%d", rank - 1);
    }
    dense_strides(rank, in->dims, stride);
    *ndim = v->ndim = rank;
    v->offset = 0;
    for (int i = 0; i < rank; i++) {
        dims[i] = v->dims[i] = in->dims[perm[i]];
        v->stride[i] = stride[perm[i]];
    }
    return CN_OK;
}

static int transpose_forward(cn_graph *g, cn_node *n) { return view_forward(g, n, transpose_plan); }
static int transpose_jvp(cn_graph *g, cn_node *n) { return view_jvp(g, n, transpose_plan); }
static int transpose_vjp(cn_graph *g, cn_node *n) { return view_vjp(g, n, transpose_plan); }

/* ------------------------------------------------------------------ Expand, Tile */

/* Expand broadcasts both ways (numpy rules): a 1 in the requested shape keeps the input's dimension. */
static int expand_plan(cn_graph *g, const cn_node *n, const cn_tensor *in, int *ndim, int64_t *dims, view *v)
{
    int64_t shape[CN_ONNX_MAX_DIMS], stride[CN_ONNX_MAX_DIMS];
    int count, rc = cn_input_ints(g, n, 1, shape, CN_ONNX_MAX_DIMS, &count);
    if (rc) return rc;
    if (count < 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "the shape input is missing");
    int rank = in->ndim > count ? in->ndim : count;
    dense_strides(in->ndim, in->dims, stride);
    *ndim = v->ndim = rank;
    v->offset = 0;
    for (int i = 0; i < rank; i++) {
        int from_in = i - (rank - in->ndim), from_shape = i - (rank - count);
        int64_t have = from_in >= 0 ? in->dims[from_in] : 1, want = from_shape >= 0 ? shape[from_shape] : 1;
        if (have != want && have != 1 && want != 1) {
            char a[SHAPE_TEXT], b[SHAPE_TEXT];
            return cn_node_fail(g, n, CN_ERR_FORMAT, "cannot expand %s to %s", shape_text(a, in->ndim, in->dims),
                                shape_text(b, count, shape));
        }
        dims[i] = v->dims[i] = have == 1 ? want : have;
        v->stride[i] = have == 1 ? 0 : stride[from_in];
    }
    return CN_OK;
}

static int expand_forward(cn_graph *g, cn_node *n) { return view_forward(g, n, expand_plan); }
static int expand_jvp(cn_graph *g, cn_node *n) { return view_jvp(g, n, expand_plan); }
static int expand_vjp(cn_graph *g, cn_node *n) { return view_vjp(g, n, expand_plan); }

/* Output dimension i of size repeats*d is read as (repeat, index): stride 0, then the input's stride. */
static int tile_plan(cn_graph *g, const cn_node *n, const cn_tensor *in, int *ndim, int64_t *dims, view *v)
{
    int64_t repeats[CN_ONNX_MAX_DIMS], stride[CN_ONNX_MAX_DIMS];
    int count, rank = in->ndim, rc = cn_input_ints(g, n, 1, repeats, CN_ONNX_MAX_DIMS, &count);
    if (rc) return rc;
    if (count < 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "the repeats input is missing");
    if (count != rank) return cn_node_fail(g, n, CN_ERR_FORMAT, "repeats has %d entries for rank %d", count, rank);
    dense_strides(rank, in->dims, stride);
    *ndim = rank;
    v->ndim = 2 * rank;
    v->offset = 0;
    for (int i = 0; i < rank; i++) {
        if (repeats[i] < 0 || repeats[i] > MAX_ELEMENTS)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "repeats[%d] is %lld", i, (long long)repeats[i]);
        dims[i] = in->dims[i] * repeats[i];
        v->dims[2 * i] = repeats[i];
        v->stride[2 * i] = 0;
        v->dims[2 * i + 1] = in->dims[i];
        v->stride[2 * i + 1] = stride[i];
    }
    return CN_OK;
}

static int tile_forward(cn_graph *g, cn_node *n) { return view_forward(g, n, tile_plan); }
static int tile_jvp(cn_graph *g, cn_node *n) { return view_jvp(g, n, tile_plan); }
static int tile_vjp(cn_graph *g, cn_node *n) { return view_vjp(g, n, tile_plan); }

/* ------------------------------------------------------------------ Slice */

/* ONNX's clamping: negative positions count from the end, then a forward slice clamps start and end to
 * [0, dim] and a backward one to [0, dim-1] and [-1, dim-1] (-1: past the first element). Returns the
 * number of elements taken; *start becomes the first one's index. */
static int64_t slice_count(int64_t dim, int64_t step, int64_t *start, int64_t end)
{
    if (dim == 0) return 0;
    int64_t s = *start < 0 ? *start + dim : *start, e = end < 0 ? end + dim : end;
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
    s = s < 0 ? 0 : s > hi ? hi : s;
    e = e < lo ? lo : e > hi ? hi : e;
    *start = s;
    if ((step > 0 && e <= s) || (step < 0 && s <= e)) return 0;
    /* in unsigned arithmetic, since -step overflows for INT64_MIN */
    uint64_t span = step > 0 ? (uint64_t)(e - s) : (uint64_t)(s - e);
    uint64_t stride = step > 0 ? (uint64_t)step : -(uint64_t)step;
    return (int64_t)(span / stride + (span % stride != 0));
}

/* Slice took starts, ends and axes as attributes before opset 10; a model of either age is read alike. */
static int slice_bounds(cn_graph *g, const cn_node *n, int64_t *starts, int64_t *ends, int64_t *axes,
                        int64_t *steps, int *count)
{
    int nends, naxes, nsteps, rc = cn_input_ints(g, n, 1, starts, CN_ONNX_MAX_DIMS, count);
    if (!rc) rc = cn_input_ints(g, n, 2, ends, CN_ONNX_MAX_DIMS, &nends);
    if (!rc) rc = cn_input_ints(g, n, 3, axes, CN_ONNX_MAX_DIMS, &naxes);
    if (!rc) rc = cn_input_ints(g, n, 4, steps, CN_ONNX_MAX_DIMS, &nsteps);
    if (!rc && *count < 0 && n->nin == 1) {
        rc = cn_attr_ints(g, n, "starts", starts, CN_ONNX_MAX_DIMS, count);
        if (!rc) rc = cn_attr_ints(g, n, "ends", ends, CN_ONNX_MAX_DIMS, &nends);
        if (!rc && cn_attr_find(n, "axes")) rc = cn_attr_ints(g, n, "axes", axes, CN_ONNX_MAX_DIMS, &naxes);
    }
    if (rc) return rc;
    if (*count < 0 || nends < 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "starts or ends is missing");
    if (nends != *count || (naxes >= 0 && naxes != *count) || (nsteps >= 0 && nsteps != *count))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "starts, ends, axes and steps differ in length");
    for (int i = 0; i < *count; i++) {
        if (naxes < 0) axes[i] = i;
        if (nsteps < 0) steps[i] = 1;
    }
    return CN_OK;
}

static int slice_plan(cn_graph *g, const cn_node *n, const cn_tensor *in, int *ndim, int64_t *dims, view *v)
{
    int64_t starts[CN_ONNX_MAX_DIMS], ends[CN_ONNX_MAX_DIMS], axes[CN_ONNX_MAX_DIMS], steps[CN_ONNX_MAX_DIMS];
    int count, rc = slice_bounds(g, n, starts, ends, axes, steps, &count);
    if (rc) return rc;
    view_of(in, v);
    int sliced[CN_ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < count; i++) {
        int axis;
        if ((rc = normalize_axis(g, n, axes[i], in->ndim, &axis))) return rc;
        if (sliced[axis]++) return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld appears twice", (long long)axes[i]);
        if (steps[i] == 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "step 0 on axis %d", axis);
        int64_t start = starts[i], taken = slice_count(in->dims[axis], steps[i], &start, ends[i]);
        if (taken == 0) { /* an empty output reads nothing: the offset may stay where it is */
            v->dims[axis] = 0;
            continue;
        }
        v->offset += start * v->stride[axis];
        /* with one element the step is never taken, and a huge one would overflow the product */
        v->stride[axis] = taken > 1 ? steps[i] * v->stride[axis] : 0;
        v->dims[axis] = taken;
    }
    *ndim = in->ndim;
    memcpy(dims, v->dims, (size_t)in->ndim * sizeof *dims);
    return CN_OK;
}

static int slice_forward(cn_graph *g, cn_node *n) { return view_forward(g, n, slice_plan); }
static int slice_jvp(cn_graph *g, cn_node *n) { return view_jvp(g, n, slice_plan); }
static int slice_vjp(cn_graph *g, cn_node *n) { return view_vjp(g, n, slice_plan); }

/* ------------------------------------------------------------------ Concat */

/* Checks the inputs against input 0 and gives the output's shape; *outer and *inner count the elements
 * before and after the axis, so that each input contributes one run per outer index. */
static int concat_plan(cn_graph *g, const cn_node *n, int *axis, int64_t *dims, int64_t *outer, int64_t *inner)
{
    const cn_tensor *first = cn_node_in(g, n, 0);
    if (!first) return cn_node_fail(g, n, CN_ERR_FORMAT, "input 0 is missing");
    int rank = first->ndim, rc = normalize_axis(g, n, cn_attr_int(n, "axis", 0), rank, axis);
    if (rc) return rc;
    memcpy(dims, first->dims, (size_t)rank * sizeof *dims);
    dims[*axis] = 0;
    for (int i = 0; i < n->nin; i++) {
        const cn_tensor *t = cn_node_in(g, n, i);
        if (!t) return cn_node_fail(g, n, CN_ERR_FORMAT, "input %d is missing", i);
        if ((t->dtype == CN_T_FLOAT) != (first->dtype == CN_T_FLOAT))
            return cn_node_fail(g, n, CN_ERR_FORMAT, "inputs %s and %s differ in type", first->name, t->name);
        if (t->ndim != rank)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "input %s has rank %d, input %s rank %d", t->name, t->ndim,
                                first->name, rank);
        for (int k = 0; k < rank; k++)
            if (k != *axis && t->dims[k] != first->dims[k]) {
                char a[SHAPE_TEXT], b[SHAPE_TEXT];
                return cn_node_fail(g, n, CN_ERR_FORMAT, "cannot concatenate %s %s and %s %s on axis %d", first->name,
                                    shape_text(a, rank, first->dims), t->name, shape_text(b, rank, t->dims), *axis);
            }
        dims[*axis] += t->dims[*axis];
    }
    *outer = product(dims, 0, *axis);
    *inner = product(dims, *axis + 1, rank);
    return CN_OK;
}

/* the inputs' values, or their tangents (zeros for an inactive input), one after another along the axis */
static void concat_copy(cn_graph *g, const cn_node *n, char *dst, int tangents, int axis, int64_t outer,
                        int64_t inner, size_t esize)
{
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n->nin; i++) {
            const cn_tensor *t = cn_node_in(g, n, i);
            const char *src = tangents ? (const char *)cn_node_in_tan(g, n, i) : t->data;
            size_t bytes = (size_t)(t->dims[axis] * inner) * esize;
            if (!bytes) continue;
            if (src) memcpy(dst, src + (size_t)o * bytes, bytes);
            else memset(dst, 0, bytes);
            dst += bytes;
        }
}

static int concat_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *out = cn_node_out(g, n, 0);
    int64_t dims[CN_ONNX_MAX_DIMS], outer, inner;
    int axis, rc = concat_plan(g, n, &axis, dims, &outer, &inner);
    if (rc) return rc;
    if (!out) return cn_node_fail(g, n, CN_ERR_FORMAT, "output 0 is missing");
    int dtype = cn_node_in(g, n, 0)->dtype;
    if ((rc = cn_tensor_set_shape(g, n, out, dtype, cn_node_in(g, n, 0)->ndim, dims))) return rc;
    concat_copy(g, n, out->data, 0, axis, outer, inner, elem_size(dtype));
    return CN_OK;
}

static int concat_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *out = cn_node_out(g, n, 0);
    int64_t dims[CN_ONNX_MAX_DIMS], outer, inner;
    int axis, rc = concat_plan(g, n, &axis, dims, &outer, &inner);
    if (rc || !out || !out->active) return rc;
    concat_copy(g, n, (char *)out->tan, 1, axis, outer, inner, sizeof(cn_real));
    return CN_OK;
}

/* each input's gradient gains its runs of the output's */
static int concat_vjp(cn_graph *g, cn_node *n)
{
    int64_t dims[CN_ONNX_MAX_DIMS], outer, inner;
    int axis, rc = concat_plan(g, n, &axis, dims, &outer, &inner);
    const cn_real *gout = cn_node_out_grad(g, n, 0);
    if (rc || !gout) return rc;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < n->nin; i++) {
            size_t run = (size_t)(cn_node_in(g, n, i)->dims[axis] * inner);
            cn_real *gin = cn_node_in_grad(g, n, i);
            if (gin) cn_grad_add(gin + (size_t)o * run, gout, run);
            gout += run;
        }
    return CN_OK;
}

/* ------------------------------------------------------------------ Split */

/* The size of each output along the axis, in node scratch (there may be more outputs than dimensions):
 * from input 1 (opset 13) or the split attribute (opset 11), else equal parts. An empty input 1 also means
 * equal parts, as onnxruntime reads it. */
static int split_sizes(cn_graph *g, cn_node *n, const cn_tensor *in, int axis, int64_t **sizes)
{
    int parts = n->nout, count = parts, rc = CN_OK;
    if (parts < 1) return cn_node_fail(g, n, CN_ERR_FORMAT, "no outputs");
    if (!(*sizes = cn_node_scratch(g, n, (size_t)parts * sizeof **sizes))) return CN_ERR_NOMEM;
    const cn_tensor *given = cn_node_in(g, n, 1);
    if (given && cn_tensor_numel(given) == 0) given = NULL;
    if (given && cn_tensor_numel(given) != (size_t)parts)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "split has %zu entries for %d outputs", cn_tensor_numel(given), parts);
    if (given) rc = cn_input_ints(g, n, 1, *sizes, parts, &count);
    else if (cn_attr_find(n, "split")) rc = cn_attr_ints(g, n, "split", *sizes, parts, &count);
    else if (cn_attr_find(n, "num_outputs") && in->dims[axis] % parts) {
        /* opset 18: parts of ceil(dim / parts), the last one smaller */
        const int64_t part = (in->dims[axis] + parts - 1) / parts;
        for (int i = 0; i < parts; i++) {
            const int64_t left = in->dims[axis] - part * i;
            (*sizes)[i] = left < part ? (left > 0 ? left : 0) : part;
        }
    } else if (in->dims[axis] % parts)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "cannot split %lld into %d equal parts", (long long)in->dims[axis],
                            parts);
    else
        for (int i = 0; i < parts; i++) (*sizes)[i] = in->dims[axis] / parts;
    if (rc) return rc;
    if (count != parts) return cn_node_fail(g, n, CN_ERR_FORMAT, "split has %d entries for %d outputs", count, parts);
    int64_t total = 0, dim = in->dims[axis];
    for (int i = 0; i < parts; i++) {
        if ((*sizes)[i] < 0) return cn_node_fail(g, n, CN_ERR_FORMAT, "split size %lld", (long long)(*sizes)[i]);
        /* saturated past the dimension, where the sum could overflow */
        total = (*sizes)[i] > dim - total ? dim + 1 : total + (*sizes)[i];
    }
    if (total > dim)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "split sizes add up to more than %lld, the size of axis %d",
                            (long long)dim, axis);
    if (total < dim)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "split sizes add up to %lld, less than %lld (the size of axis %d)",
                            (long long)total, (long long)dim, axis);
    return CN_OK;
}

static int split_plan(cn_graph *g, cn_node *n, const cn_tensor *in, int *axis, int64_t **sizes)
{
    int rc = normalize_axis(g, n, cn_attr_int(n, "axis", 0), in->ndim, axis);
    return rc ? rc : split_sizes(g, n, in, *axis, sizes);
}

/* Output `part` takes elements [first, first + size) along the axis: one run per index before the axis. */
static void split_copy(char *dst, const char *src, const cn_tensor *in, int axis, int64_t first, int64_t size,
                       size_t esize)
{
    int64_t outer = product(in->dims, 0, axis), inner = product(in->dims, axis + 1, in->ndim);
    size_t row = (size_t)(in->dims[axis] * inner) * esize, bytes = (size_t)(size * inner) * esize;
    if (!bytes) return;
    src += (size_t)(first * inner) * esize;
    for (int64_t o = 0; o < outer; o++, dst += bytes, src += row) memcpy(dst, src, bytes);
}

static int split_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in = cn_node_in(g, n, 0);
    int64_t *sizes, dims[CN_ONNX_MAX_DIMS], first = 0;
    int axis, rc;
    if (!in) return cn_node_fail(g, n, CN_ERR_FORMAT, "input 0 is missing");
    if ((rc = split_plan(g, n, in, &axis, &sizes))) return rc;
    memcpy(dims, in->dims, (size_t)in->ndim * sizeof *dims);
    for (int i = 0; i < n->nout; first += sizes[i++]) {
        cn_tensor *out = cn_node_out(g, n, i);
        if (!out) continue;
        dims[axis] = sizes[i];
        if ((rc = cn_tensor_set_shape(g, n, out, in->dtype, in->ndim, dims))) return rc;
        split_copy(out->data, in->data, in, axis, first, sizes[i], elem_size(in->dtype));
    }
    return CN_OK;
}

static int split_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *in = cn_node_in(g, n, 0);
    int64_t *sizes, first = 0;
    int axis, rc;
    if (!in) return cn_node_fail(g, n, CN_ERR_FORMAT, "input 0 is missing");
    if ((rc = split_plan(g, n, in, &axis, &sizes))) return rc;
    const cn_real *tan = cn_node_in_tan(g, n, 0);
    for (int i = 0; i < n->nout; first += sizes[i++]) {
        cn_tensor *out = cn_node_out(g, n, i);
        if (!out || !out->active) continue;
        if (tan) split_copy((char *)out->tan, (const char *)tan, in, axis, first, sizes[i], sizeof(cn_real));
        else zero_tangent(out);
    }
    return CN_OK;
}

/* the input's gradient gains each output's runs at the place they were cut from */
static int split_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *in = cn_node_in(g, n, 0);
    int64_t *sizes, first = 0;
    int axis, rc;
    cn_real *gin = cn_node_in_grad(g, n, 0);
    if (!in || !gin) return CN_OK;
    if ((rc = split_plan(g, n, in, &axis, &sizes))) return rc;
    int64_t outer = product(in->dims, 0, axis), inner = product(in->dims, axis + 1, in->ndim);
    size_t row = (size_t)(in->dims[axis] * inner);
    for (int i = 0; i < n->nout; first += sizes[i++]) {
        const cn_real *gout = cn_node_out_grad(g, n, i);
        size_t run = (size_t)(sizes[i] * inner);
        if (!gout) continue;
        for (int64_t o = 0; o < outer; o++) cn_grad_add(gin + (size_t)o * row + (size_t)(first * inner), gout + o * run, run);
    }
    return CN_OK;
}

/* ------------------------------------------------------------------ Gather */

typedef struct {
    int64_t outer, axis_dim, inner; /* data as (outer, axis_dim, inner) */
    const int64_t *index;
    size_t count;                   /* indices */
} gather_geometry;

/* Output shape data[:axis] + indices.shape + data[axis+1:]; every index is checked here, so the copy
 * only wraps negative ones. */
static int gather_plan(cn_graph *g, const cn_node *n, const cn_tensor *data, int *ndim, int64_t *dims,
                       gather_geometry *geo)
{
    const cn_tensor *indices = cn_node_in(g, n, 1);
    int axis, rc = normalize_axis(g, n, cn_attr_int(n, "axis", 0), data->ndim, &axis);
    if (rc) return rc;
    if (!indices) return cn_node_fail(g, n, CN_ERR_FORMAT, "the indices input is missing");
    if (indices->dtype == CN_T_FLOAT) return cn_node_fail(g, n, CN_ERR_FORMAT, "indices must be integers");
    *ndim = data->ndim - 1 + indices->ndim;
    if (*ndim > CN_ONNX_MAX_DIMS)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "output would have rank %d (at most %d)", *ndim, CN_ONNX_MAX_DIMS);
    memcpy(dims, data->dims, (size_t)axis * sizeof *dims);
    memcpy(dims + axis, indices->dims, (size_t)indices->ndim * sizeof *dims);
    memcpy(dims + axis + indices->ndim, data->dims + axis + 1, (size_t)(data->ndim - axis - 1) * sizeof *dims);
    geo->outer = product(data->dims, 0, axis);
    geo->axis_dim = data->dims[axis];
    geo->inner = product(data->dims, axis + 1, data->ndim);
    geo->index = indices->data;
    geo->count = cn_tensor_numel(indices);
    for (size_t i = 0; i < geo->count; i++)
        if (geo->index[i] < -geo->axis_dim || geo->index[i] >= geo->axis_dim)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "index %lld out of range for axis %d of size %lld",
                                (long long)geo->index[i], axis, (long long)geo->axis_dim);
    return CN_OK;
}

static void gather_copy(char *dst, const char *src, const gather_geometry *geo, size_t esize)
{
    size_t bytes = (size_t)geo->inner * esize;
    if (!bytes) return;
    for (int64_t o = 0; o < geo->outer; o++)
        for (size_t i = 0; i < geo->count; i++, dst += bytes) {
            int64_t j = geo->index[i] < 0 ? geo->index[i] + geo->axis_dim : geo->index[i];
            memcpy(dst, src + (size_t)(o * geo->axis_dim + j) * bytes, bytes);
        }
}

static int gather_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *data, *out;
    int64_t dims[CN_ONNX_MAX_DIMS];
    int ndim;
    gather_geometry geo;
    int rc = first_in_out(g, n, &data, &out);
    if (!rc) rc = gather_plan(g, n, data, &ndim, dims, &geo);
    if (!rc) rc = cn_tensor_set_shape(g, n, out, data->dtype, ndim, dims);
    if (rc) return rc;
    gather_copy(out->data, data->data, &geo, elem_size(data->dtype));
    return CN_OK;
}

static int gather_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *data, *out;
    int64_t dims[CN_ONNX_MAX_DIMS];
    int ndim;
    gather_geometry geo;
    int rc = first_in_out(g, n, &data, &out);
    if (rc || !out->active) return rc;
    const cn_real *tan = cn_node_in_tan(g, n, 0);
    if (!tan) zero_tangent(out);
    else if (!(rc = gather_plan(g, n, data, &ndim, dims, &geo)))
        gather_copy((char *)out->tan, (const char *)tan, &geo, sizeof(cn_real));
    return rc;
}

/* an index that appears twice sums its rows' gradients */
static int gather_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *data, *out;
    int64_t dims[CN_ONNX_MAX_DIMS];
    int ndim;
    gather_geometry geo;
    int rc = first_in_out(g, n, &data, &out);
    cn_real *gin = rc ? NULL : cn_node_in_grad(g, n, 0);
    const cn_real *gout = rc ? NULL : cn_node_out_grad(g, n, 0);
    if (rc || !gin || !gout || (rc = gather_plan(g, n, data, &ndim, dims, &geo))) return rc;
    size_t run = (size_t)geo.inner;
    for (int64_t o = 0; o < geo.outer; o++)
        for (size_t i = 0; i < geo.count; i++, gout += run) {
            int64_t j = geo.index[i] < 0 ? geo.index[i] + geo.axis_dim : geo.index[i];
            cn_grad_add(gin + (size_t)(o * geo.axis_dim + j) * run, gout, run);
        }
    return CN_OK;
}

/* ------------------------------------------------------------------ Pad */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

/* Each output dimension maps its indices to the input's through a table (-1: the constant), so that every
 * mode, and negative pads that crop, share one copy. The tables live in node scratch. */
typedef struct {
    int rank, mode;
    int64_t dims[CN_ONNX_MAX_DIMS];       /* output */
    int64_t in_stride[CN_ONNX_MAX_DIMS];
    const int64_t *source[CN_ONNX_MAX_DIMS];
} pad_plan;

/* the input index output index j of a dimension reads, where `at` = j - the pad before it */
static int64_t pad_source(int mode, int64_t at, int64_t dim)
{
    if (mode == PAD_CONSTANT) return at >= 0 && at < dim ? at : -1;
    if (mode == PAD_EDGE) return at < 0 ? 0 : at >= dim ? dim - 1 : at;
    if (dim == 1) return 0;
    int64_t period = 2 * (dim - 1), m = at % period; /* reflection repeats every 2 (dim - 1) */
    if (m < 0) m += period;
    return m < dim ? m : period - m;
}

static int pad_mode(cn_graph *g, const cn_node *n, int *mode)
{
    const char *name = cn_attr_string(n, "mode", "constant");
    if (strcmp(name, "constant") == 0) *mode = PAD_CONSTANT;
    else if (strcmp(name, "reflect") == 0) *mode = PAD_REFLECT;
    else if (strcmp(name, "edge") == 0) *mode = PAD_EDGE;
    else return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "mode %s is not supported (constant, reflect, edge)", name);
    return CN_OK;
}

/* pads: input 1 since opset 11, the attribute before; all begins, then all ends; since opset 18 they may
 * cover only the axes of input 3, the others unpadded */
static int pad_amounts(cn_graph *g, const cn_node *n, int rank, int64_t *pads)
{
    int64_t axes[CN_ONNX_MAX_DIMS], given[2 * CN_ONNX_MAX_DIMS];
    int count, naxes, rc = cn_input_ints(g, n, 1, pads, 2 * CN_ONNX_MAX_DIMS, &count);
    if (!rc && count < 0 && cn_attr_find(n, "pads"))
        rc = cn_attr_ints(g, n, "pads", pads, 2 * CN_ONNX_MAX_DIMS, &count);
    if (!rc) rc = cn_input_ints(g, n, 3, axes, CN_ONNX_MAX_DIMS, &naxes);
    if (rc) return rc;
    if (naxes >= 0) {
        if (count != 2 * naxes)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "pads has %d entries for %d axes", count < 0 ? 0 : count, naxes);
        memcpy(given, pads, (size_t)count * sizeof *pads);
        for (int k = 0; k < 2 * rank; k++) pads[k] = 0;
        for (int i = 0; i < naxes; i++) {
            int ax;
            if (cn_axis_normalize(axes[i], rank, &ax))
                return cn_node_fail(g, n, CN_ERR_FORMAT, "axis %lld is out of range for rank %d", (long long)axes[i], rank);
            pads[ax] = given[i];
            pads[rank + ax] = given[naxes + i];
        }
        count = 2 * rank;
    }
    if (count != 2 * rank)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "pads has %d entries for rank %d (2 per dimension)",
                            count < 0 ? 0 : count, rank);
    return CN_OK;
}

static int pad_make_plan(cn_graph *g, cn_node *n, const cn_tensor *in, pad_plan *p)
{
    int64_t pads[2 * CN_ONNX_MAX_DIMS], total = 0;
    int rank = p->rank = in->ndim, rc = pad_mode(g, n, &p->mode);
    if (!rc) rc = pad_amounts(g, n, rank, pads);
    if (rc) return rc;
    for (int k = 0; k < 2 * rank; k++)
        if (pads[k] < -MAX_ELEMENTS || pads[k] > MAX_ELEMENTS)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "pad %lld is out of range", (long long)pads[k]);
    for (int k = 0; k < rank; k++) {
        p->dims[k] = in->dims[k] + pads[k] + pads[rank + k];
        if (p->dims[k] > MAX_ELEMENTS)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "dimension %d would have %lld elements", k, (long long)p->dims[k]);
        if (p->dims[k] < 0)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "pads %lld and %lld crop more than the %lld of dimension %d",
                                (long long)pads[k], (long long)pads[rank + k], (long long)in->dims[k], k);
        if (p->mode != PAD_CONSTANT && in->dims[k] == 0 && p->dims[k] > 0)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "cannot pad the empty dimension %d by %s", k,
                                cn_attr_string(n, "mode", "constant"));
        total += p->dims[k];
    }
    int64_t *table = cn_node_scratch(g, n, (size_t)(total ? total : 1) * sizeof *table);
    if (!table) return CN_ERR_NOMEM;
    dense_strides(rank, in->dims, p->in_stride);
    for (int k = 0; k < rank; k++) {
        for (int64_t j = 0; j < p->dims[k]; j++) table[j] = pad_source(p->mode, j - pads[k], in->dims[k]);
        p->source[k] = table;
        table += p->dims[k];
    }
    return CN_OK;
}

static void copy_elem(char *dst, const char *src, size_t esize)
{
    if (esize == 8) memcpy(dst, src, 8);
    else memcpy(dst, src, 4);
}

/* One innermost run at a time: a run whose outer indices fall in the padding is all constant. */
static void pad_copy(char *dst, const char *src, const pad_plan *p, size_t esize, const void *fill)
{
    int inner = p->rank - 1;
    if (p->rank == 0) {
        copy_elem(dst, src, esize);
        return;
    }
    int64_t idx[CN_ONNX_MAX_DIMS] = {0}, run = p->dims[inner], runs = product(p->dims, 0, inner);
    const int64_t *last = p->source[inner];
    for (int64_t r = 0; r < runs; r++, dst += run * (int64_t)esize) {
        int64_t base = 0;
        for (int k = 0; k < inner && base >= 0; k++)
            base = p->source[k][idx[k]] < 0 ? -1 : base + p->source[k][idx[k]] * p->in_stride[k];
        for (int64_t j = 0; j < run; j++) {
            const char *from = base < 0 || last[j] < 0 ? fill : src + (base + last[j]) * (int64_t)esize;
            copy_elem(dst + j * (int64_t)esize, from, esize);
        }
        for (int k = inner - 1; k >= 0 && ++idx[k] == p->dims[k]; k--) idx[k] = 0;
    }
}

/* the constant in the data's own type: input 2 since opset 11, the value attribute before */
static int pad_fill(cn_graph *g, const cn_node *n, cn_real *real, int64_t *integer)
{
    const cn_tensor *c = cn_node_in(g, n, 2);
    double value = cn_attr_float(n, "value", 0);
    int rc = cn_input_scalar(g, n, 2, value, &value);
    if (rc) return rc;
    *real = (cn_real)value;
    /* an int64 constant read directly: through double it would lose digits beyond 2^53. A float one is
     * converted saturating: it is only used if the data are integers, and value = -inf (a float Pad's
     * constant) or NaN would make a plain cast undefined. */
    if (c && c->dtype != CN_T_FLOAT) *integer = ((const int64_t *)c->data)[0];
    else if (value >= -9223372036854775808.0 && value < 9223372036854775808.0) *integer = (int64_t)value;
    else *integer = value > 0 ? INT64_MAX : value < 0 ? INT64_MIN : 0;
    return CN_OK;
}

static int pad_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    pad_plan p;
    cn_real real;
    int64_t integer;
    int rc = first_in_out(g, n, &in, &out);
    if (!rc) rc = pad_make_plan(g, n, in, &p);
    if (!rc) rc = pad_fill(g, n, &real, &integer);
    if (!rc) rc = cn_tensor_set_shape(g, n, out, in->dtype, p.rank, p.dims);
    if (rc || cn_tensor_numel(out) == 0) return rc;
    int is_float = in->dtype == CN_T_FLOAT;
    pad_copy(out->data, in->data, &p, elem_size(in->dtype), is_float ? (const void *)&real : (const void *)&integer);
    return CN_OK;
}

static int pad_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    pad_plan p;
    const cn_real zero = 0;
    int rc = first_in_out(g, n, &in, &out);
    if (rc || !out->active) return rc;
    const cn_real *tan = cn_node_in_tan(g, n, 0);
    if (!tan) zero_tangent(out);
    else if (!(rc = pad_make_plan(g, n, in, &p)) && cn_tensor_numel(out))
        pad_copy((char *)out->tan, (const char *)tan, &p, sizeof(cn_real), &zero);
    return rc;
}

/* every output element that reads an input element adds its gradient there (edge and reflect read some
 * several times); the constant padding reads none */
static int pad_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *in, *out;
    pad_plan p;
    int rc = first_in_out(g, n, &in, &out);
    cn_real *gin = rc ? NULL : cn_node_in_grad(g, n, 0);
    const cn_real *gout = rc ? NULL : cn_node_out_grad(g, n, 0);
    if (rc || !gin || !gout || (rc = pad_make_plan(g, n, in, &p))) return rc;
    const size_t count = cn_tensor_numel(out);
    int64_t idx[CN_ONNX_MAX_DIMS] = {0};
    for (size_t i = 0; i < count; i++) {
        int64_t at = 0;
        for (int k = 0; k < p.rank && at >= 0; k++) {
            int64_t j = p.source[k][idx[k]];
            at = j < 0 ? -1 : at + j * p.in_stride[k];
        }
        if (at >= 0) gin[at] += gout[i];
        for (int k = p.rank - 1; k >= 0 && ++idx[k] == p.dims[k]; k--) idx[k] = 0;
    }
    return CN_OK;
}

/* ------------------------------------------------------------------ the table entries */

const cn_op cn_op_Transpose = {.name = "Transpose", .forward = transpose_forward, .jvp = transpose_jvp,
                               .vjp = transpose_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Expand = {.name = "Expand", .forward = expand_forward, .jvp = expand_jvp, .vjp = expand_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Tile = {.name = "Tile", .forward = tile_forward, .jvp = tile_jvp, .vjp = tile_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Slice = {.name = "Slice", .forward = slice_forward, .jvp = slice_jvp, .vjp = slice_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Concat = {.name = "Concat", .forward = concat_forward, .jvp = concat_jvp, .vjp = concat_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Split = {.name = "Split", .forward = split_forward, .jvp = split_jvp, .vjp = split_vjp, .tangent_rule = CN_TANGENT_LINEAR};
const cn_op cn_op_Gather = {.name = "Gather", .forward = gather_forward, .jvp = gather_jvp, .vjp = gather_vjp, .tangent_rule = CN_TANGENT_LINEAR};
/* Pad's constant value is not trained */
const cn_op cn_op_Pad = {.name = "Pad", .forward = pad_forward, .jvp = pad_jvp, .vjp = pad_vjp, .frozen_in = 1u << 2, .tangent_rule = CN_TANGENT_LINEAR};
