/* images.c: "images:DIR", a folder of image files as the inputs torchvision's ImageNet models expect, so that
 * critnet can measure and evaluate an imported model on a user's own pictures.
 *
 * Layout, as torchvision's ImageFolder: DIR/CLASS/[SUBFOLDERS/]NAME.png gives labels 0, 1, ... to the class folders in
 * byte order of their names, and lists a class's files (subfolders too) in order of (folder, name), so that
 * labels and order match ImageFolder(DIR) exactly. DIR/NAME.png with no subfolder is an unlabeled set:
 * classes 0 and every y 0 (cn_dataset's convention). Files count by ImageFolder's extensions (.jpg .jpeg
 * .png .ppm .bmp .pgm .tif .tiff .webp, any case); stb_image decodes all but TIFF and WebP, which are
 * refused by name rather than silently skipped, so that the set never differs from ImageFolder's.
 *
 * Per image, torchvision's eval transform on a PIL image: convert("RGB") (or "L" for grey), Resize(resize)
 * of the shorter side with the longer int(resize * long / short), CenterCrop(crop) at round((size - crop)/2)
 * with Python's round (half to even), ToTensor, and Normalize with ImageNet's mean and std. The resize is
 * PIL's bilinear resampling re-implemented bit for bit (a triangle filter widened by the scale when
 * shrinking, 22-bit fixed-point weights, a horizontal pass rounded to bytes, then a vertical pass), so that
 * a PNG gives exactly torchvision's tensor. stb_image_resize is not used: the triangle filter of Debian's
 * libstb asserts (and so aborts) on common sizes, e.g. 375 -> 256 (nothings/stb#1449). Only the crop
 * window of the resized image is computed, which gives the same pixels since each is independent.
 *
 * Decoding is stb_image's: JPEGs differ from PIL's libjpeg-turbo by a level or two per pixel. stb
 * allocates with malloc (libstb is built without a hook), so only critnet's own buffers go through
 * cn_malloc. libstb's global flags (flip on load) are the process's: a program that sets them flips
 * these images too. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <stb_image.h>
#include "critnet.h"
#include "data/data.h"

#define IMG_MAX_SIDE (1 << 14) /* larger decodes take gigabytes; no model input needs them */
#define IMG_DEFAULT_CROP 224
#define IMG_MAX_DEPTH 16       /* subfolders followed inside a class (symbolic links can loop) */
/* The most pixels one byte of an image file can stand for: a 1-bit grey PNG holds 8 per byte before deflate,
 * whose best ratio is 1032 to 1; GIF's LZW, JPEG and the run-length formats stay below that. */
#define IMG_MAX_PIXELS_PER_BYTE 8256
#define PIL_PRECISION_BITS 22  /* PIL's 32 - 8 - 2: weights in fixed point, sums fit in int32 */

/* ---------------------------------------------------------------- settings */

typedef struct {
    int resize, crop, channels;
    cn_real table[3][256]; /* byte -> ToTensor and Normalize of it, per channel */
} img_cfg;

/* The table does the arithmetic torchvision does in float32: b / 255, then (x - mean) / std. */
static void fill_table(img_cfg *cfg, int normalize)
{
    static const double mean_rgb[3] = {0.485, 0.456, 0.406}, std_rgb[3] = {0.229, 0.224, 0.225};
    /* the usual grey statistics: the averages of the three, as people write them */
    static const double mean_grey = 0.449, std_grey = 0.226;
    unsigned char bytes[256];
    for (int b = 0; b < 256; b++) bytes[b] = (unsigned char)b;
    for (int c = 0; c < cfg->channels; c++) {
        cn_bytes_to_real(cfg->table[c], bytes, 256);
        if (!normalize) continue;
        cn_real m = (cn_real)(cfg->channels == 1 ? mean_grey : mean_rgb[c]);
        cn_real s = (cn_real)(cfg->channels == 1 ? std_grey : std_rgb[c]);
        for (int b = 0; b < 256; b++) cfg->table[c][b] = (cfg->table[c][b] - m) / s;
    }
}

