/* npy.c: "npy:FILE[,LABELS]", NumPy's .npy files, so that inputs prepared in Python (any preprocessing a
 * model needs) reach critnet unchanged.
 *
 * The format (numpy/lib/format.py): "\x93NUMPY", a version byte pair (1.0, 2.0 or 3.0), the header length
 * (2 bytes little-endian in 1.0, 4 in 2.0 and 3.0), then a Python dict literal with exactly the keys
 * 'descr', 'fortran_order' and 'shape', and then the raw data. The header is parsed as the small piece of
 * Python it is (either quote, any spacing, a trailing comma, Python 2's 3L), not by searching for
 * substrings, and the data must be exactly as long as the shape says: a truncated file or trailing bytes
 * mean that header and data disagree, and are refused with the file's name.
 *
 * Inputs: float32 or float64 ('<f4', '<f8', big-endian too), shape (N, C, H, W), (N, H, W) -> C = 1, or
 * (N, F) -> C = F, H = W = 1 (the gaussian set's convention). Labels: a 1-D integer array (int8..int64,
 * uint8..uint64) of N labels in 0..2^31-2, so that classes = max + 1 fits an int. Without a labels file
 * the set is unlabeled: classes 0, every y 0. C order only: fortran_order True is refused rather than
 * transposed, since such a file was most likely written by mistake. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "critnet.h"
#include "data/data.h"

#define NPY_MAX_HEADER 65536 /* numpy writes ~128 bytes, and np.load refuses over 10,000 by default */
#define NPY_MAX_DIMS 8
#define NPY_CHUNK 65536
#define NPY_MAX_LABEL (INT32_MAX - 1)

typedef struct {
    char descr[16];   /* as written, for messages */
    char kind;        /* 'f', 'i' or 'u' */
    int size;         /* bytes per element */
    int swap;         /* stored in the other byte order than this machine's */
    int fortran;
    int ndim;
    uint64_t shape[NPY_MAX_DIMS];
    uint64_t count;   /* product of shape */
    long offset;      /* where the data starts */
} npy_header;

/* ---------------------------------------------------------------- the header's dict literal */

