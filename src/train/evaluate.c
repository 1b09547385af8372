/* evaluate.c: a network run over a data set in eval mode (running batch-norm statistics, no dropout), batch by
 * batch: the loss and accuracy (cn_evaluate), top-k accuracy (cn_evaluate_topk) and the raw outputs
 * (cn_predict, for `critnet predict`). One driver does the checks, the reserve and the batches for all three. */
#include "critnet.h"

#define EVAL_BATCH 500 /* the default when batch < 1 */

/* what each caller does with one batch's outputs (B, classes), examples start .. start + B - 1 of d */
typedef void (*batch_visit)(const cn_real *out, const cn_dataset *d, int start, int B, int classes, void *user);

/* Runs examples [0, n) of d through net, batch by batch, and hands each batch's outputs to visit. */
static int eval_batches(cn_net *net, const cn_dataset *d, int batch, int n, batch_visit visit, void *user,
                        cn_error *err)
{
    int in = cn_net_in_size(net), classes = cn_net_out_size(net);
    if (in != d->c * d->h * d->w)
        return cn_error_set(err, CN_ERR_ARG, "the model takes %d inputs, the data has %d per example", in,
                            d->c * d->h * d->w);
    if (batch < 1) batch = EVAL_BATCH;
    if (cn_net_batch_limit(net) && batch > cn_net_batch_limit(net)) batch = cn_net_batch_limit(net);
    if (batch > n && n > 0) batch = n;
    cn_net_clear_status(net);
    int rc = cn_net_reserve(net, batch, 1);
    if (rc) return cn_net_status(net, err) ? rc : cn_error_set(err, rc, "out of memory reserving a batch of %d", batch);
    for (int start = 0; start < n; start += batch) {
        int B = n - start < batch ? n - start : batch;
        if ((rc = cn_net_forward(net, d->x + (size_t)start * in, B, 0))) return cn_net_pass_error(net, rc, err);
        visit(cn_net_output(net), d, start, B, classes, user);
    }
    return CN_OK;
}

static int count_of(const cn_dataset *d, int limit) { return limit > 0 && limit < d->count ? limit : d->count; }

typedef struct {
    cn_loss_kind loss;
    double total;
    long hits;
} loss_sums;

static void add_loss(const cn_real *out, const cn_dataset *d, int start, int B, int classes, void *user)
{
    loss_sums *s = user;
    int correct;
    s->total += cn_loss(s->loss, out, d->y + start, B, classes, NULL, &correct) * B;
    s->hits += correct;
}

int cn_evaluate(cn_net *net, const cn_dataset *d, cn_loss_kind loss, int batch, int limit, double *loss_out,
                double *acc_out, cn_error *err)
{
    int n = count_of(d, limit), classes = cn_net_out_size(net);
    if (classes < d->classes)
        return cn_error_set(err, CN_ERR_ARG, "the model has %d outputs, the data %d classes", classes, d->classes);
    loss_sums s = {loss, 0, 0};
    int rc = eval_batches(net, d, batch, n, add_loss, &s, err);
    if (rc) return rc;
    *loss_out = n ? s.total / n : 0;
    *acc_out = n ? (double)s.hits / n : 0;
    return CN_OK;
}

typedef struct {
    int k;
    long hits;
} topk_hits;

static void add_topk(const cn_real *out, const cn_dataset *d, int start, int B, int classes, void *user)
{
    topk_hits *s = user;
    for (int b = 0; b < B; b++) {
        const cn_real *row = out + (size_t)b * classes;
        int y = d->y[start + b], above = 0;
        for (int j = 0; j < classes; j++) above += j != y && !(row[j] < row[y]);
        s->hits += above < s->k;
    }
}

int cn_evaluate_topk(cn_net *net, const cn_dataset *d, int k, int batch, int limit, double *acc_out, cn_error *err)
{
    int n = count_of(d, limit), classes = cn_net_out_size(net);
    if (k < 1 || k > classes) return cn_error_set(err, CN_ERR_ARG, "top-%d: the model has %d outputs", k, classes);
    topk_hits s = {k, 0};
    int rc = eval_batches(net, d, batch, n, add_topk, &s, err);
    if (rc) return rc;
    *acc_out = n ? (double)s.hits / n : 0;
    return CN_OK;
}

static void copy_outputs(const cn_real *out, const cn_dataset *d, int start, int B, int classes, void *user)
{
    cn_real *dst = (cn_real *)user + (size_t)start * classes;
    for (size_t i = 0; i < (size_t)B * classes; i++) dst[i] = out[i];
}

int cn_predict(cn_net *net, const cn_dataset *d, int batch, int limit, cn_real *out, cn_error *err)
{
    if (batch < 1) return cn_error_set(err, CN_ERR_ARG, "batch %d: must be >= 1", batch);
    return eval_batches(net, d, batch, count_of(d, limit), copy_outputs, out, err);
}
