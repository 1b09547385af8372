/* jacobian.c: the singular values of a network's input-output Jacobian, the dynamical-isometry view
 * (Pennington, Schoenholz & Ganguli 2017): at the same chi_1 = 1, orthogonal and Gaussian weights differ here
 * and not in sigma or lambda_0. For each input the Jacobian of the blocks (the readout left out unless asked)
 * is formed exactly, one batch of basis tangents at a time through the layers' jvps (K tangents per pass:
 * an imported graph runs them batched), and its singular values come from LAPACK's dgesdd in double. */
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include "critnet.h"

#define CHUNK 64           /* basis tangents per pass */
#define MAX_SIDE 4096      /* exact SVD up to this many inputs or outputs */
#define HIST_BINS 40

static int last_layer(const cn_net *net, int include_readout, int *last, cn_error *err)
{
    cn_block *blocks = NULL;
    int count = 0, rc = cn_net_blocks(net, include_readout, &blocks, &count);
    if (rc) return cn_error_set(err, rc, "cannot divide the network into blocks");
    if (count < 1) {
        cn_free(blocks);
        return cn_error_set(err, CN_ERR_ARG, "the network has no blocks before its readout");
    }
    *last = blocks[count - 1].last;
    cn_free(blocks);
    return CN_OK;
}

/* J (n_out x n_in, column-major, double) of layers 0..last at the input of the last forward */
static int form_jacobian(cn_net *net, int last, double *J, int n_in, int n_out, cn_real *ta, cn_real *tb)
{
    for (int c0 = 0; c0 < n_in; c0 += CHUNK) {
        int kc = n_in - c0 < CHUNK ? n_in - c0 : CHUNK;
        memset(ta, 0, (size_t)kc * n_in * sizeof *ta);
        for (int k = 0; k < kc; k++) ta[(size_t)k * n_in + c0 + k] = 1;
        const cn_real *in = ta;
        for (int i = 0; i <= last; i++) {
            cn_real *out = in == ta ? tb : ta;
            int rc = cn_net_layer_jvp(net, i, in, out, 1, kc);
            if (rc) return rc;
            in = out;
        }
        for (int k = 0; k < kc; k++)
            for (int r = 0; r < n_out; r++) J[(size_t)(c0 + k) * n_out + r] = in[(size_t)k * n_out + r];
    }
    return CN_OK;
}

void cn_jacobian_result_free(cn_jacobian_result *r)
{
    if (!r) return;
    cn_free(r->s);
    memset(r, 0, sizeof *r);
}

static void summarise(cn_jacobian_result *r)
{
    const size_t total = (size_t)r->inputs * r->rank;
    double m2 = 0, m4 = 0, lo = INFINITY, hi = 0;
    for (size_t i = 0; i < total; i++) {
        double s2 = r->s[i] * r->s[i];
        m2 += s2;
        m4 += s2 * s2;
        if (r->s[i] > 0 && r->s[i] < lo) lo = r->s[i];
        if (r->s[i] > hi) hi = r->s[i];
    }
    r->mean_s2 = m2 / (double)total;
    r->mean_s4 = m4 / (double)total;
    r->s_min = isfinite(lo) ? lo : 0;
    r->s_max = hi;
    double cond = 0;
    for (int b = 0; b < r->inputs; b++) {
        const double *s = r->s + (size_t)b * r->rank; /* dgesdd: descending */
        cond += s[r->rank - 1] > 0 ? log10(s[0] / s[r->rank - 1]) : INFINITY;
    }
    r->mean_log10_cond = cond / r->inputs;
    /* histogram of log10 s over the pooled range */
    r->hist_lo = r->s_min > 0 ? floor(log10(r->s_min) * 10) / 10 : -8;
    r->hist_hi = r->s_max > 0 ? ceil(log10(r->s_max) * 10) / 10 : 0;
    if (r->hist_hi <= r->hist_lo) r->hist_hi = r->hist_lo + 0.1;
    memset(r->hist, 0, sizeof r->hist);
    for (size_t i = 0; i < total; i++) {
        if (!(r->s[i] > 0)) continue;
        int bin = (int)((log10(r->s[i]) - r->hist_lo) / (r->hist_hi - r->hist_lo) * HIST_BINS);
        r->hist[bin < 0 ? 0 : bin >= HIST_BINS ? HIST_BINS - 1 : bin]++;
    }
}

int cn_jacobian_spectrum(cn_net *net, const cn_real *x, int n, int include_readout, cn_jacobian_result *res,
                         cn_error *err)
{
    memset(res, 0, sizeof *res);
    if (n < 1) return cn_error_set(err, CN_ERR_ARG, "no inputs");
    int last = 0, rc = last_layer(net, include_readout, &last, err);
    if (rc) return rc;
    const int n_in = cn_net_in_size(net), n_out = cn_net_layer_out_size(net, last);
    if (n_in > MAX_SIDE || n_out > MAX_SIDE)
        return cn_error_set(err, CN_ERR_UNSUPPORTED, "the Jacobian is %d x %d; the exact spectrum takes at most %d "
                            "inputs and outputs (a randomized method for larger ones is not implemented)", n_out,
                            n_in, MAX_SIDE);
    size_t widest = (size_t)n_in;
    for (int i = 0; i <= last; i++)
        if ((size_t)cn_net_layer_out_size(net, i) > widest) widest = (size_t)cn_net_layer_out_size(net, i);
    const int rank = n_in < n_out ? n_in : n_out;
    cn_real *ta = cn_malloc(CHUNK * widest * sizeof *ta), *tb = cn_malloc(CHUNK * widest * sizeof *tb);
    double *J = cn_malloc((size_t)n_in * n_out * sizeof *J);
    res->s = cn_malloc((size_t)n * rank * sizeof *res->s);
    if (!ta || !tb || !J || !res->s) rc = cn_error_set(err, CN_ERR_NOMEM, "out of memory for a %d x %d Jacobian", n_out, n_in);
    if (!rc && (rc = cn_net_reserve(net, 1, CHUNK))) cn_error_set(err, rc, "out of memory for %d tangents", CHUNK);
    res->inputs = n;
    res->rank = rank;
    res->n_in = n_in;
    res->n_out = n_out;
    for (int b = 0; b < n && !rc; b++) {
        const cn_real *xb = x + (size_t)b * n_in;
        int finite = 1;
        for (int i = 0; i < n_in; i++) finite &= isfinite((double)xb[i]);
        if (!finite) {
            rc = cn_error_set(err, CN_ERR_NONFINITE, "input %d holds NaN or infinity", b);
            break;
        }
        if ((rc = cn_net_forward(net, xb, 1, 0)) || (rc = form_jacobian(net, last, J, n_in, n_out, ta, tb))) {
            cn_net_pass_error(net, rc, err);
            break;
        }
        if (LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', n_out, n_in, J, n_out, res->s + (size_t)b * rank, NULL, 1, NULL,
                           1) != 0)
            rc = cn_error_set(err, CN_ERR_NONFINITE, "input %d: the SVD of the Jacobian did not converge", b);
    }
    cn_free(ta);
    cn_free(tb);
    cn_free(J);
    if (rc) {
        cn_jacobian_result_free(res);
        return rc;
    }
    summarise(res);
    return CN_OK;
}
