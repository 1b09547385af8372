/* zoo_spec.c: the spec of a zoo: one model per line, `key=value` tokens, '#' comments (docs/zoo.md). Every key
 * but id, family and era is a `critnet train` option, and every line goes through the train parser itself, so
 * a spec line and the train command it stands for cannot disagree. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zoo.h"

#define MAX_TOKENS 64

/* options of critnet train that are not a model's own: the zoo sets them once for every model, or they
 * control a single run's files */
static const struct {
    const char *key, *why;
} zoo_wide[] = {
    {"data", "the data is the zoo's (critnet zoo --data)"},
    {"data-root", "the data is the zoo's (critnet zoo --data-root)"},
    {"in", "the data is the zoo's (critnet zoo --in)"},
    {"threads", "every model runs on the zoo's --threads, so that rows do not depend on how the zoo is run"},
    {"out", "the zoo writes each model to DIR/models/ID"},
    {"resume", "a rerun of the zoo skips the models it has finished"},
    {"stop-after", "a model trains its whole budget"},
    {"quiet", "the zoo's --quiet covers every model"},
    {"help", "not a setting"},
};

static void line_error(const char *source, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line_error(const char *source, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_error("%s:%d: %s", source, line, msg);
}

/* ids name folders (DIR/models/ID) and CSV cells: letters, digits, '.', '_', '-', not starting with '.' */
static int valid_id(const char *s)
{
    if (!*s || *s == '.' || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int option_index(const char *key)
{
    for (int i = 0; cli_train_long_opts[i].name; i++)
        if (strcmp(cli_train_long_opts[i].name, key) == 0) return i;
    return -1;
}

static char *join_path(const char *base, const char *rel)
{
    if (rel[0] == '/' || !base || !*base) return strdup(rel);
    size_t n = strlen(base) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", base, rel);
    return p;
}

static void model_free(zoo_model *m)
{
    free(m->id);
    free(m->family);
    free(m->era);
    free(m->settings);
    cli_free_args(m->argv, m->argc);
    memset(m, 0, sizeof *m);
}

typedef struct {
    char *key, *value;
    int opt; /* index into cli_train_long_opts, -1 for id/family/era */
} token;

/* One model from its tokens: the train arguments (the zoo's defaults first, then the line's options in the
 * order of train's option table) and the canonical settings text. 0, or -1 with a message. */
static int build_model(zoo_model *m, token *tok, int nt, int line, const char *source, const char *base,
                       const zoo_settings *z)
{
    char **argv = calloc((size_t)(2 * nt + 16), sizeof *argv);
    int argc = 0, ok = argv != NULL;
    m->argv = argv;
#define ARG(s) (ok = ok && (argv[argc++] = strdup(s)) != NULL)
    char num[32];
    ARG("zoo");
    /* per-epoch tracking is off (the zoo measures once, at the end) and the per-epoch test evaluation looks at
     * the first 1000 test inputs only (test_accuracy is taken on the whole split after training): neither
     * changes what a model learns, both save time */
    ARG("--data"), ARG(z->data), ARG("--threads");
    snprintf(num, sizeof num, "%d", z->threads);
    ARG(num), ARG("--track"), ARG("0"), ARG("--limit-test"), ARG("1000");
    if (z->data_root) ARG("--data-root"), ARG(z->data_root);
    if (z->in > 0) {
        snprintf(num, sizeof num, "%d", z->in);
        ARG("--in"), ARG(num);
    }
    size_t cap = 64;
    for (int i = 0; i < nt; i++) cap += strlen(tok[i].key) + strlen(tok[i].value) + 2;
    char *settings = malloc(cap);
    ok = ok && settings;
    if (ok) snprintf(settings, cap, "id=%s family=%s era=%s", m->id, m->family, m->era);
    for (int o = 0; ok && cli_train_long_opts[o].name; o++)
        for (int i = 0; i < nt; i++) {
            if (tok[i].opt != o) continue;
            size_t len = strlen(settings);
            snprintf(settings + len, cap - len, " %s=%s", tok[i].key, tok[i].value);
            char flag[64];
            snprintf(flag, sizeof flag, "--%s", tok[i].key);
            if (cli_train_long_opts[o].has_arg == no_argument) {
                if (strcmp(tok[i].value, "1") == 0) ARG(flag);
            } else if (strcmp(tok[i].key, "model-file") == 0) {
                /* relative to the spec's folder, so that a spec and its model files move together */
                char *path = join_path(base, tok[i].value);
                ARG(flag);
                if (ok && path) argv[argc++] = path;
                else ok = 0, free(path);
            } else {
                ARG(flag), ARG(tok[i].value);
            }
        }
#undef ARG
    m->argc = argc;
    m->settings = settings;
    if (!ok) {
        cli_error("out of memory");
        return -1;
    }
    char where[4300];
    snprintf(where, sizeof where, "%s:%d: ", source, line);
    cli_error_where = where;
    cli_train_defaults(&m->opts);
    int r = cli_train_parse(&m->opts, argc, argv);
    if (!r && m->opts.engine_graph) {
        cli_error("--engine graph is an option of critnet train only");
        r = -1;
    }
    cli_error_where = NULL;
    return r ? -1 : 0;
}

/* One line: 0 (a model, or *blank when there is none), or -1 with a message. */
static int parse_line(zoo_model *m, int *blank, char *text, int line, const char *source, const char *base,
                      const zoo_settings *z)
{
    *blank = 0;
    char *hash = strchr(text, '#');
    if (hash) *hash = 0;
    token tok[MAX_TOKENS];
    int nt = 0;
    for (char *save = NULL, *t = strtok_r(text, " \t\r\v\f", &save); t; t = strtok_r(NULL, " \t\r\v\f", &save)) {
        if (nt == MAX_TOKENS) {
            line_error(source, line, "more than %d settings on one line", MAX_TOKENS);
            return -1;
        }
        char *eq = strchr(t, '=');
        if (!eq || eq == t || !eq[1]) {
            line_error(source, line, "'%s': expected key=value (e.g. width=256; a flag as nesterov=1)", t);
            return -1;
        }
        if (strchr(eq, ';') || strchr(eq, '"')) {
            /* zoo.csv writes a value's commas as ';' and takes no quoting */
            line_error(source, line, "'%s': a value may not contain ';' or '\"'", t);
            return -1;
        }
        *eq = 0;
        tok[nt].key = t;
        tok[nt].value = eq + 1;
        tok[nt].opt = -1;
        for (int i = 0; i < nt; i++)
            if (strcmp(tok[i].key, t) == 0) {
                line_error(source, line, "%s= is given twice", t);
                return -1;
            }
        nt++;
    }
    if (nt == 0) {
        *blank = 1;
        return 0;
    }
    const char *id = NULL, *family = NULL, *era = NULL;
    for (int i = 0; i < nt; i++) {
        const char *k = tok[i].key, *v = tok[i].value;
        if (!strcmp(k, "id")) {
            if (!valid_id(v)) {
                line_error(source, line, "id=%s: expected up to 64 letters, digits, '.', '_' or '-', not starting "
                                         "with '.' (it names the folder DIR/models/ID)", v);
                return -1;
            }
            id = v;
            continue;
        }
        if (!strcmp(k, "family") || !strcmp(k, "era")) {
            if (strchr(v, ',') || strlen(v) > 64) {
                line_error(source, line, "%s=%s: expected up to 64 characters without commas", k, v);
                return -1;
            }
            *(!strcmp(k, "family") ? &family : &era) = v;
            continue;
        }
        for (size_t j = 0; j < sizeof zoo_wide / sizeof *zoo_wide; j++)
            if (!strcmp(k, zoo_wide[j].key)) {
                line_error(source, line, "%s= cannot be set per model: %s", k, zoo_wide[j].why);
                return -1;
            }
        if ((tok[i].opt = option_index(k)) < 0) {
            line_error(source, line, "unknown key '%s' (expected id, family, era or a long option of critnet "
                                     "train without its dashes: see critnet train --help)", k);
            return -1;
        }
        if (cli_train_long_opts[tok[i].opt].has_arg == no_argument && strcmp(v, "0") && strcmp(v, "1")) {
            line_error(source, line, "%s=%s: %s is a flag: expected %s=1 (on) or %s=0 (off)", k, v, k, k, k);
            return -1;
        }
    }
    if (!id || !family || !era) {
        char missing[32] = "";
        if (!id) strcat(missing, " id=");
        if (!family) strcat(missing, " family=");
        if (!era) strcat(missing, " era=");
        line_error(source, line, "id=, family= and era= are required on every model line (missing:%s)", missing);
        return -1;
    }
    m->line = line;
    m->id = strdup(id);
    m->family = strdup(family);
    m->era = strdup(era);
    if (!m->id || !m->family || !m->era) {
        cli_error("out of memory");
        return -1;
    }
    return build_model(m, tok, nt, line, source, base, z);
}

int zoo_spec_parse(zoo_spec *s, const char *text, const char *source, const char *base, const zoo_settings *z)
{
    memset(s, 0, sizeof *s);
    s->source = strdup(source);
    char *copy = strdup(text);
    int cap = 64, bad = 0, line = 0;
    s->models = calloc((size_t)cap, sizeof *s->models);
    if (!s->source || !copy || !s->models) {
        free(copy);
        cli_error("out of memory");
        return -1;
    }
    for (char *p = copy; p && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        line++;
        if (s->count == cap) {
            zoo_model *grown = realloc(s->models, sizeof *grown * (size_t)cap * 2);
            if (!grown) {
                cli_error("out of memory");
                bad++;
                break;
            }
            memset(grown + cap, 0, sizeof *grown * (size_t)cap);
            s->models = grown;
            cap *= 2;
        }
        zoo_model *m = &s->models[s->count];
        int blank;
        if (parse_line(m, &blank, p, line, source, base, z)) {
            model_free(m);
            bad++;
        } else if (!blank) {
            int prev = zoo_spec_find(s, m->id);
            if (prev >= 0) {
                line_error(source, line, "id=%s is already used on line %d (ids must be unique)", m->id,
                           s->models[prev].line);
                model_free(m);
                bad++;
            } else {
                s->count++;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    free(copy);
    if (!bad && s->count == 0) {
        cli_error("%s: no models (one model per line: id=... family=... era=... and critnet train options)", source);
        bad++;
    }
    return bad ? -1 : 0;
}

int zoo_spec_find(const zoo_spec *s, const char *id)
{
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->models[i].id, id) == 0) return i;
    return -1;
}

void zoo_spec_free(zoo_spec *s)
{
    for (int i = 0; i < s->count; i++) model_free(&s->models[i]);
    free(s->models);
    free(s->source);
    memset(s, 0, sizeof *s);
}
