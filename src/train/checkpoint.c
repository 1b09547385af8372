/* checkpoint.c: the model.cnm format. All fields little-endian and fixed width; values as float32.
 *   "CRITNET\0" u32 version u32 epoch i64 opt_steps
 *   u32 len + spec text, u32 len + settings JSON
 *   u64 nparams + params, u64 nstate + state, u64 nopt + optimizer state, u64 rng bytes + rng state
 *   version 2 only: u64 len + extension (a block the writer's subcommand defines, e.g. continual learning's)
 *   u32 CRC-32 of everything before it
 * A file without an extension is written as version 1, byte for byte what earlier builds wrote, so old
 * checkpoints and new plain ones read the same everywhere. An imported (ONNX) net's spec text is the line
 * "onnx PATH": the graph is read from that file again, and the weights and state are the checkpoint's. */
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <zlib.h>
#include "core/atomic_file.h"
#include "core/strbuf.h"
#include "net/net_internal.h"

#define CK_MAGIC "CRITNET"
#define CK_VERSION 1u     /* no extension */
#define CK_VERSION_EXT 2u /* with an extension block */
#define CK_MAX_TEXT (16u << 20)
#define CK_MAX_FILE ((long)1 << 34)
#define ONNX_SPEC "onnx " /* the spec text of an imported net: onnx PATH */

typedef struct {
    FILE *f;
    uLong crc;
    int failed;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (w->failed) return;
    if (fwrite(p, 1, n, w->f) != n) w->failed = 1;
    w->crc = crc32(w->crc, p, (uInt)n);
}

static void put_u32(writer *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    put(w, b, 4);
}

static void put_u64(writer *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}

static void put_text(writer *w, const char *s)
{
    put_u32(w, (uint32_t)strlen(s));
    put(w, s, strlen(s));
}

static void put_reals(writer *w, const cn_real *v, size_t n)
{
    put_u64(w, n);
    for (size_t i = 0; i < n; i++) {
        float x = (float)v[i];
        uint32_t u;
        memcpy(&u, &x, 4);
        put_u32(w, u);
    }
}

int cn_checkpoint_save(const char *path, cn_net *net, cn_optim *opt, const cn_rng *rng, int epoch,
                       const char *settings, cn_error *err)
{
    return cn_checkpoint_save_ext(path, net, opt, rng, epoch, settings, NULL, 0, err);
}

int cn_checkpoint_save_ext(const char *path, cn_net *net, cn_optim *opt, const cn_rng *rng, int epoch,
                           const char *settings, const void *ext, size_t ext_size, cn_error *err)
{
    char *spec = NULL;
    if (cn_net_layer_name(net, 0)) { /* an imported graph */
        const char *source = cn_net_source(net);
        if (!source)
            return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: an ONNX model read from memory has no file for the "
                                "checkpoint to refer to", path);
        cn_sb sb = {0};
        cn_sb_printf(&sb, "%s%s\n", ONNX_SPEC, source);
        if (sb.failed) cn_sb_free(&sb);
        else spec = sb.s;
    } else {
        spec = cn_net_spec(net);
    }
    if (!spec) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path);
    cn_atomic_file out;
    int rc = cn_atomic_open(&out, path, err);
    if (rc) {
        cn_free(spec);
        return rc;
    }
    writer w = {out.f, crc32(0, NULL, 0), 0};
    put(&w, CK_MAGIC, 8);
    put_u32(&w, ext_size ? CK_VERSION_EXT : CK_VERSION);
    put_u32(&w, (uint32_t)epoch);
    put_u64(&w, (uint64_t)(opt ? cn_optim_steps(opt) : 0));
    put_text(&w, spec);
    put_text(&w, settings ? settings : "");
    put_reals(&w, net->params, net->nparams);
    put_reals(&w, net->state, net->nstate);
    put_reals(&w, opt ? cn_optim_state(opt) : NULL, opt ? cn_optim_state_count(opt) : 0);
    size_t rs = rng ? cn_rng_state_size(rng) : 0;
    put_u64(&w, rs);
    if (rs) put(&w, cn_rng_state(rng), rs);
    if (ext_size) {
        put_u64(&w, ext_size);
        put(&w, ext, ext_size);
    }
    uint32_t crc = (uint32_t)w.crc;
    put_u32(&w, crc);
    cn_free(spec);
    return cn_atomic_commit(&out, w.failed, err);
}

typedef struct {
    const unsigned char *p;
    size_t left;
} reader;

static int take(reader *r, void *out, size_t n)
{
    if (r->left < n) return 0;
    if (out) memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 1;
}

static int get_u32(reader *r, uint32_t *v)
{
    unsigned char b[4];
    if (!take(r, b, 4)) return 0;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 1;
}

static int get_u64(reader *r, uint64_t *v)
{
    uint32_t lo, hi;
    if (!get_u32(r, &lo) || !get_u32(r, &hi)) return 0;
    *v = (uint64_t)hi << 32 | lo;
    return 1;
}

