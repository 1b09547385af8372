/* test_data.c: the data loaders: the real fashion-mnist and mnist sets, generated gaussian data,
 * standardisation, and every rejection path on small files written into a temporary directory. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"

static char tmpdir[64];

/* ---------------------------------------------------------------- writing test files */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_bytes(const char *path, const unsigned char *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        CHECK(f != NULL, "cannot write %s", path);
        if (!f) return;
        CHECK(gzwrite(f, b, (unsigned)n) == (int)n, "short gzwrite to %s", path);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL, "cannot write %s", path);
        if (!f) return;
        CHECK(fwrite(b, 1, n, f) == n, "short write to %s", path);
        fclose(f);
    }
}

/* Pixel of image i at position j, so that a reader can be checked value by value. */
static unsigned char pixel(int i, int j) { return (unsigned char)((i * 31 + j * 7) % 256); }

typedef struct {
    uint32_t magic, count, rows, cols; /* header as written */
    int body;                          /* images actually written (may differ from count) */
    int extra;                         /* trailing bytes appended */
    int gz;
} idx_images;

static void write_images(const char *path, idx_images m)
{
    size_t n = (size_t)m.rows * m.cols, len = 16 + (size_t)m.body * n + (size_t)m.extra;
    unsigned char *b = calloc(len, 1);
    put32(b, m.magic);
    put32(b + 4, m.count);
    put32(b + 8, m.rows);
    put32(b + 12, m.cols);
    for (int i = 0; i < m.body; i++)
        for (size_t j = 0; j < n; j++) b[16 + i * n + j] = pixel(i, (int)j);
    write_bytes(path, b, len, m.gz);
    free(b);
}

/* Labels i % mod, except that label `bad_at` (if >= 0) is `bad`. */
static void write_labels(const char *path, uint32_t magic, uint32_t count, int body, int mod, int extra, int gz,
                         int bad_at, int bad)
{
    size_t len = 8 + (size_t)body + (size_t)extra;
    unsigned char *b = calloc(len, 1);
    put32(b, magic);
    put32(b + 4, count);
    for (int i = 0; i < body; i++) b[8 + i] = (unsigned char)(i % mod);
    if (bad_at >= 0) b[8 + bad_at] = (unsigned char)bad;
    write_bytes(path, b, len, gz);
    free(b);
}

static const char *tpath(const char *name)
{
    static char buf[8][256];
    static int k = 0;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* A valid pair of `count` images of 4x5, labels i % mod. */
static void write_pair(const char *images, const char *labels, int count, int mod, int gz)
{
    write_images(images, (idx_images){0x803, (uint32_t)count, 4, 5, count, 0, gz});
    write_labels(labels, 0x801, (uint32_t)count, count, mod, 0, gz, -1, 0);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        char sub[512];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                remove_tree(sub);
            }
        closedir(d);
        rmdir(path);
    } else
        unlink(path);
}

/* ---------------------------------------------------------------- helpers for checks */

static int has(const cn_error *e, const char *s) { return strstr(e->msg, s) != NULL; }

/* A failed load must say which file, with the given status, and leave the output empty. */
static void expect_idx_fail(const char *images, const char *labels, int status, const char *path,
                            const char *phrase)
{
    cn_dataset d;
    memset(&d, 0xab, sizeof d); /* garbage in: the loader must not rely on a zeroed struct */
    cn_error e = {0};
    int rc = cn_idx_load(&d, images, labels, &e);
    CHECK(rc == status, "%s: status %d (%s), want %d; msg: %s", path, rc, cn_strerror(rc), status, e.msg);
    CHECK(e.status == rc, "err.status %d, rc %d", e.status, rc);
    CHECK(has(&e, path), "message lacks the path %s: %s", path, e.msg);
    CHECK(!phrase || has(&e, phrase), "message lacks '%s': %s", phrase, e.msg);
    CHECK(d.x == NULL && d.y == NULL && d.count == 0, "output not cleared after failure");
}

