/* torch_ref_io.c: see torch_ref_io.h. */
#include "torch_ref_io.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void ref_free(ref_case *c)
{
    free(c->text);
    for (int i = 0; i < c->count; i++) free(c->t[i].v);
    memset(c, 0, sizeof *c);
}

static int read_u32(FILE *f, uint32_t *v)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4) return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

static int read_u64(FILE *f, uint64_t *v)
{
    uint32_t lo, hi;
    if (read_u32(f, &lo) || read_u32(f, &hi)) return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* little-endian float64, whatever the host's byte order */
static int read_f64(FILE *f, double *out, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        uint64_t bits;
        if (read_u64(f, &bits)) return -1;
        memcpy(&out[i], &bits, sizeof bits);
    }
    return 0;
}

/* a length-prefixed string of at most cap-1 bytes, NUL-terminated */
static int read_str(FILE *f, char *buf, size_t cap)
{
    uint32_t len;
    if (read_u32(f, &len) || len >= cap || fread(buf, 1, len, f) != len) return -1;
    buf[len] = 0;
    return 0;
}

int ref_load(ref_case *c, const char *path, const ref_format *fmt)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    char magic[8], bad_magic[64];
    uint32_t len, count;
    const char *why = NULL;
    snprintf(bad_magic, sizeof bad_magic, "bad magic (not a %s file)", fmt->magic);
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, fmt->magic, 8) != 0) why = bad_magic;
    else if (fmt->run_header && (read_u32(f, &c->train) || read_u32(f, &c->batch) || read_u32(f, &c->tangents)))
        why = "truncated header";
    else if (fmt->run_header && (c->batch < 1 || c->batch > 4096 || c->tangents < 1 || c->tangents > 64))
        why = "bad batch or tangent count";
    else if (read_str(f, c->name, sizeof c->name)) why = "bad case name";
    else if (read_u32(f, &len) || len > (1u << 20) || !(c->text = malloc((size_t)len + 1)) ||
             fread(c->text, 1, len, f) != len)
        why = "bad model text";
    else if ((c->text[len] = 0, read_u32(f, &count)) || count > (uint32_t)fmt->max_tensors ||
             count > REF_MAX_TENSORS)
        why = "bad tensor count";
    for (uint32_t i = 0; !why && i < count; i++) {
        ref_tensor *t = &c->t[i];
        if (read_str(f, t->name, sizeof t->name) || read_u64(f, &t->n) || t->n > (1u << 26)) why = "bad tensor header";
        else if (!(t->v = malloc((size_t)(t->n ? t->n : 1) * sizeof *t->v)) || read_f64(f, t->v, t->n))
            why = "truncated tensor data";
        c->count = (int)i + 1;
    }
    if (!why && fgetc(f) != EOF) why = "trailing bytes";
    fclose(f);
    if (why) {
        fprintf(stderr, "%s: %s\n", path, why);
        ref_free(c);
        return -1;
    }
    return 0;
}

void ref_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[2048];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                remove(path);
            }
        closedir(d);
    }
    if (rmdir(dir) != 0) fprintf(stderr, "note: could not remove %s\n", dir);
}

int ref_make_dir(char *dir, size_t cap, const char *script)
{
    const char *src = getenv("CRITNET_SRC");
    const char *py = getenv("CRITNET_PYTHON");
    if (!src || !*src) src = ".";
    if (!py || !*py) py = "/usr/bin/python3";
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/critnet_%s_XXXXXX", tmp && *tmp ? tmp : "/tmp", script);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        *dir = 0;
        return -1;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/%s.py' '%s'", py, src, script, dir);
    printf("running: %s\n", cmd);
    fflush(stdout);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "FAIL: the PyTorch reference script failed (status %d): %s\n"
                        "(it needs /usr/bin/python3 with torch, e.g. Debian's python3-torch)\n", st, cmd);
        ref_remove_dir(dir);
        *dir = 0;
        return -1;
    }
    return 0;
}

int ref_list_open(ref_list *l, const char *dir)
{
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    snprintf(l->path, sizeof l->path, "%s/cases.txt", dir);
    l->f = fopen(l->path, "r");
    return l->f ? 0 : -1;
}

const char *ref_list_next(ref_list *l)
{
    char line[512];
    while (l->f && fgets(line, sizeof line, l->f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        snprintf(l->path, sizeof l->path, "%s/%s", l->dir, line);
        return l->path;
    }
    return NULL;
}

void ref_list_close(ref_list *l)
{
    if (l->f) fclose(l->f);
    l->f = NULL;
}
