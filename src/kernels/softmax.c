/* softmax.c: the row softmax kernels of softmax.h. */
#include <math.h>
#include "kernels/simd.h"
#include "kernels/softmax.h"

/* the scalar type's own exponential: glibc's expf takes a third of exp's time, and the float build rounds
 * the result to float anyway */
#ifdef CRITNET_DOUBLE
#define real_exp(v) exp(v)
#else
#define real_exp(v) expf(v)
#endif

/* the exponentials are stored in y on the way to their sum, so each is computed once */
void cn_softmax_row(size_t len, const cn_real *x, cn_real *y, int log_out)
{
    cn_real m = -INFINITY;
    for (size_t l = 0; l < len; l++) m = x[l] > m ? x[l] : m;
    double sum = 0;
    for (size_t l = 0; l < len; l++) {
        const cn_real e = real_exp(x[l] - m);
        if (!log_out) y[l] = e;
        sum += e;
    }
    if (log_out) {
        const double ls = log(sum);
        CN_SIMD for (size_t l = 0; l < len; l++) y[l] = (cn_real)((double)x[l] - m - ls);
    } else {
        const double inv = 1.0 / sum;
        CN_SIMD for (size_t l = 0; l < len; l++) y[l] = (cn_real)(y[l] * inv);
    }
}

void cn_softmax_row_jvp(size_t len, const cn_real *y, const cn_real *t, cn_real *ty, int log_out)
{
    double dot = 0;
    if (log_out)
        for (size_t l = 0; l < len; l++) dot += exp((double)y[l]) * t[l];
    else {
        CN_SIMD_SUM(dot)
        for (size_t l = 0; l < len; l++) dot += (double)y[l] * t[l];
    }
    CN_SIMD for (size_t l = 0; l < len; l++) {
        const double d = (double)t[l] - dot;
        ty[l] = (cn_real)(log_out ? d : (double)y[l] * d);
    }
}

void cn_softmax_row_naive(size_t len, const cn_real *x, cn_real *y, int log_out)
{
    double m = x[0], sum = 0;
    for (size_t l = 1; l < len; l++) m = fmax(m, x[l]);
    for (size_t l = 0; l < len; l++) sum += exp(x[l] - m);
    for (size_t l = 0; l < len; l++) y[l] = (cn_real)(log_out ? x[l] - m - log(sum) : exp(x[l] - m) / sum);
}

void cn_softmax_row_jvp_naive(size_t len, const cn_real *x, const cn_real *t, cn_real *ty, int log_out)
{
    /* d s_i / d x_j = s_i (delta_ij - s_j); d log s_i / d x_j = delta_ij - s_j */
    double m = x[0], sum = 0;
    for (size_t l = 1; l < len; l++) m = fmax(m, x[l]);
    for (size_t l = 0; l < len; l++) sum += exp(x[l] - m);
    for (size_t i = 0; i < len; i++) {
        double si = exp(x[i] - m) / sum, acc = 0;
        for (size_t j = 0; j < len; j++) {
            double sj = exp(x[j] - m) / sum;
            acc += (log_out ? (i == j) - sj : si * ((i == j) - sj)) * t[j];
        }
        ty[i] = (cn_real)acc;
    }
}
