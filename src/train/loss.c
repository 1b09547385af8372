/* loss.c: cross-entropy (log-softmax) and mean squared error against one-hot targets, as PyTorch's
 * CrossEntropyLoss and MSELoss with mean reduction. Sums run in double. */
#include <math.h>
#include "critnet.h"

static int argmax(const cn_real *v, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

double cn_loss(cn_loss_kind kind, const cn_real *logits, const int32_t *labels, int batch, int classes,
               cn_real *dlogits, int *correct)
{
    double total = 0;
    int hits = 0;
    for (int i = 0; i < batch; i++) {
        const cn_real *z = logits + (size_t)i * classes;
        cn_real *dz = dlogits ? dlogits + (size_t)i * classes : NULL;
        int y = labels[i];
        hits += argmax(z, classes) == y;
        if (kind == CN_LOSS_MSE) {
            for (int j = 0; j < classes; j++) {
                double diff = z[j] - (j == y);
                total += diff * diff;
                if (dz) dz[j] = (cn_real)(2 * diff / ((double)batch * classes));
            }
            continue;
        }
        double zmax = z[argmax(z, classes)], sum = 0;
        for (int j = 0; j < classes; j++) sum += exp(z[j] - zmax);
        double logsum = zmax + log(sum);
        total += logsum - z[y];
        if (dz)
            for (int j = 0; j < classes; j++) dz[j] = (cn_real)((exp(z[j] - logsum) - (j == y)) / batch);
    }
    if (correct) *correct = hits;
    return kind == CN_LOSS_MSE ? total / ((double)batch * classes) : total / batch;
}
