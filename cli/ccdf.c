/* ccdf.c: the empirical CCDF of a sample and its power-law fit, as numbers and as a log-log plot. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "ccdf.h"
#include "cli.h"
#include "plot.h"

int cli_ccdf(const double *x, int n, const cn_powerlaw_fit *f, double **cx, double **cy, double **cf, int *m)
{
    double *buf = malloc(sizeof(double) * 3 * (size_t)n);
    if (!buf) return -1;
    *cx = buf, *cy = buf + n, *cf = buf + 2 * n;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || x[i] != x[i - 1]) {
            (*cx)[k] = x[i];
            (*cy)[k] = (double)(n - i) / n;
            (*cf)[k] = x[i] >= f->xmin ? (double)f->n_tail / n * cn_powerlaw_ccdf(f, x[i]) : NAN;
            k++;
        }
    *m = k;
    return 0;
}

int cli_ccdf_plot(const char *path, const char *name, const double *cx, const double *cy, const double *cf, int m,
                  const cn_powerlaw_fit *f)
{
    /* at most 2000 data points, evenly spaced in log rank, so a large sample stays a readable plot */
    double *px = malloc(sizeof(double) * 4 * 2000), *py = px ? px + 2000 : NULL;
    double *fx = px ? px + 4000 : NULL, *fy = px ? px + 6000 : NULL;
    if (!px) {
        cli_error("out of memory");
        return -1;
    }
    int np = 0, nf = 0;
    double step = m > 2000 ? (double)m / 2000 : 1;
    for (double t = 0; t < m && np < 2000; t += step) {
        int i = (int)t;
        px[np] = cx[i], py[np++] = log10(cy[i]);
        if (!isnan(cf[i]) && cf[i] > 0 && nf < 2000) fx[nf] = cx[i], fy[nf++] = log10(cf[i]);
    }
    char title[256], label[128];
    snprintf(title, sizeof title, "%s: CCDF, power law above x_min = %g", name, f->xmin);
    snprintf(label, sizeof label, "fit: alpha = %.3f +- %.3f", f->alpha, f->sigma);
    cli_series s[2] = {{px, py, np, "data", 1}, {fx, fy, nf, label, 0}};
    cli_plot_opts po = {title, "x", "log10 P(X >= x)", 1, NAN};
    int rc = cli_plot_lines(path, &po, s, 2);
    free(px);
    return rc;
}
