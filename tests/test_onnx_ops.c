/* test_onnx_ops.c: imported ONNX models (float build) against PyTorch, model by model: the forward output,
 * the jvp, the block count where the structure fixes it, and the dynamic batch axis. The models and their
 * references come from tests/onnx_ops_ref.py, which exports torch.nn modules that together make the
 * exporter write every operator of src/onnx/ops.c (docs at the top of the script).
 *
 * Usage: test_onnx_ops [DIR]. Without DIR it runs `/usr/bin/python3 tests/onnx_ops_ref.py TMPDIR`
 * ($CRITNET_PYTHON changes the interpreter) and removes TMPDIR afterwards; with DIR it reads the files
 * already there. As for test_torch_ref, CI has torch and onnx installed, so a script that cannot run is a
 * failure, never a skip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "onnx/graph.h"
#include "torch_ref_io.h"

/* Forward: max |critnet - torch| <= Y_RTOL * (1 + max |y|). Both sides compute in float32 from the same
 * float32 weights and inputs, but in different orders, and the exporter folds each eval-mode batch norm
 * into its convolution (weights rounded once more): the gap is float32 rounding, ~1e-6 of the output's
 * scale. 1e-4 leaves two decades for other BLAS kernels and FMA, while a misplaced pooling window, a
 * padding on the wrong side or a wrong divisor is an error of 1e-2 or more. */
#define Y_RTOL 1e-4
/* Jvp: max |critnet - torch| <= JT_RTOL * max |J t|. The reference is float64 forward-mode AD; critnet's
 * float32 tangents carry rounding of ~1e-6 relative, grown by the depth and by ill-conditioned steps
 * (LayerNorm's and Softmax's divisions, the x3-scaled weights of the activation model). A wrong derivative
 * of one op (a missing term, a wrong slope at one side of a bend) is an error of 1e-2 or more. */
#define JT_RTOL 1e-3
/* Batch 1 against row 0 of batch 2: the same arithmetic, but BLAS may pick other kernels for other
 * matrix sizes, so equal to float32 rounding rather than bit for bit. */
#define BATCH_RTOL 1e-6

static const ref_format CNONNX1 = {"CNONNX1\0", 1, 8};

static const ref_tensor *ref_find(const ref_case *c, const char *name)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->t[i].name, name) == 0) return &c->t[i];
    CHECK(0, "%s: tensor %s missing from the reference file", c->name, name);
    return NULL;
}

static uint64_t shape_numel(const ref_tensor *s)
{
    uint64_t n = 1;
    for (uint64_t i = 0; i < s->n; i++) n *= (uint64_t)s->v[i];
    return n;
}

static double g_worst_y = 0, g_worst_jt = 0; /* largest max|diff| / tolerance over the run */

/* max |a - ref| over n values and max |ref|; non-finite a counts as an infinite difference */
static double max_diff(const cn_real *a, const double *ref, size_t n, double *max_ref)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]);
        if (!(e <= d)) d = isfinite(e) ? e : INFINITY;
        if (fabs(ref[i]) > m) m = fabs(ref[i]);
    }
    *max_ref = m;
    return d;
}

/* max |a - b| between two of critnet's own results */
static double max_gap(const cn_real *a, const cn_real *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= d)) d = isfinite(e) ? e : INFINITY;
    }
    return d;
}

static double max_abs(const cn_real *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i]) > m) m = fabs((double)a[i]);
    return m;
}