static int make_cfg(img_cfg *cfg, const cn_data_opts *opts, cn_error *err)
{
    int crop = opts->image_crop ? opts->image_crop : IMG_DEFAULT_CROP;
    if (crop < 1 || crop > IMG_MAX_SIDE)
        return cn_error_set(err, CN_ERR_ARG, "images: crop %d must be in 1..%d", crop, IMG_MAX_SIDE);
    /* 256 for 224: the ratio of torchvision's ImageNet recipe */
    int resize = opts->image_resize ? opts->image_resize : (crop * 256 + 112) / 224;
    if (resize < crop || resize > IMG_MAX_SIDE)
        return cn_error_set(err, CN_ERR_ARG, "images: resize %d must be in %d..%d (at least the crop %d)", resize,
                            crop, IMG_MAX_SIDE, crop);
    cfg->crop = crop;
    cfg->resize = resize;
    cfg->channels = opts->image_grey ? 1 : 3;
    fill_table(cfg, opts->image_normalize != 0);
    return CN_OK;
}

/* ---------------------------------------------------------------- listing the files */

typedef struct {
    char *path;
    size_t dirlen; /* path[0..dirlen) is its folder: files sort by (folder, name) as ImageFolder's walk */
    int32_t label;
} img_file;

typedef struct {
    img_file *v;
    size_t n, cap;
} img_list;

typedef struct {
    char **v;
    size_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++) cn_free(l->v[i]);
    cn_free(l->v);
    memset(l, 0, sizeof *l);
}

static void list_free(img_list *l)
{
    for (size_t i = 0; i < l->n; i++) cn_free(l->v[i].path);
    cn_free(l->v);
    memset(l, 0, sizeof *l);
}

/* Grows an array of `size`-byte items to hold one more; 0 or CN_ERR_NOMEM. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return CN_OK;
    size_t cap2 = *cap ? *cap * 2 : 16;
    void *w = cn_malloc(cap2 * size);
    if (!w) return CN_ERR_NOMEM;
    if (n) memcpy(w, *v, n * size);
    cn_free(*v);
    *v = w;
    *cap = cap2;
    return CN_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of dir but . and .., in byte order (Python's order of str for UTF-8 names). */
static int read_names(name_list *out, const char *dir, cn_error *err)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return cn_error_set(err, CN_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    int rc = CN_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) rc = cn_error_set(err, CN_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
            break;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *name = NULL;
        if (grow((void **)&out->v, &out->cap, out->n, sizeof *out->v) || !(name = cn_strdup(e->d_name))) {
            rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
        out->v[out->n++] = name;
    }
    closedir(d);
    if (rc) names_free(out);
    else if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_names);
    return rc;
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = cn_malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* A folder, following symbolic links as ImageFolder does; anything else (a broken link too) is a file. */
static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

/* torchvision's IMG_EXTENSIONS, which decide what ImageFolder lists */
static int has_image_ext(const char *name)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (ends_with_ci(name, ext[i])) return 1;
    return 0;
}

static int stb_cannot_decode(const char *name)
{
    return ends_with_ci(name, ".tif") || ends_with_ci(name, ".tiff") || ends_with_ci(name, ".webp");
}

/* Takes ownership of path. */
static int list_push(img_list *l, char *path, size_t dirlen, int32_t label)
{
    if (grow((void **)&l->v, &l->cap, l->n, sizeof *l->v)) {
        cn_free(path);
        return CN_ERR_NOMEM;
    }
    l->v[l->n++] = (img_file){path, dirlen, label};
    return CN_OK;
}

/* Python's (folder, name) tuple order: folders compared as strings first, then names. */
static int cmp_files(const void *pa, const void *pb)
{
    const img_file *a = pa, *b = pb;
    size_t n = a->dirlen < b->dirlen ? a->dirlen : b->dirlen;
    int c = memcmp(a->path, b->path, n);
    if (c) return c;
    if (a->dirlen != b->dirlen) return a->dirlen < b->dirlen ? -1 : 1;
    return strcmp(a->path + a->dirlen + 1, b->path + b->dirlen + 1);
}

/* Adds the image files under dir (recursively, as os.walk) with the given label. */
static int walk_class(img_list *l, const char *dir, int32_t label, int depth, cn_error *err)
{
    name_list names;
    int rc = read_names(&names, dir, err);
    for (size_t i = 0; !rc && i < names.n; i++) {
        char *path = join(dir, names.v[i]);
        if (!path) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory listing the folder", dir);
        else if (is_folder(path)) {
            if (depth >= IMG_MAX_DEPTH)
                rc = cn_error_set(err, CN_ERR_FORMAT, "%s: folders nested more than %d deep (a symbolic link loop?)",
                                  path, IMG_MAX_DEPTH);
            else rc = walk_class(l, path, label, depth + 1, err);
            cn_free(path);
        } else if (has_image_ext(names.v[i])) {
            if (list_push(l, path, strlen(dir), label))
                rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory listing the folder", dir);
        } else
            cn_free(path);
    }
    names_free(&names);
    return rc;
}

