/* fuzz_idx.c: libFuzzer target for the IDX reader (cn_idx_load, src/data/idx.c), plain and gzip. An input is
 * byte 0 (bit 0: gzip the images file, bit 1: gzip the labels file, here with zlib), the images file's length
 * in 2 bytes little-endian, the images file and then the labels file. Bytes that already are gzip, from the
 * seeds or the mutations, go through as they are, so a corrupt stream is fuzzed too.
 *
 * Amplification bound: 6 times what the two files hold uncompressed, plus 1 MiB. The reader may hold the
 * pixels once as bytes and once as floats (4 bytes each), and the labels as int32 (4 per byte). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "critnet.h"
#include "fuzz_common.h"

/* gzip of src into dst (of cap bytes); its length, or 0 when it does not fit */
static size_t gzip(uint8_t *dst, size_t cap, const uint8_t *src, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    size_t out = z.total_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? out : 0;
}

/* What a file holds uncompressed: its size, or what its gzip members inflate to (as gzread reads them, up to
 * the first error), at most 2^30. */
static size_t content_size(const uint8_t *p, size_t n)
{
    if (n < 2 || p[0] != 0x1f || p[1] != 0x8b) return n;
    size_t total = 0;
    static uint8_t out[65536];
    while (n >= 2 && p[0] == 0x1f && p[1] == 0x8b && total < ((size_t)1 << 30)) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 16) != Z_OK) break;
        z.next_in = (Bytef *)p;
        z.avail_in = (uInt)n;
        int r;
        do {
            z.next_out = out;
            z.avail_out = sizeof out;
            r = inflate(&z, Z_NO_FLUSH);
        } while (r == Z_OK && total + z.total_out < ((size_t)1 << 30));
        total += z.total_out;
        size_t used = z.total_in;
        inflateEnd(&z);
        if (r != Z_STREAM_END) break;
        p += used;
        n -= used;
    }
    return total + 16; /* a short stream can still yield a header's worth */
}

static void seed(const char *name, int flags, int count, int rows, int cols)
{
    uint8_t buf[4096];
    size_t ni = 16 + (size_t)count * rows * cols, nl = 8 + (size_t)count;
    buf[0] = (uint8_t)flags;
    buf[1] = (uint8_t)ni;
    buf[2] = (uint8_t)(ni >> 8);
    uint8_t *im = buf + 3, *lb = im + ni;
    const uint8_t hi[16] = {0, 0, 8, 3, 0, 0, 0, (uint8_t)count, 0, 0, 0, (uint8_t)rows, 0, 0, 0, (uint8_t)cols};
    const uint8_t hl[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)count};
    memcpy(im, hi, 16);
    for (size_t i = 16; i < ni; i++) im[i] = (uint8_t)(i * 37);
    memcpy(lb, hl, 8);
    for (int i = 0; i < count; i++) lb[8 + i] = (uint8_t)(i % 10);
    fuzz_seed_file(name, buf, 3 + ni + nl);
}

static void write_seeds(void)
{
    seed("plain", 0, 3, 4, 4);
    seed("gz-images", 1, 2, 5, 3);
    seed("gz-both", 3, 4, 2, 2);
    seed("gz-labels", 2, 1, 28, 28);
    /* one already gzip in the bytes, so that byte mutations reach zlib's error paths */
    uint8_t raw[64], gz[256], buf[512];
    const uint8_t hi[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
    memcpy(raw, hi, 16);
    memset(raw + 16, 200, 18);
    size_t n = gzip(gz, sizeof gz, raw, 34);
    const uint8_t hl[10] = {0, 0, 8, 1, 0, 0, 0, 2, 1, 7};
    buf[0] = 0;
    buf[1] = (uint8_t)n;
    buf[2] = 0;
    memcpy(buf + 3, gz, n);
    memcpy(buf + 3 + n, hl, 10);
    fuzz_seed_file("raw-gzip", buf, 13 + n);
}

FUZZ_TARGET_INIT("fuzz_idx", write_seeds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t ni = (size_t)data[1] | (size_t)data[2] << 8;
    if (ni > size - 3) return 0;
    const uint8_t *im = data + 3, *lb = data + 3 + ni;
    size_t nl = size - 3 - ni;
    static uint8_t zi[70000], zl[70000];
    size_t holds = content_size(im, ni) + content_size(lb, nl);
    if (data[0] & 1) {
        holds += ni - content_size(im, ni);
        if (!(ni = gzip(zi, sizeof zi, im, ni))) return 0;
        im = zi;
    }
    if (data[0] & 2) {
        holds += nl - content_size(lb, nl);
        if (!(nl = gzip(zl, sizeof zl, lb, nl))) return 0;
        lb = zl;
    }
    const char *images = fuzz_write_file((data[0] & 1) ? "images.gz" : "images", im, ni);
    const char *labels = fuzz_write_file((data[0] & 2) ? "labels.gz" : "labels", lb, nl);
    if (!images || !labels) return 0;
    cn_dataset d;
    cn_error err = {0};
    fuzz_begin();
    int rc = cn_idx_load(&d, images, labels, &err);
    fuzz_check_amplification(6 * holds + (1u << 20), "cn_idx_load");
    if (rc != CN_OK) {
        if (d.x || d.y || !err.msg[0]) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_idx: refused (%s): %s\n", cn_strerror(rc), err.msg);
    } else {
        if (d.count < 1 || d.c != 1 || d.classes < 1 || d.classes > 256) abort();
        for (size_t i = 0; i < (size_t)d.count * d.h * d.w; i++)
            if (!(d.x[i] >= 0 && d.x[i] <= 1)) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_idx: loaded %d images of %dx%d\n", d.count, d.h, d.w);
        cn_dataset_free(&d);
    }
    fuzz_check_released("cn_idx_load and cn_dataset_free");
    return 0;
}
