/* plot.c: plots to PNG through PLplot's cairo driver (pngcairo): lines over a numeric x axis, points with
 * error bars over named categories, and scatter plots of labelled groups. */
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "plot.h"

static const int colours[] = {9, 1, 3, 8, 10, 12, 13, 14}; /* blue, red, green, brown, ... on white */

/* Opens a white PNG page with black text, 900x600 per panel, `panels` stacked vertically; -1 (message
 * printed) if path cannot be written, which PLplot itself would only report by exiting. */
static int begin_page(const char *path, int panels)
{
    FILE *probe = fopen(path, "wb");
    if (!probe) {
        cli_error("%s: cannot write the plot", path);
        return -1;
    }
    fclose(probe);
    plsdev("pngcairo");
    plsfnam(path);
    plspage(0, 0, 900, panels > 1 ? 450 * panels : 600, 0, 0);
    if (panels > 1) plssub(1, panels);
    plscolbg(255, 255, 255);
    plscol0(15, 0, 0, 0); /* axes and text in black: colour 15 is white in PLplot's default map */
    plscol0(7, 150, 150, 150);
    plinit();
    plcol0(15);
    return 0;
}

/* A boxed legend of n entries of lines and/or markers, as opt says: at the top right inside the frame, or
 * (outside != 0) beside it on the right. symbol[k] is entry k's marker; NULL: the filled circle for all. */
static void legend(int n, const PLINT *opt, const PLINT *colour, const char *const *text, const char *const *symbol,
                   int outside)
{
    PLINT *tcol = malloc(sizeof(PLINT) * (size_t)n), *lsty = malloc(sizeof(PLINT) * (size_t)n);
    PLINT *nsym = malloc(sizeof(PLINT) * (size_t)n);
    PLFLT *lw = malloc(sizeof(PLFLT) * (size_t)n), *msc = malloc(sizeof(PLFLT) * (size_t)n);
    const char **sym = malloc(sizeof(char *) * (size_t)n);
    if (tcol && lsty && nsym && lw && msc && sym) {
        for (int k = 0; k < n; k++) {
            tcol[k] = 15;
            lsty[k] = nsym[k] = 1;
            lw[k] = 2;
            msc[k] = 1;
            sym[k] = symbol ? symbol[k] : "#(728)";
        }
        PLFLT w, h;
        plcol0(15);
        /* outside: centred beside the frame, with a narrower symbol column and smaller, left-aligned text, so
         * that the longest family name still fits on the page */
        PLINT pos = outside ? PL_POSITION_RIGHT | PL_POSITION_OUTSIDE
                            : PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE;
        pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, pos, 0.02, outside ? 0 : 0.02,
                 outside ? 0.04 : 0.1, 0, 15, 1, 0, 0, n, opt, outside ? 0.6 : 1.0, outside ? 0.85 : 1.0, 2.0,
                 outside ? 0.0 : 1.0, tcol, text, NULL, NULL, NULL, NULL, colour, lsty, lw, colour, msc, nsym, sym);
    }
    free(tcol);
    free(lsty);
    free(nsym);
    free(lw);
    free(msc);
    free(sym);
}

