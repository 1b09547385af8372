/* block_gain.h: where a block's gain is turned: the multiplicative parameters that the critical
 * initialisation and the homeostatic controller scale by one common factor (internal; the rule is in
 * critnet_control.h and block_gain.c). */
#ifndef CN_BLOCK_GAIN_H
#define CN_BLOCK_GAIN_H

#include "critnet.h"

typedef struct {
    cn_real *p;       /* a slice of the net's flat parameter buffer */
    size_t n;
} cn_gain_slice;

typedef struct {
    cn_gain_slice part[2]; /* the block's path; a residual block with a projection: its body and its skip */
    int parts;             /* 0: the block has no gain parameters */
} cn_block_gain;

/* CN_OK, with g->parts 0 when the block has no gain parameters (native layers, or a graph's nodes). */
int cn_block_gain_find(cn_net *net, const cn_block *blk, cn_block_gain *g);
void cn_block_gain_scale(const cn_block_gain *g, double factor);

#endif
