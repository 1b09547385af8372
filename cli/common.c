/* common.c: option parsing, data loading and network building shared by the subcommands. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

const char *cli_command = "critnet";
const char *cli_error_where = NULL;

static char last_error[2048];

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "critnet %s: %s%s\n", cli_command, cli_error_where ? cli_error_where : "", last_error);
}

const char *cli_error_last(void) { return last_error; }

int cli_parse_int(const char *name, const char *arg, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || *end || end == arg || v < lo || v > hi) {
        cli_error("--%s %s: expected an integer in [%d, %d]", name, arg, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_real(const char *name, const char *arg, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || *end || end == arg || !(v >= lo && v <= hi)) {
        cli_error("--%s %s: expected a number in [%g, %g]", name, arg, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *name, const char *arg, uint64_t *out)
{
    return cli_parse_u64_in(name, arg, 0, UINT64_MAX, out);
}

int cli_parse_u64_in(const char *name, const char *arg, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    /* strtoull takes "-1" as 2^64 - 1: a sign is refused before it gets there */
    if (errno || *end || end == arg || strchr(arg, '-') || v < lo || v > hi) {
        char top[32];
        if (hi == UINT64_MAX) snprintf(top, sizeof top, "2^64 - 1");
        else snprintf(top, sizeof top, "%" PRIu64, hi);
        cli_error("--%s %s: expected an integer in [%" PRIu64 ", %s]", name, arg, lo, top);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_size(const char *name, const char *arg, size_t *out)
{
    uint64_t v;
    if (cli_parse_u64_in(name, arg, 1, SIZE_MAX, &v)) return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_int_list(const char *name, const char *arg, int lo, int hi, int max, int *v, int *n)
{
    const char *p = arg;
    *n = 0;
    for (;;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < lo || x > hi || (*end && *end != ',') || *n == max) {
            cli_error("--%s %s: expected a comma list of at most %d integers, each in [%d, %d]", name, arg, max, lo, hi);
            return -1;
        }
        v[(*n)++] = (int)x;
        if (!*end) return 0;
        p = end + 1;
    }
}

int cli_parse_real_list(const char *name, const char *arg, double lo, double hi, int max, double *v, int *n)
{
    const char *p = arg;
    *n = 0;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !(x >= lo && x <= hi) || (*end && *end != ',') || *n == max) {
            cli_error("--%s %s: expected a comma list of at most %d numbers, each in [%g, %g]", name, arg, max, lo, hi);
            return -1;
        }
        v[(*n)++] = x;
        if (!*end) return 0;
        p = end + 1;
    }
}

int cli_parse_sweep(const char *name, const char *arg, double lo, double hi, int max_n, int single, double *from,
                    double *to, int *n)
{
    char *end;
    errno = 0;
    *from = strtod(arg, &end);
    *to = *from;
    *n = 1;
    if (end == arg || errno) goto bad;
    if (*end || !single) {
        if (*end != ':') goto bad;
        const char *p = end + 1;
        *to = strtod(p, &end);
        if (end == p || errno || *end != ':') goto bad;
        p = end + 1;
        long v = strtol(p, &end, 10);
        if (errno || end == p || *end || v < 1 || v > max_n) goto bad;
        *n = (int)v;
    }
    if (*from >= lo && *to >= *from && *to <= hi) return 0;
bad:
    cli_error("--%s %s: expected LO:HI:N with %g <= LO <= HI <= %g and N in [1, %d]%s", name, arg, lo, hi, max_n,
              single ? ", or one value" : "");
    return -1;
}

int cli_parse_split(const char *arg, const char **out)
{
    if (strcmp(arg, "test") && strcmp(arg, "train")) {
        cli_error("--split %s: expected test or train", arg);
        return -1;
    }
    *out = arg;
    return 0;
}

const cn_dataset *cli_split(const cn_data *d, const char *name)
{
    return strcmp(name, "train") == 0 ? &d->train : &d->test;
}

void cli_common_defaults(cli_common *c)
{
    memset(c, 0, sizeof *c);
    c->arch = "mlp";
    c->act = "relu";
    c->norm = "none";
    c->init = "torch";
    c->data = "fashion-mnist";
    c->width = -1;
    c->depth = -1;
    c->sigma_w = 1.0;
    c->sigma_b = 0.0;
    c->image_normalize = -1;
    /* 2 threads trained the benchmark MLP 1.2x faster than 1 on this 2-core machine (bench/results/
     * train_mlp.txt); more cores were never measured, so the default stops at 2 */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = cores >= 2 ? 2 : 1;
}

