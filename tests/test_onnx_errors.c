/* test_onnx_errors.c: the ONNX reader and imported networks on bad input. Every refusal is a status and a
 * message that names the file and the fault, never a crash or a leak (this test also runs under ASan):
 * files that are empty, random, truncated anywhere, over the size limit, or that are valid protobuf with one
 * fault each (tests/onnx_bad_models.py: opsets, operators, domains, initializer sizes, order, inputs, shapes,
 * external data); failed allocations at every point of a load and of a run; NaN inputs; and the requests an
 * inference-only network must refuse (backward, training, checkpoints, gradient attacks).
 *
 * Usage: test_onnx_errors [DIR]. Without DIR it runs `/usr/bin/python3 tests/onnx_bad_models.py TMPDIR`
 * (only python3-onnx is needed) and removes TMPDIR afterwards. A script that cannot run is a failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"
#include "torch_ref_io.h"

static const char *const STATUS_NAMES[CN_STATUS_COUNT] = {"CN_OK", "CN_ERR_NOMEM", "CN_ERR_IO", "CN_ERR_FORMAT",
                                                          "CN_ERR_ARG", "CN_ERR_NONFINITE", "CN_ERR_UNSUPPORTED",
                                                          "CN_ERR_STOPPED"};

static int status_from_name(const char *s)
{
    for (int i = 0; i < CN_STATUS_COUNT; i++)
        if (strcmp(s, STATUS_NAMES[i]) == 0) return i;
    return -1;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static int write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A load that must fail: a non-OK status (want, or any if want < 0), no network, and a message that names the
 * file (name) and holds every phrase. */
static void expect_refused(const char *what, int rc, cn_net *net, const cn_error *err, int want, const char *name,
                           const char *const *phrases, int nphrases)
{
    CHECK(rc != CN_OK && (want < 0 || rc == want), "%s: status %d (%s), expected %s", what, rc,
          rc >= 0 && rc < CN_STATUS_COUNT ? STATUS_NAMES[rc] : "?", want < 0 ? "a failure" : STATUS_NAMES[want]);
    CHECK(net == NULL, "%s: a refused load left a network", what);
    CHECK(strstr(err->msg, name) != NULL, "%s: message does not name %s: '%s'", what, name, err->msg);
    for (int i = 0; i < nphrases; i++)
        CHECK(strstr(err->msg, phrases[i]) != NULL, "%s: message lacks '%s': '%s'", what, phrases[i], err->msg);
}

/* the faults of tests/onnx_bad_models.py, by file and by buffer */
static int check_bad_models(const char *dir)
{
    char path[2048], line[1024];
    snprintf(path, sizeof path, "%s/cases.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s: cannot open", path);
    if (!f) return 0;
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char *fields[8];
        int nf = 0;
        for (char *tok = strtok(line, "\t"); tok && nf < 8; tok = strtok(NULL, "\t")) fields[nf++] = tok;
        if (nf < 2) continue;
        int want = status_from_name(fields[1]);
        CHECK(want > 0, "%s: unknown status %s in cases.txt", fields[0], fields[1]);
        snprintf(path, sizeof path, "%s/%s", dir, fields[0]);
        cn_error err = {0};
        cn_net *net = NULL;
        int rc = cn_net_from_onnx(&net, path, NULL, &err);
        printf("  %-20s %-19s %s\n", fields[0], rc >= 0 && rc < CN_STATUS_COUNT ? STATUS_NAMES[rc] : "?", err.msg);
        expect_refused(fields[0], rc, net, &err, want, path, (const char *const *)fields + 2, nf - 2);
        cn_net_free(net);

        /* the same bytes from memory: the same verdict, under the caller's name */
        size_t len;
        uint8_t *buf = read_all(path, &len);
        CHECK(buf != NULL, "%s: cannot read", path);
        if (buf) {
            char name[128];
            snprintf(name, sizeof name, "mem:%s", fields[0]);
            memset(&err, 0, sizeof err);
            rc = cn_net_from_onnx_buffer(&net, buf, len, name, NULL, &err);
            expect_refused(name, rc, net, &err, want, name, (const char *const *)fields + 2, nf - 2);
            cn_net_free(net);
            free(buf);
        }
        cases++;
    }
    fclose(f);
    return cases;
}

