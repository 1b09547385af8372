/* phase.c: one point of the phase diagram of random networks: build the architecture, draw Gaussian weights
 * at (sigma_w, sigma_b), and measure sigma, lambda_0, Delta and the correlation length beside the mean-field
 * prediction. `critnet phase` runs it over a grid. */
#include <math.h>
#include <string.h>
#include "critnet.h"

void cn_phase_defaults(cn_phase_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->arch.arch = "mlp";
    cfg->arch.width = 256;
    cfg->arch.depth = 20;
    cfg->arch.classes = 10;
    cfg->arch.act = CN_ACT_TANH;
    cfg->arch.norm = "none";
    cfg->arch.in_c = 256; /* an MLP's inputs as wide as its layers */
    cfg->arch.in_h = 1;
    cfg->arch.in_w = 1;
    cfg->sigma_w = 1;
    cfg->samples = 20;
    cfg->draws = 1;
    cfg->input_q = 1;
    cn_measure_defaults(&cfg->m);
    cfg->m.probes = 4;
    cn_corr_defaults(&cfg->corr);
}

static int build(cn_net **net, const cn_phase_cfg *cfg, cn_error *err)
{
    char *spec = NULL;
    int rc = cn_arch_spec(&spec, &cfg->arch, err);
    if (!rc) rc = cn_net_from_spec(net, spec, err);
    cn_free(spec);
    if (rc) return rc;
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = cfg->sigma_w, .sigma_b = cfg->sigma_b};
    cn_rng *rng = cn_rng_new(cfg->seed);
    rc = rng ? cn_net_init(*net, &init, rng) : CN_ERR_NOMEM;
    cn_rng_free(rng);
    if (!rc) return CN_OK;
    cn_net_free(*net);
    *net = NULL;
    return cn_error_set(err, rc, "initialising the network: %s", cn_strerror(rc));
}

/* Gaussian inputs of mean square q, from their own stream (seed + 1), the same at every grid point */
static cn_real *inputs(int n, int dim, double q, uint64_t seed)
{
    cn_real *x = cn_malloc((size_t)n * dim * sizeof *x);
    cn_rng *rng = cn_rng_new(seed);
    if (x && rng)
        for (size_t i = 0; i < (size_t)n * dim; i++) x[i] = (cn_real)(sqrt(q) * cn_rng_normal(rng));
    cn_rng_free(rng);
    if (!rng) {
        cn_free(x);
        return NULL;
    }
    return x;
}

static int mean_field_applies(const cn_arch *a)
{
    return !strcmp(a->arch, "mlp") && (!a->norm || !strcmp(a->norm, "none")) && !(a->dropout > 0);
}

/* One network: measured, its curve F and 1 - c_l added to the pooled sums. */
typedef struct {
    double ln_sigma, ln_sigma_sq, lambda, lambda_sq, sigma_se, lambda_se, q0;
    double abs_ln_block; /* sum over draws of the mean over blocks of |ln sigma_l| */
    double *F, *s;
    int nF, nblocks;
    cn_corr_result corr;
} pool;

static int run_draw(pool *p, const cn_phase_cfg *cfg, uint64_t seed, const cn_real *x, int first, cn_error *err)
{
    cn_phase_cfg one = *cfg;
    one.seed = seed;
    cn_net *net = NULL;
    cn_measure_result mr = {0};
    cn_corr_result cr = {0};
    int rc = build(&net, &one, err);
    if (rc) return rc;
    cn_measure_cfg m = cfg->m;
    m.seed = seed + 2;
    if ((rc = cn_measure(net, x, cfg->samples, &m, &mr, err))) goto done;
    double ls = log(mr.sigma);
    p->ln_sigma += ls, p->ln_sigma_sq += ls * ls;
    p->abs_ln_block += mr.mean_abs_ln_sigma_block;
    p->lambda += mr.lambda_max, p->lambda_sq += mr.lambda_max * mr.lambda_max;
    if (first) {
        p->sigma_se = mr.sigma_se, p->lambda_se = mr.lambda_max_se, p->q0 = mr.activity[0];
        p->nblocks = mr.nblocks;
        p->nF = m.dynamic_range ? mr.dr_n : 0;
        if (p->nF && !(p->F = cn_calloc((size_t)p->nF, sizeof *p->F))) rc = CN_ERR_NOMEM;
        if (p->nF && !rc && !(p->s = cn_calloc((size_t)p->nF, sizeof *p->s))) rc = CN_ERR_NOMEM;
        if (cfg->corr.pairs > 0 && !rc) rc = cn_corr_alloc(&p->corr, mr.nblocks);
        if (rc) {
            rc = cn_error_set(err, rc, "out of memory");
            goto done;
        }
    }
    for (int i = 0; i < p->nF; i++) p->s[i] = mr.dr_s[i], p->F[i] += mr.dr_F[i];
    if (cfg->corr.pairs > 0) {
        cn_corr_cfg cc = cfg->corr;
        cc.seed = seed + 3;
        if ((rc = cn_corr_length(net, x, cfg->corr.pairs, &cc, &cr, err))) goto done;
        for (int l = 0; l <= cr.nblocks; l++) p->corr.omc[l] += cr.omc[l];
    }
done:
    cn_corr_result_free(&cr);
    cn_measure_result_free(&mr);
    cn_net_free(net);
    return rc;
}

