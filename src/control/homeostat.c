/* homeostat.c: a homeostatic controller of criticality, modelled on synaptic scaling (Turrigiano et al. 1998;
 * Turrigiano 2008): a neuron that fires above or below its set point scales all of its synapses by a common
 * factor, slowly, from a time-averaged measure of its activity. Here the set point is sigma_l = 1, the
 * time-averaged measure is a running estimate of ln sigma_l from one jvp probe every few steps, and the common
 * factor multiplies the block's gain parameters. A multiplicative update keeps the ratios among the weights,
 * so what gradient descent has learned in the block's direction of weights is left as it was; only its scale
 * moves. docs/critical-training.md ("Control methods") gives the defaults and the reasons for them. */
#include <math.h>
#include <string.h>
#include "control/homeostat.h"
#include "net/net_internal.h"

#define MAX_LOG_STEP 0.5 /* a factor of at most e^0.5 per observation: a dead block (ln sigma ~ -44) must not
                          * blow its weights up in one step */

void cn_control_defaults(cn_control_settings *s)
{
    *s = (cn_control_settings){.kind = CN_CONTROL_NONE, .every = 10, .rate = 0.5, .band = 0.02, .smoothing = 0.5,
                               .layers_all = 0};
}

void cn_control_free(cn_control *c)
{
    if (!c) return;
    cn_free(c->blocks);
    cn_free(c->gains);
    cn_free(c->estimate);
    cn_block_probe_free(&c->probe);
    cn_free(c);
}

static int check_settings(const cn_control_settings *s, cn_error *err)
{
    if (s->kind != CN_CONTROL_HOMEOSTATIC)
        return cn_error_set(err, CN_ERR_ARG, "control: unknown kind %d", (int)s->kind);
    if (s->every < 1) return cn_error_set(err, CN_ERR_ARG, "--control-every %d: must be >= 1", s->every);
    if (!(s->rate > 0 && s->rate <= 1))
        return cn_error_set(err, CN_ERR_ARG, "--control-rate %g: must be in (0, 1]", s->rate);
    if (!(s->band >= 0 && s->band < 10))
        return cn_error_set(err, CN_ERR_ARG, "--control-band %g: must be in [0, 10)", s->band);
    if (!(s->smoothing > 0 && s->smoothing <= 1))
        return cn_error_set(err, CN_ERR_ARG, "control smoothing %g: must be in (0, 1]", s->smoothing);
    return CN_OK;
}

int cn_control_new(cn_control **out, cn_net *net, const cn_control_settings *s, int max_batch, cn_error *err)
{
    *out = NULL;
    int rc = check_settings(s, err);
    if (rc) return rc;
    cn_control *c = cn_calloc(1, sizeof *c);
    if (!c) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    c->s = *s;
    c->net = net;
    if ((rc = cn_net_blocks(net, s->layers_all, &c->blocks, &c->L))) goto fail;
    c->gains = cn_calloc((size_t)c->L + 1, sizeof *c->gains);
    c->estimate = cn_calloc((size_t)c->L + 1, sizeof *c->estimate);
    if (!c->gains || !c->estimate || (rc = cn_block_probe_init(&c->probe, net, max_batch, 1))) {
        rc = CN_ERR_NOMEM;
        goto fail;
    }
    for (int l = 0; l < c->L && !rc; l++) rc = cn_block_gain_find(net, &c->blocks[l], &c->gains[l]);
    if (rc) goto fail;
    *out = c;
    return CN_OK;
fail:
    cn_control_free(c);
    return cn_error_set(err, rc ? rc : CN_ERR_NOMEM, "--control homeostatic: out of memory");
}

int cn_control_step(cn_control *c, cn_rng *rng, int B, long step, cn_error *err)
{
    if (step % c->s.every) return CN_OK;
    const double a = c->observations ? c->s.smoothing : 1;
    for (int l = 0; l < c->L; l++) {
        double e;
        int rc = cn_block_ln_sigma(&c->probe, &c->blocks[l], rng, B, &e);
        if (rc) return cn_net_pass_error(c->net, rc, err);
        if (!isfinite(e))
            return cn_error_set(err, CN_ERR_NONFINITE, "--control homeostatic: ln sigma of block %d (%s) is %g",
                                l + 1, c->blocks[l].name, e);
        c->estimate[l] += a * (e - c->estimate[l]);
    }
    c->observations++;
    /* after every block is observed, so that each estimate comes from the same forward pass */
    for (int l = 0; l < c->L; l++) {
        double m = c->estimate[l];
        if (c->gains[l].parts == 0 || fabs(m) <= c->s.band) continue;
        double d = -c->s.rate * m;
        d = d > MAX_LOG_STEP ? MAX_LOG_STEP : d < -MAX_LOG_STEP ? -MAX_LOG_STEP : d;
        cn_block_gain_scale(&c->gains[l], exp(d));
        /* The estimate is left as it was, lagging the correction just made. Moving it by d as well (the change
         * the scaling would make if d ln sigma / d ln gain were 1) was tried first: it stops the lag from
         * overshooting, but tanh blocks have slopes well below 1 once their neighbours are rescaled too, and the
         * estimate then ran ahead of sigma. In tests/test_control_homeostat.c the ordered net took 120 steps
         * instead of 60 to get below 0.05, and the chaotic one rose back to 0.069 after step 120 (0.033 with
         * the lag). experiments/control/loop_sim.py shows the same in one dimension. */
    }
    return CN_OK;
}

int cn_control_blocks(const cn_control *c) { return c->L; }
const double *cn_control_estimates(const cn_control *c) { return c->estimate; }
long cn_control_observations(const cn_control *c) { return c->observations; }

double cn_control_mean_abs(const cn_control *c)
{
    if (!c->observations || c->L < 1) return NAN;
    double s = 0;
    for (int l = 0; l < c->L; l++) s += fabs(c->estimate[l]);
    return s / c->L;
}
