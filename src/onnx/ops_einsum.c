/* ops_einsum.c: Einsum for two operands whose equation is a batched matrix product, forward, jvp and vjp, through
 * BLAS (cn_matmul), as attention writes it: TorchVision's MaxViT exports
 * "B G H I D, B G H J D -> B G H I J" (scores) and "B G H I J, B G H J D -> B G H I D" (scores times values).
 *
 * The equation needs an explicit "->"; spaces are ignored and letters are case-sensitive. Each letter is
 *   batch      in A, B and the output,
 *   free in A  in A and the output,
 *   free in B  in B and the output,
 *   contracted in A and B, not the output,
 * and each group, possibly several letters or none, must be contiguous and in the same order wherever it
 * appears: A is batch + freeA + contracted (or batch + contracted + freeA: A transposed), B is batch +
 * contracted + freeB (or batch + freeB + contracted), the output batch + freeA + freeB. The product is then
 * one GEMM per batch element on the operands' own memory, with no copy. Ellipses, diagonals (a letter twice
 * in one operand), sums over a letter of one operand only, other output orders and other operand counts are
 * refused with the equation in the message. Batch and contracted sizes must match exactly (no broadcasting of
 * size-1 axes). The jvp is the same products on the tangents, tA (x) B + A (x) tB, the second accumulated onto
 * the first by GEMM's beta.
 */
#include <limits.h>
#include <string.h>
#include "core/blas.h"
#include "onnx/broadcast.h"
#include "onnx/graph.h"

#define EQ_MAX 128 /* letters and punctuation of an equation, spaces removed */

typedef struct {
    int transA, transB;              /* A laid out as (batch, K, M), B as (batch, N, K) */
    int64_t batch, M, N, K;          /* products of each group's sizes */
    int ndim;
    int64_t dims[CN_ONNX_MAX_DIMS];  /* the output's shape */
} einsum_plan;

/* C (M,N) = op(A) op(B) + beta * C, also for the empty products BLAS refuses (K = 0: lda 0) */
static void gemm_any(int transA, int transB, int64_t M, int64_t N, int64_t K, const cn_real *A, const cn_real *B,
                     cn_real beta, cn_real *C)
{
    if (M == 0 || N == 0) return;
    if (K == 0) {
        size_t count = (size_t)M * (size_t)N;
        if (beta == 0) memset(C, 0, count * sizeof *C);
        else
            for (size_t i = 0; i < count; i++) C[i] *= beta;
        return;
    }
    cn_matmul(transA, transB, (int)M, (int)N, (int)K, 1, A, B, beta, C);
}

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* the letters of term t whose presence in a, b and out is (want_a, want_b, want_out), in t's order */
static void select_letters(char *dst, const char *t, const char *a, const char *b, const char *out, int want_a,
                           int want_b, int want_out)
{
    int k = 0;
    for (; *t; t++)
        if ((strchr(a, *t) != NULL) == want_a && (strchr(b, *t) != NULL) == want_b &&
            (strchr(out, *t) != NULL) == want_out)
            dst[k++] = *t;
    dst[k] = 0;
}

static void concat3(char *dst, const char *x, const char *y, const char *z)
{
    strcpy(dst, x);
    strcat(dst, y);
    strcat(dst, z);
}

static int64_t dims_product(const int64_t *dims, int from, int count)
{
    int64_t p = 1;
    for (int j = 0; j < count; j++) p *= dims[from + j];
    return p;
}

