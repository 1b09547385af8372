/* bench_train_mlp.c: times critnet's training step on the MLP 784-256-256-256-10 (relu, cross-entropy, SGD
 * with momentum), the net behind `critnet train --arch mlp --width 256 --depth 3`, measures the machine's
 * sgemm peak, and says where a step's time goes: per phase, per layer and per dense kernel.
 *
 * The PyTorch peer is torch_train_mlp.py; run_train_mlp.sh runs both and prints their ratio. Absolute
 * times on a shared machine are noisy: every figure is the best of several repetitions, and the median
 * is kept beside it.
 *
 * The per-layer pass walks the chain the way net/chain.c does and the per-kernel pass repeats the
 * steps of layers/dense.c on the same shapes; both are diagnostics whose sums are printed beside the
 * library's own timings, so a drift from the library shows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "critnet.h"
#include "layers/layer.h"
#include "net/net_internal.h"

#define MAX_THREADS 8
#define MAX_LAYERS 64
#define POOL_BATCHES 64 /* distinct batches cycled through, so the input is not always cache-hot */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---------------------------------------------------------------- options */

typedef struct {
    int steps, warmup, reps, batch, width, depth, sgemm_n, breakdown, breakdown_steps;
    int threads[MAX_THREADS], nthreads, env_threads; /* env_threads: leave OpenBLAS/OpenMP as the env set them */
    int flat;                                        /* also time the variant without the flatten layer */
    const char *data, *json;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_train_mlp [options]\n"
            "  --steps N          timed steps per repetition (100)\n"
            "  --warmup N         untimed steps before timing (20)\n"
            "  --reps N           repetitions; the best and the median are reported (5)\n"
            "  --batch N          batch size (128)\n"
            "  --width N --depth N  hidden units and hidden layers (256, 3)\n"
            "  --threads LIST     comma list of thread counts set with cn_set_threads (1,2), or 'env' to\n"
            "                     leave OPENBLAS_NUM_THREADS / OMP_NUM_THREADS as the environment set them\n"
            "  --data SPEC        'random' or a cn_data_load spec (fashion-mnist)\n"
            "  --sgemm-n N        size of the square sgemm that measures the peak, 0 to skip (2048)\n"
            "  --breakdown-steps N  steps for each breakdown pass (steps/2)\n"
            "  --no-breakdown     skip the per-phase, per-layer and per-kernel passes\n"
            "  --no-flat          skip the variant without the flatten layer\n"
            "  --json PATH        write the results as JSON\n");
}

static int parse_threads(options *o, const char *s)
{
    if (strcmp(s, "env") == 0) {
        o->env_threads = 1;
        o->nthreads = 1;
        o->threads[0] = 0;
        return 0;
    }
    o->nthreads = 0;
    while (*s) {
        char *end;
        long t = strtol(s, &end, 10);
        if (end == s || t < 1 || t > 256 || o->nthreads == MAX_THREADS || (*end && *end != ',')) return -1;
        o->threads[o->nthreads++] = (int)t;
        s = *end ? end + 1 : end;
    }
    return o->nthreads ? 0 : -1;
}

