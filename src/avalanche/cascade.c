/* cascade.c: avalanches inside a network, with depth as time: a small perturbation of one unit (of the input,
 * or in the linear mode of a block's output) and, at each later block, the units whose activity changes by
 * more than a threshold. Only the public network API is used: forward passes, block outputs and layer jvps. */
#include <math.h>
#include <string.h>
#include "critnet.h"

static const char *const mode_names[] = {"finite", "linear"};
_Static_assert(sizeof mode_names / sizeof *mode_names == CN_CASCADE_MODE_COUNT, "a name for every mode");

const char *cn_cascade_mode_name(cn_cascade_mode m) { return (unsigned)m < CN_CASCADE_MODE_COUNT ? mode_names[m] : "?"; }

int cn_cascade_mode_from_name(const char *name, cn_cascade_mode *out)
{
    for (int i = 0; i < CN_CASCADE_MODE_COUNT; i++)
        if (name && !strcmp(name, mode_names[i])) {
            *out = (cn_cascade_mode)i;
            return CN_OK;
        }
    return CN_ERR_ARG;
}

void cn_cascade_defaults(cn_cascade_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->site = -1;
    cfg->eps = 0.01;
    /* of the three thresholds of experiments/avalanches/phase.sh, the one met at both sigma_b with the largest R */
    cfg->rel_threshold = 2.5;
    cfg->trials = 10;
    cfg->batch = 256;
    cfg->calibration = 1000;
}

void cn_cascade_result_free(cn_cascade_result *r)
{
    cn_free(r->units);
    cn_free(r->rms);
    cn_free(r->counts);
    cn_free(r->input);
    cn_free(r->unit);
    cn_free(r->sign);
    memset(r, 0, sizeof *r);
}

typedef struct {
    cn_net *net;
    const cn_cascade_cfg *cfg;
    const cn_real *x;
    cn_cascade_result *r;
    cn_block *blocks, *cb; /* all measured blocks; cb: the cascade's, from the first after the site */
    int n0, K, B, rows;    /* input size, trials, inputs per pass, rows per forward (finite mode) */
    size_t widest, total;  /* widest layer; units of all cascade blocks together */
    cn_real *xp;           /* finite: (rows, n0) perturbed inputs */
    cn_real *ref;          /* finite: (B, total) the references' block outputs */
    cn_real *ta, *tb, *tc, *td; /* linear: (K, B, widest) tangents */
    double *sq;            /* (len) sum of squared changes per block */
    double calib_sq;       /* calibration: sum of squared changes of the first block */
    long calib_n;
} ctx;

static int pass_failed(ctx *c, int rc, cn_error *err) { return cn_net_pass_error(c->net, rc, err); }

/* one change: counted beyond the threshold, and its square summed for the RMS (or only the calibration's) */
static int tally(ctx *c, int calibrate, int l, const cn_real *d, size_t casc, cn_error *err)
{
    int n = c->r->units[l], k = 0;
    double s = 0, th = c->r->threshold;
    for (int i = 0; i < n; i++) {
        double v = d[i];
        s += v * v;
        k += fabs(v) > th;
    }
    if (!isfinite(s))
        return cn_error_set(err, CN_ERR_NONFINITE, "cascade %zu: the change at block %d is not finite", casc,
                            c->r->first_block + l);
    if (calibrate) {
        c->calib_sq += s, c->calib_n += n;
        return CN_OK;
    }
    c->sq[l] += s;
    c->r->counts[casc * c->r->len + l] = k;
    return CN_OK;
}

