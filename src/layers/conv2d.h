/* conv2d.h: geometry of a 2-D convolution and the slow direct reference kernel that tests check the
 * im2col + GEMM layer (conv2d.c) against. */
#ifndef CN_CONV2D_H
#define CN_CONV2D_H

#include "critnet.h"

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

/* Direct loops, accumulated in double: x (B,Cin,H,W), W (Cout,Cin/groups,k,k), b (Cout) or NULL
 * -> y (B,Cout,Ho,Wo) pre-activation. Reference only: no activation, no speed. */
void cn_conv2d_forward_naive(cn_real *y, const cn_real *x, const cn_real *W, const cn_real *b,
                             const cn_conv2d_geom *g, int B);

#endif