/* The class folders of root (sorted) and the image files directly in it (sorted, label 0). */
static int scan_root(const char *root, name_list *classes, img_list *loose, cn_error *err)
{
    name_list names;
    int rc = read_names(&names, root, err);
    memset(classes, 0, sizeof *classes);
    for (size_t i = 0; !rc && i < names.n; i++) {
        char *path = join(root, names.v[i]);
        if (!path) rc = CN_ERR_NOMEM;
        else if (is_folder(path)) {
            cn_free(path);
            if (!(rc = grow((void **)&classes->v, &classes->cap, classes->n, sizeof *classes->v))) {
                classes->v[classes->n++] = names.v[i]; /* moves the name */
                names.v[i] = NULL;
            }
        } else if (has_image_ext(names.v[i]))
            rc = list_push(loose, path, strlen(root), 0);
        else
            cn_free(path);
        if (rc == CN_ERR_NOMEM) rc = cn_error_set(err, rc, "%s: out of memory listing the folder", root);
    }
    names_free(&names);
    if (rc) names_free(classes);
    return rc;
}

/* Every image of root with its label; *classes 0 for loose images. */
static int list_images(img_list *l, const char *root, int *nclasses, cn_error *err)
{
    name_list classes;
    memset(l, 0, sizeof *l);
    int rc = scan_root(root, &classes, l, err);
    if (rc) {
        list_free(l);
        return rc;
    }
    if (classes.n && l->n)
        rc = cn_error_set(err, CN_ERR_FORMAT,
                          "%s: holds both image files and subfolders; put the images either in class folders "
                          "(DIR/CLASS/*.png, labelled) or directly in DIR (DIR/*.png, unlabeled)",
                          root);
    else if (classes.n > (size_t)INT32_MAX)
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: %zu class folders are too many", root, classes.n);
    for (size_t k = 0; !rc && k < classes.n; k++) {
        size_t first = l->n;
        char *dir = join(root, classes.v[k]);
        if (!dir) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory listing the folder", root);
        else if (!(rc = walk_class(l, dir, (int32_t)k, 1, err)) && l->n == first)
            rc = cn_error_set(err, CN_ERR_FORMAT,
                              "%s: class folder holds no images (.jpg .jpeg .png .ppm .bmp .pgm); ImageFolder "
                              "refuses it too",
                              dir);
        cn_free(dir);
        if (!rc) qsort(l->v + first, l->n - first, sizeof *l->v, cmp_files);
    }
    if (!rc && !l->n)
        rc = cn_error_set(err, CN_ERR_FORMAT,
                          "%s: no images (expected DIR/CLASS/*.png or DIR/*.png; extensions .jpg .jpeg .png .ppm "
                          ".bmp .pgm)",
                          root);
    if (!rc && !classes.n) qsort(l->v, l->n, sizeof *l->v, cmp_files);
    *nclasses = (int)classes.n;
    names_free(&classes);
    if (rc) list_free(l);
    return rc;
}

/* ---------------------------------------------------------------- PIL's bilinear resize */

/* Taps of a one-dimensional resize from `in` to `out` pixels, for the outputs first..first+count-1. */
typedef struct {
    int ksize;
    int *lo, *n;   /* first input pixel and number of taps, per output */
    int32_t *k;    /* (count, ksize) weights, scaled by 2^22 */
} taps;

static double triangle(double x)
{
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL's precompute_coeffs and normalize_coeffs_8bpc (Resample.c), statement for statement, so that each
 * weight rounds to the same integer. */
static int taps_make(taps *t, int in, int out, int first, int count)
{
    double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale, ss = 1.0 / filterscale;
    t->ksize = (int)ceil(support) * 2 + 1;
    t->lo = cn_malloc((size_t)count * 2 * sizeof *t->lo);
    t->k = cn_calloc((size_t)count * t->ksize, sizeof *t->k);
    if (!t->lo || !t->k) return CN_ERR_NOMEM;
    t->n = t->lo + count;
    for (int i = 0; i < count; i++) {
        double center = (first + i + 0.5) * scale, ww = 0.0;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) ww += triangle((x + xmin - center + 0.5) * ss);
        for (int x = 0; x < xmax; x++) {
            double w = triangle((x + xmin - center + 0.5) * ss);
            if (ww != 0.0) w /= ww;
            t->k[(size_t)i * t->ksize + x] = (int32_t)(w < 0 ? -0.5 + w * (1 << PIL_PRECISION_BITS)
                                                             : 0.5 + w * (1 << PIL_PRECISION_BITS));
        }
        t->lo[i] = xmin;
        t->n[i] = xmax;
    }
    return CN_OK;
}

