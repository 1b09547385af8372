/* zoo_report_plot.c: the figures of `critnet zoo-report`: test accuracy against each measure, a colour and a marker
 * per family (the same in every figure), with Spearman's rho and its p written under the title. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "plot.h"
#include "zoo_report.h"

static int plot_one(const zr_data *d, const zr_opts *o, int m)
{
    const zr_result *s = &d->res[m];
    cli_scatter_group *g = calloc((size_t)d->n_families, sizeof *g);
    double *x = malloc(sizeof(double) * (size_t)(s->n ? s->n : 1)), *y = malloc(sizeof(double) * (size_t)(s->n ? s->n : 1));
    int rc = -1;
    char path[4300], title[128], note[192], p[32];
    snprintf(path, sizeof path, "%s/acc_vs_%s.png", o->dir, zr_measures[m].name);
    if (!g || !x || !y) {
        cli_error("%s: out of memory", path);
        goto done;
    }
    /* the models family by family, so that each group's points lie together in x and y; a family without a
     * value of this measure keeps its (empty) group, and with it its colour and marker */
    int k = 0;
    for (int f = 0; f < d->n_families; f++) {
        g[f] = (cli_scatter_group){x + k, y + k, 0, d->families[f]};
        for (int i = 0; i < s->n; i++)
            if (s->family[i] == f) x[k] = s->x[i], y[k] = s->acc[i], k++, g[f].n++;
    }
    snprintf(title, sizeof title, "test accuracy against %s (%d models)", zr_measures[m].plot, s->n);
    if (s->why_spearman) snprintf(note, sizeof note, "Spearman #gr: n/a (%s)", s->why_spearman);
    else {
        double pv = s->spearman.p_value;
        snprintf(p, sizeof p, pv >= 1e-3 ? "%.2g" : "%.1e", pv);
        snprintf(note, sizeof note, "Spearman #gr = %.3f, p = %s", s->spearman.r, p);
    }
    char xlabel[96];
    snprintf(xlabel, sizeof xlabel, "%s%s", zr_measures[m].plot,
             zr_measures[m].larger_is_nearer ? "   (larger: nearer to criticality)" : "   (0: critical)");
    cli_plot_opts po = {title, xlabel, "test accuracy", 0, NAN};
    rc = cli_plot_scatter(path, &po, g, d->n_families, note);
done:
    free(g);
    free(x);
    free(y);
    return rc;
}

int zr_write_plots(const zr_data *d, const zr_opts *o)
{
    for (int m = 0; m < ZR_NMEASURES; m++)
        if (plot_one(d, o, m)) return -1;
    return 0;
}
