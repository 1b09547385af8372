/* measure.c: the criticality measures of a network on a set of inputs, by Jacobian-vector products only
 * (no Jacobian is ever formed): branching parameter sigma (Hutchinson probes), the Lyapunov spectrum
 * (Benettin's method with depth as time), the activity branching ratio and the dynamic range.
 * Inputs are streamed in batches; accumulators are sums, so memory does not grow with their number.
 * With several threads (cn_set_threads) the inputs are split into one contiguous share per thread, each
 * measured by a worker with its own copy of the network, buffers and random stream and one BLAS thread;
 * the workers' sums are added in worker order, so a thread count always gives the same bits. */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "core/blas.h"
#include "kernels/softmax.h"
#include "measure/cholqr.h"
#include "measure/driven.h"
#include "measure/net_copy.h"

#define LN_FLOOR (-87.498) /* ln 1e-38: a direction that collapsed exactly */

static const char *const response_names[] = {"tv", "activity", "hidden", "hidden-rel", "driven"};
_Static_assert(sizeof response_names / sizeof *response_names == CN_RESP_COUNT, "a name for every response");

const char *cn_response_name(cn_response r) { return (unsigned)r < CN_RESP_COUNT ? response_names[r] : "?"; }

int cn_response_from_name(const char *name, cn_response *out)
{
    for (int i = 0; i < CN_RESP_COUNT; i++)
        if (name && !strcmp(name, response_names[i])) {
            *out = (cn_response)i;
            return CN_OK;
        }
    return CN_ERR_ARG;
}

void cn_measure_defaults(cn_measure_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->probes = 8;
    cfg->spectrum = 1;
    cfg->batch = 100;
    cfg->dr_points = 60;
    cfg->dr_smin = 1e-4;
    cfg->dr_smax = 1e2;
    cfg->dr_block = -1;
}

typedef struct {
    double sum, sq;
    long n;
} moments;

static void moments_add(moments *m, double v)
{
    m->sum += v;
    m->sq += v * v;
    m->n++;
}
static double moments_mean(const moments *m) { return m->n ? m->sum / m->n : NAN; }
static double moments_se(const moments *m)
{
    if (m->n < 2) return NAN;
    double mean = m->sum / m->n, var = (m->sq - m->n * mean * mean) / (m->n - 1);
    return sqrt(var > 0 ? var : 0) / sqrt((double)m->n);
}

typedef struct {
    double sx, sy, sxx, sxy;
    long n;
} ols_sums;

typedef struct {
    cn_net *net;
    const cn_measure_cfg *cfg;
    cn_block *blocks;
    int L, K, k, B;
    size_t widest;
    cn_real *ta, *tb, *tc, *td; /* tangent buffers (K, B, widest) */
    cn_real *xp, *probs;        /* dynamic range: perturbed inputs, reference softmax */
    cn_qr_work qr;
    cn_rng *rng;
    moments *ln_sigma_block, ln_sigma_net, *lambda, *local;
    ols_sums *ols;
    double *act_sum;
    double *dr_sum;
    long degenerate;
} ctx;

/* ty = J_block tx, through the block's layers; tc/td are scratch */
static void block_jvp(ctx *c, const cn_block *blk, const cn_real *tx, cn_real *ty, int B, int K)
{
    const cn_real *in = tx;
    for (int i = blk->first; i <= blk->last; i++) {
        cn_real *out = i == blk->last ? ty : ((i - blk->first) & 1 ? c->td : c->tc);
        cn_net_layer_jvp(c->net, i, in, out, B, K);
        in = out;
    }
}

static void fill_normal(cn_rng *rng, cn_real *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = (cn_real)cn_rng_normal(rng);
}

static double rms2(const cn_real *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    return s / n;
}

/* QR of each input's (n x k) tangent matrix, in place: column j of input b is t[j*B*n + b*n ...].
 * Writes ln |R_jj| into lnr (B x k) and leaves Q in t. */
