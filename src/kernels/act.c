/* act.c: activation functions, their first and second derivatives (the scalar definitions, in double), and
 * the array kernels of act.h that the layers with a fused activation and the regulariser share. */
#include <math.h>
#include <string.h>
#include "kernels/act.h"

#define LEAKY_SLOPE 0.01
#define SQRT1_2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

static const char *const act_names[] = {"identity", "relu", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "elu"};
_Static_assert(sizeof act_names / sizeof act_names[0] == CN_ACT_COUNT, "one name per activation");

const char *cn_act_name(cn_act a) { return (unsigned)a < CN_ACT_COUNT ? act_names[a] : "?"; }

int cn_act_from_name(const char *name, cn_act *out)
{
    for (int i = 0; i < CN_ACT_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0) {
            *out = (cn_act)i;
            return CN_OK;
        }
    if (strcmp(name, "linear") == 0 || strcmp(name, "none") == 0) {
        *out = CN_ACT_IDENTITY;
        return CN_OK;
    }
    return CN_ERR_ARG;
}

static double sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }

double cn_act_value(cn_act a, double z)
{
    switch (a) {
    case CN_ACT_IDENTITY: return z;
    case CN_ACT_RELU: return z > 0 ? z : 0;
    case CN_ACT_LEAKY_RELU: return z > 0 ? z : LEAKY_SLOPE * z;
    case CN_ACT_TANH: return tanh(z);
    case CN_ACT_SIGMOID: return sigmoid(z);
    case CN_ACT_GELU: return 0.5 * z * (1.0 + erf(z * SQRT1_2));
    case CN_ACT_SILU: return z * sigmoid(z);
    case CN_ACT_ELU: return z > 0 ? z : expm1(z);
    default: return NAN;
    }
}

double cn_act_deriv(cn_act a, double z)
{
    switch (a) {
    case CN_ACT_IDENTITY: return 1;
    case CN_ACT_RELU: return z > 0 ? 1 : 0;
    case CN_ACT_LEAKY_RELU: return z > 0 ? 1 : LEAKY_SLOPE;
    case CN_ACT_TANH: { double t = tanh(z); return 1 - t * t; }
    case CN_ACT_SIGMOID: { double s = sigmoid(z); return s * (1 - s); }
    case CN_ACT_GELU: return 0.5 * (1.0 + erf(z * SQRT1_2)) + z * INV_SQRT_2PI * exp(-0.5 * z * z);
    case CN_ACT_SILU: { double s = sigmoid(z); return s * (1 + z * (1 - s)); }
    case CN_ACT_ELU: return z > 0 ? 1 : exp(z);
    default: return NAN;
    }
}

double cn_act_deriv2(cn_act a, double z)
{
    switch (a) {
    case CN_ACT_IDENTITY: case CN_ACT_RELU: case CN_ACT_LEAKY_RELU: return 0;
    case CN_ACT_TANH: { double t = tanh(z); return -2 * t * (1 - t * t); }
    case CN_ACT_SIGMOID: { double s = sigmoid(z); return s * (1 - s) * (1 - 2 * s); }
    case CN_ACT_GELU: return INV_SQRT_2PI * exp(-0.5 * z * z) * (2 - z * z);
    case CN_ACT_SILU: { double s = sigmoid(z), d = s * (1 - s); return 2 * d + z * d * (1 - 2 * s); }
    case CN_ACT_ELU: return z > 0 ? 0 : exp(z);
    default: return NAN;
    }
}

/* tanh through the double-precision libm call in both builds: glibc's tanhf (expm1f) measured slower here
 * than tanh (expm1 with FMA) */
#define real_tanh(z) ((cn_real)tanh(z))

/* phi'(z) for the array kernels: tanh without the scalar dispatch, the rest through the double form */
static inline cn_real deriv_real(cn_act a, cn_real z)
{
    if (a == CN_ACT_TANH) {
        cn_real t = real_tanh(z);
        return 1 - t * t;
    }
    return (cn_real)cn_act_deriv(a, z);
}

