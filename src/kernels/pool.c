/* pool.c: the pooling kernels of pool.h: window tables, the max pool's branch-free interior rows, the
 * average pool, their adjoints, whole-plane pools, and the direct-loop references. */
#include <float.h>
#include <string.h>
#include "kernels/pool.h"
#include "kernels/simd.h"

#ifdef CRITNET_DOUBLE
#define EMPTY_WINDOW_MAX (-DBL_MAX)
#else
#define EMPTY_WINDOW_MAX (-FLT_MAX)
#endif

static void axis_windows(cn_pool_window *win, int64_t nout, int64_t in, int64_t k, int64_t stride, int64_t dil,
                         int64_t pad_begin, int64_t pad_end)
{
    /* in closed form, not by stepping tap by tap: a kernel of 2^30 taps over a few inputs and a wide padding
     * is valid, and stepping it took seconds per window */
    for (int64_t o = 0; o < nout; o++) {
        int64_t start = o * stride - pad_begin;
        /* lo: the first tap at or after index 0 */
        int64_t lo = start >= 0 ? 0 : (-start + dil - 1) / dil;
        if (lo > k) lo = k;
        /* hi: one past the last tap before index in (taps t with start + t dil <= in - 1), at least lo */
        int64_t hi = in - 1 - start >= 0 ? (in - 1 - start) / dil + 1 : 0;
        if (hi > k) hi = k;
        if (hi < lo) hi = lo;
        /* padded: the taps before the end of the padded input */
        int64_t padded = in + pad_end - 1 - start >= 0 ? (in + pad_end - 1 - start) / dil + 1 : 0;
        if (padded > k) padded = k;
        win[o] = (cn_pool_window){(int)start, (int)lo, (int)hi, (int)padded};
    }
}

void cn_pool_windows(const cn_pool_geom *q, cn_pool_window *rows, cn_pool_window *cols)
{
    axis_windows(rows, q->ho, q->h, q->kh, q->sh, q->dh, q->pad_top, q->pad_bottom);
    axis_windows(cols, q->wo, q->w, q->kw, q->sw, q->dw, q->pad_left, q->pad_right);
}

/* ------------------------------------------------------------------ max */

/* The largest element of one window (taps r x c of plane xp, row length w) and its offset in *at; NaN wins.
 * The exact path, for windows cut by the border and rows that hold a NaN. */
static cn_real window_max(const cn_real *xp, int64_t w, cn_pool_window r, cn_pool_window c, int64_t dh,
                          int64_t dw, int32_t *at)
{
    int64_t best_at = (r.start + r.lo * dh) * w + c.start + c.lo * dw;
    for (int64_t i = r.lo; i < r.hi; i++) {
        const int64_t row = (r.start + i * dh) * w + c.start;
        for (int64_t j = c.lo; j < c.hi; j++) {
            const cn_real v = xp[row + j * dw];
            if (v > xp[best_at] || v != v) best_at = row + j * dw;
        }
    }
    *at = (int32_t)best_at;
    return xp[best_at];
}

/* The outputs ow in [c0, c1) of one output row, whose windows lie inside the input's width. The taps are the
 * outer loops and the outputs the inner one, so that consecutive outputs are independent instead of one chain
 * of dependent max instructions, and the winner is chosen by a max and a mask, because a branch on data
 * mispredicts on every other tap. A strict > keeps the first of equal elements, as PyTorch does. Returns 0
 * when the row met a NaN, which a max instruction would drop: the caller redoes it on the exact path. */
static int max_row_interior(const cn_real *xp, const cn_pool_geom *q, cn_pool_window r, int64_t c0, int64_t c1,
                            cn_real *yr, int32_t *ar)
{
    const int64_t sw = q->sw, first_col = -q->pad_left;
    int nan = 0;
    const int64_t base0 = (r.start + r.lo * q->dh) * q->w + first_col;
    for (int64_t ow = c0; ow < c1; ow++) {
        yr[ow] = xp[base0 + ow * sw];
        ar[ow] = (int32_t)(base0 + ow * sw);
    }
    for (int64_t i = r.lo; i < r.hi; i++)
        for (int64_t j = 0; j < q->kw; j++) {
            const int32_t base = (int32_t)((r.start + i * q->dh) * q->w + first_col + j * q->dw);
            CN_SIMD_REDUCE(|, nan)
            for (int64_t ow = c0; ow < c1; ow++) {
                const cn_real v = xp[base + ow * sw], b = yr[ow];
                const int32_t wins = -(int32_t)(v > b), at = base + (int32_t)(ow * sw);
                yr[ow] = v > b ? v : b;
                ar[ow] = (at & wins) | (ar[ow] & ~wins);
                nan |= v != v;
            }
        }
    return !nan;
}

