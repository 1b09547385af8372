/* continual.c: the object of a continual run (Online Permuted MNIST, Dohare et al. 2024): its settings
 * checked, its network, optimizer, methods, random streams and buffers, and restoring it from a checkpoint.
 * loop.c runs its tasks and files.c writes its files. */
#include <math.h>
#include <string.h>
#include "continual/methods.h"
#include "continual/mlp.h"
#include "continual/run.h"
#include "continual/tasks.h"
#include "net/net_internal.h"

#define PROBE_CHUNK 250 /* probe inputs per forward pass */

/* The three random streams of a run, each an MT19937 seeded from the run's seed (docs/continual.md). */
enum { STREAM_INIT = 1, STREAM_DATA = 2, STREAM_METHOD = 3 };

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t stream_seed(uint64_t seed, int stream) { return splitmix64(splitmix64(seed) + (uint64_t)stream); }

static int check_cfg(const cn_continual_cfg *g, const cn_data *d, cn_error *err)
{
    int rc = cl_methods_check(g->methods, err);
    if (rc) return rc;
    if (g->tasks < 1) return cn_error_set(err, CN_ERR_ARG, "--tasks %d: must be >= 1", g->tasks);
    if (g->width < 1) return cn_error_set(err, CN_ERR_ARG, "--width %d: must be >= 1", g->width);
    if (g->depth < 1) return cn_error_set(err, CN_ERR_ARG, "--depth %d: must be >= 1 hidden layer", g->depth);
    if (d->train.count < 1 || d->test.count < 1)
        return cn_error_set(err, CN_ERR_ARG, "%s: the training and the test split must both hold examples", d->name);
    if (g->examples_per_task < 0 || g->examples_per_task > d->train.count)
        return cn_error_set(err, CN_ERR_ARG, "--examples-per-task %d: must be in [1, %d], the training examples of %s",
                            g->examples_per_task, d->train.count, d->name);
    if (!(g->lr >= 0 && isfinite(g->lr))) return cn_error_set(err, CN_ERR_ARG, "--lr %g: must be >= 0", g->lr);
    if (!(g->weight_decay >= 0 && isfinite(g->weight_decay)))
        return cn_error_set(err, CN_ERR_ARG, "--weight-decay %g: must be >= 0", g->weight_decay);
    if (!(g->noise_std >= 0 && isfinite(g->noise_std)))
        return cn_error_set(err, CN_ERR_ARG, "--noise-std %g: must be >= 0", g->noise_std);
    if (!(g->l2init_weight >= 0 && isfinite(g->l2init_weight)))
        return cn_error_set(err, CN_ERR_ARG, "--l2init-weight %g: must be >= 0", g->l2init_weight);
    if (!(g->replacement_rate >= 0 && g->replacement_rate <= 1))
        return cn_error_set(err, CN_ERR_ARG, "--replacement-rate %g: must be in [0, 1]", g->replacement_rate);
    if (!(g->utility_decay >= 0 && g->utility_decay < 1))
        return cn_error_set(err, CN_ERR_ARG, "--utility-decay %g: must be in [0, 1)", g->utility_decay);
    if (g->maturity < 0) return cn_error_set(err, CN_ERR_ARG, "--maturity %d: must be >= 0", g->maturity);
    if (!(g->crit.weight >= 0 && isfinite(g->crit.weight)))
        return cn_error_set(err, CN_ERR_ARG, "--crit-weight %g: must be >= 0", g->crit.weight);
    if (g->crit.probes < 1) return cn_error_set(err, CN_ERR_ARG, "--crit-probes %d: must be >= 1", g->crit.probes);
    if (g->crit.every < 1) return cn_error_set(err, CN_ERR_ARG, "--crit-every %d: must be >= 1", g->crit.every);
    if (g->probe_samples < 1) return cn_error_set(err, CN_ERR_ARG, "--probe-samples %d: must be >= 1", g->probe_samples);
    if (g->checkpoint_every < 1)
        return cn_error_set(err, CN_ERR_ARG, "--checkpoint-every %d: must be >= 1", g->checkpoint_every);
    if (g->stop_after < 0) return cn_error_set(err, CN_ERR_ARG, "--stop-after %d: must be >= 0", g->stop_after);
    return CN_OK;
}

