/* predict.c: a network's outputs on a data set, batch by batch in eval mode (running batch-norm statistics,
 * no dropout), for `critnet predict` and anyone who wants the raw logits rather than an accuracy. */
#include "critnet.h"

int cn_predict(cn_net *net, const cn_dataset *d, int batch, int limit, cn_real *out, cn_error *err)
{
    int n = limit > 0 && limit < d->count ? limit : d->count, in = cn_net_in_size(net), classes = cn_net_out_size(net);
    if (in != d->c * d->h * d->w)
        return cn_error_set(err, CN_ERR_ARG, "the model takes %d inputs, the data has %d per example", in,
                            d->c * d->h * d->w);
    if (batch < 1) return cn_error_set(err, CN_ERR_ARG, "batch %d: must be >= 1", batch);
    if (cn_net_batch_limit(net) && batch > cn_net_batch_limit(net)) batch = cn_net_batch_limit(net);
    if (batch > n && n > 0) batch = n;
    cn_net_clear_status(net);
    int rc = cn_net_reserve(net, batch, 1);
    if (rc) return cn_net_status(net, err) ? rc : cn_error_set(err, rc, "out of memory reserving a batch of %d", batch);
    for (int start = 0; start < n; start += batch) {
        int B = n - start < batch ? n - start : batch;
        if ((rc = cn_net_forward(net, d->x + (size_t)start * in, B, 0))) return cn_net_pass_error(net, rc, err);
        const cn_real *y = cn_net_output(net);
        for (size_t i = 0; i < (size_t)B * classes; i++) out[(size_t)start * classes + i] = y[i];
    }
    return CN_OK;
}
