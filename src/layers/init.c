/* init.c: weight initialisations, shared by every layer with a weight matrix. */
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include "layers/layer.h"

static const char *const init_names[] = {"torch", "kaiming_uniform", "kaiming_normal", "xavier", "orthogonal", "normal"};
_Static_assert(sizeof init_names / sizeof init_names[0] == CN_INIT_COUNT, "one name per init");

const char *cn_init_name(cn_init_kind k) { return (unsigned)k < CN_INIT_COUNT ? init_names[k] : "?"; }

int cn_init_from_name(const char *name, cn_init_kind *out)
{
    for (int i = 0; i < CN_INIT_COUNT; i++)
        if (strcmp(name, init_names[i]) == 0) {
            *out = (cn_init_kind)i;
            return CN_OK;
        }
    if (strcmp(name, "kaiming") == 0) {
        *out = CN_INIT_KAIMING_UNIFORM;
        return CN_OK;
    }
    return CN_ERR_ARG;
}

static void fill_uniform(cn_rng *rng, cn_real *v, size_t n, double bound)
{
    for (size_t i = 0; i < n; i++) v[i] = (cn_real)((2 * cn_rng_uniform(rng) - 1) * bound);
}

static void fill_normal(cn_rng *rng, cn_real *v, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++) v[i] = (cn_real)(sd * cn_rng_normal(rng));
}

/* Rows (or columns, when out > fan_in) orthonormal, as torch.nn.init.orthogonal_: QR of a Gaussian
 * matrix with the signs of diag(R) folded into Q so that the result is Haar-distributed. */
static int fill_orthogonal(cn_rng *rng, cn_real *W, int out, int fan_in, double gain)
{
    int rows = out > fan_in ? out : fan_in, cols = out > fan_in ? fan_in : out;
    double *A = cn_malloc((size_t)rows * cols * sizeof *A), *tau = cn_malloc((size_t)cols * sizeof *tau);
    double *sign = cn_malloc((size_t)cols * sizeof *sign);
    int rc = CN_ERR_NOMEM;
    if (!A || !tau || !sign) goto done;
    for (size_t i = 0; i < (size_t)rows * cols; i++) A[i] = cn_rng_normal(rng);
    rc = CN_ERR_UNSUPPORTED;
    if (LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, rows, cols, A, cols, tau) != 0) goto done;
    for (int j = 0; j < cols; j++) sign[j] = A[(size_t)j * cols + j] < 0 ? -1 : 1;
    if (LAPACKE_dorgqr(LAPACK_ROW_MAJOR, rows, cols, cols, A, cols, tau) != 0) goto done;
    /* Q is (rows, cols) with orthonormal columns; W is (out, fan_in) */
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double q = gain * A[(size_t)r * cols + c] * sign[c];
            if (out > fan_in) W[(size_t)r * fan_in + c] = (cn_real)q;
            else W[(size_t)c * fan_in + r] = (cn_real)q;
        }
    rc = CN_OK;
done:
    cn_free(A);
    cn_free(tau);
    cn_free(sign);
    return rc;
}

int cn_init_weights(const cn_init *init, cn_rng *rng, cn_real *W, cn_real *b, int out, int fan_in, int fan_out)
{
    size_t n = (size_t)out * fan_in;
    double sw = init->sigma_w > 0 ? init->sigma_w : 1.0;
    switch (init->kind) {
    case CN_INIT_TORCH:
        fill_uniform(rng, W, n, 1.0 / sqrt(fan_in));
        if (b) fill_uniform(rng, b, (size_t)out, 1.0 / sqrt(fan_in));
        return CN_OK;
    case CN_INIT_KAIMING_UNIFORM: fill_uniform(rng, W, n, sqrt(6.0 / fan_in)); break;
    case CN_INIT_KAIMING_NORMAL: fill_normal(rng, W, n, sqrt(2.0 / fan_in)); break;
    case CN_INIT_XAVIER: fill_uniform(rng, W, n, sqrt(6.0 / (fan_in + fan_out))); break;
    case CN_INIT_ORTHOGONAL: {
        int rc = fill_orthogonal(rng, W, out, fan_in, sw);
        if (rc != CN_OK) return rc;
        break;
    }
    case CN_INIT_NORMAL:
        fill_normal(rng, W, n, init->sigma_w / sqrt(fan_in));
        if (b) fill_normal(rng, b, (size_t)out, init->sigma_b);
        return CN_OK;
    default: return CN_ERR_ARG;
    }
    if (b) memset(b, 0, (size_t)out * sizeof *b);
    return CN_OK;
}
