/* ops_matmul.c: Gemm and MatMul through BLAS (cn_matmul: float or double by CRITNET_DOUBLE), forward and
 * jvp.
 *
 * MatMul follows numpy: a 1-D operand is promoted to a matrix and the added axis removed from the result, and
 * the batch axes (all but the last two) broadcast. Where B is a single matrix, as for every Linear layer
 * applied to a sequence, A's batch folds into its rows and the product is one GEMM, which BLAS runs far
 * faster than many small ones; otherwise there is one GEMM per output matrix, with the batch walked by a
 * broadcast plan (broadcast.h) whose elements are whole matrices. The jvp is the same products on the
 * tangents, tA@B + A@tB, the second accumulated onto the first by GEMM's beta.
 */
#include <limits.h>
#include <string.h>
#include "core/blas.h"
#include "onnx/broadcast.h"
#include "onnx/graph.h"

/* C (M,N) = op(A) op(B) * alpha + beta * C, also for the empty products BLAS refuses (K = 0: lda 0) */
static void gemm_any(int transA, int transB, int64_t M, int64_t N, int64_t K, cn_real alpha, const cn_real *A,
                     const cn_real *B, cn_real beta, cn_real *C)
{
    if (M == 0 || N == 0) return;
    if (K == 0) {
        size_t count = (size_t)M * (size_t)N;
        if (beta == 0) memset(C, 0, count * sizeof *C);
        else
            for (size_t i = 0; i < count; i++) C[i] *= beta;
        return;
    }
    cn_matmul(transA, transB, (int)M, (int)N, (int)K, alpha, A, B, beta, C);
}

static int too_large(int64_t v) { return v > INT_MAX; }

/* ------------------------------------------------------------------ MatMul */

typedef struct {
    int64_t M, K, N;
    int a_batch_ndim, b_batch_ndim;      /* batch axes of each operand */
    int64_t a_batch[CN_ONNX_MAX_DIMS], b_batch[CN_ONNX_MAX_DIMS];
    int batch_ndim;
    int64_t batch[CN_ONNX_MAX_DIMS];     /* their broadcast: the output's batch axes */
    int fold;                            /* B is one matrix: A's batch folds into M */
} matmul_shape;

static int matmul_fail_shapes(cn_graph *g, cn_node *n, const cn_tensor *a, const cn_tensor *b, const char *why)
{
    char sa[160], sb[160];
    return cn_node_fail(g, n, CN_ERR_FORMAT, "shapes %s and %s: %s", cn_shape_format(sa, sizeof sa, a->ndim, a->dims),
                        cn_shape_format(sb, sizeof sb, b->ndim, b->dims), why);
}

static int64_t product(int ndim, const int64_t *dims)
{
    int64_t p = 1;
    for (int j = 0; j < ndim; j++) p *= dims[j];
    return p;
}

/* the shape of A @ B into s and (ndim, dims) */
static int matmul_plan(cn_graph *g, cn_node *n, const cn_tensor *a, const cn_tensor *b, matmul_shape *s,
                       int *ndim, int64_t *dims)
{
    if (a->dtype != CN_T_FLOAT || b->dtype != CN_T_FLOAT)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs float inputs, got %s and %s", cn_dtype_label(a->dtype),
                            cn_dtype_label(b->dtype));
    if (a->ndim < 1 || b->ndim < 1) return matmul_fail_shapes(g, n, a, b, "operands must have rank 1 or more");
    s->M = a->ndim >= 2 ? a->dims[a->ndim - 2] : 1;
    s->K = a->dims[a->ndim - 1];
    s->N = b->ndim >= 2 ? b->dims[b->ndim - 1] : 1;
    if ((b->ndim >= 2 ? b->dims[b->ndim - 2] : b->dims[0]) != s->K)
        return matmul_fail_shapes(g, n, a, b, "inner dimensions differ");
    if (too_large(s->M) || too_large(s->N) || too_large(s->K))
        return matmul_fail_shapes(g, n, a, b, "a matrix dimension exceeds the BLAS limit");
    s->a_batch_ndim = a->ndim > 2 ? a->ndim - 2 : 0;
    s->b_batch_ndim = b->ndim > 2 ? b->ndim - 2 : 0;
    memcpy(s->a_batch, a->dims, (size_t)s->a_batch_ndim * sizeof *a->dims);
    memcpy(s->b_batch, b->dims, (size_t)s->b_batch_ndim * sizeof *b->dims);
    const int nd[2] = {s->a_batch_ndim, s->b_batch_ndim};
    const int64_t *dd[2] = {s->a_batch, s->b_batch};
    if (cn_bcast_shape(2, nd, dd, &s->batch_ndim, s->batch))
        return matmul_fail_shapes(g, n, a, b, "batch dimensions do not broadcast");
    s->fold = s->b_batch_ndim == 0 && !too_large(product(s->batch_ndim, s->batch) * s->M);
    *ndim = s->batch_ndim;
    memcpy(dims, s->batch, (size_t)s->batch_ndim * sizeof *dims);
    if (a->ndim >= 2) dims[(*ndim)++] = s->M;
    if (b->ndim >= 2) dims[(*ndim)++] = s->N;
    return CN_OK;
}