/* empty, random, truncated and oversized files */
static void check_broken_files(const char *dir, const char *valid)
{
    char path[2048];
    cn_error err = {0};
    cn_net *net = NULL;
    cn_onnx_opts opts = {0};

    snprintf(path, sizeof path, "%s/does_not_exist.onnx", dir);
    int rc = cn_net_from_onnx(&net, path, NULL, &err);
    expect_refused("missing file", rc, net, &err, CN_ERR_IO, path, NULL, 0);

    snprintf(path, sizeof path, "%s/empty.onnx", dir);
    CHECK_OK(write_all(path, "", 0));
    rc = cn_net_from_onnx(&net, path, NULL, &err);
    expect_refused("empty file", rc, net, &err, CN_ERR_FORMAT, path, (const char *const[]){"empty"}, 1);
    /* an empty buffer decodes as a ModelProto with nothing set: no opset */
    rc = cn_net_from_onnx_buffer(&net, "", 0, "mem:empty", NULL, &err);
    expect_refused("empty buffer", rc, net, &err, -1, "mem:empty", NULL, 0);

    /* 4 KiB from a fixed LCG: whatever the decoder makes of it, it is no model */
    uint8_t noise[4096];
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof noise; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        noise[i] = (uint8_t)(s >> 56);
    }
    snprintf(path, sizeof path, "%s/random.onnx", dir);
    CHECK_OK(write_all(path, noise, sizeof noise));
    rc = cn_net_from_onnx(&net, path, NULL, &err);
    expect_refused("random bytes", rc, net, &err, -1, path, NULL, 0);

    size_t len;
    uint8_t *buf = read_all(valid, &len);
    CHECK(buf != NULL && len > 100, "%s: cannot read", valid);
    if (!buf) return;
    const size_t cuts[2] = {len / 2, len - 10};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/truncated_%zu.onnx", dir, cuts[i]);
        CHECK_OK(write_all(path, buf, cuts[i]));
        rc = cn_net_from_onnx(&net, path, NULL, &err);
        printf("  truncated to %zu of %zu bytes: %s\n", cuts[i], len, err.msg);
        expect_refused(path, rc, net, &err, -1, path, NULL, 0);
        cn_net_free(net);
    }
    /* every prefix: the opset list is serialized last, so no proper prefix is a loadable model */
    int accepted = 0;
    for (size_t cut = 1; cut < len; cut++) {
        memset(&err, 0, sizeof err);
        rc = cn_net_from_onnx_buffer(&net, buf, cut, "mem:prefix", NULL, &err);
        if (rc == CN_OK) accepted++;
        else CHECK(net == NULL && strstr(err.msg, "mem:prefix"), "prefix %zu: status %d, message '%s'", cut, rc, err.msg);
        cn_net_free(net);
    }
    CHECK(accepted == 0, "%d proper prefixes of valid.onnx were accepted", accepted);
    /* one byte flipped at every offset: any verdict, but never a crash (ASan watches); a model that still
     * loads (a changed weight, pad or name) must also run */
    int loaded = 0;
    for (size_t at = 0; at < len; at++) {
        buf[at] ^= 0x5a;
        rc = cn_net_from_onnx_buffer(&net, buf, len, "mem:flipped", NULL, &err);
        CHECK(rc == CN_OK || (net == NULL && strstr(err.msg, "mem:flipped")), "byte %zu flipped: status %d '%s'", at,
              rc, err.msg);
        if (rc == CN_OK) {
            loaded++;
            size_t n = (size_t)2 * cn_net_in_size(net), m = (size_t)2 * cn_net_out_size(net);
            cn_real *x = calloc(n, sizeof *x), *ty = calloc(m, sizeof *ty);
            for (size_t i = 0; x && i < n; i++) x[i] = (cn_real)sin(0.37 * i);
            CHECK_OK(cn_net_reserve(net, 2, 1));
            if (x && ty) {
                cn_net_forward(net, x, 2, 0);
                cn_net_jvp(net, x, ty, 2, 1);
            }
            free(x);
            free(ty);
            cn_net_free(net);
        }
        buf[at] ^= 0x5a;
    }
    printf("  %zu single-byte corruptions: %d still load and run\n", len, loaded);
    free(buf);

    /* the size limit is checked before reading: one byte under the file's size refuses it */
    opts.max_bytes = len - 1;
    rc = cn_net_from_onnx(&net, valid, &opts, &err);
    expect_refused("size limit", rc, net, &err, CN_ERR_FORMAT, valid, (const char *const[]){"size limit"}, 1);
    opts.max_bytes = len;
    rc = cn_net_from_onnx(&net, valid, &opts, &err);
    CHECK(rc == CN_OK, "a limit equal to the file size must pass: %d %s", rc, err.msg);
    cn_net_free(net);
}

