/* spec.c: the plain-text model format (docs/model-format.md): parsing it into a chain of layers.
 * One layer per line, "kind key=value ..."; "residual ... / end" brackets a residual body. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/net_internal.h"

typedef struct {
    const char *kind;
    cn_layer_ctor create;
} kind_entry;

static const kind_entry kinds[] = {
    {"dense", cn_dense_create},         {"linear", cn_dense_create},      {"conv", cn_conv2d_create},
    {"conv2d", cn_conv2d_create},       {"maxpool", cn_maxpool_create},   {"avgpool", cn_avgpool_create},
    {"gap", cn_gap_create},             {"flatten", cn_flatten_create},   {"batchnorm", cn_batchnorm_create},
    {"layernorm", cn_layernorm_create}, {"dropout", cn_dropout_create},   {"act", cn_act_layer_create},
};

#define MAX_NESTING 8

typedef struct {
    cn_chain chain;
    cn_shape in;      /* input shape of this (sub)chain */
    cn_act act;       /* residual: activation after the sum */
    cn_skip skip;
    int line;         /* where the residual opened */
} frame;

static int tokenize(char *line, char **tok, int max)
{
    int n = 0;
    char *s = line;
    while (*s) {
        while (*s && isspace((unsigned char)*s)) s++;
        if (!*s) break;
        if (n == max) return -1;
        tok[n++] = s;
        while (*s && !isspace((unsigned char)*s)) s++;
        if (*s) *s++ = 0;
    }
    return n;
}

static int parse_args(cn_args *a, char **tok, int n, cn_error *err)
{
    memset(a, 0, sizeof *a);
    if (n > 16) return cn_error_set(err, CN_ERR_FORMAT, "too many arguments (at most 16)");
    for (int i = 0; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (!eq || eq == tok[i] || !eq[1])
            return cn_error_set(err, CN_ERR_FORMAT, "'%s': expected key=value", tok[i]);
        *eq = 0;
        if (strlen(tok[i]) >= sizeof a->key[0] || strlen(eq + 1) >= sizeof a->val[0])
            return cn_error_set(err, CN_ERR_FORMAT, "'%s': key or value too long", tok[i]);
        strcpy(a->key[a->count], tok[i]);
        strcpy(a->val[a->count], eq + 1);
        a->count++;
    }
    return CN_OK;
}

static int check_unused(const cn_args *a, const char *kind, cn_error *err)
{
    for (int i = 0; i < a->count; i++)
        if (!(a->used & (1u << i)))
            return cn_error_set(err, CN_ERR_FORMAT, "%s: unknown key '%s'", kind, a->key[i]);
    return CN_OK;
}

static int parse_input(char **tok, int n, cn_shape *in, cn_error *err)
{
    int v[3] = {1, 1, 1};
    if (n != 2 && n != 4) return cn_error_set(err, CN_ERR_FORMAT, "input: expected 'input N' or 'input C H W'");
    for (int i = 1; i < n; i++) {
        char *end;
        long x = strtol(tok[i], &end, 10);
        if (*end || x < 1 || x > 100000000) return cn_error_set(err, CN_ERR_FORMAT, "input: bad size '%s'", tok[i]);
        v[i - 1] = (int)x;
    }
    *in = (cn_shape){v[0], v[1], v[2]};
    if ((long long)in->c * in->h * in->w > 100000000LL)
        return cn_error_set(err, CN_ERR_FORMAT, "input: too large");
    return CN_OK;
}

static int parse_residual_open(frame *f, char **tok, int n, cn_error *err)
{
    cn_args a;
    int rc = parse_args(&a, tok + 1, n - 1, err);
    const char *skip;
    if (rc || (rc = cn_args_act(&a, "act", CN_ACT_IDENTITY, &f->act, err))) return rc;
    cn_args_str(&a, "skip", "auto", &skip);
    if (strcmp(skip, "auto") == 0) f->skip = CN_SKIP_AUTO;
    else if (strcmp(skip, "identity") == 0) f->skip = CN_SKIP_IDENTITY;
    else if (strcmp(skip, "projection") == 0) f->skip = CN_SKIP_PROJECTION;
    else return cn_error_set(err, CN_ERR_FORMAT, "residual: skip=%s (expected auto, identity or projection)", skip);
    return check_unused(&a, "residual", err);
}

