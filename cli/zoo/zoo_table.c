/* zoo_table.c: the zoo's result files. zoo.csv grows by one row per finished model, each on disk (fsync) before
 * the next model starts, and is rewritten in spec order at the end; zoo.json holds the same rows with typed
 * values and the zoo's settings. The final files replace the old ones by rename, so a reader never sees half.
 * Each row ends with the CRC-32 of the text before it (row_crc32), because a rerun takes the rows it finds as
 * done: a row changed on disk must be refused, not skipped over as a finished model. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "zoo.h"

static const struct {
    const char *name;
    int numeric;
} columns[] = {
    {"id", 0},           {"family", 0},       {"era", 0},          {"arch", 0},
    {"depth", 1},        {"width", 1},        {"blocks", 1},       {"params", 1},
    {"act", 0},          {"norm", 0},         {"dropout", 1},      {"init", 0},
    {"sigma_w", 1},      {"sigma_b", 1},      {"optim", 0},        {"lr", 1},
    {"momentum", 1},     {"weight_decay", 1}, {"sched", 0},        {"epochs", 1},
    {"batch", 1},        {"limit_train", 1},  {"seed", 1},         {"status", 0},
    {"test_accuracy", 1}, {"test_loss", 1},   {"sigma", 1},        {"sigma_se", 1},
    {"lambda0", 1},      {"lambda0_se", 1},   {"sigma_act", 1},    {"delta", 1},
    {"delta_saturated", 1}, {"delta_truncated_low", 1}, {"mean_abs_ln_sigma_block", 1}, {"train_seconds", 1}, {"measure_seconds", 1}, {"data", 0},
    {"threads", 1},      {"measure_inputs", 1}, {"message", 0},    {"settings", 0},
};
_Static_assert(sizeof columns / sizeof *columns == ZOO_NCOLS, "one name per column");

const char *zoo_col_name(zoo_col c) { return (unsigned)c < ZOO_NCOLS ? columns[c].name : "?"; }
int zoo_col_numeric(zoo_col c) { return (unsigned)c < ZOO_NCOLS && columns[c].numeric; }

/* the last field of every line: not a zoo_col, since it belongs to the line's text and not to the model */
#define CRC_COLUMN "row_crc32"

const char *zoo_header(void)
{
    static char header[1024];
    if (!header[0]) {
        size_t len = 0;
        for (int c = 0; c < ZOO_NCOLS; c++)
            len += (size_t)snprintf(header + len, sizeof header - len, "%s,", columns[c].name);
        snprintf(header + len, sizeof header - len, "%s", CRC_COLUMN);
    }
    return header;
}

static unsigned long text_crc(const char *s, size_t n) { return crc32(crc32(0, NULL, 0), (const Bytef *)s, (uInt)n); }

void zoo_row_set(zoo_row *r, zoo_col c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
        for (char *p = s; *p; p++)
            if (*p == ',') *p = ';';
            else if (*p == '\n' || *p == '\r') *p = ' ';
    }
    free(r->cell[c]);
    r->cell[c] = s;
}

void zoo_row_free(zoo_row *r)
{
    for (int c = 0; c < ZOO_NCOLS; c++) free(r->cell[c]);
    memset(r, 0, sizeof *r);
}

char *zoo_row_join(const zoo_row *r)
{
    size_t n = 1 + 9;
    for (int c = 0; c < ZOO_NCOLS; c++) n += (r->cell[c] ? strlen(r->cell[c]) : 0) + 1;
    char *line = malloc(n);
    if (!line) return NULL;
    size_t len = 0;
    for (int c = 0; c < ZOO_NCOLS; c++)
        len += (size_t)snprintf(line + len, n - len, "%s%s", c ? "," : "", r->cell[c] ? r->cell[c] : "");
    snprintf(line + len, n - len, ",%08lx", text_crc(line, len));
    return line;
}

int zoo_row_split(zoo_row *r, const char *line)
{
    memset(r, 0, sizeof *r);
    const char *crc_at = strrchr(line, ',');
    char *end;
    if (!crc_at || strlen(crc_at + 1) != 8 || !isxdigit((unsigned char)crc_at[1])) return -1;
    unsigned long crc = strtoul(crc_at + 1, &end, 16);
    if (*end) return -1;
    size_t len = (size_t)(crc_at - line);
    if (crc != text_crc(line, len)) return -2;
    /* the cells end at the checksum's comma; the settings, last, may hold none (the spec forbids ';' and zoo.csv
     * writes its commas as ';') */
    const char *p = line;
    for (int c = 0; c < ZOO_NCOLS; c++) {
        const char *stop = c == ZOO_NCOLS - 1 ? crc_at : memchr(p, ',', (size_t)(crc_at - p));
        if (!stop || !(r->cell[c] = strndup(p, (size_t)(stop - p)))) {
            zoo_row_free(r);
            return -1;
        }
        p = stop + 1;
    }
    if (strchr(r->cell[ZOO_NCOLS - 1], ',')) {
        zoo_row_free(r);
        return -1;
    }
    return 0;
}

