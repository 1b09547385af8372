/* strbuf.h: a growable string for writing model-format text and reports. */
#ifndef CN_STRBUF_H
#define CN_STRBUF_H
#include <stddef.h>

typedef struct {
    char *s;
    size_t len, cap;
    int failed; /* an allocation failed; later appends do nothing */
} cn_sb;

void cn_sb_append(cn_sb *b, const char *text);
void cn_sb_printf(cn_sb *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void cn_sb_free(cn_sb *b);
#endif