void cn_continual_free(cn_continual *c)
{
    if (!c) return;
    cn_net_free(c->net);
    cn_free(c->dense);
    cn_optim_free(c->opt);
    cn_rng_free(c->rng_data);
    cn_rng_free(c->rng_method);
    cn_critreg_free(c->reg);
    cn_cbp_free(c->cbp);
    cn_free(c->theta0);
    cn_free(c->perm);
    cn_free(c->order);
    cn_free(c->fresh);
    cn_free(c->tmp);
    cn_free(c->rows);
    cn_free(c->x);
    cn_free(c->dlogits);
    cn_free(c->probe);
    cn_free(c->grad_a);
    cn_free(c->grad_b);
    cn_free(c);
}

/* the network, initialised from the init stream */
static int build_net(cn_continual *c, cn_error *err)
{
    const cn_dataset *tr = &c->data->train;
    char *spec = cl_mlp_spec(tr->c, tr->h, tr->w, c->cfg.width, c->cfg.depth, c->classes);
    if (!spec) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    int rc = cn_net_from_spec(&c->net, spec, err);
    cn_free(spec);
    if (rc) return rc;
    c->ndense = c->cfg.depth + 1;
    if (!(c->dense = cn_malloc((size_t)c->ndense * sizeof *c->dense)))
        return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    cl_mlp_dense(c->net, c->dense, c->ndense);
    cn_rng *init = cn_rng_new(stream_seed(c->cfg.seed, STREAM_INIT));
    if (!init) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    rc = cl_mlp_init(c->net, init);
    cn_rng_free(init);
    if (rc) return cn_error_set(err, rc, "initialising the network: %s", cn_strerror(rc));
    if ((rc = cn_net_reserve(c->net, PROBE_CHUNK, 1))) return cn_error_set(err, rc, "out of memory");
    return CN_OK;
}

/* the optimizer and the methods' state */
static int build_methods(cn_continual *c, cn_error *err)
{
    const cn_continual_cfg *g = &c->cfg;
    const int adam = (g->methods & CN_CL_ADAM) != 0, decay = (g->methods & (CN_CL_L2 | CN_CL_SNP)) != 0;
    c->lr = g->lr > 0 ? g->lr : adam ? 1e-4 : 0.003;
    cn_optim_cfg oc = {.kind = adam ? CN_OPT_ADAM : CN_OPT_SGD, .lr = c->lr, .weight_decay = decay ? g->weight_decay : 0,
                       .beta1 = g->beta1, .beta2 = g->beta2, .eps = g->eps};
    int rc = cn_optim_new(&c->opt, &oc, c->net->nparams);
    if (rc) return cn_error_set(err, rc, rc == CN_ERR_NOMEM ? "out of memory" : "optimizer settings out of range");
    if (g->methods & CN_CL_L2INIT) {
        if (!(c->theta0 = cn_malloc(c->net->nparams * sizeof *c->theta0)))
            return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
        memcpy(c->theta0, c->net->params, c->net->nparams * sizeof *c->theta0);
    }
    if (g->methods & CN_CL_CBP) {
        cn_cbp_cfg cc = {g->replacement_rate, g->utility_decay, g->maturity, g->utility, g->bias_correction};
        if ((rc = cn_cbp_new(&c->cbp, c->net, &cc, err))) return rc;
    }
    if (g->methods & CN_CL_CRIT) {
        cn_critreg_cfg rc_cfg = {g->crit.weight, g->crit.target, g->crit.probes, g->crit.layers_all, g->crit.batch};
        if ((rc = cn_critreg_new(&c->reg, c->net, &rc_cfg, 1, err))) return rc;
    }
    return CN_OK;
}

