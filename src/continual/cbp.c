/* cbp.c: continual backprop's generate-and-test, as the reference implementation that Dohare et al. ran on
 * Online Permuted MNIST defines it: shibhansh/loss-of-plasticity, lop/algos/gnt.py (class GnT, with
 * accumulate=True and util_type 'adaptable_contribution', as lop/permuted_mnist/online_expr.py sets them).
 * Per hidden layer and step, with eta the decay and h the unit's activation on this step's example:
 *     age += 1;  u = eta u;  m = eta m + (1 - eta) h;  m^ = m / (1 - eta^age)
 *     contribution:            new = mean_k |w_out[k,i]| |h_i|
 *     adaptable contribution:  new = mean_k |w_out[k,i]| |h_i - m^_i| / mean_j |w_in[i,j]|
 *     u += (1 - eta) new;  ranked by u / (1 - eta^age)
 * Units with age > maturity are eligible; owed += rate x (eligible count); the whole part of owed is the
 * number replaced, lowest ranked utility first. All layers are tested before any is changed, as in gnt.py,
 * so that one layer's replacements do not move another's utilities within the step.
 * One deliberate difference: gnt.py zeroes the running mean of a chosen unit before its bias correction
 * reads it, so there the correction adds nothing. Here the correction uses the mean before the reset, as
 * the paper describes; bias_correction = 0 reproduces gnt.py. */
#include <math.h>
#include <string.h>
#include "continual/cbp.h"
#include "continual/mlp.h"
#include "net/net_internal.h"

static void free_layer(cn_cbp_layer *l)
{
    cn_free(l->util);
    cn_free(l->mean_act);
    cn_free(l->age);
    cn_free(l->corrected);
    cn_free(l->in_mag);
    cn_free(l->out_mag);
    cn_free(l->sel);
    cn_free(l->sel_mean);
    cn_free(l->taken);
}

void cn_cbp_free(cn_cbp *c)
{
    if (!c) return;
    for (int l = 0; c->layers && l < c->L; l++) free_layer(&c->layers[l]);
    cn_free(c->layers);
    cn_free(c);
}