static void taps_free(taps *t)
{
    cn_free(t->lo);
    cn_free(t->k);
}

static inline unsigned char clip8(int64_t s)
{
    if (s < 0) return 0;
    s >>= PIL_PRECISION_BITS;
    return (unsigned char)(s > 255 ? 255 : s);
}

/* One tap row over bytes `stride` apart, rounded as PIL rounds. */
static inline unsigned char apply(const taps *t, int i, const unsigned char *p, size_t stride)
{
    const int32_t *k = t->k + (size_t)i * t->ksize;
    int64_t s = (int64_t)1 << (PIL_PRECISION_BITS - 1);
    for (int x = 0; x < t->n[i]; x++) s += (int64_t)p[x * stride] * k[x];
    return clip8(s);
}

/* torchvision's output size for Resize(resize): the shorter side becomes resize, the longer
 * int(resize * long / short); the integer quotient is the same for sides below 2^14. */
static void resized_size(int w, int h, int resize, int *nw, int *nh)
{
    if (w <= h) {
        *nw = resize;
        *nh = (int)((int64_t)resize * h / w);
    } else {
        *nh = resize;
        *nw = (int)((int64_t)resize * w / h);
    }
}

/* CenterCrop's int(round((size - crop) / 2.0)): Python rounds halves to even. */
static int center_offset(int size, int crop)
{
    int d = size - crop, k = d / 2;
    return (d % 2 && k % 2) ? k + 1 : k;
}

/* Resizes pix (w x h, sc channels as stb decoded them, interleaved) as PIL, crops as CenterCrop, and writes the
 * crop as CHW through cfg's table. A grey source (1 or 2 channels) gives every output channel its grey, and an
 * alpha channel is left out, as PIL's convert("RGB") does. Only the source rows under the crop pass the
 * horizontal step. */
static int resize_crop(const unsigned char *pix, int w, int h, int sc, const img_cfg *cfg, cn_real *dst,
                       const char *path, cn_error *err)
{
    int nw, nh, crop = cfg->crop, ch = cfg->channels;
    resized_size(w, h, cfg->resize, &nw, &nh);
    taps tx = {0}, ty = {0};
    unsigned char *rows = NULL;
    int rc = taps_make(&tx, w, nw, center_offset(nw, crop), crop);
    if (!rc) rc = taps_make(&ty, h, nh, center_offset(nh, crop), crop);
    int y0 = INT_MAX, y1 = 0;
    for (int i = 0; !rc && i < crop; i++) {
        if (ty.lo[i] < y0) y0 = ty.lo[i];
        if (ty.lo[i] + ty.n[i] > y1) y1 = ty.lo[i] + ty.n[i];
    }
    if (!rc && !(rows = cn_malloc((size_t)(y1 - y0) * crop * ch))) rc = CN_ERR_NOMEM;
    if (rc) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory resizing %dx%d to %dx%d", path, w, h, nw, nh);
        goto done;
    }
    for (int y = y0; y < y1; y++)
        for (int j = 0; j < crop; j++)
            for (int c = 0; c < ch; c++)
                rows[((size_t)(y - y0) * crop + j) * ch + c] =
                    apply(&tx, j, pix + ((size_t)y * w + tx.lo[j]) * sc + (sc < 3 ? 0 : c), (size_t)sc);
    size_t plane = (size_t)crop * crop;
    for (int i = 0; i < crop; i++)
        for (int j = 0; j < crop; j++)
            for (int c = 0; c < ch; c++) {
                const unsigned char *p = rows + ((size_t)(ty.lo[i] - y0) * crop + j) * ch + c;
                dst[c * plane + (size_t)i * crop + j] = cfg->table[c][apply(&ty, i, p, (size_t)crop * ch)];
            }
done:
    cn_free(rows);
    taps_free(&tx);
    taps_free(&ty);
    return rc;
}

/* ---------------------------------------------------------------- decoding */

static int decode_error(const char *path, cn_error *err)
{
    const char *why = stbi_failure_reason();
    if (why && !strcmp(why, "outofmem")) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory decoding", path);
    return cn_error_set(err, CN_ERR_FORMAT, "%s: cannot decode the image: %s", path, why ? why : "unknown error");
}

