/* robustness.c: accuracy of a network (eval mode) under input perturbations: Gaussian noise, and the L-inf
 * attacks FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018) on the cross-entropy loss, their input
 * gradients taken from cn_net_backward. The parameters are only read; the parameter gradients that the
 * backward passes accumulate as a side effect are zeroed again before returning. */
#include <math.h>
#include <string.h>
#include "critnet.h"

void cn_robust_defaults(cn_robust_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 100;
    cfg->steps = 10;
    cfg->step_scale = 2.5;
    cfg->random_start = 1;
    cfg->clip = 1;
    cfg->lo = 0;
    cfg->hi = 1;
}

/* work buffers for one batch */
typedef struct {
    cn_real *xp;      /* (B, in) the perturbed inputs */
    cn_real *dx;      /* (B, in) d loss / d input */
    cn_real *dlogits; /* (B, classes) */
    unsigned char *fooled; /* (B) PGD: the attack already found a misclassified point */
} work;

static void work_free(work *w)
{
    cn_free(w->xp);
    cn_free(w->dx);
    cn_free(w->dlogits);
    cn_free(w->fooled);
    memset(w, 0, sizeof *w);
}

static int work_alloc(work *w, int batch, int in, int classes)
{
    memset(w, 0, sizeof *w);
    w->xp = cn_malloc((size_t)batch * in * sizeof(cn_real));
    w->dx = cn_malloc((size_t)batch * in * sizeof(cn_real));
    w->dlogits = cn_malloc((size_t)batch * classes * sizeof(cn_real));
    w->fooled = cn_malloc((size_t)batch);
    if (!w->xp || !w->dx || !w->dlogits || !w->fooled) {
        work_free(w);
        return CN_ERR_NOMEM;
    }
    return CN_OK;
}

static int argmax(const cn_real *v, int n) /* the first maximum, as cn_loss counts hits */
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

static cn_real sign(cn_real g) { return g > 0 ? (cn_real)1 : g < 0 ? (cn_real)-1 : (cn_real)0; }

static cn_real clamp(cn_real v, cn_real lo, cn_real hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Checks shared by every entry point; fills *cfg_out with the defaults where cfg is NULL. */
typedef enum { NOISE, FGSM, PGD } perturbation;
static const char *const perturbation_names[] = {"noise standard deviation", "FGSM eps", "PGD eps"};

static int check_args(cn_robust_cfg *cfg_out, const cn_robust_cfg *cfg, const cn_net *net, double size,
                      const char *what, cn_error *err)
{
    if (cfg) *cfg_out = *cfg;
    else cn_robust_defaults(cfg_out);
    if (!net) return cn_error_set(err, CN_ERR_ARG, "no network");
    /* the attacks need input gradients, which an imported model does not have */
    if (cn_net_inference_only(net) && strcmp(what, perturbation_names[NOISE]) != 0)
        return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s needs gradients; an imported ONNX model runs forward and jvp only",
                            what);
    if (!(size >= 0) || !isfinite(size))
        return cn_error_set(err, CN_ERR_ARG, "%s %g: must be a finite number >= 0", what, size);
    if (cfg_out->batch < 1) return cn_error_set(err, CN_ERR_ARG, "batch %d: must be >= 1", cfg_out->batch);
    if (cfg_out->steps < 1) return cn_error_set(err, CN_ERR_ARG, "PGD steps %d: must be >= 1", cfg_out->steps);
    if (!(cfg_out->step_scale >= 0) || !isfinite(cfg_out->step_scale))
        return cn_error_set(err, CN_ERR_ARG, "PGD step scale %g: must be a finite number >= 0", cfg_out->step_scale);
    if (cfg_out->clip && !(cfg_out->lo <= cfg_out->hi))
        return cn_error_set(err, CN_ERR_ARG, "clip range [%g, %g] is empty", cfg_out->lo, cfg_out->hi);
    return CN_OK;
}

/* Inputs must be finite. Clipping inputs that start outside the range would move them even at size 0, and
 * the "clean" accuracy would no longer be the clean one: such data must be attacked with clipping off. */
static int check_inputs(const cn_robust_cfg *cfg, const cn_real *x, int count, int in, cn_error *err)
{
    for (size_t i = 0; i < (size_t)count * in; i++)
        if (!isfinite(x[i]))
            return cn_error_set(err, CN_ERR_NONFINITE, "input %zu has a non-finite value at feature %zu", i / in,
                                i % in);
    if (!cfg->clip) return CN_OK;
    for (size_t i = 0; i < (size_t)count * in; i++)
        if (!(x[i] >= cfg->lo && x[i] <= cfg->hi))
            return cn_error_set(err, CN_ERR_ARG,
                                "input %g (example %zu, feature %zu) lies outside the clip range [%g, %g]; turn "
                                "clipping off for such data",
                                (double)x[i], i / in, i % in, cfg->lo, cfg->hi);
    return CN_OK;
}

