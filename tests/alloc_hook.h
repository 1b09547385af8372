/* alloc_hook.h: a counting allocator for the out-of-memory tests. It fails the Nth allocation of the
 * library (1-based; 0 fails none) and counts the blocks still live, so a test can show that a failure
 * anywhere returns CN_ERR_NOMEM and leaks nothing. Header-only, one per test program. */
#ifndef CN_ALLOC_HOOK_H
#define CN_ALLOC_HOOK_H
#include <stdlib.h>
#include <string.h>
#include "critnet.h"

typedef struct {
    long count;   /* allocations attempted */
    long fail_at; /* the one that fails (0: none) */
    long failed;  /* how many were refused */
    long live;    /* allocated and not yet released */
    size_t largest; /* the largest single request, refused or not: what a reader asked a file to justify */
} alloc_stats;

static alloc_stats g_stats;

static void *hook_alloc(size_t size, void *user)
{
    alloc_stats *s = user;
    s->count++;
    if (size > s->largest) s->largest = size;
    if (s->count == s->fail_at) {
        s->failed++;
        return NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, size) != 0) return NULL;
    s->live++;
    return p;
}

static void hook_release(void *p, void *user)
{
    ((alloc_stats *)user)->live--;
    free(p);
}

/* starts counting afresh; until cn_set_allocator(NULL), allocation number fail_at fails */
static inline void hook_install(long fail_at)
{
    memset(&g_stats, 0, sizeof g_stats);
    g_stats.fail_at = fail_at;
    cn_allocator a = {hook_alloc, hook_release, &g_stats};
    cn_set_allocator(&a);
}
#endif
