/* critreg_graph.c: the criticality regulariser on a network that runs a graph (an imported ONNX model), with
 * the same targets and estimates as critreg.c's layer version:
 *   sigma:  R = (1/L) sum_l (ln sigma_l)^2, sigma_l^2 = (sum |J_l u|^2 / n_l) / (sum |u|^2 / n_{l-1}), m probes
 *           per block;
 *   lambda: R = lambda^2, one tangent per probe carried through every block, rescaled at each block end.
 * The tangents run through the graph's own jvp (all m probes at once), and the gradient of R is the reverse of
 * that pass (jvp_vjp.c): each node's second-order rule adds to the tangents' cotangents, to the parameters'
 * grads and to the grads of the forward's values. Those value grads are left in the graph (keep_grads), and
 * the task loss's backward, which runs next, carries them on to every parameter before them with the vjps it
 * runs anyway. Residual blocks, batch norm (training mode: the batch statistics move with the tangent) and
 * layer norm need nothing special.
 *
 * With a crit batch smaller than the minibatch, the probes fill the first rows only and the others carry a
 * zero tangent (batch norm still couples them), and both norms count the probed rows. */
#include <math.h>
#include <string.h>
#include "onnx/onnx_net.h"
#include "train/critreg.h"

typedef struct {
    int first, last; /* nodes [first, last) */
    int in, out;     /* tensors */
    int n_in, n_out; /* values per example */
} graph_block;

struct cn_critreg_graph {
    cn_net *net;
    cn_graph *g;
    graph_block *blocks;
    int L, m, maxB, target, batch;
    double beta;
    const cn_real *fixed_probes; /* tests: the probes to use instead of drawing them */
};

void cn_critreg_graph_free(cn_critreg_graph *r)
{
    if (!r) return;
    cn_free(r->blocks);
    cn_free(r);
}

int cn_critreg_graph_new(cn_critreg_graph **out, cn_net *net, const cn_critreg_cfg *cfg, int max_batch, cn_error *err)
{
    *out = NULL;
    cn_graph *g = cn_net_graph(net);
    cn_block *blocks = NULL;
    int L = 0, rc = cn_net_blocks(net, cfg->include_readout, &blocks, &L);
    if (rc) return cn_error_set(err, rc, "out of memory for the criticality regulariser");
    cn_critreg_graph *r = cn_calloc(1, sizeof *r);
    if (!r || !(r->blocks = cn_calloc((size_t)L, sizeof *r->blocks))) {
        cn_free(blocks);
        cn_critreg_graph_free(r);
        return cn_error_set(err, CN_ERR_NOMEM, "out of memory for the criticality regulariser");
    }
    *r = (cn_critreg_graph){.net = net, .g = g, .blocks = r->blocks, .L = L, .m = cfg->probes, .maxB = max_batch,
                            .target = cfg->target, .batch = cfg->batch, .beta = cfg->beta};
    for (int l = 0; l < L; l++) {
        graph_block *b = &r->blocks[l];
        cn_net_graph_span(net, blocks[l].first, blocks[l].last, &b->first, &b->last, &b->in, &b->out);
        b->n_in = blocks[l].n_in;
        b->n_out = blocks[l].n_out;
        int node = cn_graph_first_without_tangent_rule(g, b->first, b->last);
        if (node >= 0) {
            rc = cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: node %s (%s) has no second-order rule yet, so the "
                              "criticality regulariser cannot pass block %d (docs/onnx.md lists the operators it "
                              "passes; --crit-layers or --blocks can leave it out)", g->path, g->nodes[node].name,
                              g->nodes[node].op_type, l + 1);
            break;
        }
    }
    cn_free(blocks);
    if (!rc) {
        /* every probe's tangents stay in the graph for the reverse pass */
        g->min_tangents = r->m;
        if ((rc = cn_net_reserve(net, max_batch, r->m)) || (rc = cn_graph_reserve_grads(g)) ||
            (rc = cn_graph_reserve_gtan(g)))
            rc = cn_error_set(err, rc, "%s", g->msg);
    }
    if (rc) {
        cn_critreg_graph_free(r);
        return rc;
    }
    *out = r;
    return CN_OK;
}

void cn_critreg_graph_set_probes(cn_critreg_graph *r, const cn_real *u) { r->fixed_probes = u; }

static double sum_squares(const cn_real *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return s;
}

/* m probes of B rows into the tensor's tangents: Gaussian on the first Bc rows, zero on the others */
static void draw_probes(cn_critreg_graph *r, cn_rng *rng, cn_tensor *t, int B, int Bc, int n)
{
    const size_t rows = (size_t)B * n;
    for (int k = 0; k < r->m; k++) {
        cn_real *u = t->tan + (size_t)k * rows;
        for (size_t i = 0; i < (size_t)Bc * n; i++)
            u[i] = r->fixed_probes ? r->fixed_probes[(size_t)k * Bc * n + i] : (cn_real)cn_rng_normal(rng);
        memset(u + (size_t)Bc * n, 0, (rows - (size_t)Bc * n) * sizeof *u);
    }
}