/* One panel: axes, labels, the reference line, the series and their legend. */
static void draw_lines(const cli_plot_opts *o, const cli_series *s, int nseries)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < nseries; k++)
        for (int i = 0; i < s[k].n; i++) {
            double x = o->logx ? log10(s[k].x[i]) : s[k].x[i], y = s[k].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            xmin = fmin(xmin, x), xmax = fmax(xmax, x), ymin = fmin(ymin, y), ymax = fmax(ymax, y);
        }
    if (isfinite(o->hline)) ymin = fmin(ymin, o->hline), ymax = fmax(ymax, o->hline);
    if (!(xmax > xmin)) xmin -= 0.5, xmax += 0.5;
    if (!(ymax > ymin)) ymin -= 0.5, ymax += 0.5;
    double pad = 0.05 * (ymax - ymin);
    plcol0(15); /* axes and text in black: the previous panel left the colour of its last series */
    plwidth(1);
    plenv(xmin, xmax, ymin - pad, ymax + pad, 0, o->logx ? 10 : 0);
    pllab(o->xlabel, o->ylabel, o->title);
    if (isfinite(o->hline)) {
        PLFLT hx[2] = {xmin, xmax}, hy[2] = {o->hline, o->hline};
        plcol0(7);
        pllsty(2);
        plline(2, hx, hy);
        pllsty(1);
    }
    PLINT opt[8], col[8];
    const char *text[8];
    int shown = nseries < 8 ? nseries : 8;
    for (int k = 0; k < shown; k++) {
        PLFLT *px = malloc(sizeof(PLFLT) * (size_t)(s[k].n ? s[k].n : 1));
        PLFLT *py = malloc(sizeof(PLFLT) * (size_t)(s[k].n ? s[k].n : 1));
        int m = 0;
        for (int i = 0; px && py && i < s[k].n; i++) {
            double x = o->logx ? log10(s[k].x[i]) : s[k].x[i];
            if (!isfinite(x) || !isfinite(s[k].y[i])) continue;
            px[m] = x;
            py[m++] = s[k].y[i];
        }
        plcol0(colours[k % 8]);
        plwidth(2);
        if (m > 1) plline(m, px, py);
        if (s[k].points && m > 0) plstring(m, px, py, "#(728)");
        free(px);
        free(py);
        opt[k] = PL_LEGEND_LINE | (s[k].points ? PL_LEGEND_SYMBOL : 0);
        col[k] = colours[k % 8];
        text[k] = s[k].label ? s[k].label : "";
    }
    if (shown > 1 || (shown == 1 && s[0].label)) legend(shown, opt, col, text, NULL, 0);
}

int cli_plot_lines(const char *path, const cli_plot_opts *o, const cli_series *s, int nseries)
{
    if (begin_page(path, 1)) return -1;
    draw_lines(o, s, nseries);
    plend();
    return 0;
}

int cli_plot_panels(const char *path, const cli_panel *panels, int npanels)
{
    if (begin_page(path, npanels)) return -1;
    for (int p = 0; p < npanels; p++) draw_lines(&panels[p].opts, panels[p].series, panels[p].nseries);
    plend();
    return 0;
}

int cli_plot_points(const char *path, const cli_plot_opts *o, const char *const *categories, int ncat,
                    const cli_point_series *s, int nseries)
{
    double ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < nseries; k++)
        for (int i = 0; i < ncat; i++) {
            double y = s[k].y[i], e = isfinite(s[k].err[i]) ? s[k].err[i] : 0;
            if (isfinite(y)) ymin = fmin(ymin, y - e), ymax = fmax(ymax, y + e);
        }
    if (!isfinite(ymin)) ymin = 0, ymax = 1; /* nothing to show: still a valid, empty plot */
    if (!(ymax > ymin)) ymin -= 0.5, ymax += 0.5;
    int labelled = 0;
    for (int k = 0; k < nseries; k++) labelled |= s[k].label != NULL;
    /* the legend sits inside at the top right: keep roughly its height free above the data */
    double pad = 0.08 * (ymax - ymin), top = labelled ? fmin(0.5, 0.05 * nseries + 0.05) : 0;
    double hi_y = ymax + pad + top / (1 - top) * (ymax - ymin + 2 * pad);
    /* series side by side around each category, together at most 0.6 of the gap between categories */
    double step = nseries > 1 ? fmin(0.12, 0.6 / (nseries - 1)) : 0;
    PLFLT *x = malloc(sizeof(PLFLT) * (size_t)ncat), *y = malloc(sizeof(PLFLT) * (size_t)ncat);
    PLFLT *lo = malloc(sizeof(PLFLT) * (size_t)ncat), *hi = malloc(sizeof(PLFLT) * (size_t)ncat);
    PLINT *opt = malloc(sizeof(PLINT) * (size_t)(nseries ? nseries : 1));
    PLINT *col = malloc(sizeof(PLINT) * (size_t)(nseries ? nseries : 1));
    const char **text = malloc(sizeof(char *) * (size_t)(nseries ? nseries : 1));
    int rc = -1;
    if (!x || !y || !lo || !hi || !opt || !col || !text) {
        cli_error("%s: out of memory", path);
        goto done;
    }
    if (begin_page(path, 1)) goto done;
    pladv(0);
    plvsta();
    plwind(-0.5, ncat - 0.5, ymin - pad, hi_y);
    /* x: a tick at each category, named below by plmtex instead of PLplot's numbers */
    plbox("bct", 1.0, 1, "bcnstv", 0, 0);
    for (int i = 0; i < ncat; i++) plmtex("b", 1.5, (i + 0.5) / ncat, 0.5, categories[i]);
    pllab(o->xlabel, o->ylabel, o->title);
    for (int k = 0; k < nseries; k++) {
        int m = 0, e = 0;
        for (int i = 0; i < ncat; i++) {
            if (!isfinite(s[k].y[i])) continue;
            x[m] = i + (k - 0.5 * (nseries - 1)) * step;
            y[m++] = s[k].y[i];
        }
        plcol0(colours[k % 8]);
        plwidth(2);
        if (m) plstring(m, x, y, "#(728)");
        for (int i = 0; i < ncat; i++) { /* bars only where there is a spread (n >= 2) */
            if (!isfinite(s[k].y[i]) || !isfinite(s[k].err[i])) continue;
            x[e] = i + (k - 0.5 * (nseries - 1)) * step;
            lo[e] = s[k].y[i] - s[k].err[i];
            hi[e++] = s[k].y[i] + s[k].err[i];
        }
        if (e) plerry(e, x, lo, hi);
        opt[k] = PL_LEGEND_SYMBOL;
        col[k] = colours[k % 8];
        text[k] = s[k].label ? s[k].label : "";
    }
    if (labelled) legend(nseries, opt, col, text, NULL, 0);
    plend();
    rc = 0;