static void expect_load_fail(const char *spec, const char *root, int status, const char *phrase)
{
    cn_data d;
    cn_error e = {0};
    cn_data_opts o = {.spec = spec, .data_root = root, .gaussian_dim = 3};
    int rc = cn_data_load(&d, &o, &e);
    CHECK(rc == status, "%s: status %d (%s), want %d; msg: %s", spec, rc, cn_strerror(rc), status, e.msg);
    CHECK(has(&e, phrase), "%s: message lacks '%s': %s", spec, phrase, e.msg);
    CHECK(d.train.x == NULL && d.test.x == NULL, "%s: output not cleared after failure", spec);
    cn_data_free(&d);
}

static void range_of(const cn_dataset *d, double *lo, double *hi, double *mean)
{
    size_t n = (size_t)d->count * d->c * d->h * d->w;
    double s = 0;
    *lo = 1e30;
    *hi = -1e30;
    for (size_t i = 0; i < n; i++) {
        if (d->x[i] < *lo) *lo = d->x[i];
        if (d->x[i] > *hi) *hi = d->x[i];
        s += d->x[i];
    }
    *mean = s / (double)n;
}

static int labels_ok(const cn_dataset *d)
{
    for (int i = 0; i < d->count; i++)
        if (d->y[i] < 0 || d->y[i] >= d->classes) return 0;
    return 1;
}

static int same_split(const cn_dataset *a, const cn_dataset *b)
{
    size_t n = (size_t)a->count * a->c * a->h * a->w;
    return a->count == b->count && !memcmp(a->x, b->x, n * sizeof *a->x) &&
           !memcmp(a->y, b->y, (size_t)a->count * sizeof *a->y);
}

/* ---------------------------------------------------------------- real data sets */

static void test_fashion(void)
{
    struct stat st;
    if (stat("/usr/share/datasets/fashion-mnist", &st) != 0) {
        printf("SKIP fashion-mnist: not installed (scripts/setup.sh installs dataset-fashion-mnist)\n");
        return;
    }
    cn_data d;
    cn_error e = {0};
    cn_data_opts o = {.spec = "fashion-mnist"};
    CHECK_OK(cn_data_load(&d, &o, &e));
    if (e.status) printf("  %s\n", e.msg);
    CHECK(!strcmp(d.name, "fashion-mnist"), "name %s", d.name);
    CHECK(d.train.count == 60000 && d.test.count == 10000, "counts %d/%d", d.train.count, d.test.count);
    CHECK(d.train.c == 1 && d.train.h == 28 && d.train.w == 28, "shape %dx%dx%d", d.train.c, d.train.h, d.train.w);
    CHECK(d.train.classes == 10 && d.test.classes == 10, "classes %d/%d", d.train.classes, d.test.classes);
    if (d.train.count == 60000 && d.test.count == 10000) {
        double lo, hi, mean;
        range_of(&d.train, &lo, &hi, &mean);
        CHECK(lo == 0 && hi == 1, "train pixels in [%g,%g], want [0,1]", lo, hi);
        CHECK(fabs(mean - 0.2860406) < 1e-5, "train pixel mean %.7f, want 0.2860406", mean);
        range_of(&d.test, &lo, &hi, &mean);
        CHECK(lo == 0 && hi == 1, "test pixels in [%g,%g]", lo, hi);
        CHECK(labels_ok(&d.train) && labels_ok(&d.test), "labels out of range");
        /* first labels, as numpy reads the files: an ankle boot, then two T-shirts */
        CHECK(d.train.y[0] == 9 && d.train.y[1] == 0 && d.train.y[3] == 3, "first train labels %d %d %d",
              d.train.y[0], d.train.y[1], d.train.y[3]);
        CHECK(d.test.y[0] == 9 && d.test.y[1] == 2 && d.test.y[4] == 6, "first test labels");
        double s = 0;
        for (int j = 0; j < 784; j++) s += d.train.x[j];
        CHECK(fabs(s * 255 - 76247) < 0.1, "pixel sum of image 0 is %.3f, want 76247", s * 255);
        int per[10] = {0};
        for (int i = 0; i < d.test.count; i++) per[d.test.y[i]]++;
        CHECK(per[0] == 1000 && per[9] == 1000, "test classes not balanced: %d %d", per[0], per[9]);
    }
    cn_data_free(&d);
    CHECK(d.train.x == NULL && d.train.count == 0, "cn_data_free leaves data");
}