int cn_cbp_new(cn_cbp **out, cn_net *net, const cn_cbp_cfg *cfg, cn_error *err)
{
    *out = NULL;
    if (!(cfg->replacement_rate >= 0 && cfg->replacement_rate <= 1))
        return cn_error_set(err, CN_ERR_ARG, "replacement rate %g: must be in [0, 1]", cfg->replacement_rate);
    if (!(cfg->decay >= 0 && cfg->decay < 1))
        return cn_error_set(err, CN_ERR_ARG, "utility decay %g: must be in [0, 1)", cfg->decay);
    if (cfg->maturity < 0) return cn_error_set(err, CN_ERR_ARG, "maturity %d: must be >= 0", cfg->maturity);
    if ((unsigned)cfg->utility >= CN_CBP_UTILITY_COUNT)
        return cn_error_set(err, CN_ERR_ARG, "unknown utility %d", (int)cfg->utility);
    int dense[256];
    int nd = cl_mlp_dense(net, dense, 256);
    if (nd < 2)
        return cn_error_set(err, CN_ERR_UNSUPPORTED,
                            "continual backprop needs an MLP of dense layers with at least one hidden layer");
    for (int d = 0; d < nd - 1; d++)
        if (net->chain.layers[dense[d]]->act != CN_ACT_RELU || net->chain.layers[dense[d]]->nbias == 0)
            return cn_error_set(err, CN_ERR_UNSUPPORTED, "continual backprop: hidden layer %d is not a dense ReLU "
                                                         "layer with a bias", d + 1);
    cn_cbp *c = cn_calloc(1, sizeof *c);
    if (!c) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    c->net = net;
    c->cfg = *cfg;
    c->L = nd - 1;
    /* eta^age <= 2^-60 for age >= 60 ln 2 / -ln eta (eta = 0: from the first update on) */
    c->exact_one_after = cfg->decay > 0 ? (int64_t)ceil(60 * log(2.0) / -log(cfg->decay)) : 0;
    c->layers = cn_calloc((size_t)c->L, sizeof *c->layers);
    if (!c->layers) goto nomem;
    for (int l = 0; l < c->L; l++) {
        cn_cbp_layer *y = &c->layers[l];
        y->layer = dense[l];
        y->next = dense[l + 1];
        y->n = cn_net_layer_out_size(net, dense[l]);
        y->fan_in = cn_shape_size(net->chain.layers[dense[l]]->in);
        y->n_next = cn_net_layer_out_size(net, dense[l + 1]);
        y->bound = sqrt(6.0 / y->fan_in); /* gnt.py compute_bounds, init 'kaiming': gain(relu) sqrt(3 / fan_in) */
        size_t n = (size_t)y->n;
        y->util = cn_calloc(n, sizeof *y->util);
        y->mean_act = cn_calloc(n, sizeof *y->mean_act);
        y->age = cn_calloc(n, sizeof *y->age);
        y->corrected = cn_calloc(n, sizeof *y->corrected);
        y->in_mag = cn_calloc(n, sizeof *y->in_mag);
        y->out_mag = cn_calloc(n, sizeof *y->out_mag);
        y->sel = cn_calloc(n, sizeof *y->sel);
        y->sel_mean = cn_calloc(n, sizeof *y->sel_mean);
        y->taken = cn_calloc(n, 1);
        if (!y->util || !y->mean_act || !y->age || !y->corrected || !y->in_mag || !y->out_mag || !y->sel ||
            !y->sel_mean || !y->taken)
            goto nomem;
    }
    *out = c;
    return CN_OK;
nomem:
    cn_cbp_free(c);
    return cn_error_set(err, CN_ERR_NOMEM, "out of memory for continual backprop");
}

/* Adam-style bias correction of a running average after `age` updates, 1 - eta^age. Past the age where
 * eta^age <= 2^-60 it is exactly 1 in double, so pow, a third of a step's cost at width 100, is skipped
 * there without changing a bit. */
static double bias_correction(const cn_cbp *c, int64_t age)
{
    return age > c->exact_one_after ? 1.0 : 1 - pow(c->cfg.decay, (double)age);
}

/* Updates one layer's ages, means and utilities and chooses the units to replace. */
static void test_layer(cn_cbp *c, cn_cbp_layer *y)
{
    const cn_layer *L = c->net->chain.layers[y->layer], *N = c->net->chain.layers[y->next];
    const cn_real *h = c->net->chain.outs[y->layer], *W = L->p, *Wn = N->p;
    const double eta = c->cfg.decay;
    const int n = y->n, adaptable = c->cfg.utility == CN_CBP_ADAPTABLE_CONTRIBUTION;
    /* mean |w_out[k,i]| over the next layer's rows k, and mean |w_in[i,j]| over the unit's inputs j */
    /* these two passes read every weight of the layer and the next each step: vectorised (the row sums by
     * an omp simd reduction, whose order is fixed for a given build) */
    double *restrict out_mag = y->out_mag;
    memset(out_mag, 0, (size_t)n * sizeof *out_mag);
    for (int k = 0; k < y->n_next; k++) {
        const cn_real *restrict row = Wn + (size_t)k * n;
#pragma omp simd
        for (int i = 0; i < n; i++) out_mag[i] += fabs((double)row[i]);
    }
    for (int i = 0; i < n; i++) {
        out_mag[i] /= y->n_next;
        if (!adaptable) continue;
        const cn_real *restrict row = W + (size_t)i * y->fan_in;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < y->fan_in; j++) s += fabs((double)row[j]);
        y->in_mag[i] = s / y->fan_in;
    }
    int eligible = 0;
    for (int i = 0; i < n; i++) {
        y->age[i]++;
        y->util[i] *= eta;
        y->mean_act[i] = eta * y->mean_act[i] + (1 - eta) * h[i];
        const double bc = bias_correction(c, y->age[i]), mhat = y->mean_act[i] / bc;
        double fresh;
        if (adaptable) /* a unit with all-zero incoming weights: no utility rather than 0/0 */
            fresh = y->in_mag[i] > 0 ? y->out_mag[i] * fabs(h[i] - mhat) / y->in_mag[i] : 0;
        else
            fresh = y->out_mag[i] * fabs((double)h[i]);
        y->util[i] += (1 - eta) * fresh;
        y->corrected[i] = y->util[i] / bc;
        eligible += y->age[i] > c->cfg.maturity;
    }
    y->nsel = 0;
    if (!eligible) return;
    y->accumulated += c->cfg.replacement_rate * eligible;
    int k = (int)y->accumulated;
    y->accumulated -= k;
    if (k > eligible) k = eligible;
    /* the k eligible units of lowest corrected utility, lowest first; ties go to the lower index */
    memset(y->taken, 0, (size_t)n);
    for (int s = 0; s < k; s++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (y->age[i] > c->cfg.maturity && !y->taken[i] && (best < 0 || y->corrected[i] < y->corrected[best]))
                best = i;
        y->taken[best] = 1;
        y->sel[s] = best;
        y->sel_mean[s] = y->mean_act[best] / bias_correction(c, y->age[best]);
        y->util[best] = 0;
        y->mean_act[best] = 0;
    }
    y->nsel = k;
}

