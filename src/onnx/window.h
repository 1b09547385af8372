/* window.h: the window attributes that ONNX Conv, MaxPool and AveragePool share: auto_pad, the per-axis INTS
 * (kernel_shape, strides, dilations, pads) and the output size and pads along one axis. */
#ifndef CN_ONNX_WINDOW_H
#define CN_ONNX_WINDOW_H

#include "onnx/graph.h"

/* at most this many spatial axes; an INTS attribute is read into an array of 2 * CN_ONNX_WINDOW_AXES */
enum { CN_ONNX_WINDOW_AXES = 3 };

enum { CN_PAD_NOTSET, CN_PAD_VALID, CN_PAD_SAME_UPPER, CN_PAD_SAME_LOWER };

/* auto_pad into *kind (CN_PAD_*), or a failure naming the node */
int cn_onnx_auto_pad(cn_graph *g, const cn_node *n, int *kind);
/* An INTS attribute with `count` entries into v (room for 2 * CN_ONNX_WINDOW_AXES), each in [lo, INT_MAX] so
 * that the size arithmetic cannot overflow; def fills it when absent. */
int cn_onnx_axis_ints(cn_graph *g, const cn_node *n, const char *name, int count, int64_t lo, int64_t def,
                      int64_t *v);
/* Output size *out and pads along one axis (pads in: the attribute's; out: the ones in force). Explicit pads:
 * floor, or with ceil_mode ceil without a last window that would start in the end padding; SAME_*:
 * ceil(in/stride) with the padding split as ONNX does (the odd one at the end for UPPER, at the start for
 * LOWER); VALID: no padding. Fails, naming the node and `axis`, on an empty or oversized output. */
int cn_onnx_axis_geometry(cn_graph *g, const cn_node *n, const char *axis, int auto_pad, int ceil_mode, int64_t in,
                          int64_t k, int64_t stride, int64_t dil, int64_t *pad_begin, int64_t *pad_end, int64_t *out);

#endif
