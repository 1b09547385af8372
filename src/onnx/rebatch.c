/* rebatch.c: a model whose file fixes the batch at a number above 1 (torch.onnx.export without dynamic_axes
 * writes the example's batch, and the ONNX test data fixes 2 or 3) runs at any batch, as if the first axis
 * were dynamic. The reader marks such a graph (file_batch); before the net is built, this file checks that
 * the first axis really is a batch: the graph must run at batch 1 and 2, keep the batch first in its output,
 * and give each example of a batch of 2 the output it gets alone. A graph that mixes its first axis (a
 * softmax or a reduction over it, a Reshape to a constant shape) is refused, naming the fixed batch. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "net/net_internal.h"
#include "onnx/graph.h"

/* above float rounding of a batched against a single GEMM, far below what mixing two examples changes */
#define REBATCH_TOL 1e-4
#define REBATCH_RUN_MAX 256

static int refuse(cn_graph *g, cn_error *err, int status, const char *why)
{
    return cn_error_set(err, status, "%s (the file fixes the batch at %d; critnet runs the first axis as a batch "
                        "of any size, which this graph does not allow: %s)", g->msg, g->file_batch, why);
}

/* runs the graph on `batch` examples of x; the output must hold batch rows of per_out values */
static int run_rows(cn_graph *g, const cn_real *x, int batch, size_t per_out, cn_error *err)
{
    int rc = cn_graph_set_input(g, x, batch);
    if (!rc) rc = cn_graph_run(g, 0, g->nn);
    if (rc) return refuse(g, err, rc, "export with a dynamic batch axis");
    const cn_tensor *y = &g->t[g->output];
    if (y->ndim < 1 || y->dims[0] != batch || (per_out && cn_tensor_numel(y) != (size_t)batch * per_out)) {
        snprintf(g->msg, sizeof g->msg, "%s: output %s does not keep the batch as its first dimension", g->path,
                 y->name);
        return refuse(g, err, CN_ERR_UNSUPPORTED, "export with a dynamic batch axis");
    }
    return CN_OK;
}

static int same(cn_real a, cn_real b) { return (a != a && b != b) || fabs((double)a - b) <= REBATCH_TOL * (1 + fabs((double)b)); }

int cn_graph_check_rebatch(cn_graph *g, cn_error *err)
{
    const cn_tensor *in = &g->t[g->input];
    size_t per = 1;
    for (int i = 1; i < in->ndim; i++) per *= (size_t)in->dims[i];
    cn_real *x = cn_malloc((per ? 2 * per : 1) * sizeof *x);
    if (!x) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", g->path);
    /* two different examples, positive (a Log or Sqrt stays defined) */
    unsigned long long s = 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < 2 * per; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (cn_real)(0.1 + (double)(s >> 11) / 9007199254740992.0);
    }
    cn_real *both = NULL;
    /* first at the file's own batch: a failure there is the graph's, not the re-batching's. Only for the small
     * batches exports fix (2, 3, a training batch): a file fixing a huge one would cost that many examples'
     * compute before anything else, and the runs at 1 and 2 below find the same errors (the fuzzer's find) */
    int rc = CN_OK;
    if (g->file_batch <= REBATCH_RUN_MAX) {
        rc = cn_graph_set_input(g, NULL, g->file_batch);
        if (!rc) rc = cn_graph_run(g, 0, g->nn);
        if (rc) rc = cn_error_set(err, rc, "%s", g->msg);
    }
    if (!rc) rc = run_rows(g, x, 2, 0, err);
    const cn_tensor *y = &g->t[g->output];
    const size_t per_out = rc ? 0 : cn_tensor_numel(y) / 2;
    /* an output that is not float is refused later, with build's own message */
    if (!rc && y->dtype == CN_T_FLOAT && per_out) {
        if (!(both = cn_malloc(2 * per_out * sizeof *both))) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", g->path);
        else memcpy(both, y->data, 2 * per_out * sizeof *both);
        for (int b = 0; !rc && b < 2; b++) {
            if ((rc = run_rows(g, x + b * per, 1, per_out, err))) break;
            const cn_real *alone = g->t[g->output].data;
            for (size_t i = 0; i < per_out; i++)
                if (!same(both[b * per_out + i], alone[i])) {
                    snprintf(g->msg, sizeof g->msg, "%s: output %s of example %d in a batch of 2 differs from its "
                             "output alone (%g against %g)", g->path, y->name, b, (double)both[b * per_out + i],
                             (double)alone[i]);
                    rc = refuse(g, err, CN_ERR_UNSUPPORTED, "its examples do not stay apart");
                    break;
                }
        }
    }
    cn_free(both);
    cn_free(x);
    return rc;
}

int cn_net_onnx_rebatched(const cn_net *net) { return net && net->graph ? net->graph->file_batch : 0; }