typedef struct {
    const char *s;
    size_t i, n;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int peek(cursor *c)
{
    skip_ws(c);
    return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

static int eat(cursor *c, char ch)
{
    if (peek(c) != ch) return 0;
    c->i++;
    return 1;
}

/* A quoted string without escapes (none of the three values needs one). */
static const char *parse_string(cursor *c, char *out, size_t cap)
{
    int q = peek(c);
    if (q != '\'' && q != '"') return "expected a quoted string";
    size_t start = ++c->i;
    while (c->i < c->n && c->s[c->i] != q) {
        if (c->s[c->i] == '\\') return "escapes in strings are not supported";
        c->i++;
    }
    if (c->i >= c->n) return "unterminated string";
    size_t len = c->i++ - start;
    if (len >= cap) return "string too long";
    memcpy(out, c->s + start, len);
    out[len] = '\0';
    return NULL;
}

static int eat_word(cursor *c, const char *w)
{
    size_t len = strlen(w);
    skip_ws(c);
    if (c->n - c->i < len || memcmp(c->s + c->i, w, len)) return 0;
    c->i += len;
    return 1;
}

static const char *parse_bool(cursor *c, int *v)
{
    if (eat_word(c, "True")) *v = 1;
    else if (eat_word(c, "False")) *v = 0;
    else return "expected True or False";
    return NULL;
}

static const char *parse_uint(cursor *c, uint64_t *v)
{
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9') return "expected a non-negative integer";
    *v = 0;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        unsigned d = (unsigned)(c->s[c->i++] - '0');
        if (*v > (UINT64_MAX - d) / 10) return "integer too large";
        *v = *v * 10 + d;
    }
    if (c->i < c->n && (c->s[c->i] == 'L' || c->s[c->i] == 'l')) c->i++; /* Python 2's long */
    return NULL;
}

/* (), (3,), (2, 3) and (2, 3,): a tuple of integers. (3) is the integer 3 in Python, so it is refused. */
static const char *parse_shape(cursor *c, npy_header *h)
{
    if (!eat(c, '(')) return "expected a tuple for 'shape'";
    int comma = 0;
    h->ndim = 0;
    while (!eat(c, ')')) {
        if (h->ndim == NPY_MAX_DIMS) return "more than 8 dimensions";
        const char *e = parse_uint(c, &h->shape[h->ndim++]);
        if (e) return e;
        comma = eat(c, ',');
        if (!comma && peek(c) != ')') return "expected ',' or ')' in 'shape'";
    }
    if (h->ndim == 1 && !comma) return "a one-element 'shape' needs a trailing comma: (N,)";
    return NULL;
}

static const char *parse_dict(cursor *c, npy_header *h)
{
    int seen[3] = {0, 0, 0};
    if (!eat(c, '{')) return "expected '{'";
    while (!eat(c, '}')) {
        char key[32];
        const char *e = parse_string(c, key, sizeof key);
        if (e) return e;
        if (!eat(c, ':')) return "expected ':'";
        int k = !strcmp(key, "descr") ? 0 : !strcmp(key, "fortran_order") ? 1 : !strcmp(key, "shape") ? 2 : -1;
        if (k < 0) return "unknown key (expected 'descr', 'fortran_order' and 'shape')";
        if (seen[k]++) return "a key appears twice";
        if (k == 0 && peek(c) == '[') e = "structured dtypes are not supported";
        else if (k == 0) e = parse_string(c, h->descr, sizeof h->descr);
        else if (k == 1) e = parse_bool(c, &h->fortran);
        else e = parse_shape(c, h);
        if (e) return e;
        if (!eat(c, ',') && peek(c) != '}') return "expected ',' or '}'";
    }
    if (peek(c) != -1) return "text after the closing '}'";
    if (!seen[0] || !seen[1] || !seen[2]) return "missing key (expected 'descr', 'fortran_order' and 'shape')";
    return NULL;
}

static int host_little(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* '<f4': byte order, kind, size. '|' (no order) only for single bytes, as numpy writes them. */
static const char *parse_descr(npy_header *h)
{
    const char *d = h->descr;
    char order = d[0], kind = d[0] ? d[1] : 0;
    if (!strchr("<>|", order) || !order) return "expected a byte order '<', '>' or '|'";
    if (kind != 'f' && kind != 'i' && kind != 'u') return "not a float or integer dtype";
    int size = 0;
    for (const char *p = d + 2; *p; p++) {
        if (*p < '0' || *p > '9' || size > 100) return "malformed size";
        size = size * 10 + (*p - '0');
    }
    int ok = kind == 'f' ? (size == 4 || size == 8) : (size == 1 || size == 2 || size == 4 || size == 8);
    if (!ok) return "unsupported element size";
    if (order == '|' && size != 1) return "'|' (no byte order) is only for one-byte types";
    h->kind = kind;
    h->size = size;
    h->swap = size > 1 && (order == '<') != host_little();
    return NULL;
}

/* ---------------------------------------------------------------- reading */

static uint32_t le(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int read_exact(FILE *f, void *buf, size_t n, size_t *got)
{
    *got = fread(buf, 1, n, f);
    return *got == n;
}

/* Magic, version and header length; *offset is where the data will start. */
static int read_preamble(FILE *f, const char *path, uint32_t *hlen, long *offset, cn_error *err)
{
    unsigned char pre[12];
    size_t got;
    if (!read_exact(f, pre, 8, &got)) {
        if (ferror(f)) return cn_error_set(err, CN_ERR_IO, "%s: read error: %s", path, strerror(errno));
        return cn_error_set(err, CN_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than a .npy preamble", path, got);
    }
    if (memcmp(pre, "\x93NUMPY", 6))
        return cn_error_set(err, CN_ERR_FORMAT, "%s: bad magic (a .npy file starts with \\x93NUMPY)", path);
    int major = pre[6], minor = pre[7], lenbytes = major == 1 ? 2 : 4;
    if (major < 1 || major > 3 || minor != 0)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: .npy format version %d.%d is not supported (1.0, 2.0, 3.0 are)",
                            path, major, minor);
    if (!read_exact(f, pre + 8, (size_t)lenbytes, &got))
        return cn_error_set(err, CN_ERR_FORMAT, "%s: truncated inside the .npy preamble", path);
    *hlen = le(pre + 8, lenbytes);
    if (*hlen < 2 || *hlen > NPY_MAX_HEADER)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: .npy header length %u is implausible (2..%d)", path,
                            (unsigned)*hlen, NPY_MAX_HEADER);
    *offset = 8 + lenbytes + (long)*hlen;
    return CN_OK;
}

/* The dict literal, then its dtype; a syntax error quotes the header's first line. */
static int parse_header(const char *text, size_t len, const char *path, npy_header *h, cn_error *err)
{
    cursor c = {text, 0, len};
    const char *e = parse_dict(&c, h);
    if (e) {
        size_t nl = strcspn(text, "\n");
        return cn_error_set(err, CN_ERR_FORMAT, "%s: bad .npy header at character %zu: %s (header: %.*s)", path, c.i,
                            e, (int)(nl < 160 ? nl : 160), text);
    }
    if ((e = parse_descr(h)))
        return cn_error_set(err, CN_ERR_FORMAT, "%s: dtype '%s': %s (inputs: '<f4' or '<f8'; labels: integers)", path,
                            h->descr, e);
    return CN_OK;
}

static int read_header(FILE *f, const char *path, npy_header *h, cn_error *err)
{
    uint32_t hlen = 0;
    memset(h, 0, sizeof *h);
    int rc = read_preamble(f, path, &hlen, &h->offset, err);
    if (rc) return rc;
    char *text = cn_malloc(hlen + 1);
    if (!text) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for the .npy header", path);
    size_t got;
    if (!read_exact(f, text, hlen, &got))
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: truncated: the .npy header promises %u bytes, the file has %zu",
                          path, (unsigned)hlen, got);
    else {
        text[hlen] = '\0';
        rc = parse_header(text, hlen, path, h, err);
    }
    cn_free(text);
    return rc;
}

/* fortran_order, dimensions and the total size. */
static int check_layout(npy_header *h, const char *path, cn_error *err)
{
    if (h->fortran)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "%s: fortran_order is True; write the array in C order (numpy.ascontiguousarray)", path);
    h->count = 1;
    for (int i = 0; i < h->ndim; i++) {
        if (h->shape[i] == 0) return cn_error_set(err, CN_ERR_FORMAT, "%s: dimension %d of the shape is 0", path, i);
        if (h->count > UINT64_MAX / h->shape[i] / (uint64_t)h->size)
            return cn_error_set(err, CN_ERR_FORMAT, "%s: the shape's size overflows", path);
        h->count *= h->shape[i];
    }
    return CN_OK;
}