/* Allocation number k fails, for every k a load makes (then a reserve, forward and jvp): each run ends in
 * CN_OK or CN_ERR_NOMEM, and everything allocated is released. */
static void check_alloc_failures(const char *valid)
{
    cn_error err = {0};
    cn_net *net = NULL;
    hook_install(0);
    int rc = cn_net_from_onnx(&net, valid, NULL, &err);
    long load_allocs = g_stats.count;
    cn_net_free(net);
    cn_set_allocator(NULL);
    CHECK(rc == CN_OK && g_stats.live == 0, "the counted load: %d, %ld blocks left", rc, g_stats.live);
    CHECK(load_allocs > 20, "a load of valid.onnx made only %ld allocations", load_allocs);

    long nomem = 0;
    for (long k = 1; k <= load_allocs + 2; k++) {
        hook_install(k);
        memset(&err, 0, sizeof err);
        rc = cn_net_from_onnx(&net, valid, NULL, &err);
        if (rc == CN_OK) CHECK(k > load_allocs, "allocation %ld of %ld failed and the load still succeeded", k,
                               load_allocs);
        else CHECK(rc == CN_ERR_NOMEM && net == NULL && strstr(err.msg, valid),
                   "allocation %ld failing: status %d, message '%s'", k, rc, err.msg);
        nomem += rc == CN_ERR_NOMEM;
        cn_net_free(net);
        net = NULL;
        cn_set_allocator(NULL);
        CHECK(g_stats.live == 0, "allocation %ld failing during the load: %ld blocks leaked", k, g_stats.live);
    }
    printf("  load: %ld allocations, each made to fail in turn: %ld CN_ERR_NOMEM\n", load_allocs, nomem);

    /* after a clean load: reserve for a larger batch, forward, jvp */
    cn_real x[4 * 108], t[4 * 108], ty[4 * 2];
    for (int i = 0; i < 4 * 108; i++) x[i] = (cn_real)sin(0.37 * i), t[i] = (cn_real)cos(0.21 * i);
    long run_allocs = 0, run_nomem = 0;
    for (long k = 0;; k++) {
        hook_install(0);
        rc = cn_net_from_onnx(&net, valid, NULL, &err);
        CHECK(rc == CN_OK, "load: %d %s", rc, err.msg);
        if (rc) {
            cn_set_allocator(NULL);
            break;
        }
        g_stats.fail_at = k ? g_stats.count + k : 0;
        long before = g_stats.count;
        int rrc = cn_net_reserve(net, 4, 1), prc = CN_OK;
        if (rrc == CN_OK && (prc = cn_net_forward(net, x, 4, 0)) == CN_OK) prc = cn_net_jvp(net, t, ty, 4, 1);
        int st = cn_net_status(net, &err);
        CHECK(rrc != CN_OK || prc == st, "run allocation %ld failing: the pass returned %d, the status says %d", k,
              prc, st);
        int failed = g_stats.failed > 0;
        if (k == 0) run_allocs = g_stats.count - before;
        CHECK(rrc == CN_OK || rrc == CN_ERR_NOMEM, "run allocation %ld failing: reserve returned %d", k, rrc);
        CHECK(st == CN_OK || st == CN_ERR_NOMEM, "run allocation %ld failing: status %d %s", k, st, err.msg);
        CHECK(!failed || rrc == CN_ERR_NOMEM || st == CN_ERR_NOMEM,
              "run allocation %ld failed unreported (reserve %d, status %d)", k, rrc, st);
        run_nomem += rrc == CN_ERR_NOMEM || st == CN_ERR_NOMEM;
        cn_net_free(net);
        net = NULL;
        cn_set_allocator(NULL);
        CHECK(g_stats.live == 0, "run allocation %ld failing: %ld blocks leaked", k, g_stats.live);
        if (k > 0 && !failed) break; /* past the last allocation of the run */
        if (k > 10000) break;
    }
    printf("  reserve+forward+jvp: %ld allocations, %ld of them failing reported CN_ERR_NOMEM\n", run_allocs,
           run_nomem);
    CHECK(run_allocs > 0 && run_nomem == run_allocs, "a run made %ld allocations, %ld failures reported", run_allocs,
          run_nomem);
}

