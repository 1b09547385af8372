/* critical_init.c: data-dependent critical initialisation, in the manner of LSUV (Mishkin & Matas 2016) but
 * with the Jacobian's gain as the target instead of the activations' variance: block by block, in order, the
 * block's gain parameters are rescaled on a batch of data until sigma_l = 1. In order, because a block's
 * sigma_l depends on the activity that the blocks before it deliver. */
#include <math.h>
#include <string.h>
#include "control/block_gain.h"
#include "control/block_sigma.h"
#include "core/finite.h"
#include "net/net_internal.h"

/* train-mode forwards on the calibration batch at the end, for a net with running statistics: each moves them
 * 10% of the way to the batch's (momentum 0.1), so 64 leave 0.9^64 = 0.1% of the old values */
#define SETTLE_PASSES 64
#define MAX_LOG_STEP 2.0 /* at most a factor e^2 per measurement: a far-off first guess cannot overshoot wildly */

void cn_critical_init_defaults(cn_critical_init_cfg *cfg)
{
    *cfg = (cn_critical_init_cfg){.batch = 128, .probes = 2, .max_iter = 10, .tol = 0.01, .include_readout = 0,
                                  .seed = 0};
}

void cn_critical_init_report_free(cn_critical_init_report *rep)
{
    if (!rep) return;
    cn_free(rep->ln_sigma_before);
    cn_free(rep->ln_sigma_after);
    cn_free(rep->log_gain);
    cn_free(rep->iterations);
    cn_free(rep->status);
    memset(rep, 0, sizeof *rep);
}

