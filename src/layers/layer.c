/* layer.c: allocation of layers and parsing of their key=value arguments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/layer.h"

cn_layer *cn_layer_alloc(const cn_layer_ops *ops, size_t impl_size)
{
    cn_layer *L = cn_calloc(1, sizeof *L);
    if (!L) return NULL;
    L->ops = ops;
    if (impl_size) {
        L->impl = cn_calloc(1, impl_size);
        if (!L->impl) {
            cn_free(L);
            return NULL;
        }
    }
    return L;
}

void cn_layer_free(cn_layer *L)
{
    if (!L) return;
    if (L->ops && L->ops->destroy) L->ops->destroy(L);
    cn_free(L->impl);
    cn_free(L);
}

static int find_key(cn_args *a, const char *key)
{
    for (int i = 0; i < a->count; i++)
        if (strcmp(a->key[i], key) == 0) {
            a->used |= 1u << i;
            return i;
        }
    return -1;
}

int cn_args_int(cn_args *a, const char *key, int def, int *out, cn_error *err)
{
    int i = find_key(a, key);
    if (i < 0) {
        *out = def;
        return CN_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(a->val[i], &end, 10);
    if (errno || *end || end == a->val[i] || v < -1000000000L || v > 1000000000L)
        return cn_error_set(err, CN_ERR_FORMAT, "%s=%s: expected an integer", key, a->val[i]);
    *out = (int)v;
    return CN_OK;
}

int cn_args_real(cn_args *a, const char *key, double def, double *out, cn_error *err)
{
    int i = find_key(a, key);
    if (i < 0) {
        *out = def;
        return CN_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(a->val[i], &end);
    if (errno || *end || end == a->val[i])
        return cn_error_set(err, CN_ERR_FORMAT, "%s=%s: expected a number", key, a->val[i]);
    *out = v;
    return CN_OK;
}

int cn_args_act(cn_args *a, const char *key, cn_act def, cn_act *out, cn_error *err)
{
    int i = find_key(a, key);
    if (i < 0) {
        *out = def;
        return CN_OK;
    }
    if (cn_act_from_name(a->val[i], out) != CN_OK)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "%s=%s: unknown activation (identity, relu, leaky_relu, tanh, sigmoid, gelu, silu, elu)",
                            key, a->val[i]);
    return CN_OK;
}

int cn_args_str(cn_args *a, const char *key, const char *def, const char **out)
{
    int i = find_key(a, key);
    *out = i < 0 ? def : a->val[i];
    return CN_OK;
}

void cn_format_real(char *buf, size_t cap, double v)
{
    for (int prec = 6; prec < 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
    snprintf(buf, cap, "%.17g", v);
}