static int check_batch(const cn_net *net, const cn_real *x, const int32_t *y, int batch, cn_error *err)
{
    if (!x || !y || batch < 1) return cn_error_set(err, CN_ERR_ARG, "batch of %d examples: needs x and labels", batch);
    int classes = cn_net_out_size(net);
    for (int i = 0; i < batch; i++)
        if (y[i] < 0 || y[i] >= classes)
            return cn_error_set(err, CN_ERR_ARG, "label %d of example %d is outside 0..%d", (int)y[i], i, classes - 1);
    return CN_OK;
}

/* x (B,in) -> xp (B,in): x + std z, z ~ N(0,1), clipped. */
static void noise_batch(cn_real *xp, const cn_real *x, size_t n, double std, const cn_robust_cfg *cfg, cn_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        cn_real v = (cn_real)(x[i] + std * cn_rng_normal(rng));
        xp[i] = cfg->clip ? clamp(v, (cn_real)cfg->lo, (cn_real)cfg->hi) : v;
    }
}

/* Input gradient of the mean cross-entropy at xp (B,in) -> w->dx; the logits of xp stay in the net's output. */
static void input_grad(cn_net *net, work *w, const cn_real *xp, const int32_t *y, int B)
{
    cn_net_forward(net, xp, B, 0);
    cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(net), y, B, cn_net_out_size(net), w->dlogits, NULL);
    cn_net_backward(net, w->dlogits, w->dx, B);
}

/* x (B,in), y (B) -> w->xp: x + eps sign(d loss / dx), clipped. */
static void fgsm_batch(cn_net *net, work *w, const cn_real *x, const int32_t *y, int B, double eps,
                       const cn_robust_cfg *cfg)
{
    size_t n = (size_t)B * cn_net_in_size(net);
    input_grad(net, w, x, y, B);
    for (size_t i = 0; i < n; i++) {
        cn_real v = (cn_real)(x[i] + eps * sign(w->dx[i]));
        w->xp[i] = cfg->clip ? clamp(v, (cn_real)cfg->lo, (cn_real)cfg->hi) : v;
    }
}

/* Marks the examples whose current logits are wrong. */
static void mark_fooled(cn_net *net, work *w, const int32_t *y, int B)
{
    int classes = cn_net_out_size(net);
    const cn_real *z = cn_net_output(net);
    for (int b = 0; b < B; b++)
        if (argmax(z + (size_t)b * classes, classes) != y[b]) w->fooled[b] = 1;
}

/* x (B,in), y (B) -> w->xp, and the number of examples for which no point the attack visited (x itself, the
 * random start, every iterate) was misclassified. An example stays at the first misclassified point found:
 * the attack only has to find one, and stopping there keeps it from walking back out of the wrong class. */
static int pgd_batch(cn_net *net, work *w, const cn_real *x, const int32_t *y, int B, double eps,
                     const cn_robust_cfg *cfg, cn_rng *rng)
{
    int in = cn_net_in_size(net), classes = cn_net_out_size(net);
    size_t n = (size_t)B * in;
    double alpha = cfg->step_scale * eps / cfg->steps;
    cn_real lo = (cn_real)cfg->lo, hi = (cn_real)cfg->hi;
    memset(w->fooled, 0, (size_t)B);
    cn_net_forward(net, x, B, 0);
    mark_fooled(net, w, y, B);
    memcpy(w->xp, x, n * sizeof *x);
    if (cfg->random_start)
        for (size_t i = 0; i < n; i++) {
            cn_real v = (cn_real)(x[i] + eps * (2 * cn_rng_uniform(rng) - 1)); /* drawn for all: same stream */
            if (!w->fooled[i / in]) w->xp[i] = cfg->clip ? clamp(v, lo, hi) : v;
        }
    for (int t = 0; t < cfg->steps; t++) {
        input_grad(net, w, w->xp, y, B);
        mark_fooled(net, w, y, B);
        for (int b = 0; b < B; b++) {
            if (w->fooled[b]) continue;
            for (size_t i = (size_t)b * in; i < (size_t)(b + 1) * in; i++) {
                cn_real v = (cn_real)(w->xp[i] + alpha * sign(w->dx[i]));
                /* project onto the eps-ball around x, then into the data range */
                v = clamp(v, (cn_real)(x[i] - eps), (cn_real)(x[i] + eps));
                w->xp[i] = cfg->clip ? clamp(v, lo, hi) : v;
            }
        }
    }
    cn_net_forward(net, w->xp, B, 0);
    const cn_real *z = cn_net_output(net);
    int robust = 0;
    for (int b = 0; b < B; b++) robust += !w->fooled[b] && argmax(z + (size_t)b * classes, classes) == y[b];
    return robust;
}


