/* proto.h: what the reader and the exporter share of the ONNX file itself: reading its bytes, and the
 * allocator protobuf-c decodes with. Internal to src/onnx/ (it names protobuf-c's types). */
#ifndef CN_ONNX_PROTO_H
#define CN_ONNX_PROTO_H

#include <stdint.h>
#include "onnx.pb-c.h"
#include "onnx/graph.h"

/* The whole file into *buf (cn_malloc'd, *len bytes): refused when not a regular file, empty, or over
 * max_bytes (0: protobuf's own limit), each with a message naming the file. */
int cn_onnx_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, cn_error *err);

/* protobuf-c allocates through critnet's hook, so failed-allocation tests reach the decoder too; *oom is set
 * when an allocation failed, so that a decode that failed for want of memory says so */
ProtobufCAllocator cn_onnx_pb_allocator(int *oom);

/* the index of the tensor named name, or -1 */
int cn_graph_find_tensor(const cn_graph *g, const char *name);

#endif
