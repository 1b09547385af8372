/* conv2d.h: the geometry of the native conv layer (square kernels, one pad), which conv2d.c turns into
 * the shared kernels' geometry (kernels/conv.h). */
#ifndef CN_CONV2D_H
#define CN_CONV2D_H

#include "critnet.h"
#include "kernels/conv.h"

typedef struct {
    int cin, h, w;   /* input (Cin, H, W) */
    int cout;        /* output channels */
    int k;           /* square kernel */
    int stride, pad, dilation, groups;
} cn_conv2d_geom;

/* Output length along one axis, as torch.nn.Conv2d: floor((n + 2 pad - dil (k-1) - 1) / stride) + 1.
 * Zero or negative when the dilated kernel does not fit. */
static inline int cn_conv2d_out_dim(int n, int k, int stride, int pad, int dilation)
{
    int span = n + 2 * pad - dilation * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

/* The kernel geometry (kernels/conv.h) of this square 2-D convolution. */
void cn_conv2d_kernel_geom(const cn_conv2d_geom *g, cn_conv_geom *out);

#endif
