/* blocks.h: where an ONNX graph divides into the blocks the criticality measures step through. */
#ifndef CN_ONNX_BLOCKS_H
#define CN_ONNX_BLOCKS_H

#include "onnx/graph.h"

/* ends[0..*count) receive the indices of the nodes after which a block ends, in graph order (the last
 * segment, up to the output, is the readout and is not listed). names: NULL for the default rule, else a
 * comma list of tensor or node names that must lie on the main path. Needs cn_graph_mark_active first. */
int cn_onnx_block_ends(cn_graph *g, const char *names, int *ends, int *count, cn_error *err);

#endif