static int report_alloc(cn_critical_init_report *rep, int L)
{
    memset(rep, 0, sizeof *rep);
    rep->nblocks = L;
    rep->ln_sigma_before = cn_calloc((size_t)L, sizeof(double));
    rep->ln_sigma_after = cn_calloc((size_t)L, sizeof(double));
    rep->log_gain = cn_calloc((size_t)L, sizeof(double));
    rep->iterations = cn_calloc((size_t)L, sizeof(int));
    rep->status = cn_calloc((size_t)L, sizeof(cn_calib_status));
    return rep->ln_sigma_before && rep->ln_sigma_after && rep->log_gain && rep->iterations && rep->status
               ? CN_OK
               : CN_ERR_NOMEM;
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Measure, rescale, repeat for one block. The slope d ln sigma / d ln gain is 1 for a block that is
 * homogeneous in its gain (ReLU without bias, or a normalisation's scale before one); for tanh and for
 * residual blocks it is less, and the secant of the last two measurements finds it. A block that does not
 * reach tol is put back at the gain of its best measurement, so that chasing an unreachable target (a
 * residual block whose skip alone has gain above 1) cannot leave its branch scaled to nothing. */
static int calibrate_block(cn_net *net, const cn_real *x, int B, const cn_block *blk, const cn_block_gain *g,
                           cn_block_probe *bp, cn_rng *rng, const cn_critical_init_cfg *cfg,
                           cn_critical_init_report *rep, int l, cn_error *err)
{
    double slope = 1, prev = NAN, last_step = 0, log_gain = 0, best = INFINITY, best_gain = 0;
    for (int it = 0; it < cfg->max_iter; it++) {
        double ln_sigma;
        int rc = cn_net_forward(net, x, B, 1);
        if (!rc) rc = cn_block_ln_sigma(bp, blk, rng, B, &ln_sigma);
        if (rc) return cn_net_pass_error(net, rc, err);
        if (it == 0) rep->ln_sigma_before[l] = ln_sigma;
        rep->iterations[l] = it + 1;
        if (fabs(ln_sigma) < fabs(best)) best = ln_sigma, best_gain = log_gain;
        if (fabs(ln_sigma) < cfg->tol || g->parts == 0) {
            rep->status[l] = fabs(ln_sigma) < cfg->tol ? CN_CALIB_DONE : CN_CALIB_NO_GAIN;
            rep->ln_sigma_after[l] = ln_sigma;
            rep->log_gain[l] = log_gain;
            return CN_OK;
        }
        if (it == cfg->max_iter - 1) break;
        if (isfinite(prev) && last_step != 0) slope = clamp((ln_sigma - prev) / last_step, 0.05, 2.0);
        double step = clamp(-ln_sigma / slope, -MAX_LOG_STEP, MAX_LOG_STEP);
        cn_block_gain_scale(g, exp(step));
        log_gain += step;
        prev = ln_sigma;
        last_step = step;
    }
    cn_block_gain_scale(g, exp(best_gain - log_gain));
    rep->ln_sigma_after[l] = best;
    rep->log_gain[l] = best_gain;
    rep->status[l] = CN_CALIB_NOT_REACHED;
    rep->not_reached++;
    return CN_OK;
}

int cn_init_critical(cn_net *net, const cn_real *x, int n, const cn_critical_init_cfg *cfg,
                     cn_critical_init_report *rep_out, cn_error *err)
{
    if (n < 1 || cfg->batch < 1 || cfg->probes < 1 || cfg->max_iter < 1 || !(cfg->tol > 0))
        return cn_error_set(err, CN_ERR_ARG,
                            "critical initialisation: need inputs, batch >= 1, probes >= 1, max_iter >= 1 and tol > 0 "
                            "(got %d inputs, batch %d, probes %d, max_iter %d, tol %g)", n, cfg->batch, cfg->probes,
                            cfg->max_iter, cfg->tol);
    const int B = n < cfg->batch ? n : cfg->batch, in = cn_net_in_size(net);
    for (size_t i = 0; i < (size_t)B * in; i++)
        if (!isfinite((double)x[i]))
            return cn_error_set(err, CN_ERR_NONFINITE, "critical initialisation: input %zu holds NaN or Inf",
                                i / (size_t)in);
    cn_block *blocks = NULL;
    int L = 0, rc = cn_net_blocks(net, cfg->include_readout, &blocks, &L);
    if (rc) return cn_error_set(err, rc, "out of memory");
    cn_critical_init_report rep;
    cn_block_probe bp = {0};
    cn_rng *rng = cn_rng_new(cfg->seed);
    if ((rc = report_alloc(&rep, L)) || !rng || (rc = cn_block_probe_init(&bp, net, B, cfg->probes)) ||
        (rc = cn_net_reserve(net, B, cfg->probes))) {
        rc = cn_error_set(err, rc ? rc : CN_ERR_NOMEM, "critical initialisation: out of memory for %d inputs", B);
        goto done;
    }
    for (int l = 0; l < L && !rc; l++) {
        cn_block_gain g;
        if ((rc = cn_block_gain_find(net, &blocks[l], &g))) {
            cn_error_set(err, rc, "critical initialisation: block %d (%s) has no known gain parameters", l + 1,
                         blocks[l].name);
            break;
        }
        rc = calibrate_block(net, x, B, &blocks[l], &g, &bp, rng, cfg, &rep, l, err);
    }
    /* The gains were set in training mode, on batch statistics. Eval mode normalises with the running
     * statistics instead, which the base initialisation left at mean 0 and variance 1: there the calibrated
     * net measured |ln sigma_l| = 1.3 (a CNN with batch norm). Settling them on the calibration batch makes
     * both modes see the same gains. */
    for (int i = 0; i < SETTLE_PASSES && !rc && cn_net_state_count(net); i++)
        if ((rc = cn_net_forward(net, x, B, 1))) cn_net_pass_error(net, rc, err);
    if (!rc) {
        for (int l = 0; l < L; l++) rep.mean_abs_after += fabs(rep.ln_sigma_after[l]) / L;
        if (!cn_all_finite(net->params, net->nparams))
            rc = cn_error_set(err, CN_ERR_NONFINITE, "critical initialisation: a parameter became NaN or Inf");
    }
done:
    cn_free(blocks);
    cn_block_probe_free(&bp);
    cn_rng_free(rng);
    if (rc || !rep_out) cn_critical_init_report_free(&rep);
    else *rep_out = rep;
    return rc;
}
