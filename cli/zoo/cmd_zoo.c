/* cmd_zoo.c: `critnet zoo`: trains and measures a population of models (a spec file or a preset), one row per
 * model in DIR/zoo.csv as each finishes, resumable after a kill, over MPI ranks when run under mpirun. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "zoo.h"

static const char *usage =
    "usage: critnet zoo (--preset small|full | --spec FILE) --out DIR [options]\n"
    "       critnet zoo (--preset NAME | --spec FILE) --print-spec\n"
    "Builds, trains and measures a population of models (docs/zoo.md). Each model trains as `critnet train`\n"
    "would with the line's options (files in DIR/models/ID/), then its accuracy on the whole test split and\n"
    "its sigma, lambda_0 and Delta (the defaults of `critnet measure --dynamic-range`) go into a row of\n"
    "DIR/zoo.csv, written as soon as the model finishes. A rerun with the same --out skips the models done;\n"
    "the end rewrites zoo.csv in spec order and writes DIR/zoo.json.\n"
    "  --preset small|full     a built-in population (small: 24 models, full: 96; --print-spec shows them)\n"
    "  --spec FILE             one model per line: id=.. family=.. era=.. and critnet train options as\n"
    "                          key=value (docs/zoo.md); the whole file is checked before anything trains\n"
    "  --print-spec            print the spec text and stop\n"
    "  --check                 check the spec and build every model for the data, then stop\n"
    "  --out DIR               the zoo's folder (created if missing)\n"
    "  --data D                the data of every model: fashion-mnist (default), mnist, idx:DIR, gaussian,\n"
    "                          cifar10:DIR\n"
    "  --data-root DIR         where scripts/setup.sh put the converted data (default ./data)\n"
    "  --in N                  input dimension for --data gaussian\n"
    "  --samples N             measure on the first N test inputs (default 200)\n"
    "  --threads N             BLAS and OpenMP threads of every model (default 1; rows depend on it)\n"
    "  --quiet                 no progress output\n"
#ifdef CN_HAVE_MPI
    "MPI: this build has it. `mpirun -np N critnet zoo ...` shares the models out among N ranks (rank 0\n"
    "writes the files); the rows do not depend on N. Without mpirun it runs as one process.\n";
#else
    "MPI: this build has none (CMake found no MPI, or -DCN_MPI=OFF), so the zoo runs as one process.\n";
#endif

enum { O_PRESET = 3000, O_SPEC, O_PRINT, O_CHECK, O_OUT, O_DATA, O_ROOT, O_IN, O_SAMPLES, O_THREADS, O_QUIET };

typedef struct {
    zoo_settings z;
    const char *preset, *spec_path;
    int print_spec, check;
} zoo_opts;

static int parse(zoo_opts *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"preset", required_argument, 0, O_PRESET}, {"spec", required_argument, 0, O_SPEC},
        {"print-spec", no_argument, 0, O_PRINT},    {"check", no_argument, 0, O_CHECK},
        {"out", required_argument, 0, O_OUT},
        {"data", required_argument, 0, O_DATA},     {"data-root", required_argument, 0, O_ROOT},
        {"in", required_argument, 0, O_IN},         {"samples", required_argument, 0, O_SAMPLES},
        {"threads", required_argument, 0, O_THREADS}, {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->z.data = "fashion-mnist";
    o->z.threads = 1;
    o->z.samples = 200;
    optind = 0;
    int opt, bad = 0;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'h': cli_help(usage); return 1;
        case O_PRESET: {
            /* checked with the other values, before a missing --out is reported */
            char *text = zoo_preset_text(optarg);
            free(text);
            if (!text) {
                cli_error("--preset %s: expected small or full", optarg);
                return -1;
            }
            o->preset = optarg;
            break;
        }
        case O_SPEC: o->spec_path = optarg; break;
        case O_PRINT: o->print_spec = 1; break;
        case O_CHECK: o->check = 1; break;
        case O_OUT: o->z.out = optarg; break;
        case O_DATA: o->z.data = optarg; break;
        case O_ROOT: o->z.data_root = optarg; break;
        case O_IN: bad = cli_parse_int("in", optarg, 1, 100000000, &o->z.in); break;
        case O_SAMPLES: bad = cli_parse_int("samples", optarg, 1, 1 << 30, &o->z.samples); break;
        case O_THREADS: bad = cli_parse_int("threads", optarg, 1, 256, &o->z.threads); break;
        case O_QUIET: o->z.quiet = 1; break;
        default: fputs(usage, stderr); return -1;
        }
        if (bad) return -1;
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see critnet zoo --help)", argv[optind]);
        return -1;
    }
    if (!o->preset == !o->spec_path) {
        cli_error("give either --preset small|full or --spec FILE (see critnet zoo --help)");
        return -1;
    }
    if (!o->print_spec && !o->check && !o->z.out) {
        cli_error("--out DIR is required (see critnet zoo --help)");
        return -1;
    }
    return 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: cannot read the spec: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    while (text) {
        len += fread(text + len, 1, cap - 1 - len, f);
        if (len < cap - 1) break;
        char *grown = cap < (64u << 20) ? realloc(text, cap * 2) : NULL;
        if (!grown) free(text);
        text = grown;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!text || failed) {
        cli_error("%s: cannot read the spec%s", path, text ? "" : " (out of memory, or larger than 64 MiB)");
        free(text);
        return NULL;
    }
    text[len] = 0;
    if (memchr(text, 0, len)) {
        cli_error("%s: not a text file", path);
        free(text);
        return NULL;
    }
    return text;
}

