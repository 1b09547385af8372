/* onnx_net.h: what the library's other parts (the regulariser) need of a network that runs an ONNX graph. */
#ifndef CN_ONNX_NET_H
#define CN_ONNX_NET_H
#include "critnet.h"
#include "onnx/graph.h"

/* The graph a net runs, or NULL for a native net. */
cn_graph *cn_net_graph(const cn_net *net);
/* Layers [first_layer, last_layer] of a graph net (segments, onnx_net.c) as nodes [*first, *last) of its graph,
 * with the tensor that enters the first and the one that leaves the last. */
void cn_net_graph_span(const cn_net *net, int first_layer, int last_layer, int *first, int *last, int *in, int *out);
/* Records a failure of a pass the caller ran on the graph, so that cn_net_pass_error reports g->msg. */
void cn_net_graph_failed(cn_net *net, int rc);
#endif