/* 1: read; 0: truncated; -1: out of memory */
static int get_text(reader *r, char **out)
{
    uint32_t n;
    if (!get_u32(r, &n) || n > CK_MAX_TEXT || n > r->left) return 0;
    *out = cn_malloc(n + 1);
    if (!*out) return -1;
    take(r, *out, n);
    (*out)[n] = 0;
    return 1;
}

/* reads a count that must equal `expect` (or anything, if expect is SIZE_MAX) and that many floats */
static int get_reals(reader *r, cn_real *v, size_t expect, size_t *count)
{
    uint64_t n;
    if (!get_u64(r, &n) || n > r->left / 4 || (expect != SIZE_MAX && n != expect)) return 0;
    if (count) *count = (size_t)n;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        float x;
        get_u32(r, &u);
        memcpy(&x, &u, 4);
        if (v) v[i] = x;
    }
    return 1;
}

void cn_checkpoint_free(cn_checkpoint *ck)
{
    cn_net_free(ck->net);
    cn_free(ck->settings);
    cn_free(ck->opt_state);
    cn_free(ck->rng_state);
    cn_free(ck->ext);
    memset(ck, 0, sizeof *ck);
}

/* the spec text of a native net, or "onnx PATH" (one line) of an imported one */
static int net_from_text(cn_net **net, char *spec, cn_error *err)
{
    if (strncmp(spec, ONNX_SPEC, strlen(ONNX_SPEC)) != 0) return cn_net_from_spec(net, spec, err);
    char *path = spec + strlen(ONNX_SPEC);
    path[strcspn(path, "\n")] = 0;
    return cn_net_from_onnx(net, path, NULL, err);
}

static int read_file(const char *path, unsigned char **buf, size_t *size, cn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error_set(err, CN_ERR_IO, "%s: cannot open", path);
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return cn_error_set(err, CN_ERR_IO, "%s: cannot read", path);
    }
    if (n > CK_MAX_FILE) {
        fclose(f);
        return cn_error_set(err, CN_ERR_FORMAT, "%s: larger than 16 GiB, not a checkpoint", path);
    }
    *buf = cn_malloc((size_t)n + 1);
    if (!*buf) {
        fclose(f);
        return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %ld bytes", path, n);
    }
    size_t got = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        cn_free(*buf);
        return cn_error_set(err, CN_ERR_IO, "%s: read error", path);
    }
    *size = (size_t)n;
    return CN_OK;
}

/* The parameter and state values the model text declares, from a parse that builds only the layers'
 * descriptions. The loader checks them against what the file holds before cn_net_from_spec allocates them: a
 * few bytes of text can declare a layer of billions of weights, and a 6 KB file made the loader allocate
 * 1.9 GB before it found the parameter block too short. */
static int declared_values(const char *spec, uint64_t *count, cn_error *err)
{
    cn_chain chain;
    cn_shape in;
    int rc = cn_spec_parse(&chain, &in, spec, err);
    if (rc) return rc;
    *count = (uint64_t)cn_chain_nparams(&chain) + cn_chain_nstate(&chain);
    cn_chain_free(&chain);
    return CN_OK;
}

