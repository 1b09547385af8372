/* track_file.c: DIR/track.csv, criticality every N optimizer steps (track_file.h). Each row is written whole
 * and synced (cn_rows_*); on resume the rows kept are read back and checked, as metrics.csv's are, because the
 * checkpoint does not hold them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/strbuf.h"
#include "train/track_file.h"

static void header(cn_sb *b, int nblocks)
{
    cn_sb_append(b, "step,epoch,sigma,lambda0,mean_abs_ln_sigma_block");
    for (int l = 1; l <= nblocks; l++) cn_sb_printf(b, ",sigma_%d", l);
    cn_sb_append(b, "\n");
}

/* 0 when line (newline stripped) is the row of `step` with `fields` numbers (nan allowed); else 1, why says */
static int row_problem(char *why, size_t cap, const char *line, long step, int fields)
{
    char *end;
    long s = strtol(line, &end, 10);
    if (end == line || *end != ',' || s != step) return snprintf(why, cap, "not the row of step %ld", step), 1;
    int n = 1;
    for (const char *p = end + 1;; p = end + 1) {
        n++;
        strtod(p, &end);
        if (end == p || (*end != ',' && *end != 0)) return snprintf(why, cap, "field %d is not a number", n), 1;
        if (*end == 0) break;
    }
    if (n == fields) return 0;
    return snprintf(why, cap, "%d fields, not %d", n, fields), 1;
}

/* appends to keep the header and the rows of steps 0, every, ... <= last_step, read from path and checked */
static int keep_rows(cn_sb *keep, const char *path, const char *head, int fields, int every, long last_step,
                     cn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cn_error_set(err, CN_ERR_IO, "%s: cannot read the rows up to step %ld, which the checkpoint has: %s",
                            path, last_step, strerror(errno));
    char *line = NULL, why[64];
    size_t cap = 0;
    long rows = last_step / every + 1;
    int rc = CN_OK;
    for (long lineno = 1; lineno <= rows + 1 && !rc; lineno++) {
        int bad = 1;
        ssize_t n = getline(&line, &cap, f);
        if (n <= 0) snprintf(why, sizeof why, "%s", ferror(f) ? "unreadable" : "missing");
        else if (line[n - 1] != '\n') snprintf(why, sizeof why, "cut short");
        else if (lineno == 1) {
            bad = strcmp(line, head) != 0;
            snprintf(why, sizeof why, "not the header of this run's track.csv");
        } else {
            line[n - 1] = 0;
            bad = row_problem(why, sizeof why, line, (lineno - 2) * every, fields);
            line[n - 1] = '\n';
        }
        if (bad)
            rc = cn_error_set(err, CN_ERR_FORMAT, "%s: line %ld: %s; the checkpoint is at step %ld, whose rows the "
                              "file must hold to resume (restore it, or start the run afresh)", path, lineno, why,
                              last_step);
        else if (lineno > 1) cn_sb_append(keep, line);
    }
    free(line);
    fclose(f);
    return rc;
}

int cn_track_open(cn_track_file *t, cn_net *net, const cn_dataset *test, const char *dir, int every, int samples,
                  long steps_per_epoch, int start_epoch, cn_error *err)
{
    memset(t, 0, sizeof *t);
    if (every < 1) return cn_error_set(err, CN_ERR_ARG, "--track-every %d: must be >= 1", every);
    cn_block *blocks = NULL;
    int rc = cn_net_blocks(net, 0, &blocks, &t->nblocks);
    cn_free(blocks);
    if (rc) return cn_error_set(err, rc, "track.csv: cannot list the network's blocks");
    t->every = every;
    t->samples = samples;
    t->steps_per_epoch = steps_per_epoch;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/track.csv", dir) >= (int)sizeof path)
        return cn_error_set(err, CN_ERR_ARG, "%s: path too long", dir);
    cn_sb head = {0}, keep = {0};
    header(&head, t->nblocks);
    cn_sb_append(&keep, head.s ? head.s : "");
    if (start_epoch > 0 && !head.failed)
        rc = keep_rows(&keep, path, head.s, 5 + t->nblocks, every, (long)start_epoch * steps_per_epoch, err);
    if (!rc && (head.failed || keep.failed)) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path);
    if (!rc) rc = cn_rows_open(&t->rows, path, keep.s, err);
    cn_sb_free(&head);
    cn_sb_free(&keep);
    if (!rc && start_epoch == 0) rc = cn_track_step(t, net, test, 0, err);
    if (rc) cn_track_close(t);
    return rc;
}

int cn_track_step(cn_track_file *t, cn_net *net, const cn_dataset *test, long step, cn_error *err)
{
    if (!t->rows.f || step % t->every != 0) return CN_OK;
    int n = t->samples < test->count ? t->samples : test->count;
    cn_measure_cfg m;
    cn_measure_defaults(&m);
    m.seed = CN_TRACK_SEED;
    cn_measure_result r = {0};
    /* a net the measures refuse is a row of NaN; out of memory ends the run, as in train.c's per-epoch tracking */
    int mrc = n > 0 ? cn_measure(net, test->x, n, &m, &r, NULL) : CN_ERR_ARG;
    if (mrc == CN_ERR_NOMEM) return cn_error_set(err, mrc, "out of memory tracking sigma and lambda_0 at step %ld", step);
    int ok = mrc == CN_OK && r.nblocks == t->nblocks;
    cn_sb row = {0};
    cn_sb_printf(&row, "%ld,%.4f,%.6g,%.6g,%.6g", step, (double)step / (double)t->steps_per_epoch,
                 ok ? r.sigma : NAN, ok ? r.lambda_max : NAN, ok ? r.mean_abs_ln_sigma_block : NAN);
    for (int l = 0; l < t->nblocks; l++) cn_sb_printf(&row, ",%.6g", ok ? r.sigma_block[l] : NAN);
    cn_sb_append(&row, "\n");
    if (mrc == CN_OK) cn_measure_result_free(&r);
    int rc = row.failed ? cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", t->rows.path)
                        : cn_rows_append(&t->rows, row.s, err);
    cn_sb_free(&row);
    return rc;
}

void cn_track_close(cn_track_file *t) { cn_rows_close(&t->rows); }
