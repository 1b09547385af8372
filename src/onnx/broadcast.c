/* broadcast.c: shapes and row plans for ONNX broadcasting (see broadcast.h for the design), and the small
 * shape helpers the operator files share. */
#include <stdio.h>
#include <string.h>
#include "onnx/broadcast.h"

/* operand dimension on output axis j of a rank-ndim result: right-aligned, 1 where the operand has no axis */
static int64_t aligned_dim(int op_ndim, const int64_t *op_dims, int ndim, int j)
{
    int oj = j - (ndim - op_ndim);
    return oj >= 0 ? op_dims[oj] : 1;
}

int cn_bcast_shape(int nop, const int *op_ndim, const int64_t *const *op_dims, int *ndim, int64_t *dims)
{
    int r = 0;
    for (int k = 0; k < nop; k++)
        if (op_ndim[k] > r) r = op_ndim[k];
    if (r > CN_ONNX_MAX_DIMS) return -1;
    for (int j = 0; j < r; j++) {
        int64_t d = 1;
        for (int k = 0; k < nop; k++) {
            int64_t e = aligned_dim(op_ndim[k], op_dims[k], r, j);
            if (e == 1) continue;
            if (d == 1) d = e;
            else if (e != d) return -1;
        }
        dims[j] = d;
    }
    *ndim = r;
    return 0;
}

int cn_bcast_tensors(int nop, const cn_tensor *const *t, int *ndim, int64_t *dims)
{
    int nd[CN_BCAST_MAX_OPS];
    const int64_t *dd[CN_BCAST_MAX_OPS];
    if (nop > CN_BCAST_MAX_OPS) return -1;
    for (int k = 0; k < nop; k++) {
        nd[k] = t[k]->ndim;
        dd[k] = t[k]->dims;
    }
    return cn_bcast_shape(nop, nd, dd, ndim, dims);
}

int cn_bcast_to(int src_ndim, const int64_t *src_dims, int ndim, const int64_t *dims)
{
    if (src_ndim > ndim) return 0;
    for (int j = 0; j < ndim; j++) {
        int64_t e = aligned_dim(src_ndim, src_dims, ndim, j);
        if (e != 1 && e != dims[j]) return 0;
    }
    return 1;
}

/* contiguous strides of one operand laid along the output's axes, 0 where it is broadcast */
static void operand_strides(int op_ndim, const int64_t *op_dims, int ndim, int64_t *stride)
{
    int64_t s = 1;
    for (int j = ndim - 1; j >= 0; j--) {
        int64_t e = aligned_dim(op_ndim, op_dims, ndim, j);
        stride[j] = e == 1 ? 0 : s;
        s *= e;
    }
}

void cn_bcast_plan(cn_bcast *p, int ndim, const int64_t *dims, int nop, const int *op_ndim,
                   const int64_t *const *op_dims)
{
    int64_t st[CN_BCAST_MAX_OPS][CN_ONNX_MAX_DIMS];
    int64_t numel = 1;
    for (int j = 0; j < ndim; j++) numel *= dims[j];
    for (int k = 0; k < nop; k++) operand_strides(op_ndim[k], op_dims[k], ndim, st[k]);
    memset(p, 0, sizeof *p);
    p->nop = nop;
    if (numel == 0) { /* nothing to walk: one empty row */
        p->ndim = 1;
        return;
    }
    int m = 0;
    for (int j = 0; j < ndim; j++) {
        if (dims[j] == 1) continue; /* every operand has it at 1 too: it moves nothing */
        int merges = m > 0;
        for (int k = 0; k < nop && merges; k++)
            merges = p->stride[k][m - 1] == st[k][j] * dims[j];
        if (merges) {
            p->dims[m - 1] *= dims[j];
            for (int k = 0; k < nop; k++) p->stride[k][m - 1] = st[k][j];
        } else {
            p->dims[m] = dims[j];
            for (int k = 0; k < nop; k++) p->stride[k][m] = st[k][j];
            m++;
        }
    }
    if (m == 0) { /* a single element */
        p->dims[0] = 1;
        m = 1;
    }
    p->ndim = m;
}

