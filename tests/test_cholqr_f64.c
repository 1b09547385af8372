/* test_cholqr_f64.c: the spectrum's thin QR (src/measure/cholqr.c), CholeskyQR2 with a Householder
 * fallback, against LAPACK's Householder QR on the same matrices: a well-conditioned one (CholeskyQR2 taken,
 * same Q up to column signs, same |R_jj|), one conditioned just inside the CholeskyQR2 range, nearly parallel
 * columns (kappa ~ 1e10 here, 1e5 in float: the fallback is taken), a matrix that fools the first pass's
 * condition estimate (R with a unit diagonal, kappa ~ 1e10, 1e4 in float), and a zero and a NaN column. The float build of the same
 * checks is test_cholqr.c. Matrices are stored as the spectrum stores them: an (n x k) block inside a
 * column-major array of leading dimension lda > n, whose other rows must stay untouched. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "critnet.h"
#include "measure/cholqr.h"

#ifdef CRITNET_DOUBLE
#define EPS 2.2e-16
#define ORTHO_TOL 1e-12    /* max |Q^T Q - I|: about k u sqrt(n) for either algorithm */
#define RDIAG_TOL 1e-12    /* relative |R_jj| difference, well-conditioned */
#define KAPPA_INSIDE 1e5   /* (max/min R1_jj)^2 = 1e10 < 1e12: CholeskyQR2's range */
#define PARALLEL_EPS 1e-10 /* nearly parallel columns: kappa ~ 1e10 */
#define UNIT_DIAG_C 1.0    /* kappa ~ 1e10 */
#else
#define EPS 1.2e-7
#define ORTHO_TOL 2e-5
#define RDIAG_TOL 2e-5
#define KAPPA_INSIDE 3e2 /* 9e4 < 1e6 */
#define PARALLEL_EPS 1e-5 /* kappa ~ 1e5: beyond float's CholeskyQR2 */
#define UNIT_DIAG_C 0.35  /* kappa ~ 1e4: float has no digits left to check beyond that */
#endif

enum { N = 512, K = 32, LDA = 3 * N, ROW0 = N }; /* the block starts at row N: rows 0..N-1 and 2N.. are guards */

static double normal(unsigned *s)
{
    double u1 = (rand_r(s) + 1.0) / (RAND_MAX + 2.0), u2 = (rand_r(s) + 1.0) / (RAND_MAX + 2.0);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* a column-major (N x K) orthonormal basis, in double, from the QR of a Gaussian matrix */
static void random_orthonormal(double *U, int n, int k, unsigned seed)
{
    double tau[K];
    for (int i = 0; i < n * k; i++) U[i] = normal(&seed);
    LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, k, U, n, tau);
    LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, k, k, U, n, tau);
}

/* the block of A (N x K, double column-major) into a guarded array of leading dimension LDA */
static cn_real *embed(const double *A)
{
    cn_real *M = malloc((size_t)LDA * K * sizeof *M);
    for (int i = 0; i < LDA * K; i++) M[i] = (cn_real)1234.5;
    for (int j = 0; j < K; j++)
        for (int i = 0; i < N; i++) M[(size_t)j * LDA + ROW0 + i] = (cn_real)A[(size_t)j * N + i];
    return M;
}

static int guards_intact(const cn_real *M)
{
    for (int j = 0; j < K; j++)
        for (int i = 0; i < LDA; i++)
            if ((i < ROW0 || i >= ROW0 + N) && M[(size_t)j * LDA + i] != (cn_real)1234.5) return 0;
    return 1;
}

static double ortho_error(const cn_real *M)
{
    double e = 0;
    for (int a = 0; a < K; a++)
        for (int b = 0; b <= a; b++) {
            double s = 0;
            for (int i = 0; i < N; i++) s += (double)M[(size_t)a * LDA + ROW0 + i] * M[(size_t)b * LDA + ROW0 + i];
            s -= a == b;
            e = fabs(s) > e ? fabs(s) : e;
        }
    return e;
}

typedef struct {
    double ortho, rdiag_rel, q_diff; /* q_diff: max |Q - Q_householder diag(sign)| */
    long fallbacks;
    int rc, guards;
    double rabs[K], rabs_h[K];
} outcome;

