/* netactivity.c: a network's activity per block, read as a time series with the block index as time: the
 * number of units whose |output| exceeds a threshold, as neuroscience counts events (spikes, or LFP peaks
 * beyond a multiple of the signal's SD, Beggs & Plenz 2003) per time bin. One threshold for every block and
 * input, so that the count follows the size of the activity through depth. Public network API only. */
#include <math.h>
#include <string.h>
#include "critnet.h"

enum { BATCH = 256 };

/* pass 0: the sum of squares of every measured output; pass 1: the counts beyond th */
static int run_pass(cn_net *net, const cn_real *x, int n, int n0, const cn_block *bl, int L, int pass, double th,
                    double *counts, double *sq, long *nsq, cn_error *err)
{
    for (int i0 = 0; i0 < n; i0 += BATCH) {
        int B = n - i0 < BATCH ? n - i0 : BATCH, rc;
        if ((rc = cn_net_forward(net, x + (size_t)i0 * n0, B, 0))) return cn_net_pass_error(net, rc, err);
        for (int l = 0; l < L; l++) {
            const cn_real *h = cn_net_layer_output(net, bl[l].last);
            int u = bl[l].n_out;
            for (int b = 0; b < B; b++) {
                double s = 0;
                int k = 0;
                for (int j = 0; j < u; j++) {
                    double v = h[(size_t)b * u + j];
                    s += v * v;
                    k += fabs(v) > th;
                }
                if (!isfinite(s))
                    return cn_error_set(err, CN_ERR_NONFINITE, "input %d: the output of block %d is not finite", i0 + b,
                                        l + 1);
                if (pass) counts[(size_t)(i0 + b) * L + l] = k;
                else *sq += s, *nsq += u;
            }
        }
    }
    return CN_OK;
}

int cn_net_activity_counts(cn_net *net, const cn_real *x, int n, int include_readout, double rel_threshold,
                           double abs_threshold, double **counts, int *len, double *threshold, double *rms,
                           cn_error *err)
{
    if (!net || !x || !counts || !len || !threshold || !rms || n < 1)
        return cn_error_set(err, CN_ERR_ARG, "activity counts: no network, no inputs or nowhere to write");
    if (!(abs_threshold > 0) && !(rel_threshold > 0 && isfinite(rel_threshold)))
        return cn_error_set(err, CN_ERR_ARG, "activity counts: threshold %g (relative) / %g (absolute): one must be > 0",
                            rel_threshold, abs_threshold);
    *counts = NULL;
    cn_block *bl = NULL;
    int L, rc = cn_net_blocks(net, include_readout, &bl, &L);
    if (rc) return cn_error_set(err, rc, "activity counts: the network's blocks");
    if (L < 1) {
        cn_free(bl);
        return cn_error_set(err, CN_ERR_ARG, "activity counts: the network has no measured block");
    }
    int n0 = cn_net_in_size(net);
    double sq = 0;
    long nsq = 0;
    /* a forward needs buffers for its batch: the network may have been reserved for fewer rows */
    if ((rc = cn_net_reserve(net, n < BATCH ? n : BATCH, 1))) {
        cn_free(bl);
        return cn_net_pass_error(net, rc, err);
    }
    *rms = NAN;
    if (!(*counts = cn_malloc(sizeof(double) * (size_t)n * L))) rc = cn_error_set(err, CN_ERR_NOMEM, "activity counts: out of memory");
    if (!rc && !(abs_threshold > 0)) {
        rc = run_pass(net, x, n, n0, bl, L, 0, 0, NULL, &sq, &nsq, err);
        *rms = sqrt(sq / (double)nsq);
    }
    *threshold = abs_threshold > 0 ? abs_threshold : rel_threshold * *rms;
    if (!rc) rc = run_pass(net, x, n, n0, bl, L, 1, *threshold, *counts, NULL, NULL, err);
    cn_free(bl);
    if (rc) {
        cn_free(*counts);
        *counts = NULL;
        return rc;
    }
    *len = L;
    return CN_OK;
}
