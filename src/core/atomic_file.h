/* atomic_file.h: files that are replaced whole or not at all. The content goes to PATH.tmp, is flushed to the
 * disk and renamed over PATH, so a full disk, a file-size limit or a kill in the middle of the write leaves the
 * earlier PATH as it was. Checkpoints and .npy outputs are written this way. */
#ifndef CN_ATOMIC_FILE_H
#define CN_ATOMIC_FILE_H

#include <stdio.h>
#include "critnet.h"

typedef struct {
    FILE *f;          /* write the content here */
    const char *path; /* the file it replaces */
    char tmp[4096];
} cn_atomic_file;

/* Opens PATH.tmp for writing. CN_OK, or CN_ERR_ARG / CN_ERR_IO naming the file. */
int cn_atomic_open(cn_atomic_file *a, const char *path, cn_error *err);
/* Closes the temporary and, unless `failed` (a write the caller saw fail) or the flush fails, renames it over
 * the path; otherwise removes it. CN_OK or CN_ERR_IO naming the file. */
int cn_atomic_commit(cn_atomic_file *a, int failed, cn_error *err);

#endif
