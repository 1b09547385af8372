/* broadcast.h: ONNX multidirectional (numpy) broadcasting, shared by the elementwise, matmul and reduce ops.
 *
 * A plan maps the output's index space onto each operand, with stride 0 along the axes where the operand is
 * broadcast, then drops size-1 axes and merges neighbouring axes that are contiguous for every operand. What
 * is left is walked as rows: the last merged axis is a contiguous inner loop in which every operand's stride
 * is 0 or 1, so the kernels can specialise on those two cases and vectorise. The shapes that matter for speed
 * fall out of the merge with no code of their own: equal shapes become one row, a scalar operand one row at
 * stride 0, and (N,C,H,W) against (N,C,1,1) or (1,C,1,1) N*C rows of H*W against a single value.
 */
#ifndef CN_ONNX_BROADCAST_H
#define CN_ONNX_BROADCAST_H

#include <stddef.h>
#include <stdint.h>
#include "onnx/graph.h"

#define CN_BCAST_MAX_OPS 3 /* Where's condition, X and Y */

typedef struct {
    int nop;
    int ndim;                                           /* merged axes, at least 1 */
    int64_t dims[CN_ONNX_MAX_DIMS];
    int64_t stride[CN_BCAST_MAX_OPS][CN_ONNX_MAX_DIMS]; /* in elements; 0 along a broadcast axis */
} cn_bcast;

/* where a walk over the rows of a plan is: the outer index and each operand's offset at the row's start */
typedef struct {
    int64_t idx[CN_ONNX_MAX_DIMS];
    size_t off[CN_BCAST_MAX_OPS];
} cn_bcast_pos;

/* The broadcast of nop shapes into (*ndim, dims). Returns 0, or -1 when two dimensions differ and neither
 * is 1. */
int cn_bcast_shape(int nop, const int *op_ndim, const int64_t *const *op_dims, int *ndim, int64_t *dims);
/* The same for tensors (NULL entries are not allowed). */
int cn_bcast_tensors(int nop, const cn_tensor *const *t, int *ndim, int64_t *dims);
/* 1 when (src_ndim, src_dims) broadcasts to exactly (ndim, dims): ONNX's unidirectional broadcast. */
int cn_bcast_to(int src_ndim, const int64_t *src_dims, int ndim, const int64_t *dims);

/* Plans a walk over the output (ndim, dims); each operand must broadcast to it unidirectionally. */
void cn_bcast_plan(cn_bcast *p, int ndim, const int64_t *dims, int nop, const int *op_ndim,
                   const int64_t *const *op_dims);
void cn_bcast_plan_tensors(cn_bcast *p, int ndim, const int64_t *dims, int nop, const cn_tensor *const *t);

static inline size_t cn_bcast_inner(const cn_bcast *p) { return (size_t)p->dims[p->ndim - 1]; }
/* operand k's stride along the inner loop: 1, or 0 when it is broadcast there */
static inline int cn_bcast_inner_step(const cn_bcast *p, int k) { return p->stride[k][p->ndim - 1] != 0; }
size_t cn_bcast_rows(const cn_bcast *p);

static inline void cn_bcast_start(const cn_bcast *p, cn_bcast_pos *q)
{
    for (int d = 0; d < p->ndim; d++) q->idx[d] = 0;
    for (int k = 0; k < CN_BCAST_MAX_OPS; k++) q->off[k] = 0;
}

/* moves q to the next row (the output's next inner run) */
static inline void cn_bcast_next(const cn_bcast *p, cn_bcast_pos *q)
{
    for (int d = p->ndim - 2; d >= 0; d--) {
        for (int k = 0; k < p->nop; k++) q->off[k] += (size_t)p->stride[k][d];
        if (++q->idx[d] < p->dims[d]) return;
        for (int k = 0; k < p->nop; k++) q->off[k] -= (size_t)(p->stride[k][d] * p->dims[d]);
        q->idx[d] = 0;
    }
}

/* dst (ndim, dims) = src broadcast (src must broadcast to dst unidirectionally): Expand, Gemm's C, the
 * first operand of a variadic Max */
void cn_bcast_copy_real(cn_real *dst, int ndim, const int64_t *dims, const cn_real *src, int src_ndim,
                        const int64_t *src_dims);
void cn_bcast_copy_int(int64_t *dst, int ndim, const int64_t *dims, const int64_t *src, int src_ndim,
                       const int64_t *src_dims);
/* The transpose of cn_bcast_copy_real: src_grad += scale * (g (ndim, dims) summed over the axes along which the
 * source was broadcast). The gradient of Expand, Gemm's C and every broadcast operand. */
void cn_bcast_sum_real(cn_real *src_grad, int src_ndim, const int64_t *src_dims, const cn_real *g, int ndim,
                       const int64_t *dims, cn_real scale);

#include "kernels/simd.h" /* CN_SIMD, CN_SIMD_SUM */

/* the scalar type's own exponential: glibc's expf takes a third of exp's time, and the float build rounds
 * the result to float anyway */
#ifdef CRITNET_DOUBLE
#define cn_real_exp(v) exp(v)
#define cn_real_expm1(v) expm1(v)
#else
#define cn_real_exp(v) expf(v)
#define cn_real_expm1(v) expm1f(v)
#endif

/* "(2,3,4)" ("()" for a scalar) into buf, for messages; returns buf */
const char *cn_shape_format(char *buf, size_t size, int ndim, const int64_t *dims);
/* "float", "int64", "bool" */
const char *cn_dtype_label(int dtype);
/* axis in [-ndim, ndim) to [0, ndim) in *out; -1 when out of range */
int cn_axis_normalize(int64_t axis, int ndim, int *out);

#endif