/* ---------------------------------------------------------------- rank 0: the queue, the files, the display */

typedef struct {
    const zoo_opts *o;
    zoo_spec spec;
    zoo_data data;
    char **lines;        /* per model: its row, once it has one */
    int *queue, nqueue, qpos;
    int fd;              /* DIR/zoo.csv, appending */
    char csv[4096];
    int done, todo, skipped, stopping, io_failed;
    double t0, last_tick;
    cli_progress prog;
    zoo_server server;
    const char *current;
} zoo_state;

static int next_model(void *user)
{
    zoo_state *st = user;
    return !st->stopping && st->qpos < st->nqueue ? st->queue[st->qpos++] : -1;
}

static void print_row(zoo_state *st, const char *line)
{
    zoo_row r;
    if (st->o->z.quiet || zoo_row_split(&r, line)) return;
    char eta[16];
    double elapsed = cli_now() - st->t0;
    cli_format_time(eta, sizeof eta, st->done < st->todo ? elapsed / st->done * (st->todo - st->done) : 0);
    cli_progress_end(&st->prog);
    printf("[%*d/%d] %-28s ", (int)(st->todo >= 100 ? 3 : st->todo >= 10 ? 2 : 1), st->done, st->todo, r.cell[ZOO_ID]);
    if (strcmp(r.cell[ZOO_STATUS], "ok") == 0)
        printf("acc %s  sigma %s  lambda0 %s  Delta %s dB  train %ss", r.cell[ZOO_TEST_ACCURACY], r.cell[ZOO_SIGMA],
               r.cell[ZOO_LAMBDA0], r.cell[ZOO_DELTA], r.cell[ZOO_TRAIN_SECONDS]);
    else printf("%s: %s", r.cell[ZOO_STATUS], r.cell[ZOO_MESSAGE]);
    printf("  ETA %s\n", st->done < st->todo ? eta : "0s");
    fflush(stdout);
    zoo_row_free(&r);
}

/* a finished row, from this rank or another: on disk first, then on the screen */
static void record(void *user, int model, const char *line)
{
    zoo_state *st = user;
    char *copy = strdup(line);
    free(st->lines[model]);
    st->lines[model] = copy;
    st->done++;
    if (!copy || zoo_table_append(st->fd, st->csv, line)) {
        if (!copy) cli_error("out of memory");
        st->io_failed = st->stopping = 1; /* hand out no more work: its rows could not be kept */
    }
    print_row(st, line);
}

static void tick(void *user)
{
    zoo_state *st = user;
    double t = cli_now();
    if (t - st->last_tick < 0.05) return; /* between training steps: often enough, and cheap */
    st->last_tick = t;
    zoo_comm_serve(&st->server, 0);
    char label[48];
    snprintf(label, sizeof label, "zoo %d/%d", st->done, st->todo);
    cli_progress_bar(&st->prog, label, st->done, st->todo, t - st->t0, st->current);
}

/* zoo.csv of an earlier run: its rows for this spec are done (status failed: they run again); a row made with
 * other settings, or for an id the spec lacks, stops the zoo rather than mix two populations in one table */
