/* cholqr.h: the thin QR of the Lyapunov spectrum's tangent matrices (n x k, k small): CholeskyQR2, with
 * LAPACK's Householder QR where the Gram matrix is too ill-conditioned for it. */
#ifndef CN_CHOLQR_H
#define CN_CHOLQR_H

#include "critnet.h"

/* work space for one thread: reused by every QR up to k columns */
typedef struct {
    int k;
    cn_real *gram;       /* (k, k) */
    double *d2;          /* (k): the second pass's diagonal */
    cn_real *tau, *work; /* Householder */
    int lwork;
    long fallbacks;      /* QRs that took the Householder path */
} cn_qr_work;

/* n_max rows at most, k columns, leading dimensions up to lda_max (LAPACK sizes its workspace by them) */
int cn_qr_work_init(cn_qr_work *w, int n_max, int k, int lda_max);
void cn_qr_work_free(cn_qr_work *w);

/* A (n x k, column-major, leading dimension lda) = Q R, in place: Q (orthonormal columns) overwrites A,
 * and rabs[j] = |R_jj|, the growth of direction j (R's signs are the path's own: only |R_jj| is defined
 * independently of it). Returns CN_OK, or CN_ERR_NONFINITE when LAPACK refuses the matrix. A NaN or Inf in
 * A, or a column that is exactly 0, takes the Householder path, as all of them did before CholeskyQR2, and
 * shows as an rabs[j] that is 0 or not finite. */
int cn_thin_qr(cn_qr_work *w, cn_real *A, int lda, int n, int k, double *rabs);

/* the Householder path alone (geqrf + orgqr), the reference the tests compare with */
int cn_thin_qr_householder(cn_qr_work *w, cn_real *A, int lda, int n, int k, double *rabs);

#endif
