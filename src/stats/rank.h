/* rank.h: average ranks and Pearson's r, shared by the correlations, the Mann-Whitney test and the
 * bootstrap of Spearman's rho (internal; see correlation.c). */
#ifndef CN_STATS_RANK_H
#define CN_STATS_RANK_H

typedef struct {
    double v;
    int i;
} cn_stats_ranked;

/* rank[i] of v[i] among v[0..n), 1-based, ties sharing the average of their ranks (scipy's rankdata);
 * work holds n entries. Returns the tie term, the sum over groups of t tied values of t^3 - t. */
double cn_stats_average_ranks(double *rank, const double *v, int n, cn_stats_ranked *work);
/* Pearson's r of x and y (n >= 2, finite, neither constant), clipped to [-1, 1]. */
double cn_stats_pearson_r(const double *x, const double *y, int n);
/* 1 when every v[i] equals v[0] */
int cn_stats_all_equal(const double *v, int n);

#endif