/* The array kernels special-case the piecewise-linear activations, which dominate training time; the
 * smooth ones go through the scalar definitions above in double and round once. */
void cn_act_forward(cn_act a, const cn_real *z, cn_real *y, size_t n)
{
    switch (a) {
    case CN_ACT_IDENTITY:
        if (y != z) memcpy(y, z, n * sizeof *y);
        return;
    case CN_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            cn_real v = z[i];
            y[i] = v > 0 ? v : 0; /* a select, not a branch that mispredicts on half the signs */
        }
        return;
    case CN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) y[i] = z[i] > 0 ? z[i] : (cn_real)LEAKY_SLOPE * z[i];
        return;
    case CN_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = real_tanh(z[i]);
        return;
    default:
        for (size_t i = 0; i < n; i++) y[i] = (cn_real)cn_act_value(a, z[i]);
    }
}

void cn_act_backward(cn_act a, const cn_real *z, const cn_real *y, const cn_real *dy, cn_real *dz, size_t n)
{
    switch (a) {
    case CN_ACT_IDENTITY:
        if (dz != dy) memcpy(dz, dy, n * sizeof *dz);
        return;
    case CN_ACT_RELU:
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            cn_real g = dy[i]; /* loaded unconditionally, so that the select needs no branch */
            dz[i] = z[i] > 0 ? g : 0;
        }
        return;
    case CN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) dz[i] = z[i] > 0 ? dy[i] : (cn_real)LEAKY_SLOPE * dy[i];
        return;
    case CN_ACT_TANH:
    case CN_ACT_SIGMOID:
        /* from the output: the same rounded value deriv_real would recompute, without a second libm call */
        if (y) {
            cn_act_derivs(a, z, y, dz, NULL, n);
#pragma omp simd
            for (size_t i = 0; i < n; i++) dz[i] *= dy[i];
            return;
        }
        /* fall through */
    default:
        for (size_t i = 0; i < n; i++) dz[i] = dy[i] * deriv_real(a, z[i]);
    }
}

void cn_act_derivs(cn_act a, const cn_real *z, const cn_real *y, cn_real *d1, cn_real *d2, size_t n)
{
    if (y && a == CN_ACT_TANH) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            cn_real t = y[i], d = 1 - t * t;
            if (d1) d1[i] = d;
            if (d2) d2[i] = -2 * t * d;
        }
        return;
    }
    if (y && a == CN_ACT_SIGMOID) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            cn_real s = y[i], d = s * (1 - s);
            if (d1) d1[i] = d;
            if (d2) d2[i] = d * (1 - 2 * s);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (d1) d1[i] = deriv_real(a, z[i]);
        if (d2) d2[i] = (cn_real)cn_act_deriv2(a, z[i]);
    }
}

void cn_act_jvp(cn_act a, const cn_real *z, cn_real *t, size_t n, int K)
{
    if (a == CN_ACT_IDENTITY) return;
    if (a == CN_ACT_RELU || a == CN_ACT_LEAKY_RELU || K == 1) {
        for (int k = 0; k < K; k++) cn_act_backward(a, z, NULL, t + (size_t)k * n, t + (size_t)k * n, n);
        return;
    }
    /* phi'(z) once per element for all K tangents: a smooth derivative (tanh, erf, exp in double) costs
     * far more than the K multiplies, and evaluating it per tangent made it half of a spectrum's time */
    enum { CHUNK = 256 };
    cn_real d[CHUNK];
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (size_t i = 0; i < m; i++) d[i] = deriv_real(a, z[i0 + i]);
        for (int k = 0; k < K; k++) {
            cn_real *tk = t + (size_t)k * n + i0;
#pragma omp simd
            for (size_t i = 0; i < m; i++) tk[i] *= d[i];
        }
    }
}