static int qr_batch(ctx *c, cn_real *t, int B, int n, int k, double *lnr)
{
    /* a thin QR (n x k, k ~ 32) is too small to split across threads: OpenBLAS's threads made it 3.6 times
     * slower at 2 threads (bench/results/spectrum.md), so it runs on one while the GEMMs keep them all */
    int threads = openblas_get_num_threads();
    if (threads > 1) openblas_set_num_threads(1);
    int rc = CN_OK;
    for (int b = 0; b < B && rc == CN_OK; b++) {
        double *rabs = lnr + (size_t)b * k;
        rc = cn_thin_qr(&c->qr, t + (size_t)b * n, B * n, n, k, rabs);
        for (int j = 0; j < k; j++) {
            double r = rabs[j];
            if (r > 0 && isfinite(r)) {
                rabs[j] = log(r);
            } else {
                rabs[j] = LN_FLOOR;
                c->degenerate++;
            }
        }
    }
    if (threads > 1) openblas_set_num_threads(threads);
    return rc;
}

static void measure_activity(ctx *c, const cn_real *x, int B)
{
    int n0 = cn_net_in_size(c->net);
    for (int b = 0; b < B; b++) {
        double prev = rms2(x + (size_t)b * n0, n0);
        c->act_sum[0] += prev;
        for (int l = 0; l < c->L; l++) {
            const cn_block *blk = &c->blocks[l];
            double a = rms2(cn_net_layer_output(c->net, blk->last) + (size_t)b * blk->n_out, blk->n_out);
            ols_sums *o = &c->ols[l];
            o->sx += prev;
            o->sy += a;
            o->sxx += prev * prev;
            o->sxy += prev * a;
            o->n++;
            c->act_sum[l + 1] += a;
            prev = a;
        }
    }
}

static void measure_sigma(ctx *c, int B, double *ln_sigma_input)
{
    int m = c->cfg->probes;
    for (int b = 0; b < B; b++) ln_sigma_input[b] = 0;
    for (int l = 0; l < c->L; l++) {
        const cn_block *blk = &c->blocks[l];
        fill_normal(c->rng, c->ta, (size_t)m * B * blk->n_in);
        block_jvp(c, blk, c->ta, c->tb, B, m);
        for (int b = 0; b < B; b++) {
            /* the ratio form E|Ju|^2 / E|u|^2 over the same probes: exact for an isometry, lower variance */
            double s = 0, u2 = 0;
            for (int p = 0; p < m; p++) {
                s += rms2(c->tb + ((size_t)p * B + b) * blk->n_out, blk->n_out);
                u2 += rms2(c->ta + ((size_t)p * B + b) * blk->n_in, blk->n_in);
            }
            double ln_sigma = 0.5 * log(s / u2);
            if (!isfinite(ln_sigma)) ln_sigma = 0.5 * LN_FLOOR;
            moments_add(&c->ln_sigma_block[l], ln_sigma);
            ln_sigma_input[b] += ln_sigma / c->L;
        }
    }
    for (int b = 0; b < B; b++) moments_add(&c->ln_sigma_net, ln_sigma_input[b]);
}

static int measure_lyapunov(ctx *c, int B, double *lnr, double *lambda_input)
{
    int k = c->k, n0 = cn_net_in_size(c->net), rc;
    cn_real *q = c->ta, *z = c->tb;
    if (c->cfg->q0) {
        for (int j = 0; j < k; j++)
            for (int b = 0; b < B; b++)
                memcpy(q + ((size_t)j * B + b) * n0, c->cfg->q0 + (size_t)j * n0, (size_t)n0 * sizeof *q);
    } else {
        fill_normal(c->rng, q, (size_t)k * B * n0);
        if ((rc = qr_batch(c, q, B, n0, k, lnr))) return rc;
    }
    memset(lambda_input, 0, (size_t)B * k * sizeof *lambda_input);
    for (int l = 0; l < c->L; l++) {
        const cn_block *blk = &c->blocks[l];
        block_jvp(c, blk, q, z, B, k);
        if ((rc = qr_batch(c, z, B, blk->n_out, k, lnr))) return rc;
        /* RMS normalisation: a width change alone is neither expansion nor contraction */
        double width_term = 0.5 * log((double)blk->n_in / blk->n_out);
        for (int b = 0; b < B; b++)
            for (int j = 0; j < k; j++) {
                double rho = lnr[b * k + j] + width_term;
                moments_add(&c->local[l * k + j], rho);
                lambda_input[b * k + j] += rho / c->L;
            }
        cn_real *t = q;
        q = z;
        z = t;
    }
    for (int b = 0; b < B; b++)
        for (int j = 0; j < k; j++) moments_add(&c->lambda[j], lambda_input[b * k + j]);
    return CN_OK;
}

