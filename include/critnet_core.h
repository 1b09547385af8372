/* critnet_core.h: the foundation every part of libcritnet's public API builds on: the version, the scalar
 * type, status codes and errors, the allocation hook, threads and random numbers. critnet.h includes it. */
#ifndef CRITNET_CORE_H
#define CRITNET_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRITNET_VERSION "0.1.0"

/* The scalar type of the engine. The library is built in float; the test suite also builds the same
 * sources in double (CRITNET_DOUBLE) so that gradient checks by central differences are meaningful. */
#ifdef CRITNET_DOUBLE
typedef double cn_real;
#else
typedef float cn_real;
#endif

/* ---------------------------------------------------------------- status and errors */

typedef enum {
    CN_OK = 0,
    CN_ERR_NOMEM,       /* an allocation failed */
    CN_ERR_IO,          /* a file could not be opened, read or written */
    CN_ERR_FORMAT,      /* a file or text is malformed: bad magic, wrong sizes, truncated */
    CN_ERR_ARG,         /* an argument is out of range or inconsistent */
    CN_ERR_NONFINITE,   /* NaN or Inf met in data, loss or parameters */
    CN_ERR_UNSUPPORTED, /* a valid request this build cannot honour */
    CN_ERR_STOPPED,     /* the caller asked a long call to stop (cn_measure_cfg.stop, cn_train_cfg.stop) */
    CN_STATUS_COUNT
} cn_status;

const char *cn_strerror(int status);

/* Detail for the caller: which file or argument, and what was wrong with it. Optional everywhere (NULL). */
typedef struct {
    int status;
    char msg[512];
} cn_error;

/* Sets err (if not NULL) and returns status; printf-style message. */
int cn_error_set(cn_error *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---------------------------------------------------------------- memory */

/* Every allocation of the library goes through this hook, so tests can make the Nth one fail. */
typedef struct {
    void *(*alloc)(size_t size, void *user);
    void (*release)(void *ptr, void *user);
    void *user;
} cn_allocator;

void cn_set_allocator(const cn_allocator *a); /* NULL restores malloc/free */
void *cn_malloc(size_t size);                  /* 64-byte aligned; NULL on failure or size overflow */
void *cn_calloc(size_t count, size_t size);
void cn_free(void *ptr);
char *cn_strdup(const char *s);

/* ---------------------------------------------------------------- files critnet writes */

/* Writes data[0..size) to path so that the file is replaced whole or left as it was: the bytes go to PATH.tmp,
 * are synced and renamed over PATH, so a full disk, a file-size limit (EFBIG; a program must ignore SIGXFSZ to
 * see it) or a kill keeps the earlier file. CN_OK, or CN_ERR_IO naming the file and the system's reason. */
int cn_file_replace(const char *path, const void *data, size_t size, cn_error *err);

/* A table that grows by whole rows (metrics.csv, tasks.csv). cn_rows_open replaces the file with `start` (the
 * header, or the header and the rows a resumed run keeps) as cn_file_replace does, then appends to it; each row
 * is written, flushed and synced, and one that cannot be written whole is cut off again, so the file holds
 * only whole rows and the error names it. */
typedef struct {
    FILE *f;
    char path[4096];
} cn_rows_file;
int cn_rows_open(cn_rows_file *r, const char *path, const char *start, cn_error *err);
int cn_rows_append(cn_rows_file *r, const char *row, cn_error *err); /* row ends with its newline */
void cn_rows_close(cn_rows_file *r);

/* ---------------------------------------------------------------- threads */

/* Sets OpenBLAS and OpenMP threads together so that they never oversubscribe the cores. */
void cn_set_threads(int n);
int cn_get_threads(void);

/* ---------------------------------------------------------------- random numbers */

typedef struct cn_rng cn_rng;
cn_rng *cn_rng_new(uint64_t seed);
/* a faster stream (GSL taus2) for draws by the million, e.g. noise on every parameter at every step */
cn_rng *cn_rng_new_fast(uint64_t seed);
void cn_rng_free(cn_rng *r);
double cn_rng_uniform(cn_rng *r);                  /* [0,1) */
double cn_rng_normal(cn_rng *r);                   /* N(0,1) */
uint64_t cn_rng_below(cn_rng *r, uint64_t n);      /* uniform integer in [0,n) */
void cn_rng_shuffle(cn_rng *r, int32_t *v, size_t n);
size_t cn_rng_state_size(const cn_rng *r);         /* for checkpoints */
const void *cn_rng_state(const cn_rng *r);
int cn_rng_set_state(cn_rng *r, const void *state, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_CORE_H */