/* C = A @ B + beta * C over the batch, A and B laid out as s says (tangents share their values' layouts) */
static void matmul_batched(const matmul_shape *s, const cn_real *A, const cn_real *B, cn_real beta, cn_real *C)
{
    if (s->fold) {
        gemm_any(0, 0, product(s->batch_ndim, s->batch) * s->M, s->N, s->K, 1, A, B, beta, C);
        return;
    }
    const size_t a_mat = (size_t)(s->M * s->K), b_mat = (size_t)(s->K * s->N), c_mat = (size_t)(s->M * s->N);
    const int nd[2] = {s->a_batch_ndim, s->b_batch_ndim};
    const int64_t *dd[2] = {s->a_batch, s->b_batch};
    cn_bcast p;
    cn_bcast_plan(&p, s->batch_ndim, s->batch, 2, nd, dd);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sa = cn_bcast_inner_step(&p, 0), sb = cn_bcast_inner_step(&p, 1);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q))
        for (size_t i = 0; i < inner; i++)
            gemm_any(0, 0, s->M, s->N, s->K, 1, A + (q.off[0] + i * sa) * a_mat, B + (q.off[1] + i * sb) * b_mat,
                     beta, C + (r * inner + i) * c_mat);
}

static int matmul_operands(cn_graph *g, cn_node *n, cn_tensor **a, cn_tensor **b, cn_tensor **y)
{
    *a = cn_node_in(g, n, 0);
    *b = cn_node_in(g, n, 1);
    *y = cn_node_out(g, n, 0);
    if (!*a || !*b) return cn_node_fail(g, n, CN_ERR_FORMAT, "needs two inputs");
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "the output is missing");
    return CN_OK;
}

static int matmul_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *y;
    matmul_shape s;
    int ndim, rc;
    int64_t dims[CN_ONNX_MAX_DIMS];
    if ((rc = matmul_operands(g, n, &a, &b, &y)) || (rc = matmul_plan(g, n, a, b, &s, &ndim, dims))) return rc;
    if ((rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, ndim, dims))) return rc;
    matmul_batched(&s, a->data, b->data, 0, y->data);
    return CN_OK;
}

static int matmul_jvp_one(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *y;
    matmul_shape s;
    int ndim, rc;
    int64_t dims[CN_ONNX_MAX_DIMS];
    if ((rc = matmul_operands(g, n, &a, &b, &y)) || (rc = matmul_plan(g, n, a, b, &s, &ndim, dims))) return rc;
    const cn_real *ta = cn_node_in_tan(g, n, 0), *tb = cn_node_in_tan(g, n, 1);
    if (ta) matmul_batched(&s, ta, b->data, 0, y->tan);
    if (tb) matmul_batched(&s, a->data, tb, ta ? 1 : 0, y->tan);
    if (!ta && !tb) memset(y->tan, 0, cn_tensor_numel(y) * sizeof(cn_real));
    return CN_OK;
}

/* gA += dC @ B^T and gB += A^T @ dC, matrix by matrix over the broadcast batch (a broadcast operand sums its
 * shares through GEMM's beta = 1); where B is one matrix, A's batch folds into the rows as in the forward. */
static int matmul_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *y;
    matmul_shape s;
    int ndim, rc;
    int64_t dims[CN_ONNX_MAX_DIMS];
    if ((rc = matmul_operands(g, n, &a, &b, &y)) || (rc = matmul_plan(g, n, a, b, &s, &ndim, dims))) return rc;
    const cn_real *dc = cn_node_out_grad(g, n, 0), *A = a->data, *B = b->data;
    cn_real *ga = cn_node_in_grad(g, n, 0), *gb = cn_node_in_grad(g, n, 1);
    if (!dc) return CN_OK;
    if (s.fold) {
        const int64_t rows = product(s.batch_ndim, s.batch) * s.M;
        if (ga) gemm_any(0, 1, rows, s.K, s.N, 1, dc, B, 1, ga);
        if (gb) gemm_any(1, 0, s.K, s.N, rows, 1, A, dc, 1, gb);
        return CN_OK;
    }
    const size_t a_mat = (size_t)(s.M * s.K), b_mat = (size_t)(s.K * s.N), c_mat = (size_t)(s.M * s.N);
    const int nd[2] = {s.a_batch_ndim, s.b_batch_ndim};
    const int64_t *dd[2] = {s.a_batch, s.b_batch};
    cn_bcast p;
    cn_bcast_plan(&p, s.batch_ndim, s.batch, 2, nd, dd);
    const size_t inner = cn_bcast_inner(&p), rows = cn_bcast_rows(&p);
    const int sa = cn_bcast_inner_step(&p, 0), sb = cn_bcast_inner_step(&p, 1);
    cn_bcast_pos q;
    cn_bcast_start(&p, &q);
    for (size_t r = 0; r < rows; r++, cn_bcast_next(&p, &q))
        for (size_t i = 0; i < inner; i++) {
            const size_t ia = (q.off[0] + i * sa) * a_mat, ib = (q.off[1] + i * sb) * b_mat;
            const cn_real *dci = dc + (r * inner + i) * c_mat;
            if (ga) gemm_any(0, 1, s.M, s.K, s.N, 1, dci, B + ib, 1, ga + ia);
            if (gb) gemm_any(1, 0, s.K, s.N, s.M, 1, A + ia, dci, 1, gb + ib);
        }
    return CN_OK;
}

