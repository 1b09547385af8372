/* npy_write.c: writes a float32 .npy file (NumPy format 1.0), so that critnet's outputs (a model's logits)
 * load in NumPy with np.load and compare directly with another framework's. The file appears whole or not at
 * all (core/atomic_file.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "core/atomic_file.h"

/* NumPy pads the header with spaces so that the data starts at a multiple of 64 bytes */
#define NPY_ALIGN 64

static void put_f32_le(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

int cn_npy_write(const char *path, const cn_real *v, int ndim, const int64_t *dims, cn_error *err)
{
    if (ndim < 1 || ndim > 8) return cn_error_set(err, CN_ERR_ARG, "%s: %d dimensions (1 to 8)", path, ndim);
    char shape[256] = "";
    size_t count = 1, len = 0;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return cn_error_set(err, CN_ERR_ARG, "%s: dimension %d is negative", path, i);
        count *= (size_t)dims[i];
        len += (size_t)snprintf(shape + len, sizeof shape - len, "%lld,%s", (long long)dims[i],
                                i + 1 < ndim ? " " : "");
    }
    if (ndim > 1) shape[len - 1] = '\0'; /* (N, C) but (N,) */
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
    size_t total = 10 + (size_t)n + 1, padded = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    size_t hlen = padded - 10;
    memset(header + n, ' ', hlen - 1 - (size_t)n);
    header[hlen - 1] = '\n';

    cn_atomic_file out;
    int rc = cn_atomic_open(&out, path, err);
    if (rc) return rc;
    FILE *f = out.f;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int failed = fwrite(pre, 1, sizeof pre, f) != sizeof pre || fwrite(header, 1, hlen, f) != hlen;
    unsigned char buf[4096];
    for (size_t i = 0; i < count && !failed; i += sizeof buf / 4) {
        size_t m = count - i < sizeof buf / 4 ? count - i : sizeof buf / 4;
        for (size_t j = 0; j < m; j++) put_f32_le(buf + 4 * j, (float)v[i + j]);
        failed = fwrite(buf, 4, m, f) != m;
    }
    return cn_atomic_commit(&out, failed, err);
}
