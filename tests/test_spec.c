/* test_spec.c: the model text format. The canonical print (cn_net_spec) of a parsed net reparses to the
 * same text and the same network, for every architecture cn_arch_spec writes and for hand-written text
 * using every layer kind and option; malformed text fails with CN_ERR_FORMAT, "line N" and the problem;
 * cn_arch_spec rejects bad flags with CN_ERR_ARG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "critnet.h"

/* parse text, print it, parse the print, print again: both prints equal, the two nets alike */
static void round_trip(const char *label, const char *text)
{
    cn_error err = {0};
    cn_net *a = NULL, *b = NULL;
    int rc = cn_net_from_spec(&a, text, &err);
    CHECK(rc == CN_OK, "%s: parsing the text: %s\n%s", label, err.msg, text);
    if (rc) return;
    char *s1 = cn_net_spec(a);
    CHECK(s1 != NULL, "%s: cn_net_spec returned NULL", label);
    if (!s1) {
        cn_net_free(a);
        return;
    }
    rc = cn_net_from_spec(&b, s1, &err);
    CHECK(rc == CN_OK, "%s: reparsing the canonical print: %s\n%s", label, err.msg, s1);
    if (!rc) {
        char *s2 = cn_net_spec(b);
        CHECK(s2 && strcmp(s1, s2) == 0, "%s: the print of the reparsed net differs:\n%s---\n%s", label, s1,
              s2 ? s2 : "(null)");
        CHECK(cn_net_param_count(a) == cn_net_param_count(b), "%s: %zu vs %zu parameters", label,
              cn_net_param_count(a), cn_net_param_count(b));
        CHECK(cn_net_state_count(a) == cn_net_state_count(b), "%s: %zu vs %zu state values", label,
              cn_net_state_count(a), cn_net_state_count(b));
        CHECK(cn_net_in_size(a) == cn_net_in_size(b) && cn_net_out_size(a) == cn_net_out_size(b),
              "%s: sizes %d->%d vs %d->%d", label, cn_net_in_size(a), cn_net_out_size(a), cn_net_in_size(b),
              cn_net_out_size(b));
        CHECK(cn_net_layer_count(a) == cn_net_layer_count(b), "%s: %d vs %d layers", label, cn_net_layer_count(a),
              cn_net_layer_count(b));
        /* the same function: parameters and state copied over, the same outputs (eval mode) */
        if (cn_net_param_count(a) == cn_net_param_count(b) && cn_net_state_count(a) == cn_net_state_count(b) &&
            cn_net_in_size(a) == cn_net_in_size(b) && cn_net_out_size(a) == cn_net_out_size(b)) {
            cn_rng *r = cn_rng_new(3);
            cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = 1, .sigma_b = 0.5};
            CHECK_OK(cn_net_init(a, &init, r));
            memcpy(cn_net_params(b), cn_net_params(a), cn_net_param_count(a) * sizeof(cn_real));
            for (size_t i = 0; i < cn_net_state_count(a); i++)
                cn_net_state(a)[i] = cn_net_state(b)[i] = (cn_real)(0.5 + cn_rng_uniform(r));
            int B = 2, n = cn_net_in_size(a), m = cn_net_out_size(a);
            cn_real *x = malloc((size_t)B * n * sizeof *x), *ya = malloc((size_t)B * m * sizeof *ya);
            for (int i = 0; i < B * n; i++) x[i] = (cn_real)cn_rng_normal(r);
            CHECK_OK(cn_net_reserve(a, B, 1));
            CHECK_OK(cn_net_reserve(b, B, 1));
            cn_net_forward(a, x, B, 0);
            memcpy(ya, cn_net_output(a), (size_t)B * m * sizeof *ya);
            cn_net_forward(b, x, B, 0);
            CHECK(memcmp(ya, cn_net_output(b), (size_t)B * m * sizeof *ya) == 0,
                  "%s: the reparsed net computes something else", label);
            free(x);
            free(ya);
            cn_rng_free(r);
        }
        cn_free(s2);
        cn_net_free(b);
    }
    cn_free(s1);
    cn_net_free(a);
}

