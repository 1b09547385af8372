/* test_checkpoint.c: model.cnm. A trained net with its SGD-momentum optimizer and RNG survives a save and a
 * load exactly (parameters, batch-norm state, optimizer state and steps, RNG state, epoch, settings, spec);
 * every damaged file (missing, empty, bad magic or version, truncated anywhere, any byte flipped, garbage
 * spec, wrong sizes, NaN parameters, the last three with the CRC fixed up) fails with the right status, a
 * message naming the file, and nothing leaked; and an allocation-failure sweep over build, train step,
 * save, load and restore returns CN_ERR_NOMEM at every failing allocation, leaks nothing and never crashes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "alloc_hook.h"
#include "check.h"
#include "critnet.h"

static const char *SPEC = "input 6\n"
                          "dense out=8 act=tanh\n"
                          "batchnorm\n"
                          "dense out=3\n";
static const char *SETTINGS = "{\"lr\":0.1,\"note\":\"checkpoint test\"}";
enum { BATCH = 5 };

static char g_dir[64];

/* ---------------------------------------------------------------- helpers */

static void path_in(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

static int write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(b, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)size + 1);
    *n = fread(b, 1, (size_t)size, f);
    fclose(f);
    return b;
}

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* recomputes the CRC-32 at the end, so that the damage reaches the parser */
static void fix_crc(unsigned char *b, size_t n) { wr32(b + n - 4, (uint32_t)crc32(crc32(0, NULL, 0), b, (uInt)(n - 4))); }

/* offsets of the file's sections (see checkpoint.c) */
typedef struct {
    size_t spec, spec_len, settings, settings_len, params, state, opt, rng;
} layout;

static layout parse_layout(const unsigned char *b, size_t nparams, size_t nstate)
{
    layout L;
    L.spec_len = rd32(b + 24);
    L.spec = 28;
    L.settings_len = rd32(b + L.spec + L.spec_len);
    L.settings = L.spec + L.spec_len + 4;
    L.params = L.settings + L.settings_len; /* u64 count, then floats */
    L.state = L.params + 8 + 4 * nparams;
    L.opt = L.state + 8 + 4 * nstate;
    uint64_t nopt = rd32(b + L.opt) | (uint64_t)rd32(b + L.opt + 4) << 32;
    L.rng = L.opt + 8 + 4 * (size_t)nopt;
    return L;
}

/* A net trained a few steps with SGD (momentum, nesterov, weight decay), and its RNG moved on. */
static int make_trained(cn_net **net, cn_optim **opt, cn_rng **rng)
{
    cn_error err = {0};
    *net = NULL;
    *opt = NULL;
    *rng = cn_rng_new(7);
    if (!*rng) return CN_ERR_NOMEM;
    int rc = cn_net_from_spec(net, SPEC, &err);
    if (rc) return rc;
    cn_init init = {.kind = CN_INIT_TORCH};
    cn_optim_cfg oc = {.kind = CN_OPT_SGD, .lr = 0.1, .momentum = 0.9, .nesterov = 1, .weight_decay = 1e-3};
    if ((rc = cn_net_init(*net, &init, *rng)) || (rc = cn_net_reserve(*net, BATCH, 1)) ||
        (rc = cn_optim_new(opt, &oc, cn_net_param_count(*net))))
        return rc;
    cn_real x[BATCH * 6], dl[BATCH * 3];
    int32_t y[BATCH];
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < BATCH * 6; i++) x[i] = (cn_real)cn_rng_normal(*rng);
        for (int i = 0; i < BATCH; i++) y[i] = (int32_t)cn_rng_below(*rng, 3);
        cn_net_forward(*net, x, BATCH, 1);
        cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(*net), y, BATCH, 3, dl, NULL);
        cn_net_zero_grad(*net);
        cn_net_backward(*net, dl, NULL, BATCH);
        cn_optim_step(*opt, cn_net_params(*net), cn_net_grads(*net), 0.1);
    }
    return CN_OK;
}

/* ---------------------------------------------------------------- round trip */