/* The sides the header declares, checked before stb allocates for them: within IMG_MAX_SIDE, and no more
 * pixels than the file's bytes can hold (stb sizes its buffers from the header, so a 100-byte file that
 * declared 16384x16384 made it allocate 800 MB before finding the data short). */
static int check_sides(const char *path, FILE *f, int w, int h, cn_error *err)
{
    if (w < 1 || h < 1 || w > IMG_MAX_SIDE || h > IMG_MAX_SIDE)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: image is %dx%d; sides must be 1..%d pixels", path, w, h,
                            IMG_MAX_SIDE);
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)w * (uint64_t)h > (uint64_t)st.st_size * IMG_MAX_PIXELS_PER_BYTE)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: the header declares %dx%d pixels, more than the file's %lld "
                            "bytes can hold", path, w, h, (long long)st.st_size);
    return CN_OK;
}

/* PIL's convert("L") of RGB (ITU-R 601-2 luma in 16-bit fixed point) for pixels of sc >= 3 channels, packed
 * in place into one channel. */
static void to_luma(unsigned char *pix, size_t count, int sc)
{
    for (size_t i = 0; i < count; i++) {
        const unsigned char *p = pix + (size_t)sc * i;
        uint32_t l = (uint32_t)p[0] * 19595 + (uint32_t)p[1] * 38470 + (uint32_t)p[2] * 7471 + 0x8000;
        pix[i] = (unsigned char)(l >> 16);
    }
}

/* stb_image grows its buffer for a PNG's compressed data to each IDAT chunk's declared length before it reads
 * the chunk, so a 100-byte file whose chunk claimed 1.8 GB made it allocate that much. PNG's own rule, that
 * every chunk (length, type, data, CRC) lies inside the file, is checked here first. f is left at its start. */
static int check_png_chunks(const char *path, FILE *f, cn_error *err)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char b[8];
    struct stat st;
    int rc = CN_OK;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) return CN_OK;
    if (fread(b, 1, 8, f) == 8 && !memcmp(b, sig, 8)) {
        uint64_t at = 8, size = (uint64_t)st.st_size;
        while (at + 8 <= size && fread(b, 1, 8, f) == 8) {
            uint64_t len = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 | (uint64_t)b[2] << 8 | b[3];
            if (len + 12 > size - at) {
                rc = cn_error_set(err, CN_ERR_FORMAT, "%s: the PNG chunk at byte %llu declares %llu bytes, past the "
                                  "end of the file (%llu bytes)", path, (unsigned long long)at,
                                  (unsigned long long)len, (unsigned long long)size);
                break;
            }
            if (!memcmp(b + 4, "IEND", 4)) break;
            at += 12 + len;
            if (fseek(f, (long)at, SEEK_SET) != 0) break;
        }
    }
    if (fseek(f, 0, SEEK_SET) != 0 && !rc) rc = cn_error_set(err, CN_ERR_IO, "%s: cannot seek", path);
    return rc;
}

/* stb_image reads a binary PGM or PPM's pixels without checking that they arrived, and decodes a short file
 * into the uninitialised rest of its buffer; so the data a P5/P6 header declares must be in the file. The
 * header is read by stb's own grammar (whitespace and # comments between the numbers, one byte after the
 * last). f is left at its start. */
static int check_pnm_length(const char *path, FILE *f, cn_error *err)
{
    unsigned char head[4096];
    size_t n = fread(head, 1, sizeof head, f), i = 2;
    struct stat st;
    int rc = CN_OK;
    uint64_t v[3] = {0, 0, 0};
    if (n < 2 || head[0] != 'P' || (head[1] != '5' && head[1] != '6') || fstat(fileno(f), &st) != 0 ||
        !S_ISREG(st.st_mode))
        goto done;
    for (int k = 0; k < 3; k++) {
        for (;;) {
            while (i < n && strchr(" \t\n\v\f\r", head[i]) && head[i]) i++;
            if (i >= n || head[i] != '#') break;
            while (i < n && head[i] != '\n' && head[i] != '\r') i++;
        }
        if (i >= n || head[i] < '0' || head[i] > '9') goto done; /* stb refuses it, with its own message */
        while (i < n && head[i] >= '0' && head[i] <= '9' && v[k] < (1u << 30)) v[k] = v[k] * 10 + (head[i++] - '0');
    }
    uint64_t need = i + 1 + v[0] * v[1] * (head[1] == '6' ? 3 : 1) * (v[2] > 255 ? 2 : 1);
    if (v[0] <= IMG_MAX_SIDE && v[1] <= IMG_MAX_SIDE && (uint64_t)st.st_size < need)
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: truncated: the P%c header declares %llux%llu pixels (maximum %llu), "
                          "%llu bytes with the header, and the file has %lld", path, head[1], (unsigned long long)v[0],
                          (unsigned long long)v[1], (unsigned long long)v[2], (unsigned long long)need,
                          (long long)st.st_size);
