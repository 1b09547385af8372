/* fuzz_checkpoint.c: libFuzzer target for the checkpoint reader (cn_checkpoint_load, src/train/checkpoint.c).
 * Each input is a model.cnm file; when it loads, the optimizer and RNG state are restored into fresh ones, the
 * model text is written back out and parsed again (same parameter count), and a small model runs forward once.
 *
 * The load must ask for no more than 8 times the file's size plus 1 MiB (fuzz_check_amplification): every
 * parameter, state value and optimizer value is 4 bytes in the file, and the reader keeps the file, the
 * parameters, their gradients and the optimizer state at once.
 *
 * The file ends in a CRC-32, so byte mutations alone almost never get past the check. The mutator below
 * therefore mends the CRC after most mutations, and edits the fields too: the model text (mutated as text,
 * its length prefix kept right) and the counts, set to limit values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "critnet.h"
#include "fuzz_common.h"

/* Seeds: each of fuzz_models saved as a training run would (initialised, Adam state, RNG), without and with
 * an extension block, by cn_checkpoint_save itself. */
static void write_seeds(void)
{
    cn_optim_cfg oc = {.kind = CN_OPT_ADAM, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    for (int i = 0; fuzz_models[i]; i++) {
        cn_net *net = NULL;
        cn_optim *opt = NULL;
        cn_rng *rng = cn_rng_new((uint64_t)i + 1);
        cn_error err = {0};
        cn_init init = {.kind = CN_INIT_TORCH};
        if (cn_net_from_spec(&net, fuzz_models[i], &err) || cn_net_init(net, &init, rng) ||
            cn_optim_new(&opt, &oc, cn_net_param_count(net))) {
            fprintf(stderr, "fuzz_checkpoint: seed model %d: %s\n", i, err.msg);
            abort();
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/model%d.cnm", fuzz_seed_dir(), i);
        int rc = i % 2 ? cn_checkpoint_save(path, net, opt, rng, i, "{\"seed\":1}", &err)
                       : cn_checkpoint_save_ext(path, net, opt, rng, i, "{}", "ext", 3, &err);
        if (rc) {
            fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
            abort();
        }
        cn_optim_free(opt);
        cn_rng_free(rng);
        cn_net_free(net);
    }
}

FUZZ_TARGET_INIT("fuzz_checkpoint", write_seeds)

static void run_small(cn_net *net)
{
    int in = cn_net_in_size(net);
    if (in <= 0 || in > (1 << 16) || cn_net_reserve(net, 1, 1) != CN_OK) return;
    cn_real *x = calloc((size_t)in, sizeof *x);
    if (!x) return;
    for (int i = 0; i < in; i++) x[i] = (cn_real)((i % 7) - 3) / 4;
    cn_net_forward(net, x, 1, 0);
    volatile cn_real sink = 0;
    const cn_real *y = cn_net_output(net);
    for (int i = 0; i < cn_net_out_size(net); i++) sink += y[i];
    (void)sink;
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("model.cnm", data, size);
    if (!path) return 0;
    fuzz_begin();
    cn_checkpoint ck;
    cn_error err = {0};
    int rc = cn_checkpoint_load(&ck, path, &err);
    fuzz_check_amplification(8 * size + (1u << 20), "cn_checkpoint_load");
    if (rc != CN_OK) {
        if (ck.net || ck.settings || ck.opt_state || ck.rng_state || ck.ext) abort(); /* a failed load keeps nothing */
        if (!err.msg[0] || !strstr(err.msg, path)) abort();                           /* and names the file */
        if (fuzz_verbose) fprintf(stderr, "fuzz_checkpoint: refused (%s): %s\n", cn_strerror(rc), err.msg);
        fuzz_check_released("a failed load");
        return 0;
    }
    if (!ck.net || !ck.settings) abort();
    cn_rng *rng = cn_rng_new(1);
    if (rng) {
        cn_error e2 = {0};
        if (cn_checkpoint_restore(&ck, NULL, rng, &e2) != CN_OK && !e2.msg[0]) abort();
        cn_rng_free(rng);
    }
    /* the model text the checkpoint holds, written back, describes the same model */
    char *spec = cn_net_spec(ck.net);
    if (spec) {
        cn_net *again = NULL;
        if (cn_net_from_spec(&again, spec, NULL) == CN_OK &&
            cn_net_param_count(again) != cn_net_param_count(ck.net))
            abort();
        cn_net_free(again);
        cn_free(spec);
    }
    run_small(ck.net);
    if (fuzz_verbose)
        fprintf(stderr, "fuzz_checkpoint: loaded, epoch %d, %zu parameters\n", ck.epoch, cn_net_param_count(ck.net));
    cn_checkpoint_free(&ck);
    fuzz_check_released("cn_checkpoint_free");
    return 0;
}

/* ------------------------------------------------------------------ a structure-aware mutator */

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static size_t mend_crc(uint8_t *data, size_t size)
{
    if (size >= 16) wr32(data + size - 4, (uint32_t)crc32(crc32(0, NULL, 0), data, (uInt)(size - 4)));
    return size;
}

/* The model text starts at byte 24 (magic 8, version 4, epoch 4, steps 8), after its u32 length. */
static size_t mutate_text(uint8_t *data, size_t size, size_t max_size)
{
    if (size < 32) return 0;
    uint32_t n = rd32(data + 24);
    if (n > size - 28 || n > 8192) return 0;
    uint8_t text[16384];
    memcpy(text, data + 28, n);
    size_t m = LLVMFuzzerMutate(text, n, sizeof text);
    size_t rest = size - 28 - n;
    if (28 + m + rest > max_size) return 0;
    memmove(data + 28 + m, data + 28 + n, rest);
    memcpy(data + 28, text, m);
    wr32(data + 24, (uint32_t)m);
    return 28 + m + rest;
}

/* One of the fields that hold a count or length, found by walking the layout, set to a limit value. */
static size_t mutate_count(uint8_t *data, size_t size, unsigned seed)
{
    static const uint64_t limits[] = {0, 1, 2, 3, 255, 65535, 1u << 20, 0x7fffffff, 0xffffffff,
                                      (uint64_t)1 << 32, (uint64_t)1 << 62, UINT64_MAX};
    size_t at[8], width[8], k = 0, p = 24;
    for (int t = 0; t < 2 && p + 4 <= size; t++) { /* model text, settings */
        at[k] = p, width[k++] = 4;
        p += 4 + rd32(data + p);
    }
    for (int b = 0; b < 5 && p + 8 <= size; b++) { /* params, state, optimizer (floats), rng, extension (bytes) */
        at[k] = p, width[k++] = 8;
        uint64_t n = rd32(data + p) | (uint64_t)rd32(data + p + 4) << 32;
        if (n > size) break;
        p += 8 + (b < 3 ? 4 * n : n);
    }
    if (!k) return 0;
    size_t i = seed % k;
    uint64_t v = limits[(seed / 8) % (sizeof limits / sizeof *limits)];
    if (at[i] + width[i] > size) return 0;
    wr32(data + at[i], (uint32_t)v);
    if (width[i] == 8) wr32(data + at[i] + 4, (uint32_t)(v >> 32));
    return size;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    size_t n = 0;
    switch (seed % 5) {
    case 0: return LLVMFuzzerMutate(data, size, max_size); /* the CRC as the bytes leave it */
    case 1: case 2: n = mutate_text(data, size, max_size); break;
    case 3: n = mutate_count(data, size, seed / 5); break;
    default: break;
    }
    if (!n) n = LLVMFuzzerMutate(data, size, max_size);
    return mend_crc(data, n);
}