done:
    free(x);
    free(y);
    free(lo);
    free(hi);
    free(opt);
    free(col);
    free(text);
    return rc;
}

/* Filled markers that DejaVu Sans (which pngcairo finds) draws; 7 of them against 8 colours, so that the first
 * 56 groups all differ in colour or marker. */
static const char *const markers[] = {"\u25cf", "\u25a0", "\u25b2", "\u25c6", "\u25bc", "\u2605", "\u271a"};
#define NMARKERS ((int)(sizeof markers / sizeof *markers))

int cli_plot_scatter(const char *path, const cli_plot_opts *o, const cli_scatter_group *g, int ngroups,
                     const char *note)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    int most = 1;
    for (int k = 0; k < ngroups; k++) {
        most = g[k].n > most ? g[k].n : most;
        for (int i = 0; i < g[k].n; i++) {
            if (!isfinite(g[k].x[i]) || !isfinite(g[k].y[i])) continue;
            xmin = fmin(xmin, g[k].x[i]), xmax = fmax(xmax, g[k].x[i]);
            ymin = fmin(ymin, g[k].y[i]), ymax = fmax(ymax, g[k].y[i]);
        }
    }
    if (!isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1; /* nothing to show: still a valid, empty plot */
    if (!(xmax > xmin)) xmin -= 0.5, xmax += 0.5;
    if (!(ymax > ymin)) ymin -= 0.5, ymax += 0.5;
    /* a margin, so that no marker sits on the frame */
    double px = 0.04 * (xmax - xmin), py = 0.06 * (ymax - ymin);
    PLFLT *x = malloc(sizeof(PLFLT) * (size_t)most), *y = malloc(sizeof(PLFLT) * (size_t)most);
    int n = ngroups ? ngroups : 1;
    PLINT *opt = malloc(sizeof(PLINT) * (size_t)n), *col = malloc(sizeof(PLINT) * (size_t)n);
    const char **text = malloc(sizeof(char *) * (size_t)n), **sym = malloc(sizeof(char *) * (size_t)n);
    int rc = -1, labelled = 0;
    for (int k = 0; k < ngroups; k++) labelled |= g[k].label != NULL;
    if (!x || !y || !opt || !col || !text || !sym) {
        cli_error("%s: out of memory", path);
        goto done;
    }
    if (begin_page(path, 1)) goto done;
    pladv(0);
    /* the right quarter of the page holds the legend, outside the frame, where it hides no point */
    plvpor(0.09, labelled ? 0.72 : 0.95, 0.12, 0.86);
    plwind(xmin - px, xmax + px, ymin - py, ymax + py);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    pllab(o->xlabel, o->ylabel, "");
    plmtex("t", note ? 3.2 : 1.5, 0.5, 0.5, o->title);
    if (note) plmtex("t", 1.2, 0.5, 0.5, note);
    for (int k = 0; k < ngroups; k++) {
        int m = 0;
        for (int i = 0; i < g[k].n; i++) {
            if (!isfinite(g[k].x[i]) || !isfinite(g[k].y[i])) continue;
            x[m] = g[k].x[i];
            y[m++] = g[k].y[i];
        }
        col[k] = colours[k % 8];
        sym[k] = markers[k % NMARKERS];
        plcol0(col[k]);
        if (m) plstring(m, x, y, sym[k]);
        opt[k] = PL_LEGEND_SYMBOL;
        text[k] = g[k].label ? g[k].label : "";
    }
    if (labelled) legend(ngroups, opt, col, text, sym, 1);
    plend();
    rc = 0;
done:
    free(x);
    free(y);
    free(opt);
    free(col);
    free(text);
    free(sym);
    return rc;
}

