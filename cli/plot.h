/* plot.h: line plots to PNG through PLplot's cairo driver. */
#ifndef CN_PLOT_H
#define CN_PLOT_H

typedef struct {
    const double *x, *y;
    int n;
    const char *label;
    int points; /* draw markers as well as the line */
} cli_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    int logx;
    double hline;   /* a reference line (e.g. the critical value); NAN for none */
} cli_plot_opts;

/* Writes path (PNG). Returns 0 on success, -1 (message printed) if PLplot cannot write it. */
int cli_plot_lines(const char *path, const cli_plot_opts *o, const cli_series *s, int nseries);

#endif
