/* zoo.h: the parts of `critnet zoo` (cmd_zoo.c): the spec of a population of models and the presets that write
 * one, training and measuring one model into a row, the table files (zoo.csv, zoo.json), and the transport
 * that shares the models out among MPI ranks. docs/zoo.md describes the command and its files. */
#ifndef CN_ZOO_H
#define CN_ZOO_H

#include "cli.h"

/* ---------------------------------------------------------------- settings every model shares */

typedef struct {
    const char *data, *data_root; /* --data, --data-root */
    int in;                       /* --in: input size of --data gaussian */
    int threads;                  /* BLAS/OpenMP threads of every model (default 1) */
    int samples;                  /* measure inputs: the first N of the test split (default 200) */
    const char *out;              /* the zoo's folder */
    int quiet;
} zoo_settings;

/* ---------------------------------------------------------------- spec (zoo_spec.c) */

typedef struct {
    char *id, *family, *era;
    int line;                /* 1-based line of the spec it came from */
    char *settings;          /* the line in canonical form (zoo.csv's settings column) */
    int argc;                /* the equivalent `critnet train` arguments: argv[0], the zoo's defaults, the line's */
    char **argv;
    cli_train_opts opts;     /* argv parsed by the train parser; its strings point into argv */
} zoo_model;

typedef struct {
    char *source;            /* the spec file's path, or "preset:NAME": the FILE of every FILE:LINE message */
    zoo_model *models;
    int count;
} zoo_spec;

/* Parses and checks the whole text before anything trains: the syntax of every line, required and unknown
 * keys, duplicate ids, and every option value (through the train parser). Relative model-file paths start
 * at base. Each bad line gets a message "SOURCE:LINE: ..."; 0, or -1 after the last line. */
int zoo_spec_parse(zoo_spec *s, const char *text, const char *source, const char *base, const zoo_settings *z);
void zoo_spec_free(zoo_spec *s);
/* the model of that id, or -1 */
int zoo_spec_find(const zoo_spec *s, const char *id);

/* ---------------------------------------------------------------- presets (zoo_presets.c) */

/* The spec text of a preset ("small", "full"); caller frees. NULL for an unknown name. */
char *zoo_preset_text(const char *name);
/* The folder the presets' model-file paths start from (examples/zoo of the source tree). */
const char *zoo_preset_dir(void);

/* ---------------------------------------------------------------- rows (zoo_table.c) */

typedef enum {
    ZOO_ID = 0, ZOO_FAMILY, ZOO_ERA, ZOO_ARCH, ZOO_DEPTH, ZOO_WIDTH, ZOO_BLOCKS, ZOO_PARAMS, ZOO_ACT, ZOO_NORM,
    ZOO_DROPOUT, ZOO_INIT, ZOO_SIGMA_W, ZOO_SIGMA_B, ZOO_OPTIM, ZOO_LR, ZOO_MOMENTUM, ZOO_WEIGHT_DECAY, ZOO_SCHED,
    ZOO_EPOCHS, ZOO_BATCH, ZOO_LIMIT_TRAIN, ZOO_SEED, ZOO_STATUS, ZOO_TEST_ACCURACY, ZOO_TEST_LOSS, ZOO_SIGMA,
    ZOO_SIGMA_SE, ZOO_LAMBDA0, ZOO_LAMBDA0_SE, ZOO_SIGMA_ACT, ZOO_DELTA, ZOO_DELTA_SATURATED, ZOO_DELTA_TRUNCATED_LOW,
    ZOO_MEAN_ABS_LN_SIGMA_BLOCK, ZOO_TRAIN_SECONDS,
    ZOO_MEASURE_SECONDS, ZOO_DATA, ZOO_THREADS, ZOO_MEASURE_INPUTS, ZOO_MESSAGE, ZOO_SETTINGS, ZOO_NCOLS
} zoo_col;

/* One row of zoo.csv: a string per column (owned). */
typedef struct {
    char *cell[ZOO_NCOLS];
} zoo_row;

const char *zoo_col_name(zoo_col c);
/* 1 for the columns that hold numbers (JSON numbers, "nan" as null), 0 for text */
int zoo_col_numeric(zoo_col c);
/* The header line, without a newline. */
const char *zoo_header(void);

/* Sets a cell (printf-style). Commas become ';' and line breaks spaces, so that a row stays one line of plain
 * comma-separated fields (the CSV readers of cli/csv.c take no quoting). */