int cli_plot_heatmap(const char *path, const cli_plot_opts *o, const double *x, int nx, const double *y, int ny,
                     const double *z, const char *zlabel, const double *cx, const double *cy, int cn,
                     const char *clabel)
{
    double zmin = INFINITY, zmax = -INFINITY;
    for (int k = 0; k < nx * ny; k++)
        if (isfinite(z[k])) zmin = fmin(zmin, z[k]), zmax = fmax(zmax, z[k]);
    if (!isfinite(zmin)) zmin = 0, zmax = 1; /* nothing to show: still a valid, empty plot */
    if (!(zmax > zmin)) zmin -= 0.5, zmax += 0.5;
    /* cells centred on the grid points; a single row or column gets a nominal width */
    double dx = nx > 1 ? (x[nx - 1] - x[0]) / (nx - 1) : 0.1 * fmax(fabs(x[0]), 1);
    double dy = ny > 1 ? (y[ny - 1] - y[0]) / (ny - 1) : 0.1 * fmax(fabs(y[0]), 1);
    double x0 = x[0] - dx / 2, x1 = x[nx - 1] + dx / 2, y0 = y[0] - dy / 2, y1 = y[ny - 1] + dy / 2;
    PLFLT **cells = NULL;
    plAlloc2dGrid(&cells, nx, ny);
    if (!cells) {
        cli_error("%s: out of memory", path);
        return -1;
    }
    /* an empty cell lies above zmax, and plimage leaves values outside [zmin, zmax] undrawn */
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) cells[i][j] = isfinite(z[j * nx + i]) ? z[j * nx + i] : zmax + (zmax - zmin) + 1;
    if (begin_page(path, 1)) {
        plFree2dGrid(cells, nx, ny);
        return -1;
    }
    plspal1("cmap1_blue_red.pal", 1);
    pladv(0);
    plvpor(0.1, 0.78, 0.12, 0.9);
    plwind(x0, x1, y0, y1);
    plimage((PLFLT_MATRIX)cells, nx, ny, x0, x1, y0, y1, zmin, zmax, x0, x1, y0, y1);
    plcol0(15);
    plwidth(1);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    pllab(o->xlabel, o->ylabel, o->title);
    if (cn > 1) {
        plcol0(15);
        plwidth(3);
        pllsty(2);
        plline(cn, (PLFLT *)cx, (PLFLT *)cy);
        pllsty(1);
        plwidth(1);
        if (clabel) plmtex("t", 0.8, 0.5, 0.5, clabel); /* between the title and the frame */
    }
    /* the colour bar beside the frame */
    PLFLT cw, ch;
    PLINT n_label = 1, lopt = PL_COLORBAR_LABEL_RIGHT, n_axis = 1, n_values = 2;
    const char *labels[1] = {zlabel}, *axis_opts[1] = {"bcvtm"};
    PLFLT ticks[1] = {0}, values_row[2] = {zmin, zmax};
    PLINT sub[1] = {0};
    const PLFLT *values[1] = {values_row};
    plcolorbar(&cw, &ch, PL_COLORBAR_IMAGE, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.03, 0, 0.04, 0.78, 0, 15, 1,
               0, 0, 0, 0, n_label, &lopt, labels, n_axis, axis_opts, ticks, sub, &n_values,
               (PLFLT_MATRIX)values);
    plend();
    plFree2dGrid(cells, nx, ny);
    return 0;
}