static int mnist_present(void)
{
    const char *env = getenv("CRITNET_DATA");
    char path[512];
    snprintf(path, sizeof path, "%s/mnist", env && *env ? env : "data");
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_mnist(void)
{
    if (!mnist_present()) {
        printf("SKIP mnist: data/mnist missing (run scripts/setup.sh)\n");
        return;
    }
    cn_data a, b;
    cn_error e = {0};
    cn_data_opts o = {.spec = "mnist", .seed = 1};
    CHECK_OK(cn_data_load(&a, &o, &e));
    if (e.status) printf("  %s\n", e.msg);
    o.seed = 12345; /* the split must not follow the run's seed */
    CHECK_OK(cn_data_load(&b, &o, &e));
    CHECK(a.train.count == 8000 && a.test.count == 2000, "split %d/%d", a.train.count, a.test.count);
    CHECK(a.train.c == 1 && a.train.h == 28 && a.train.w == 28 && a.train.classes == 10, "shape or classes");
    CHECK(!strcmp(a.name, "mnist"), "name %s", a.name);
    if (a.train.count == 8000 && b.train.count == 8000) {
        CHECK(same_split(&a.train, &b.train) && same_split(&a.test, &b.test), "the split differs between runs");
        /* the split is a partition of the package's 10,000 digits: per-class totals as shipped */
        static const int shipped[10] = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
        int per[10] = {0}, test_classes = 0, tper[10] = {0};
        for (int i = 0; i < a.train.count; i++) per[a.train.y[i]]++;
        for (int i = 0; i < a.test.count; i++) tper[a.test.y[i]]++;
        int ok = 1;
        for (int c = 0; c < 10; c++) {
            ok &= per[c] + tper[c] == shipped[c];
            test_classes += tper[c] > 100;
        }
        CHECK(ok, "per-class totals differ from the package's");
        CHECK(test_classes == 10, "the test split is not a shuffle: only %d classes have > 100 digits", test_classes);
        double lo, hi, mean;
        range_of(&a.train, &lo, &hi, &mean);
        CHECK(lo == 0 && hi == 1, "pixels in [%g,%g]", lo, hi);
    }
    cn_data_free(&a);
    cn_data_free(&b);
}

/* ---------------------------------------------------------------- generated and standardised data */

static void test_gaussian(void)
{
    cn_data a, b, c;
    cn_error e = {0};
    cn_data_opts o = {.spec = "gaussian", .gaussian_dim = 7, .gaussian_count = 300, .seed = 3};
    CHECK_OK(cn_data_load(&a, &o, &e));
    CHECK_OK(cn_data_load(&b, &o, &e));
    o.seed = 4;
    CHECK_OK(cn_data_load(&c, &o, &e));
    CHECK(a.train.count == 300 && a.test.count == 300, "counts %d/%d", a.train.count, a.test.count);
    CHECK(a.train.c == 7 && a.train.h == 1 && a.train.w == 1 && a.train.classes == 10, "shape or classes");
    CHECK(!strcmp(a.name, "gaussian"), "name %s", a.name);
    if (a.train.count == 300 && b.train.count == 300 && c.train.count == 300) {
        CHECK(same_split(&a.train, &b.train) && same_split(&a.test, &b.test), "same seed, different data");
        CHECK(!same_split(&a.train, &c.train), "different seeds, same data");
        CHECK(!same_split(&a.train, &a.test), "train and test identical");
        CHECK(labels_ok(&a.train) && labels_ok(&a.test), "labels out of range");
        double lo, hi, mean, var = 0;
        range_of(&a.train, &lo, &hi, &mean);
        for (int i = 0; i < 300 * 7; i++) var += (a.train.x[i] - mean) * (a.train.x[i] - mean);
        var /= 300 * 7;
        CHECK(fabs(mean) < 0.1 && fabs(var - 1) < 0.15, "not N(0,1): mean %g var %g", mean, var);
    }
    cn_data_free(&a);
    cn_data_free(&b);
    cn_data_free(&c);

    o = (cn_data_opts){.spec = "gaussian", .gaussian_dim = 2, .gaussian_classes = 3};
    CHECK_OK(cn_data_load(&a, &o, &e));
    CHECK(a.train.count == 1000 && a.train.classes == 3, "defaults: count %d classes %d", a.train.count,
          a.train.classes);
    cn_data_free(&a);
    o.gaussian_dim = 0;
    CHECK(cn_data_load(&a, &o, &e) == CN_ERR_ARG, "dimension 0 accepted");
}

static void test_standardize(void)
{
    cn_data d;
    cn_error e = {0};
    cn_data_opts o = {.spec = "gaussian", .gaussian_dim = 5, .gaussian_count = 400, .seed = 9, .standardize = 1};
    CHECK_OK(cn_data_load(&d, &o, &e));
    for (int j = 0; j < 5 && d.train.count == 400; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < 400; i++) m += d.train.x[i * 5 + j];
        m /= 400;
        for (int i = 0; i < 400; i++) v += (d.train.x[i * 5 + j] - m) * (d.train.x[i * 5 + j] - m);
        v /= 400;
        CHECK(fabs(m) < 1e-5 && fabs(v - 1) < 1e-4, "feature %d: mean %g var %g after standardising", j, m, v);
    }
    cn_data_free(&d);

    /* an IDX set whose pixel 0 is constant: it must come out 0, not NaN (the std floor) */
    char dir[128];
    snprintf(dir, sizeof dir, "%s/std", tmpdir);
    mkdir(dir, 0700);
    write_pair(tpath("std/train-images-idx3-ubyte"), tpath("std/train-labels-idx1-ubyte"), 31, 3, 0);
    write_pair(tpath("std/t10k-images-idx3-ubyte"), tpath("std/t10k-labels-idx1-ubyte"), 31, 3, 1);
    char spec[160];
    snprintf(spec, sizeof spec, "idx:%s", dir);
    o = (cn_data_opts){.spec = spec, .standardize = 1};
    CHECK_OK(cn_data_load(&d, &o, &e));
    if (e.status) printf("  %s\n", e.msg);
    if (d.train.count == 31) {
        /* pixel(i,0) = 31 i mod 256 varies; but as train == test here, test must be standardised alike */
        double m = 0;
        for (int i = 0; i < 31; i++) m += d.train.x[i * 20 + 3];
        CHECK(fabs(m / 31) < 1e-5, "train mean of feature 3 is %g", m / 31);
        CHECK(!memcmp(d.train.x, d.test.x, 31 * 20 * sizeof(cn_real)), "test standardised differently");
    }
    cn_data_free(&d);

    /* one training image: every feature is constant, so the std floor must keep the results finite */
    write_pair(tpath("std/train-images-idx3-ubyte"), tpath("std/train-labels-idx1-ubyte"), 1, 3, 0);
    write_labels(tpath("std/t10k-labels-idx1-ubyte"), 0x801, 31, 31, 1, 0, 1, -1, 0);
    CHECK_OK(cn_data_load(&d, &o, &e));
    if (d.train.count == 1 && d.test.count == 31) {
        int zero = 1, finite = 1;
        for (int j = 0; j < 20; j++) zero &= d.train.x[j] == 0;
        for (int i = 0; i < 31 * 20; i++) finite &= isfinite(d.test.x[i]);
        CHECK(zero && finite, "constant features: train all zero %d, test finite %d", zero, finite);
    }
    cn_data_free(&d);
}