static int parse_args(options *o, int argc, char **argv)
{
    *o = (options){.steps = 100, .warmup = 20, .reps = 5, .batch = 128, .width = 256, .depth = 3,
                   .sgemm_n = 2048, .breakdown = 1, .threads = {1, 2}, .nthreads = 2, .flat = 1,
                   .data = "fashion-mnist"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *num = !strcmp(a, "--steps") ? &o->steps : !strcmp(a, "--warmup") ? &o->warmup
                 : !strcmp(a, "--reps") ? &o->reps : !strcmp(a, "--batch") ? &o->batch
                 : !strcmp(a, "--width") ? &o->width : !strcmp(a, "--depth") ? &o->depth
                 : !strcmp(a, "--sgemm-n") ? &o->sgemm_n : !strcmp(a, "--breakdown-steps") ? &o->breakdown_steps
                 : NULL;
        if (num) {
            char *end;
            long x = v ? strtol(v, &end, 10) : -1;
            if (!v || *end || x < 0 || x > 100000000) {
                fprintf(stderr, "bench_train_mlp: %s needs a count\n", a);
                return -1;
            }
            *num = (int)x;
            i++;
        } else if (!strcmp(a, "--threads") && v) {
            if (parse_threads(o, v)) {
                fprintf(stderr, "bench_train_mlp: --threads %s: expected a list like 1,2 or 'env'\n", v);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--data") && v) {
            o->data = v;
            i++;
        } else if (!strcmp(a, "--json") && v) {
            o->json = v;
            i++;
        } else if (!strcmp(a, "--no-breakdown")) {
            o->breakdown = 0;
        } else if (!strcmp(a, "--no-flat")) {
            o->flat = 0;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench_train_mlp: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->steps < 1 || o->reps < 1 || o->batch < 1 || o->width < 1) {
        fprintf(stderr, "bench_train_mlp: --steps, --reps, --batch and --width must be >= 1\n");
        return -1;
    }
    if (!o->breakdown_steps) o->breakdown_steps = o->steps / 2 > 5 ? o->steps / 2 : 5;
    return 0;
}

/* ---------------------------------------------------------------- data: a pool of batches */

typedef struct {
    int nb, B, in, classes;
    cn_real *x;  /* (nb*B, in) */
    int32_t *y;  /* (nb*B) */
    char source[64];
} batch_pool;

static int pool_load(batch_pool *p, const char *spec, int B, cn_error *err)
{
    memset(p, 0, sizeof *p);
    p->B = B;
    p->in = 784;
    p->classes = 10;
    if (strcmp(spec, "random") == 0) {
        p->nb = POOL_BATCHES;
        size_t n = (size_t)p->nb * B;
        p->x = cn_malloc(n * p->in * sizeof *p->x);
        p->y = cn_malloc(n * sizeof *p->y);
        cn_rng *r = cn_rng_new(7);
        if (!p->x || !p->y || !r) {
            cn_rng_free(r);
            return cn_error_set(err, CN_ERR_NOMEM, "out of memory for the batch pool");
        }
        for (size_t i = 0; i < n * p->in; i++) p->x[i] = (cn_real)cn_rng_uniform(r);
        for (size_t i = 0; i < n; i++) p->y[i] = (int32_t)cn_rng_below(r, 10);
        cn_rng_free(r);
        snprintf(p->source, sizeof p->source, "random U[0,1)");
        return CN_OK;
    }
    cn_data d;
    cn_data_opts opts = {.spec = spec, .seed = 1};
    int rc = cn_data_load(&d, &opts, err);
    if (rc) return rc;
    const cn_dataset *tr = &d.train;
    if (tr->c * tr->h * tr->w != 784 || tr->count < B) {
        cn_data_free(&d);
        return cn_error_set(err, CN_ERR_ARG, "%s: expected at least %d examples of 784 values", spec, B);
    }
    /* the first examples in file order; the peer reads the same ones */
    p->nb = tr->count / B < POOL_BATCHES ? tr->count / B : POOL_BATCHES;
    size_t n = (size_t)p->nb * B;
    p->x = cn_malloc(n * p->in * sizeof *p->x);
    p->y = cn_malloc(n * sizeof *p->y);
    if (!p->x || !p->y) {
        cn_data_free(&d);
        return cn_error_set(err, CN_ERR_NOMEM, "out of memory for the batch pool");
    }
    memcpy(p->x, tr->x, n * p->in * sizeof *p->x);
    memcpy(p->y, tr->y, n * sizeof *p->y);
    snprintf(p->source, sizeof p->source, "%s", spec);
    cn_data_free(&d);
    return CN_OK;
}

static void pool_free(batch_pool *p)
{
    cn_free(p->x);
    cn_free(p->y);
}

/* ---------------------------------------------------------------- one network and its optimizer */

enum { PH_FORWARD, PH_LOSS, PH_ZERO_GRAD, PH_BACKWARD, PH_OPTIM, PH_COUNT };
static const char *const phase_names[] = {"forward", "loss", "zero_grad", "backward", "optimizer"};
_Static_assert(sizeof phase_names / sizeof *phase_names == PH_COUNT, "one name per phase");

typedef struct {
    cn_net *net;
    cn_optim *opt;
    cn_real *dlogits;
    int classes;
    long next;          /* next batch of the pool */
    int first_param;    /* index of the first layer with parameters */
    int first_dx;       /* 1 when the chain computes that layer's input gradient, which nothing uses */
    double first_loss, last_loss;
} trainer;

static int trainer_new(trainer *t, const char *spec, int B, cn_error *err)
{
    memset(t, 0, sizeof *t);
    int rc = cn_net_from_spec(&t->net, spec, err);
    if (rc) return rc;
    cn_rng *r = cn_rng_new(42);
    cn_init init = {.kind = CN_INIT_TORCH}; /* the peer's default init */
    if (!r) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    rc = cn_net_init(t->net, &init, r);
    cn_rng_free(r);
    if (rc || (rc = cn_net_reserve(t->net, B, 1))) return cn_error_set(err, rc, "cannot initialise the net");
    cn_optim_cfg cfg = {.kind = CN_OPT_SGD, .lr = 0.05, .momentum = 0.9};
    if ((rc = cn_optim_new(&t->opt, &cfg, cn_net_param_count(t->net))))
        return cn_error_set(err, rc, "cannot create the optimizer");
    t->classes = cn_net_out_size(t->net);
    t->dlogits = cn_malloc((size_t)B * t->classes * sizeof *t->dlogits);
    if (!t->dlogits) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    t->first_loss = NAN;
    return CN_OK;
}

static void trainer_free(trainer *t)
{
    cn_net_free(t->net);
    cn_optim_free(t->opt);
    cn_free(t->dlogits);
}

/* One training step through the public API, in cn_train's order; ph (PH_COUNT seconds) may be NULL. */
static void train_step(trainer *t, const batch_pool *p, double *ph)
{
    int B = p->B;
    long k = t->next++ % p->nb;
    const cn_real *x = p->x + (size_t)k * B * p->in;
    const int32_t *y = p->y + (size_t)k * B;
    double t0 = ph ? now() : 0, t1;
    cn_net_forward(t->net, x, B, 1);
    if (ph) t1 = now(), ph[PH_FORWARD] += t1 - t0, t0 = t1;
    double loss = cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(t->net), y, B, t->classes, t->dlogits, NULL);
    if (ph) t1 = now(), ph[PH_LOSS] += t1 - t0, t0 = t1;
    cn_net_zero_grad(t->net);
    if (ph) t1 = now(), ph[PH_ZERO_GRAD] += t1 - t0, t0 = t1;
    cn_net_backward(t->net, t->dlogits, NULL, B);
    if (ph) t1 = now(), ph[PH_BACKWARD] += t1 - t0, t0 = t1;
    cn_optim_step(t->opt, cn_net_params(t->net), cn_net_grads(t->net), 0.05);
    if (ph) t1 = now(), ph[PH_OPTIM] += t1 - t0;
    if (isnan(t->first_loss)) t->first_loss = loss;
    t->last_loss = loss;
}

/* ---------------------------------------------------------------- FLOPs */

typedef struct {
    double useful;   /* forward, dW, and dx of every dense layer but the first */
    double executed; /* plus the first layer's dx when the chain computes it (a layer ahead of it) */
} flop_count;

static flop_count count_flops(const trainer *t, int B)
{
    flop_count f = {0, 0};
    cn_chain *c = &t->net->chain;
    for (int i = 0; i < c->n; i++) {
        cn_layer *L = c->layers[i];
        if (!(L->ops->traits & CN_TRAIT_DENSE)) continue;
        double io = (double)cn_shape_size(L->in) * cn_shape_size(L->out);
        int first = i == t->first_param;
        f.useful += 2.0 * B * io * (first ? 2 : 3);
        f.executed += 2.0 * B * io * (first && !t->first_dx ? 2 : 3);
    }
    return f;
}

/* Whether cn_net_backward(dx=NULL) still computes the input gradient of the first layer with parameters,
 * which nothing uses when only parameter-free layers (flatten) sit ahead of it. Found by experiment, so
 * that the breakdowns stay right when net/chain.c changes: a sentinel at the end of the region of the
 * chain's gradient buffer that this input gradient would fill, and a look whether it was overwritten. */
static void detect_first_dx(trainer *t, const batch_pool *p)
{
    cn_chain *c = &t->net->chain;
    t->first_param = 0;
    while (t->first_param < c->n && c->layers[t->first_param]->nparams == 0) t->first_param++;
    t->first_dx = 0;
    if (t->first_param == 0 || t->first_param >= c->n) return; /* layer 0 gets the caller's dx (NULL) */
    size_t last = (size_t)p->B * cn_shape_size(c->layers[t->first_param]->in) - 1;
    const cn_real sentinel = (cn_real)-12345.25;
    cn_real *g = c->grad[t->first_param & 1];
    g[last] = sentinel;
    cn_net_forward(t->net, p->x, p->B, 1);
    cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(t->net), p->y, p->B, t->classes, t->dlogits, NULL);
    cn_net_zero_grad(t->net);
    cn_net_backward(t->net, t->dlogits, NULL, p->B);
    t->first_dx = c->grad[t->first_param & 1] == g && g[last] != sentinel;
}