int cn_continual_new(cn_continual **out, const cn_data *data, const cn_continual_cfg *cfg, cn_error *err)
{
    *out = NULL;
    if (!data || !cfg) return cn_error_set(err, CN_ERR_ARG, "cn_continual_new: NULL argument");
    int rc = check_cfg(cfg, data, err);
    if (rc) return rc;
    cn_continual *c = cn_calloc(1, sizeof *c);
    if (!c) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    c->cfg = *cfg;
    c->cfg.methods = cfg->methods ? cfg->methods : CN_CL_BP;
    c->data = data;
    const cn_dataset *tr = &data->train;
    c->n_in = tr->c * tr->h * tr->w;
    c->classes = tr->classes;
    c->count = cfg->examples_per_task > 0 ? cfg->examples_per_task : tr->count;
    c->probe_n = cfg->probe_samples < data->test.count ? cfg->probe_samples : data->test.count;
    c->probe_chunk = PROBE_CHUNK;
    if ((rc = build_net(c, err)) || (rc = build_methods(c, err))) goto fail;
    c->rng_data = cn_rng_new(stream_seed(cfg->seed, STREAM_DATA));
    c->rng_method = cn_rng_new_fast(stream_seed(cfg->seed, STREAM_METHOD));
    c->perm = cn_malloc((size_t)c->n_in * sizeof *c->perm);
    c->fresh = cn_malloc((size_t)c->n_in * sizeof *c->fresh);
    c->tmp = cn_malloc((size_t)c->n_in * sizeof *c->tmp);
    c->order = cn_malloc((size_t)tr->count * sizeof *c->order);
    c->rows = cn_calloc((size_t)cfg->tasks, sizeof *c->rows);
    c->x = cn_malloc((size_t)c->n_in * sizeof *c->x);
    c->dlogits = cn_malloc((size_t)c->classes * sizeof *c->dlogits);
    c->probe = cn_malloc((size_t)c->probe_n * c->n_in * sizeof *c->probe);
    size_t widest = (size_t)(c->n_in > cfg->width ? c->n_in : cfg->width);
    c->grad_a = cn_malloc(widest * sizeof *c->grad_a);
    c->grad_b = cn_malloc(widest * sizeof *c->grad_b);
    c->fast = cl_fast_supported(c);
    if (!c->rng_data || !c->rng_method || !c->perm || !c->fresh || !c->tmp || !c->order || !c->rows || !c->x ||
        !c->dlogits || !c->probe || !c->grad_a || !c->grad_b) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "out of memory for the run's buffers");
        goto fail;
    }
    cl_perm_identity(c->perm, c->n_in);
    cl_perm_identity(c->order, tr->count);
    *out = c;
    return CN_OK;
fail:
    cn_continual_free(c);
    return rc;
}

cn_net *cn_continual_net(cn_continual *c) { return c->net; }
int cn_continual_tasks_done(const cn_continual *c) { return c->tasks_done; }
const int32_t *cn_continual_permutation(const cn_continual *c) { return c->perm; }

const int32_t *cn_continual_order(const cn_continual *c, int *n)
{
    if (n) *n = c->count;
    return c->order;
}

int cn_continual_restore(cn_continual *c, const cn_checkpoint *ck, cn_error *err)
{
    if (!ck->net || !ck->ext_size)
        return cn_error_set(err, CN_ERR_FORMAT, "the checkpoint holds no continual-learning state (not written by "
                                                "critnet continual?)");
    char *mine = cn_net_spec(c->net), *theirs = cn_net_spec(ck->net);
    int same = mine && theirs && !strcmp(mine, theirs), nomem = !mine || !theirs;
    cn_free(mine);
    cn_free(theirs);
    if (nomem) return cn_error_set(err, CN_ERR_NOMEM, "out of memory comparing the checkpoint's network");
    if (!same) return cn_error_set(err, CN_ERR_FORMAT, "the checkpoint's network differs from the one these settings build");
    memcpy(c->net->params, ck->net->params, c->net->nparams * sizeof *c->net->params);
    int rc = cn_checkpoint_restore(ck, c->opt, NULL, err);
    if (!rc) rc = cl_state_decode(c, ck->ext, ck->ext_size, err);
    if (!rc && ck->epoch != c->tasks_done)
        rc = cn_error_set(err, CN_ERR_FORMAT, "the checkpoint says %d tasks, its continual state %d", ck->epoch,
                          c->tasks_done);
    return rc;
}
