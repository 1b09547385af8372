/* softmax.h: softmax and log-softmax along a contiguous row, and their Jacobians, shared by ONNX
 * Softmax/LogSoftmax and the dynamic range's response (measure.c). Each has a slow, obvious _naive twin. */
#ifndef CN_KERNELS_SOFTMAX_H
#define CN_KERNELS_SOFTMAX_H

#include <stddef.h>
#include "critnet.h"

/* y = softmax(x), or log-softmax with log_out; the largest entry is subtracted first, the sum is in double */
void cn_softmax_row(size_t len, const cn_real *x, cn_real *y, int log_out);
/* From the output y: softmax ty = y * (t - sum(y t)); log-softmax ty = t - sum(exp(y) t). The softmax
 * Jacobian is symmetric, so its jvp is also its backward. */
void cn_softmax_row_jvp(size_t len, const cn_real *y, const cn_real *t, cn_real *ty, int log_out);

/* The references: the definitions term by term, and the Jacobian written out as a len x len matrix. */
void cn_softmax_row_naive(size_t len, const cn_real *x, cn_real *y, int log_out);
void cn_softmax_row_jvp_naive(size_t len, const cn_real *x, const cn_real *t, cn_real *ty, int log_out);

#endif