/* ---------------------------------------------------------------- sgemm peak */

static double sgemm_gflops(int n, int reps)
{
    size_t nn = (size_t)n * n;
    float *A = cn_malloc(nn * sizeof *A), *Bm = cn_malloc(nn * sizeof *Bm), *C = cn_malloc(nn * sizeof *C);
    double best = 0;
    if (A && Bm && C) {
        cn_rng *r = cn_rng_new(3);
        for (size_t i = 0; i < nn; i++) A[i] = (float)cn_rng_uniform(r) - 0.5f, Bm[i] = (float)cn_rng_uniform(r) - 0.5f;
        cn_rng_free(r);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, A, n, Bm, n, 0, C, n); /* warm-up */
        for (int k = 0; k < reps; k++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, A, n, Bm, n, 0, C, n);
            double g = 2.0 * n * (double)n * n / (now() - t0) / 1e9;
            if (g > best) best = g;
        }
    }
    cn_free(A);
    cn_free(Bm);
    cn_free(C);
    return best;
}

/* ---------------------------------------------------------------- the breakdowns */

enum { K_BIAS, K_FWD_GEMM, K_FWD_ACT, K_BWD_ACT, K_DW_GEMM, K_DB_SUM, K_DX_GEMM, K_COUNT };
static const char *const kernel_names[] = {"fwd_bias_copy", "fwd_gemm", "fwd_act", "bwd_act",
                                           "bwd_dW_gemm",   "bwd_db_sum", "bwd_dx_gemm"};
