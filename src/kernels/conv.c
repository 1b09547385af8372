/* conv.c: the convolution kernels of conv.h: pointwise, depthwise and im2col + GEMM paths for the forward
 * (which is also the jvp) and the backward, and their direct-loop references. Most of the time goes into
 * GEMMs, so the layout is chosen for them: one group of one example is unrolled at a time, and the column
 * rows follow W's own (M, C/groups, kD, kH, kW) order, so that a group's output is a single W_g col product
 * with no copy of the weights. */
#include <string.h>
#include "core/blas.h"
#include "kernels/conv.h"
#include "kernels/simd.h"

int64_t cn_conv_out_len(int64_t n, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dil)
{
    int64_t span = n + pad_begin + pad_end - dil * (k - 1) - 1;
    return span < 0 ? 0 : span / stride + 1;
}

static int64_t taps_of(const cn_conv_geom *g) { return g->k[0] * g->k[1] * g->k[2]; }
static int64_t out_size(const cn_conv_geom *g) { return g->out[0] * g->out[1] * g->out[2]; }
static int64_t in_size(const cn_conv_geom *g) { return g->in[0] * g->in[1] * g->in[2]; }

int cn_conv_is_pointwise(const cn_conv_geom *g)
{
    for (int a = 0; a < CN_CONV_AXES; a++)
        if (g->k[a] != 1 || g->stride[a] != 1 || g->pad[a] != 0 || g->out[a] != g->in[a]) return 0;
    return 1;
}

int cn_conv_is_depthwise(const cn_conv_geom *g) { return g->groups > 1 && g->c == g->groups; }

size_t cn_conv_col_size(const cn_conv_geom *g)
{
    if (cn_conv_is_pointwise(g) || cn_conv_is_depthwise(g)) return 0;
    return (size_t)(g->c / g->groups * taps_of(g)) * (size_t)out_size(g);
}

/* Output positions o in [lo, hi) whose input index off + o*stride falls inside [0, n). Clipping the loops
 * once per tap keeps the bounds test out of the innermost copy. */