static void test_arch_round_trips(void)
{
    const char *archs[] = {"mlp", "cnn", "resnet"}, *norms[] = {"none", "batch", "layer"};
    const double dropouts[] = {0, 0.25, 0.1};
    const cn_act acts[] = {CN_ACT_RELU, CN_ACT_TANH, CN_ACT_GELU};
    int tried = 0;
    for (int a = 0; a < 3; a++)
        for (int n = 0; n < 3; n++)
            for (int d = 0; d < 3; d++) {
                cn_arch arch = {.arch = archs[a], .in_c = a == 2 ? 3 : 1, .in_h = 8, .in_w = 8, .width = 4,
                                .depth = 2, .classes = 5, .act = acts[d], .norm = norms[n], .dropout = dropouts[d]};
                char *spec = NULL, label[96];
                cn_error err = {0};
                snprintf(label, sizeof label, "arch=%s norm=%s dropout=%g act=%s", archs[a], norms[n], dropouts[d],
                         cn_act_name(acts[d]));
                int rc = cn_arch_spec(&spec, &arch, &err);
                CHECK(rc == CN_OK && spec, "%s: cn_arch_spec: %s", label, err.msg);
                if (rc) continue;
                /* the text says what was asked for */
                if (dropouts[d] > 0) {
                    char want[32];
                    snprintf(want, sizeof want, "dropout p=%g", dropouts[d]);
                    CHECK(strstr(spec, want) != NULL, "%s: no '%s' in\n%s", label, want, spec);
                } else {
                    CHECK(strstr(spec, "dropout") == NULL, "%s: dropout in\n%s", label, spec);
                }
                if (n == 1) CHECK(strstr(spec, "batchnorm") != NULL, "%s: no batchnorm in\n%s", label, spec);
                if (n == 2) CHECK(strstr(spec, "layernorm") != NULL, "%s: no layernorm in\n%s", label, spec);
                if (a == 2) CHECK(strstr(spec, "residual") != NULL, "%s: no residual in\n%s", label, spec);
                if (a > 0) CHECK(strstr(spec, "conv") != NULL, "%s: no conv in\n%s", label, spec);
                round_trip(label, spec);
                /* the net has the requested output size */
                cn_net *net = NULL;
                if (cn_net_from_spec(&net, spec, NULL) == CN_OK) {
                    CHECK(cn_net_out_size(net) == 5, "%s: %d outputs", label, cn_net_out_size(net));
                    CHECK(cn_net_in_size(net) == arch.in_c * 64, "%s: %d inputs", label, cn_net_in_size(net));
                    cn_net_free(net);
                }
                cn_free(spec);
                tried++;
            }
    CHECK(tried == 27, "%d of 27 architectures round-tripped", tried);

    /* a flat input: "input N", no flatten */
    cn_arch flat = {.arch = "mlp", .in_c = 20, .in_h = 1, .in_w = 1, .width = 7, .depth = 3, .classes = 3,
                    .act = CN_ACT_ELU, .norm = "layer", .dropout = 0.3};
    char *spec = NULL;
    CHECK_OK(cn_arch_spec(&spec, &flat, NULL));
    if (spec) {
        CHECK(strncmp(spec, "input 20\n", 9) == 0 && !strstr(spec, "flatten"), "flat mlp text:\n%s", spec);
        round_trip("flat mlp", spec);
    }
    cn_free(spec);
}