_Static_assert(sizeof kernel_names / sizeof *kernel_names == K_COUNT, "one name per kernel");

typedef struct {
    int layer, nin, nout, dx_needed, dx_computed;
    double ms[K_COUNT];
} kernel_times;

typedef struct {
    int variant_flat, threads, blas_threads, omp_threads;
    double sps_best, sps_median, step_ms_best, step_ms_median;
    double first_loss, last_loss;
    int have_breakdown, breakdown_steps;
    double phase_ms[PH_COUNT], phase_sum_ms;
    double finite_check_ms, gather_ms; /* what cn_train adds to each step besides the five calls */
    int nlayers;
    const char *layer_kind[MAX_LAYERS];
    double layer_fwd_ms[MAX_LAYERS], layer_bwd_ms[MAX_LAYERS];
    int nkern;
    kernel_times kern[MAX_LAYERS];
    flop_count flops;
} result;

/* The forward and backward of net/chain.c, layer by layer, with a timer around each layer. */
static void layer_pass(trainer *t, const batch_pool *p, double *fwd, double *bwd)
{
    cn_chain *c = &t->net->chain;
    int B = p->B;
    long k = t->next++ % p->nb;
    const cn_real *x = p->x + (size_t)k * B * p->in;
    c->x = x;
    const cn_real *in = x;
    for (int i = 0; i < c->n; i++) {
        double t0 = now();
        c->layers[i]->ops->forward(c->layers[i], in, c->outs[i], B, 1);
        fwd[i] += now() - t0;
        in = c->outs[i];
    }
    cn_loss(CN_LOSS_CROSS_ENTROPY, c->outs[c->n - 1], p->y + (size_t)k * B, B, t->classes, t->dlogits, NULL);
    cn_net_zero_grad(t->net);
    const cn_real *d = t->dlogits;
    for (int i = c->n - 1; i >= 0; i--) {
        cn_layer *L = c->layers[i];
        const cn_real *lin = i ? c->outs[i - 1] : c->x;
        int last = i == t->first_param && !t->first_dx; /* the chain stops here when it skips that dx */
        cn_real *din = i && !last ? c->grad[i & 1] : NULL;
        double t0 = now();
        L->ops->backward(L, lin, c->outs[i], d, din, B);
        bwd[i] += now() - t0;
        if (last) break;
        d = din;
    }
    cn_optim_step(t->opt, cn_net_params(t->net), cn_net_grads(t->net), 0.05);
}

/* The steps of layers/dense.c one by one, on the layer's shapes and weights, into scratch buffers.
 * The activation kernels run on the pre-activations of NZ different batches in turn: at -O2 they branch
 * on the signs, and a branch predictor learns one batch that it sees over and over, which would hide
 * the mispredictions a real step pays. */
#define NZ 8
static void dense_preact(cn_real *z, const cn_layer *L, const cn_real *x, int B)
{
    int nin = cn_shape_size(L->in), nout = cn_shape_size(L->out);
    int bias = L->nparams == (size_t)nout * nin + (size_t)nout;
    const cn_real *W = L->p, *b = L->p + (size_t)nout * nin;
    if (bias)
        for (int r = 0; r < B; r++) memcpy(z + (size_t)r * nout, b, (size_t)nout * sizeof *z);
    cn_matmul(0, 1, B, nout, nin, 1, x, W, bias ? 1 : 0, z);
}

