/* fuzz_npy.c: libFuzzer target for the .npy reader (npy:FILE[,LABELS], src/data/npy.c), through cn_data_load so
 * that the data set's own checks run too. An input is byte 0 = 1 for inputs with labels, then (when so) the
 * labels file's length in 2 bytes little-endian and the labels file, and the inputs file in the rest.
 *
 * Amplification bound: 4 times the input's size plus 1 MiB. The data are held once as float32 (no more bytes
 * than float32 or float64 in the file), the labels as int32 (one per example, each at least one byte on file
 * and one example at least 4 bytes), beside 64 KiB buffers for the header and the reading. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "critnet.h"
#include "fuzz_common.h"

/* a labels file: a 1-D integer array; numpy's own writer is not at hand, and the header is one line */
static void seed_labels(const char *name, const char *descr, const void *v, size_t count, size_t size)
{
    char head[128];
    int n = snprintf(head, sizeof head, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, count);
    while ((n + 11) % 64) head[n++] = ' ';
    head[n - 1] = '\n';
    unsigned char buf[4096];
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)n;
    buf[9] = (unsigned char)(n >> 8);
    memcpy(buf + 10, head, (size_t)n);
    memcpy(buf + 10 + n, v, count * size);
    fuzz_seed_file(name, buf, 10 + (size_t)n + count * size);
}

/* one seed: flag, labels length, labels, inputs */
static void seed_pair(const char *name, const char *inputs, const char *labels)
{
    static unsigned char buf[65536];
    FILE *fi = fopen(inputs, "rb"), *fl = labels ? fopen(labels, "rb") : NULL;
    size_t nl = fl ? fread(buf + 3, 1, 4096, fl) : 0;
    size_t at = labels ? 3 + nl : 1;
    size_t ni = fi ? fread(buf + at, 1, sizeof buf - at, fi) : 0;
    if (!fi || (labels && !fl)) abort();
    buf[0] = labels ? 1 : 0;
    if (labels) {
        buf[1] = (unsigned char)nl;
        buf[2] = (unsigned char)(nl >> 8);
    }
    fclose(fi);
    if (fl) fclose(fl);
    fuzz_seed_file(name, buf, at + ni);
}

static void write_seeds(void)
{
    const char *dir = fuzz_seed_dir();
    static const struct {
        int ndim;
        int64_t dims[4];
    } shapes[] = {{2, {3, 4}}, {3, {2, 3, 3}}, {4, {2, 1, 2, 2}}, {4, {1, 3, 4, 4}}};
    cn_real v[64];
    for (int i = 0; i < 64; i++) v[i] = (cn_real)i / 8 - 2;
    char path[1024];
    for (int s = 0; s < 4; s++) {
        snprintf(path, sizeof path, "%s/x%d.npy", dir, s);
        if (cn_npy_write(path, v, shapes[s].ndim, shapes[s].dims, NULL)) abort();
    }
    int64_t l8[3] = {0, 2, 1};
    unsigned char u1[2] = {1, 0};
    int32_t i4[2] = {0x01000000, 0}; /* '>i4': 1 */
    seed_labels("l0.npy", "<i8", l8, 3, 8);
    seed_labels("l1.npy", "|u1", u1, 2, 1);
    seed_labels("l2.npy", ">i4", i4, 2, 4);
    static const char *const pairs[][3] = {{"s0", "x0.npy", "l0.npy"}, {"s1", "x1.npy", "l1.npy"},
                                           {"s2", "x2.npy", "l2.npy"}, {"s3", "x3.npy", NULL}, {"s4", "x0.npy", NULL}};
    char li[1024];
    for (size_t p = 0; p < sizeof pairs / sizeof *pairs; p++) {
        snprintf(path, sizeof path, "%s/%s", dir, pairs[p][1]);
        if (pairs[p][2]) snprintf(li, sizeof li, "%s/%s", dir, pairs[p][2]);
        seed_pair(pairs[p][0], path, pairs[p][2] ? li : NULL);
    }
    /* only the combined seeds stay */
    for (int s = 0; s < 4; s++) snprintf(path, sizeof path, "%s/x%d.npy", dir, s), remove(path);
    for (int s = 0; s < 3; s++) snprintf(path, sizeof path, "%s/l%d.npy", dir, s), remove(path);
}

FUZZ_TARGET_INIT("fuzz_npy", write_seeds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int labeled = data[0] & 1;
    size_t nl = 0, at = 1;
    if (labeled) {
        if (size < 3) return 0;
        nl = (size_t)data[1] | (size_t)data[2] << 8;
        if (nl > size - 3) return 0;
        at = 3 + nl;
    }
    char spec[1100];
    const char *inputs = fuzz_write_file("x.npy", data + at, size - at);
    const char *labels = labeled ? fuzz_write_file("y.npy", data + 3, nl) : NULL;
    if (!inputs || (labeled && !labels)) return 0;
    snprintf(spec, sizeof spec, "npy:%s%s%s", inputs, labeled ? "," : "", labeled ? labels : "");
    cn_data_opts opts = {.spec = spec};
    cn_data d;
    cn_error err = {0};
    fuzz_begin();
    int rc = cn_data_load(&d, &opts, &err);
    fuzz_check_amplification(4 * size + (1u << 20), "cn_data_load(npy)");
    if (rc != CN_OK) {
        if (!err.msg[0]) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_npy: refused (%s): %s\n", cn_strerror(rc), err.msg);
    } else {
        const cn_dataset *t = &d.test;
        if (t->count < 1 || !t->x || !t->y || d.train.count != 0) abort();
        volatile cn_real sink = 0;
        for (size_t i = 0; i < (size_t)t->count * t->c * t->h * t->w; i++) sink += t->x[i];
        (void)sink;
        for (int i = 0; i < t->count; i++)
            if (t->y[i] < 0 || (t->classes && t->y[i] >= t->classes)) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_npy: loaded %d examples of %dx%dx%d\n", t->count, t->c, t->h, t->w);
        cn_data_free(&d);
    }
    fuzz_check_released("cn_data_load and cn_data_free");
    return 0;
}
