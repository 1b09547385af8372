/* plot.c: line plots to PNG through PLplot's cairo driver (pngcairo). */
#include <math.h>
#include <plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "plot.h"

static const int colours[] = {9, 1, 3, 8, 10, 12, 13, 14}; /* blue, red, green, brown, ... on white */

int cli_plot_lines(const char *path, const cli_plot_opts *o, const cli_series *s, int nseries)
{
    FILE *probe = fopen(path, "wb");
    if (!probe) {
        cli_error("%s: cannot write the plot", path);
        return -1;
    }
    fclose(probe);
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
    plsdev("pngcairo");
    plsfnam(path);
    plspage(0, 0, 900, 600, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(15, 0, 0, 0); /* axes and text in black: colour 15 is white in PLplot's default map */
    plscol0(7, 150, 150, 150);
    plinit();
    plcol0(15);
    plenv(xmin, xmax, ymin - pad, ymax + pad, 0, o->logx ? 10 : 0);
    pllab(o->xlabel, o->ylabel, o->title);
    if (isfinite(o->hline)) {
        PLFLT hx[2] = {xmin, xmax}, hy[2] = {o->hline, o->hline};
        plcol0(7);
        pllsty(2);
        plline(2, hx, hy);
        pllsty(1);
    }
    PLINT opt[8], lcol[8], lsty[8], mcol[8], nsym[8];
    PLFLT lw[8], msc[8];
    const char *text[8], *sym[8];
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
        lcol[k] = mcol[k] = colours[k % 8];
        lsty[k] = 1;
        lw[k] = 2;
        msc[k] = 1;
        nsym[k] = 1;
        sym[k] = "#(728)";
        text[k] = s[k].label ? s[k].label : "";
    }
    if (shown > 1 || (shown == 1 && s[0].label)) {
        PLFLT w, h;
        PLINT tcol[8];
        for (int k = 0; k < shown; k++) tcol[k] = 15;
        plcol0(15);
        pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, PL_POSITION_TOP | PL_POSITION_RIGHT | PL_POSITION_INSIDE,
                 0.02, 0.02, 0.1, 0, 15, 1, 0, 0, shown, opt, 1.0, 1.0, 2.0, 1.0, tcol, text, NULL, NULL, NULL,
                 NULL, lcol, lsty, lw, mcol, msc, nsym, sym);
    }
    plend();
    return 0;
}