/* A Linear layer (B one matrix, only A moving) takes all K tangents as one GEMM of K times the rows; the
 * other cases run tangent by tangent. */
static int matmul_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *y;
    matmul_shape s;
    int ndim, rc;
    int64_t dims[CN_ONNX_MAX_DIMS];
    if ((rc = matmul_operands(g, n, &a, &b, &y)) || (rc = matmul_plan(g, n, a, b, &s, &ndim, dims))) return rc;
    const cn_real *ta = cn_node_in_tan(g, n, 0), *tb = cn_node_in_tan(g, n, 1);
    const int64_t rows = product(s.batch_ndim, s.batch) * s.M * g->run_k;
    if (g->run_k == 1 || !ta || tb || !s.fold || too_large(rows)) return cn_node_jvp_each(g, n, matmul_jvp_one);
    gemm_any(0, 0, rows, s.N, s.K, 1, ta, b->data, 0, y->tan);
    return CN_OK;
}

const cn_op cn_op_MatMul = {.name = "MatMul", .forward = matmul_forward, .jvp = matmul_jvp, .vjp = matmul_vjp,
                            .jvp_batched = 1, .tangent_rule = CN_TANGENT_MULTILINEAR};

/* ------------------------------------------------------------------ Gemm */

typedef struct {
    int transA, transB;
    double alpha, beta;
    int64_t M, N, K;
    int64_t out[2]; /* (M, N) */
} gemm_shape;

static int gemm_plan(cn_graph *g, cn_node *n, const cn_tensor *a, const cn_tensor *b, const cn_tensor *c,
                     gemm_shape *s)
{
    char sa[160], sb[160];
    s->transA = cn_attr_int(n, "transA", 0) != 0;
    s->transB = cn_attr_int(n, "transB", 0) != 0;
    s->alpha = cn_attr_float(n, "alpha", 1.0);
    s->beta = cn_attr_float(n, "beta", 1.0);
    if (a->dtype != CN_T_FLOAT || b->dtype != CN_T_FLOAT || (c && c->dtype != CN_T_FLOAT))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "needs float inputs");
    if (a->ndim != 2 || b->ndim != 2)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "A %s and B %s must be matrices",
                            cn_shape_format(sa, sizeof sa, a->ndim, a->dims),
                            cn_shape_format(sb, sizeof sb, b->ndim, b->dims));
    s->M = a->dims[s->transA ? 1 : 0];
    s->K = a->dims[s->transA ? 0 : 1];
    s->N = b->dims[s->transB ? 0 : 1];
    if (b->dims[s->transB ? 1 : 0] != s->K)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "A %s (transA=%d) and B %s (transB=%d): inner dimensions differ",
                            cn_shape_format(sa, sizeof sa, a->ndim, a->dims), s->transA,
                            cn_shape_format(sb, sizeof sb, b->ndim, b->dims), s->transB);
    if (too_large(s->M) || too_large(s->N) || too_large(s->K))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "a matrix dimension exceeds the BLAS limit");
    s->out[0] = s->M;
    s->out[1] = s->N;
    if (c && !cn_bcast_to(c->ndim, c->dims, 2, s->out))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "C %s does not broadcast to (%lld,%lld)",
                            cn_shape_format(sa, sizeof sa, c->ndim, c->dims), (long long)s->M, (long long)s->N);
    return CN_OK;
}

static int gemm_operands(cn_graph *g, cn_node *n, cn_tensor **a, cn_tensor **b, cn_tensor **c, cn_tensor **y)
{
    int rc = matmul_operands(g, n, a, b, y);
    *c = cn_node_in(g, n, 2); /* optional since opset 11 */
    return rc;
}

