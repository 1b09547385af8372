/* traits.h: what the rest of the library may ask of a layer without knowing its kind. Each layer kind's op
 * table (layers/layer.h) carries its traits as flags, so that block division, the regulariser and the
 * network's plumbing test a bit instead of comparing kind names. */
#ifndef CN_NET_TRAITS_H
#define CN_NET_TRAITS_H

#include "critnet.h"

enum {
    /* carries a block's transformation: a criticality block ends after it (measure/blocks.c) */
    CN_TRAIT_MAIN = 1u << 0,
    /* a normalisation or activation that belongs to the block of the layer before it */
    CN_TRAIT_JOINS_PREVIOUS = 1u << 1,
    /* the criticality regulariser's tangent pass and its reverse handle it (train/critreg.c) */
    CN_TRAIT_CRITREG = 1u << 2,
    /* draws random numbers in training (dropout): it takes the net's RNG */
    CN_TRAIT_RANDOM = 1u << 3,
    /* normalises with batch statistics in training (batch norm), so a bias before it is redundant */
    CN_TRAIT_BATCH_STATS = 1u << 4,
    /* a fully connected layer, W (out, in) then b (out): the batch-1 fast paths of continual learning */
    CN_TRAIT_DENSE = 1u << 5,
    /* only reshapes: the identity on the values */
    CN_TRAIT_RESHAPE = 1u << 6,
};

/* the traits of layer i of the top-level chain */
unsigned cn_net_layer_traits(const cn_net *net, int i);

#endif