/* cn_thin_qr and the Householder reference on copies of A */
static outcome compare(const double *A)
{
    outcome o = {0};
    cn_real *M = embed(A), *H = embed(A);
    cn_qr_work w, wh;
    if (cn_qr_work_init(&w, N, K, LDA) || cn_qr_work_init(&wh, N, K, LDA)) {
        o.rc = CN_ERR_NOMEM;
        return o;
    }
    o.rc = cn_thin_qr(&w, M + ROW0, LDA, N, K, o.rabs);
    int rch = cn_thin_qr_householder(&wh, H + ROW0, LDA, N, K, o.rabs_h);
    o.fallbacks = w.fallbacks;
    o.guards = guards_intact(M);
    o.ortho = ortho_error(M);
    for (int j = 0; j < K; j++) {
        double d = fabs(o.rabs[j] - o.rabs_h[j]) / o.rabs_h[j];
        o.rdiag_rel = !(d <= o.rdiag_rel) ? d : o.rdiag_rel;
        /* Householder's R_jj may be negative: its Q column is then the negative of CholeskyQR2's */
        double dot = 0;
        for (int i = 0; i < N; i++) dot += (double)M[(size_t)j * LDA + ROW0 + i] * H[(size_t)j * LDA + ROW0 + i];
        double sg = dot < 0 ? -1 : 1;
        for (int i = 0; i < N; i++) {
            double dq = fabs(M[(size_t)j * LDA + ROW0 + i] - sg * H[(size_t)j * LDA + ROW0 + i]);
            o.q_diff = !(dq <= o.q_diff) ? dq : o.q_diff;
        }
    }
    if (rch) o.rc = rch;
    cn_qr_work_free(&w);
    cn_qr_work_free(&wh);
    free(M);
    free(H);
    return o;
}

static void report(const char *name, const outcome *o)
{
    printf("%-34s rc %d  fallbacks %ld  |Q^T Q - I| %.1e  |R_jj| rel diff %.1e  Q diff %.1e\n", name, o->rc,
           o->fallbacks, o->ortho, o->rdiag_rel, o->q_diff);
}

/* A = U diag(s) V^T with s log-spaced from 1 to 1/kappa */
static void with_condition(double *A, double kappa, unsigned seed)
{
    static double U[N * K], V[K * K];
    random_orthonormal(U, N, K, seed);
    random_orthonormal(V, K, K, seed + 1);
    for (int j = 0; j < K; j++)
        for (int i = 0; i < N; i++) {
            double s = 0;
            for (int l = 0; l < K; l++) s += U[l * N + i] * pow(kappa, -(double)l / (K - 1)) * V[l * K + j];
            A[j * N + i] = s;
        }
}

