/* data.h: private helpers shared by the data readers in src/data (not part of the public API). */
#ifndef CN_DATA_H
#define CN_DATA_H

#include "critnet.h"

/* Loads DIR/data_batch_1..5.bin into train and DIR/test_batch.bin into test. */
int cn_cifar10_load(cn_data *out, const char *dir, cn_error *err);

/* Scales bytes to [0,1] in cn_real: x[i] = b[i] / 255, through a table so the result is exact and the
 * same in every reader. */
void cn_bytes_to_real(cn_real *x, const unsigned char *b, size_t n);

#endif