/* The columns [*c0, *c1) whose windows have all their taps inside the input's width. */
static void interior_columns(const cn_pool_geom *q, const cn_pool_window *cols, int64_t *c0, int64_t *c1)
{
    int64_t a = 0, b = 0;
    while (a < q->wo && cols[a].lo > 0) a++;
    while (b < q->wo && cols[b].hi == q->kw) b++;
    *c0 = a;
    *c1 = b > a ? b : a;
}

void cn_pool_max_forward(const cn_pool_geom *q, const cn_pool_window *rows, const cn_pool_window *cols,
                         cn_real *y, int32_t *arg, const cn_real *x)
{
    const int64_t in_plane = q->h * q->w, out_plane = q->ho * q->wo;
    int64_t c0, c1;
    interior_columns(q, cols, &c0, &c1);
    for (int64_t p = 0; p < q->planes; p++) {
        const cn_real *xp = x + p * in_plane;
        for (int64_t oh = 0; oh < q->ho; oh++) {
            const cn_pool_window r = rows[oh];
            cn_real *yr = y + p * out_plane + oh * q->wo;
            int32_t *ar = arg + p * out_plane + oh * q->wo;
            const int fast = r.lo < r.hi && max_row_interior(xp, q, r, c0, c1, yr, ar);
            for (int64_t ow = 0; ow < q->wo; ow++) {
                if (fast && ow == c0) ow = c1;
                if (ow >= q->wo) break;
                const cn_pool_window c = cols[ow];
                if (r.lo >= r.hi || c.lo >= c.hi) {
                    yr[ow] = EMPTY_WINDOW_MAX;
                    ar[ow] = -1;
                } else {
                    yr[ow] = window_max(xp, q->w, r, c, q->dh, q->dw, &ar[ow]);
                }
            }
        }
    }
}

void cn_pool_max_jvp(int64_t planes, int64_t in_plane, int64_t out_plane, const int32_t *arg, int64_t stacks,
                     cn_real *ty, const cn_real *tx)
{
    for (int64_t s = 0; s < stacks; s++)
        for (int64_t p = 0; p < planes; p++) {
            const cn_real *tp = tx + (s * planes + p) * in_plane;
            const int32_t *ap = arg + p * out_plane;
            cn_real *yp = ty + (s * planes + p) * out_plane;
            for (int64_t i = 0; i < out_plane; i++) yp[i] = ap[i] >= 0 ? tp[ap[i]] : 0;
        }
}

void cn_pool_max_backward(int64_t planes, int64_t in_plane, int64_t out_plane, const int32_t *arg, cn_real *dx,
                          const cn_real *dy)
{
    memset(dx, 0, (size_t)(planes * in_plane) * sizeof *dx);
    for (int64_t p = 0; p < planes; p++) {
        cn_real *dp = dx + p * in_plane;
        const int32_t *ap = arg + p * out_plane;
        const cn_real *gp = dy + p * out_plane;
        for (int64_t i = 0; i < out_plane; i++)
            if (ap[i] >= 0) dp[ap[i]] += gp[i];
    }
}

/* ------------------------------------------------------------------ average */

static int64_t window_count(cn_pool_window r, cn_pool_window c, int include_pad)
{
    return include_pad ? (int64_t)r.padded * c.padded : (int64_t)(r.hi - r.lo) * (c.hi - c.lo);
}

void cn_pool_avg_forward(const cn_pool_geom *q, const cn_pool_window *rows, const cn_pool_window *cols,
                         int include_pad, cn_real *y, const cn_real *x)
{
    const int64_t in_plane = q->h * q->w, out_plane = q->ho * q->wo, dh = q->dh, dw = q->dw;
    for (int64_t p = 0; p < q->planes; p++) {
        const cn_real *xp = x + p * in_plane;
        for (int64_t oh = 0; oh < q->ho; oh++) {
            const cn_pool_window r = rows[oh];
            cn_real *yr = y + p * out_plane + oh * q->wo;
            for (int64_t ow = 0; ow < q->wo; ow++) {
                const cn_pool_window c = cols[ow];
                double sum = 0;
                for (int64_t i = r.lo; i < r.hi; i++) {
                    const int64_t row = (r.start + i * dh) * q->w + c.start;
                    for (int64_t j = c.lo; j < c.hi; j++) sum += xp[row + j * dw];
                }
                const int64_t count = window_count(r, c, include_pad);
                yr[ow] = count > 0 ? (cn_real)(sum / (double)count) : 0;
            }
        }
    }
}

