/* atomic_file.c: write beside, flush, rename (see atomic_file.h). */
#include <stdio.h>
#include <unistd.h>
#include "core/atomic_file.h"

int cn_atomic_open(cn_atomic_file *a, const char *path, cn_error *err)
{
    a->f = NULL;
    a->path = path;
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmp", path) >= (int)sizeof a->tmp)
        return cn_error_set(err, CN_ERR_ARG, "%s: path too long", path);
    if (!(a->f = fopen(a->tmp, "wb"))) return cn_error_set(err, CN_ERR_IO, "%s: cannot create", a->tmp);
    return CN_OK;
}

int cn_atomic_commit(cn_atomic_file *a, int failed, cn_error *err)
{
    /* fsync before the rename: otherwise a crash soon after can leave the new name on an empty file */
    failed |= fflush(a->f) != 0 || fsync(fileno(a->f)) != 0;
    failed |= fclose(a->f) != 0;
    a->f = NULL;
    if (failed) {
        remove(a->tmp);
        return cn_error_set(err, CN_ERR_IO, "%s: write failed (disk full?)", a->tmp);
    }
    if (rename(a->tmp, a->path) != 0) {
        remove(a->tmp);
        return cn_error_set(err, CN_ERR_IO, "%s: cannot replace", a->path);
    }
    return CN_OK;
}