static void softmax_rows(cn_real *p, const cn_real *z, int B, int C)
{
    for (int b = 0; b < B; b++) cn_softmax_row((size_t)C, z + (size_t)b * C, p + (size_t)b * C, 0);
}

static double dr_stimulus_value(const cn_measure_cfg *cfg, int i)
{
    double t = cfg->dr_points > 1 ? (double)i / (cfg->dr_points - 1) : 0;
    return exp(log(cfg->dr_smin) + t * (log(cfg->dr_smax) - log(cfg->dr_smin)));
}

/* Response at each stimulus intensity, summed over inputs: the forward passes overwrite the stored
 * activations, so this runs after the jvp-based measures of the batch. */
static void measure_dynamic_range(ctx *c, const cn_real *x, int B)
{
    const cn_measure_cfg *cfg = c->cfg;
    int n0 = cn_net_in_size(c->net), C = cn_net_out_size(c->net);
    int blk = cfg->dr_block >= 0 && cfg->dr_block < c->L ? cfg->dr_block : c->L - 1;
    cn_real *u = c->tc; /* one random direction of unit RMS per input, the same for every intensity */
    fill_normal(c->rng, u, (size_t)B * n0);
    for (int b = 0; b < B; b++) {
        double r = sqrt(rms2(u + (size_t)b * n0, n0));
        for (int i = 0; i < n0; i++) u[(size_t)b * n0 + i] /= (cn_real)r;
    }
    /* reference: the clean input for an additive stimulus, a blank one for contrast */
    if (cfg->dr_stimulus == CN_STIM_CONTRAST) memset(c->xp, 0, (size_t)B * n0 * sizeof *c->xp);
    else memcpy(c->xp, x, (size_t)B * n0 * sizeof *c->xp);
    cn_net_forward(c->net, c->xp, B, 0);
    softmax_rows(c->probs, cn_net_output(c->net), B, C);
    const cn_block *bk = &c->blocks[blk];
    int hidden = cfg->dr_response == CN_RESP_HIDDEN || cfg->dr_response == CN_RESP_HIDDEN_REL;
    cn_real *href = c->tb; /* the reference's hidden state (B, n_out): tb is free while Delta is measured */
    if (hidden) memcpy(href, cn_net_layer_output(c->net, bk->last), (size_t)B * bk->n_out * sizeof *href);
    cn_real *p = c->td;
    uint64_t noise_seed = cfg->dr_response == CN_RESP_DRIVEN ? cn_rng_below(c->rng, UINT64_MAX) : 0;
    for (int i = 0; i < cfg->dr_points; i++) {
        double s = dr_stimulus_value(cfg, i);
        if (cfg->dr_response == CN_RESP_DRIVEN) { /* noise into every block: driven.c */
            if (cn_dr_driven_pass(c->net, c->blocks, blk, x, B, s, noise_seed, c->ta, &c->dr_sum[i])) c->dr_sum[i] = NAN;
            continue;
        }
        for (int b = 0; b < B; b++) {
            const cn_real *xb = x + (size_t)b * n0;
            cn_real *xo = c->xp + (size_t)b * n0;
            if (cfg->dr_stimulus == CN_STIM_CONTRAST) {
                for (int j = 0; j < n0; j++) xo[j] = (cn_real)(s * xb[j]);
            } else {
                double amp = s * sqrt(rms2(xb, n0));
                for (int j = 0; j < n0; j++) xo[j] = (cn_real)(xb[j] + amp * u[(size_t)b * n0 + j]);
            }
        }
        cn_net_forward(c->net, c->xp, B, 0);
        if (cfg->dr_response == CN_RESP_ACTIVITY) {
            const cn_real *h = cn_net_layer_output(c->net, bk->last);
            for (int b = 0; b < B; b++) c->dr_sum[i] += sqrt(rms2(h + (size_t)b * bk->n_out, bk->n_out));
            continue;
        }
        if (hidden) {
            /* the hidden state's RMS distance from the reference's; -rel: in units of the reference's own RMS
             * activity, so that every input's curve rises to about the same height */
            const cn_real *h = cn_net_layer_output(c->net, bk->last);
            int n = bk->n_out;
            for (int b = 0; b < B; b++) {
                double d2 = 0, a2 = 0;
                for (int j = 0; j < n; j++) {
                    double d = (double)h[(size_t)b * n + j] - href[(size_t)b * n + j];
                    d2 += d * d;
                    a2 += (double)href[(size_t)b * n + j] * href[(size_t)b * n + j];
                }
                double r = sqrt(d2 / n);
                if (cfg->dr_response == CN_RESP_HIDDEN_REL) r = a2 > 0 ? r / sqrt(a2 / n) : 0;
                c->dr_sum[i] += r;
            }
            continue;
        }
        softmax_rows(p, cn_net_output(c->net), B, C);
        for (int b = 0; b < B; b++) {
            double tv = 0;
            for (int j = 0; j < C; j++) tv += fabs((double)p[(size_t)b * C + j] - c->probs[(size_t)b * C + j]);
            c->dr_sum[i] += 0.5 * tv;
        }
    }
}

