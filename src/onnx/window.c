/* window.c: the window attributes that ONNX Conv, MaxPool and AveragePool share (see window.h). */
#include <limits.h>
#include <string.h>
#include "onnx/window.h"

int cn_onnx_auto_pad(cn_graph *g, const cn_node *n, int *kind)
{
    const char *s = cn_attr_string(n, "auto_pad", "NOTSET");
    if (!strcmp(s, "NOTSET") || !*s) *kind = CN_PAD_NOTSET;
    else if (!strcmp(s, "VALID")) *kind = CN_PAD_VALID;
    else if (!strcmp(s, "SAME_UPPER")) *kind = CN_PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *kind = CN_PAD_SAME_LOWER;
    else return cn_node_fail(g, n, CN_ERR_FORMAT, "auto_pad \"%s\" is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", s);
    return CN_OK;
}

int cn_onnx_axis_ints(cn_graph *g, const cn_node *n, const char *name, int count, int64_t lo, int64_t def,
                      int64_t *v)
{
    int got;
    int st = cn_attr_ints(g, n, name, v, CN_ONNX_WINDOW_AXES * 2, &got);
    if (st) return st;
    if (got == 0) {
        for (int i = 0; i < count; i++) v[i] = def;
        return CN_OK;
    }
    if (got != count) return cn_node_fail(g, n, CN_ERR_FORMAT, "%s has %d entries, expected %d", name, got, count);
    for (int i = 0; i < count; i++)
        if (v[i] < lo || v[i] > INT_MAX)
            return cn_node_fail(g, n, CN_ERR_FORMAT, "%s[%d] = %lld is out of range", name, i, (long long)v[i]);
    return CN_OK;
}

int cn_onnx_axis_geometry(cn_graph *g, const cn_node *n, const char *axis, int auto_pad, int ceil_mode, int64_t in,
                          int64_t k, int64_t stride, int64_t dil, int64_t *pad_begin, int64_t *pad_end, int64_t *out)
{
    int64_t extent = (k - 1) * dil + 1;
    if (in + *pad_begin + *pad_end > INT_MAX || extent > INT_MAX)
        return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "the padded input or the kernel is too large along the %s",
                            axis);
    if (auto_pad == CN_PAD_SAME_UPPER || auto_pad == CN_PAD_SAME_LOWER) {
        *out = (in + stride - 1) / stride;
        int64_t total = (*out - 1) * stride + extent - in;
        if (total < 0) total = 0;
        *pad_begin = auto_pad == CN_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        *pad_end = total - *pad_begin;
    } else {
        if (auto_pad == CN_PAD_VALID) *pad_begin = *pad_end = 0;
        int64_t span = in + *pad_begin + *pad_end - extent;
        if (span < 0) *out = 0;
        else if (!ceil_mode) *out = span / stride + 1;
        else {
            *out = (span + stride - 1) / stride + 1;
            if ((*out - 1) * stride >= in + *pad_begin) --*out;
        }
    }
    if (*out < 1)
        return cn_node_fail(g, n, CN_ERR_FORMAT,
                            "output %s would be empty: input %lld, kernel extent %lld, pads %lld+%lld", axis,
                            (long long)in, (long long)extent, (long long)*pad_begin, (long long)*pad_end);
    if (*out > INT_MAX) return cn_node_fail(g, n, CN_ERR_UNSUPPORTED, "output %s is too large", axis);
    return CN_OK;
}

