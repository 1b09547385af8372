/* driven.h: the response of the driven dynamic range (driven.c), which cn_measure's Delta calls per stimulus
 * level when the response is CN_RESP_DRIVEN. */
#ifndef CN_MEASURE_DRIVEN_H
#define CN_MEASURE_DRIVEN_H

#include <stdint.h>
#include "critnet.h"

/* Runs B inputs x (B, in) through blocks 0..last, adding Gaussian noise of RMS s to every unit of every block's
 * input, and adds each input's RMS activity of block `last` to *F_sum. The noise of (seed, block, input, unit)
 * is the same at every s (common random numbers). buf holds (B, the widest block input). */
int cn_dr_driven_pass(cn_net *net, const cn_block *blocks, int last, const cn_real *x, int B, double s,
                      uint64_t seed, cn_real *buf, double *F_sum);

#endif