static int parse_layer(cn_layer **L, char **tok, int n, cn_shape in, cn_error *err)
{
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (strcmp(tok[0], kinds[k].kind) != 0) continue;
        cn_args a;
        int rc = parse_args(&a, tok + 1, n - 1, err);
        if (rc || (rc = kinds[k].create(L, &a, in, err))) return rc;
        if ((rc = check_unused(&a, tok[0], err))) {
            cn_layer_free(*L);
            *L = NULL;
        }
        return rc;
    }
    return cn_error_set(err, CN_ERR_FORMAT,
                        "unknown layer '%s' (dense, conv, maxpool, avgpool, gap, flatten, batchnorm, layernorm, "
                        "dropout, act, residual ... end)",
                        tok[0]);
}

int cn_spec_parse(cn_chain *out, cn_shape *in_shape, const char *text, cn_error *err)
{
    frame stack[MAX_NESTING + 1];
    int depth = 0, have_input = 0, lineno = 0, rc = CN_OK;
    memset(stack, 0, sizeof stack);
    cn_error local = {0};
    const char *p = text;
    char line[1024];
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len >= sizeof line) {
            rc = cn_error_set(&local, CN_ERR_FORMAT, "line too long");
            goto fail;
        }
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (nl ? 1 : 0);
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *tok[20];
        int n = tokenize(line, tok, 20);
        if (n == 0) continue;
        if (n < 0) {
            rc = cn_error_set(&local, CN_ERR_FORMAT, "too many tokens");
            goto fail;
        }
        if (!have_input) {
            if (strcmp(tok[0], "input") != 0) {
                rc = cn_error_set(&local, CN_ERR_FORMAT, "the first line must be 'input C H W' (or 'input N')");
                goto fail;
            }
            if ((rc = parse_input(tok, n, &stack[0].in, &local))) goto fail;
            have_input = 1;
            continue;
        }
        frame *f = &stack[depth];
        cn_shape cur = cn_chain_out_shape(&f->chain, f->in);
        if (strcmp(tok[0], "residual") == 0) {
            if (depth == MAX_NESTING) {
                rc = cn_error_set(&local, CN_ERR_FORMAT, "residual blocks nested deeper than %d", MAX_NESTING);
                goto fail;
            }
            frame *child = &stack[++depth];
            memset(child, 0, sizeof *child);
            child->in = cur;
            child->line = lineno;
            if ((rc = parse_residual_open(child, tok, n, &local))) goto fail;
            continue;
        }
        if (strcmp(tok[0], "end") == 0) {
            if (depth == 0) {
                rc = cn_error_set(&local, CN_ERR_FORMAT, "'end' without 'residual'");
                goto fail;
            }
            if (f->chain.n == 0) {
                rc = cn_error_set(&local, CN_ERR_FORMAT, "empty residual body");
                goto fail;
            }
            cn_layer *R = NULL;
            if ((rc = cn_residual_create(&R, &f->chain, f->act, f->skip, f->in, &local))) goto fail;
            depth--;
            if ((rc = cn_chain_push(&stack[depth].chain, R))) {
                cn_layer_free(R);
                cn_error_set(&local, rc, "out of memory");
                goto fail;
            }
            continue;
        }
        if (strcmp(tok[0], "input") == 0) {
            rc = cn_error_set(&local, CN_ERR_FORMAT, "'input' may appear only once, first");
            goto fail;
        }
        cn_layer *L = NULL;
        if ((rc = parse_layer(&L, tok, n, cur, &local))) goto fail;
        if ((rc = cn_chain_push(&f->chain, L))) {
            cn_layer_free(L);
            cn_error_set(&local, rc, "out of memory");
            goto fail;
        }
    }
    if (!have_input) {
        rc = cn_error_set(&local, CN_ERR_FORMAT, "empty model: expected 'input C H W' and layers");
        goto fail;
    }
    if (depth > 0) {
        lineno = stack[depth].line;
        rc = cn_error_set(&local, CN_ERR_FORMAT, "residual block is never closed with 'end'");
        goto fail;
    }
    if (stack[0].chain.n == 0) {
        rc = cn_error_set(&local, CN_ERR_FORMAT, "the model has no layers");
        goto fail;
    }
    *out = stack[0].chain;
    *in_shape = stack[0].in;
    return CN_OK;
fail:
    for (int d = 0; d <= depth && d <= MAX_NESTING; d++) cn_chain_free(&stack[d].chain);
    return cn_error_set(err, rc, "line %d: %s", lineno, local.msg);
}