int cli_common_option(cli_common *c, int opt, const char *arg)
{
    cn_act act;
    cn_init_kind ik;
    switch (opt) {
    case 1000:
        /* checked here, not only when the network is built, so that a bad value stops a zoo's spec before any
         * model trains */
        if (strcmp(arg, "mlp") && strcmp(arg, "cnn") && strcmp(arg, "resnet")) {
            cli_error("--arch %s: expected mlp, cnn or resnet", arg);
            return -1;
        }
        c->arch = arg;
        return 1;
    case 1001: c->model_file = arg; return 1;
    case 1002:
        if (cn_act_from_name(arg, &act)) {
            cli_error("--act %s: unknown activation (identity relu leaky_relu tanh sigmoid gelu silu elu)", arg);
            return -1;
        }
        c->act = arg;
        return 1;
    case 1003:
        if (strcmp(arg, "none") && strcmp(arg, "batch") && strcmp(arg, "layer")) {
            cli_error("--norm %s: expected none, batch or layer", arg);
            return -1;
        }
        c->norm = arg;
        return 1;
    case 1004:
        if (cli_init_is_critical(arg) ? arg[8] == ':' && cn_init_from_name(arg + 9, &ik) : cn_init_from_name(arg, &ik) != 0) {
            cli_error("--init %s: expected torch, kaiming_uniform, kaiming_normal, xavier, orthogonal, normal or "
                      "critical[:BASE]", arg);
            return -1;
        }
        c->init = arg;
        return 1;
    case 1005: {
        /* checked here as well as where the network is built (the same bounds), so that the value is refused
         * even where --arch cnn does not build it */
        int ch[32], n;
        if (cli_parse_int_list("channels", arg, 1, 100000, 32, ch, &n)) return -1;
        c->channels = arg;
        return 1;
    }
    case 1006: return cli_parse_int("in", arg, 1, 100000000, &c->in) ? -1 : 1;
    case 1007: return cli_parse_int("width", arg, 1, 1000000, &c->width) ? -1 : 1;
    case 1008: return cli_parse_int("depth", arg, 0, 100000, &c->depth) ? -1 : 1;
    case 1009: return cli_parse_int("classes", arg, 1, 1000000, &c->classes) ? -1 : 1;
    case 1010: return cli_parse_real("dropout", arg, 0, 0.999999, &c->dropout) ? -1 : 1;
    case 1011: return cli_parse_real("sigma-w", arg, 0, 1e6, &c->sigma_w) ? -1 : 1;
    case 1012: return cli_parse_real("sigma-b", arg, 0, 1e6, &c->sigma_b) ? -1 : 1;
    case 1013: c->data = arg; return 1;
    case 1014: c->data_root = arg; return 1;
    case 1015: c->standardize = 1; return 1;
    case 1016: return cli_parse_u64("seed", arg, &c->seed) ? -1 : 1;
    case 1017: return cli_parse_int("threads", arg, 1, 256, &c->threads) ? -1 : 1;
    case 1018: c->quiet = 1; return 1;
    case 1019: return cli_parse_int("resize", arg, 1, 1 << 14, &c->image_resize) ? -1 : 1;
    case 1020: return cli_parse_int("crop", arg, 1, 1 << 14, &c->image_crop) ? -1 : 1;
    case 1021:
        if (strcmp(arg, "imagenet") && strcmp(arg, "none")) {
            cli_error("--normalize %s: expected imagenet or none", arg);
            return -1;
        }
        c->image_normalize = strcmp(arg, "imagenet") == 0;
        return 1;
    default: return 0;
    }
}

int cli_load_data(cn_data *d, const cli_common *c)
{
    cn_data_opts o = {.spec = c->data,
                      .gaussian_dim = c->in > 0 ? c->in : 784,
                      .gaussian_classes = c->classes > 0 ? c->classes : 10,
                      .seed = c->seed,
                      .standardize = c->standardize,
                      .data_root = c->data_root,
                      .image_resize = c->image_resize,
                      .image_crop = c->image_crop,
                      .image_normalize = c->image_normalize > 0,
                      .image_grey = c->image_grey,
                      .image_limit = c->image_limit};
    cn_error err = {0};
    int rc = cn_data_load(d, &o, &err);
    if (rc) cli_error("%s", err.msg[0] ? err.msg : cn_strerror(rc));
    return rc;
}

int cli_init_kind(const cli_common *c, cn_init *init)
{
    memset(init, 0, sizeof *init);
    /* critical[:BASE] starts from BASE (default normal, where --sigma-w sets the starting point) */
    const char *base = !cli_init_is_critical(c->init) ? c->init : c->init[8] == ':' ? c->init + 9 : "normal";
    if (cn_init_from_name(base, &init->kind)) return -1;
    init->sigma_w = c->sigma_w;
    init->sigma_b = c->sigma_b;
    return 0;
}