static void test_round_trip(void)
{
    cn_net *net;
    cn_optim *opt;
    cn_rng *rng;
    CHECK_OK(make_trained(&net, &opt, &rng));
    char path[128], tmp[160];
    path_in(path, sizeof path, "model.cnm");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cn_error err = {0};
    CHECK_OK(cn_checkpoint_save(path, net, opt, rng, 7, SETTINGS, &err));
    CHECK(access(tmp, F_OK) != 0, "%s left behind", tmp);
    size_t np = cn_net_param_count(net), ns = cn_net_state_count(net), no = cn_optim_state_count(opt);
    CHECK(ns == 16, "batchnorm state: %zu values", ns);
    CHECK(no == np, "optimizer state: %zu values for %zu parameters", no, np);

    cn_checkpoint ck;
    int rc = cn_checkpoint_load(&ck, path, &err);
    CHECK(rc == CN_OK, "load: %s", err.msg);
    if (rc) goto out;
    char *s0 = cn_net_spec(net), *s1 = cn_net_spec(ck.net);
    CHECK(s0 && s1 && strcmp(s0, s1) == 0, "spec differs:\n%s---\n%s", s0, s1);
    cn_free(s0);
    cn_free(s1);
    CHECK(ck.epoch == 7, "epoch %d", ck.epoch);
    CHECK(ck.opt_steps == 3 && ck.opt_steps == cn_optim_steps(opt), "optimizer steps %ld", ck.opt_steps);
    CHECK(ck.settings && strcmp(ck.settings, SETTINGS) == 0, "settings '%s'", ck.settings);
    CHECK(cn_net_param_count(ck.net) == np && memcmp(cn_net_params(ck.net), cn_net_params(net), np * sizeof(cn_real)) == 0,
          "parameters differ");
    CHECK(cn_net_state_count(ck.net) == ns && memcmp(cn_net_state(ck.net), cn_net_state(net), ns * sizeof(cn_real)) == 0,
          "batch-norm state differs");
    int state_moved = 0;
    for (size_t i = 0; i < ns; i++) state_moved |= cn_net_state(net)[i] != (i < 8 ? 0 : 1);
    CHECK(state_moved, "the running statistics never moved: the state check tests nothing");
    CHECK(ck.opt_count == no && memcmp(ck.opt_state, cn_optim_state(opt), no * sizeof(cn_real)) == 0,
          "optimizer state differs (%zu values)", ck.opt_count);
    CHECK(ck.rng_size == cn_rng_state_size(rng) && memcmp(ck.rng_state, cn_rng_state(rng), ck.rng_size) == 0,
          "RNG state differs (%zu bytes)", ck.rng_size);

    /* restore into a fresh optimizer and RNG: the next steps and draws are the original's */
    cn_optim *opt2;
    cn_optim_cfg oc = {.kind = CN_OPT_SGD, .lr = 0.1, .momentum = 0.9, .nesterov = 1, .weight_decay = 1e-3};
    CHECK_OK(cn_optim_new(&opt2, &oc, np));
    cn_rng *rng2 = cn_rng_new(999);
    CHECK_OK(cn_checkpoint_restore(&ck, opt2, rng2, &err));
    CHECK(cn_optim_steps(opt2) == 3, "restored steps %ld", cn_optim_steps(opt2));
    CHECK(memcmp(cn_optim_state(opt2), cn_optim_state(opt), no * sizeof(cn_real)) == 0, "restored optimizer state");
    int same = 1;
    for (int i = 0; i < 50; i++) same &= cn_rng_uniform(rng) == cn_rng_uniform(rng2);
    CHECK(same, "the restored RNG draws differently");
    cn_real *g = malloc(np * sizeof *g);
    for (size_t i = 0; i < np; i++) g[i] = (cn_real)cn_rng_normal(rng);
    cn_optim_step(opt, cn_net_params(net), g, 0.1);
    cn_optim_step(opt2, cn_net_params(ck.net), g, 0.1);
    CHECK(memcmp(cn_net_params(ck.net), cn_net_params(net), np * sizeof(cn_real)) == 0,
          "a step after restoring differs from the original's");
    free(g);

    /* restoring into an optimizer of another kind is refused */
    cn_optim *adam;
    cn_optim_cfg ac = {.kind = CN_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    CHECK_OK(cn_optim_new(&adam, &ac, np));
    rc = cn_checkpoint_restore(&ck, adam, NULL, &err);
    CHECK(rc == CN_ERR_FORMAT, "restore into adam: %d", rc);
    cn_optim_free(adam);
    cn_optim_free(opt2);
    cn_rng_free(rng2);
    cn_checkpoint_free(&ck);
    CHECK(ck.net == NULL && ck.settings == NULL && ck.opt_state == NULL, "cn_checkpoint_free leaves pointers");

    /* a bare model: no optimizer, RNG or settings */
    CHECK_OK(cn_checkpoint_save(path, net, NULL, NULL, 0, NULL, &err));
    rc = cn_checkpoint_load(&ck, path, &err);
    CHECK(rc == CN_OK, "bare load: %s", err.msg);
    if (!rc) {
        CHECK(ck.opt_count == 0 && ck.rng_size == 0 && ck.epoch == 0 && ck.settings && ck.settings[0] == 0,
              "bare model: %zu optimizer values, %zu RNG bytes, epoch %d", ck.opt_count, ck.rng_size, ck.epoch);
        CHECK(memcmp(cn_net_params(ck.net), cn_net_params(net), np * sizeof(cn_real)) == 0, "bare: parameters");
        cn_rng *r3 = cn_rng_new(5), *r4 = cn_rng_new(5);
        CHECK_OK(cn_checkpoint_restore(&ck, NULL, r3, &err));
        CHECK(cn_rng_uniform(r3) == cn_rng_uniform(r4), "restoring no RNG state changed the RNG");
        cn_rng_free(r3);
        cn_rng_free(r4);
        cn_checkpoint_free(&ck);
    }

    /* writing where no file can be created */
    char nodir[160];
    path_in(nodir, sizeof nodir, "no/such/dir/model.cnm");
    rc = cn_checkpoint_save(nodir, net, opt, rng, 1, "", &err);
    CHECK(rc == CN_ERR_IO && strstr(err.msg, nodir), "save into a missing folder: %d '%s'", rc, err.msg);
out:
    cn_optim_free(opt);
    cn_rng_free(rng);
    cn_net_free(net);
}

/* ---------------------------------------------------------------- damaged files */

static int g_bad_cases;

/* Writes bytes to bad.cnm and expects a load to fail with `status`, the path and `want` in the message,
 * the checkpoint left empty and every allocation released. */
static void expect_fail(const char *label, const unsigned char *b, size_t n, int status, const char *want)
{
    char path[128];
    path_in(path, sizeof path, "bad.cnm");
    if (b) {
        CHECK(write_bytes(path, b, n) == 0, "%s: cannot write %s", label, path);
    } else {
        remove(path);
    }
    cn_checkpoint ck;
    memset(&ck, 0xab, sizeof ck);
    cn_error err = {0};
    hook_install(0);
    int rc = cn_checkpoint_load(&ck, path, &err);
    long live = g_stats.live;
    size_t largest = g_stats.largest;
    cn_set_allocator(NULL);
    g_bad_cases++;
    /* a damaged file is refused before the loader allocates more than the file could hold */
    CHECK(largest <= 4 * n + 4096, "%s: the loader asked for %zu bytes at once from a %zu-byte file", label, largest, n);
    CHECK(rc == status, "%s: status %d (%s), expected %d (%s); '%s'", label, rc, cn_strerror(rc), status,
          cn_strerror(status), err.msg);
    CHECK(err.status == rc, "%s: err.status %d but returned %d", label, err.status, rc);
    CHECK(strstr(err.msg, path) != NULL, "%s: the message '%s' does not name the file", label, err.msg);
    if (want) CHECK(strstr(err.msg, want) != NULL, "%s: the message '%s' does not say '%s'", label, err.msg, want);
    CHECK(ck.net == NULL && ck.settings == NULL && ck.opt_state == NULL && ck.rng_state == NULL,
          "%s: the failed load left pointers in the checkpoint", label);
    CHECK(live == 0, "%s: %ld allocations leaked", label, live);
    if (rc == CN_OK) cn_checkpoint_free(&ck);
}

static void test_damaged(void)
{
    cn_net *net;
    cn_optim *opt;
    cn_rng *rng;
    CHECK_OK(make_trained(&net, &opt, &rng));
    char path[128];
    path_in(path, sizeof path, "good.cnm");
    CHECK_OK(cn_checkpoint_save(path, net, opt, rng, 3, SETTINGS, NULL));
    size_t n = 0, np = cn_net_param_count(net), ns = cn_net_state_count(net);
    unsigned char *good = read_bytes(path, &n), *b = malloc(n + 64);
    CHECK(good && n > 100, "read %s: %zu bytes", path, n);
    if (!good || n <= 100) goto out;
    layout L = parse_layout(good, np, ns);
    char *canon = cn_net_spec(net);
    CHECK(canon && L.spec_len == strlen(canon) && memcmp(good + L.spec, canon, L.spec_len) == 0,
          "layout: the canonical spec is not at %zu", L.spec);
    CHECK(canon && strncmp(canon, "input 6\ndense out=8 act=tanh\n", 29) == 0, "canonical spec:\n%s", canon);
    cn_free(canon);
    CHECK(L.settings_len == strlen(SETTINGS), "layout: settings length %zu", L.settings_len);
    CHECK(rd32(good + L.params) == np, "layout: parameter count %u at %zu", rd32(good + L.params), L.params);
    CHECK(L.rng + 8 + cn_rng_state_size(rng) + 4 == n, "layout: %zu bytes, parsed %zu", n,
          L.rng + 8 + cn_rng_state_size(rng) + 4);

    /* the good file loads, with the counting allocator and nothing left over */
    {
        cn_checkpoint ck;
        hook_install(0);
        int rc = cn_checkpoint_load(&ck, path, NULL);
        cn_checkpoint_free(&ck);
        long live = g_stats.live;
        cn_set_allocator(NULL);
        CHECK(rc == CN_OK && live == 0, "good file: status %d, %ld allocations live after free", rc, live);
    }

    expect_fail("missing file", NULL, 0, CN_ERR_IO, NULL);
    expect_fail("empty file", good, 0, CN_ERR_FORMAT, "magic");
    memcpy(b, good, n);
    b[0] = 'X';
    expect_fail("bad magic", b, n, CN_ERR_FORMAT, "magic");
    expect_fail("not a checkpoint at all", (const unsigned char *)"input 6\ndense out=3\n", 20, CN_ERR_FORMAT,
                "magic");
    memcpy(b, good, n);
    wr32(b + 8, 3);
    expect_fail("version 3", b, n, CN_ERR_FORMAT, "version");
    fix_crc(b, n);
    expect_fail("version 3, CRC fixed", b, n, CN_ERR_FORMAT, "version");
    /* a version 1 file relabelled 2 lacks the extension block that version 2 promises */
    memcpy(b, good, n);
    wr32(b + 8, 2);
    fix_crc(b, n);
    expect_fail("version 2 without an extension, CRC fixed", b, n, CN_ERR_FORMAT, "extension");

    /* a model text that declares more parameters than the file holds is refused before they are allocated
     * (a 6 KB file once made the loader allocate 1.9 GB); the regression input of fuzz/ is another */
    {
        const char *huge = "input 6\ndense out=5000000 act=tanh\n";
        size_t hl = strlen(huge), m = 0;
        memcpy(b, good, L.spec - 4);
        wr32(b + L.spec - 4, (uint32_t)hl);
        memcpy(b + L.spec, huge, hl);
        m = L.spec + hl;
        memcpy(b + m, good + L.spec + L.spec_len, n - L.spec - L.spec_len);
        m += n - L.spec - L.spec_len;
        fix_crc(b, m);
        expect_fail("a huge layer declared", b, m, CN_ERR_FORMAT, "declares 35000000 parameter");
        char regress[4096];
        snprintf(regress, sizeof regress, "%s/fuzz/regress/checkpoint/huge-layer-declared.cnm",
                 getenv("CRITNET_SRC") ? getenv("CRITNET_SRC") : ".");
        size_t rn = 0;
        unsigned char *rb = read_bytes(regress, &rn);
        CHECK(rb != NULL, "cannot read %s", regress);
        if (rb) expect_fail("fuzz/regress: a huge layer declared", rb, rn, CN_ERR_FORMAT, "declares");
        free(rb);
    }

    /* truncated: at every 1/20 of the file, and by the last byte */
    for (int k = 1; k < 20; k++) {
        char label[64];
        size_t cut = n * k / 20;
        snprintf(label, sizeof label, "truncated to %zu of %zu bytes", cut, n);
        expect_fail(label, good, cut, CN_ERR_FORMAT, NULL);
    }
    expect_fail("truncated by the last byte", good, n - 1, CN_ERR_FORMAT, NULL);
    expect_fail("truncated to 8 bytes (magic only)", good, 8, CN_ERR_FORMAT, NULL);
    expect_fail("truncated to 12 bytes (magic, version)", good, 12, CN_ERR_FORMAT, NULL);
    memcpy(b, good, n);
    b[n] = 0;
    expect_fail("one byte appended", b, n + 1, CN_ERR_FORMAT, NULL);

    /* one flipped bit in any byte: magic, version or (everywhere else) the checksum catches it. Every byte up to
     * the RNG state and the CRC; in the RNG state (MT19937: 5 KB, most of the file) every 13th */
    for (size_t i = 0; i < n; i += i >= L.rng + 8 && i + 4 < n - 13 ? 13 : 1) {
        memcpy(b, good, n);
        b[i] ^= (unsigned char)(1u << (i % 8));
        char label[64];
        snprintf(label, sizeof label, "bit %zu of byte %zu flipped", i % 8, i);
        expect_fail(label, b, n, CN_ERR_FORMAT, i < 8 ? "magic" : i < 12 ? "version" : "checksum");
    }

    /* damage with the checksum fixed up, so that the parser itself must notice */
    memcpy(b, good, n);
    memcpy(b + L.spec, "inpux", 5);
    fix_crc(b, n);
    expect_fail("garbage spec, CRC fixed", b, n, CN_ERR_FORMAT, "line 1");
    memcpy(b, good, n);
    memcpy(b + L.spec + strlen("input 6\ndense out=8 act=tanh\n"), "frobnorm", 8);
    fix_crc(b, n);
    expect_fail("unknown layer in the spec, CRC fixed", b, n, CN_ERR_FORMAT, "line 3");
    memcpy(b, good, n);
    char *eight = memchr(b + L.spec, '8', L.spec_len);
    if (eight) *eight = '9'; /* dense out=9: a net with more parameters than the file holds */
    fix_crc(b, n);
    expect_fail("spec of another size, CRC fixed", b, n, CN_ERR_FORMAT, "parameter");
    memcpy(b, good, n);
    wr64(b + L.params, np - 1);
    fix_crc(b, n);
    expect_fail("parameter count - 1, CRC fixed", b, n, CN_ERR_FORMAT, "parameter");
    memcpy(b, good, n);
    wr64(b + L.params, UINT64_MAX);
    fix_crc(b, n);
    expect_fail("parameter count 2^64-1, CRC fixed", b, n, CN_ERR_FORMAT, "parameter");
    memcpy(b, good, n);
    wr64(b + L.state, ns + 1);
    fix_crc(b, n);
    expect_fail("state count + 1, CRC fixed", b, n, CN_ERR_FORMAT, "state");
    memcpy(b, good, n);
    wr32(b + 24, 0xffffffffu);
    fix_crc(b, n);
    expect_fail("spec length 2^32-1, CRC fixed", b, n, CN_ERR_FORMAT, NULL);
    memcpy(b, good, n);
    wr32(b + L.settings - 4, (uint32_t)n);
    fix_crc(b, n);
    expect_fail("settings longer than the file, CRC fixed", b, n, CN_ERR_FORMAT, NULL);
    memcpy(b, good, n);
    wr64(b + L.opt, UINT64_MAX / 2);
    fix_crc(b, n);
    expect_fail("optimizer count huge, CRC fixed", b, n, CN_ERR_FORMAT, "optimizer");
    memcpy(b, good, n);
    wr64(b + L.rng, (uint64_t)1 << 40);
    fix_crc(b, n);
    expect_fail("RNG size huge, CRC fixed", b, n, CN_ERR_FORMAT, "RNG");
    /* four stray bytes between the RNG state and the checksum */
    memcpy(b, good, n - 4);
    memset(b + n - 4, 0, 4);
    b[n + 3] = 0;
    fix_crc(b, n + 4);
    expect_fail("stray bytes before the CRC, CRC fixed", b, n + 4, CN_ERR_FORMAT, "unexpected");

    /* non-finite parameters with a valid checksum */
    const uint32_t nan = 0x7fc00000u, inf = 0x7f800000u;
    memcpy(b, good, n);
    wr32(b + L.params + 8, nan);
    fix_crc(b, n);
    expect_fail("NaN in the first parameter, CRC fixed", b, n, CN_ERR_NONFINITE, "not finite");
    memcpy(b, good, n);
    wr32(b + L.params + 8 + 4 * (np - 1), inf);
    fix_crc(b, n);
    expect_fail("Inf in the last parameter, CRC fixed", b, n, CN_ERR_NONFINITE, "not finite");

    /* a folder where the file should be */
    {
        cn_checkpoint ck;
        cn_error err = {0};
        int rc = cn_checkpoint_load(&ck, g_dir, &err);
        CHECK(rc != CN_OK && strstr(err.msg, g_dir), "loading a folder: %d '%s'", rc, err.msg);
        if (rc == CN_OK) cn_checkpoint_free(&ck);
    }
    CHECK(g_bad_cases > (int)(L.rng + 8 + 100), "only %d damaged files tried", g_bad_cases);
out:
    free(good);
    free(b);
    cn_optim_free(opt);
    cn_rng_free(rng);
    cn_net_free(net);
}

/* ---------------------------------------------------------------- allocation failures */

/* The whole life of a run: build, train a step, save, load, restore. Returns the first failure's status. */
static int scenario(const char *path, int *load_status, char *load_msg)
{
    cn_net *net = NULL;
    cn_optim *opt = NULL, *opt2 = NULL;
    cn_rng *rng = NULL, *rng2 = NULL;
    cn_checkpoint ck = {0};
    cn_error err = {0};
    *load_status = -1;
    int rc = cn_net_from_spec(&net, SPEC, &err);
    if (rc) goto done;
    if (!(rng = cn_rng_new(3))) {
        rc = CN_ERR_NOMEM;
        goto done;
    }
    cn_init init = {.kind = CN_INIT_KAIMING_NORMAL};
    if ((rc = cn_net_init(net, &init, rng)) || (rc = cn_net_reserve(net, BATCH, 2))) goto done;
    cn_optim_cfg oc = {.kind = CN_OPT_SGD, .lr = 0.1, .momentum = 0.9};
    if ((rc = cn_optim_new(&opt, &oc, cn_net_param_count(net)))) goto done;
    cn_real x[BATCH * 6], dl[BATCH * 3], dx[BATCH * 6], tx[2 * BATCH * 6], ty[2 * BATCH * 3];
    int32_t y[BATCH];
    for (int i = 0; i < BATCH * 6; i++) x[i] = (cn_real)(0.1 * (i % 7) - 0.3);
    for (int i = 0; i < 2 * BATCH * 6; i++) tx[i] = (cn_real)(0.05 * (i % 5));
    for (int i = 0; i < BATCH; i++) y[i] = i % 3;
    cn_net_forward(net, x, BATCH, 1);
    cn_net_jvp(net, tx, ty, BATCH, 2);
    cn_loss(CN_LOSS_CROSS_ENTROPY, cn_net_output(net), y, BATCH, 3, dl, NULL);
    cn_net_zero_grad(net);
    cn_net_backward(net, dl, dx, BATCH);
    cn_optim_step(opt, cn_net_params(net), cn_net_grads(net), 0.1);
    if ((rc = cn_checkpoint_save(path, net, opt, rng, 1, SETTINGS, &err))) goto done;
    rc = cn_checkpoint_load(&ck, path, &err);
    *load_status = rc;
    snprintf(load_msg, 512, "%s", err.msg);
    if (rc) goto done;
    if ((rc = cn_optim_new(&opt2, &oc, cn_net_param_count(ck.net)))) goto done;
    if (!(rng2 = cn_rng_new(4))) {
        rc = CN_ERR_NOMEM;
        goto done;
    }
    if ((rc = cn_checkpoint_restore(&ck, opt2, rng2, &err))) goto done;
    if ((rc = cn_net_reserve(ck.net, BATCH, 1))) goto done;
    cn_net_forward(ck.net, x, BATCH, 0);
    if (memcmp(cn_net_params(ck.net), cn_net_params(net), cn_net_param_count(net) * sizeof(cn_real)) != 0)
        rc = -100; /* a load that succeeded must be exact */
done:
    cn_checkpoint_free(&ck);
    cn_optim_free(opt);
    cn_optim_free(opt2);
    cn_rng_free(rng);
    cn_rng_free(rng2);
    cn_net_free(net);
    return rc;
}

static void test_alloc_failures(void)
{
    char path[128], msg[512];
    path_in(path, sizeof path, "oom.cnm");
    int load_status, completed = 0, refused = 0;
    long total = 0;
    hook_install(0);
    int rc = scenario(path, &load_status, msg);
    total = g_stats.count;
    cn_set_allocator(NULL);
    CHECK(rc == CN_OK, "the scenario fails without any allocation failure: %d", rc);
    CHECK(total > 20, "the scenario made only %ld allocations", total);
    /* N = 1..200 as asked, and on to the scenario's last allocation if it makes more */
    long last = total > 200 ? total : 200;
    for (long N = 1; N <= last; N++) {
        hook_install(N);
        rc = scenario(path, &load_status, msg);
        alloc_stats s = g_stats;
        cn_set_allocator(NULL);
        if (s.failed) {
            refused++;
            CHECK(rc == CN_ERR_NOMEM, "allocation %ld of %ld refused: status %d (%s), expected CN_ERR_NOMEM%s%s", N,
                  s.count, rc, cn_strerror(rc), load_status > 0 ? "; the load said: " : "",
                  load_status > 0 ? msg : "");
            if (load_status == CN_ERR_NOMEM)
                CHECK(strstr(msg, path) != NULL, "allocation %ld: the load's message '%s' does not name the file", N,
                      msg);
        } else {
            completed++;
            CHECK(rc == CN_OK, "allocation %ld never reached, yet status %d", N, rc);
        }
        CHECK(s.live == 0, "allocation %ld refused: %ld allocations leaked (status %d)", N, s.live, rc);
    }
    CHECK(refused == total, "%d of %ld allocations were refused in turn", refused, total);
    CHECK(completed == last - total, "%d runs completed, expected %ld", completed, last - total);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/critnet_ckpt_XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_damaged();
    test_alloc_failures();
    /* clean up the folder */
    const char *names[] = {"model.cnm", "good.cnm", "bad.cnm", "oom.cnm", "oom.cnm.tmp", "model.cnm.tmp"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char p[128];
        path_in(p, sizeof p, names[i]);
        remove(p);
    }
    CHECK(rmdir(g_dir) == 0, "%s: files left behind", g_dir);
    return check_summary("test_checkpoint");
}
