/* dropout.h: how the network lends its training RNG to a dropout layer. */
#ifndef CN_DROPOUT_H
#define CN_DROPOUT_H

#include "layers/layer.h"

/* rng is borrowed, not owned, and must outlive the passes that use it; with NULL, train mode behaves as
 * eval (identity). Does nothing when L is not a dropout layer, so the net may call it on every layer. */
void cn_dropout_set_rng(cn_layer *L, cn_rng *rng);

#endif
