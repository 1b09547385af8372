/* idx.c: the IDX reader (MNIST's file format: big-endian header, then unsigned bytes), gzipped or plain.
 * Every deviation from the header's promise (magic, sizes, length) is reported with the file's name. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include "critnet.h"
#include "data/data.h"

#define IDX_MAGIC_IMAGES 0x00000803u /* unsigned bytes, 3 dimensions */
#define IDX_MAGIC_LABELS 0x00000801u /* unsigned bytes, 1 dimension */
#define IDX_MAX_SIDE 4096u
#define IDX_MAX_COUNT 100000000u
#define IDX_CHUNK 65536

void cn_bytes_to_real(cn_real *x, const unsigned char *b, size_t n)
{
    /* a table rather than x = b * (1/255): the reciprocal is inexact, b/255 is correctly rounded */
    cn_real table[256];
    for (int i = 0; i < 256; i++) table[i] = (cn_real)((double)i / 255.0);
    for (size_t i = 0; i < n; i++) x[i] = table[b[i]];
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* gzopen reads plain files as they are, so one path serves .gz and uncompressed IDX. zlib's own state is
 * allocated by zlib with malloc: the gz* interface offers no allocation hook. */
static int idx_open(gzFile *f, const char *path, cn_error *err)
{
    errno = 0;
    *f = gzopen(path, "rb");
    if (!*f) {
        if (errno == ENOMEM)
            return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory opening the file", path);
        return cn_error_set(err, CN_ERR_IO, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "unknown error");
    }
    gzbuffer(*f, 1u << 17); /* the default 8 KiB makes a 26 MB gzip take many more reads */
    return CN_OK;
}

/* A read that failed (gzread returned -1): an OS error or a corrupt gzip stream. */
static int gz_failure(gzFile f, const char *path, cn_error *err)
{
    int errnum = 0;
    const char *msg = gzerror(f, &errnum);
    if (errnum == Z_ERRNO)
        return cn_error_set(err, CN_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (errnum == Z_MEM_ERROR) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory in zlib", path);
    return cn_error_set(err, CN_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg ? msg : "unknown");
}

/* zlib reports a gzip stream cut short as Z_BUF_ERROR beside a short read, not as a failed one. */
static const char *gz_cut_note(gzFile f)
{
    int errnum = 0;
    gzerror(f, &errnum);
    return errnum == Z_BUF_ERROR ? " (the gzip stream ends early)" : "";
}

/* Reads up to n bytes; *got says how many arrived before end of file. */
static int read_some(gzFile f, const char *path, unsigned char *buf, size_t n, size_t *got, cn_error *err)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(f, buf + *got, (unsigned)want);
        if (r < 0) return gz_failure(f, path, err);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return CN_OK;
}

static int read_header(gzFile f, const char *path, unsigned char *h, size_t n, cn_error *err)
{
    size_t got;
    int rc = read_some(f, path, h, n, &got, err);
    if (rc) return rc;
    if (got < n)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: truncated: expected a %zu-byte IDX header, got %zu bytes%s",
                            path, n, got, gz_cut_note(f));
    return CN_OK;
}

/* Reads the `total` bytes of `what` the header promises, into a buffer that grows as they arrive: a gzip of
 * a few bytes may declare a hundred million images, and only the bytes that really come justify memory. The
 * file must end there: extra bytes mean the header and the data disagree. */
static int read_body(gzFile f, const char *path, size_t total, const char *what, unsigned char **out,
                     cn_error *err)
{
    unsigned char *buf = NULL;
    size_t done = 0, cap = 0;
    int rc = CN_OK;
    *out = NULL;
    while (done < total) {
        if (done == cap) {
            size_t cap2 = cap ? (cap < total / 2 ? cap * 2 : total) : (total < IDX_CHUNK ? total : IDX_CHUNK);
            unsigned char *grown = cn_malloc(cap2);
            if (!grown) {
                rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %zu bytes of %s", path, cap2, what);
                goto done;
            }
            if (done) memcpy(grown, buf, done);
            cn_free(buf);
            buf = grown;
            cap = cap2;
        }
        size_t got;
        if ((rc = read_some(f, path, buf + done, cap - done, &got, err))) goto done;
        done += got;
        if (done < cap) {
            rc = cn_error_set(err, CN_ERR_FORMAT, "%s: truncated: expected %zu bytes of %s, got %zu%s", path, total,
                              what, done, gz_cut_note(f));
            goto done;
        }
    }
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    if (r < 0) rc = gz_failure(f, path, err);
    else if (r > 0)
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: trailing bytes after the %zu bytes of %s the header promises",
                          path, total, what);
    else if (*gz_cut_note(f)) /* all data arrived but the gzip trailer (its CRC) did not */
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: truncated: the gzip stream ends before its trailer", path);
done:
    if (rc) cn_free(buf);
    else *out = buf;
    return rc;
}