static int apply_sigma(cn_critreg_graph *r, cn_rng *rng, int B, int Bc, double *R, double *estimate)
{
    cn_graph *g = r->g;
    const int m = r->m;
    double total = 0, ln_sum = 0;
    for (int l = 0; l < r->L; l++) {
        const graph_block *b = &r->blocks[l];
        cn_tensor *in = &g->t[b->in], *out = &g->t[b->out];
        draw_probes(r, rng, in, B, Bc, b->n_in);
        int rc = cn_graph_run_jvp(g, b->first, b->last, m);
        if (rc) return rc;
        const size_t nv = (size_t)m * B * b->n_out;
        const double U = sum_squares(in->tan, (size_t)m * B * b->n_in) / b->n_in, S = sum_squares(out->tan, nv) / b->n_out;
        const double ln_sigma = 0.5 * log(S / U);
        if (!isfinite(ln_sigma)) return CN_ERR_NONFINITE;
        total += ln_sigma * ln_sigma / r->L;
        ln_sum += ln_sigma / r->L;
        /* dR/dv = (beta / L) (ln sigma / S) (2 v / n_out) */
        const cn_real scale = (cn_real)(r->beta / r->L * ln_sigma / S * 2.0 / b->n_out);
        cn_graph_zero_gtan(g, b->first, b->last, m);
        for (size_t i = 0; i < nv; i++) out->gtan[i] = scale * out->tan[i];
        if ((rc = cn_graph_run_jvp_vjp(g, b->first, b->last, m))) return rc;
    }
    *R = total;
    if (estimate) *estimate = exp(ln_sum);
    return CN_OK;
}

/* As critreg.c's apply_lambda: lambda = (1/L) (1/2) ln[(sum |v_L|^2 / n_L) / (sum |u|^2 / n_0)] over the probed
 * rows, each block's output tangent rescaled by one factor c_l (lambda does not change), so the reverse
 * multiplies the cotangent by the same c_l at each block end on the way back. */
static int apply_lambda(cn_critreg_graph *r, cn_rng *rng, int B, int Bc, double *R, double *estimate)
{
    cn_graph *g = r->g;
    const int m = r->m, L = r->L;
    const graph_block *first = &r->blocks[0], *last = &r->blocks[L - 1];
    cn_tensor *in = &g->t[first->in];
    draw_probes(r, rng, in, B, Bc, first->n_in);
    const double probed = (double)m * Bc;
    double ln_growth = -0.5 * log(sum_squares(in->tan, (size_t)m * B * first->n_in) / (probed * first->n_in));
    double s = 0;
    double scale_at[64];
    double *scales = L <= 64 ? scale_at : cn_malloc((size_t)L * sizeof *scales);
    if (!scales) return CN_ERR_NOMEM;
    int rc = CN_OK;
    for (int l = 0; l < L && !rc; l++) {
        const graph_block *b = &r->blocks[l];
        if ((rc = cn_graph_run_jvp(g, b->first, b->last, m))) break;
        cn_tensor *out = &g->t[b->out];
        const size_t nv = (size_t)m * B * b->n_out;
        s = sum_squares(out->tan, nv) / (probed * b->n_out);
        ln_growth += 0.5 * log(s);
        scales[l] = 1 / sqrt(s);
        if (l < L - 1)
            for (size_t i = 0; i < nv; i++) out->tan[i] *= (cn_real)scales[l];
    }
    const double lambda = ln_growth / L;
    if (!rc && !isfinite(lambda)) rc = CN_ERR_NONFINITE;
    if (!rc) {
        /* dR/dv = beta 2 lambda / L * v / |v|^2 over the last block's output */
        cn_tensor *out = &g->t[last->out];
        const size_t nv = (size_t)m * B * last->n_out;
        const cn_real scale = (cn_real)(r->beta * 2 * lambda / L / (s * probed * last->n_out));
        cn_graph_zero_gtan(g, first->first, last->last, m);
        for (size_t i = 0; i < nv; i++) out->gtan[i] = scale * out->tan[i];
        for (int l = L - 1; l >= 0 && !rc; l--) {
            const graph_block *b = &r->blocks[l];
            if ((rc = cn_graph_run_jvp_vjp(g, b->first, b->last, m)) || l == 0) continue;
            /* the block before rescaled its output by c: the cotangent of the unscaled one is c times this */
            cn_tensor *t = &g->t[b->in];
            const size_t nt = (size_t)m * B * b->n_in;
            for (size_t i = 0; i < nt; i++) t->gtan[i] *= (cn_real)scales[l - 1];
        }
    }
    if (scales != scale_at) cn_free(scales);
    if (rc) return rc;
    *R = lambda * lambda;
    if (estimate) *estimate = lambda;
    return CN_OK;
}

int cn_critreg_graph_apply(cn_critreg_graph *r, cn_rng *rng, int B, double *R, double *estimate)
{
    if (B < 1 || B > r->maxB) return CN_ERR_ARG;
    const int Bc = r->batch > 0 && r->batch < B ? r->batch : B;
    cn_graph *g = r->g;
    cn_graph_zero_grads(g);
    double Rv = 0;
    int rc = r->target == CN_CRIT_LAMBDA ? apply_lambda(r, rng, B, Bc, &Rv, estimate)
                                         : apply_sigma(r, rng, B, Bc, &Rv, estimate);
    /* the task's backward adds to these grads rather than zeroing them */
    g->keep_grads = rc == CN_OK;
    if (rc && rc != CN_ERR_NONFINITE) cn_net_graph_failed(r->net, rc); /* g->msg names the node */
    if (R) *R = Rv;
    return rc;
}

int cn_critreg_graph_backward(cn_critreg_graph *r, const cn_real *dlogits, int B)
{
    return cn_net_backward(r->net, dlogits, NULL, B);
}
