/* cholqr.c: CholeskyQR2 for the spectrum's thin QRs, with Householder (geqrf + orgqr) where it cannot be
 * trusted. CholeskyQR2 is two passes of Gram (syrk), Cholesky (potrf), Q = A R^-1 (trsm): all level-3 BLAS,
 * 1.7 times faster than geqrf + orgqr on the spectrum's 512 x 32 tangents (bench/results/spectrum.md). */
#include "measure/cholqr.h"
#include <lapacke.h>
#include <math.h>
#include "core/blas.h"

#ifdef CRITNET_DOUBLE
#define cn_syrk cblas_dsyrk
#define cn_trsm cblas_dtrsm
#define cn_potrf_work LAPACKE_dpotrf_work
#define cn_geqrf_work LAPACKE_dgeqrf_work
#define cn_orgqr_work LAPACKE_dorgqr_work
/* see R1_RATIO_MIN below */
#define R1_RATIO_MIN 1e-6
#else
#define cn_syrk cblas_ssyrk
#define cn_trsm cblas_strsm
#define cn_potrf_work LAPACKE_spotrf_work
#define cn_geqrf_work LAPACKE_sgeqrf_work
#define cn_orgqr_work LAPACKE_sorgqr_work
#define R1_RATIO_MIN 1e-3
#endif

/* When the first pass is trusted. One pass of CholeskyQR leaves Q1 with an orthogonality error of about
 * u kappa(A)^2 = u kappa(G) (u: the unit roundoff); the second pass brings it down to O(u) as long as that
 * error is well below 1 (Yamamoto, Nakatsukasa, Yanagisawa and Fukaya, ETNA 44, 2015), and a Gram with
 * kappa(G) near 1/u has no Cholesky factor at all. max_j R1_jj / min_j R1_jj is a lower bound of kappa(A)
 * that costs nothing; its square, an estimate of kappa(G), must stay below 1e6 in float (u = 6e-8: an error
 * of at most 0.06 after pass 1, a margin of 16 below 1/u) and below 1e12 in double (u = 1.1e-16: at most
 * 1e-4, a margin of 1e4 below 1/u). The margins absorb the estimate's underestimate of kappa, which is a
 * small factor for the tangents (not triangular, no adversarial structure); pass 2 has its own check for
 * what the estimate misses. In the spectrum kappa(Z) of a block is about exp(rho_0 - rho_(k-1)) of its local
 * exponents, 1.5 to 10 for the networks measured, so the fallback is for collapsing directions (dead ReLUs,
 * saturated tanh units, exact zeros): rare, and then exactly what every QR did before. */

/* When the second pass is trusted: Q1 close to orthonormal gives R2 = I + O(error of Q1). A diagonal of R2
 * off 1 by more than a half means Q1 was not close (pass 1's estimate missed) and Q2 would keep an error
 * of about u kappa(Q1)^2, worse than Householder's: Householder then orthonormalises Q1 instead. */
#define R2_DIAG_DEVIATION_MAX 0.5

int cn_qr_work_init(cn_qr_work *w, int n_max, int k, int lda_max)
{
    *w = (cn_qr_work){.k = k};
    if (k < 1) k = 1;
    w->gram = cn_malloc((size_t)k * k * sizeof(cn_real));
    w->tau = cn_malloc((size_t)k * sizeof(cn_real));
    w->d2 = cn_malloc((size_t)k * sizeof(double));
    /* LAPACK workspace: asked once for the largest shape, then every QR reuses it */
    cn_real q = 0;
    cn_geqrf_work(LAPACK_COL_MAJOR, n_max, k, NULL, lda_max, NULL, &q, -1);
    int lw = (int)q;
    cn_orgqr_work(LAPACK_COL_MAJOR, n_max, k, k, NULL, lda_max, NULL, &q, -1);
    w->lwork = (int)q > lw ? (int)q : lw;
    if (w->lwork < 1) w->lwork = 1;
    w->work = cn_malloc((size_t)w->lwork * sizeof(cn_real));
    if (!w->gram || !w->tau || !w->d2 || !w->work) {
        cn_qr_work_free(w);
        return CN_ERR_NOMEM;
    }
    return CN_OK;
}

