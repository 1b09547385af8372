/* series.c: one numeric column of a CSV file as an array (cli/series.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "csv.h"
#include "series.h"

static int is_number(const char *s)
{
    char *end;
    if (!*s) return 0;
    strtod(s, &end);
    return *end == 0;
}

int cli_read_series(const char *path, const char *column, double **out, int *n, const char **name)
{
    static cli_csv t; /* kept: *name points into it */
    cli_csv_free(&t);
    if (cli_csv_read(&t, path)) return -1;
    int all_numbers = 1;
    for (int j = 0; j < t.cols; j++) all_numbers &= is_number(t.header[j]);
    if (all_numbers) {
        cli_error("%s: the first line (%s) looks like data: a header row naming the columns is needed", path,
                  t.header[0]);
        return -1;
    }
    int col = column ? cli_csv_column(&t, column, "column") : 0;
    if (col < 0) return -1;
    double *x = malloc(sizeof(double) * (size_t)t.rows);
    if (!x) {
        cli_error("%s: out of memory", path);
        return -1;
    }
    for (int r = 0; r < t.rows; r++) {
        if (cli_csv_number(&t, r, col, &x[r])) {
            free(x);
            return -1;
        }
        if (isnan(x[r])) {
            cli_error("%s:%d: column '%s': the value is missing ('%s')", path, t.line[r], t.header[col],
                      t.cell[(size_t)r * t.cols + col]);
            free(x);
            return -1;
        }
    }
    *out = x;
    *n = t.rows;
    if (name) *name = t.header[col];
    return 0;
}

int cli_series_args_done(int argc, char **argv, const char *csv)
{
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see critnet %s --help)", argv[optind], cli_command);
        return -1;
    }
    if (!csv) {
        cli_error("--csv FILE is required (see critnet %s --help)", cli_command);
        return -1;
    }
    return 0;
}