int cn_checkpoint_load(cn_checkpoint *ck, const char *path, cn_error *err)
{
    memset(ck, 0, sizeof *ck);
    unsigned char *buf = NULL;
    size_t size = 0;
    int rc = read_file(path, &buf, &size, err);
    if (rc) return rc;
    reader r = {buf, size};
    char magic[8];
    uint32_t version, epoch, crc;
    uint64_t steps, rs;
    char *spec = NULL;
    cn_error local = {0};
    rc = CN_ERR_FORMAT;
    if (size < 8 || memcmp(buf, CK_MAGIC, 8) != 0) {
        cn_error_set(&local, rc, "not a critnet checkpoint (bad magic)");
        goto done;
    }
    if (size < 12 + 4) {
        cn_error_set(&local, rc, "truncated header");
        goto done;
    }
    reader tail = {buf + size - 4, 4};
    get_u32(&tail, &crc);
    take(&r, magic, 8);
    get_u32(&r, &version);
    if (version != CK_VERSION && version != CK_VERSION_EXT) {
        cn_error_set(&local, rc, "version %u, this build reads versions %u and %u", version, CK_VERSION,
                     CK_VERSION_EXT);
        goto done;
    }
    if ((uint32_t)crc32(crc32(0, NULL, 0), buf, (uInt)(size - 4)) != crc) {
        cn_error_set(&local, rc, "checksum mismatch: the file is truncated or corrupt");
        goto done;
    }
    r.left = size - 4 - 12; /* the CRC is not part of the payload */
    int got = 0;
    if (!get_u32(&r, &epoch) || !get_u64(&r, &steps) || (got = get_text(&r, &spec)) <= 0) {
        rc = cn_error_set(&local, got < 0 ? CN_ERR_NOMEM : rc, got < 0 ? "out of memory" : "truncated header");
        goto done;
    }
    if ((got = get_text(&r, &ck->settings)) <= 0) {
        rc = cn_error_set(&local, got < 0 ? CN_ERR_NOMEM : rc, got < 0 ? "out of memory" : "truncated settings");
        goto done;
    }
    /* a native model's declared sizes are checked against the bytes before its net is allocated; an imported
     * one's graph comes from its file, and the blocks below are checked against it */
    uint64_t declared = 0;
    rc = CN_OK;
    if (strncmp(spec, ONNX_SPEC, strlen(ONNX_SPEC)) != 0 && (rc = declared_values(spec, &declared, &local)) == CN_OK &&
        declared > r.left / 4) {
        rc = cn_error_set(&local, CN_ERR_FORMAT, "the model description declares %llu parameter and state values, "
                          "but the file holds %zu bytes after it (4 bytes each)", (unsigned long long)declared, r.left);
        goto done;
    }
    if (rc == CN_OK) rc = net_from_text(&ck->net, spec, &local);
    if (rc != CN_OK) {
        char msg[sizeof local.msg];
        memcpy(msg, local.msg, sizeof msg);
        cn_error_set(&local, rc, "model description: %s", msg);
        goto done;
    }
    rc = CN_ERR_FORMAT;
    if (!get_reals(&r, ck->net->params, ck->net->nparams, NULL)) {
        cn_error_set(&local, rc, "parameter block does not match the model (%zu parameters expected)",
                     ck->net->nparams);
        goto done;
    }
    if (!get_reals(&r, ck->net->state, ck->net->nstate, NULL)) {
        cn_error_set(&local, rc, "state block does not match the model");
        goto done;
    }
    reader peek = r;
    uint64_t nopt;
    if (!get_u64(&peek, &nopt) || nopt > peek.left / 4) {
        cn_error_set(&local, rc, "truncated optimizer state");
        goto done;
    }
    ck->opt_state = cn_malloc((size_t)(nopt ? nopt : 1) * sizeof(cn_real));
    if (!ck->opt_state) {
        rc = cn_error_set(&local, CN_ERR_NOMEM, "out of memory");
        goto done;
    }
    get_reals(&r, ck->opt_state, SIZE_MAX, &ck->opt_count);
    if (!get_u64(&r, &rs) || rs > r.left || rs > (1u << 20)) {
        cn_error_set(&local, rc, "truncated RNG state");
        goto done;
    }
    ck->rng_size = (size_t)rs;
    ck->rng_state = cn_malloc(rs ? (size_t)rs : 1);
    if (!ck->rng_state) {
        rc = cn_error_set(&local, CN_ERR_NOMEM, "out of memory");
        goto done;
    }
    take(&r, ck->rng_state, (size_t)rs);
    if (version == CK_VERSION_EXT) {
        uint64_t es;
        if (!get_u64(&r, &es) || es == 0 || es > r.left) {
            cn_error_set(&local, rc, "truncated extension block");
            goto done;
        }
        ck->ext = cn_malloc((size_t)es);
        if (!ck->ext) {
            rc = cn_error_set(&local, CN_ERR_NOMEM, "out of memory");
            goto done;
        }
        take(&r, ck->ext, (size_t)es);
        ck->ext_size = (size_t)es;
    }
    if (r.left != 0) {
        cn_error_set(&local, rc, "%zu unexpected bytes before the checksum", r.left);
        goto done;
    }
    for (size_t i = 0; i < ck->net->nparams; i++)
        if (!isfinite(ck->net->params[i])) {
            rc = cn_error_set(&local, CN_ERR_NONFINITE, "parameter %zu is not finite", i);
            goto done;
        }
    ck->epoch = (int)epoch;
    ck->opt_steps = (long)steps;
    rc = CN_OK;
done:
    cn_free(spec);
    cn_free(buf);
    if (rc) {
        cn_checkpoint_free(ck);
        cn_error_set(err, rc, "%s: %s", path, local.msg);
    }
    return rc;
}

int cn_checkpoint_restore(const cn_checkpoint *ck, cn_optim *opt, cn_rng *rng, cn_error *err)
{
    if (opt) {
        if (ck->opt_count != cn_optim_state_count(opt))
            return cn_error_set(err, CN_ERR_FORMAT, "checkpoint optimizer state has %zu values, the optimizer %zu",
                                ck->opt_count, cn_optim_state_count(opt));
        memcpy(cn_optim_state(opt), ck->opt_state, ck->opt_count * sizeof(cn_real));
        cn_optim_set_steps(opt, ck->opt_steps);
    }
    if (rng && ck->rng_size) {
        if (cn_rng_set_state(rng, ck->rng_state, ck->rng_size) != CN_OK)
            return cn_error_set(err, CN_ERR_FORMAT, "checkpoint RNG state has the wrong size");
    }
    return CN_OK;
}