void zoo_row_set(zoo_row *r, zoo_col c, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void zoo_row_free(zoo_row *r);
/* The row as one CSV line without a newline, its cells and then row_crc32: 8 hex digits of the CRC-32 of the line
 * before that field's comma. Caller frees. NULL when out of memory. */
char *zoo_row_join(const zoo_row *r);
/* Splits a line of zoo.csv into r; 0, -1 when it has the wrong number of fields (or no checksum), -2 when the
 * checksum does not match the text (the row changed after critnet wrote it). */
int zoo_row_split(zoo_row *r, const char *line);

/* DIR/zoo.csv's rows as written so far: the lines after the header. A last line without its newline (a write
 * cut short) is dropped with a warning. 0 (no file: no rows), or -1 with a message (unreadable, or a header
 * from another version). */
int zoo_table_read(const char *path, char ***lines, int *n);
/* Opens path for appending rows, writing the header first when the file is new; -1 with a message. */
int zoo_table_open(const char *path);
/* Appends one row and waits until it is on disk (fsync), so that a killed run loses no finished row. */
int zoo_table_append(int fd, const char *path, const char *line);
/* Replaces path by header + lines (NULL entries skipped), atomically: a temporary file, fsync, rename. */
int zoo_table_rewrite(const char *path, char *const *lines, int n);
/* DIR/zoo.json: the zoo's settings, the columns and the rows as objects with typed values (atomic as above). */
int zoo_json_write(const char *path, cJSON *settings, char *const *lines, int n);

/* ---------------------------------------------------------------- one model (zoo_run.c) */

/* Data sets loaded once and shared by the models that ask for the same one (--standardize, and the seed and
 * classes of gaussian data, select it). */
typedef struct {
    cn_data set[2];
    char key[2][96];
    int used[2], next;
} zoo_data;

void zoo_data_free(zoo_data *zd);

/* Called between training steps and between measurement batches, so that rank 0 can serve the other ranks
 * and redraw the progress display while it trains a model itself. */
typedef void (*zoo_tick)(void *user);

/* Builds, trains, evaluates and measures one model (files in DIR/models/ID/) and fills row. A model that
 * diverges or fails is a row with status "diverged" or "failed" and the message: this never stops the zoo. */
void zoo_run_model(zoo_row *row, const zoo_model *m, const zoo_settings *z, zoo_data *zd, zoo_tick tick,
                   void *user);
/* Builds the model's network (not initialised) for the data's shape, to check it before anything trains;
 * 0, or -1 with a message. */
int zoo_check_model(const zoo_model *m, const zoo_settings *z, zoo_data *zd);
/* depth, width, blocks, act, norm and dropout of a network, read from its model text (docs/zoo.md) */
void zoo_describe_net(zoo_row *row, const cn_net *net);

/* ---------------------------------------------------------------- ranks (zoo_mpi.c) */

/* Without MPI (or without mpirun) there is one rank, 0 of 1, and every call below is trivial. */
int zoo_comm_init(int *argc, char ***argv); /* MPI_Init; 0, or -1 with a message */
void zoo_comm_finalize(void);
void zoo_comm_abort(int code);               /* ends every rank (MPI_Abort); exit() without MPI */
int zoo_comm_rank(void);
int zoo_comm_size(void);
int zoo_comm_have_mpi(void);                 /* 1 if built with MPI */
/* 1 when every rank passes ok != 0 (a collective: every rank calls it) */
int zoo_comm_all_ok(int ok);
/* rank 0's string to every rank (*text: rank 0's in, a new malloc'd copy out on the others) */
int zoo_comm_bcast(char **text);

/* Rank 0 hands out the models one at a time (a dynamic queue: the models' times differ by over 10x, so a fixed
 * split would leave ranks idle) and receives the finished rows. */
typedef struct {
    int (*next)(void *user);                          /* the next model index, or -1 when none is left */
    void (*row)(void *user, int model, const char *line); /* a row another rank finished */
    void *user;
    int active;                                       /* ranks still working (set by zoo_comm_serve) */
    int *assigned;                                    /* per rank: the model it is working on */
    int started;
} zoo_server;

/* Rank 0: answers every message waiting (a finished row, a request for work); with wait, sleeps until at least
 * one came or no rank is active. Returns the number of ranks still working. */
int zoo_comm_serve(zoo_server *s, int wait);
void zoo_server_free(zoo_server *s);
/* Other ranks: sends the finished row (NULL: none yet) and receives the next model index (-1: stop). */
int zoo_comm_request(const char *line, int *next);

#endif
