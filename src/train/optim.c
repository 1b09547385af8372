/* optim.c: SGD (momentum, nesterov, weight decay), Adam and AdamW with PyTorch's update rules, and the
 * learning-rate schedules. State lives in one flat buffer with the parameters' layout. */
#include <math.h>
#include "critnet.h"

struct cn_optim {
    cn_optim_cfg cfg;
    size_t n;
    long t;          /* steps taken: Adam's bias correction */
    size_t nstate;
    cn_real *state;  /* sgd: momentum buffer (n); adam: m (n) then v (n) */
};

int cn_optim_new(cn_optim **out, const cn_optim_cfg *cfg, size_t nparams)
{
    *out = NULL;
    if ((unsigned)cfg->kind >= CN_OPT_COUNT || !(cfg->lr >= 0) || !(cfg->momentum >= 0) || cfg->momentum >= 1 ||
        !(cfg->weight_decay >= 0))
        return CN_ERR_ARG;
    if (cfg->kind != CN_OPT_SGD && (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1)))
        return CN_ERR_ARG;
    cn_optim *o = cn_calloc(1, sizeof *o);
    if (!o) return CN_ERR_NOMEM;
    o->cfg = *cfg;
    o->n = nparams;
    o->nstate = cfg->kind == CN_OPT_SGD ? (cfg->momentum > 0 ? nparams : 0) : 2 * nparams;
    o->state = cn_calloc(o->nstate ? o->nstate : 1, sizeof *o->state);
    if (!o->state) {
        cn_free(o);
        return CN_ERR_NOMEM;
    }
    *out = o;
    return CN_OK;
}

void cn_optim_free(cn_optim *o)
{
    if (!o) return;
    cn_free(o->state);
    cn_free(o);
}

size_t cn_optim_state_count(const cn_optim *o) { return o->nstate; }
cn_real *cn_optim_state(cn_optim *o) { return o->state; }
long cn_optim_steps(const cn_optim *o) { return o->t; }
void cn_optim_set_steps(cn_optim *o, long t) { o->t = t; }

static void sgd_step(cn_optim *o, cn_real *restrict p, const cn_real *restrict g, double lr)
{
    const cn_real wd = (cn_real)o->cfg.weight_decay, mom = (cn_real)o->cfg.momentum, lrf = (cn_real)lr;
    cn_real *restrict buf = o->state;
    long n = (long)o->n;
    int nesterov = o->cfg.nesterov, first = o->t == 0;
    /* One thread and no branches in the loop: it is memory-bound, so a second thread gains little, and an
     * OpenMP team here fights OpenBLAS's spinning pthreads for the cores (12 ms instead of 0.1 ms per step
     * at 2 threads, bench/run_train_mlp.sh). `omp simd` vectorises it at -O2, whose cost model would not. */
    if (mom > 0 && !nesterov && !first) {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            cn_real b = mom * buf[i] + (g[i] + wd * p[i]);
            buf[i] = b;
            p[i] -= lrf * b;
        }
        return;
    }
    /* torch starts the momentum buffer at the first gradient: buf = g, not mom*0 + g (the same number) */
    for (long i = 0; i < n; i++) {
        cn_real d = g[i] + wd * p[i];
        if (mom > 0) {
            buf[i] = first ? d : mom * buf[i] + d;
            d = nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lrf * d;
    }
}

/* sqrt in the engine's precision: sqrtf rounds exactly as (float)sqrt((double)v) does (a double's 53 bits
 * leave no double rounding for a square root), and with -fno-math-errno on this file (CMakeLists.txt) it
 * vectorises. */
#ifdef CRITNET_DOUBLE
#define real_sqrt sqrt
#else
#define real_sqrt sqrtf
#endif

/* The moments and the update of element i from its gradient d (weight decay already folded in). */
#define ADAM_UPDATE(i, d)                                                                                           \
    do {                                                                                                            \
        m[i] = b1f * m[i] + (cn_real)(1 - b1) * (d); /* 1 - beta in double, as torch: 1 - 0.999f is off by 5e-5 */ \
        v[i] = b2f * v[i] + (cn_real)(1 - b2) * (d) * (d);                                                         \
        p[i] -= step * m[i] / (real_sqrt(v[i]) / sqrt_bc2 + eps);                                                   \
    } while (0)

static void adam_step(cn_optim *o, cn_real *restrict p, const cn_real *restrict g, double lr)
{
    const double b1 = o->cfg.beta1, b2 = o->cfg.beta2, t = (double)o->t + 1;
    const cn_real bc1 = (cn_real)(1 - pow(b1, t)), sqrt_bc2 = (cn_real)sqrt(1 - pow(b2, t));
    const cn_real step = (cn_real)lr / bc1, eps = (cn_real)o->cfg.eps, wd = (cn_real)o->cfg.weight_decay;
    const cn_real b1f = (cn_real)b1, b2f = (cn_real)b2, decay = (cn_real)(1 - lr * o->cfg.weight_decay);
    cn_real *restrict m = o->state, *restrict v = o->state + o->n;
    long n = (long)o->n;
    /* one loop per kind: a branch inside would keep the loop from vectorising, and the Adam step of a
     * batch-1 continual run was 80% of its time scalar */
    if (o->cfg.kind == CN_OPT_ADAMW) {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            p[i] *= decay;
            ADAM_UPDATE(i, g[i]);
        }
    } else {
#pragma omp simd
        for (long i = 0; i < n; i++) {
            const cn_real d = g[i] + wd * p[i];
            ADAM_UPDATE(i, d);
        }
    }
}

void cn_optim_step(cn_optim *o, cn_real *params, const cn_real *grads, double lr)
{
    if (o->cfg.kind == CN_OPT_SGD) sgd_step(o, params, grads, lr);
    else adam_step(o, params, grads, lr);
    o->t++;
}

double cn_sched_lr(const cn_optim_cfg *cfg, int epoch)
{
    switch (cfg->sched) {
    case CN_SCHED_STEP: {
        int every = cfg->step_size > 0 ? cfg->step_size : 1;
        return cfg->lr * pow(cfg->gamma > 0 ? cfg->gamma : 0.1, epoch / every);
    }
    case CN_SCHED_COSINE: {
        int total = cfg->total_epochs > 0 ? cfg->total_epochs : 1;
        return cfg->lr * 0.5 * (1 + cos(3.14159265358979323846 * (double)epoch / total));
    }
    default: return cfg->lr;
    }
}