static int gemm_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *c, *y;
    gemm_shape s;
    int rc;
    if ((rc = gemm_operands(g, n, &a, &b, &c, &y)) || (rc = gemm_plan(g, n, a, b, c, &s))) return rc;
    if ((rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, 2, s.out))) return rc;
    const int add_c = c && s.beta != 0;
    if (add_c) cn_bcast_copy_real(y->data, 2, s.out, c->data, c->ndim, c->dims);
    gemm_any(s.transA, s.transB, s.M, s.N, s.K, (cn_real)s.alpha, a->data, b->data, add_c ? (cn_real)s.beta : 0,
             y->data);
    return CN_OK;
}

/* alpha (op(tA) op(B) + op(A) op(tB)) + beta tC, each term only for an active input */
static int gemm_jvp_one(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *c, *y;
    gemm_shape s;
    int rc;
    if ((rc = gemm_operands(g, n, &a, &b, &c, &y)) || (rc = gemm_plan(g, n, a, b, c, &s))) return rc;
    const cn_real *ta = cn_node_in_tan(g, n, 0), *tb = cn_node_in_tan(g, n, 1), *tc = cn_node_in_tan(g, n, 2);
    const size_t count = cn_tensor_numel(y);
    int written = 0;
    if (tc && s.beta != 0) {
        cn_bcast_copy_real(y->tan, 2, s.out, tc, c->ndim, c->dims);
        for (size_t i = 0; i < count; i++) y->tan[i] *= (cn_real)s.beta;
        written = 1;
    }
    if (ta) {
        gemm_any(s.transA, s.transB, s.M, s.N, s.K, (cn_real)s.alpha, ta, b->data, written, y->tan);
        written = 1;
    }
    if (tb) {
        gemm_any(s.transA, s.transB, s.M, s.N, s.K, (cn_real)s.alpha, a->data, tb, written, y->tan);
        written = 1;
    }
    if (!written) memset(y->tan, 0, count * sizeof(cn_real));
    return CN_OK;
}

/* Y = alpha op(A) op(B) + beta C: gop(A) = alpha dY op(B)^T and gop(B) = alpha op(A)^T dY, each written in
 * the layout its operand is stored in (so a transposed operand's gradient is the transposed product); gC sums
 * beta dY over the axes C was broadcast along. */
static int gemm_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *c, *y;
    gemm_shape s;
    int rc;
    if ((rc = gemm_operands(g, n, &a, &b, &c, &y)) || (rc = gemm_plan(g, n, a, b, c, &s))) return rc;
    const cn_real *dy = cn_node_out_grad(g, n, 0), *A = a->data, *B = b->data;
    cn_real *ga = cn_node_in_grad(g, n, 0), *gb = cn_node_in_grad(g, n, 1), *gc = c ? cn_node_in_grad(g, n, 2) : NULL;
    if (!dy) return CN_OK;
    const cn_real alpha = (cn_real)s.alpha;
    if (ga) {
        if (!s.transA) gemm_any(0, !s.transB, s.M, s.K, s.N, alpha, dy, B, 1, ga);
        else gemm_any(s.transB, 1, s.K, s.M, s.N, alpha, B, dy, 1, ga);
    }
    if (gb) {
        if (!s.transB) gemm_any(!s.transA, 0, s.K, s.N, s.M, alpha, A, dy, 1, gb);
        else gemm_any(1, s.transA, s.N, s.K, s.M, alpha, dy, A, 1, gb);
    }
    if (gc && s.beta != 0) cn_bcast_sum_real(gc, c->ndim, c->dims, dy, 2, s.out, (cn_real)s.beta);
    return CN_OK;
}

/* A Linear layer (only A moving, not transposed) takes all K tangents as one GEMM of K*M rows */
static int gemm_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *c, *y;
    gemm_shape s;
    int rc;
    if ((rc = gemm_operands(g, n, &a, &b, &c, &y)) || (rc = gemm_plan(g, n, a, b, c, &s))) return rc;
    const cn_real *ta = cn_node_in_tan(g, n, 0), *tb = cn_node_in_tan(g, n, 1), *tc = cn_node_in_tan(g, n, 2);
    const int64_t rows = s.M * g->run_k;
    if (g->run_k == 1 || !ta || tb || (tc && s.beta != 0) || s.transA || too_large(rows))
        return cn_node_jvp_each(g, n, gemm_jvp_one);
    gemm_any(0, s.transB, rows, s.N, s.K, (cn_real)s.alpha, ta, b->data, 0, y->tan);
    return CN_OK;
}

const cn_op cn_op_Gemm = {.name = "Gemm", .forward = gemm_forward, .jvp = gemm_jvp, .vjp = gemm_vjp,
                          .jvp_batched = 1, .tangent_rule = CN_TANGENT_MULTILINEAR, .additive_in = 1u << 2};
