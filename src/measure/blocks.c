/* blocks.c: how a chain of layers divides into the blocks that play the role of time steps for the
 * criticality measures (a layer with its nonlinearity; a normalisation belongs to its block). */
#include <stdio.h>
#include <string.h>
#include "critnet.h"
#include "net/traits.h"

int cn_net_blocks(const cn_net *net, int include_readout, cn_block **blocks, int *count)
{
    int n = cn_net_layer_count(net);
    cn_block *b = cn_calloc((size_t)n + 1, sizeof *b);
    if (!b) return CN_ERR_NOMEM;
    int nb = 0, first = 0, in = cn_net_in_size(net), main_layer = -1;
    for (int i = 0; i < n; i++) {
        const int is_main = (cn_net_layer_traits(net, i) & CN_TRAIT_MAIN) != 0;
        if (is_main && main_layer < 0) main_layer = i;
        int close = i == n - 1 || (is_main && !(cn_net_layer_traits(net, i + 1) & CN_TRAIT_JOINS_PREVIOUS));
        if (!close) continue;
        b[nb].first = first;
        b[nb].last = i;
        b[nb].n_in = in;
        b[nb].n_out = cn_net_layer_out_size(net, i);
        const char *tensor = cn_net_layer_name(net, i);
        snprintf(b[nb].name, sizeof b[nb].name, "%s", tensor ? tensor : cn_net_layer_kind(net, main_layer >= 0 ? main_layer : i));
        in = b[nb].n_out;
        nb++;
        first = i + 1;
        main_layer = -1;
    }
    /* the readout is the last block; a network of one block keeps it, or nothing would be left */
    if (!include_readout && nb > 1) nb--;
    *blocks = b;
    *count = nb;
    return CN_OK;
}
