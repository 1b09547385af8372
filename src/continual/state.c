/* state.c: the continual run's part of model.cnm (the checkpoint's extension block). Little-endian, fixed
 * width, in this order:
 *   "CNCONT\0\0"  u32 version  u32 methods  u32 tasks_done  u64 steps_done  u64 crit_skipped
 *   u32 n_in + i32 perm[n_in]                       the composed permutation of the last task
 *   u64 bytes + data stream state, u64 bytes + method stream state (MT19937)
 *   u32 rows + per row: u32 task, f64 accuracy loss dead_fraction mean_abs_weight effective_rank sigma
 *                       lambda0, i64 replaced
 *   u64 n + f32 theta0[n]                           l2init's initial parameters (n = 0 without l2init)
 *   u32 layers + per cbp layer: u32 units, f64 accumulated, then per unit f64 util, f64 mean, i64 age
 * The model, the optimizer state and the settings are the checkpoint's own fields; its CRC covers this. */
#include <math.h>
#include <string.h>
#include "continual/run.h"
#include "continual/tasks.h"

#define STATE_MAGIC "CNCONT\0"
#define STATE_VERSION 1u

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int failed;
} buf;

static void put(buf *b, const void *v, size_t n)
{
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = cn_malloc(cap);
        if (!q) {
            b->failed = 1;
            return;
        }
        if (b->len) memcpy(q, b->p, b->len);
        cn_free(b->p);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, v, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    put(b, x, 4);
}

