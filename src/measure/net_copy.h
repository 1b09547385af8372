/* net_copy.h: a private copy of a network for one measuring thread (a net keeps its forward pass's
 * activations and its work buffers in itself, so two threads cannot share one). */
#ifndef CN_NET_COPY_H
#define CN_NET_COPY_H

#include "critnet.h"

/* *out: the same layers (through its canonical text), parameters and state as net, nothing reserved.
 * CN_ERR_UNSUPPORTED for an imported graph, which has no in-memory copy yet (issue 13's one engine is
 * where that belongs): the caller measures it on one thread. */
int cn_measure_net_copy(cn_net **out, cn_net *net);
/* 1 when cn_measure_net_copy can copy net */
int cn_measure_net_copyable(const cn_net *net);

#endif
