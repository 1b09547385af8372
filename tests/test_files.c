/* test_files.c: the library's crash-safe writers (cn_file_replace, cn_rows_*, the summary's cn_json_save) under a
 * file-size limit (RLIMIT_FSIZE with SIGXFSZ ignored, as the critnet program runs: writes then fail with EFBIG,
 * as on a full disk). Each failure must name the file and the reason, leave the earlier file as it was (or the
 * rows before the failed one, whole) and leave no temporary behind. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "core/json_file.h"
#include "critnet.h"

static char g_dir[64];

static const char *path_in(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 20);
    *n = b ? fread(b, 1, (1 << 20) - 1, f) : 0;
    if (b) b[*n] = 0;
    fclose(f);
    return b;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void set_fsize_limit(rlim_t bytes)
{
    struct rlimit r;
    getrlimit(RLIMIT_FSIZE, &r);
    r.rlim_cur = bytes;
    CHECK(setrlimit(RLIMIT_FSIZE, &r) == 0, "setrlimit(RLIMIT_FSIZE, %lu): %s", (unsigned long)bytes, strerror(errno));
}

static void test_replace(void)
{
    const char *p = path_in("report.txt");
    cn_error err = {0};
    CHECK_OK(cn_file_replace(p, "old contents\n", 13, &err));
    static char big[16384];
    memset(big, 'x', sizeof big);
    set_fsize_limit(4096);
    int rc = cn_file_replace(p, big, sizeof big, &err);
    set_fsize_limit(RLIM_INFINITY);
    CHECK(rc == CN_ERR_IO, "16 KB under a 4 KB limit: status %d (%s)", rc, err.msg);
    CHECK(strstr(err.msg, p) && strstr(err.msg, strerror(EFBIG)), "the message '%s' names neither %s nor EFBIG",
          err.msg, p);
    size_t n = 0;
    char *b = slurp(p, &n);
    CHECK(b && n == 13 && !memcmp(b, "old contents\n", 13), "the earlier file changed: %zu bytes", n);
    free(b);
    CHECK(!exists(path_in("report.txt.tmp")), "the temporary is left behind");
    /* and the same without a limit goes through */
    CHECK_OK(cn_file_replace(p, big, sizeof big, &err));
    b = slurp(p, &n);
    CHECK(b && n == sizeof big, "after the limit: %zu bytes", n);
    free(b);
    /* a folder where the temporary would go: refused, named */
    const char *q = path_in("blocked.json");
    CHECK(mkdir(path_in("blocked.json.tmp"), 0755) == 0, "mkdir");
    rc = cn_json_save(q, cJSON_CreateObject(), &err);
    CHECK(rc == CN_ERR_IO && strstr(err.msg, "blocked.json.tmp"), "a blocked summary: %d '%s'", rc, err.msg);
    rmdir(path_in("blocked.json.tmp"));
    CHECK_OK(cn_json_save(q, cJSON_CreateObject(), &err));
    b = slurp(q, &n);
    CHECK(b && !strcmp(b, "{\n}\n"), "summary text '%s'", b ? b : "");
    free(b);
}

static void test_rows(void)
{
    const char *p = path_in("metrics.csv");
    cn_error err = {0};
    cn_rows_file r;
    CHECK_OK(cn_rows_open(&r, p, "epoch,loss\n", &err));
    char row[64];
    int rc = CN_OK, written = 0;
    /* rows of 25 bytes against a 1000-byte limit: the 40th does not fit whole */
    set_fsize_limit(1000);
    for (int i = 1; i <= 100 && rc == CN_OK; i++) {
        snprintf(row, sizeof row, "%d,%021d\n", i % 10, i);
        if ((rc = cn_rows_append(&r, row, &err)) == CN_OK) written++;
    }
    set_fsize_limit(RLIM_INFINITY);
    cn_rows_close(&r);
    CHECK(rc == CN_ERR_IO && strstr(err.msg, p) && strstr(err.msg, strerror(EFBIG)), "the failed row: %d '%s'", rc,
          err.msg);
    size_t n = 0;
    char *b = slurp(p, &n);
    CHECK(b && n == 11 + 24 * (size_t)written && b[n - 1] == '\n', "%d rows written, the file has %zu bytes", written,
          n);
    CHECK(written == (1000 - 11) / 24, "%d rows fit under the limit", written);
    free(b);
    /* reopened with a new start: the file is that start, then what is appended */
    CHECK_OK(cn_rows_open(&r, p, "epoch,loss\n1,0.5\n", &err));
    CHECK_OK(cn_rows_append(&r, "2,0.25\n", &err));
    cn_rows_close(&r);
    b = slurp(p, &n);
    CHECK(b && !strcmp(b, "epoch,loss\n1,0.5\n2,0.25\n"), "reopened: '%s'", b ? b : "");
    free(b);
}

int main(void)
{
    signal(SIGXFSZ, SIG_IGN);
    snprintf(g_dir, sizeof g_dir, "/tmp/critnet_files_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    test_replace();
    test_rows();
    const char *names[] = {"report.txt", "blocked.json", "metrics.csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) unlink(path_in(names[i]));
    rmdir(g_dir);
    return check_summary("test_files");
}