static int kernel_pass(result *res, trainer *t, const batch_pool *p, int iters)
{
    cn_chain *c = &t->net->chain;
    int B = p->B, idx[MAX_LAYERS], nd = 0;
    cn_real *zs[MAX_LAYERS] = {0};
    for (int i = 0; i < c->n && nd < MAX_LAYERS; i++)
        if (c->layers[i]->ops->traits & CN_TRAIT_DENSE) {
            zs[nd] = cn_malloc((size_t)NZ * B * cn_shape_size(c->layers[i]->out) * sizeof(cn_real));
            if (!zs[nd]) {
                for (int j = 0; j < nd; j++) cn_free(zs[j]);
                return CN_ERR_NOMEM;
            }
            idx[nd++] = i;
        }
    for (int k = 0; k < NZ; k++) {
        const cn_real *xk = p->x + (size_t)(k % p->nb) * B * p->in;
        cn_net_forward(t->net, xk, B, 1);
        for (int j = 0; j < nd; j++) {
            int i = idx[j];
            dense_preact(zs[j] + (size_t)k * B * cn_shape_size(c->layers[i]->out), c->layers[i],
                         i ? c->outs[i - 1] : xk, B);
        }
    }
    cn_net_forward(t->net, p->x, B, 1); /* batch 0's activations as the layers' inputs */
    res->nkern = 0;
    int rc = CN_OK;
    for (int j = 0; j < nd && rc == CN_OK; j++) {
        int i = idx[j];
        cn_layer *L = c->layers[i];
        int nin = cn_shape_size(L->in), nout = cn_shape_size(L->out);
        int bias = L->nparams == (size_t)nout * nin + (size_t)nout;
        const cn_real *x = i ? c->outs[i - 1] : p->x, *W = L->p, *b = L->p + (size_t)nout * nin;
        size_t zo = (size_t)B * nout;
        cn_real *z = cn_malloc(zo * sizeof *z), *y = cn_malloc(zo * sizeof *y), *dy = cn_malloc(zo * sizeof *dy),
                *dz = cn_malloc(zo * sizeof *dz), *gW = cn_calloc((size_t)nout * nin, sizeof *gW),
                *gb = cn_calloc((size_t)nout, sizeof *gb), *dx = cn_malloc((size_t)B * nin * sizeof *dx);
        if (!z || !y || !dy || !dz || !gW || !gb || !dx) {
            rc = CN_ERR_NOMEM;
        } else {
            cn_rng *r = cn_rng_new(5);
            for (size_t e = 0; e < zo; e++) dy[e] = (cn_real)(1e-3 * (cn_rng_uniform(r) - 0.5));
            cn_rng_free(r);
            if (L->act == CN_ACT_IDENTITY) memcpy(dz, dy, zo * sizeof *dz);
            kernel_times *kt = &res->kern[res->nkern++];
            memset(kt, 0, sizeof *kt);
            kt->layer = i;
            kt->nin = nin;
            kt->nout = nout;
            kt->dx_needed = i != t->first_param;
            kt->dx_computed = kt->dx_needed || t->first_dx;
            for (int kk = 0; kk < K_COUNT; kk++) {
                double best = INFINITY;
                for (int rep = 0; rep < 3; rep++) {
                    double t0 = now();
                    for (int it = 0; it < iters; it++) {
                        const cn_real *zk = zs[j] + (size_t)(it % NZ) * zo;
                        switch (kk) {
                        case K_BIAS:
                            if (bias)
                                for (int r2 = 0; r2 < B; r2++) memcpy(z + (size_t)r2 * nout, b, (size_t)nout * sizeof *z);
                            break;
                        case K_FWD_GEMM: cn_matmul(0, 1, B, nout, nin, 1, x, W, bias ? 1 : 0, z); break;
                        case K_FWD_ACT:
                            if (L->act != CN_ACT_IDENTITY) cn_act_forward(L->act, zk, y, zo);
                            break;
                        case K_BWD_ACT:
                            if (L->act != CN_ACT_IDENTITY) cn_act_backward(L->act, zk, NULL, dy, dz, zo);
                            break;
                        case K_DW_GEMM: cn_matmul(1, 0, nout, nin, B, 1, dz, x, 1, gW); break;
                        case K_DB_SUM:
                            if (bias)
                                for (int r2 = 0; r2 < B; r2++) {
                                    const cn_real *row = dz + (size_t)r2 * nout;
                                    for (int e = 0; e < nout; e++) gb[e] += row[e];
                                }
                            break;
                        case K_DX_GEMM: cn_matmul(0, 0, B, nin, nout, 1, dz, W, 0, dx); break;
                        }
                    }
                    double dt = (now() - t0) / iters;
                    if (dt < best) best = dt;
                }
                kt->ms[kk] = 1e3 * best;
            }
        }
        cn_free(z), cn_free(y), cn_free(dy), cn_free(dz), cn_free(gW), cn_free(gb), cn_free(dx);
    }
    for (int j = 0; j < nd; j++) cn_free(zs[j]);
    return rc;
}

/* cn_train's per-step extras: the gather of a shuffled batch and the finiteness check of the parameters. */
static void extras_pass(result *res, trainer *t, const batch_pool *p, int iters)
{
    size_t n = cn_net_param_count(t->net), row = (size_t)p->in * sizeof(cn_real);
    cn_real *xb = cn_malloc((size_t)p->B * p->in * sizeof *xb);
    int32_t *yb = cn_malloc((size_t)p->B * sizeof *yb);
    if (!xb || !yb) {
        cn_free(xb), cn_free(yb);
        return;
    }
    const cn_real *params = cn_net_params(t->net);
    cn_rng *r = cn_rng_new(11);
    int total = p->nb * p->B;
    volatile int bad = 0; /* keeps the check from being optimised away */
    double tg = 0, tf = 0;
    for (int it = 0; it < iters; it++) {
        double t0 = now();
        for (int i = 0; i < p->B; i++) {
            int idx = (int)cn_rng_below(r, (uint64_t)total);
            memcpy(xb + (size_t)i * p->in, p->x + (size_t)idx * p->in, row);
            yb[i] = p->y[idx];
        }
        double t1 = now();
        int nonfinite = 0;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(params[i])) {
                nonfinite = 1;
                break;
            }
        bad = bad + nonfinite;
        tf += now() - t1;
        tg += t1 - t0;
    }
    res->gather_ms = 1e3 * tg / iters; /* includes the RNG draws, which cn_train makes once per epoch */
    res->finite_check_ms = 1e3 * tf / iters;
    cn_rng_free(r);
    cn_free(xb);
    cn_free(yb);
}