int zoo_table_read(const char *path, char ***lines, int *n)
{
    *lines = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        cli_error("%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0, alloc = 0;
    while ((len = getline(&buf, &cap, f)) > 0) {
        lineno++;
        int complete = buf[len - 1] == '\n';
        if (complete) buf[--len] = 0;
        if (lineno == 1) {
            /* a header cut short by a kill during the zoo's first write: no rows yet */
            if (!complete && strncmp(buf, zoo_header(), (size_t)len) == 0) break;
            if (strcmp(buf, zoo_header()) != 0) {
                const char *crc = strstr(zoo_header(), "," CRC_COLUMN);
                int earlier = crc && (size_t)len == (size_t)(crc - zoo_header()) && !strncmp(buf, zoo_header(), (size_t)len);
                cli_error("%s: line 1: not the header this critnet writes (%s): use another --out", path,
                          earlier ? "a zoo.csv of an earlier critnet, whose rows carry no checksum"
                                  : "a zoo.csv of another version, or another file");
                rc = -1;
                break;
            }
            continue;
        }
        if (!complete) {
            /* a row is written with one write() and fsync; only a run killed inside that call leaves half */
            fprintf(stderr, "critnet zoo: %s: line %d is cut short (a killed run); that model will run again\n",
                    path, lineno);
            break;
        }
        if (len == 0) {
            /* critnet writes no empty line: the file was edited or damaged, and the lines after it may be too */
            cli_error("%s: line %d: empty (not a line critnet writes): delete it, or use another --out", path, lineno);
            rc = -1;
            break;
        }
        if (*n == alloc) {
            alloc = alloc ? 2 * alloc : 64;
            char **grown = realloc(*lines, sizeof *grown * (size_t)alloc);
            if (!grown) {
                cli_error("out of memory");
                rc = -1;
                break;
            }
            *lines = grown;
        }
        if (!((*lines)[*n] = strdup(buf))) {
            cli_error("out of memory");
            rc = -1;
            break;
        }
        (*n)++;
    }
    free(buf);
    fclose(f);
    if (rc) {
        for (int i = 0; i < *n; i++) free((*lines)[i]);
        free(*lines);
        *lines = NULL;
        *n = 0;
    }
    return rc;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* a row as one buffer, newline included, so that it reaches the file in one write() */
static int write_line(int fd, const char *line)
{
    size_t n = strlen(line);
    char *buf = malloc(n + 2);
    if (!buf) return -1;
    memcpy(buf, line, n);
    buf[n] = '\n';
    int rc = write_all(fd, buf, n + 1);
    free(buf);
    return rc;
}

/* The length of the file up to its last newline: a last line cut short by a kill (which zoo_table_read has
 * dropped) is cut off before rows are appended, or the next row would join it. */
static off_t complete_length(int fd, off_t size)
{
    char buf[4096];
    for (off_t end = size; end > 0;) {
        off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - start), start);
        if (n <= 0) return -1;
        for (ssize_t i = n - 1; i >= 0; i--)
            if (buf[i] == '\n') return start + i + 1;
        end = start;
    }
    return 0;
}

int zoo_table_open(const char *path)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT, 0666);
    if (fd < 0) {
        cli_error("%s: cannot open for writing: %s", path, strerror(errno));
        return -1;
    }
    off_t size = lseek(fd, 0, SEEK_END), keep = size > 0 ? complete_length(fd, size) : 0;
    if (keep < 0 || (keep < size && ftruncate(fd, keep))) {
        cli_error("%s: cannot cut off its last, incomplete line: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (keep == 0 && (write_line(fd, zoo_header()) || fsync(fd))) {
        cli_error("%s: cannot write: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int zoo_table_append(int fd, const char *path, const char *line)
{
    if (write_line(fd, line) || fsync(fd)) {
        cli_error("%s: cannot write a row: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int zoo_table_rewrite(const char *path, char *const *lines, int n)
{
    size_t len = strlen(zoo_header()) + 2;
    for (int i = 0; i < n; i++)
        if (lines[i]) len += strlen(lines[i]) + 1;
    char *text = malloc(len);
    if (!text) {
        cli_error("out of memory");
        return -1;
    }
    size_t k = (size_t)snprintf(text, len, "%s\n", zoo_header());
    for (int i = 0; i < n; i++)
        if (lines[i]) k += (size_t)snprintf(text + k, len - k, "%s\n", lines[i]);
    int rc = cli_write_text(path, text);
    free(text);
    return rc;
}

/* a cell as JSON: numbers as numbers, "nan" and empty cells as null */
static cJSON *cell_json(zoo_col c, const char *s)
{
    if (!zoo_col_numeric(c)) return cJSON_CreateString(s ? s : "");
    char *end;
    double v = s && *s ? strtod(s, &end) : 0;
    if (!s || !*s || *end) return cJSON_CreateNull();
    return cli_json_num(v);
}

int zoo_json_write(const char *path, cJSON *settings, char *const *lines, int n)
{
    cJSON *root = cJSON_CreateObject(), *cols = cJSON_CreateArray(), *rows = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "settings", settings);
    for (int c = 0; c < ZOO_NCOLS; c++) cJSON_AddItemToArray(cols, cJSON_CreateString(columns[c].name));
    cJSON_AddItemToObject(root, "columns", cols);
    for (int i = 0; i < n; i++) {
        zoo_row r;
        if (!lines[i] || zoo_row_split(&r, lines[i])) continue;
        cJSON *o = cJSON_CreateObject();
        /* the spec forbids ';' in values, so the settings text gets its commas back exactly */
        for (char *p = r.cell[ZOO_SETTINGS]; p && *p; p++)
            if (*p == ';') *p = ',';
        for (int c = 0; c < ZOO_NCOLS; c++) cJSON_AddItemToObject(o, columns[c].name, cell_json((zoo_col)c, r.cell[c]));
        cJSON_AddItemToArray(rows, o);
        zoo_row_free(&r);
    }
    cJSON_AddItemToObject(root, "rows", rows);
    return cli_json_write(path, root);
}