static void run_case(const ref_case *c, const char *dir)
{
    char onnx[128] = "";
    int opset = 0, blocks = -2;
    CHECK(sscanf(c->text, "onnx %127s opset %d blocks %d", onnx, &opset, &blocks) == 3, "%s: bad model text '%s'",
          c->name, c->text);
    const ref_tensor *x = ref_find(c, "x"), *t = ref_find(c, "t"), *y = ref_find(c, "y"), *jt = ref_find(c, "jt"),
                     *ins = ref_find(c, "in_shape"), *outs = ref_find(c, "out_shape");
    if (!x || !t || !y || !jt || !ins || !outs || !onnx[0]) return;
    const int Bt = (int)c->batch;
    const uint64_t nin = shape_numel(ins), nout = shape_numel(outs);
    CHECK(Bt == 2 && x->n == Bt * nin && t->n == x->n && y->n == Bt * nout && jt->n == y->n,
          "%s: reference sizes do not fit (batch %d)", c->name, Bt);
    if (Bt != 2 || x->n != Bt * nin || t->n != x->n || y->n != Bt * nout || jt->n != y->n) return;

    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, onnx);
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_onnx(&net, path, NULL, &err);
    CHECK(rc == CN_OK, "%s: cn_net_from_onnx: %d %s", c->name, rc, err.msg);
    if (rc) return;
    CHECK(cn_net_inference_only(net) == (cn_net_trainable(net, NULL) != CN_OK),
          "%s: inference-only must mean not trainable", c->name);
    CHECK((uint64_t)cn_net_in_size(net) == nin && (uint64_t)cn_net_out_size(net) == nout,
          "%s: sizes in %d out %d, torch %llu %llu", c->name, cn_net_in_size(net), cn_net_out_size(net),
          (unsigned long long)nin, (unsigned long long)nout);
    cn_real *xr = malloc(x->n * sizeof *xr), *tr = malloc(t->n * sizeof *tr);
    cn_real *y2 = malloc(y->n * sizeof *y2), *ty = malloc(y->n * sizeof *ty), *ty1 = malloc(y->n * sizeof *ty1);
    cn_block *bl = NULL;
    CHECK(xr && tr && y2 && ty && ty1, "out of memory");
    if (!xr || !tr || !y2 || !ty || !ty1 || (uint64_t)cn_net_in_size(net) != nin ||
        (uint64_t)cn_net_out_size(net) != nout)
        goto done;
    for (uint64_t i = 0; i < x->n; i++) xr[i] = (cn_real)x->v[i], tr[i] = (cn_real)t->v[i];
    CHECK_OK(rc = cn_net_reserve(net, 2, 1));
    if (rc) goto done;

    cn_net_forward(net, xr, 2, 0);
    memcpy(y2, cn_net_output(net), y->n * sizeof *y2);
    double ymax, dy = max_diff(y2, y->v, y->n, &ymax), ytol = Y_RTOL * (1 + ymax);
    cn_net_jvp(net, tr, ty, 2, 1);
    double jmax, dj = max_diff(ty, jt->v, jt->n, &jmax), jtol = JT_RTOL * jmax + 1e-30;
    if (dy / ytol > g_worst_y) g_worst_y = dy / ytol;
    if (dj / jtol > g_worst_jt) g_worst_jt = dj / jtol;

    int count = -1;
    rc = cn_net_blocks(net, 0, &bl, &count);
    CHECK(rc == CN_OK, "%s: cn_net_blocks: %d", c->name, rc);
    printf("%-16s opset %d  %d layers  y max|diff| %.2e (tol %.2e)  Jt max|diff| %.2e (tol %.2e)\n  blocks %d:",
           c->name, opset, cn_net_layer_count(net), dy, ytol, dj, jtol, count);
    for (int i = 0; i < count; i++) printf(" %s", bl[i].name);
    printf("\n");
    CHECK(dy <= ytol, "%s: forward differs from torch: max|diff| %.3e > tol %.3e", c->name, dy, ytol);
    CHECK(dj <= jtol, "%s: jvp differs from torch: max|diff| %.3e > tol %.3e", c->name, dj, jtol);
    rc = cn_net_status(net, &err);
    CHECK(rc == CN_OK, "%s: cn_net_status %d after forward and jvp: %s", c->name, rc, err.msg);
    if (blocks >= 0) CHECK(count == blocks, "%s: %d blocks, the structure gives %d", c->name, count, blocks);
    CHECK(cn_net_layer_count(net) == count + 1, "%s: %d layers for %d blocks and the readout", c->name,
          cn_net_layer_count(net), count);
    for (int i = 0; i < cn_net_layer_count(net); i++)
        CHECK(cn_net_layer_name(net, i) != NULL, "%s: layer %d of an imported model has no tensor name", c->name, i);

    /* example 0 alone: the batch axis is dynamic, and nothing of the wider run may leak into it */
    const size_t n1 = (size_t)nout;
    cn_net_forward(net, xr, 1, 0);
    double d1 = max_gap(cn_net_output(net), y2, n1), btol = BATCH_RTOL * (1 + max_abs(y2, n1));
    CHECK(d1 <= btol, "%s: batch 1 forward differs from row 0 of batch 2 by %.3e (tol %.3e)", c->name, d1, btol);
    cn_net_jvp(net, tr, ty1, 1, 1);
    /* relative to 1 + max |J t| of the row, like the values; tangents take a few more roundings (LayerNorm's
     * and Softmax's quotient rules), hence the factor 10 */
    double dj1 = max_gap(ty1, ty, n1), bjtol = 10 * BATCH_RTOL * (1 + max_abs(ty, n1));
    printf("  batch 1 vs row 0 of batch 2: y %.1e (tol %.1e), Jt %.1e (tol %.1e)\n", d1, btol, dj1, bjtol);
    CHECK(dj1 <= bjtol, "%s: batch 1 jvp differs from row 0 of batch 2 by %.3e (tol %.3e)", c->name, dj1, bjtol);
    /* and back to batch 2: buffers only grow, so shrinking and regrowing must give the first run again */
    cn_net_forward(net, xr, 2, 0);
    CHECK(memcmp(cn_net_output(net), y2, y->n * sizeof *y2) == 0, "%s: batch 2 after batch 1 differs from the "
          "first batch-2 run", c->name);
    rc = cn_net_status(net, &err);
    CHECK(rc == CN_OK, "%s: cn_net_status %d after the batch-1 run: %s", c->name, rc, err.msg);
