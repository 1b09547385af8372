/* ref_text.h: the reader of the whitespace-separated text that tests/stats_ref.py and tests/stats_zoo_ref.py
 * write, shared by test_stats.c and test_stats_zoo.c. A missing or malformed token sets rd->bad, which the
 * tests turn into a failed CHECK. */
#ifndef CN_REF_TEXT_H
#define CN_REF_TEXT_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "critnet.h"

typedef struct {
    FILE *f;
    int bad; /* a token was missing or malformed */
} reader;

static inline const char *next_tok(reader *rd)
{
    static char tok[256];
    if (fscanf(rd->f, "%255s", tok) != 1) {
        rd->bad = 1;
        tok[0] = 0;
    }
    return tok;
}

static inline double next_num(reader *rd)
{
    const char *t = next_tok(rd);
    char *end;
    double v = strtod(t, &end);
    if (!*t || *end) rd->bad = 1;
    return v;
}

/* n values into a fresh array (caller frees) */
static inline double *next_nums(reader *rd, int n)
{
    double *v = calloc(n > 0 ? (size_t)n : 1, sizeof *v);
    for (int i = 0; i < n && v; i++) v[i] = next_num(rd);
    return v;
}

static inline int alt_from_name(const char *s)
{
    if (!strcmp(s, "two-sided")) return CN_STATS_ALT_TWO_SIDED;
    if (!strcmp(s, "greater")) return CN_STATS_ALT_GREATER;
    if (!strcmp(s, "less")) return CN_STATS_ALT_LESS;
    return -1;
}

#endif
