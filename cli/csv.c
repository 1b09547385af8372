/* csv.c: reading the plain CSV tables critnet's own scripts write (a header row, no quoting) for
 * `critnet stats`. Quoted fields are rejected rather than half-understood. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "csv.h"

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
    return s;
}

int cli_csv_split(char *s, char **fields, int max)
{
    int n = 0;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma) *comma = 0;
        if (n == max) return -1;
        fields[n++] = trim(s);
        if (!comma) return n;
        s = comma + 1;
    }
}

/* the whole file, NUL-terminated; read in chunks so a pipe works as well as a file */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t size = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    while (buf) {
        size += fread(buf + size, 1, cap - 1 - size, f);
        if (size < cap - 1) break;
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger) free(buf);
        buf = bigger;
    }
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        cli_error("%s: cannot read", path);
        return NULL;
    }
    buf[size] = 0;
    if (memchr(buf, 0, size)) {
        free(buf);
        cli_error("%s: not a text file (it holds a NUL byte)", path);
        return NULL;
    }
    return buf;
}

static int is_blank(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    return !*s;
}

/* the fields of one line into out[0..t->cols); quotes looked for first, since a quoted field may hold the
 * comma that would otherwise be reported as a wrong field count */
static int split_row(cli_csv *t, char *s, int lineno, char **out)
{
    const char *quote = strchr(s, '"');
    if (quote) {
        int field = 1;
        for (const char *q = s; q < quote; q++) field += *q == ',';
        cli_error("%s:%d: field %d is quoted; fields must be plain, without quotes or commas inside", t->path,
                  lineno, field);
        return -1;
    }
    int n = cli_csv_split(s, out, t->cols);
    if (n != t->cols) {
        if (n < 0) cli_error("%s:%d: more fields than the %d of the header", t->path, lineno, t->cols);
        else cli_error("%s:%d: %d fields where the header has %d", t->path, lineno, n, t->cols);
        return -1;
    }
    return 0;
}

static int parse(cli_csv *t)
{
    char *p = t->text;
    int lineno = 0, lines = 1;
    for (const char *q = p; *q; q++) lines += *q == '\n';
    /* the header: the first non-blank line; its comma count bounds the columns */
    char *header = NULL;
    int header_line = 0;
    while (p && !header) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        if (!is_blank(p)) header = p, header_line = lineno;
        p = nl ? nl + 1 : NULL;
    }
    if (!header) {
        cli_error("%s: empty file (expected a header row)", t->path);
        return -1;
    }
    t->cols = 1;
    for (const char *q = header; *q; q++) t->cols += *q == ',';
    /* A row holds cols - 1 commas, so the commas after the header bound the rows: sized by lines times the
     * header's width, a 20 KB file of one long header and blank lines asked for 800 MB of cells. */
    size_t commas = 0, rows_max = (size_t)lines;
    for (const char *q = p ? p : ""; *q; q++) commas += *q == ',';
    if (t->cols > 1 && commas / (size_t)(t->cols - 1) + 1 < rows_max) rows_max = commas / (size_t)(t->cols - 1) + 1;
    t->header = malloc(sizeof(char *) * (size_t)t->cols);
    t->cell = malloc(sizeof(char *) * (size_t)t->cols * rows_max);
    t->line = malloc(sizeof(int) * rows_max);
    if (!t->header || !t->cell || !t->line) {
        cli_error("%s: out of memory", t->path);
        return -1;
    }
    if (split_row(t, header, header_line, t->header)) return -1;
    for (int j = 0; j < t->cols; j++) {
        if (!*t->header[j]) {
            cli_error("%s:%d: column %d has no name", t->path, header_line, j + 1);
            return -1;
        }
        for (int k = 0; k < j; k++)
            if (!strcmp(t->header[k], t->header[j])) {
                cli_error("%s:%d: column '%s' appears twice", t->path, header_line, t->header[j]);
                return -1;
            }
    }
    while (p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        lineno++;
        if (!is_blank(p)) {
            if ((size_t)t->rows == rows_max) { /* cannot happen (see above); kept as the bound of the writes */
                cli_error("%s:%d: more rows than the file's commas allow", t->path, lineno);
                return -1;
            }
            if (split_row(t, p, lineno, t->cell + (size_t)t->rows * t->cols)) return -1;
            t->line[t->rows++] = lineno;
        }
        p = nl ? nl + 1 : NULL;
    }
    if (!t->rows) {
        cli_error("%s: no data rows after the header", t->path);
        return -1;
    }
    return 0;
}

int cli_csv_read(cli_csv *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    if (!(t->text = slurp(path))) return -1;
    if (parse(t)) {
        cli_csv_free(t);
        return -1;
    }
    return 0;
}

void cli_csv_free(cli_csv *t)
{
    free(t->header);
    free(t->cell);
    free(t->line);
    free(t->text);
    memset(t, 0, sizeof *t);
}

void cli_csv_join(char *out, size_t size, const char *const *names, int n)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t need = strlen(names[i]) + 2;
        if (len + need + 4 >= size) { /* room for ", ..." */
            snprintf(out + len, size - len, "%s...", i ? ", " : "");
            return;
        }
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ", " : "", names[i]);
    }
}

int cli_csv_column(const cli_csv *t, const char *name, const char *option)
{
    for (int j = 0; j < t->cols; j++)
        if (!strcmp(t->header[j], name)) return j;
    char cols[1024];
    cli_csv_join(cols, sizeof cols, (const char *const *)t->header, t->cols);
    cli_error("--%s %s: %s has no column '%s' (its columns: %s)", option, name, t->path, name, cols);
    return -1;
}

int cli_csv_number(const cli_csv *t, int row, int col, double *out)
{
    const char *s = t->cell[(size_t)row * t->cols + col];
    char *end;
    *out = NAN;
    if (!*s) return 0;
    double v = strtod(s, &end);
    if (end == s || *end) {
        cli_error("%s:%d: column '%s': '%s' is not a number", t->path, t->line[row], t->header[col], s);
        return -1;
    }
    if (isinf(v)) {
        cli_error("%s:%d: column '%s': '%s' is infinite", t->path, t->line[row], t->header[col], s);
        return -1;
    }
    if (!isnan(v)) *out = v;
    return 0;
}