/* finite mode: the references, then their perturbed copies in forwards of up to c->rows rows */
static int group_finite(ctx *c, int i0, int B, int calibrate, cn_error *err)
{
    int rc, K = c->K, L = calibrate ? 1 : c->r->len;
    if ((rc = cn_net_forward(c->net, c->x + (size_t)i0 * c->n0, B, 0))) return pass_failed(c, rc, err);
    for (int l = 0, off = 0; l < L; off += c->r->units[l++]) {
        const cn_real *h = cn_net_layer_output(c->net, c->cb[l].last);
        for (int b = 0; b < B; b++)
            memcpy(c->ref + (size_t)b * c->total + off, h + (size_t)b * c->r->units[l], sizeof(cn_real) * c->r->units[l]);
    }
    for (int row0 = 0; row0 < B * K; row0 += c->rows) {
        int R = B * K - row0 < c->rows ? B * K - row0 : c->rows;
        for (int q = 0; q < R; q++) {
            size_t casc = (size_t)i0 * K + row0 + q;
            cn_real *xq = c->xp + (size_t)q * c->n0;
            memcpy(xq, c->x + (size_t)c->r->input[casc] * c->n0, sizeof(cn_real) * c->n0);
            xq[c->r->unit[casc]] += (cn_real)(c->r->sign[casc] * c->cfg->eps);
        }
        if ((rc = cn_net_forward(c->net, c->xp, R, 0))) return pass_failed(c, rc, err);
        for (int l = 0, off = 0; l < L; off += c->r->units[l++]) {
            const cn_real *h = cn_net_layer_output(c->net, c->cb[l].last);
            int nl = c->r->units[l];
            for (int q = 0; q < R; q++) {
                size_t casc = (size_t)i0 * K + row0 + q;
                const cn_real *ref = c->ref + (size_t)(casc / K - i0) * c->total + off;
                cn_real *d = c->tc; /* scratch of nl values */
                for (int i = 0; i < nl; i++) d[i] = h[(size_t)q * nl + i] - ref[i];
                if ((rc = tally(c, calibrate, l, d, casc, err))) return rc;
            }
        }
    }
    return CN_OK;
}

/* ty = J_block tx through the block's layers, on the stored forward pass; tc/td are scratch */
static int block_jvp(ctx *c, const cn_block *blk, const cn_real *tx, cn_real *ty, int B)
{
    const cn_real *in = tx;
    for (int i = blk->first; i <= blk->last; i++) {
        cn_real *out = i == blk->last ? ty : ((i - blk->first) & 1 ? c->td : c->tc);
        int rc = cn_net_layer_jvp(c->net, i, in, out, B, c->K);
        if (rc) return rc;
        in = out;
    }
    return CN_OK;
}

/* linear mode: one tangent per trial, e_unit * sign * eps at the site, carried block by block */
static int group_linear(ctx *c, int i0, int B, int calibrate, cn_error *err)
{
    int rc, K = c->K, L = calibrate ? 1 : c->r->len, ns = c->r->site_units;
    if ((rc = cn_net_forward(c->net, c->x + (size_t)i0 * c->n0, B, 0))) return pass_failed(c, rc, err);
    memset(c->ta, 0, sizeof(cn_real) * (size_t)K * B * ns);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) {
            size_t casc = (size_t)(i0 + b) * K + k;
            c->ta[((size_t)k * B + b) * ns + c->r->unit[casc]] = (cn_real)(c->r->sign[casc] * c->cfg->eps);
        }
    cn_real *t = c->ta, *u = c->tb;
    for (int l = 0; l < L; l++) {
        if ((rc = block_jvp(c, &c->cb[l], t, u, B))) return pass_failed(c, rc, err);
        int nl = c->r->units[l];
        for (int b = 0; b < B; b++)
            for (int k = 0; k < K; k++)
                if ((rc = tally(c, calibrate, l, u + ((size_t)k * B + b) * nl, (size_t)(i0 + b) * K + k, err)))
                    return rc;
        cn_real *s = t;
        t = u, u = s;
    }
    return CN_OK;
}