done:
    if (fseek(f, 0, SEEK_SET) != 0 && !rc) rc = cn_error_set(err, CN_ERR_IO, "%s: cannot seek", path);
    return rc;
}

/* The header is read first so that an oversized image is refused before stb allocates for it. */
static int load_image(const char *path, const img_cfg *cfg, cn_real *dst, cn_error *err)
{
    if (stb_cannot_decode(path))
        return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: stb_image cannot decode TIFF or WebP; convert it to PNG",
                            path);
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error_set(err, CN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int w, h, comp, rc = check_png_chunks(path, f, err);
    if (!rc) rc = check_pnm_length(path, f, err);
    unsigned char *pix = NULL;
    if (!rc && !stbi_info_from_file(f, &w, &h, &comp)) rc = decode_error(path, err);
    else if (!rc && !(rc = check_sides(path, f, w, h, err))) {
        /* the channels as stored (req_comp 0): Debian's stb 2.27 converts a 16-bit PNM to 3 channels as if it
         * were 8-bit and then reads twice the buffer (fuzz_images: a 13-byte P5 file, a SEGV in libstb) */
        if (!(pix = stbi_load_from_file(f, &w, &h, &comp, 0))) rc = decode_error(path, err);
        else if (comp < 1 || comp > 4) rc = cn_error_set(err, CN_ERR_FORMAT, "%s: %d channels", path, comp);
        else if (!(rc = check_sides(path, f, w, h, err))) { /* again: the file may have changed */
            if (cfg->channels == 1 && comp >= 3) {
                to_luma(pix, (size_t)w * h, comp);
                comp = 1;
            }
            rc = resize_crop(pix, w, h, comp, cfg, dst, path, err);
        }
    }
    stbi_image_free(pix);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------- the data set */

static char *trimmed(const char *dir)
{
    char *s = cn_strdup(dir);
    if (!s) return NULL;
    for (size_t n = strlen(s); n > 1 && s[n - 1] == '/'; n--) s[n - 1] = '\0';
    return s;
}

int cn_images_load(cn_dataset *out, const char *dir, const cn_data_opts *opts, cn_error *err)
{
    if (!out || !dir || !opts) return cn_error_set(err, CN_ERR_ARG, "cn_images_load: NULL argument");
    memset(out, 0, sizeof *out);
    img_cfg cfg;
    int rc = make_cfg(&cfg, opts, err), classes = 0;
    if (rc) return rc;
    if (!is_folder(dir)) return cn_error_set(err, CN_ERR_IO, "%s: no such folder", dir);
    char *root = trimmed(dir);
    if (!root) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", dir);
    img_list l;
    if ((rc = list_images(&l, root, &classes, err))) goto done;
    /* the whole set is held decoded; a caller that needs only the first N (measure --samples) decodes N */
    if (opts->image_limit > 0 && l.n > (size_t)opts->image_limit) l.n = (size_t)opts->image_limit;
    size_t n = (size_t)cfg.channels * cfg.crop * cfg.crop;
    if (l.n > (size_t)INT_MAX || l.n > SIZE_MAX / sizeof(cn_real) / n) {
        rc = cn_error_set(err, CN_ERR_ARG, "%s: %zu images of %zu values are too many", root, l.n, n);
        goto done;
    }
    out->x = cn_malloc(l.n * n * sizeof *out->x);
    out->y = cn_calloc(l.n, sizeof *out->y);
    if (!out->x || !out->y) {
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %zu images of %dx%dx%d", root, l.n,
                          cfg.channels, cfg.crop, cfg.crop);
        goto done;
    }
    for (size_t i = 0; i < l.n && !rc; i++) {
        rc = load_image(l.v[i].path, &cfg, out->x + i * n, err);
        out->y[i] = l.v[i].label;
    }
    out->count = (int)l.n;
    out->c = cfg.channels;
    out->h = out->w = cfg.crop;
    out->classes = classes;
done:
    list_free(&l);
    cn_free(root);
    if (rc) cn_dataset_free(out);
    return rc;
}