static int validate(const cn_net *net, const cn_measure_cfg *cfg, const cn_block *blocks, int L, int n,
                    cn_error *err)
{
    if (n < 1) return cn_error_set(err, CN_ERR_ARG, "no inputs to measure");
    if (cfg->probes < 0) return cn_error_set(err, CN_ERR_ARG, "--probes %d: must be >= 0", cfg->probes);
    if (cfg->spectrum < 0) return cn_error_set(err, CN_ERR_ARG, "--spectrum %d: must be >= 0", cfg->spectrum);
    if (cfg->batch < 1) return cn_error_set(err, CN_ERR_ARG, "batch %d: must be >= 1", cfg->batch);
    if (L < 1) return cn_error_set(err, CN_ERR_ARG, "the network has no blocks to measure");
    int narrow = cn_net_in_size(net);
    for (int l = 0; l < L; l++) narrow = blocks[l].n_out < narrow ? blocks[l].n_out : narrow;
    if (cfg->spectrum > narrow)
        return cn_error_set(err, CN_ERR_ARG,
                            "--spectrum %d exceeds the narrowest layer (%d units): at most %d exponents exist",
                            cfg->spectrum, narrow, narrow);
    if (cfg->dynamic_range) {
        if (cfg->dr_points < 2) return cn_error_set(err, CN_ERR_ARG, "dynamic range needs at least 2 points");
        if (!(cfg->dr_smin > 0) || !(cfg->dr_smax > cfg->dr_smin))
            return cn_error_set(err, CN_ERR_ARG, "dynamic range: need 0 < s_min < s_max");
        if ((unsigned)cfg->dr_stimulus >= CN_STIM_COUNT || (unsigned)cfg->dr_response >= CN_RESP_COUNT)
            return cn_error_set(err, CN_ERR_ARG, "dynamic range: unknown stimulus or response");
    }
    return CN_OK;
}

static void ctx_free(ctx *c)
{
    cn_free(c->ta);
    cn_free(c->tb);
    cn_free(c->tc);
    cn_free(c->td);
    cn_free(c->xp);
    cn_free(c->probs);
    cn_qr_work_free(&c->qr);
    cn_free(c->ln_sigma_block);
    cn_free(c->lambda);
    cn_free(c->local);
    cn_free(c->ols);
    cn_free(c->act_sum);
    cn_free(c->dr_sum);
    cn_rng_free(c->rng);
}

static int ctx_alloc(ctx *c, uint64_t seed)
{
    size_t kb = (size_t)c->K * c->B * c->widest, in = (size_t)c->B * cn_net_in_size(c->net);
    size_t cls = (size_t)c->B * cn_net_out_size(c->net);
    int k = c->k > 0 ? c->k : 1;
    c->ta = cn_malloc(kb * sizeof(cn_real));
    c->tb = cn_malloc(kb * sizeof(cn_real));
    c->tc = cn_malloc((kb > in ? kb : in) * sizeof(cn_real));
    c->td = cn_malloc((kb > cls ? kb : cls) * sizeof(cn_real));
    c->xp = cn_malloc(in * sizeof(cn_real));
    c->probs = cn_malloc(cls * sizeof(cn_real));
    c->ln_sigma_block = cn_calloc((size_t)c->L, sizeof(moments));
    c->lambda = cn_calloc((size_t)k, sizeof(moments));
    c->local = cn_calloc((size_t)c->L * k, sizeof(moments));
    c->ols = cn_calloc((size_t)c->L, sizeof(ols_sums));
    c->act_sum = cn_calloc((size_t)c->L + 1, sizeof(double));
    c->dr_sum = cn_calloc((size_t)(c->cfg->dr_points > 0 ? c->cfg->dr_points : 1), sizeof(double));
    c->rng = cn_rng_new(seed);
    if (!c->ta || !c->tb || !c->tc || !c->td || !c->xp || !c->probs || !c->ln_sigma_block || !c->lambda ||
        !c->local || !c->ols || !c->act_sum || !c->dr_sum || !c->rng)
        return CN_ERR_NOMEM;
    return cn_qr_work_init(&c->qr, (int)c->widest, k, (int)c->widest * c->B);
}