int cn_idx_load(cn_dataset *out, const char *images_path, const char *labels_path, cn_error *err)
{
    if (!out || !images_path || !labels_path)
        return cn_error_set(err, CN_ERR_ARG, "cn_idx_load: NULL argument");
    memset(out, 0, sizeof *out);

    gzFile fi = NULL, fl = NULL;
    unsigned char h[16], *pixels = NULL, *labels = NULL;
    int rc = idx_open(&fi, images_path, err);
    if (rc) goto done;
    rc = read_header(fi, images_path, h, 16, err);
    if (rc) goto done;
    uint32_t magic = be32(h), count = be32(h + 4), rows = be32(h + 8), cols = be32(h + 12);
    if (magic != IDX_MAGIC_IMAGES) {
        rc = cn_error_set(err, CN_ERR_FORMAT,
                          "%s: bad magic 0x%08x (expected 0x%08x: IDX images, unsigned bytes, 3 dimensions)",
                          images_path, (unsigned)magic, IDX_MAGIC_IMAGES);
        goto done;
    }
    if (rows < 1 || rows > IDX_MAX_SIDE || cols < 1 || cols > IDX_MAX_SIDE) {
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: implausible image size %ux%u (each side must be 1..%u)",
                          images_path, (unsigned)rows, (unsigned)cols, IDX_MAX_SIDE);
        goto done;
    }
    if (count < 1 || count > IDX_MAX_COUNT) {
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: implausible image count %u (must be 1..%u)", images_path,
                          (unsigned)count, IDX_MAX_COUNT);
        goto done;
    }
    size_t n = (size_t)rows * cols;
    if ((size_t)count > SIZE_MAX / sizeof(cn_real) / n) {
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: %u images of %ux%u do not fit in memory", images_path,
                          (unsigned)count, (unsigned)rows, (unsigned)cols);
        goto done;
    }

    rc = idx_open(&fl, labels_path, err);
    if (rc) goto done;
    rc = read_header(fl, labels_path, h, 8, err);
    if (rc) goto done;
    uint32_t lmagic = be32(h), lcount = be32(h + 4);
    if (lmagic != IDX_MAGIC_LABELS) {
        rc = cn_error_set(err, CN_ERR_FORMAT,
                          "%s: bad magic 0x%08x (expected 0x%08x: IDX labels, unsigned bytes, 1 dimension)",
                          labels_path, (unsigned)lmagic, IDX_MAGIC_LABELS);
        goto done;
    }
    if (lcount != count) {
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: holds %u labels but %s holds %u images", labels_path,
                          (unsigned)lcount, images_path, (unsigned)count);
        goto done;
    }

    /* the floats are allocated only once the bytes that justify them have arrived */
    if ((rc = read_body(fi, images_path, (size_t)count * n, "pixels", &pixels, err))) goto done;
    if ((rc = read_body(fl, labels_path, count, "labels", &labels, err))) goto done;
    out->x = cn_malloc((size_t)count * n * sizeof *out->x);
    out->y = cn_malloc((size_t)count * sizeof *out->y);
    if (!out->x || !out->y) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %u images of %ux%u", images_path,
                          (unsigned)count, (unsigned)rows, (unsigned)cols);
        goto done;
    }
    cn_bytes_to_real(out->x, pixels, (size_t)count * n);
    for (uint32_t i = 0; i < count; i++) out->y[i] = labels[i];

    /* labels are bytes, so always < 256; the class count is what the file shows. cn_data_load overrides
     * it where the set is known, since a small file need not contain every class. */
    int32_t maxl = 0;
    for (uint32_t i = 0; i < count; i++)
        if (out->y[i] > maxl) maxl = out->y[i];
    out->count = (int)count;
    out->c = 1;
    out->h = (int)rows;
    out->w = (int)cols;
    out->classes = maxl + 1;

done:
    cn_free(pixels);
    cn_free(labels);
    if (fi) gzclose(fi);
    if (fl) gzclose(fl);
    if (rc) cn_dataset_free(out);
    return rc;
}

void cn_dataset_free(cn_dataset *d)
{
    if (!d) return;
    cn_free(d->x);
    cn_free(d->y);
    memset(d, 0, sizeof *d);
}