static int check_cfg(const cn_cascade_cfg *g, int n, cn_error *err)
{
    if (n < 1) return cn_error_set(err, CN_ERR_ARG, "cascades: need at least one input (got %d)", n);
    if ((unsigned)g->mode >= CN_CASCADE_MODE_COUNT) return cn_error_set(err, CN_ERR_ARG, "cascades: unknown mode %d", g->mode);
    if (!(g->eps > 0) || !isfinite(g->eps))
        return cn_error_set(err, CN_ERR_ARG, "cascades: the perturbation eps %g must be finite and > 0", g->eps);
    if (!(g->threshold >= 0) || !isfinite(g->threshold))
        return cn_error_set(err, CN_ERR_ARG, "cascades: the threshold %g must be finite and >= 0", g->threshold);
    if (g->threshold == 0 && (!(g->rel_threshold > 0) || !isfinite(g->rel_threshold)))
        return cn_error_set(err, CN_ERR_ARG, "cascades: the relative threshold %g must be finite and > 0",
                            g->rel_threshold);
    if (g->trials < 1 || g->batch < 1 || (g->threshold == 0 && g->calibration < 1))
        return cn_error_set(err, CN_ERR_ARG, "cascades: need trials >= 1, batch >= 1 and calibration >= 1 (got %d, %d, %d)",
                            g->trials, g->batch, g->calibration);
    if ((long)n * g->trials > (1L << 30))
        return cn_error_set(err, CN_ERR_ARG, "cascades: %d inputs x %d trials is too many", n, g->trials);
    if (g->site < -1) return cn_error_set(err, CN_ERR_ARG, "cascades: site %d: -1 (the input) or a block index", g->site);
    if (g->site >= 0 && g->mode != CN_CASCADE_LINEAR)
        return cn_error_set(err, CN_ERR_ARG, "cascades: a seed inside the network (block %d) needs the linear mode: "
                                             "the network runs forward from its input only", g->site);
    return CN_OK;
}

static int setup(ctx *c, int n, cn_error *err)
{
    cn_cascade_result *r = c->r;
    const cn_cascade_cfg *g = c->cfg;
    int nb, rc = cn_net_blocks(c->net, g->include_readout, &c->blocks, &nb);
    if (rc) return cn_error_set(err, rc, "cascades: out of memory");
    if (g->site >= nb - 1)
        return cn_error_set(err, CN_ERR_ARG, "cascades: site block %d: the network has %d measured blocks (0..%d), and "
                                             "a cascade needs a block after its site", g->site, nb, nb - 1);
    c->n0 = cn_net_in_size(c->net);
    c->K = g->trials;
    c->cb = c->blocks + g->site + 1;
    r->first_block = g->site + 1;
    r->len = nb - 1 - g->site;
    r->site_units = g->site < 0 ? c->n0 : c->blocks[g->site].n_out;
    r->cascades = n * c->K;
    r->threshold = g->threshold;
    r->calib_rms = NAN;
    c->widest = (size_t)c->n0;
    for (int i = 0; i < cn_net_layer_count(c->net); i++)
        if ((size_t)cn_net_layer_out_size(c->net, i) > c->widest) c->widest = (size_t)cn_net_layer_out_size(c->net, i);
    /* a pass holds whole inputs' trials; a model with a fixed batch size runs that many rows at a time */
    int lim = cn_net_batch_limit(c->net);
    c->B = g->batch / c->K > 1 ? g->batch / c->K : 1;
    if (c->B > n) c->B = n;
    if (lim && c->B > lim) c->B = lim;
    c->rows = c->B * c->K;
    if (lim && c->rows > lim) c->rows = lim;
    int linear = g->mode == CN_CASCADE_LINEAR;
    if ((rc = cn_net_reserve(c->net, linear || c->rows < c->B ? c->B : c->rows, linear ? c->K : 1)))
        return cn_net_status(c->net, err) ? rc : cn_error_set(err, rc, "cascades: reserving the network: %s", cn_strerror(rc));
    r->units = cn_malloc(sizeof(int) * (size_t)r->len);
    r->rms = cn_calloc((size_t)r->len, sizeof(double));
    r->counts = cn_calloc((size_t)r->cascades * r->len, sizeof(int));
    r->input = cn_malloc(sizeof(int) * (size_t)r->cascades);
    r->unit = cn_malloc(sizeof(int) * (size_t)r->cascades);
    r->sign = cn_malloc((size_t)r->cascades);
    c->sq = cn_calloc((size_t)r->len, sizeof(double));
    if (!r->units || !r->rms || !r->counts || !r->input || !r->unit || !r->sign || !c->sq)
        return cn_error_set(err, CN_ERR_NOMEM, "cascades: out of memory for %d cascades of %d blocks", r->cascades, r->len);
    for (int l = 0; l < r->len; l++) r->units[l] = c->cb[l].n_out, c->total += (size_t)c->cb[l].n_out;
    /* tc: the jvp's scratch, and the finite mode's difference of one block */
    size_t kb = linear ? (size_t)c->K * c->B * c->widest : c->widest;
    c->tc = cn_malloc(sizeof(cn_real) * kb);
    if (linear) {
        c->ta = cn_malloc(sizeof(cn_real) * kb);
        c->tb = cn_malloc(sizeof(cn_real) * kb);
        c->td = cn_malloc(sizeof(cn_real) * kb);
    } else {
        c->xp = cn_malloc(sizeof(cn_real) * (size_t)c->rows * c->n0);
        c->ref = cn_malloc(sizeof(cn_real) * (size_t)c->B * c->total);
    }
    if (!c->tc || (linear ? !c->ta || !c->tb || !c->td : !c->xp || !c->ref))
        return cn_error_set(err, CN_ERR_NOMEM, "cascades: out of memory for the work buffers");
    /* every cascade's seed is drawn up front, in cascade order, so that no count depends on the batch size */
    cn_rng *rng = cn_rng_new(g->seed);
    if (!rng) return cn_error_set(err, CN_ERR_NOMEM, "cascades: out of memory");
    for (int i = 0; i < r->cascades; i++) {
        r->input[i] = i / c->K;
        r->unit[i] = (int)cn_rng_below(rng, (uint64_t)r->site_units);
        r->sign[i] = cn_rng_uniform(rng) < 0.5 ? -1 : 1;
    }
    cn_rng_free(rng);
    return CN_OK;
}