/* ---------------------------------------------------------------- one configuration */

static int run_config(result *res, const options *o, const batch_pool *p, const char *spec, int flat, int threads,
                      cn_error *err)
{
    memset(res, 0, sizeof *res);
    if (threads > 0) cn_set_threads(threads);
    res->variant_flat = flat;
    res->blas_threads = openblas_get_num_threads();
#ifdef _OPENMP
    res->omp_threads = omp_get_max_threads();
#else
    res->omp_threads = 1;
#endif
    res->threads = threads > 0 ? threads : res->blas_threads;
    trainer t;
    int rc = trainer_new(&t, spec, p->B, err);
    if (rc) {
        trainer_free(&t);
        return rc;
    }
    detect_first_dx(&t, p);
    res->flops = count_flops(&t, p->B);
    for (int s = 0; s < o->warmup; s++) train_step(&t, p, NULL);
    double sps[64], ms[64];
    int reps = o->reps < 64 ? o->reps : 64;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int s = 0; s < o->steps; s++) train_step(&t, p, NULL);
        double dt = now() - t0;
        sps[r] = (double)o->steps * p->B / dt;
        ms[r] = 1e3 * dt / o->steps;
    }
    res->sps_median = median(sps, reps);
    res->step_ms_median = median(ms, reps);
    res->sps_best = sps[reps - 1]; /* sorted by median() */
    res->step_ms_best = ms[0];
    if (o->breakdown && !flat) {
        /* medians over steps, so that a step interrupted by another process does not count */
        int n = o->breakdown_steps;
        cn_chain *c = &t.net->chain;
        double *ph = calloc((size_t)n * PH_COUNT, sizeof *ph), *col = malloc((size_t)n * sizeof *col);
        double *fwd = calloc((size_t)n * MAX_LAYERS, sizeof *fwd), *bwd = calloc((size_t)n * MAX_LAYERS, sizeof *bwd);
        if (!ph || !col || !fwd || !bwd) {
            free(ph), free(col), free(fwd), free(bwd);
            trainer_free(&t);
            return cn_error_set(err, CN_ERR_NOMEM, "out of memory for the breakdown");
        }
        for (int s = 0; s < n; s++) train_step(&t, p, ph + (size_t)s * PH_COUNT);
        for (int k = 0; k < PH_COUNT; k++) {
            for (int s = 0; s < n; s++) col[s] = ph[(size_t)s * PH_COUNT + k];
            res->phase_ms[k] = 1e3 * median(col, n);
            res->phase_sum_ms += res->phase_ms[k];
        }
        res->nlayers = c->n < MAX_LAYERS ? c->n : MAX_LAYERS;
        if (c->n <= MAX_LAYERS) {
            for (int s = 0; s < n; s++) layer_pass(&t, p, fwd + (size_t)s * MAX_LAYERS, bwd + (size_t)s * MAX_LAYERS);
            for (int i = 0; i < res->nlayers; i++) {
                res->layer_kind[i] = c->layers[i]->ops->kind;
                for (int s = 0; s < n; s++) col[s] = fwd[(size_t)s * MAX_LAYERS + i];
                res->layer_fwd_ms[i] = 1e3 * median(col, n);
                for (int s = 0; s < n; s++) col[s] = bwd[(size_t)s * MAX_LAYERS + i];
                res->layer_bwd_ms[i] = 1e3 * median(col, n);
            }
        }
        free(ph), free(col), free(fwd), free(bwd);
        if ((rc = kernel_pass(res, &t, p, n))) {
            trainer_free(&t);
            return cn_error_set(err, rc, "out of memory in the kernel breakdown");
        }
        extras_pass(res, &t, p, n);
        res->have_breakdown = 1;
        res->breakdown_steps = n;
    }
    res->first_loss = t.first_loss;
    res->last_loss = t.last_loss;
    trainer_free(&t);
    if (!isfinite(res->first_loss) || !isfinite(res->last_loss))
        return cn_error_set(err, CN_ERR_NONFINITE, "the training loss is not finite (%g, %g)", res->first_loss,
                            res->last_loss);
    return CN_OK;
}

/* ---------------------------------------------------------------- reports */

static double peak_for(const int *tl, const double *peak, int n, int threads)
{
    for (int i = 0; i < n; i++)
        if (tl[i] == threads) return peak[i];
    return 0;
}