static void test_handwritten_round_trips(void)
{
    /* every kind, alias and option; comments, blank lines and odd spacing */
    const char *all =
        "# a model using everything\n"
        "input 3 8 8\n"
        "\n"
        "conv2d out=4 k=3 stride=2 pad=1 bias=0 act=relu   # strided, no bias\n"
        "batchnorm eps=1e-3 momentum=0.2\n"
        "conv out=4 k=3 groups=2 dilation=2 pad=2\n"
        "maxpool k=2 stride=1\n"
        "avgpool k=2\n"
        "residual skip=projection act=relu\n"
        "  conv out=4 k=1\n"
        "  residual\n"
        "    act fn=tanh\n"
        "  end\n"
        "end\n"
        "gap\n"
        "flatten\n"
        "\tlinear   out=5 bias=0\n"
        "layernorm eps=1e-4 act=gelu\n"
        "dropout p=0.3\n"
        "dropout\n"
        "dense out=2";
    round_trip("every layer kind", all);
    cn_net *net = NULL;
    cn_error err = {0};
    if (cn_net_from_spec(&net, all, &err) == CN_OK) {
        char *s = cn_net_spec(net);
        const char *shown = s ? s : "(null)";
        /* the canonical print drops comments and aliases, and states every default */
        CHECK(s && !strchr(s, '#') && !strstr(s, "linear") && !strstr(s, "conv2d"), "canonical text:\n%s", shown);
        CHECK(s && strstr(s, "dropout p=0.5\n"), "the default dropout p is not printed:\n%s", shown);
        CHECK(s && strstr(s, "dropout p=0.3\n") && strstr(s, "eps=0.001 momentum=0.2") && strstr(s, "eps=0.0001"),
              "options lost in the print:\n%s", shown);
        CHECK(s && strstr(s, "residual act=relu skip=projection\n"), "residual line:\n%s", shown);
        CHECK(s && strstr(s, "  residual\n    act fn=tanh\n  end\n"), "nested residual:\n%s", shown);
        cn_free(s);
        CHECK(cn_net_out_size(net) == 2, "%d outputs", cn_net_out_size(net));
        cn_net_free(net);
    } else {
        CHECK(0, "every layer kind: %s", err.msg);
    }
    round_trip("residual skips",
               "input 6\n"
               "residual skip=identity act=tanh\n  dense out=6 act=silu\n  dense out=6\nend\n"
               "residual\n  dense out=4 act=sigmoid\nend\n"
               "residual skip=projection\n  dense out=4 act=leaky_relu\n  layernorm\nend\n"
               "dense out=3\n");
    /* numbers that need all their digits print exactly */
    const char *digits = "input 5\ndropout p=0.123456789\nbatchnorm eps=1.2345678e-05 momentum=0.0123456789\n"
                         "layernorm eps=3.3333333333e-06\ndense out=2\n";
    round_trip("numbers that need many digits", digits);
    if (cn_net_from_spec(&net, digits, &err) == CN_OK) {
        char *s = cn_net_spec(net);
        CHECK(s && strstr(s, "p=0.123456789\n") && strstr(s, "eps=1.2345678e-05") &&
                  strstr(s, "momentum=0.0123456789") && strstr(s, "eps=3.3333333333e-06"),
              "digits lost in the print:\n%s", s ? s : "(null)");
        cn_free(s);
        cn_net_free(net);
    }
    round_trip("batchnorm after dense", "input 5\ndense out=4\nbatchnorm act=elu\ndense out=2\n");
}

/* text must fail with CN_ERR_FORMAT, "line N: " and the substring `want` */
static void bad_spec(const char *label, const char *text, int line, const char *want)
{
    cn_error err = {0};
    cn_net *net = (cn_net *)&err; /* must be set to NULL on failure */
    int rc = cn_net_from_spec(&net, text, &err);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "line %d: ", line);
    CHECK(rc == CN_ERR_FORMAT, "%s: status %d (%s), expected CN_ERR_FORMAT", label, rc, cn_strerror(rc));
    CHECK(net == NULL, "%s: *out not NULL after a failure", label);
    CHECK(err.status == rc, "%s: err.status %d, returned %d", label, err.status, rc);
    CHECK(strncmp(err.msg, prefix, strlen(prefix)) == 0, "%s: message '%s' does not start with '%s'", label, err.msg,
          prefix);
    CHECK(strstr(err.msg, want) != NULL, "%s: message '%s' does not say '%s'", label, err.msg, want);
    if (rc == CN_OK) cn_net_free(net);
    /* a NULL error is allowed */
    net = NULL;
    rc = cn_net_from_spec(&net, text, NULL);
    CHECK(rc == CN_ERR_FORMAT && net == NULL, "%s: with err NULL: status %d", label, rc);
    if (rc == CN_OK) cn_net_free(net);
}