/* The three dataset-level entry points differ only in what they do to a batch. */
static int accuracy_under(perturbation kind, cn_net *net, const cn_dataset *d, int limit, double size,
                          const cn_robust_cfg *cfg_in, double *acc, cn_error *err)
{
    cn_robust_cfg cfg;
    int rc = check_args(&cfg, cfg_in, net, size, perturbation_names[kind], err);
    if (rc) return rc;
    if (!d || !acc) return cn_error_set(err, CN_ERR_ARG, "no data set or no place for the accuracy");
    int in = cn_net_in_size(net), classes = cn_net_out_size(net);
    if (in != d->c * d->h * d->w)
        return cn_error_set(err, CN_ERR_ARG, "the model takes %d inputs, the data has %d per example", in,
                            d->c * d->h * d->w);
    if (classes < d->classes)
        return cn_error_set(err, CN_ERR_ARG, "the model has %d outputs, the data %d classes", classes, d->classes);
    int n = limit > 0 && limit < d->count ? limit : d->count;
    if (n < 1) return cn_error_set(err, CN_ERR_ARG, "the data set has no examples");
    if ((rc = check_inputs(&cfg, d->x, n, in, err))) return rc;
    if ((rc = check_batch(net, d->x, d->y, n, err))) return rc;
    int batch = cfg.batch < n ? cfg.batch : n;
    if ((rc = cn_net_reserve(net, batch, 1))) return cn_error_set(err, rc, "out of memory reserving a batch of %d", batch);
    work w;
    if (work_alloc(&w, batch, in, classes)) return cn_error_set(err, CN_ERR_NOMEM, "out of memory for a batch of %d", batch);
    cn_rng *rng = cn_rng_new(cfg.seed);
    if (!rng) {
        work_free(&w);
        return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    }
    long hits = 0;
    for (int start = 0; start < n; start += batch) {
        int B = n - start < batch ? n - start : batch, correct = 0;
        const cn_real *x = d->x + (size_t)start * in;
        const int32_t *y = d->y + start;
        if (kind == PGD) {
            hits += pgd_batch(net, &w, x, y, B, size, &cfg, rng);
            continue;
        }
        if (kind == NOISE) noise_batch(w.xp, x, (size_t)B * in, size, &cfg, rng);
        else fgsm_batch(net, &w, x, y, B, size, &cfg);
        cn_net_forward(net, w.xp, B, 0);
        cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(net), y, B, classes, NULL, &correct);
        hits += correct;
    }
    if (kind != NOISE) cn_net_zero_grad(net);
    cn_rng_free(rng);
    work_free(&w);
    *acc = (double)hits / n;
    return CN_OK;
}

int cn_robustness_noise(cn_net *net, const cn_dataset *d, int limit, double std, const cn_robust_cfg *cfg,
                        double *acc, cn_error *err)
{
    return accuracy_under(NOISE, net, d, limit, std, cfg, acc, err);
}

int cn_attack_fgsm(cn_net *net, const cn_dataset *d, int limit, double eps, const cn_robust_cfg *cfg, double *acc,
                   cn_error *err)
{
    return accuracy_under(FGSM, net, d, limit, eps, cfg, acc, err);
}

int cn_attack_pgd(cn_net *net, const cn_dataset *d, int limit, double eps, const cn_robust_cfg *cfg, double *acc,
                  cn_error *err)
{
    return accuracy_under(PGD, net, d, limit, eps, cfg, acc, err);
}

/* The batch-level attacks: the adversarial examples themselves, for callers and tests that look at them. */
static int attack_batch(perturbation kind, cn_net *net, cn_real *xadv, const cn_real *x, const int32_t *y, int B,
                        double eps, const cn_robust_cfg *cfg_in, cn_rng *rng, cn_error *err)
{
    cn_robust_cfg cfg;
    int rc = check_args(&cfg, cfg_in, net, eps, perturbation_names[kind], err);
    if (rc) return rc;
    if (!xadv) return cn_error_set(err, CN_ERR_ARG, "no output buffer");
    if ((rc = check_batch(net, x, y, B, err))) return rc;
    if (kind == PGD && cfg.random_start && !rng) return cn_error_set(err, CN_ERR_ARG, "PGD random start needs an rng");
    int in = cn_net_in_size(net);
    if ((rc = check_inputs(&cfg, x, B, in, err))) return rc;
    if ((rc = cn_net_reserve(net, B, 1))) return cn_error_set(err, rc, "out of memory reserving a batch of %d", B);
    work w;
    if (work_alloc(&w, B, in, cn_net_out_size(net)))
        return cn_error_set(err, CN_ERR_NOMEM, "out of memory for a batch of %d", B);
    if (kind == PGD) pgd_batch(net, &w, x, y, B, eps, &cfg, rng);
    else fgsm_batch(net, &w, x, y, B, eps, &cfg);
    memcpy(xadv, w.xp, (size_t)B * in * sizeof *xadv);
    cn_net_zero_grad(net);
    work_free(&w);
    return CN_OK;
}

int cn_attack_fgsm_batch(cn_net *net, cn_real *xadv, const cn_real *x, const int32_t *y, int batch, double eps,
                         const cn_robust_cfg *cfg, cn_error *err)
{
    return attack_batch(FGSM, net, xadv, x, y, batch, eps, cfg, NULL, err);
}

int cn_attack_pgd_batch(cn_net *net, cn_real *xadv, const cn_real *x, const int32_t *y, int batch, double eps,
                        const cn_robust_cfg *cfg, cn_rng *rng, cn_error *err)
{
    return attack_batch(PGD, net, xadv, x, y, batch, eps, cfg, rng, err);
}