void cn_qr_work_free(cn_qr_work *w)
{
    cn_free(w->gram);
    cn_free(w->tau);
    cn_free(w->d2);
    cn_free(w->work);
    *w = (cn_qr_work){0};
}

int cn_thin_qr_householder(cn_qr_work *w, cn_real *A, int lda, int n, int k, double *rabs)
{
    if (cn_geqrf_work(LAPACK_COL_MAJOR, n, k, A, lda, w->tau, w->work, w->lwork) != 0) return CN_ERR_NONFINITE;
    for (int j = 0; j < k; j++) rabs[j] = fabs((double)A[(size_t)j * lda + j]);
    if (cn_orgqr_work(LAPACK_COL_MAJOR, n, k, k, A, lda, w->tau, w->work, w->lwork) != 0) return CN_ERR_NONFINITE;
    return CN_OK;
}

/* One CholeskyQR pass up to the triangular solve: G = A^T A = R^T R into w->gram (upper), R's diagonal into
 * d. 0 when the factor exists and its diagonal is finite and positive (OpenBLAS's potrf lets a NaN pivot
 * through, so the diagonal is checked here). */
static int gram_factor(cn_qr_work *w, const cn_real *A, int lda, int n, int k, double *d)
{
    cn_syrk(CblasColMajor, CblasUpper, CblasTrans, k, n, 1, A, lda, 0, w->gram, k);
    if (cn_potrf_work(LAPACK_COL_MAJOR, 'U', k, w->gram, k) != 0) return -1;
    for (int j = 0; j < k; j++) {
        d[j] = (double)w->gram[(size_t)j * k + j];
        if (!(d[j] > 0) || !isfinite(d[j])) return -1;
    }
    return 0;
}

static void solve_upper(cn_qr_work *w, cn_real *A, int lda, int n, int k)
{
    cn_trsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, n, k, 1, w->gram, k, A, lda);
}

int cn_thin_qr(cn_qr_work *w, cn_real *A, int lda, int n, int k, double *rabs)
{
    /* pass 1 on A: R1's diagonal in rabs; A is untouched until R1 is trusted */
    int ok = gram_factor(w, A, lda, n, k, rabs) == 0;
    if (ok) {
        double lo = rabs[0], hi = rabs[0];
        for (int j = 1; j < k; j++) {
            lo = rabs[j] < lo ? rabs[j] : lo;
            hi = rabs[j] > hi ? rabs[j] : hi;
        }
        ok = lo >= R1_RATIO_MIN * hi;
    }
    if (!ok) {
        w->fallbacks++;
        return cn_thin_qr_householder(w, A, lda, n, k, rabs);
    }
    solve_upper(w, A, lda, n, k); /* A = Q1 */
    /* pass 2 on Q1: R = R2 R1, both upper triangular, so R_jj = R2_jj R1_jj */
    double *d2 = w->d2;
    ok = gram_factor(w, A, lda, n, k, d2) == 0;
    for (int j = 0; ok && j < k; j++) ok = fabs(d2[j] - 1) <= R2_DIAG_DEVIATION_MAX;
    if (!ok) {
        /* Q1 = Q' R' by Householder, so A = Q' (R' R1) and R_jj = R'_jj R1_jj */
        w->fallbacks++;
        int rc = cn_thin_qr_householder(w, A, lda, n, k, d2);
        for (int j = 0; j < k; j++) rabs[j] *= d2[j];
        return rc;
    }
    solve_upper(w, A, lda, n, k);
    for (int j = 0; j < k; j++) rabs[j] *= d2[j];
    return CN_OK;
}