/* ---------------------------------------------------------------- small valid files */

static void test_idx_valid(void)
{
    cn_dataset d;
    cn_error e = {0};
    for (int gz = 0; gz < 2; gz++) {
        const char *im = tpath(gz ? "v-images.gz" : "v-images"), *lb = tpath(gz ? "v-labels.gz" : "v-labels");
        write_pair(im, lb, 13, 4, gz);
        CHECK_OK(cn_idx_load(&d, im, lb, &e));
        CHECK(d.count == 13 && d.c == 1 && d.h == 4 && d.w == 5 && d.classes == 4, "gz %d: shape %d %dx%dx%d c%d",
              gz, d.count, d.c, d.h, d.w, d.classes);
        int exact = 1;
        for (int i = 0; i < d.count; i++) {
            exact &= d.y[i] == i % 4;
            for (int j = 0; j < 20; j++) exact &= d.x[i * 20 + j] == (cn_real)(pixel(i, j) / 255.0);
        }
        CHECK(exact, "gz %d: values differ from what was written", gz);
        cn_dataset_free(&d);
    }

    /* idx:DIR takes plain and gzipped files side by side, and classes from both splits */
    char dir[128], spec[160];
    snprintf(dir, sizeof dir, "%s/mix", tmpdir);
    mkdir(dir, 0700);
    write_pair(tpath("mix/train-images-idx3-ubyte.gz"), tpath("mix/train-labels-idx1-ubyte"), 20, 3, 1);
    write_pair(tpath("mix/t10k-images-idx3-ubyte"), tpath("mix/t10k-labels-idx1-ubyte.gz"), 7, 5, 0);
    write_labels(tpath("mix/t10k-labels-idx1-ubyte.gz"), 0x801, 7, 7, 5, 0, 1, -1, 0);
    snprintf(spec, sizeof spec, "idx:%s", dir);
    cn_data dd;
    cn_data_opts o = {.spec = spec};
    CHECK_OK(cn_data_load(&dd, &o, &e));
    if (e.status) printf("  %s\n", e.msg);
    CHECK(dd.train.count == 20 && dd.test.count == 7, "counts %d/%d", dd.train.count, dd.test.count);
    CHECK(dd.train.classes == 5 && dd.test.classes == 5, "classes %d/%d, want 5 (max over both splits)",
          dd.train.classes, dd.test.classes);
    CHECK(!strncmp(dd.name, "idx:", 4), "name %s", dd.name);
    cn_data_free(&dd);

    /* the CIFAR-10 binary layout: 1 label byte + 3072 pixel bytes per record */
    snprintf(dir, sizeof dir, "%s/cifar", tmpdir);
    mkdir(dir, 0700);
    unsigned char rec[3 * 3073];
    for (int f = 0; f < 6; f++) {
        int k = f < 5 ? 2 : 3;
        for (int r = 0; r < k; r++) {
            rec[r * 3073] = (unsigned char)((f + r) % 10);
            for (int j = 0; j < 3072; j++) rec[r * 3073 + 1 + j] = pixel(f * 10 + r, j);
        }
        char name[64];
        if (f < 5) snprintf(name, sizeof name, "cifar/data_batch_%d.bin", f + 1);
        else snprintf(name, sizeof name, "cifar/test_batch.bin");
        write_bytes(tpath(name), rec, (size_t)k * 3073, 0);
    }
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    o.spec = spec;
    CHECK_OK(cn_data_load(&dd, &o, &e));
    if (e.status) printf("  %s\n", e.msg);
    CHECK(dd.train.count == 10 && dd.test.count == 3, "cifar counts %d/%d", dd.train.count, dd.test.count);
    CHECK(dd.train.c == 3 && dd.train.h == 32 && dd.train.w == 32 && dd.train.classes == 10, "cifar shape");
    CHECK(!strcmp(dd.name, "cifar10"), "name %s", dd.name);
    if (dd.train.count == 10) {
        /* record 1 of data_batch_3 is training example 5 */
        CHECK(dd.train.y[5] == 3 && dd.train.x[5 * 3072 + 100] == (cn_real)(pixel(21, 100) / 255.0),
              "cifar record values");
        CHECK(dd.test.y[2] == 7 && dd.test.x[2 * 3072 + 3071] == (cn_real)(pixel(52, 3071) / 255.0), "cifar test");
    }
    cn_data_free(&dd);
}

