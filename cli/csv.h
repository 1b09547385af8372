/* csv.h: a plain CSV table for the CLI: a header row, comma-separated fields, no quoting. Every problem
 * is reported through cli_error with the file name and, where there is one, the line. */
#ifndef CN_CSV_H
#define CN_CSV_H

#include <stddef.h>

typedef struct {
    const char *path;
    int cols, rows;
    char **header; /* (cols) column names */
    char **cell;   /* (rows, cols) row-major; fields are trimmed of blanks */
    int *line;     /* (rows) the file line each row came from, for messages */
    char *text;    /* the file's bytes, which header and cell point into */
} cli_csv;

/* Reads path. Blank lines are skipped. Rejects an empty file, a file without data rows, a quoted field, a
 * row with the wrong number of fields, and a header with an empty or repeated name. 0, or -1 (message
 * printed, t left empty). */
int cli_csv_read(cli_csv *t, const char *path);
void cli_csv_free(cli_csv *t);

/* names[0..n) as "a, b, c" for a message, cut short with "..." where out is too small. */
void cli_csv_join(char *out, size_t size, const char *const *names, int n);

/* The column's index, or -1 with a message naming the option that asked for it and the columns there are. */
int cli_csv_column(const cli_csv *t, const char *name, const char *option);

/* The number in a cell: NaN where it is missing ("" or nan). -1 (message with file and line) where the
 * cell is not a number or is infinite. */
int cli_csv_number(const cli_csv *t, int row, int col, double *out);

/* Splits s at commas, in place, into at most max fields (blanks trimmed); the number of fields, or -1 if
 * there are more than max. */
int cli_csv_split(char *s, char **fields, int max);

#endif