/* the standard error over draws, or the single draw's own */
static double se_over(double sum, double sq, int D, double single)
{
    if (D < 2) return single;
    double mean = sum / D, var = (sq - D * mean * mean) / (D - 1);
    return sqrt(var > 0 ? var : 0) / sqrt((double)D);
}

int cn_phase_point_run(cn_phase_point *out, const cn_phase_cfg *cfg, cn_error *err)
{
    memset(out, 0, sizeof *out);
    out->xi = out->xi_se = out->c_star = out->c_last = NAN;
    if (!cfg || cfg->samples < 1 || cfg->corr.pairs < 0 || cfg->draws < 0 || !(cfg->input_q > 0) ||
        !isfinite(cfg->input_q))
        return cn_error_set(err, CN_ERR_ARG, "phase: need samples >= 1, pairs >= 0, draws >= 0 and input_q > 0");
    if (!(cfg->sigma_w >= 0) || !(cfg->sigma_b >= 0) || !isfinite(cfg->sigma_w) || !isfinite(cfg->sigma_b))
        return cn_error_set(err, CN_ERR_ARG, "phase: sigma_w %g, sigma_b %g: must be finite and >= 0", cfg->sigma_w,
                            cfg->sigma_b);
    int D = cfg->draws > 0 ? cfg->draws : 1;
    /* the input size, from the architecture itself */
    cn_net *probe = NULL;
    char *spec = NULL;
    int rc = cn_arch_spec(&spec, &cfg->arch, err);
    if (!rc) rc = cn_net_from_spec(&probe, spec, err);
    cn_free(spec);
    if (rc) return rc;
    int n0 = cn_net_in_size(probe), n = cfg->samples > cfg->corr.pairs ? cfg->samples : cfg->corr.pairs;
    cn_net_free(probe);
    pool p = {0};
    cn_real *x = inputs(n, n0, cfg->input_q, cfg->seed + 1);
    if (!x) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "out of memory for %d inputs", n);
        goto done;
    }
    for (int d = 0; d < D; d++)
        if ((rc = run_draw(&p, cfg, cfg->seed + 1000 * (uint64_t)d, x, d == 0, err))) goto done;
    out->nblocks = p.nblocks;
    out->sigma = exp(p.ln_sigma / D);
    out->sigma_se = D > 1 ? out->sigma * se_over(p.ln_sigma, p.ln_sigma_sq, D, 0) : p.sigma_se;
    out->mean_abs_ln_sigma_block = p.abs_ln_block / D;
    out->lambda0 = p.lambda / D;
    out->lambda0_se = se_over(p.lambda, p.lambda_sq, D, p.lambda_se);
    if (p.nF) {
        for (int i = 0; i < p.nF; i++) p.F[i] /= D;
        out->has_dr = cn_dynamic_range(&out->dr, p.s, p.F, p.nF) == CN_OK;
    }
    /* the length map starts from the inputs' own mean square, as in critnet measure */
    out->has_mf = mean_field_applies(&cfg->arch) &&
                  cn_meanfield_compute(&out->mf, cfg->arch.act, cfg->sigma_w, cfg->sigma_b, p.q0) == CN_OK;
    if (cfg->corr.pairs > 0) {
        /* c* = 1 in the ordered phase, told by the mean field where it applies and by lambda_0 elsewhere; in the
         * chaotic phase c* < 1 is estimated from the deepest blocks */
        double c_star = cfg->corr.c_star;
        int ordered = out->has_mf ? out->mf.chi1 < 1 : out->lambda0 < 0;
        if (!isfinite(c_star)) c_star = ordered ? 1 : NAN;
        for (int l = 0; l <= p.corr.nblocks; l++) p.corr.omc[l] /= D;
        cn_corr_fit(&p.corr, c_star, cfg->corr.skip);
        out->xi = p.corr.xi;
        out->xi_se = p.corr.xi_se;
        out->c_star = p.corr.c_star;
        out->c_last = p.corr.c[p.corr.nblocks];
    }
done:
    cn_corr_result_free(&p.corr);
    cn_free(p.F);
    cn_free(p.s);
    cn_free(x);
    return rc;
}
