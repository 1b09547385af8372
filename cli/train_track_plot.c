/* train_track_plot.c: DIR/track.png of `critnet train --track-every N`: sigma with the sigma_l of up to 7
 * blocks, lambda_0 and the mean over blocks of |ln sigma_l| against epoch, read from DIR/track.csv. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"
#include "csv.h"
#include "plot.h"

#define MAX_BLOCKS_SHOWN 7 /* a panel draws at most 8 series: sigma and these */

/* column c of t as numbers into a fresh array (NaN where empty); NULL (message printed) on a bad cell */
static double *column(const cli_csv *t, int c)
{
    double *v = malloc(sizeof(double) * (size_t)t->rows);
    if (!v) cli_error("%s: out of memory", t->path);
    for (int i = 0; v && i < t->rows; i++)
        if (cli_csv_number(t, i, c, &v[i])) {
            free(v);
            return NULL;
        }
    return v;
}

int cli_train_track_plot(const char *dir)
{
    char csv_path[4096], png_path[4096];
    snprintf(csv_path, sizeof csv_path, "%s/track.csv", dir);
    snprintf(png_path, sizeof png_path, "%s/track.png", dir);
    cli_csv t;
    if (cli_csv_read(&t, csv_path)) return -1;
    int rc = -1, nblocks = t.cols - 5, shown = nblocks < MAX_BLOCKS_SHOWN ? nblocks : MAX_BLOCKS_SHOWN;
    double *col[3 + MAX_BLOCKS_SHOWN] = {0}, *epoch = NULL;
    char labels[MAX_BLOCKS_SHOWN][32];
    cli_series s[3 + MAX_BLOCKS_SHOWN];
    int ce = cli_csv_column(&t, "epoch", NULL), cs = cli_csv_column(&t, "sigma", NULL),
        cl = cli_csv_column(&t, "lambda0", NULL), cm = cli_csv_column(&t, "mean_abs_ln_sigma_block", NULL);
    if (ce < 0 || cs < 0 || cl < 0 || cm < 0 || nblocks < 0) goto done;
    if (!(epoch = column(&t, ce)) || !(col[0] = column(&t, cs)) || !(col[1] = column(&t, cl)) ||
        !(col[2] = column(&t, cm)))
        goto done;
    s[0] = (cli_series){.x = epoch, .y = col[0], .n = t.rows, .label = "sigma", .points = t.rows < 30};
    /* blocks evenly spaced from the first to the last, so that a deep net shows its whole depth */
    for (int k = 0; k < shown; k++) {
        int l = shown > 1 ? (int)lround((double)k * (nblocks - 1) / (shown - 1)) : 0;
        if (!(col[3 + k] = column(&t, 5 + l))) goto done;
        snprintf(labels[k], sizeof labels[k], "sigma_%d", l + 1);
        s[1 + k] = (cli_series){.x = epoch, .y = col[3 + k], .n = t.rows, .label = labels[k]};
    }
    s[1 + shown] = (cli_series){.x = epoch, .y = col[1], .n = t.rows, .points = t.rows < 30};
    s[2 + shown] = (cli_series){.x = epoch, .y = col[2], .n = t.rows, .points = t.rows < 30};
    cli_panel panels[3] = {
        {{.title = "branching parameter sigma and per-block sigma_l (critical: 1)", .xlabel = "epoch",
          .ylabel = "sigma", .hline = 1.0}, s, 1 + shown},
        {{.title = "largest Lyapunov exponent lambda_0 (critical: 0)", .xlabel = "epoch", .ylabel = "lambda_0",
          .hline = 0.0}, s + 1 + shown, 1},
        {{.title = "mean over blocks of |ln sigma_l| (critical: 0)", .xlabel = "epoch", .ylabel = "mean |ln sigma_l|",
          .hline = 0.0}, s + 2 + shown, 1},
    };
    rc = cli_plot_panels(png_path, panels, 3);
done:
    for (int k = 0; k < 3 + MAX_BLOCKS_SHOWN; k++) free(col[k]);
    free(epoch);
    cli_csv_free(&t);
    return rc;
}
