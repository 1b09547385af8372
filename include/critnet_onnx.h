/* critnet_onnx.h: ONNX models in libcritnet (src/onnx/): an ONNX file read as a network of blocks that the
 * measures, evaluation and robustness take like any other. It builds on the network API of critnet.h,
 * which includes it. */
#ifndef CRITNET_ONNX_H
#define CRITNET_ONNX_H

#include "critnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An ONNX file (opset 1-21, one float input with the batch first, operators of docs/onnx.md) as a network
 * of blocks, each a segment of the graph (docs/onnx.md#blocks says where they end). The weights are the
 * file's: its float initializers of two or more values become the net's parameters, and batch norm's running
 * statistics its state (docs/onnx.md#training). Where every operator on the way has a backward, the net
 * trains like a native one (cn_net_trainable); in training mode BatchNormalization uses and updates batch
 * statistics. A pass that fails inside the graph returns its status, and cn_net_status says which node. */
typedef struct {
    const char *blocks; /* comma list of tensor or node names that end blocks, replacing the default (NULL) */
    size_t max_bytes;   /* refuse larger files before reading them (0: 2 GiB - 1, protobuf's limit) */
} cn_onnx_opts;

int cn_net_from_onnx(cn_net **out, const char *path, const cn_onnx_opts *opts, cn_error *err);
/* The batch that the file fixed above 1 and critnet re-batched (its first input axis runs as a batch of any
 * size, once checked to keep the examples apart; docs/onnx.md), or 0. */
int cn_net_onnx_rebatched(const cn_net *net);
/* the same from bytes in memory; name is used in messages */
int cn_net_from_onnx_buffer(cn_net **out, const void *buf, size_t len, const char *name, const cn_onnx_opts *opts,
                            cn_error *err);

/* Writes an imported net as ONNX to path: the file it was read from, with every trained tensor (parameters
 * and batch-norm running statistics) replaced by the net's current values, in each tensor's own type; the
 * graph and everything else as the file had it. Replaced whole or not at all. CN_ERR_UNSUPPORTED for a
 * native net or one read from memory; CN_ERR_IO/FORMAT when the source file can no longer be read. */
int cn_net_export_onnx(const cn_net *net, const char *path, cn_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_ONNX_H */