void cn_bcast_plan_tensors(cn_bcast *p, int ndim, const int64_t *dims, int nop, const cn_tensor *const *t)
{
    int nd[CN_BCAST_MAX_OPS];
    const int64_t *dd[CN_BCAST_MAX_OPS];
    for (int k = 0; k < nop; k++) {
        nd[k] = t[k]->ndim;
        dd[k] = t[k]->dims;
    }
    cn_bcast_plan(p, ndim, dims, nop, nd, dd);
}

size_t cn_bcast_rows(const cn_bcast *p)
{
    size_t r = 1;
    for (int d = 0; d < p->ndim - 1; d++) r *= (size_t)p->dims[d];
    return r;
}

/* one copy loop for both element types: rows of the source are runs or a repeated value */
#define BCAST_COPY(T)                                                                                          \
    cn_bcast p;                                                                                                \
    cn_bcast_pos q;                                                                                            \
    cn_bcast_plan(&p, ndim, dims, 1, &src_ndim, &src_dims);                                                    \
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);                                         \
    const int step = cn_bcast_inner_step(&p, 0);                                                               \
    cn_bcast_start(&p, &q);                                                                                    \
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {                                                 \
        T *d = dst + r * inner;                                                                                \
        const T *s = src + q.off[0];                                                                           \
        if (step) memcpy(d, s, inner * sizeof(T));                                                             \
        else                                                                                                   \
            for (size_t i = 0; i < inner; i++) d[i] = s[0];                                                    \
    }

void cn_bcast_copy_real(cn_real *dst, int ndim, const int64_t *dims, const cn_real *src, int src_ndim,
                        const int64_t *src_dims)
{
    BCAST_COPY(cn_real)
}

void cn_bcast_copy_int(int64_t *dst, int ndim, const int64_t *dims, const int64_t *src, int src_ndim,
                       const int64_t *src_dims)
{
    BCAST_COPY(int64_t)
}

void cn_bcast_sum_real(cn_real *src_grad, int src_ndim, const int64_t *src_dims, const cn_real *g, int ndim,
                       const int64_t *dims, cn_real scale)
{
    cn_bcast p;
    cn_bcast_pos q;
    cn_bcast_plan(&p, ndim, dims, 1, &src_ndim, &src_dims);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int step = cn_bcast_inner_step(&p, 0);
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q)) {
        const cn_real *s = g + r * inner;
        cn_real *d = src_grad + q.off[0];
        if (step) {
            CN_SIMD for (size_t i = 0; i < inner; i++) d[i] += scale * s[i];
        } else {
            double sum = 0;
            CN_SIMD_SUM(sum) for (size_t i = 0; i < inner; i++) sum += s[i];
            d[0] += (cn_real)(scale * sum);
        }
    }
}

const char *cn_shape_format(char *buf, size_t size, int ndim, const int64_t *dims)
{
    size_t used = 0;
    if (size == 0) return buf;
    buf[0] = 0;
    int w = snprintf(buf, size, "(");
    used = w > 0 ? (size_t)w : 0;
    for (int j = 0; j < ndim && used < size; j++) {
        w = snprintf(buf + used, size - used, j ? ",%lld" : "%lld", (long long)dims[j]);
        if (w > 0) used += (size_t)w;
    }
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

const char *cn_dtype_label(int dtype)
{
    switch (dtype) {
    case CN_T_FLOAT: return "float";
    case CN_T_INT64: return "int64";
    case CN_T_BOOL: return "bool";
    default: return "unknown type";
    }
}

int cn_axis_normalize(int64_t axis, int ndim, int *out)
{
    if (axis < -ndim || axis >= ndim) return -1;
    *out = (int)(axis < 0 ? axis + ndim : axis);
    return 0;
}