static int take_earlier_rows(zoo_state *st)
{
    char **old;
    int n;
    if (zoo_table_read(st->csv, &old, &n)) return -1;
    int rc = 0;
    const zoo_settings *z = &st->o->z;
    char threads[16], samples[16];
    snprintf(threads, sizeof threads, "%d", z->threads);
    snprintf(samples, sizeof samples, "%d", z->samples);
    for (int i = 0; i < n && !rc; i++) {
        zoo_row r;
        int split = zoo_row_split(&r, old[i]);
        if (split == -2) {
            cli_error("%s: line %d: checksum mismatch: the row was changed or damaged after critnet wrote it (delete "
                      "the line to make its model again)", st->csv, i + 2);
            rc = -1;
            break;
        }
        if (split) {
            cli_error("%s: line %d: not a row of %d comma-separated fields ending in its checksum (a torn or damaged "
                      "line: delete it to make its model again)", st->csv, i + 2, ZOO_NCOLS + 1);
            rc = -1;
            break;
        }
        int m = zoo_spec_find(&st->spec, r.cell[ZOO_ID]);
        if (m < 0) {
            cli_error("%s: line %d: id %s is not in %s: use another --out (or delete the row)", st->csv, i + 2,
                      r.cell[ZOO_ID], st->spec.source);
            rc = -1;
        } else {
            /* the spec's settings as zoo.csv writes them (commas as ';') */
            zoo_row now = {0};
            zoo_row_set(&now, ZOO_SETTINGS, "%s", st->spec.models[m].settings);
            zoo_row_set(&now, ZOO_DATA, "%s", z->data);
            struct {
                const char *name, *want;
                zoo_col col;
            } same[] = {{"settings", now.cell[ZOO_SETTINGS], ZOO_SETTINGS}, {"data", now.cell[ZOO_DATA], ZOO_DATA},
                        {"threads", threads, ZOO_THREADS}, {"measure_inputs", samples, ZOO_MEASURE_INPUTS}};
            for (size_t k = 0; k < sizeof same / sizeof *same && !rc; k++)
                if (strcmp(r.cell[same[k].col], same[k].want)) {
                    cli_error("%s: line %d: model %s was made with %s '%s', and this run asks for '%s' (%s:%d): use "
                              "another --out, or delete the row to make the model again", st->csv, i + 2,
                              r.cell[ZOO_ID], same[k].name, r.cell[same[k].col], same[k].want, st->spec.source,
                              st->spec.models[m].line);
                    rc = -1;
                }
            if (!rc) {
                /* a later row for the same id (a rerun of a failed model) replaces the earlier one */
                free(st->lines[m]);
                st->lines[m] = strcmp(r.cell[ZOO_STATUS], "failed") ? strdup(old[i]) : NULL;
            }
            zoo_row_free(&now);
        }
        zoo_row_free(&r);
    }
    for (int i = 0; i < n; i++) free(old[i]);
    free(old);
    return rc;
}

/* The spec, and every model built for the data: 0, or 1 with messages. */
static int validate(zoo_state *st, const char *text, const char *source, const char *base)
{
    const zoo_settings *z = &st->o->z;
    if (zoo_spec_parse(&st->spec, text, source, base, z)) return 1;
    int bad = 0;
    for (int i = 0; i < st->spec.count; i++) {
        char where[4300];
        snprintf(where, sizeof where, "%s:%d: ", source, st->spec.models[i].line);
        cli_error_where = where;
        if (zoo_check_model(&st->spec.models[i], z, &st->data)) bad++;
        cli_error_where = NULL;
        /* a data set that cannot be loaded fails every line alike: once is enough */
        if (bad && st->data.used[0] + st->data.used[1] == 0) return 1;
    }
    return bad ? 1 : 0;
}

/* the number of models per family, in the order the families first appear */
static void print_families(const zoo_spec *s, const char *data)
{
    printf("%s: %d models, each built for %s without error; families:", s->source, s->count, data);
    const char *sep = " ";
    for (int i = 0; i < s->count; i++) {
        int first = 1, n = 0;
        for (int j = 0; j < s->count; j++)
            if (!strcmp(s->models[j].family, s->models[i].family)) {
                first &= j >= i;
                n++;
            }
        if (first) printf("%s%s %d", sep, s->models[i].family, n), sep = ", ";
    }
    printf("\n");
}

