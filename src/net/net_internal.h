/* net_internal.h: the network object, shared by the net, checkpoint and measurement code. */
#ifndef CN_NET_INTERNAL_H
#define CN_NET_INTERNAL_H

#include "net/chain.h"

struct cn_net {
    cn_chain chain;
    cn_shape in;
    size_t nparams, nstate;
    cn_real *params, *grads, *state; /* flat buffers; layers hold views */
    struct cn_graph *graph;          /* an imported ONNX graph the layers run (inference only), or NULL */
    int *failed;                     /* with a graph: the status of the first failure since the last clear */
};

int cn_spec_parse(cn_chain *out, cn_shape *in_shape, const char *text, cn_error *err);
/* hands the RNG to every dropout layer, nested ones included (NULL: dropout acts as identity) */
void cn_net_set_dropout_rng(cn_net *net, cn_rng *rng);

#endif
