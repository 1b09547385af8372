/* tasks.h: the task sequence of Online Permuted MNIST: pixel permutations composed task after task, and
 * each task's example order. */
#ifndef CN_CL_TASKS_H
#define CN_CL_TASKS_H
#include "critnet.h"

void cl_perm_identity(int32_t *p, int n);
/* perm <- perm o fresh, i.e. perm[j] <- perm[fresh[j]]; tmp: n scratch values */
void cl_perm_compose(int32_t *perm, const int32_t *fresh, int32_t *tmp, int n);
/* 1 if p holds each of 0..n-1 exactly once, 0 if not, -1 if out of memory (or n < 1) */
int cl_perm_valid(const int32_t *p, int n);
/* The draws that begin a task, from rng in this order: a fresh permutation of the n_in pixels (identity,
 * then cn_rng_shuffle), composed onto perm; then the order of the count training examples (identity, then
 * cn_rng_shuffle). fresh and tmp: n_in scratch values each. */
void cl_task_begin(cn_rng *rng, int32_t *perm, int32_t *order, int32_t *fresh, int32_t *tmp, int n_in, int count);
/* dst[j] = src[perm[j]]: one example as the task presents it */
void cl_permute(cn_real *restrict dst, const cn_real *restrict src, const int32_t *perm, int n);
#endif