/* Zeroes the optimizer state (every slot of nparams values, e.g. Adam's m and v) at count params from p. */
static void zero_state(cn_optim *opt, const cn_net *net, const cn_real *p, size_t count, size_t stride)
{
    if (!opt || !net->nparams) return;
    size_t slots = cn_optim_state_count(opt) / net->nparams, off = (size_t)(p - net->params);
    for (size_t s = 0; s < slots; s++) {
        cn_real *st = cn_optim_state(opt) + s * net->nparams + off;
        for (size_t i = 0; i < count; i++) st[i * stride] = 0;
    }
}

static long generate_layer(cn_cbp *c, cn_cbp_layer *y, cn_optim *opt, cn_rng *rng)
{
    cn_layer *L = c->net->chain.layers[y->layer], *N = c->net->chain.layers[y->next];
    const int n = y->n, fan_in = y->fan_in;
    cn_real *W = L->p, *b = L->p + (size_t)n * fan_in, *Wn = N->p, *bn = N->p + (size_t)y->n_next * n;
    for (int s = 0; s < y->nsel; s++) {
        const int i = y->sel[s];
        cn_real *row = W + (size_t)i * fan_in;
        for (int j = 0; j < fan_in; j++) row[j] = (cn_real)((2 * cn_rng_uniform(rng) - 1) * y->bound);
        b[i] = 0;
        if (c->cfg.bias_correction)
            for (int k = 0; k < y->n_next; k++) bn[k] += (cn_real)(Wn[(size_t)k * n + i] * y->sel_mean[s]);
        for (int k = 0; k < y->n_next; k++) Wn[(size_t)k * n + i] = 0;
        y->age[i] = 0;
        zero_state(opt, c->net, row, (size_t)fan_in, 1);
        zero_state(opt, c->net, b + i, 1, 1);
        zero_state(opt, c->net, Wn + i, (size_t)y->n_next, (size_t)n);
    }
    return y->nsel;
}

long cn_cbp_step(cn_cbp *c, cn_optim *opt, cn_rng *rng)
{
    /* gnt.py returns before touching anything when the rate is 0: ages and utilities stay put */
    if (c->cfg.replacement_rate == 0) return 0;
    for (int l = 0; l < c->L; l++) test_layer(c, &c->layers[l]);
    long replaced = 0;
    for (int l = 0; l < c->L; l++) replaced += generate_layer(c, &c->layers[l], opt, rng);
    return replaced;
}