static void print_result(const result *r, double peak_same, double peak_machine)
{
    double gflops = r->flops.useful / (r->step_ms_best * 1e-3) / 1e9;
    printf("%-6s threads %d (blas %d, omp %d): %9.0f samples/s best, %9.0f median, %6.3f ms/step, %5.1f GFLOP/s",
           r->variant_flat ? "flat" : "cli", r->threads, r->blas_threads, r->omp_threads, r->sps_best,
           r->sps_median, r->step_ms_best, gflops);
    if (peak_same > 0) printf(", %4.1f%% of %d-thread sgemm peak", 100 * gflops / peak_same, r->threads);
    if (peak_machine > 0) printf(", %4.1f%% of machine peak", 100 * gflops / peak_machine);
    printf("   [loss %.3f -> %.3f]\n", r->first_loss, r->last_loss);
    if (!r->have_breakdown) return;
    printf("  phases (median ms/step of %d steps; sum %.3f):", r->breakdown_steps, r->phase_sum_ms);
    for (int k = 0; k < PH_COUNT; k++)
        printf(" %s %.3f (%.0f%%)", phase_names[k], r->phase_ms[k], 100 * r->phase_ms[k] / r->phase_sum_ms);
    printf("\n  cn_train extras (ms/step): gather %.3f, finite check of params %.3f\n", r->gather_ms,
           r->finite_check_ms);
    double fs = 0, bs = 0;
    printf("  layers (median ms/step fwd / bwd):");
    for (int i = 0; i < r->nlayers; i++) {
        printf(" [%d %s %.3f / %.3f]", i, r->layer_kind[i], r->layer_fwd_ms[i], r->layer_bwd_ms[i]);
        fs += r->layer_fwd_ms[i];
        bs += r->layer_bwd_ms[i];
    }
    printf("\n  layer sums: fwd %.3f (API %.3f), bwd %.3f (API %.3f)%s\n", fs, r->phase_ms[PH_FORWARD], bs,
           r->phase_ms[PH_BACKWARD],
           fabs(bs - r->phase_ms[PH_BACKWARD]) > 0.25 * r->phase_ms[PH_BACKWARD] + 0.05
               ? "  <- differ: net/chain.c may have changed since this bench mirrored it"
               : "");
    for (int j = 0; j < r->nkern; j++) {
        const kernel_times *k = &r->kern[j];
        printf("  dense %d (%d->%d) ms:", k->layer, k->nin, k->nout);
        for (int kk = 0; kk < K_COUNT; kk++) printf(" %s %.3f", kernel_names[kk], k->ms[kk]);
        if (!k->dx_needed) printf("  (dx not needed%s)", k->dx_computed ? " but computed by the chain" : "");
        printf("\n");
    }
}