static void moments_merge(moments *into, const moments *from, int n)
{
    for (int i = 0; i < n; i++) {
        into[i].sum += from[i].sum;
        into[i].sq += from[i].sq;
        into[i].n += from[i].n;
    }
}

/* adds another worker's sums to c's */
static void ctx_merge(ctx *c, const ctx *from)
{
    int L = c->L;
    moments_merge(c->ln_sigma_block, from->ln_sigma_block, L);
    moments_merge(&c->ln_sigma_net, &from->ln_sigma_net, 1);
    moments_merge(c->lambda, from->lambda, c->k);
    moments_merge(c->local, from->local, L * c->k);
    for (int l = 0; l < L; l++) {
        ols_sums *o = &c->ols[l];
        const ols_sums *f = &from->ols[l];
        o->sx += f->sx;
        o->sy += f->sy;
        o->sxx += f->sxx;
        o->sxy += f->sxy;
        o->n += f->n;
    }
    for (int l = 0; l <= L; l++) c->act_sum[l] += from->act_sum[l];
    for (int i = 0; c->cfg->dynamic_range && i < c->cfg->dr_points; i++) c->dr_sum[i] += from->dr_sum[i];
    c->degenerate += from->degenerate;
}

static void fill_result(ctx *c, cn_measure_result *res, int n)
{
    int L = c->L, k = c->k;
    res->inputs = n;
    res->nblocks = L;
    res->k = k;
    double ln = moments_mean(&c->ln_sigma_net);
    res->sigma = exp(ln);
    res->sigma_se = res->sigma * moments_se(&c->ln_sigma_net);
    res->mean_abs_ln_sigma_block = 0;
    for (int l = 0; l < L; l++) {
        res->sigma_block[l] = exp(moments_mean(&c->ln_sigma_block[l]));
        res->sigma_block_se[l] = res->sigma_block[l] * moments_se(&c->ln_sigma_block[l]);
        res->mean_abs_ln_sigma_block += fabs(moments_mean(&c->ln_sigma_block[l])) / L;
    }
    for (int j = 0; j < k; j++) {
        res->spectrum[j] = moments_mean(&c->lambda[j]);
        res->spectrum_se[j] = moments_se(&c->lambda[j]);
    }
    for (int i = 0; i < L * k; i++) res->local_exponents[i] = moments_mean(&c->local[i]);
    res->lambda_max = k ? res->spectrum[0] : NAN;
    res->lambda_max_se = k ? res->spectrum_se[0] : NAN;
    res->degenerate = c->degenerate;
    double ln_act = 0;
    int valid = 1;
    for (int l = 0; l <= L; l++) res->activity[l] = c->act_sum[l] / n;
    for (int l = 0; l < L; l++) {
        const ols_sums *o = &c->ols[l];
        double vx = o->sxx - o->sx * o->sx / o->n, cxy = o->sxy - o->sx * o->sy / o->n;
        double slope = o->n > 1 && vx > 0 ? cxy / vx : NAN;
        res->activity_slope[l] = slope;
        if (slope > 0) ln_act += log(slope) / L;
        else valid = 0;
    }
    res->sigma_act = valid ? exp(ln_act) : NAN;
}

static int result_alloc(cn_measure_result *res, int L, int k, int drn)
{
    int kk = k > 0 ? k : 1;
    res->sigma_block = cn_calloc((size_t)L, sizeof(double));
    res->sigma_block_se = cn_calloc((size_t)L, sizeof(double));
    res->spectrum = cn_calloc((size_t)kk, sizeof(double));
    res->spectrum_se = cn_calloc((size_t)kk, sizeof(double));
    res->local_exponents = cn_calloc((size_t)L * kk, sizeof(double));
    res->activity = cn_calloc((size_t)L + 1, sizeof(double));
    res->activity_slope = cn_calloc((size_t)L, sizeof(double));
    res->dr_s = cn_calloc((size_t)(drn > 0 ? drn : 1), sizeof(double));
    res->dr_F = cn_calloc((size_t)(drn > 0 ? drn : 1), sizeof(double));
    return res->sigma_block && res->sigma_block_se && res->spectrum && res->spectrum_se && res->local_exponents &&
                   res->activity && res->activity_slope && res->dr_s && res->dr_F
               ? CN_OK
               : CN_ERR_NOMEM;
}