int cn_cascade_run(cn_cascade_result *out, cn_net *net, const cn_real *x, int n, const cn_cascade_cfg *cfg,
                   cn_error *err)
{
    memset(out, 0, sizeof *out);
    if (!net || !x || !cfg) return cn_error_set(err, CN_ERR_ARG, "cascades: no network, inputs or settings");
    int rc = check_cfg(cfg, n, err);
    if (rc) return rc;
    ctx c = {.net = net, .cfg = cfg, .x = x, .r = out};
    size_t nx = (size_t)n * cn_net_in_size(net);
    for (size_t i = 0; i < nx; i++)
        if (!isfinite(x[i]))
            return cn_error_set(err, CN_ERR_NONFINITE, "cascades: input %zu has a non-finite value", i / cn_net_in_size(net));
    if ((rc = setup(&c, n, err))) goto done;
    int (*group)(ctx *, int, int, int, cn_error *) = cfg->mode == CN_CASCADE_LINEAR ? group_linear : group_finite;
    if (cfg->threshold == 0) {
        /* the threshold in units of the typical first step, from the first inputs' cascades */
        int nc = (cfg->calibration + c.K - 1) / c.K;
        if (nc > n) nc = n;
        for (int i0 = 0; i0 < nc; i0 += c.B)
            if ((rc = group(&c, i0, nc - i0 < c.B ? nc - i0 : c.B, 1, err))) goto done;
        out->calib_rms = sqrt(c.calib_sq / (double)c.calib_n);
        out->threshold = cfg->rel_threshold * out->calib_rms;
        if (!(out->threshold > 0)) {
            rc = cn_error_set(err, CN_ERR_ARG, "cascades: the perturbation does not reach block %d (RMS change 0), so "
                                               "a relative threshold is 0: give an absolute one", out->first_block);
            goto done;
        }
    }
    for (int i0 = 0; i0 < n; i0 += c.B) {
        int B = n - i0 < c.B ? n - i0 : c.B;
        if ((rc = group(&c, i0, B, 0, err))) goto done;
        if (cfg->progress) cfg->progress((double)(i0 + B) * c.K, (double)out->cascades, cfg->user);
    }
    for (int l = 0; l < out->len; l++) out->rms[l] = sqrt(c.sq[l] / ((double)out->cascades * out->units[l]));
done:
    cn_free(c.blocks);
    cn_free(c.xp);
    cn_free(c.ref);
    cn_free(c.ta);
    cn_free(c.tb);
    cn_free(c.tc);
    cn_free(c.td);
    cn_free(c.sq);
    if (rc) cn_cascade_result_free(out);
    return rc;
}