static void put_u64(buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_f64(buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

static void put_rng(buf *b, const cn_rng *r)
{
    size_t n = cn_rng_state_size(r);
    put_u64(b, n);
    put(b, cn_rng_state(r), n);
}

int cl_state_encode(const cn_continual *c, unsigned char **out, size_t *size)
{
    buf b = {0};
    put(&b, STATE_MAGIC, 8);
    put_u32(&b, STATE_VERSION);
    put_u32(&b, c->cfg.methods);
    put_u32(&b, (uint32_t)c->tasks_done);
    put_u64(&b, (uint64_t)c->steps_done);
    put_u64(&b, (uint64_t)c->crit_skipped);
    put_u32(&b, (uint32_t)c->n_in);
    for (int j = 0; j < c->n_in; j++) put_u32(&b, (uint32_t)c->perm[j]);
    put_rng(&b, c->rng_data);
    put_rng(&b, c->rng_method);
    put_u32(&b, (uint32_t)c->tasks_done);
    for (int t = 0; t < c->tasks_done; t++) {
        const cn_continual_row *r = &c->rows[t];
        put_u32(&b, (uint32_t)r->task);
        const double v[7] = {r->accuracy, r->loss, r->dead_fraction, r->mean_abs_weight, r->effective_rank,
                             r->sigma, r->lambda0};
        for (int k = 0; k < 7; k++) put_f64(&b, v[k]);
        put_u64(&b, (uint64_t)(int64_t)r->replaced);
    }
    size_t n0 = c->theta0 ? c->net ? cn_net_param_count(c->net) : 0 : 0;
    put_u64(&b, n0);
    for (size_t i = 0; i < n0; i++) {
        float f = (float)c->theta0[i];
        uint32_t u;
        memcpy(&u, &f, 4);
        put_u32(&b, u);
    }
    put_u32(&b, c->cbp ? (uint32_t)c->cbp->L : 0);
    for (int l = 0; c->cbp && l < c->cbp->L; l++) {
        const cn_cbp_layer *y = &c->cbp->layers[l];
        put_u32(&b, (uint32_t)y->n);
        put_f64(&b, y->accumulated);
        for (int i = 0; i < y->n; i++) {
            put_f64(&b, y->util[i]);
            put_f64(&b, y->mean_act[i]);
            put_u64(&b, (uint64_t)y->age[i]);
        }
    }
    if (b.failed) {
        cn_free(b.p);
        return CN_ERR_NOMEM;
    }
    *out = b.p;
    *size = b.len;
    return CN_OK;
}

typedef struct {
    const unsigned char *p;
    size_t left;
} rd;

static int take(rd *r, void *out, size_t n)
{
    if (r->left < n) return 0;
    if (out) memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 1;
}

static int get_u32(rd *r, uint32_t *v)
{
    unsigned char x[4];
    if (!take(r, x, 4)) return 0;
    *v = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
    return 1;
}

static int get_u64(rd *r, uint64_t *v)
{
    uint32_t lo, hi;
    if (!get_u32(r, &lo) || !get_u32(r, &hi)) return 0;
    *v = (uint64_t)hi << 32 | lo;
    return 1;
}

static int get_f64(rd *r, double *v)
{
    uint64_t u;
    if (!get_u64(r, &u)) return 0;
    memcpy(v, &u, 8);
    return 1;
}

static int get_rng(rd *r, cn_rng *rng)
{
    uint64_t n;
    if (!get_u64(r, &n) || n != cn_rng_state_size(rng) || n > r->left) return 0;
    int ok = cn_rng_set_state(rng, r->p, (size_t)n) == CN_OK;
    take(r, NULL, (size_t)n);
    return ok;
}

#define BAD(...) return cn_error_set(err, CN_ERR_FORMAT, __VA_ARGS__)

int cl_state_decode(cn_continual *c, const unsigned char *data, size_t size, cn_error *err)
{
    rd r = {data, size};
    char magic[8];
    uint32_t version, methods, done, n_in, nrows, layers;
    uint64_t steps, skipped, n0;
    if (!take(&r, magic, 8) || memcmp(magic, STATE_MAGIC, 8)) BAD("not the state of a continual run");
    if (!get_u32(&r, &version) || version != STATE_VERSION)
        BAD("continual state version %u, this build reads version %u", version, STATE_VERSION);
    if (!get_u32(&r, &methods) || !get_u32(&r, &done) || !get_u64(&r, &steps) || !get_u64(&r, &skipped) ||
        !get_u32(&r, &n_in))
        BAD("truncated continual state");
    if ((int64_t)steps < 0 || (int64_t)skipped < 0 || skipped > steps)
        BAD("%lld steps with %lld skipped is not a count of steps", (long long)(int64_t)steps, (long long)(int64_t)skipped);
    if (methods != c->cfg.methods) BAD("the checkpoint's methods (bits %#x) differ from this run's (%#x)", methods,
                                       c->cfg.methods);
    if (done > (uint32_t)c->cfg.tasks) BAD("the checkpoint has %u tasks done, this run only %d", done, c->cfg.tasks);
    if (n_in != (uint32_t)c->n_in) BAD("the checkpoint's permutation has %u pixels, the data %d", n_in, c->n_in);
    for (int j = 0; j < c->n_in; j++) {
        uint32_t v;
        if (!get_u32(&r, &v)) BAD("truncated permutation");
        c->perm[j] = (int32_t)v;
    }
    int perm_ok = cl_perm_valid(c->perm, c->n_in);
    if (perm_ok < 0) return cn_error_set(err, CN_ERR_NOMEM, "out of memory checking the stored pixel permutation");
    if (perm_ok != 1) BAD("the stored pixel permutation is not a permutation");
    if (!get_rng(&r, c->rng_data) || !get_rng(&r, c->rng_method)) BAD("bad random-stream state");
    if (!get_u32(&r, &nrows) || nrows != done) BAD("%u task rows for %u tasks done", nrows, done);
    for (uint32_t t = 0; t < nrows; t++) {
        cn_continual_row *w = &c->rows[t];
        uint32_t task;
        uint64_t rep;
        double v[7];
        int ok = get_u32(&r, &task);
        for (int k = 0; k < 7; k++) ok = ok && get_f64(&r, &v[k]);
        if (!ok || !get_u64(&r, &rep) || task != t + 1) BAD("truncated or misnumbered task row %u", t + 1);
        /* the CRC catches damage on disk; these catch a state that was written wrong, before tasks.csv is
         * rewritten from it (a fraction is nan only where nothing was measured) */
        if (!(v[0] >= 0 && v[0] <= 1)) BAD("task row %u: online accuracy %g is not in [0, 1]", t + 1, v[0]);
        if (!(v[2] >= 0 && v[2] <= 1) && !isnan(v[2]))
            BAD("task row %u: dead fraction %g is not in [0, 1]", t + 1, v[2]);
        if ((int64_t)rep < 0) BAD("task row %u: %lld units replaced", t + 1, (long long)(int64_t)rep);
        *w = (cn_continual_row){(int)task, v[0], v[1], v[2], v[3], v[4], v[5], v[6], (long)(int64_t)rep};
    }
    if (!get_u64(&r, &n0) || n0 != (c->theta0 ? cn_net_param_count(c->net) : 0))
        BAD("initial parameters for l2init: %llu stored, %zu expected", (unsigned long long)n0,
            c->theta0 ? cn_net_param_count(c->net) : 0);
    for (uint64_t i = 0; i < n0; i++) {
        uint32_t u;
        float f;
        if (!get_u32(&r, &u)) BAD("truncated initial parameters");
        memcpy(&f, &u, 4);
        c->theta0[i] = f;
    }
    if (!get_u32(&r, &layers) || layers != (c->cbp ? (uint32_t)c->cbp->L : 0))
        BAD("continual backprop state for %u layers, %d expected", layers, c->cbp ? c->cbp->L : 0);
    for (uint32_t l = 0; l < layers; l++) {
        cn_cbp_layer *y = &c->cbp->layers[l];
        uint32_t n;
        if (!get_u32(&r, &n) || n != (uint32_t)y->n || !get_f64(&r, &y->accumulated))
            BAD("continual backprop layer %u: wrong size", l + 1);
        for (int i = 0; i < y->n; i++) {
            uint64_t age;
            if (!get_f64(&r, &y->util[i]) || !get_f64(&r, &y->mean_act[i]) || !get_u64(&r, &age))
                BAD("truncated continual backprop state");
            if ((int64_t)age < 0 || (int64_t)age > (int64_t)steps)
                BAD("continual backprop layer %u, unit %d: age %lld beyond the run's %llu steps", l + 1, i + 1,
                    (long long)(int64_t)age, (unsigned long long)steps);
            y->age[i] = (int64_t)age;
        }
    }
    if (r.left) BAD("%zu unexpected bytes after the continual state", r.left);
    c->tasks_done = (int)done;
    c->task_begun = (int)done;
    c->steps_done = (long)steps;
    c->crit_skipped = (long)skipped;
    return CN_OK;
}