done:
    cn_free(bl);
    free(xr);
    free(tr);
    free(y2);
    free(ty);
    free(ty1);
    cn_net_free(net);
}

/* every operator of the table must occur in some exported model (Constant is read, not run) */
static void check_coverage(const char *dir)
{
    char path[2048], line[128], used[8192] = ",";
    snprintf(path, sizeof path, "%s/ops_used.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s: cannot open", path);
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (strlen(used) + strlen(line) + 2 < sizeof used) strcat(strcat(used, line), ",");
    }
    fclose(f);
    const char *p = cn_onnx_op_list();
    int ops = 0, missing = 0;
    while (*p) {
        size_t len = strcspn(p, ", ");
        char key[80];
        snprintf(key, sizeof key, ",%.*s,", (int)(len < 70 ? len : 70), p);
        ops++;
        if (!strstr(used, key)) {
            missing++;
            CHECK(0, "operator %.*s is in the table but no model of tests/onnx_ops_ref.py uses it", (int)len, p);
        }
        p += len;
        while (*p == ',' || *p == ' ') p++;
    }
    printf("operator coverage: %d of the %d table entries (Constant included) occur in the models\n", ops - missing,
           ops);
}

int main(int argc, char **argv)
{
    char dir[1024];
    int own_dir = argc < 2;
    if (own_dir) {
        int rc = ref_make_dir(dir, sizeof dir, "onnx_ops_ref"); /* removes the directory itself on failure */
        CHECK(rc == 0, "tests/onnx_ops_ref.py must run: CI has torch and onnx, a missing reference is a failure");
        if (rc) return check_summary("onnx_ops");
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    ref_list list;
    int listed = ref_list_open(&list, dir) == 0;
    CHECK(listed, "%s: cannot open the list of cases", list.path);
    int cases = 0;
    for (const char *path; listed && (path = ref_list_next(&list));) {
        ref_case c;
        int rc = ref_load(&c, path, &CNONNX1);
        CHECK(rc == 0, "%s: unreadable reference file", path);
        if (rc) continue;
        run_case(&c, dir);
        ref_free(&c);
        cases++;
    }
    ref_list_close(&list);
    CHECK(cases >= 14, "only %d models were read from %s", cases, dir);
    check_coverage(dir);
    printf("%d models; worst max|diff| / tolerance: forward %.3f, jvp %.3f\n", cases, g_worst_y, g_worst_jt);
    if (own_dir) ref_remove_dir(dir);
    return check_summary("onnx_ops");
}
