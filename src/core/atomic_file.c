/* atomic_file.c: write beside, flush, rename (see atomic_file.h), and cn_file_replace on top of it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "core/atomic_file.h"

int cn_atomic_open(cn_atomic_file *a, const char *path, cn_error *err)
{
    a->f = NULL;
    a->path = path;
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmp", path) >= (int)sizeof a->tmp)
        return cn_error_set(err, CN_ERR_ARG, "%s: path too long", path);
    if (!(a->f = fopen(a->tmp, "wb")))
        return cn_error_set(err, CN_ERR_IO, "%s: cannot create: %s", a->tmp, strerror(errno));
    return CN_OK;
}

int cn_atomic_commit(cn_atomic_file *a, int failed, cn_error *err)
{
    /* the reason of a write the caller saw fail is still in errno (its writer stops at the first failure) */
    int why = failed ? errno : 0;
    /* fsync before the rename: otherwise a crash soon after can leave the new name on an empty file */
    if (!failed && (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0)) failed = 1, why = errno;
    if (fclose(a->f) != 0 && !failed) failed = 1, why = errno;
    a->f = NULL;
    if (failed) {
        remove(a->tmp);
        return cn_error_set(err, CN_ERR_IO, "%s: write failed, %s was left as it was: %s", a->tmp, a->path,
                            why ? strerror(why) : "unknown error");
    }
    if (rename(a->tmp, a->path) != 0) {
        why = errno;
        remove(a->tmp);
        return cn_error_set(err, CN_ERR_IO, "%s: cannot replace: %s", a->path, strerror(why));
    }
    return CN_OK;
}

int cn_file_replace(const char *path, const void *data, size_t size, cn_error *err)
{
    cn_atomic_file a;
    int rc = cn_atomic_open(&a, path, err);
    if (rc) return rc;
    return cn_atomic_commit(&a, fwrite(data, 1, size, a.f) != size, err);
}
