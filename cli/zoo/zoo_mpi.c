/* zoo_mpi.c: how the ranks of `mpirun critnet zoo` share the work. Rank 0 owns the queue of models and the
 * files; every other rank asks it for a model, trains and measures it, and sends the row back with its next
 * request. Built with MPI only where CMake found it (CN_HAVE_MPI); otherwise, and without mpirun (an MPI
 * singleton), there is one rank and every call is trivial.
 *
 * Waiting is done by polling with short sleeps, never by blocking MPI calls: Open MPI's blocking calls spin on
 * a core, and a rank that waits for work or for the end must not take a core from the ranks that train. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "zoo.h"

#ifdef CN_HAVE_MPI
#include <mpi.h>

/* Open MPI keeps some of what it allocates until exit, partly inside plugins it unloads at MPI_Finalize, so a
 * LeakSanitizer suppression cannot name them. In sanitized builds every MPI call goes through CALL_MPI(), which
 * tells LSan to ignore the allocations made inside it; the zoo's own are still checked. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define CALL_MPI(call)    \
    do {                  \
        __lsan_disable(); \
        call;             \
        __lsan_enable();  \
    } while (0)
#else
#define CALL_MPI(call) \
    do {               \
        call;          \
    } while (0)
#endif

enum { TAG_ROW = 1, TAG_NEXT = 2 };

static int rank = 0, size = 1, started = 0;

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void wait_for(MPI_Request *req)
{
    int done = 0;
    for (;;) {
        CALL_MPI(MPI_Test(req, &done, MPI_STATUS_IGNORE));
        if (done) return;
        sleep_ms(1);
    }
}

int zoo_comm_init(int *argc, char ***argv)
{
    int rc;
    CALL_MPI(rc = MPI_Init(argc, argv));
    if (rc != MPI_SUCCESS) {
        cli_error("MPI_Init failed");
        return -1;
    }
    started = 1;
    CALL_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
    CALL_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size));
    return 0;
}

void zoo_comm_finalize(void)
{
    if (!started) return;
    /* MPI_Finalize synchronises the ranks; a rank that finished early waits here, asleep, for the others */
    MPI_Request req;
    CALL_MPI(MPI_Ibarrier(MPI_COMM_WORLD, &req));
    wait_for(&req);
    CALL_MPI(MPI_Finalize());
    started = 0;
}

void zoo_comm_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
int zoo_comm_rank(void) { return rank; }
int zoo_comm_size(void) { return size; }
int zoo_comm_have_mpi(void) { return 1; }

int zoo_comm_all_ok(int ok)
{
    if (size == 1) return ok != 0;
    int mine = ok != 0, all = 0;
    MPI_Request req;
    CALL_MPI(MPI_Iallreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req));
    wait_for(&req);
    return all;
}

int zoo_comm_bcast(char **text)
{
    if (size == 1) return 0;
    long len = rank == 0 ? (long)strlen(*text) : 0;
    MPI_Request req;
    CALL_MPI(MPI_Ibcast(&len, 1, MPI_LONG, 0, MPI_COMM_WORLD, &req));
    wait_for(&req);
    if (rank != 0) {
        free(*text); /* this rank's own reading of the spec: rank 0's text is the one that runs */
        if (!(*text = calloc((size_t)len + 1, 1))) return -1;
    }
    CALL_MPI(MPI_Ibcast(*text, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD, &req));
    wait_for(&req);
    return 0;
}

int zoo_comm_serve(zoo_server *s, int wait)
{
    if (size == 1) return s->active = 0;
    if (!s->started) {
        s->assigned = malloc(sizeof *s->assigned * (size_t)size);
        for (int r = 0; r < size; r++) s->assigned[r] = -1;
        s->active = size - 1;
        s->started = 1;
    }
    int handled = 0;
    while (s->active > 0) {
        int flag = 0;
        MPI_Status st;
        CALL_MPI(MPI_Iprobe(MPI_ANY_SOURCE, TAG_ROW, MPI_COMM_WORLD, &flag, &st));
        if (!flag) {
            if (!wait || handled) break;
            sleep_ms(2);
            continue;
        }
        int len = 0, src = st.MPI_SOURCE;
        CALL_MPI(MPI_Get_count(&st, MPI_CHAR, &len));
        char *line = malloc((size_t)len + 1);
        CALL_MPI(MPI_Recv(line, len, MPI_CHAR, src, TAG_ROW, MPI_COMM_WORLD, MPI_STATUS_IGNORE));
        line[len] = 0;
        if (len > 0 && s->assigned[src] >= 0) s->row(s->user, s->assigned[src], line);
        free(line);
        int next = s->next(s->user);
        s->assigned[src] = next;
        CALL_MPI(MPI_Send(&next, 1, MPI_INT, src, TAG_NEXT, MPI_COMM_WORLD)); /* one int: sent at once (eager) */
        if (next < 0) s->active--;
        handled++;
    }
    return s->active;
}

int zoo_comm_request(const char *line, int *next)
{
    MPI_Request req;
    CALL_MPI(MPI_Isend(line ? line : "", line ? (int)strlen(line) : 0, MPI_CHAR, 0, TAG_ROW, MPI_COMM_WORLD, &req));
    wait_for(&req);
    CALL_MPI(MPI_Irecv(next, 1, MPI_INT, 0, TAG_NEXT, MPI_COMM_WORLD, &req));
    wait_for(&req);
    return 0;
}

#else /* one process */

int zoo_comm_init(int *argc, char ***argv) { return 0; }
void zoo_comm_finalize(void) {}
void zoo_comm_abort(int code) { exit(code); }
int zoo_comm_rank(void) { return 0; }
int zoo_comm_size(void) { return 1; }
int zoo_comm_have_mpi(void) { return 0; }
int zoo_comm_all_ok(int ok) { return ok != 0; }
int zoo_comm_bcast(char **text) { return 0; }
int zoo_comm_serve(zoo_server *s, int wait) { return s->active = 0; }
int zoo_comm_request(const char *line, int *next)
{
    *next = -1;
    return 0;
}

#endif

void zoo_server_free(zoo_server *s)
{
    free(s->assigned);
    s->assigned = NULL;
}