int cli_build_net(cn_net **net, const cli_common *c, const cn_dataset *shape)
{
    cn_error err = {0};
    int rc;
    if (c->model_file && cli_is_onnx(c->model_file)) {
        rc = cn_net_from_onnx(net, c->model_file, NULL, &err); /* fine-tuned from the file's weights */
    } else if (c->model_file) {
        rc = cn_net_from_spec_file(net, c->model_file, &err);
    } else {
        cn_arch a = {0};
        a.arch = c->arch;
        a.in_c = shape->c;
        a.in_h = shape->h;
        a.in_w = shape->w;
        int is_mlp = strcmp(c->arch, "mlp") == 0, is_cnn = strcmp(c->arch, "cnn") == 0;
        a.width = c->width > 0 ? c->width : is_mlp ? 256 : is_cnn ? 32 : 16;
        a.depth = c->depth >= 0 ? c->depth : is_mlp ? 3 : is_cnn ? 2 : 1;
        a.classes = c->classes > 0 ? c->classes : shape->classes;
        cn_act_from_name(c->act, &a.act);
        a.norm = c->norm;
        a.dropout = c->dropout;
        a.channels = c->channels;
        char *spec = NULL;
        rc = cn_arch_spec(&spec, &a, &err);
        if (!rc) rc = cn_net_from_spec(net, spec, &err);
        cn_free(spec);
    }
    if (rc) {
        cli_error("%s", err.msg[0] ? err.msg : cn_strerror(rc));
        return rc;
    }
    int chw[3];
    cn_net_in_shape(*net, chw);
    if (chw[0] * chw[1] * chw[2] != shape->c * shape->h * shape->w) {
        cli_error("the model takes %d inputs, but %s has %d per example", chw[0] * chw[1] * chw[2], c->data,
                  shape->c * shape->h * shape->w);
        cn_net_free(*net);
        *net = NULL;
        return CN_ERR_ARG;
    }
    return 0;
}

int cli_make_dir(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

/* Rebuilds the argument list of the run in the checkpoint, followed by this call's own options. */
char **cli_resume_args(const char *settings, int argc, char **argv, int *nargs)
{
    cJSON *root = cJSON_Parse(settings), *args = cJSON_GetObjectItem(root, "argv");
    if (!cJSON_IsArray(args)) {
        cJSON_Delete(root);
        return NULL;
    }
    int n = cJSON_GetArraySize(args);
    char **v = calloc((size_t)(n + argc + 1), sizeof *v);
    int k = 0;
    if (v) v[k++] = strdup(argv[0]); /* getopt skips v[0], the program name: the stored argv has none */
    for (int i = 0; v && i < n; i++) {
        cJSON *s = cJSON_GetArrayItem(args, i);
        if (cJSON_IsString(s)) v[k++] = strdup(s->valuestring);
    }
    for (int i = 1; v && i < argc; i++) v[k++] = strdup(argv[i]);
    cJSON_Delete(root);
    *nargs = k;
    return v;
}

void cli_free_args(char **v, int n)
{
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

int cli_write_text(const char *path, const char *text)
{
    cn_error err = {0};
    if (cn_file_replace(path, text, strlen(text), &err) == CN_OK) return 0;
    cli_error("%s", err.msg);
    return -1;
}

FILE *cli_report_open(cli_report *r, const char *path)
{
    r->path = path;
    r->buf = NULL;
    r->size = 0;
    if (!(r->f = open_memstream(&r->buf, &r->size))) cli_error("%s: out of memory", path);
    return r->f;
}

int cli_report_commit(cli_report *r)
{
    int failed = ferror(r->f) != 0;
    failed |= fclose(r->f) != 0;
    cn_error err = {0};
    int rc = failed ? cn_error_set(&err, CN_ERR_NOMEM, "%s: out of memory", r->path)
                    : cn_file_replace(r->path, r->buf, r->size, &err);
    free(r->buf);
    if (rc) cli_error("%s", err.msg);
    return rc ? -1 : 0;
}

const char *cli_sig4(char *buf, size_t size, double v)
{
    double a = fabs(v);
    if (!isfinite(v)) snprintf(buf, size, "n/a");
    else if (a >= 1e4 && a < 1e9) {
        double unit = pow(10, floor(log10(a)) - 3);
        snprintf(buf, size, "%.0f", round(v / unit) * unit);
    } else snprintf(buf, size, "%.4g", v);
    return buf;
}

const char *cli_p_text(char *buf, size_t size, double p)
{
    snprintf(buf, size, !isfinite(p) ? "n/a" : p >= 1e-3 ? "%.2g" : "%.1e", p);
    return buf;
}