static void test_malformed(void)
{
    bad_spec("missing input line", "dense out=3\n", 1, "input");
    bad_spec("missing input line after comments", "# model\n\ndense out=3\n", 3, "input");
    bad_spec("input twice", "input 4\ninput 4\ndense out=2\n", 2, "input");
    bad_spec("bad input size", "input 0\ndense out=2\n", 1, "'0'");
    bad_spec("input with two numbers", "input 4 4\ndense out=2\n", 1, "input");
    bad_spec("unknown layer", "input 4\ndense out=3\nfrobnicate out=3\n", 3, "unknown layer 'frobnicate'");
    bad_spec("unknown key", "input 4\ndense out=3 colour=red\n", 2, "unknown key 'colour'");
    bad_spec("unknown key on residual", "input 4\nresidual colour=red\n  dense out=4\nend\n", 2, "colour");
    bad_spec("key without value", "input 4\ndense out=\n", 2, "expected key=value");
    bad_spec("key without =", "input 4\ndense out\n", 2, "expected key=value");
    bad_spec("value without key", "input 4\ndense =3\n", 2, "expected key=value");
    bad_spec("bad integer", "input 4\ndense out=3x\n", 2, "out=3x");
    bad_spec("bad integer (real)", "input 4\ndense out=2.5\n", 2, "integer");
    bad_spec("bad number", "input 4\ndropout p=half\ndense out=2\n", 2, "p=half");
    bad_spec("dropout p=1", "input 4\ndropout p=1\ndense out=2\n", 2, "dropout");
    bad_spec("dense without out=", "input 4\ndense act=relu\n", 2, "out=");
    bad_spec("conv without out=", "input 2 6 6\nconv k=3 pad=1\n", 2, "out=");
    bad_spec("conv kernel too big", "input 2 4 4\nconv out=3 k=7\n", 2, "does not fit");
    bad_spec("residual without end", "input 4\ndense out=4\nresidual\n  dense out=4\n", 3, "never closed");
    /* the one end closes the inner block (line 3): the outer one, opened on line 2, is left open */
    bad_spec("nested residual missing an end", "input 4\nresidual\n  residual\n    dense out=4\nend\n", 2,
             "never closed");
    bad_spec("end without residual", "input 4\ndense out=4\nend\n", 3, "'end' without 'residual'");
    bad_spec("skip=identity with a shape change", "input 4\nresidual skip=identity\n  dense out=5\nend\n", 4,
             "skip=identity");
    bad_spec("bad skip", "input 4\nresidual skip=sideways\n  dense out=4\nend\n", 2, "skip=sideways");
    bad_spec("empty residual body", "input 4\ndense out=4\nresidual\nend\n", 4, "empty residual body");
    bad_spec("no layers", "input 4\n", 1, "no layers");
    bad_spec("unknown activation", "input 4\ndense out=3 act=bogus\n", 2, "act=bogus");
    bad_spec("unknown activation on act", "input 4\nact fn=bogus\n", 2, "fn=bogus");
    bad_spec("unknown residual activation", "input 4\nresidual act=bogus\n  dense out=4\nend\n", 2, "act=bogus");
    bad_spec("act without fn", "input 4\nact\n", 2, "fn=");
    bad_spec("the error names the line in a long text",
             "input 4\ndense out=4\ndense out=4\n# comment\n\ndense out=4\ndense out=4 act=nope\n", 7, "act=nope");

    /* an empty text: not a model */
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_spec(&net, "", &err);
    CHECK(rc == CN_ERR_FORMAT && net == NULL && strstr(err.msg, "empty"), "empty text: %d '%s'", rc, err.msg);
    rc = cn_net_from_spec(&net, "# only a comment\n\n", &err);
    CHECK(rc == CN_ERR_FORMAT && net == NULL && strstr(err.msg, "empty"), "comment-only text: %d '%s'", rc,
          err.msg);

    /* a line longer than the parser's buffer */
    size_t n = 5000;
    char *longtext = malloc(n + 32);
    strcpy(longtext, "input 4\ndense out=4 ");
    size_t len = strlen(longtext);
    memset(longtext + len, 'x', n);
    longtext[len + n] = 0;
    rc = cn_net_from_spec(&net, longtext, &err);
    CHECK(rc == CN_ERR_FORMAT && strncmp(err.msg, "line 2: ", 8) == 0, "over-long line: %d '%s'", rc, err.msg);
    free(longtext);
}