/* ---------------------------------------------------------------- rejections */

static void test_idx_failures(void)
{
    const char *im = tpath("f-images"), *lb = tpath("f-labels"), *lbg = tpath("f-labels.gz");
    write_labels(lb, 0x801, 10, 10, 3, 0, 0, -1, 0);

    write_images(im, (idx_images){0x804, 10, 4, 5, 10, 0, 0});
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "magic");
    write_images(im, (idx_images){0x803, 10, 4, 5, 10, 0, 0});
    write_labels(lbg, 0x803, 10, 10, 3, 0, 1, -1, 0);
    expect_idx_fail(im, lbg, CN_ERR_FORMAT, lbg, "magic");

    /* a gzip of a few hundred bytes that declares 10^8 images of 28x28 is refused as truncated, having asked for
     * no more memory than the bytes that came (it asked for 313 GB first, and said "out of memory") */
    char huge[256], huge_labels[256]; /* tpath's buffers are few, and im and lb hold two */
    snprintf(huge, sizeof huge, "%s/huge.gz", tmpdir);
    snprintf(huge_labels, sizeof huge_labels, "%s/huge-labels", tmpdir);
    write_images(huge, (idx_images){0x803, 100000000, 28, 28, 2, 0, 1});
    write_labels(huge_labels, 0x801, 100000000, 2, 10, 0, 0, -1, 0);
    hook_install(0);
    expect_idx_fail(huge, huge_labels, CN_ERR_FORMAT, huge, "truncated: expected 78400000000 bytes of pixels, got 1568");
    size_t largest = g_stats.largest;
    long live = g_stats.live;
    cn_set_allocator(NULL);
    CHECK(largest <= 65536 && live == 0, "huge.gz: largest allocation %zu bytes, %ld left live", largest, live);

    write_images(im, (idx_images){0x803, 10, 4, 5, 9, 0, 0}); /* one image short: 180 of 200 pixels */
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "truncated: expected 200 bytes of pixels, got 180");
    write_images(im, (idx_images){0x803, 10, 4, 5, 10, 3, 0});
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "trailing");
    write_images(im, (idx_images){0x803, 10, 4, 5, 10, 0, 0});
    write_labels(lbg, 0x801, 10, 10, 3, 1, 1, -1, 0);
    expect_idx_fail(im, lbg, CN_ERR_FORMAT, lbg, "trailing");
    write_labels(lbg, 0x801, 10, 8, 3, 0, 1, -1, 0);
    expect_idx_fail(im, lbg, CN_ERR_FORMAT, lbg, "truncated: expected 10 bytes of labels, got 8");

    write_labels(lb, 0x801, 11, 11, 3, 0, 0, -1, 0);
    expect_idx_fail(im, lb, CN_ERR_FORMAT, lb, "11 labels");
    write_labels(lb, 0x801, 10, 10, 3, 0, 0, -1, 0);

    write_images(im, (idx_images){0x803, 10, 0, 5, 0, 0, 0});
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "image size");
    write_images(im, (idx_images){0x803, 10, 4097, 5, 0, 0, 0});
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "image size");
    write_images(im, (idx_images){0x803, 0, 4, 5, 0, 0, 0});
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "count");
    write_images(im, (idx_images){0x803, 100000001u, 28, 28, 0, 0, 0});
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "count");
    write_bytes(im, (const unsigned char *)"\0\0\x08\x03\0\0", 6, 0);
    expect_idx_fail(im, lb, CN_ERR_FORMAT, im, "header");

    /* a gzip file cut in the middle of its compressed data, and one missing only its 8-byte trailer */
    const char *img = tpath("f-images.gz");
    for (int cut = 0; cut < 2; cut++) {
        write_images(img, (idx_images){0x803, 200, 28, 28, 200, 0, 1});
        struct stat st;
        stat(img, &st);
        CHECK(truncate(img, cut ? st.st_size - 8 : st.st_size / 2) == 0, "truncate %s", img);
        write_labels(lb, 0x801, 200, 200, 3, 0, 0, -1, 0);
        expect_idx_fail(img, lb, CN_ERR_FORMAT, img, "truncated");
    }
    /* a flipped byte inside the compressed stream: corrupt data or a CRC mismatch */
    write_images(img, (idx_images){0x803, 200, 28, 28, 200, 0, 1});
    {
        FILE *f = fopen(img, "r+b");
        fseek(f, 40, SEEK_SET);
        int ch = fgetc(f);
        fseek(f, 40, SEEK_SET);
        fputc(ch ^ 0x55, f);
        fclose(f);
        cn_dataset d;
        cn_error e = {0};
        int rc = cn_idx_load(&d, img, lb, &e);
        CHECK(rc == CN_ERR_FORMAT && has(&e, img), "corrupt gzip: rc %d msg %s", rc, e.msg);
    }

    const char *nope = tpath("no-such-file");
    expect_idx_fail(nope, lb, CN_ERR_IO, nope, "cannot open");
    write_images(im, (idx_images){0x803, 10, 4, 5, 10, 0, 0});
    write_labels(lb, 0x801, 10, 10, 3, 0, 0, -1, 0);
    expect_idx_fail(im, nope, CN_ERR_IO, nope, "cannot open");
    CHECK(cn_idx_load(NULL, im, lb, NULL) == CN_ERR_ARG, "NULL output accepted");
    cn_dataset ok;
    CHECK(cn_idx_load(&ok, im, lb, NULL) == CN_OK, "a NULL cn_error must be allowed");
    cn_dataset_free(&ok);
}

