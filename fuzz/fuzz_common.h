/* fuzz_common.h: what every libFuzzer target in fuzz/ shares: the budgeted allocator behind cn_set_allocator,
 * the checks that a reader gave back every byte and asked for no more than its input justifies, and scratch
 * files for the readers that take a path rather than a buffer. */
#ifndef CN_FUZZ_COMMON_H
#define CN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Installs the budget: the library's live allocations stay under FUZZ_BUDGET_MB (default default_mb; 0: the
 * library's own malloc, unbounded) and anything beyond gets NULL, so a huge request takes the library's
 * out-of-memory path instead of tripping libFuzzer's limits. `name` prefixes every message. Also sets one
 * thread and reads FUZZ_VERBOSE. In seed mode (below) it calls write_seeds (when not NULL) and exits. */
void fuzz_init(const char *name, long default_mb, void (*write_seeds)(void));

/* A target's LLVMFuzzerInitialize: fuzz_init with a 64 MiB budget and the target's seed writer (or NULL). */
#define FUZZ_TARGET_INIT(name, write_seeds)                                                                       \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                                             \
    {                                                                                                             \
        (void)argc;                                                                                               \
        (void)argv;                                                                                               \
        fuzz_init(name, 64, write_seeds);                                                                         \
        return 0;                                                                                                 \
    }

extern int fuzz_verbose; /* FUZZ_VERBOSE=1: the target says what became of each input */

/* The most the library held live at once since fuzz_begin (or since the start). */
size_t fuzz_peak(void);

/* Starts the per-input accounting of fuzz_check_amplification. */
void fuzz_begin(void);

/* Aborts when a block the library took is still live: a leak the library's own hook can see. */
void fuzz_check_released(const char *after);

/* Aborts when, since fuzz_begin, the library asked for more than `limit` bytes live at once or in one
 * request (refused ones count: a request is made before the budget says no). Readers must size what they
 * allocate from what the file holds, so the targets pass a small multiple of the input's size. */
void fuzz_check_amplification(size_t limit, const char *what);

/* The path of a scratch file NAME in this process's own folder (made at the first call, removed at exit),
 * rewritten with data[0..size); the last 8 paths
 * returned stay valid. NULL when it cannot be written (the target then skips the input). */
const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size);
/* This process's scratch folder. */
const char *fuzz_dir(void);

#endif

/* Seed mode: with FUZZ_WRITE_SEEDS=DIR in the environment, a target's fuzz_init writes its seed corpus into
 * DIR with the library's own writers (so the seeds follow the formats as they change) and exits.
 * fuzz_seed_dir() gives DIR or NULL; fuzz_seed_file writes one seed (and aborts when it cannot). */
const char *fuzz_seed_dir(void);
void fuzz_seed_file(const char *name, const void *data, size_t size);

/* Small models in the model format, every layer kind among them: seeds of the model-format and checkpoint
 * targets. NULL-terminated. */
extern const char *const fuzz_models[];
