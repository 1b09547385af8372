/* conv.h: convolution over 1, 2 or 3 spatial axes, as torch.nn.Conv1d/2d/3d and ONNX Conv, written once for
 * every engine: the native conv layer and the ONNX Conv operator are adapters over these kernels.
 *
 * Layouts follow PyTorch: x (N, C, D, H, W), W (M, C/groups, kD, kH, kW), b (M), y (N, M, Do, Ho, Wo). A 2-D
 * convolution is the 3-D one with D = kD = 1, a 1-D one also has H = kH = 1. Only the begin pads enter the
 * arithmetic: the end pads (asymmetric in ONNX) only decide the output size, which the caller computes.
 *
 * Three paths, picked from the geometry:
 *   pointwise (1x1x1, stride 1, no pad): each group's (C/groups, DHW) input already is its column matrix;
 *   depthwise (one input channel per group): direct loops over the taps; a GEMM of one row wastes most of
 *             its time on overhead;
 *   general: im2col of one group of one example into col (C/groups*taps, Do*Ho*Wo), then one GEMM.
 * Each has a slow, obvious _naive twin (direct loops, accumulated in double) that the tests hold it to.
 */
#ifndef CN_KERNELS_CONV_H
#define CN_KERNELS_CONV_H

#include <stddef.h>
#include <stdint.h>
#include "critnet.h"

enum { CN_CONV_AXES = 3 };

typedef struct {
    int64_t c, m, groups;       /* input channels, output channels, groups (dividing both) */
    int64_t in[CN_CONV_AXES];   /* D, H, W of the input; unused leading axes are 1 */
    int64_t k[CN_CONV_AXES];    /* kernel extent per axis (1 on unused axes) */
    int64_t stride[CN_CONV_AXES], dil[CN_CONV_AXES], pad[CN_CONV_AXES]; /* pad: the begin pad */
    int64_t out[CN_CONV_AXES];  /* output extent per axis (the caller's, from both pads) */
} cn_conv_geom;

/* Output length along one axis, as torch and ONNX (explicit pads): floor((n + pads - dil (k-1) - 1) / stride) + 1;
 * zero when the dilated kernel does not fit. */
int64_t cn_conv_out_len(int64_t n, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dil);

int cn_conv_is_pointwise(const cn_conv_geom *g);
int cn_conv_is_depthwise(const cn_conv_geom *g);
/* Elements of the column scratch that forward and backward need (0: the geometry takes a direct path). */
size_t cn_conv_col_size(const cn_conv_geom *g);

/* y (n, M, out) = conv(x) + b; b may be NULL (the jvp: a convolution is linear in its input). col: scratch of
 * cn_conv_col_size elements (NULL when that is 0). n is any count of examples: K tangents of B examples run as
 * one call over K*B. */
void cn_conv_forward(const cn_conv_geom *g, cn_real *y, const cn_real *x, const cn_real *W, const cn_real *b,
                     int64_t n, cn_real *col);
/* The vector-Jacobian product: dx (n, C, in) = conv^T(dy), overwritten (NULL: not wanted); dW and db
 * accumulated (+=; either NULL: not wanted); x is the forward's input. col as for cn_conv_forward. */
void cn_conv_backward(const cn_conv_geom *g, cn_real *dx, cn_real *dW, cn_real *db, const cn_real *dy,
                      const cn_real *x, const cn_real *W, int64_t n, cn_real *col);

/* The references: the same contracts by direct loops over every output and tap, accumulated in double. */
void cn_conv_forward_naive(const cn_conv_geom *g, cn_real *y, const cn_real *x, const cn_real *W,
                           const cn_real *b, int64_t n);
void cn_conv_backward_naive(const cn_conv_geom *g, cn_real *dx, cn_real *dW, cn_real *db, const cn_real *dy,
                            const cn_real *x, const cn_real *W, int64_t n);

#endif