void cn_pool_avg_backward(const cn_pool_geom *q, const cn_pool_window *rows, const cn_pool_window *cols,
                          int include_pad, cn_real *dx, const cn_real *dy)
{
    const int64_t in_plane = q->h * q->w, out_plane = q->ho * q->wo, dh = q->dh, dw = q->dw;
    memset(dx, 0, (size_t)(q->planes * in_plane) * sizeof *dx);
    for (int64_t p = 0; p < q->planes; p++) {
        cn_real *dp = dx + p * in_plane;
        for (int64_t oh = 0; oh < q->ho; oh++) {
            const cn_pool_window r = rows[oh];
            const cn_real *gr = dy + p * out_plane + oh * q->wo;
            for (int64_t ow = 0; ow < q->wo; ow++) {
                const cn_pool_window c = cols[ow];
                const int64_t count = window_count(r, c, include_pad);
                if (count <= 0) continue;
                const cn_real v = (cn_real)(gr[ow] / (double)count);
                for (int64_t i = r.lo; i < r.hi; i++) {
                    const int64_t row = (r.start + i * dh) * q->w + c.start;
                    for (int64_t j = c.lo; j < c.hi; j++) dp[row + j * dw] += v;
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ whole planes */

void cn_pool_plane_mean(int64_t planes, int64_t size, cn_real *y, const cn_real *x)
{
    for (int64_t p = 0; p < planes; p++) {
        const cn_real *xp = x + p * size;
        double sum = 0;
        CN_SIMD_REDUCE(+, sum)
        for (int64_t i = 0; i < size; i++) sum += xp[i];
        y[p] = size ? (cn_real)(sum / (double)size) : 0;
    }
}

void cn_pool_plane_mean_backward(int64_t planes, int64_t size, cn_real *dx, const cn_real *dy)
{
    for (int64_t p = 0; p < planes; p++) {
        const cn_real v = (cn_real)(dy[p] / (double)size);
        cn_real *dp = dx + p * size;
        for (int64_t i = 0; i < size; i++) dp[i] = v;
    }
}

void cn_pool_plane_max(int64_t planes, int64_t size, cn_real *y, int32_t *arg, const cn_real *x)
{
    for (int64_t p = 0; p < planes; p++) {
        const cn_real *xp = x + p * size;
        if (size == 0) {
            y[p] = EMPTY_WINDOW_MAX;
            arg[p] = -1;
            continue;
        }
        int64_t best_at = 0;
        for (int64_t i = 1; i < size; i++)
            if (xp[i] > xp[best_at] || xp[i] != xp[i]) best_at = i;
        y[p] = xp[best_at];
        arg[p] = (int32_t)best_at;
    }
}

/* ------------------------------------------------------------------ references */

/* whether index i falls inside an axis of length n */
static int inside(int64_t i, int64_t n) { return i >= 0 && i < n; }

void cn_pool_max_forward_naive(const cn_pool_geom *q, cn_real *y, const cn_real *x)
{
    for (int64_t p = 0; p < q->planes; p++)
        for (int64_t oh = 0; oh < q->ho; oh++)
            for (int64_t ow = 0; ow < q->wo; ow++) {
                cn_real best = 0;
                int found = 0;
                for (int64_t i = 0; i < q->kh; i++)
                    for (int64_t j = 0; j < q->kw; j++) {
                        int64_t ih = oh * q->sh - q->pad_top + i * q->dh, iw = ow * q->sw - q->pad_left + j * q->dw;
                        if (!inside(ih, q->h) || !inside(iw, q->w)) continue;
                        cn_real v = x[(p * q->h + ih) * q->w + iw];
                        if (!found || (best == best && (v > best || v != v))) best = v;
                        found = 1;
                    }
                y[(p * q->ho + oh) * q->wo + ow] = found ? best : EMPTY_WINDOW_MAX;
            }
}

void cn_pool_avg_forward_naive(const cn_pool_geom *q, int include_pad, cn_real *y, const cn_real *x)
{
    for (int64_t p = 0; p < q->planes; p++)
        for (int64_t oh = 0; oh < q->ho; oh++)
            for (int64_t ow = 0; ow < q->wo; ow++) {
                double sum = 0;
                int64_t inside_count = 0, padded_count = 0;
                for (int64_t i = 0; i < q->kh; i++)
                    for (int64_t j = 0; j < q->kw; j++) {
                        int64_t ih = oh * q->sh - q->pad_top + i * q->dh, iw = ow * q->sw - q->pad_left + j * q->dw;
                        if (ih < q->h + q->pad_bottom && iw < q->w + q->pad_right) padded_count++;
                        if (!inside(ih, q->h) || !inside(iw, q->w)) continue;
                        sum += x[(p * q->h + ih) * q->w + iw];
                        inside_count++;
                    }
                int64_t count = include_pad ? padded_count : inside_count;
                y[(p * q->ho + oh) * q->wo + ow] = count > 0 ? (cn_real)(sum / (double)count) : 0;
            }
}

/* ------------------------------------------------------------------ 3-D */

void cn_pool3_windows(const cn_pool3_geom *q, cn_pool_window *depths, cn_pool_window *rows, cn_pool_window *cols)
{
    axis_windows(depths, q->dout, q->d, q->kd, q->sd, q->dd, q->pad_front, q->pad_back);
    cn_pool_windows(&q->hw, rows, cols);
}

/* The offset in the (d, h, w) plane of tap (i, j, k) of the window at (dw, r, c). */
static int64_t tap3(const cn_pool3_geom *q, cn_pool_window dw, cn_pool_window r, cn_pool_window c, int64_t i,
                    int64_t j, int64_t k)
{
    return ((dw.start + i * q->dd) * q->hw.h + r.start + j * q->hw.dh) * q->hw.w + c.start + k * q->hw.dw;
}

void cn_pool3_max_forward(const cn_pool3_geom *q, const cn_pool_window *depths, const cn_pool_window *rows,
                          const cn_pool_window *cols, cn_real *y, int32_t *arg, const cn_real *x)
{
    const int64_t in_plane = q->d * q->hw.h * q->hw.w;
    size_t o = 0;
    for (int64_t p = 0; p < q->hw.planes; p++) {
        const cn_real *xp = x + p * in_plane;
        for (int64_t od = 0; od < q->dout; od++)
            for (int64_t oh = 0; oh < q->hw.ho; oh++)
                for (int64_t ow = 0; ow < q->hw.wo; ow++, o++) {
                    const cn_pool_window dw = depths[od], r = rows[oh], c = cols[ow];
                    if (dw.lo >= dw.hi || r.lo >= r.hi || c.lo >= c.hi) {
                        y[o] = EMPTY_WINDOW_MAX;
                        arg[o] = -1;
                        continue;
                    }
                    int64_t best = tap3(q, dw, r, c, dw.lo, r.lo, c.lo);
                    for (int64_t i = dw.lo; i < dw.hi; i++)
                        for (int64_t j = r.lo; j < r.hi; j++)
                            for (int64_t k = c.lo; k < c.hi; k++) {
                                const int64_t at = tap3(q, dw, r, c, i, j, k);
                                if (xp[at] > xp[best] || xp[at] != xp[at]) best = at;
                            }
                    y[o] = xp[best];
                    arg[o] = (int32_t)best;
                }
    }
}

static int64_t window_count3(cn_pool_window dw, cn_pool_window r, cn_pool_window c, int include_pad)
{
    return include_pad ? (int64_t)dw.padded * r.padded * c.padded
                       : (int64_t)(dw.hi - dw.lo) * (r.hi - r.lo) * (c.hi - c.lo);
}

void cn_pool3_avg_forward(const cn_pool3_geom *q, const cn_pool_window *depths, const cn_pool_window *rows,
                          const cn_pool_window *cols, int include_pad, cn_real *y, const cn_real *x)
{
    const int64_t in_plane = q->d * q->hw.h * q->hw.w;
    size_t o = 0;
    for (int64_t p = 0; p < q->hw.planes; p++) {
        const cn_real *xp = x + p * in_plane;
        for (int64_t od = 0; od < q->dout; od++)
            for (int64_t oh = 0; oh < q->hw.ho; oh++)
                for (int64_t ow = 0; ow < q->hw.wo; ow++, o++) {
                    const cn_pool_window dw = depths[od], r = rows[oh], c = cols[ow];
                    double sum = 0;
                    for (int64_t i = dw.lo; i < dw.hi; i++)
                        for (int64_t j = r.lo; j < r.hi; j++)
                            for (int64_t k = c.lo; k < c.hi; k++) sum += xp[tap3(q, dw, r, c, i, j, k)];
                    const int64_t count = window_count3(dw, r, c, include_pad);
                    y[o] = count > 0 ? (cn_real)(sum / (double)count) : 0;
                }
    }
}

void cn_pool3_avg_backward(const cn_pool3_geom *q, const cn_pool_window *depths, const cn_pool_window *rows,
                           const cn_pool_window *cols, int include_pad, cn_real *dx, const cn_real *dy)
{
    const int64_t in_plane = q->d * q->hw.h * q->hw.w;
    memset(dx, 0, (size_t)(q->hw.planes * in_plane) * sizeof *dx);
    size_t o = 0;
    for (int64_t p = 0; p < q->hw.planes; p++) {
        cn_real *dp = dx + p * in_plane;
        for (int64_t od = 0; od < q->dout; od++)
            for (int64_t oh = 0; oh < q->hw.ho; oh++)
                for (int64_t ow = 0; ow < q->hw.wo; ow++, o++) {
                    const cn_pool_window dw = depths[od], r = rows[oh], c = cols[ow];
                    const int64_t count = window_count3(dw, r, c, include_pad);
                    if (count <= 0) continue;
                    const cn_real v = (cn_real)(dy[o] / (double)count);
                    for (int64_t i = dw.lo; i < dw.hi; i++)
                        for (int64_t j = r.lo; j < r.hi; j++)
                            for (int64_t k = c.lo; k < c.hi; k++) dp[tap3(q, dw, r, c, i, j, k)] += v;
                }
    }
}

/* One window of the 3-D references: the max (NaN wins) or the sum of the taps inside the input, and the counts
 * of taps inside the input and inside the padded input. */
static void window3_naive(const cn_pool3_geom *q, const cn_real *xp, int64_t od, int64_t oh, int64_t ow,
                          cn_real *max, double *sum, int64_t *inside_count, int64_t *padded_count)
{
    const cn_pool_geom *h = &q->hw;
    int found = 0;
    *sum = 0, *inside_count = *padded_count = 0;
    for (int64_t i = 0; i < q->kd; i++)
        for (int64_t j = 0; j < h->kh; j++)
            for (int64_t k = 0; k < h->kw; k++) {
                int64_t id = od * q->sd - q->pad_front + i * q->dd, ih = oh * h->sh - h->pad_top + j * h->dh,
                        iw = ow * h->sw - h->pad_left + k * h->dw;
                if (id < q->d + q->pad_back && ih < h->h + h->pad_bottom && iw < h->w + h->pad_right)
                    ++*padded_count;
                if (!inside(id, q->d) || !inside(ih, h->h) || !inside(iw, h->w)) continue;
                cn_real v = xp[(id * h->h + ih) * h->w + iw];
                if (!found || (*max == *max && (v > *max || v != v))) *max = v;
                found = 1;
                *sum += v;
                ++*inside_count;
            }
    if (!found) *max = EMPTY_WINDOW_MAX;
}

void cn_pool3_max_forward_naive(const cn_pool3_geom *q, cn_real *y, const cn_real *x)
{
    size_t o = 0;
    for (int64_t p = 0; p < q->hw.planes; p++)
        for (int64_t od = 0; od < q->dout; od++)
            for (int64_t oh = 0; oh < q->hw.ho; oh++)
                for (int64_t ow = 0; ow < q->hw.wo; ow++, o++) {
                    double sum;
                    int64_t ni, np;
                    window3_naive(q, x + p * q->d * q->hw.h * q->hw.w, od, oh, ow, &y[o], &sum, &ni, &np);
                }
}

void cn_pool3_avg_forward_naive(const cn_pool3_geom *q, int include_pad, cn_real *y, const cn_real *x)
{
    size_t o = 0;
    for (int64_t p = 0; p < q->hw.planes; p++)
        for (int64_t od = 0; od < q->dout; od++)
            for (int64_t oh = 0; oh < q->hw.ho; oh++)
                for (int64_t ow = 0; ow < q->hw.wo; ow++, o++) {
                    cn_real max;
                    double sum;
                    int64_t ni, np;
                    window3_naive(q, x + p * q->d * q->hw.h * q->hw.w, od, oh, ow, &max, &sum, &ni, &np);
                    int64_t count = include_pad ? np : ni;
                    y[o] = count > 0 ? (cn_real)(sum / (double)count) : 0;
                }
}