static void test_load_failures(void)
{
    char dir[128], spec[192], path[256];
    cn_data d;

    /* idx:DIR with a split missing */
    snprintf(dir, sizeof dir, "%s/half", tmpdir);
    mkdir(dir, 0700);
    write_pair(tpath("half/train-images-idx3-ubyte"), tpath("half/train-labels-idx1-ubyte"), 5, 2, 0);
    write_images(tpath("half/t10k-images-idx3-ubyte.gz"), (idx_images){0x803, 5, 4, 5, 5, 0, 1});
    snprintf(spec, sizeof spec, "idx:%s", dir);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
    expect_load_fail(spec, NULL, CN_ERR_IO, path);
    /* shapes differing between the splits */
    write_images(tpath("half/t10k-images-idx3-ubyte.gz"), (idx_images){0x803, 5, 5, 4, 5, 0, 1});
    write_labels(tpath("half/t10k-labels-idx1-ubyte"), 0x801, 5, 5, 2, 0, 0, -1, 0);
    expect_load_fail(spec, NULL, CN_ERR_FORMAT, "1x4x5");

    snprintf(spec, sizeof spec, "idx:%s/nonexistent", tmpdir);
    expect_load_fail(spec, NULL, CN_ERR_IO, spec + 4);
    snprintf(spec, sizeof spec, "cifar10:%s/nonexistent", tmpdir);
    expect_load_fail(spec, NULL, CN_ERR_IO, spec + 8);

    expect_load_fail("imagenet", NULL, CN_ERR_ARG, "imagenet");
    expect_load_fail("imagenet", NULL, CN_ERR_ARG, "fashion-mnist, mnist, idx:DIR, gaussian, cifar10:DIR");
    expect_load_fail("idx:", NULL, CN_ERR_ARG, "unknown");
    expect_load_fail(NULL, NULL, CN_ERR_ARG, "valid");
    CHECK(cn_data_load(&d, NULL, NULL) == CN_ERR_ARG, "NULL options accepted");

    /* mnist: a root without the converted files points at the set-up script */
    snprintf(dir, sizeof dir, "%s/root", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/mnist", dir);
    expect_load_fail("mnist", dir, CN_ERR_IO, path);
    expect_load_fail("mnist", dir, CN_ERR_IO, "scripts/setup.sh");
    mkdir(path, 0700);
    expect_load_fail("mnist", dir, CN_ERR_IO, "all-images-idx3-ubyte");
    expect_load_fail("mnist", dir, CN_ERR_IO, "scripts/setup.sh");

    /* a small mnist under the root: 10 digits split 8/2; then a label 10, which MNIST cannot have */
    write_pair(tpath("root/mnist/all-images-idx3-ubyte.gz"), tpath("root/mnist/all-labels-idx1-ubyte"), 10, 10, 1);
    cn_data_opts o = {.spec = "mnist", .data_root = dir};
    cn_error e = {0};
    CHECK_OK(cn_data_load(&d, &o, &e));
    CHECK(d.train.count == 8 && d.test.count == 2 && d.train.classes == 10, "small mnist split %d/%d",
          d.train.count, d.test.count);
    cn_data_free(&d);
    setenv("CRITNET_DATA", dir, 1); /* the environment is the next place looked at */
    o.data_root = NULL;
    CHECK_OK(cn_data_load(&d, &o, &e));
    CHECK(d.train.count == 8, "$CRITNET_DATA not used");
    cn_data_free(&d);
    unsetenv("CRITNET_DATA");
    write_labels(tpath("root/mnist/all-labels-idx1-ubyte"), 0x801, 10, 10, 10, 0, 0, 4, 10);
    snprintf(path, sizeof path, "%s/mnist/all-labels-idx1-ubyte", dir);
    expect_load_fail("mnist", dir, CN_ERR_FORMAT, path);
    expect_load_fail("mnist", dir, CN_ERR_FORMAT, "label 10");

    /* CIFAR-10: a label >= 10, and a file that is not whole records */
    snprintf(dir, sizeof dir, "%s/cifar", tmpdir);
    snprintf(spec, sizeof spec, "cifar10:%s", dir);
    snprintf(path, sizeof path, "%s/data_batch_4.bin", dir);
    unsigned char rec[3073] = {10};
    write_bytes(path, rec, 3073, 0);
    expect_load_fail(spec, NULL, CN_ERR_FORMAT, path);
    expect_load_fail(spec, NULL, CN_ERR_FORMAT, "label 10");
    rec[0] = 1;
    write_bytes(path, rec, 3072, 0);
    expect_load_fail(spec, NULL, CN_ERR_FORMAT, path);
    expect_load_fail(spec, NULL, CN_ERR_FORMAT, "multiple");
    snprintf(path, sizeof path, "%s/test_batch.bin", dir);
    unlink(path);
    write_bytes(tpath("cifar/data_batch_4.bin"), rec, 3073, 0);
    expect_load_fail(spec, NULL, CN_ERR_IO, path);
}

/* ---------------------------------------------------------------- out of memory */

/* Fails allocation N for N = 1..20 in each loader: the result is CN_ERR_NOMEM or success, never a crash,
 * and every block is returned. */
static void test_nomem(void)
{
    char dir[128], spec[192];
    snprintf(dir, sizeof dir, "%s/oom", tmpdir);
    mkdir(dir, 0700);
    const char *im = tpath("oom/train-images-idx3-ubyte.gz"), *lb = tpath("oom/train-labels-idx1-ubyte");
    write_pair(im, lb, 12, 3, 1);
    write_pair(tpath("oom/t10k-images-idx3-ubyte"), tpath("oom/t10k-labels-idx1-ubyte"), 4, 3, 0);
    snprintf(spec, sizeof spec, "idx:%s", dir);
    write_pair(tpath("root/mnist/all-images-idx3-ubyte.gz"), tpath("root/mnist/all-labels-idx1-ubyte"), 10, 10, 1);
    char root[128];
    snprintf(root, sizeof root, "%s/root", tmpdir);

    const cn_data_opts cases[] = {
        {.spec = spec, .standardize = 1},
        {.spec = "mnist", .data_root = root, .standardize = 1},
        {.spec = "gaussian", .gaussian_dim = 3, .gaussian_count = 5},
    };
    for (int k = -1; k < 3; k++) {
        int nomem = 0, ok = 0, bad = 0, leaks = 0;
        for (long n = 1; n <= 20; n++) {
            hook_install(n);
            cn_error e = {0};
            int rc;
            if (k < 0) {
                cn_dataset d;
                rc = cn_idx_load(&d, im, lb, &e);
                cn_dataset_free(&d);
            } else {
                cn_data d;
                rc = cn_data_load(&d, &cases[k], &e);
                cn_data_free(&d);
            }
            cn_set_allocator(NULL);
            if (rc == CN_OK) ok++;
            else if (rc == CN_ERR_NOMEM && e.status == rc && e.msg[0]) nomem++;
            else {
                bad++;
                printf("  case %d, failing allocation %ld: rc %d: %s\n", k, n, rc, e.msg);
            }
            leaks += g_stats.live != 0;
        }
        CHECK(bad == 0, "case %d: %d results other than CN_OK or CN_ERR_NOMEM", k, bad);
        CHECK(nomem > 0 && ok > 0, "case %d: %d NOMEM and %d OK: the hook was not exercised", k, nomem, ok);
        CHECK(leaks == 0, "case %d: %d runs leaked blocks", k, leaks);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/critnet-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_fashion();
    test_mnist();
    test_gaussian();
    test_standardize();
    test_idx_valid();
    test_idx_failures();
    test_load_failures();
    test_nomem();
    remove_tree(tmpdir);
    return check_summary("data");
}