/* Reads the equation and the operands' shapes into p; messages quote the equation as written. */
static int einsum_plan_make(cn_graph *g, cn_node *n, const cn_tensor *a, const cn_tensor *b, einsum_plan *p)
{
    const char *eq = cn_attr_string(n, "equation", NULL);
    if (!eq) return cn_node_fail(g, n, CN_ERR_FORMAT, "the equation attribute is missing");
    char s[EQ_MAX + 1];
    size_t len = 0;
    for (const char *c = eq; *c; c++) {
        if (*c == ' ' || *c == '\t') continue;
        if (len == EQ_MAX) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "equation '%s' is too long", eq);
        s[len++] = *c;
    }
    s[len] = 0;
    if (strstr(s, "..."))
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "equation '%s': ellipsis ('...') is not supported", eq);
    char *arrow = strstr(s, "->");
    if (!arrow)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "equation '%s': an explicit output ('->') is required", eq);
    *arrow = 0;
    int operands = 1;
    for (const char *c = s; *c; c++) operands += *c == ',';
    if (operands != 2)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "equation '%s': only two operands are supported, got %d", eq,
                            operands);
    char *ta = s, *out = arrow + 2, *comma = strchr(s, ',');
    *comma = 0;
    char *tb = comma + 1;
    if (strstr(out, "->"))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s' has more than one '->'", eq);
    const char *terms[3] = {ta, tb, out}, *term_name[3] = {"the first operand", "the second operand", "the output"};
    for (int t = 0; t < 3; t++)
        for (const char *c = terms[t]; *c; c++) {
            if (!is_letter(*c))
                return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s': unexpected character '%c' in %s", eq, *c,
                                    term_name[t]);
            if (strchr(c + 1, *c))
                return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                                    "equation '%s': letter '%c' appears twice in %s (diagonals are not supported)",
                                    eq, *c, term_name[t]);
        }
    for (const char *c = out; *c; c++)
        if (!strchr(ta, *c) && !strchr(tb, *c))
            return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s': output letter '%c' is in neither operand", eq,
                                *c);
    for (int t = 0; t < 2; t++)
        for (const char *c = terms[t]; *c; c++)
            if (!strchr(terms[1 - t], *c) && !strchr(out, *c))
                return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                                    "equation '%s': letter '%c' is summed within %s alone (not supported)", eq, *c,
                                    term_name[t]);
    if (n->nin != 2)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s' names two operands, the node has %d inputs", eq,
                            n->nin);

    /* the groups: batch, free in A, free in B in the output's order; contracted in A's order */
    char bat[EQ_MAX + 1], fa[EQ_MAX + 1], fb[EQ_MAX + 1], con[EQ_MAX + 1], want[3 * EQ_MAX + 1], alt[3 * EQ_MAX + 1];
    select_letters(bat, out, ta, tb, out, 1, 1, 1);
    select_letters(fa, out, ta, tb, out, 1, 0, 1);
    select_letters(fb, out, ta, tb, out, 0, 1, 1);
    select_letters(con, ta, ta, tb, out, 1, 1, 0);
    concat3(want, bat, fa, fb);
    if (strcmp(out, want) != 0)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                            "equation '%s': the output must be '%s' (batch, A's free, B's free letters), not '%s'",
                            eq, want, out);
    concat3(want, bat, fa, con);
    concat3(alt, bat, con, fa);
    if (strcmp(ta, want) == 0) p->transA = 0;
    else if (strcmp(ta, alt) == 0) p->transA = 1;
    else
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                            "equation '%s': the first operand must be '%s' or '%s' (a batched matrix), not '%s'", eq,
                            want, alt, ta);
    concat3(want, bat, con, fb);
    concat3(alt, bat, fb, con);
    if (strcmp(tb, want) == 0) p->transB = 0;
    else if (strcmp(tb, alt) == 0) p->transB = 1;
    else
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                            "equation '%s': the second operand must be '%s' or '%s' (a batched matrix), not '%s'", eq,
                            want, alt, tb);

    /* the shapes */
    char sa[160], sb[160];
    if (a->dtype != CN_T_FLOAT || b->dtype != CN_T_FLOAT)
        return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s' needs float inputs, got %s and %s", eq,
                            cn_dtype_label(a->dtype), cn_dtype_label(b->dtype));
    const int nbat = (int)strlen(bat), nfa = (int)strlen(fa), nfb = (int)strlen(fb), ncon = (int)strlen(con);
    if (a->ndim != (int)strlen(ta) || b->ndim != (int)strlen(tb))
        return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s' needs ranks %d and %d, got shapes %s and %s", eq,
                            (int)strlen(ta), (int)strlen(tb), cn_shape_format(sa, sizeof sa, a->ndim, a->dims),
                            cn_shape_format(sb, sizeof sb, b->ndim, b->dims));
    if ((int)strlen(out) > CN_ONNX_MAX_DIMS)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "equation '%s': an output of rank %d exceeds %d", eq,
                            (int)strlen(out), CN_ONNX_MAX_DIMS);
    for (int j = 0; j < nbat; j++)
        if (a->dims[j] != b->dims[j])
            return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s': shapes %s and %s differ along batch letter '%c'",
                                eq, cn_shape_format(sa, sizeof sa, a->ndim, a->dims),
                                cn_shape_format(sb, sizeof sb, b->ndim, b->dims), bat[j]);
    const int a_con = nbat + (p->transA ? 0 : nfa), b_con = nbat + (p->transB ? nfb : 0);
    for (int j = 0; j < ncon; j++)
        if (a->dims[a_con + j] != b->dims[b_con + j])
            return cn_node_fail(g, n, CN_ERR_FORMAT,
                                "equation '%s': shapes %s and %s differ along contracted letter '%c'", eq,
                                cn_shape_format(sa, sizeof sa, a->ndim, a->dims),
                                cn_shape_format(sb, sizeof sb, b->ndim, b->dims), con[j]);
    const int a_free = nbat + (p->transA ? ncon : 0), b_free = nbat + (p->transB ? 0 : ncon);
    p->batch = dims_product(a->dims, 0, nbat);
    p->M = dims_product(a->dims, a_free, nfa);
    p->N = dims_product(b->dims, b_free, nfb);
    p->K = dims_product(a->dims, a_con, ncon);
    if (p->M > INT_MAX || p->N > INT_MAX || p->K > INT_MAX || p->M * p->K > INT_MAX || p->K * p->N > INT_MAX ||
        p->M * p->N > INT_MAX)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "equation '%s' on shapes %s and %s: a matrix exceeds the BLAS "
                            "limit", eq, cn_shape_format(sa, sizeof sa, a->ndim, a->dims),
                            cn_shape_format(sb, sizeof sb, b->ndim, b->dims));
    p->ndim = 0;
    for (int j = 0; j < nbat; j++) p->dims[p->ndim++] = a->dims[j];
    for (int j = 0; j < nfa; j++) p->dims[p->ndim++] = a->dims[a_free + j];
    for (int j = 0; j < nfb; j++) p->dims[p->ndim++] = b->dims[b_free + j];
    return CN_OK;
}