void cn_measure_result_free(cn_measure_result *res)
{
    cn_free(res->blocks);
    cn_free(res->sigma_block);
    cn_free(res->sigma_block_se);
    cn_free(res->spectrum);
    cn_free(res->spectrum_se);
    cn_free(res->local_exponents);
    cn_free(res->activity);
    cn_free(res->activity_slope);
    cn_free(res->dr_s);
    cn_free(res->dr_F);
    memset(res, 0, sizeof *res);
}

/* one thread's share of the inputs and everything it measures them with */
typedef struct {
    ctx c;
    cn_net *copy;     /* its own network; NULL for worker 0, which runs the caller's */
    int first, count; /* its inputs */
    double *scratch;
    int rc;
    cn_error err;
} worker;

typedef struct {
    const cn_measure_cfg *cfg;
    int n, done; /* inputs measured so far by all workers, for cfg->progress */
} progress_state;

static void progress_add(progress_state *ps, int B)
{
    if (!ps->cfg->progress) return;
#ifdef _OPENMP
#pragma omp critical(cn_measure_progress)
#endif
    {
        ps->done += B;
        ps->cfg->progress(ps->done, ps->n, ps->cfg->user);
    }
}

/* The threads that measure: each needs a network of its own, so an imported graph, which has no copy
 * (net_copy.h), runs on one, its GEMMs using OpenBLAS's threads as before. */
static int worker_count(cn_net *net, int n)
{
    int T = cn_get_threads();
    T = T < n ? T : n;
    return T > 1 && cn_measure_net_copyable(net) ? T : 1;
}

/* w->c starts as a copy of shape (sizes, blocks) and gets its own network, buffers and random stream.
 * Worker 0's stream is cfg->seed's, so that one thread draws what it always drew. */
static int worker_prepare(worker *w, int index, cn_net *net, const ctx *shape)
{
    int rc;
    if (index > 0 && (rc = cn_measure_net_copy(&w->copy, net)))
        return cn_error_set(&w->err, rc, "thread %d: cannot copy the network: %s", index + 1, cn_strerror(rc));
    w->c = *shape;
    w->c.net = w->copy ? w->copy : net;
    w->c.B = shape->B < w->count ? shape->B : w->count;
    cn_net_clear_status(w->c.net);
    if ((rc = cn_net_reserve(w->c.net, w->c.B, w->c.K)) && cn_net_status(w->c.net, &w->err)) return rc;
    uint64_t seed = shape->cfg->seed + 0x9E3779B97F4A7C15ull * (uint64_t)index;
    if (rc || (rc = ctx_alloc(&w->c, seed)) ||
        !(w->scratch = cn_malloc((size_t)w->c.B * (w->c.k > 0 ? w->c.k : 1) * 2 * sizeof(double)))) {
        rc = rc ? rc : CN_ERR_NOMEM;
        return cn_error_set(&w->err, rc, "out of memory for a measuring batch of %d inputs", w->c.B);
    }
    return CN_OK;
}

static void worker_run(worker *w, const cn_real *x, progress_state *ps)
{
    ctx *c = &w->c;
    const cn_measure_cfg *cfg = c->cfg;
    int n0 = cn_net_in_size(c->net), end = w->first + w->count, rc = CN_OK;
    for (int start = w->first; start < end && rc == CN_OK; start += c->B) {
        int B = end - start < c->B ? end - start : c->B;
        if (cfg->stop && *cfg->stop) {
            rc = cn_error_set(&w->err, CN_ERR_STOPPED, "measure: stopped by the caller after %d of %d inputs",
                              start - w->first, w->count);
            break;
        }
        const cn_real *xb = x + (size_t)start * n0;
        if ((rc = cn_net_forward(c->net, xb, B, 0))) {
            cn_net_pass_error(c->net, rc, &w->err);
            break;
        }
        measure_activity(c, xb, B);
        if (cfg->probes > 0) measure_sigma(c, B, w->scratch);
        if (c->k > 0 && (rc = measure_lyapunov(c, B, w->scratch, w->scratch + (size_t)c->B * c->k))) {
            cn_error_set(&w->err, rc, "QR failed: the tangents became NaN or Inf (the network's outputs overflow?)");
            break;
        }
        if (cfg->dynamic_range) measure_dynamic_range(c, xb, B);
        progress_add(ps, B);
        rc = cn_net_status(c->net, &w->err);
    }
    w->rc = rc;
}