/* NaN inputs, and what an inference-only network refuses */
static void check_runs(const char *dir, const char *valid)
{
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_onnx(&net, valid, NULL, &err);
    CHECK(rc == CN_OK, "valid.onnx: %d %s", rc, err.msg);
    if (rc) return;
    CHECK(cn_net_in_size(net) == 108 && cn_net_out_size(net) == 2, "sizes %d %d", cn_net_in_size(net),
          cn_net_out_size(net));
    CHECK(cn_net_layer_count(net) == 2 && strcmp(cn_net_layer_name(net, 0), "r") == 0,
          "valid.onnx: conv-relu | flatten-gemm should be one block and the readout (%d layers)",
          cn_net_layer_count(net));
    CHECK_OK(cn_net_reserve(net, 4, 1));
    enum { N = 4, IN = 108, OUT = 2 };
    cn_real x[N * IN], dout[N * OUT], dx[N * IN];
    for (int i = 0; i < N * IN; i++) x[i] = (cn_real)sin(0.37 * i);
    for (int i = 0; i < N * OUT; i++) dout[i] = 1;

    /* a NaN in example 1 reaches its outputs (Relu passes NaN, as torch.relu) and no other example's */
    x[IN + 17] = (cn_real)NAN;
    cn_net_forward(net, x, N, 0);
    const cn_real *y = cn_net_output(net);
    int nan_row1 = 0, finite_rest = 1;
    for (int b = 0; b < N; b++)
        for (int j = 0; j < OUT; j++) {
            if (b == 1) nan_row1 |= isnan((double)y[b * OUT + j]);
            else finite_rest &= isfinite((double)y[b * OUT + j]);
        }
    CHECK(nan_row1 && finite_rest, "NaN input: example 1 NaN %d, the others finite %d", nan_row1, finite_rest);
    CHECK(cn_net_status(net, NULL) == CN_OK, "a NaN value is data, not a failed run");
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.probes = 2;
    cn_measure_result res;
    rc = cn_measure(net, x, N, &cfg, &res, &err);
    CHECK(rc == CN_ERR_NONFINITE && strstr(err.msg, "input 1"), "cn_measure on a NaN input: %d '%s'", rc, err.msg);
    x[IN + 17] = 0.25f;
    rc = cn_measure(net, x, N, &cfg, &res, &err);
    CHECK(rc == CN_OK && res.nblocks == 1 && isfinite(res.sigma), "cn_measure on finite input: %d %s", rc, err.msg);
    if (rc == CN_OK) cn_measure_result_free(&res);

    /* backward: every operator of valid.onnx has one, so the imported net trains (test_onnx_vjp_f64 checks
     * the numbers, and that a graph with an operator lacking a backward is refused) */
    CHECK(cn_net_forward(net, x, N, 0) == CN_OK, "forward of a valid graph returns CN_OK");
    CHECK(cn_net_trainable(net, &err) == CN_OK, "valid.onnx must be trainable: %s", err.msg);
    cn_net_zero_grad(net);
    int brc = cn_net_backward(net, dout, dx, N);
    CHECK(brc == CN_OK, "cn_net_backward on an ONNX net returns %d", brc);
    int finite_dx = 1;
    for (int i = 0; i < N * IN; i++) finite_dx &= isfinite((double)dx[i]);
    CHECK(finite_dx, "the input gradient of a finite batch is finite");

    /* training: a 4-example data set by hand */
    cn_data data;
    memset(&data, 0, sizeof data);
    int32_t labels[N] = {0, 1, 1, 0};
    data.train = (cn_dataset){.count = N, .c = 3, .h = 6, .w = 6, .classes = 2, .x = x, .y = labels};
    data.test = data.train;
    snprintf(data.name, sizeof data.name, "tiny");
    cn_train_cfg tc;
    memset(&tc, 0, sizeof tc);
    tc.epochs = 1;
    tc.batch = 2;
    tc.optim.kind = CN_OPT_SGD;
    tc.optim.lr = 0.1;
    tc.track_samples = -1;
    cn_optim *opt = NULL;
    CHECK_OK(cn_optim_new(&opt, &tc.optim, cn_net_param_count(net)));
    cn_rng *rng = cn_rng_new(3);
    cn_train_result tr;
    rc = cn_train(net, &data, &tc, opt, rng, 0, &tr, &err);
    CHECK(rc == CN_OK && tr.epochs_done == 1, "cn_train on an ONNX net: %d '%s'", rc, err.msg);
    cn_optim_free(opt);
    cn_rng_free(rng);
    double loss, acc;
    rc = cn_evaluate(net, &data.test, CN_LOSS_CROSS_ENTROPY, 2, 0, &loss, &acc, &err);
    CHECK(rc == CN_OK && isfinite(loss), "cn_evaluate on an ONNX net: %d %s", rc, err.msg);

    /* the checkpoint refers to the .onnx file and holds the trained weights: they come back */
    char path[2048];
    snprintf(path, sizeof path, "%s/model.cnm", dir);
    rc = cn_checkpoint_save(path, net, NULL, NULL, 0, "", &err);
    CHECK(rc == CN_OK, "checkpoint of an ONNX net: %d '%s'", rc, err.msg);
    cn_checkpoint ck;
    rc = cn_checkpoint_load(&ck, path, &err);
    CHECK(rc == CN_OK, "reading the checkpoint of an ONNX net back: %d '%s'", rc, err.msg);
    if (rc == CN_OK) {
        int same = cn_net_param_count(ck.net) == cn_net_param_count(net);
        for (size_t i = 0; same && i < cn_net_param_count(net); i++)
            same = (float)cn_net_params(ck.net)[i] == (float)cn_net_params(net)[i];
        CHECK(same, "the checkpoint's weights differ from the trained ones");
        cn_checkpoint_free(&ck);
    }
    remove(path);
    /* a net read from memory has no file to refer to: refused, and no file left behind */
    size_t len = 0;
    uint8_t *bytes = read_all(valid, &len);
    cn_net *mem = NULL;
    rc = bytes ? cn_net_from_onnx_buffer(&mem, bytes, len, "valid (memory)", NULL, &err) : CN_ERR_IO;
    CHECK(rc == CN_OK, "valid.onnx from memory: %d %s", rc, err.msg);
    if (mem) {
        rc = cn_checkpoint_save(path, mem, NULL, NULL, 0, "", &err);
        CHECK(rc == CN_ERR_UNSUPPORTED && strstr(err.msg, "memory"), "checkpoint of a net read from memory: %d '%s'",
              rc, err.msg);
        CHECK(access(path, F_OK) != 0, "a refused checkpoint left %s", path);
    }
    cn_net_free(mem);
    free(bytes);
    /* inputs must lie in [0, 1] for the default clipping */
    cn_real xc[N * IN];
    for (int i = 0; i < N * IN; i++) xc[i] = (cn_real)(0.5 + 0.4 * sin(0.37 * i));
    data.test.x = xc;
    rc = cn_robustness_noise(net, &data.test, 0, 0.1, NULL, &acc, &err);
    CHECK(rc == CN_OK, "noise robustness on an ONNX net: %d %s", rc, err.msg);
    /* gradient attacks use the backward too */
    rc = cn_attack_fgsm(net, &data.test, 0, 0.1, NULL, &acc, &err);
    CHECK(rc == CN_OK && acc >= 0 && acc <= 1, "FGSM on an ONNX net: %d '%s'", rc, err.msg);
    cn_net_free(net);
}

int main(int argc, char **argv)
{
    char dir[1024];
    int own_dir = argc < 2;
    if (own_dir) {
        int rc = ref_make_dir(dir, sizeof dir, "onnx_bad_models"); /* removes the directory itself on failure */
        CHECK(rc == 0, "tests/onnx_bad_models.py must run: CI has python3-onnx, a missing file set is a failure");
        if (rc) return check_summary("onnx_errors");
    } else {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    }
    char valid[2048];
    snprintf(valid, sizeof valid, "%s/valid.onnx", dir);
    printf("faulty models:\n");
    int cases = check_bad_models(dir);
    CHECK(cases >= 13, "only %d faulty models were listed", cases);
    printf("broken files:\n");
    check_broken_files(dir, valid);
    printf("runs:\n");
    check_runs(dir, valid);
    printf("failed allocations:\n");
    check_alloc_failures(valid);
    if (own_dir) ref_remove_dir(dir);
    return check_summary("onnx_errors");
}
