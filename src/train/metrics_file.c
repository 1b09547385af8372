/* metrics_file.c: DIR/metrics.csv on resume (metrics_file.h). The rows kept are read back and checked, because a
 * resumed run would otherwise carry a damaged or missing row into a file that looks whole. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/strbuf.h"
#include "train/metrics_file.h"

/* 0 when the line (newline stripped) is row `epoch` as train writes it: the epoch, then numbers or nan; else 1
 * with the problem in why */
static int row_problem(char *why, size_t cap, const char *line, int epoch)
{
    char *end;
    long e = strtol(line, &end, 10);
    if (end == line || *end != ',' || e != epoch) return snprintf(why, cap, "not the row of epoch %d", epoch), 1;
    int fields = 1;
    for (const char *p = end + 1;; p = end + 1) {
        fields++;
        strtod(p, &end); /* "nan" is a number here: the measures are nan where undefined */
        if (end == p || (*end != ',' && *end != 0)) return snprintf(why, cap, "field %d is not a number", fields), 1;
        if (*end == 0) break;
    }
    if (fields == CN_METRICS_FIELDS) return 0;
    return snprintf(why, cap, "%d fields, not %d", fields, CN_METRICS_FIELDS), 1;
}

static int keep_rows(cn_sb *keep, const char *path, int start_epoch, cn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cn_error_set(err, CN_ERR_IO, "%s: cannot read the rows of the %d epoch%s the checkpoint has: %s", path,
                            start_epoch, start_epoch > 1 ? "s" : "", strerror(errno));
    char line[4096], why[64];
    int rc = CN_OK;
    for (int lineno = 1; lineno <= start_epoch + 1 && !rc; lineno++) {
        int bad = 1;
        if (!fgets(line, sizeof line, f)) snprintf(why, sizeof why, "%s", ferror(f) ? "unreadable" : "missing");
        else {
            size_t n = strlen(line);
            if (n == 0 || line[n - 1] != '\n')
                snprintf(why, sizeof why, "%s", n + 1 == sizeof line ? "longer than any row critnet writes" : "cut short");
            else if (lineno == 1) {
                bad = strcmp(line, CN_METRICS_HEADER) != 0;
                snprintf(why, sizeof why, "not the header critnet writes");
            } else {
                line[n - 1] = 0;
                bad = row_problem(why, sizeof why, line, lineno - 1);
                line[n - 1] = '\n';
            }
        }
        if (bad)
            rc = cn_error_set(err, CN_ERR_FORMAT, "%s: line %d: %s; the checkpoint has %d epoch%s, whose rows the file "
                              "must hold to resume (restore it, or start the run afresh)", path, lineno, why,
                              start_epoch, start_epoch > 1 ? "s" : "");
        else cn_sb_append(keep, line);
    }
    fclose(f);
    return rc;
}

int cn_metrics_open(cn_rows_file *rows, const char *dir, int start_epoch, cn_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/metrics.csv", dir) >= (int)sizeof path)
        return cn_error_set(err, CN_ERR_ARG, "%s: path too long", dir);
    cn_sb keep = {0};
    cn_sb_append(&keep, start_epoch > 0 ? "" : CN_METRICS_HEADER);
    int rc = start_epoch > 0 ? keep_rows(&keep, path, start_epoch, err) : CN_OK;
    if (!rc && keep.failed) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path);
    if (!rc) rc = cn_rows_open(rows, path, keep.s, err);
    cn_sb_free(&keep);
    return rc;
}
