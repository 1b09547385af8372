/* rows_file.c: tables that grow by whole rows (cn_rows_*, critnet_core.h): metrics.csv, tasks.csv. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "critnet.h"

int cn_rows_open(cn_rows_file *r, const char *path, const char *start, cn_error *err)
{
    r->f = NULL;
    if (snprintf(r->path, sizeof r->path, "%s", path) >= (int)sizeof r->path)
        return cn_error_set(err, CN_ERR_ARG, "%s: path too long", path);
    /* the start is replaced whole: a crash here leaves the earlier file, never a header cut short */
    int rc = cn_file_replace(path, start, strlen(start), err);
    if (rc) return rc;
    if (!(r->f = fopen(path, "ab")))
        return cn_error_set(err, CN_ERR_IO, "%s: cannot open for appending: %s", path, strerror(errno));
    /* unbuffered: a row goes out in one write(), and a failed one leaves nothing behind to be flushed later */
    setvbuf(r->f, NULL, _IONBF, 0);
    return CN_OK;
}

int cn_rows_append(cn_rows_file *r, const char *row, cn_error *err)
{
    struct stat st;
    off_t before = fstat(fileno(r->f), &st) == 0 ? st.st_size : -1;
    size_t n = strlen(row);
    if (fwrite(row, 1, n, r->f) == n && fflush(r->f) == 0 && fsync(fileno(r->f)) == 0) return CN_OK;
    int why = errno;
    /* the part of the row that reached the file is cut off again, so that the file ends with a whole row */
    clearerr(r->f);
    if (before >= 0 && ftruncate(fileno(r->f), before) != 0) why = errno;
    return cn_error_set(err, CN_ERR_IO, "%s: cannot write a row (the rows before it are kept): %s", r->path,
                        strerror(why));
}

void cn_rows_close(cn_rows_file *r)
{
    if (r->f) fclose(r->f);
    r->f = NULL;
}
