/* fuzz_common.c: the budgeted allocator, the leak and amplification checks, and the scratch files that every
 * target in fuzz/ shares (fuzz_common.h). */
#include "fuzz_common.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "critnet.h"

#define HEADER 64 /* keeps the 64-byte alignment cn_malloc promises; holds the block's size */

int fuzz_verbose;
static const char *g_name = "fuzz";
static size_t g_budget, g_live, g_peak, g_biggest;

static void *budget_alloc(size_t size, void *user)
{
    (void)user;
    if (size > g_biggest) g_biggest = size;
    if (size > g_budget - g_live) return NULL; /* g_live <= g_budget always */
    void *p = NULL;
    if (posix_memalign(&p, HEADER, size + HEADER) != 0) return NULL;
    *(size_t *)p = size;
    g_live += size;
    if (g_live > g_peak) g_peak = g_live;
    return (char *)p + HEADER;
}

static void budget_release(void *ptr, void *user)
{
    (void)user;
    char *p = (char *)ptr - HEADER;
    g_live -= *(size_t *)p;
    free(p);
}

void fuzz_init(const char *name, long default_mb, void (*write_seeds)(void))
{
    g_name = name;
    if (fuzz_seed_dir()) {
        if (write_seeds) write_seeds();
        exit(0);
    }
    const char *verbose = getenv("FUZZ_VERBOSE");
    fuzz_verbose = verbose && verbose[0] == '1';
    cn_set_threads(1);
    const char *mb = getenv("FUZZ_BUDGET_MB");
    long v = mb ? strtol(mb, NULL, 10) : default_mb;
    if (v <= 0) return;
    g_budget = (size_t)v << 20;
    static const cn_allocator a = {budget_alloc, budget_release, NULL};
    cn_set_allocator(&a);
}

size_t fuzz_peak(void) { return g_peak; }

void fuzz_begin(void)
{
    g_peak = g_live;
    g_biggest = 0;
}

void fuzz_check_released(const char *after)
{
    if (g_budget && g_live) {
        fprintf(stderr, "%s: %zu bytes still allocated after %s\n", g_name, g_live, after);
        abort();
    }
}

void fuzz_check_amplification(size_t limit, const char *what)
{
    if (!g_budget) return;
    size_t most = g_peak > g_biggest ? g_peak : g_biggest;
    if (fuzz_verbose) fprintf(stderr, "%s: peak %zu bytes, largest request %zu, limit %zu\n", g_name, g_peak, g_biggest, limit);
    if (most > limit) {
        fprintf(stderr, "%s: amplification: %s asked for %zu bytes (peak %zu live, largest request %zu), more than "
                "the %zu its input justifies\n", g_name, what, most, g_peak, g_biggest, limit);
        abort();
    }
}

/* ------------------------------------------------------------------ scratch files */

static char g_dir[256];

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
                unlink(path);
            }
        closedir(d);
    }
    rmdir(g_dir);
}

const char *fuzz_dir(void)
{
    if (g_dir[0]) return g_dir;
    /* /dev/shm where there is one: a file per execution should not touch a disk */
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof g_dir, "%s/%s.XXXXXX", base, g_name);
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "%s: cannot make a scratch folder %s\n", g_name, g_dir);
        abort();
    }
    atexit(remove_dir);
    return g_dir;
}

const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
    static char paths[8][512]; /* a few paths live at once: a reader of two files takes both */
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    int ok = fwrite(data, 1, size, f) == size;
    ok &= fclose(f) == 0;
    return ok ? path : NULL;
}

/* ------------------------------------------------------------------ seeds */

const char *fuzz_seed_dir(void)
{
    const char *d = getenv("FUZZ_WRITE_SEEDS");
    return d && *d ? d : NULL;
}

void fuzz_seed_file(const char *name, const void *data, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fuzz_seed_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write the seed %s\n", g_name, path);
        abort();
    }
}

const char *const fuzz_models[] = {
    "input 4\ndense out=3\n",
    "input 6\ndense out=5 act=tanh bias=0\nbatchnorm eps=0.001 momentum=0.2\ndense out=2 act=sigmoid\n",
    "input 1 6 6\nconv out=2 k=3 pad=1\nbatchnorm act=relu\nmaxpool k=2\nflatten\ndense out=3\n",
    "input 2 5 5\nconv out=4 k=3 stride=2 pad=1 groups=2 dilation=1 act=gelu\navgpool k=2 stride=1 pad=1\ngap\n"
    "dense out=3\n",
    "input 8\nlayernorm act=leaky_relu\nresidual act=tanh\n  dense out=8 act=tanh\n  dense out=8\nend\n"
    "dropout p=0.1\ndense out=2\n",
    "input 2 4 4\nresidual act=relu skip=projection\n  conv out=4 k=3 stride=2 pad=1\n  batchnorm\nend\n"
    "residual\n  residual skip=identity\n    act fn=relu\n  end\n  layernorm\nend\ngap\nflatten\ndense out=2\n",
    "# a comment\ninput 3 2 2   # trailing\n\nconv out=1 k=1 bias=0\nact fn=sigmoid\ndense out=2\n",
    NULL,
};
