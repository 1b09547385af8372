/* act.h: the activation kernels on arrays, phi, phi' and phi'' (kernels/act.c), shared by every layer with a
 * fused activation (dense, conv, norms, residual, act) and by the criticality regulariser. Their slow, obvious
 * twins are the scalar definitions cn_act_value, cn_act_deriv and cn_act_deriv2 (critnet.h), in double. */
#ifndef CN_KERNELS_ACT_H
#define CN_KERNELS_ACT_H

#include <stddef.h>
#include "critnet.h"

/* y = phi(z) for n values; z is the pre-activation. */
void cn_act_forward(cn_act a, const cn_real *z, cn_real *y, size_t n);
/* dz = dy * phi'(z); y = phi(z), or NULL: tanh and sigmoid take their derivative from it, saving a libm call */
void cn_act_backward(cn_act a, const cn_real *z, const cn_real *y, const cn_real *dy, cn_real *dz, size_t n);
/* phi'(z) into d1 and phi''(z) into d2 (either may be NULL); y as for cn_act_backward */
void cn_act_derivs(cn_act a, const cn_real *z, const cn_real *y, cn_real *d1, cn_real *d2, size_t n);
/* t = t * phi'(z) for K tangent blocks of n values each (z has n values) */
void cn_act_jvp(cn_act a, const cn_real *z, cn_real *t, size_t n, int K);

#endif