/* C = A (x) B + beta * C over the batch (tangents share their values' layouts) */
static void einsum_batched(const einsum_plan *p, const cn_real *A, const cn_real *B, cn_real beta, cn_real *C)
{
    const size_t a_mat = (size_t)(p->M * p->K), b_mat = (size_t)(p->K * p->N), c_mat = (size_t)(p->M * p->N);
    for (int64_t i = 0; i < p->batch; i++)
        gemm_any(p->transA, p->transB, p->M, p->N, p->K, A + (size_t)i * a_mat, B + (size_t)i * b_mat, beta,
                 C + (size_t)i * c_mat);
}

static int einsum_operands(cn_graph *g, cn_node *n, cn_tensor **a, cn_tensor **b, cn_tensor **y, einsum_plan *p)
{
    *a = cn_node_in(g, n, 0);
    *b = n->nin >= 2 ? cn_node_in(g, n, 1) : NULL;
    *y = cn_node_out(g, n, 0);
    const char *eq = cn_attr_string(n, "equation", "");
    if (n->nin < 2)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED,
                            "equation '%s': single-operand einsums are not supported (two operands only)", eq);
    if (!*a || !*b) return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s': an input is missing", eq);
    if (!*y) return cn_node_fail(g, n, CN_ERR_FORMAT, "equation '%s': the output is missing", eq);
    return einsum_plan_make(g, n, *a, *b, p);
}

static int einsum_forward(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *y;
    einsum_plan p;
    int rc;
    if ((rc = einsum_operands(g, n, &a, &b, &y, &p))) return rc;
    if ((rc = cn_tensor_set_shape(g, n, y, CN_T_FLOAT, p.ndim, p.dims))) return rc;
    einsum_batched(&p, a->data, b->data, 0, y->data);
    return CN_OK;
}

static int einsum_jvp(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *y;
    einsum_plan p;
    int rc;
    if ((rc = einsum_operands(g, n, &a, &b, &y, &p))) return rc;
    const cn_real *ta = cn_node_in_tan(g, n, 0), *tb = cn_node_in_tan(g, n, 1);
    if (ta) einsum_batched(&p, ta, b->data, 0, y->tan);
    if (tb) einsum_batched(&p, a->data, tb, ta ? 1 : 0, y->tan);
    if (!ta && !tb) memset(y->tan, 0, cn_tensor_numel(y) * sizeof(cn_real));
    return CN_OK;
}

/* per batch element, with op() the stored layouts: gop(A) = dC op(B)^T and gop(B) = op(A)^T dC, each written in
 * its operand's own layout (as Gemm's vjp), accumulated by GEMM's beta = 1 */
static int einsum_vjp(cn_graph *g, cn_node *n)
{
    cn_tensor *a, *b, *y;
    einsum_plan p;
    int rc;
    if ((rc = einsum_operands(g, n, &a, &b, &y, &p))) return rc;
    const cn_real *dc = cn_node_out_grad(g, n, 0), *A = a->data, *B = b->data;
    cn_real *ga = cn_node_in_grad(g, n, 0), *gb = cn_node_in_grad(g, n, 1);
    if (!dc) return CN_OK;
    const size_t a_mat = (size_t)(p.M * p.K), b_mat = (size_t)(p.K * p.N), c_mat = (size_t)(p.M * p.N);
    for (int64_t i = 0; i < p.batch; i++) {
        const cn_real *d = dc + (size_t)i * c_mat, *Ai = A + (size_t)i * a_mat, *Bi = B + (size_t)i * b_mat;
        if (ga && !p.transA) gemm_any(0, !p.transB, p.M, p.K, p.N, d, Bi, 1, ga + (size_t)i * a_mat);
        if (ga && p.transA) gemm_any(p.transB, 1, p.K, p.M, p.N, Bi, d, 1, ga + (size_t)i * a_mat);
        if (gb && !p.transB) gemm_any(!p.transA, 0, p.K, p.N, p.M, Ai, d, 1, gb + (size_t)i * b_mat);
        if (gb && p.transB) gemm_any(1, p.transA, p.N, p.K, p.M, d, Ai, 1, gb + (size_t)i * b_mat);
    }
    return CN_OK;
}

const cn_op cn_op_Einsum = {.name = "Einsum", .forward = einsum_forward, .jvp = einsum_jvp, .vjp = einsum_vjp, .tangent_rule = CN_TANGENT_MULTILINEAR};