/* cn_net_from_spec_file: the path in every message */
static void test_spec_file(void)
{
    char dir[] = "/tmp/critnet_spec_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char path[256], missing[256];
    snprintf(path, sizeof path, "%s/model.txt", dir);
    snprintf(missing, sizeof missing, "%s/absent.txt", dir);
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_spec_file(&net, missing, &err);
    CHECK(rc == CN_ERR_IO && net == NULL && strstr(err.msg, missing), "missing file: %d '%s'", rc, err.msg);
    FILE *f = fopen(path, "w");
    fputs("input 4\ndense out=3\nbogus\n", f);
    fclose(f);
    rc = cn_net_from_spec_file(&net, path, &err);
    CHECK(rc == CN_ERR_FORMAT && net == NULL && strstr(err.msg, path) && strstr(err.msg, "line 3"),
          "bad file: %d '%s'", rc, err.msg);
    f = fopen(path, "w");
    fputs("input 4\ndense out=3 act=tanh\n", f);
    fclose(f);
    rc = cn_net_from_spec_file(&net, path, &err);
    CHECK(rc == CN_OK && net && cn_net_out_size(net) == 3, "good file: %d '%s'", rc, err.msg);
    cn_net_free(net);
    remove(path);
    rmdir(dir);
}

static void bad_arch(const char *label, cn_arch a, const char *want)
{
    cn_error err = {0};
    char *spec = (char *)&err;
    int rc = cn_arch_spec(&spec, &a, &err);
    CHECK(rc == CN_ERR_ARG, "%s: status %d, expected CN_ERR_ARG", label, rc);
    CHECK(spec == NULL, "%s: *out not NULL after a failure", label);
    CHECK(strstr(err.msg, want) != NULL, "%s: message '%s' does not say '%s'", label, err.msg, want);
    if (rc == CN_OK) cn_free(spec);
}

static void test_bad_arch(void)
{
    const cn_arch good = {.arch = "mlp", .in_c = 1, .in_h = 8, .in_w = 8, .width = 4, .depth = 2, .classes = 3,
                          .act = CN_ACT_RELU, .norm = "none"};
    char *spec = NULL;
    CHECK_OK(cn_arch_spec(&spec, &good, NULL));
    cn_free(spec);
    cn_arch a = good;
    a.width = 0;
    bad_arch("width 0", a, "width");
    a = good, a.arch = "transformer";
    bad_arch("unknown arch", a, "transformer");
    a = good, a.norm = "group";
    bad_arch("bad norm", a, "group");
    a = good, a.dropout = 1;
    bad_arch("dropout 1", a, "dropout");
    a = good, a.dropout = -0.1;
    bad_arch("dropout < 0", a, "dropout");
    a = good, a.classes = 0;
    bad_arch("classes 0", a, "classes");
    a = good, a.depth = -1;
    bad_arch("depth -1", a, "depth");
    a = good, a.act = CN_ACT_COUNT;
    bad_arch("bad activation", a, "activation");
    a = good, a.arch = "cnn", a.in_h = 1, a.in_w = 1, a.in_c = 20;
    bad_arch("cnn on flat input", a, "cnn");
    a = good, a.arch = "cnn", a.channels = "8,x";
    bad_arch("bad channel list", a, "channels");
}

int main(void)
{
    test_arch_round_trips();
    test_handwritten_round_trips();
    test_malformed();
    test_spec_file();
    test_bad_arch();
    return check_summary("test_spec");
}
