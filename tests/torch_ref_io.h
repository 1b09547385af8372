/* torch_ref_io.h: what test_torch_ref.c and test_torch_measure.c share: the reader of the reference files
 * that tests/torch_ref.py (CNREF1) and tests/torch_measure.py (CNMEAS1) write, the driver that runs such a
 * script into a fresh temporary directory, and the walk over that directory's cases.txt.
 *
 * Nothing here counts checks (check.h's counters are per test file): each function returns a status and
 * prints why it failed, and the test turns that into a CHECK. */
#ifndef CN_TORCH_REF_IO_H
#define CN_TORCH_REF_IO_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REF_MAX_TENSORS 24 /* room for the largest format's limit */

typedef struct {
    char name[32];
    uint64_t n;
    double *v;
} ref_tensor;

typedef struct {
    char name[128];
    char *text;
    uint32_t train, batch, tangents; /* the run header; 0 in formats without one */
    int count;
    ref_tensor t[REF_MAX_TENSORS];
} ref_case;

/* A file format. Every file is: 8-byte magic, [train, batch, tangents as u32 if run_header], name (u32
 * length + bytes), model text (u32 length + bytes), tensor count (u32, at most max_tensors), then per
 * tensor a name (u32 length + bytes), n (u64) and n float64, all little-endian. */
typedef struct {
    const char *magic; /* 8 bytes, NUL-padded, e.g. "CNREF1\0\0"; printed as a string in messages */
    int run_header;
    int max_tensors;   /* <= REF_MAX_TENSORS */
} ref_format;

/* Reads one reference file; 0 on success, else prints why and leaves *c empty. */
int ref_load(ref_case *c, const char *path, const ref_format *fmt);
void ref_free(ref_case *c);

/* Runs `$CRITNET_PYTHON (default /usr/bin/python3) $CRITNET_SRC/tests/SCRIPT.py DIR` with DIR a fresh
 * directory $TMPDIR/critnet_SCRIPT_XXXXXX, written to dir; 0 on success. On failure it prints why, removes
 * the directory if it was made, and leaves dir empty. */
int ref_make_dir(char *dir, size_t cap, const char *script);

/* Removes the files of the (flat) temporary directory, then the directory. */
void ref_remove_dir(const char *dir);

/* The cases listed in DIR/cases.txt, one file name a line (blank lines skipped). */
typedef struct {
    FILE *f;
    char dir[1024];
    char path[2048]; /* after ref_list_open: the list's path; after ref_list_next: the case file's */
} ref_list;

int ref_list_open(ref_list *l, const char *dir); /* 0 if the list could be opened */
const char *ref_list_next(ref_list *l);          /* the next case file's path, or NULL at the end */
void ref_list_close(ref_list *l);
#endif
