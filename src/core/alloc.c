/* alloc.c: the one allocation hook of the library. Tests replace it to make the Nth allocation fail. */
#include <stdlib.h>
#include <string.h>
#include "critnet.h"

/* Every block carries a 64-byte header holding the user pointer; keeps data 64-byte aligned for SIMD. */
#define CN_ALIGN 64

static void *default_alloc(size_t size, void *user)
{
    (void)user;
    void *p = NULL;
    if (posix_memalign(&p, CN_ALIGN, size) != 0) return NULL;
    return p;
}
static void default_release(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static cn_allocator g_alloc = {default_alloc, default_release, NULL};

void cn_set_allocator(const cn_allocator *a)
{
    if (a) g_alloc = *a;
    else g_alloc = (cn_allocator){default_alloc, default_release, NULL};
}

void *cn_malloc(size_t size)
{
    if (size == 0) size = 1;
    return g_alloc.alloc(size, g_alloc.user);
}

void *cn_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = cn_malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void cn_free(void *ptr)
{
    if (ptr) g_alloc.release(ptr, g_alloc.user);
}

char *cn_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cn_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