int cn_measure(cn_net *net, const cn_real *x, int n, const cn_measure_cfg *cfg, cn_measure_result *res,
               cn_error *err)
{
    memset(res, 0, sizeof *res);
    ctx shape = {0};
    shape.net = net;
    shape.cfg = cfg;
    int rc = cn_net_blocks(net, cfg->include_readout, &shape.blocks, &shape.L);
    if (rc) return cn_error_set(err, rc, "out of memory");
    res->blocks = shape.blocks;
    if ((rc = validate(net, cfg, shape.blocks, shape.L, n, err))) {
        cn_measure_result_free(res);
        return rc;
    }
    int n0 = cn_net_in_size(net);
    for (size_t i = 0; i < (size_t)n * n0; i++)
        if (!isfinite(x[i])) {
            cn_measure_result_free(res);
            return cn_error_set(err, CN_ERR_NONFINITE, "input %zu has a NaN or Inf value (feature %zu)", i / n0,
                                i % n0);
        }
    shape.k = cfg->spectrum;
    shape.K = cfg->probes > shape.k ? cfg->probes : shape.k;
    if (shape.K < 1) shape.K = 1;
    shape.B = cfg->batch < n ? cfg->batch : n;
    if (cn_net_batch_limit(net) && shape.B > cn_net_batch_limit(net)) shape.B = cn_net_batch_limit(net);
    shape.widest = (size_t)n0;
    for (int i = 0; i < cn_net_layer_count(net); i++)
        if ((size_t)cn_net_layer_out_size(net, i) > shape.widest) shape.widest = (size_t)cn_net_layer_out_size(net, i);

    int T = worker_count(net, n);
    progress_state ps = {.cfg = cfg, .n = n};
    worker *ws = cn_calloc((size_t)T, sizeof *ws);
    if (!ws || (rc = result_alloc(res, shape.L, shape.k, cfg->dynamic_range ? cfg->dr_points : 0))) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int w = 0; w < T; w++) {
        ws[w].first = (int)((long long)n * w / T);
        ws[w].count = (int)((long long)n * (w + 1) / T) - ws[w].first;
    }
    for (int w = 0; w < T; w++)
        if ((rc = worker_prepare(&ws[w], w, net, &shape))) {
            if (err) *err = ws[w].err;
            goto done;
        }
    if (T == 1) {
        worker_run(&ws[0], x, &ps);
    } else {
        /* one BLAS thread per worker: its GEMMs are too small to split (issue 17), and OpenBLAS's threads
         * beside T workers would oversubscribe the cores */
        int blas_threads = openblas_get_num_threads();
        openblas_set_num_threads(1);
#ifdef _OPENMP
#pragma omp parallel for schedule(static, 1) num_threads(T)
#endif
        for (int w = 0; w < T; w++) worker_run(&ws[w], x, &ps);
        openblas_set_num_threads(blas_threads);
    }
    for (int w = 0; w < T; w++)
        if ((rc = ws[w].rc)) {
            if (err) *err = ws[w].err;
            goto done;
        }
    for (int w = 1; w < T; w++) ctx_merge(&ws[0].c, &ws[w].c);
    fill_result(&ws[0].c, res, n);
    if (cfg->dynamic_range) {
        res->dr_n = cfg->dr_points;
        for (int i = 0; i < cfg->dr_points; i++) {
            res->dr_s[i] = dr_stimulus_value(cfg, i);
            res->dr_F[i] = ws[0].c.dr_sum[i] / n;
        }
        res->has_dr = cn_dynamic_range(&res->dr, res->dr_s, res->dr_F, res->dr_n) == CN_OK;
    }
done:
    for (int w = 0; ws && w < T; w++) {
        cn_free(ws[w].scratch);
        ctx_free(&ws[w].c); /* its blocks are res's */
        cn_net_free(ws[w].copy);
    }
    cn_free(ws);
    if (rc) cn_measure_result_free(res);
    return rc;
}