/* Everything that can be wrong is found before the first model trains. 0, 1 (bad spec or zoo.csv), or -1. */
static int prepare(zoo_state *st, const char *text, const char *source, const char *base)
{
    const zoo_settings *z = &st->o->z;
    if (validate(st, text, source, base)) return 1;
    char models[4096];
    snprintf(models, sizeof models, "%s/models", z->out);
    if (cli_make_dir(models)) {
        cli_error("%s: cannot create the output folder: %s", models, strerror(errno));
        return -1;
    }
    snprintf(st->csv, sizeof st->csv, "%s/zoo.csv", z->out);
    st->lines = calloc((size_t)st->spec.count, sizeof *st->lines);
    st->queue = malloc(sizeof *st->queue * (size_t)st->spec.count);
    if (!st->lines || !st->queue) {
        cli_error("out of memory");
        return -1;
    }
    if (take_earlier_rows(st)) return 1;
    for (int i = 0; i < st->spec.count; i++)
        if (st->lines[i]) st->skipped++;
        else st->queue[st->nqueue++] = i;
    st->todo = st->nqueue;
    if ((st->fd = zoo_table_open(st->csv)) < 0) return -1;
    return 0;
}

static cJSON *settings_json(const zoo_state *st, const char *text, int ranks)
{
    const zoo_settings *z = &st->o->z;
    cn_measure_cfg m;
    cn_measure_defaults(&m);
    cJSON *s = cJSON_CreateObject(), *meas = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "source", st->spec.source);
    cJSON_AddStringToObject(s, "spec", text);
    cJSON_AddNumberToObject(s, "models", st->spec.count);
    cJSON_AddStringToObject(s, "data", z->data);
    if (z->data_root) cJSON_AddStringToObject(s, "data_root", z->data_root);
    cJSON_AddNumberToObject(s, "threads", z->threads);
    cJSON_AddStringToObject(meas, "inputs", "the first measure_inputs examples of the test split");
    cJSON_AddNumberToObject(meas, "measure_inputs", z->samples);
    cJSON_AddNumberToObject(meas, "probes", m.probes);
    cJSON_AddNumberToObject(meas, "spectrum", m.spectrum);
    cJSON_AddStringToObject(meas, "layers", "hidden");
    cJSON_AddNumberToObject(meas, "dr_points", m.dr_points);
    cJSON_AddNumberToObject(meas, "dr_smin", m.dr_smin);
    cJSON_AddNumberToObject(meas, "dr_smax", m.dr_smax);
    cJSON_AddStringToObject(meas, "stimulus", "additive");
    cJSON_AddStringToObject(meas, "response", "tv");
    cJSON_AddStringToObject(meas, "seed", "the model's seed + 1");
    cJSON_AddItemToObject(s, "measure", meas);
    cJSON_AddNumberToObject(s, "ranks", ranks);
    cJSON_AddStringToObject(s, "critnet_version", CRITNET_VERSION);
    return s;
}

static int coordinate(zoo_state *st, const char *text)
{
    const zoo_settings *z = &st->o->z;
    int ranks = zoo_comm_size();
    cli_progress_init(&st->prog, z->quiet);
    st->server = (zoo_server){.next = next_model, .row = record, .user = st};
    st->t0 = cli_now();
    if (!z->quiet) {
        printf("zoo: %d models from %s", st->spec.count, st->spec.source);
        if (st->skipped) printf(" (%d done before: skipped)", st->skipped);
        printf(", data %s, %d thread%s each, measured on %d test inputs, %d rank%s; rows in %s\n", z->data,
               z->threads, z->threads > 1 ? "s" : "", z->samples, ranks, ranks > 1 ? "s" : "", st->csv);
        fflush(stdout);
    }
    int i;
    while ((i = next_model(st)) >= 0) {
        zoo_row row;
        st->current = st->spec.models[i].id;
        zoo_run_model(&row, &st->spec.models[i], z, &st->data, tick, st);
        char *line = zoo_row_join(&row);
        zoo_row_free(&row);
        if (line) record(st, i, line);
        else cli_error("out of memory"), st->stopping = st->io_failed = 1;
        free(line);
    }
    st->current = "waiting for the other ranks";
    while (zoo_comm_serve(&st->server, 1) > 0) tick(st);
    cli_progress_end(&st->prog);
    close(st->fd);
    st->fd = -1;
    int rc = st->io_failed ? 1 : 0;
    if (zoo_table_rewrite(st->csv, st->lines, st->spec.count)) rc = 1;
    char json[4096];
    snprintf(json, sizeof json, "%s/zoo.json", z->out);
    if (zoo_json_write(json, settings_json(st, text, ranks), st->lines, st->spec.count)) rc = 1;
    int ok = 0, diverged = 0, failed = 0, missing = 0;
    for (int m = 0; m < st->spec.count; m++) {
        zoo_row r;
        if (!st->lines[m] || zoo_row_split(&r, st->lines[m])) {
            missing++;
            continue;
        }
        ok += !strcmp(r.cell[ZOO_STATUS], "ok");
        diverged += !strcmp(r.cell[ZOO_STATUS], "diverged");
        failed += !strcmp(r.cell[ZOO_STATUS], "failed");
        zoo_row_free(&r);
    }
    if (!z->quiet) {
        char el[16];
        cli_format_time(el, sizeof el, cli_now() - st->t0);
        printf("zoo: %d rows (%d ok, %d diverged, %d failed%s) in %s; %s, %s/zoo.json\n", ok + diverged + failed, ok,
               diverged, failed, missing ? ", some models not run" : "", el, st->csv, z->out);
    }
    if (failed) {
        cli_error("%d model%s failed (see the message column of %s); a rerun tries them again", failed,
                  failed > 1 ? "s" : "", st->csv);
        rc = 1;
    }
    return rc;
}