/* The file's length must be the header's promise exactly; checked before allocating, so that a lying
 * header does not ask for terabytes. */
static int check_length(FILE *f, const char *path, const npy_header *h, cn_error *err)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) return CN_OK; /* a pipe: checked while reading */
    uint64_t have = (uint64_t)st.st_size > (uint64_t)h->offset ? (uint64_t)st.st_size - (uint64_t)h->offset : 0;
    uint64_t want = h->count * (uint64_t)h->size;
    if (have < want)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "%s: truncated: the shape and dtype '%s' need %llu bytes of data, the file has %llu", path,
                            h->descr, (unsigned long long)want, (unsigned long long)have);
    if (have > want)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "%s: %llu trailing bytes after the %llu bytes of data the header promises", path,
                            (unsigned long long)(have - want), (unsigned long long)want);
    return CN_OK;
}

static void swap_bytes(unsigned char *p, size_t count, int size)
{
    for (size_t i = 0; i < count; i++, p += size)
        for (int a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Element i of a chunk as a double (inputs) or an int64 (labels; *ok 0 for a uint64 past INT64_MAX). */
static double get_float(const unsigned char *p, int size)
{
    if (size == 4) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    double v;
    memcpy(&v, p, 8);
    return v;
}

static int64_t get_int(const unsigned char *p, char kind, int size, int *ok)
{
    uint8_t u8 = p[0];
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    *ok = 1;
    switch (size) {
    case 1:
        return kind == 'u' ? (int64_t)u8 : (int64_t)(int8_t)u8;
    case 2:
        memcpy(&u16, p, 2);
        return kind == 'u' ? (int64_t)u16 : (int64_t)(int16_t)u16;
    case 4:
        memcpy(&u32, p, 4);
        return kind == 'u' ? (int64_t)u32 : (int64_t)(int32_t)u32;
    default:
        memcpy(&u64, p, 8);
        if (kind == 'u' && u64 > INT64_MAX) *ok = 0;
        return (int64_t)u64;
    }
}

/* Streams the data through a chunk buffer into x (inputs, when not NULL) or y (labels). */
static int read_data(FILE *f, const char *path, const npy_header *h, cn_real *x, int32_t *y, cn_error *err)
{
    unsigned char *buf = cn_malloc(NPY_CHUNK);
    if (!buf) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for a read buffer", path);
    size_t per = NPY_CHUNK / (size_t)h->size, got;
    int rc = CN_OK;
    for (uint64_t done = 0; done < h->count && !rc;) {
        size_t k = h->count - done < per ? (size_t)(h->count - done) : per;
        if (!read_exact(f, buf, k * (size_t)h->size, &got)) {
            if (ferror(f)) rc = cn_error_set(err, CN_ERR_IO, "%s: read error: %s", path, strerror(errno));
            else
                rc = cn_error_set(err, CN_ERR_FORMAT, "%s: truncated: the data ends after %llu of %llu elements", path,
                                  (unsigned long long)(done + got / (size_t)h->size), (unsigned long long)h->count);
            break;
        }
        if (h->swap) swap_bytes(buf, k, h->size);
        for (size_t i = 0; i < k && !rc; i++) {
            const unsigned char *p = buf + i * (size_t)h->size;
            if (x) {
                x[done + i] = (cn_real)get_float(p, h->size);
                continue;
            }
            int ok;
            int64_t v = get_int(p, h->kind, h->size, &ok);
            if (!ok || v < 0 || v > NPY_MAX_LABEL)
                rc = cn_error_set(err, CN_ERR_FORMAT, "%s: label %s%lld of example %llu is outside 0..%d", path,
                                  ok ? "" : ">", (long long)(ok ? v : INT64_MAX), (unsigned long long)(done + i),
                                  NPY_MAX_LABEL);
            else
                y[done + i] = (int32_t)v;
        }
        done += k;
    }
    if (!rc && fgetc(f) != EOF) /* for a pipe; a regular file was measured before */
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: trailing bytes after the data the header promises", path);
    cn_free(buf);
    return rc;
}

static int open_npy(FILE **f, const char *path, npy_header *h, cn_error *err)
{
    *f = fopen(path, "rb");
    if (!*f) return cn_error_set(err, CN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = read_header(*f, path, h, err);
    if (!rc) rc = check_layout(h, path, err);
    if (!rc) rc = check_length(*f, path, h, err);
    return rc;
}

/* ---------------------------------------------------------------- inputs and labels */

static int input_shape(cn_dataset *d, const npy_header *h, const char *path, cn_error *err)
{
    const uint64_t *s = h->shape;
    if (h->kind != 'f')
        return cn_error_set(err, CN_ERR_FORMAT, "%s: inputs of dtype '%s'; expected float32 or float64 ('<f4', '<f8')",
                            path, h->descr);
    if (h->ndim < 2 || h->ndim > 4)
        return cn_error_set(err, CN_ERR_FORMAT,
                            "%s: inputs have %d dimensions; expected (N, C, H, W), (N, H, W) or (N, F)", path, h->ndim);
    uint64_t c = h->ndim == 4 ? s[1] : h->ndim == 3 ? 1 : s[1];
    uint64_t hh = h->ndim == 4 ? s[2] : h->ndim == 3 ? s[1] : 1;
    uint64_t w = h->ndim == 4 ? s[3] : h->ndim == 3 ? s[2] : 1;
    if (s[0] > INT_MAX || c * hh * w > INT_MAX)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: %llu examples of %llu values are too many", path,
                            (unsigned long long)s[0], (unsigned long long)(c * hh * w));
    if (h->count > SIZE_MAX / sizeof(cn_real))
        return cn_error_set(err, CN_ERR_FORMAT, "%s: the data does not fit in memory", path);
    d->count = (int)s[0];
    d->c = (int)c;
    d->h = (int)hh;
    d->w = (int)w;
    return CN_OK;
}

static int load_inputs(cn_dataset *d, const char *path, cn_error *err)
{
    FILE *f;
    npy_header h;
    int rc = open_npy(&f, path, &h, err);
    if (!rc) rc = input_shape(d, &h, path, err);
    if (!rc && !(d->x = cn_malloc((size_t)h.count * sizeof *d->x)))
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %llu values", path, (unsigned long long)h.count);
    if (!rc) rc = read_data(f, path, &h, d->x, NULL, err);
    if (f) fclose(f);
    return rc;
}

static int load_labels(cn_dataset *d, const char *path, const char *inputs_path, cn_error *err)
{
    FILE *f;
    npy_header h;
    int rc = open_npy(&f, path, &h, err);
    if (!rc && h.kind == 'f')
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: labels of dtype '%s'; expected integers ('<i8', '<i4', '|u1', ...)",
                          path, h.descr);
    else if (!rc && h.ndim != 1)
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: labels have %d dimensions; expected one, (N,)", path, h.ndim);
    else if (!rc && h.shape[0] != (uint64_t)d->count)
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: holds %llu labels but %s holds %d examples", path,
                          (unsigned long long)h.shape[0], inputs_path, d->count);
    if (!rc) rc = read_data(f, path, &h, NULL, d->y, err);
    if (f) fclose(f);
    int32_t top = -1;
    for (int i = 0; !rc && i < d->count; i++)
        if (d->y[i] > top) top = d->y[i];
    d->classes = top + 1;
    return rc;
}

int cn_npy_load(cn_dataset *out, const char *inputs_path, const char *labels_path, cn_error *err)
{
    if (!out || !inputs_path) return cn_error_set(err, CN_ERR_ARG, "cn_npy_load: NULL argument");
    memset(out, 0, sizeof *out);
    int rc = load_inputs(out, inputs_path, err);
    if (!rc && !(out->y = cn_calloc((size_t)out->count, sizeof *out->y)))
        rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %d labels", inputs_path, out->count);
    if (!rc && labels_path) rc = load_labels(out, labels_path, inputs_path, err);
    if (rc) cn_dataset_free(out);
    return rc;
}