int main(void)
{
    static double A[N * K];
    unsigned seed = 11;

    /* well-conditioned: a Gaussian matrix (kappa ~ 1.6): CholeskyQR2, Householder's Q and |R_jj| */
    for (int i = 0; i < N * K; i++) A[i] = normal(&seed);
    outcome o = compare(A);
    report("gaussian", &o);
    CHECK(o.rc == CN_OK && o.fallbacks == 0, "gaussian: rc %d, %ld fallbacks", o.rc, o.fallbacks);
    CHECK(o.ortho <= ORTHO_TOL, "gaussian: |Q^T Q - I| %g", o.ortho);
    CHECK(o.rdiag_rel <= RDIAG_TOL, "gaussian: |R_jj| differ by %g", o.rdiag_rel);
    CHECK(o.q_diff <= 10 * ORTHO_TOL, "gaussian: Q differs from Householder's by %g", o.q_diff);
    CHECK(o.guards, "gaussian: rows outside the block were written");

    /* inside CholeskyQR2's range but far outside one pass's: one CholeskyQR would leave an orthogonality
     * error of about u kappa^2, 1e-6 in double, 1e-2 in float; the second pass must bring it to u */
    with_condition(A, KAPPA_INSIDE, 21);
    o = compare(A);
    report("kappa inside the range", &o);
    CHECK(o.rc == CN_OK && o.fallbacks == 0, "kappa %g: rc %d, %ld fallbacks", KAPPA_INSIDE, o.rc, o.fallbacks);
    CHECK(o.ortho <= ORTHO_TOL, "kappa %g: |Q^T Q - I| %g", KAPPA_INSIDE, o.ortho);
    /* the small R_jj carry a relative error of about u kappa in either algorithm */
    CHECK(o.rdiag_rel <= 100 * EPS * KAPPA_INSIDE, "kappa %g: |R_jj| differ by %g", KAPPA_INSIDE, o.rdiag_rel);

    /* nearly parallel columns: v + eps g_j, kappa ~ 1/eps. The first pass's estimate refuses it, A is left
     * as it was, so the result is Householder's to the bit */
    double v[N];
    for (int i = 0; i < N; i++) v[i] = normal(&seed);
    for (int j = 0; j < K; j++)
        for (int i = 0; i < N; i++) A[j * N + i] = v[i] + PARALLEL_EPS * normal(&seed);
    o = compare(A);
    report("nearly parallel columns", &o);
    CHECK(o.rc == CN_OK && o.fallbacks == 1, "parallel: rc %d, %ld fallbacks (want 1)", o.rc, o.fallbacks);
    CHECK(o.ortho <= ORTHO_TOL, "parallel: |Q^T Q - I| %g", o.ortho);
    CHECK(o.rdiag_rel == 0 && o.q_diff == 0, "parallel: not Householder's result (%g, %g)", o.rdiag_rel, o.q_diff);
    CHECK(o.guards, "parallel: rows outside the block were written");

    /* R with a unit diagonal and -c above it (A = U R): kappa(A) ~ (1 + c)^(K-1), beyond CholeskyQR2's range,
     * and yet max/min R_jj = 1, which fools the first pass's estimate. Whichever path its Cholesky factors
     * and the second pass's check choose, Q must be orthonormal and |R_jj| = 1 to about u kappa(A), as
     * Householder's are (backward stability) */
    static double U[N * K], R[K * K], sv[K], sup[K];
    random_orthonormal(U, N, K, 31);
    for (int j = 0; j < K; j++)
        for (int l = 0; l < K; l++) R[j * K + l] = l == j ? 1 : l < j ? -UNIT_DIAG_C : 0;
    for (int j = 0; j < K; j++)
        for (int i = 0; i < N; i++) {
            double s = 0;
            for (int l = 0; l <= j; l++) s += U[l * N + i] * R[j * K + l];
            A[j * N + i] = s;
        }
    LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'N', 'N', K, K, R, K, sv, NULL, 1, NULL, 1, sup);
    double kappa = sv[0] / sv[K - 1];
    o = compare(A);
    report("unit diagonal R", &o);
    double dev = 0;
    for (int j = 0; j < K; j++) dev = fabs(o.rabs[j] - 1) > dev ? fabs(o.rabs[j] - 1) : dev;
    printf("  kappa(A) %.1e; max | |R_jj| - 1 | %.1e\n", kappa, dev);
    CHECK(kappa * kappa * EPS > 1, "unit diagonal: kappa(A) %g is inside CholeskyQR2's range", kappa);
    CHECK(o.rc == CN_OK, "unit diagonal: rc %d", o.rc);
    CHECK(o.ortho <= ORTHO_TOL, "unit diagonal: |Q^T Q - I| %g", o.ortho);
    CHECK(dev <= 10 * EPS * kappa, "unit diagonal: |R_jj| off 1 by %g", dev);

    /* a zero column and a NaN column: the Householder path, as before CholeskyQR2, and a zero or
     * non-finite |R_jj| for the measure to floor and count */
    for (int i = 0; i < N * K; i++) A[i] = normal(&seed);
    for (int i = 0; i < N; i++) A[5 * N + i] = 0;
    o = compare(A);
    report("a zero column", &o);
    CHECK(o.fallbacks == 1 && o.rabs[5] == 0, "zero column: %ld fallbacks, |R_55| %g", o.fallbacks, o.rabs[5]);
    A[7 * N + 3] = NAN;
    o = compare(A);
    report("a zero and a NaN column", &o);
    CHECK(o.fallbacks == 1, "NaN column: %ld fallbacks", o.fallbacks);
    CHECK(o.rc != CN_OK || !isfinite(o.rabs[7]) || !isfinite(o.rabs[K - 1]), "NaN column: |R| all finite");
    return check_summary("test_cholqr");
}