/* ---------------------------------------------------------------- the other ranks */

static int work(const zoo_opts *o, const char *text, const char *source, const char *base)
{
    zoo_spec spec;
    zoo_data data = {0};
    /* rank 0 parsed the same text without error: only memory can fail here, and rank 0 would wait for this
     * rank forever, so the whole job stops (the rows on disk stay) */
    if (zoo_spec_parse(&spec, text, source, base, &o->z)) zoo_comm_abort(1);
    char *line = NULL;
    int next;
    for (;;) {
        zoo_comm_request(line, &next);
        free(line);
        line = NULL;
        if (next < 0 || next >= spec.count) break;
        zoo_row row;
        zoo_run_model(&row, &spec.models[next], &o->z, &data, NULL, NULL);
        line = zoo_row_join(&row);
        zoo_row_free(&row);
    }
    zoo_data_free(&data);
    zoo_spec_free(&spec);
    return 0;
}

int cmd_zoo(int argc, char **argv)
{
    zoo_opts o;
    int r = parse(&o, argc, argv);
    if (r) return r > 0 ? 0 : 2;
    char *text = NULL, *base = NULL, source[4200];
    if (o.preset) {
        if (!(text = zoo_preset_text(o.preset))) {
            cli_error("--preset %s: expected small or full", o.preset);
            return 2;
        }
        snprintf(source, sizeof source, "preset:%s", o.preset);
        base = strdup(zoo_preset_dir());
    } else {
        if (!(text = read_text(o.spec_path))) return 2;
        snprintf(source, sizeof source, "%s", o.spec_path);
        const char *slash = strrchr(o.spec_path, '/');
        base = slash ? strndup(o.spec_path, (size_t)(slash - o.spec_path + (slash == o.spec_path))) : strdup("");
    }
    if (o.print_spec) {
        fputs(text, stdout);
        free(text);
        free(base);
        return 0;
    }
    zoo_state st;
    memset(&st, 0, sizeof st);
    st.o = &o;
    st.fd = -1;
    int rc;
    if (o.check) {
        cn_set_threads(o.z.threads);
        rc = validate(&st, text, source, base) ? 2 : 0;
        if (!rc) print_families(&st.spec, o.z.data);
        zoo_data_free(&st.data);
        zoo_spec_free(&st.spec);
        free(text);
        free(base);
        return rc;
    }
    /* MPI starts here and only here: no other subcommand touches it */
    if (zoo_comm_init(&argc, &argv)) {
        free(text);
        free(base);
        return 1;
    }
    cn_set_threads(o.z.threads);
    int rank = zoo_comm_rank();
    int prep = rank == 0 ? prepare(&st, text, source, base) : 0;
    if (!zoo_comm_all_ok(prep == 0)) {
        rc = prep > 0 ? 2 : 1;
    } else if (zoo_comm_bcast(&text)) {
        cli_error("out of memory");
        rc = 1;
    } else {
        rc = rank == 0 ? coordinate(&st, text) : work(&o, text, source, base);
    }
    if (rank == 0) {
        for (int i = 0; st.lines && i < st.spec.count; i++) free(st.lines[i]);
        free(st.lines);
        free(st.queue);
        zoo_server_free(&st.server);
        zoo_data_free(&st.data);
        zoo_spec_free(&st.spec);
        if (st.fd >= 0) close(st.fd);
    }
    zoo_comm_finalize();
    free(text);
    free(base);
    return rc;
}
