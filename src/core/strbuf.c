/* strbuf.c: a growable string; an allocation failure is sticky so callers check once at the end. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "core/strbuf.h"
#include "critnet.h"

static int grow(cn_sb *b, size_t extra)
{
    if (b->failed) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = cn_malloc(cap);
    if (!s) {
        b->failed = 1;
        return 0;
    }
    if (b->len) memcpy(s, b->s, b->len);
    s[b->len] = 0;
    cn_free(b->s);
    b->s = s;
    b->cap = cap;
    return 1;
}

void cn_sb_append(cn_sb *b, const char *text)
{
    size_t n = strlen(text);
    if (!grow(b, n)) return;
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

void cn_sb_printf(cn_sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !grow(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cn_sb_free(cn_sb *b)
{
    cn_free(b->s);
    memset(b, 0, sizeof *b);
}