static void valid_range(int64_t off, int64_t stride, int64_t n, int64_t nout, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = off > n - 1 ? 0 : (n - 1 - off) / stride + 1;
    if (h > nout) h = nout;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Where one tap reads: the first input index per axis (may be negative: padding) and the output ranges
 * whose reads fall inside the input. */
typedef struct {
    int64_t first[CN_CONV_AXES], lo[CN_CONV_AXES], hi[CN_CONV_AXES];
} tap_window;

static void tap_window_at(const cn_conv_geom *g, const int64_t tap[CN_CONV_AXES], tap_window *t)
{
    for (int a = 0; a < CN_CONV_AXES; a++) {
        t->first[a] = tap[a] * g->dil[a] - g->pad[a];
        valid_range(t->first[a], g->stride[a], g->in[a], g->out[a], &t->lo[a], &t->hi[a]);
    }
}

/* The input row that output row (od, oh) of a tap reads; index first[2] + ow*stride[2] into it. */
static inline int64_t input_row(const cn_conv_geom *g, const tap_window *t, int64_t od, int64_t oh)
{
    return ((t->first[0] + od * g->stride[0]) * g->in[1] + t->first[1] + oh * g->stride[1]) * g->in[2];
}

/* one group of one example: x (C/groups, D, H, W) -> col (C/groups*taps, Do*Ho*Wo); padding reads as zero */
static void im2col(const cn_conv_geom *g, cn_real *col, const cn_real *x)
{
    const int64_t cg = g->c / g->groups, isz = in_size(g), osz = out_size(g), wo = g->out[2];
    const int64_t plane = g->out[1] * wo, s = g->stride[2];
    cn_real *row = col;
    for (int64_t c = 0; c < cg; c++) {
        const cn_real *xc = x + c * isz;
        int64_t tap[CN_CONV_AXES];
        for (tap[0] = 0; tap[0] < g->k[0]; tap[0]++)
            for (tap[1] = 0; tap[1] < g->k[1]; tap[1]++)
                for (tap[2] = 0; tap[2] < g->k[2]; tap[2]++, row += osz) {
                    tap_window t;
                    tap_window_at(g, tap, &t);
                    for (int64_t od = 0; od < g->out[0]; od++) {
                        cn_real *p = row + od * plane;
                        if (od < t.lo[0] || od >= t.hi[0]) {
                            memset(p, 0, (size_t)plane * sizeof *p);
                            continue;
                        }
                        memset(p, 0, (size_t)(t.lo[1] * wo) * sizeof *p);
                        for (int64_t oh = t.lo[1]; oh < t.hi[1]; oh++) {
                            cn_real *r = p + oh * wo;
                            const cn_real *xr = xc + input_row(g, &t, od, oh) + t.first[2];
                            for (int64_t ow = 0; ow < t.lo[2]; ow++) r[ow] = 0;
                            if (s == 1) {
                                memcpy(r + t.lo[2], xr + t.lo[2], (size_t)(t.hi[2] - t.lo[2]) * sizeof *r);
                            } else {
                                CN_SIMD
                                for (int64_t ow = t.lo[2]; ow < t.hi[2]; ow++) r[ow] = xr[ow * s];
                            }
                            for (int64_t ow = t.hi[2]; ow < wo; ow++) r[ow] = 0;
                        }
                        memset(p + t.hi[1] * wo, 0, (size_t)((g->out[1] - t.hi[1]) * wo) * sizeof *p);
                    }
                }
    }
}

/* The adjoint of im2col: dx (C/groups, D, H, W) += the scatter of col; what fell on padding drops out. */
static void col2im(const cn_conv_geom *g, cn_real *dx, const cn_real *col)
{
    const int64_t cg = g->c / g->groups, isz = in_size(g), osz = out_size(g), wo = g->out[2];
    const int64_t plane = g->out[1] * wo, s = g->stride[2];
    const cn_real *row = col;
    for (int64_t c = 0; c < cg; c++) {
        cn_real *dxc = dx + c * isz;
        int64_t tap[CN_CONV_AXES];
        for (tap[0] = 0; tap[0] < g->k[0]; tap[0]++)
            for (tap[1] = 0; tap[1] < g->k[1]; tap[1]++)
                for (tap[2] = 0; tap[2] < g->k[2]; tap[2]++, row += osz) {
                    tap_window t;
                    tap_window_at(g, tap, &t);
                    for (int64_t od = t.lo[0]; od < t.hi[0]; od++)
                        for (int64_t oh = t.lo[1]; oh < t.hi[1]; oh++) {
                            const cn_real *r = row + od * plane + oh * wo;
                            cn_real *dxr = dxc + input_row(g, &t, od, oh) + t.first[2];
                            for (int64_t ow = t.lo[2]; ow < t.hi[2]; ow++) dxr[ow * s] += r[ow];
                        }
                }
    }
}

/* One example's depthwise convolution: output channel o reads input channel o / (M/C) only. The taps are the
 * outer loops so that each inner loop is a strided axpy along an output row, and the output plane, revisited
 * once per tap, stays in cache. */
static void depthwise_forward(const cn_conv_geom *g, cn_real *y, const cn_real *x, const cn_real *W,
                              const cn_real *b)
{
    const int64_t osz = out_size(g), isz = in_size(g), taps = taps_of(g), mg = g->m / g->groups;
    const int64_t plane = g->out[1] * g->out[2], wo = g->out[2], s = g->stride[2];
    for (int64_t o = 0; o < g->m; o++) {
        cn_real *yo = y + o * osz;
        const cn_real *xc = x + (o / mg) * isz, *wt = W + o * taps;
        const cn_real bias = b ? b[o] : 0;
        CN_SIMD
        for (int64_t j = 0; j < osz; j++) yo[j] = bias;
        int64_t tap[CN_CONV_AXES];
        for (tap[0] = 0; tap[0] < g->k[0]; tap[0]++)
            for (tap[1] = 0; tap[1] < g->k[1]; tap[1]++)
                for (tap[2] = 0; tap[2] < g->k[2]; tap[2]++) {
                    tap_window t;
                    tap_window_at(g, tap, &t);
                    const cn_real wv = *wt++;
                    for (int64_t od = t.lo[0]; od < t.hi[0]; od++)
                        for (int64_t oh = t.lo[1]; oh < t.hi[1]; oh++) {
                            cn_real *yr = yo + od * plane + oh * wo;
                            const cn_real *xr = xc + input_row(g, &t, od, oh) + t.first[2];
                            if (s == 1) {
                                CN_SIMD
                                for (int64_t ow = t.lo[2]; ow < t.hi[2]; ow++) yr[ow] += wv * xr[ow];
                            } else {
                                CN_SIMD
                                for (int64_t ow = t.lo[2]; ow < t.hi[2]; ow++) yr[ow] += wv * xr[ow * s];
                            }
                        }
                }
    }
}

/* Its adjoint for one example: dx (zeroed by the caller) += W^T dy per tap, dW += dy . x per tap, db += sum dy. */
static void depthwise_backward(const cn_conv_geom *g, cn_real *dx, cn_real *dW, cn_real *db, const cn_real *dy,
                               const cn_real *x, const cn_real *W)
{
    const int64_t osz = out_size(g), isz = in_size(g), taps = taps_of(g), mg = g->m / g->groups;
    const int64_t plane = g->out[1] * g->out[2], wo = g->out[2], s = g->stride[2];
    for (int64_t o = 0; o < g->m; o++) {
        const cn_real *dyo = dy + o * osz, *xc = x + (o / mg) * isz, *wt = W + o * taps;
        cn_real *dxc = dx ? dx + (o / mg) * isz : NULL, *dwt = dW ? dW + o * taps : NULL;
        if (db) {
            cn_real sum = 0;
            for (int64_t j = 0; j < osz; j++) sum += dyo[j];
            db[o] += sum;
        }
        int64_t tap[CN_CONV_AXES], ti = 0;
        for (tap[0] = 0; tap[0] < g->k[0]; tap[0]++)
            for (tap[1] = 0; tap[1] < g->k[1]; tap[1]++)
                for (tap[2] = 0; tap[2] < g->k[2]; tap[2]++, ti++) {
                    tap_window t;
                    tap_window_at(g, tap, &t);
                    const cn_real wv = wt[ti];
                    cn_real gw = 0;
                    for (int64_t od = t.lo[0]; od < t.hi[0]; od++)
                        for (int64_t oh = t.lo[1]; oh < t.hi[1]; oh++) {
                            const cn_real *dyr = dyo + od * plane + oh * wo;
                            const int64_t at = input_row(g, &t, od, oh) + t.first[2];
                            const cn_real *xr = xc + at;
                            if (dwt)
                                for (int64_t ow = t.lo[2]; ow < t.hi[2]; ow++) gw += dyr[ow] * xr[ow * s];
                            if (dxc) {
                                cn_real *dxr = dxc + at;
                                for (int64_t ow = t.lo[2]; ow < t.hi[2]; ow++) dxr[ow * s] += wv * dyr[ow];
                            }
                        }
                    if (dwt) dwt[ti] += gw;
                }
    }
}

void cn_conv_forward(const cn_conv_geom *g, cn_real *y, const cn_real *x, const cn_real *W, const cn_real *b,
                     int64_t n, cn_real *col)
{
    const int64_t osz = out_size(g), isz = in_size(g), cg = g->c / g->groups, mg = g->m / g->groups;
    const int64_t kg = cg * taps_of(g);
    const int pointwise = cn_conv_is_pointwise(g), depthwise = cn_conv_is_depthwise(g);
    for (int64_t i = 0; i < n; i++) {
        const cn_real *xi = x + i * g->c * isz;
        cn_real *yi = y + i * g->m * osz;
        if (depthwise) {
            depthwise_forward(g, yi, xi, W, b);
            continue;
        }
        if (b)
            for (int64_t o = 0; o < g->m; o++) {
                cn_real *r = yi + o * osz;
                CN_SIMD
                for (int64_t j = 0; j < osz; j++) r[j] = b[o];
            }
        /* y_g (M/groups, DoHoWo) (+)= W_g (M/groups, kg) col_g (kg, DoHoWo) */
        for (int64_t gi = 0; gi < g->groups; gi++) {
            const cn_real *xg = xi + gi * cg * isz, *columns = xg;
            if (!pointwise) {
                im2col(g, col, xg);
                columns = col;
            }
            cn_matmul(0, 0, (int)mg, (int)osz, (int)kg, 1, W + gi * mg * kg, columns, b ? 1 : 0, yi + gi * mg * osz);
        }
    }
}

void cn_conv_backward(const cn_conv_geom *g, cn_real *dx, cn_real *dW, cn_real *db, const cn_real *dy,
                      const cn_real *x, const cn_real *W, int64_t n, cn_real *col)
{
    const int64_t osz = out_size(g), isz = in_size(g), cg = g->c / g->groups, mg = g->m / g->groups;
    const int64_t kg = cg * taps_of(g);
    const int pointwise = cn_conv_is_pointwise(g), depthwise = cn_conv_is_depthwise(g);
    for (int64_t i = 0; i < n; i++) {
        const cn_real *xi = x + i * g->c * isz, *dyi = dy + i * g->m * osz;
        cn_real *dxi = dx ? dx + i * g->c * isz : NULL;
        if (depthwise) {
            if (dxi) memset(dxi, 0, (size_t)(g->c * isz) * sizeof *dxi);
            depthwise_backward(g, dxi, dW, db, dyi, xi, W);
            continue;
        }
        if (db)
            for (int64_t o = 0; o < g->m; o++) {
                const cn_real *r = dyi + o * osz;
                cn_real sum = 0;
                for (int64_t j = 0; j < osz; j++) sum += r[j];
                db[o] += sum;
            }
        for (int64_t gi = 0; gi < g->groups; gi++) {
            const cn_real *xg = xi + gi * cg * isz, *dyg = dyi + gi * mg * osz, *Wg = W + gi * mg * kg;
            if (dW) {
                /* dW_g (M/groups, kg) += dy_g (M/groups, DoHoWo) col_g^T */
                const cn_real *columns = xg;
                if (!pointwise) {
                    im2col(g, col, xg);
                    columns = col;
                }
                cn_matmul(0, 1, (int)mg, (int)kg, (int)osz, 1, dyg, columns, 1, dW + gi * mg * kg);
            }
            if (!dxi) continue;
            /* dcol_g (kg, DoHoWo) = W_g^T dy_g; for a pointwise convolution dcol is dx itself */
            cn_real *dxg = dxi + gi * cg * isz;
            if (pointwise) {
                cn_matmul(1, 0, (int)kg, (int)osz, (int)mg, 1, Wg, dyg, 0, dxg);
            } else {
                cn_matmul(1, 0, (int)kg, (int)osz, (int)mg, 1, Wg, dyg, 0, col);
                memset(dxg, 0, (size_t)(cg * isz) * sizeof *dxg);
                col2im(g, dxg, col);
            }
        }
    }
}

/* ------------------------------------------------------------------ references */

/* The input index that output position o and tap t read along axis a, or -1 on padding. */
static int64_t read_at(const cn_conv_geom *g, int a, int64_t o, int64_t t)
{
    int64_t i = o * g->stride[a] - g->pad[a] + t * g->dil[a];
    return i >= 0 && i < g->in[a] ? i : -1;
}

/* The one loop nest both references share: for every example e, output channel o and output position (flat
 * index yi) it runs BODY_OUT_BEGIN, then BODY_TAP for every input channel of o's group and tap whose read
 * falls inside the input (flat indices xi and wi), then BODY_OUT_END. */
#define CONV_NAIVE_LOOPS(n, BODY_OUT_BEGIN, BODY_TAP, BODY_OUT_END)                                            \
    do {                                                                                                       \
        const int64_t cg_ = g->c / g->groups, mg_ = g->m / g->groups;                                          \
        for (int64_t e = 0; e < (n); e++)                                                                      \
            for (int64_t o = 0; o < g->m; o++)                                                                 \
                for (int64_t p0 = 0; p0 < g->out[0]; p0++)                                                     \
                    for (int64_t p1 = 0; p1 < g->out[1]; p1++)                                                 \
                        for (int64_t p2 = 0; p2 < g->out[2]; p2++) {                                           \
                            const size_t yi = (size_t)((((e * g->m + o) * g->out[0] + p0) * g->out[1] + p1) *  \
                                                           g->out[2] + p2);                                    \
                            BODY_OUT_BEGIN;                                                                    \
                            for (int64_t cl = 0; cl < cg_; cl++) {                                             \
                                const int64_t c = o / mg_ * cg_ + cl;                                          \
                                for (int64_t t0 = 0; t0 < g->k[0]; t0++)                                       \
                                    for (int64_t t1 = 0; t1 < g->k[1]; t1++)                                   \
                                        for (int64_t t2 = 0; t2 < g->k[2]; t2++) {                             \
                                            int64_t i0 = read_at(g, 0, p0, t0), i1 = read_at(g, 1, p1, t1);    \
                                            int64_t i2 = read_at(g, 2, p2, t2);                                \
                                            if (i0 < 0 || i1 < 0 || i2 < 0) continue;                          \
                                            const size_t xi = (size_t)((((e * g->c + c) * g->in[0] + i0) *     \
                                                                            g->in[1] + i1) * g->in[2] + i2);   \
                                            const size_t wi = (size_t)((((o * cg_ + cl) * g->k[0] + t0) *      \
                                                                            g->k[1] + t1) * g->k[2] + t2);     \
                                            BODY_TAP;                                                          \
                                        }                                                                      \
                            }                                                                                  \
                            BODY_OUT_END;                                                                      \
                        }                                                                                      \
    } while (0)

void cn_conv_forward_naive(const cn_conv_geom *g, cn_real *y, const cn_real *x, const cn_real *W,
                           const cn_real *b, int64_t n)
{
    double acc = 0;
    CONV_NAIVE_LOOPS(n, acc = b ? b[o] : 0, acc += (double)W[wi] * x[xi], y[yi] = (cn_real)acc);
}

void cn_conv_backward_naive(const cn_conv_geom *g, cn_real *dx, cn_real *dW, cn_real *db, const cn_real *dy,
                            const cn_real *x, const cn_real *W, int64_t n)
{
    if (dx) memset(dx, 0, (size_t)(n * g->c * in_size(g)) * sizeof *dx);
    double gy = 0;
    CONV_NAIVE_LOOPS(n, gy = dy[yi]; if (db) db[o] += (cn_real)gy,
                     {
                         if (dW) dW[wi] += (cn_real)(gy * x[xi]);
                         if (dx) dx[xi] += (cn_real)(gy * W[wi]);
                     },
                     (void)0);
}