static void json_result(FILE *f, const result *r, double peak_same, double peak_machine)
{
    double gflops = r->flops.useful / (r->step_ms_best * 1e-3) / 1e9;
    fprintf(f,
            "    {\"variant\": \"%s\", \"threads\": %d, \"blas_threads\": %d, \"omp_threads\": %d,\n"
            "     \"samples_per_s_best\": %.1f, \"samples_per_s_median\": %.1f, \"step_ms_best\": %.4f,"
            " \"step_ms_median\": %.4f,\n"
            "     \"gflops\": %.3f, \"peak_fraction_same_threads\": %.4f, \"peak_fraction_machine\": %.4f,"
            " \"first_loss\": %.5f, \"last_loss\": %.5f",
            r->variant_flat ? "flat" : "cli", r->threads, r->blas_threads, r->omp_threads, r->sps_best,
            r->sps_median, r->step_ms_best, r->step_ms_median, gflops, peak_same > 0 ? gflops / peak_same : 0,
            peak_machine > 0 ? gflops / peak_machine : 0, r->first_loss, r->last_loss);
    if (r->have_breakdown) {
        fprintf(f, ",\n     \"phases_ms\": {");
        for (int k = 0; k < PH_COUNT; k++) fprintf(f, "%s\"%s\": %.4f", k ? ", " : "", phase_names[k], r->phase_ms[k]);
        fprintf(f, "},\n     \"train_extras_ms\": {\"gather\": %.4f, \"finite_check\": %.4f},\n     \"layers\": [",
                r->gather_ms, r->finite_check_ms);
        for (int i = 0; i < r->nlayers; i++)
            fprintf(f, "%s{\"index\": %d, \"kind\": \"%s\", \"fwd_ms\": %.4f, \"bwd_ms\": %.4f}", i ? ", " : "", i,
                    r->layer_kind[i], r->layer_fwd_ms[i], r->layer_bwd_ms[i]);
        fprintf(f, "],\n     \"dense_kernels_ms\": [");
        for (int j = 0; j < r->nkern; j++) {
            const kernel_times *k = &r->kern[j];
            fprintf(f, "%s\n       {\"layer\": %d, \"in\": %d, \"out\": %d, \"dx_needed\": %s, \"dx_computed\": %s",
                    j ? "," : "", k->layer, k->nin, k->nout, k->dx_needed ? "true" : "false",
                    k->dx_computed ? "true" : "false");
            for (int kk = 0; kk < K_COUNT; kk++) fprintf(f, ", \"%s\": %.4f", kernel_names[kk], k->ms[kk]);
            fprintf(f, "}");
        }
        fprintf(f, "]");
    }
    fprintf(f, "}");
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(&o, argc, argv)) return 2;
    cn_error err = {0};
    batch_pool pool;
    if (pool_load(&pool, o.data, o.batch, &err)) {
        fprintf(stderr, "bench_train_mlp: %s\n", err.msg);
        return 1;
    }
    /* the net `critnet train --arch mlp` builds, and the same net fed flat rows (no flatten layer) */
    cn_arch arch = {.arch = "mlp", .in_c = 1, .in_h = 28, .in_w = 28, .width = o.width, .depth = o.depth,
                    .classes = 10, .act = CN_ACT_RELU, .norm = "none"};
    char *spec_cli = NULL, flat_spec[4096];
    if (cn_arch_spec(&spec_cli, &arch, &err)) {
        fprintf(stderr, "bench_train_mlp: %s\n", err.msg);
        return 1;
    }
    size_t len = (size_t)snprintf(flat_spec, sizeof flat_spec, "input 784\n");
    for (int l = 0; l < o.depth && len < sizeof flat_spec; l++)
        len += (size_t)snprintf(flat_spec + len, sizeof flat_spec - len, "dense out=%d act=relu\n", o.width);
    if (len < sizeof flat_spec) snprintf(flat_spec + len, sizeof flat_spec - len, "dense out=10\n");

    printf("critnet %s training-step benchmark: MLP 784-%d(x%d)-10 relu, batch %d, SGD lr 0.05 momentum 0.9,"
           " cross-entropy; data %s\n",
           CRITNET_VERSION, o.width, o.depth, o.batch, pool.source);
    printf("OpenBLAS: %s (core %s)\n", openblas_get_config(), openblas_get_corename());

    /* sgemm peak for each thread count */
    double peak[MAX_THREADS] = {0}, peak_machine = 0;
    if (o.sgemm_n > 0)
        for (int i = 0; i < o.nthreads; i++) {
            if (!o.env_threads) cn_set_threads(o.threads[i]);
            peak[i] = sgemm_gflops(o.sgemm_n, o.sgemm_n >= 2048 ? 3 : 5);
            if (peak[i] > peak_machine) peak_machine = peak[i];
            printf("sgemm %dx%d, %d thread(s): %.1f GFLOP/s\n", o.sgemm_n, o.sgemm_n,
                   o.env_threads ? openblas_get_num_threads() : o.threads[i], peak[i]);
        }

    result *res = calloc(2 * MAX_THREADS, sizeof *res);
    int nres = 0, rc = 0;
    if (!res) return 1;
    for (int v = 0; v < 1 + o.flat && !rc; v++)
        for (int i = 0; i < o.nthreads && !rc; i++) {
            if ((rc = run_config(&res[nres], &o, &pool, v ? flat_spec : spec_cli, v, o.threads[i], &err))) {
                fprintf(stderr, "bench_train_mlp: %s\n", err.msg);
                break;
            }
            if (nres == 0)
                printf("training FLOPs per step: %.1f M useful, %.1f M executed\n", res[0].flops.useful / 1e6,
                       res[0].flops.executed / 1e6);
            print_result(&res[nres], o.env_threads ? peak[0] : peak_for(o.threads, peak, o.nthreads, o.threads[i]),
                         peak_machine);
            nres++;
        }
    if (!rc && o.json) {
        FILE *f = fopen(o.json, "w");
        if (!f) {
            fprintf(stderr, "bench_train_mlp: %s: cannot write\n", o.json);
            rc = 1;
        } else {
            fprintf(f, "{\n  \"bench\": \"train_mlp\", \"critnet_version\": \"%s\", \"data\": \"%s\",\n",
                    CRITNET_VERSION, pool.source);
            fprintf(f, "  \"batch\": %d, \"width\": %d, \"depth\": %d, \"steps\": %d, \"warmup\": %d, \"reps\": %d,\n",
                    o.batch, o.width, o.depth, o.steps, o.warmup, o.reps);
            fprintf(f, "  \"thread_mode\": \"%s\", \"openblas\": \"%s\",\n", o.env_threads ? "env" : "cn_set_threads",
                    openblas_get_config());
            fprintf(f, "  \"flops_per_step_useful\": %.0f, \"flops_per_step_executed\": %.0f,\n",
                    nres ? res[0].flops.useful : 0, nres ? res[0].flops.executed : 0);
            fprintf(f, "  \"sgemm\": {\"n\": %d, \"gflops\": {", o.sgemm_n);
            for (int i = 0; i < o.nthreads && o.sgemm_n > 0; i++)
                fprintf(f, "%s\"%d\": %.3f", i ? ", " : "", o.env_threads ? openblas_get_num_threads() : o.threads[i],
                        peak[i]);
            fprintf(f, "}},\n  \"configs\": [\n");
            for (int i = 0; i < nres; i++) {
                double ps = o.env_threads ? peak[0] : peak_for(o.threads, peak, o.nthreads, res[i].threads);
                json_result(f, &res[i], ps, peak_machine);
                fprintf(f, "%s\n", i + 1 < nres ? "," : "");
            }
            fprintf(f, "  ]\n}\n");
            fclose(f);
        }
    }
    free(res);
    cn_free(spec_cli);
    pool_free(&pool);
    return rc ? 1 : 0;
}
