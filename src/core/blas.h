/* blas.h: BLAS/LAPACK calls for the engine's scalar type (float in the library, double in the
 * gradient-check build), so that kernels are written once. */
#ifndef CN_BLAS_H
#define CN_BLAS_H

#include <cblas.h>
#include "critnet.h"

/* OpenBLAS extensions, not declared in every cblas.h */
int openblas_get_num_threads(void);
void openblas_set_num_threads(int n);

#ifdef CRITNET_DOUBLE
#define cn_gemm cblas_dgemm
#define cn_gemv cblas_dgemv
#define cn_axpy cblas_daxpy
#define cn_scal cblas_dscal
#define cn_dot cblas_ddot
#define cn_nrm2 cblas_dnrm2
#define cn_ger cblas_dger
#else
#define cn_gemm cblas_sgemm
#define cn_gemv cblas_sgemv
#define cn_axpy cblas_saxpy
#define cn_scal cblas_sscal
#define cn_dot cblas_sdot
#define cn_nrm2 cblas_snrm2
#define cn_ger cblas_sger
#endif

/* C (M,N) = alpha * op(A) op(B) + beta * C, all row-major */
static inline void cn_matmul(int transA, int transB, int M, int N, int K, cn_real alpha, const cn_real *A,
                             const cn_real *B, cn_real beta, cn_real *C)
{
    cn_gemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, M, N, K,
            alpha, A, transA ? M : K, B, transB ? K : N, beta, C, N);
}

#endif
