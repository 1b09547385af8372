/* series.h: one numeric column of a CSV file (cli/csv.c) as an array, for the commands that analyse a
 * sample or a time series (critnet powerlaw, critnet branching). */
#ifndef CN_SERIES_H
#define CN_SERIES_H

/* The cells of column (default: the first) of path, in file order, into *out (caller frees with free) and
 * *n; *name gets the column's name (valid until the process ends). Every cell must be a finite number: an
 * empty, nan, infinite or non-numeric cell is reported with file, line and column. A header row is needed;
 * a first row that is all numbers is refused as data, not names. 0, or -1 (message printed). */
int cli_read_series(const char *path, const char *column, double **out, int *n, const char **name);

/* After getopt: -1 (message printed) for a leftover argument or a missing --csv FILE, else 0. */
int cli_series_args_done(int argc, char **argv, const char *csv);

#endif
