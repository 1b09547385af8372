/* pool.h: max and average pooling over 2-D windows and over whole planes, written once for every engine: the
 * native maxpool/avgpool/gap layers and the ONNX MaxPool/AveragePool/Global*Pool operators are adapters.
 *
 * The windows follow torch and ONNX: asymmetric pads, dilations, and for averages count_include_pad, which
 * counts the padding a window covers but not what lies beyond it. Each output row and column gets its window's
 * first position, the range of taps inside the input and the count of taps inside the padded input once (a
 * table per axis, cn_pool_windows), so the inner loops carry no bounds tests and no divisions. x is a stack of
 * planes (N*C of them, each H x W); a 1-D pool has H = kH = 1.
 *
 * A max pool is piecewise the identity on one element per window, so its forward records that element (NaN
 * wins, as in PyTorch, so that a NaN is never hidden; of equal elements the first wins) and both the jvp and
 * the backward move the tangent or cotangent through that record. An average pool is linear: its jvp is the
 * same pool of the tangent. Each kernel has a slow, obvious _naive twin that the tests hold it to.
 *
 * 3-D pools (Conv3d nets: MaxPool3d, AvgPool3d) add a depth axis in front of the two: the same tables, one more
 * for the depth, and plain loops over the taps (no branch-free fast path: these pools are rare and small). The
 * max pool's record is then an offset in the (D, H, W) plane, which cn_pool_max_jvp and _backward move through
 * as they do in 2-D.
 */
#ifndef CN_KERNELS_POOL_H
#define CN_KERNELS_POOL_H

#include <stddef.h>
#include <stdint.h>
#include "critnet.h"

typedef struct {
    int64_t planes;                            /* N*C */
    int64_t h, w, kh, kw, sh, sw, dh, dw;      /* input, kernel, strides, dilations */
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t ho, wo;                            /* output (the caller's, from its rounding rule) */
} cn_pool_geom;

/* One output position along an axis: its window starts at input index `start`, taps [lo, hi) fall inside
 * the input, and `padded` taps fall inside the padded input (count_include_pad's divisor). */
typedef struct {
    int start, lo, hi, padded;
} cn_pool_window;

/* Fills rows (ho entries) and cols (wo entries). */
void cn_pool_windows(const cn_pool_geom *q, cn_pool_window *rows, cn_pool_window *cols);

/* y (planes, ho, wo); arg: each output's input offset within its plane (-1: a window of padding only, whose
 * output is the lowest finite value, as onnxruntime gives). */
void cn_pool_max_forward(const cn_pool_geom *q, const cn_pool_window *rows, const cn_pool_window *cols,
                         cn_real *y, int32_t *arg, const cn_real *x);
/* ty = the tangent tx at each output's recorded element. arg covers `planes` planes; tx and ty hold `stacks`
 * stacks of them (K tangents of one batch), and every stack reads the same record. */
void cn_pool_max_jvp(int64_t planes, int64_t in_plane, int64_t out_plane, const int32_t *arg, int64_t stacks,
                     cn_real *ty, const cn_real *tx);
/* dx (planes, h, w) = the scatter of dy onto the recorded elements (overwritten; overlapping windows add). */
void cn_pool_max_backward(int64_t planes, int64_t in_plane, int64_t out_plane, const int32_t *arg, cn_real *dx,
                          const cn_real *dy);

/* y (planes, ho, wo) = window means of x (sums in double); include_pad: divide by the taps inside the padded
 * input, else by the taps inside the input. Also the jvp, on the tangent. */
void cn_pool_avg_forward(const cn_pool_geom *q, const cn_pool_window *rows, const cn_pool_window *cols,
                         int include_pad, cn_real *y, const cn_real *x);
/* Its adjoint: dx (planes, h, w) overwritten. */
void cn_pool_avg_backward(const cn_pool_geom *q, const cn_pool_window *rows, const cn_pool_window *cols,
                          int include_pad, cn_real *dx, const cn_real *dy);

/* The whole plane as one window: means (sums in double) and maxima (arg: offset in the plane, -1 when size
 * is 0), and the mean's adjoint (dx overwritten). */
void cn_pool_plane_mean(int64_t planes, int64_t size, cn_real *y, const cn_real *x);
void cn_pool_plane_mean_backward(int64_t planes, int64_t size, cn_real *dx, const cn_real *dy);
void cn_pool_plane_max(int64_t planes, int64_t size, cn_real *y, int32_t *arg, const cn_real *x);

/* The references: every window by direct loops with a bounds test per tap. */
void cn_pool_max_forward_naive(const cn_pool_geom *q, cn_real *y, const cn_real *x);
void cn_pool_avg_forward_naive(const cn_pool_geom *q, int include_pad, cn_real *y, const cn_real *x);

/* ------------------------------------------------------------------ 3-D: x (planes, d, h, w) */

typedef struct {
    cn_pool_geom hw;                                  /* planes, and the height and width axes */
    int64_t d, kd, sd, dd, pad_front, pad_back, dout; /* the depth axis: input, kernel, stride, dilation, pads, output */
} cn_pool3_geom;

/* Fills depths (dout entries), rows (ho) and cols (wo). */
void cn_pool3_windows(const cn_pool3_geom *q, cn_pool_window *depths, cn_pool_window *rows, cn_pool_window *cols);
/* y (planes, dout, ho, wo); arg: each output's offset in its (d, h, w) plane, -1 for a window of padding only
 * (output: the lowest finite value). NaN wins, the first of equal elements wins, as in 2-D. */
void cn_pool3_max_forward(const cn_pool3_geom *q, const cn_pool_window *depths, const cn_pool_window *rows,
                          const cn_pool_window *cols, cn_real *y, int32_t *arg, const cn_real *x);
/* window means (sums in double), the divisor as in 2-D; also the jvp, on the tangent */
void cn_pool3_avg_forward(const cn_pool3_geom *q, const cn_pool_window *depths, const cn_pool_window *rows,
                          const cn_pool_window *cols, int include_pad, cn_real *y, const cn_real *x);
/* its adjoint: dx (planes, d, h, w) overwritten */
void cn_pool3_avg_backward(const cn_pool3_geom *q, const cn_pool_window *depths, const cn_pool_window *rows,
                           const cn_pool_window *cols, int include_pad, cn_real *dx, const cn_real *dy);
void cn_pool3_max_forward_naive(const cn_pool3_geom *q, cn_real *y, const cn_real *x);
void cn_pool3_avg_forward_naive(const cn_pool3_geom *q, int include_pad, cn_real *y, const cn_real *x);

#endif
