/* cifar.c: the CIFAR-10 binary format: records of 1 label byte and 3072 pixel bytes (3x32x32, CHW),
 * in DIR/data_batch_1..5.bin (training) and DIR/test_batch.bin (test). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "critnet.h"
#include "data/data.h"

#define CIFAR_PIXELS 3072
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_BATCH_RECORDS 64 /* records read per fread */

/* The number of records in a batch file, from its size; the format has no header to check against. */
static int cifar_count(const char *path, size_t *count, cn_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return cn_error_set(err, CN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return cn_error_set(err, CN_ERR_IO, "%s: not a regular file", path);
    size_t size = (size_t)st.st_size;
    if (size == 0 || size % CIFAR_RECORD != 0)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "%s: size %zu bytes is not a positive multiple of the %d-byte CIFAR-10 record", path,
                            size, CIFAR_RECORD);
    *count = size / CIFAR_RECORD;
    return CN_OK;
}

/* Appends the records of one file at record `first` of d. */
static int cifar_read(cn_dataset *d, size_t first, size_t count, const char *path, cn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error_set(err, CN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *buf = cn_malloc((size_t)CIFAR_BATCH_RECORDS * CIFAR_RECORD);
    int rc = CN_OK;
    if (!buf) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for a read buffer", path);
        goto done;
    }
    for (size_t i = 0; i < count;) {
        size_t k = count - i < CIFAR_BATCH_RECORDS ? count - i : CIFAR_BATCH_RECORDS;
        if (fread(buf, CIFAR_RECORD, k, f) != k) {
            /* stat said the file was long enough, so a short read means it changed or the disk failed */
            rc = cn_error_set(err, CN_ERR_IO, "%s: read error at record %zu: %s", path, i,
                              ferror(f) ? strerror(errno) : "file shrank while reading");
            goto done;
        }
        for (size_t j = 0; j < k; j++) {
            const unsigned char *r = buf + j * CIFAR_RECORD;
            if (r[0] >= 10) {
                rc = cn_error_set(err, CN_ERR_FORMAT, "%s: record %zu has label %d (CIFAR-10 labels are 0..9)",
                                  path, i + j, r[0]);
                goto done;
            }
            d->y[first + i + j] = r[0];
            cn_bytes_to_real(d->x + (first + i + j) * CIFAR_PIXELS, r + 1, CIFAR_PIXELS);
        }
        i += k;
    }
done:
    cn_free(buf);
    fclose(f);
    return rc;
}

static int cifar_split(cn_dataset *d, const char *dir, const char *const *names, int nfiles, cn_error *err)
{
    char path[4096];
    size_t counts[8], total = 0;
    int rc;
    for (int i = 0; i < nfiles; i++) {
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            return cn_error_set(err, CN_ERR_ARG, "%s: path too long", dir);
        if ((rc = cifar_count(path, &counts[i], err))) return rc;
        total += counts[i];
    }
    if (total > (size_t)INT32_MAX / CIFAR_PIXELS)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: %zu CIFAR-10 records are too many", dir, total);
    d->x = cn_malloc(total * CIFAR_PIXELS * sizeof *d->x);
    d->y = cn_malloc(total * sizeof *d->y);
    if (!d->x || !d->y) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %zu images", dir, total);
    size_t first = 0;
    for (int i = 0; i < nfiles; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if ((rc = cifar_read(d, first, counts[i], path, err))) return rc;
        first += counts[i];
    }
    d->count = (int)total;
    d->c = 3;
    d->h = d->w = 32;
    d->classes = 10;
    return CN_OK;
}

int cn_cifar10_load(cn_data *out, const char *dir, cn_error *err)
{
    static const char *const train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin", "data_batch_5.bin"};
    static const char *const test[] = {"test_batch.bin"};
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cn_error_set(err, CN_ERR_IO, "%s: no such directory (expected the CIFAR-10 binary version)", dir);
    int rc = cifar_split(&out->train, dir, train, 5, err);
    if (!rc) rc = cifar_split(&out->test, dir, test, 1, err);
    if (rc) cn_data_free(out);
    return rc;
}
