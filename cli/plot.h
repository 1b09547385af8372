/* plot.h: plots to PNG through PLplot's cairo driver: lines, points with error bars by category, and
 * scatter plots of labelled groups. */
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

/* Several line plots stacked in one PNG, top to bottom; 0, or -1 (message printed). */
typedef struct {
    cli_plot_opts opts;
    const cli_series *series;
    int nseries;
} cli_panel;
int cli_plot_panels(const char *path, const cli_panel *panels, int npanels);

/* One series of a category plot: y[i] +- err[i] at category i (NaN y: no point; NaN err: no bar). */
typedef struct {
    const double *y, *err;
    const char *label; /* legend entry; no legend when every series has NULL */
} cli_point_series;

/* Points with error bars at ncat named categories along x, the series side by side at each. o's title and
 * labels are used; logx and hline are not. Writes path (PNG); 0, or -1 (message printed). */
int cli_plot_points(const char *path, const cli_plot_opts *o, const char *const *categories, int ncat,
                    const cli_point_series *s, int nseries);

/* One group of a scatter plot: the points (x[i], y[i]), i < n (a NaN point is skipped). */
typedef struct {
    const double *x, *y;
    int n;
    const char *label; /* legend entry; no legend when every group has NULL */
} cli_scatter_group;

/* Points only, a colour and a marker per group (group k: the k-th colour and marker, so the same index gives
 * the same look in every figure), the legend beside the frame on the right, where it hides no point, and
 * note (may be NULL) as a line under the title, e.g. the statistics. o's logx and hline are not used. Writes
 * path (PNG); 0, or -1 (message printed). */
int cli_plot_scatter(const char *path, const cli_plot_opts *o, const cli_scatter_group *g, int ngroups,
                     const char *note);

/* A heatmap of z over a grid, z[j * nx + i] at (x[i], y[j]) (x and y increasing and evenly spaced; NaN: an
 * empty cell), with a colour bar labelled zlabel, and an optional curve (cx, cy, cn points; cn 0: none)
 * drawn over it, e.g. the mean-field critical line, named in the legend by clabel. o's logx and hline are
 * not used. Writes path (PNG); 0, or -1 (message printed). */
int cli_plot_heatmap(const char *path, const cli_plot_opts *o, const double *x, int nx, const double *y, int ny,
                     const double *z, const char *zlabel, const double *cx, const double *cy, int cn,
                     const char *clabel);

#endif
