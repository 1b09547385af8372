/* fuzz_spec.c: libFuzzer target for the model format (cn_net_from_spec, src/net/spec.c). Each input is a model
 * text; when it parses, the text critnet writes back for it (cn_net_spec) must parse to the same number of
 * parameters and state values and write back identically, and a model with small inputs is initialised and
 * run forward, backward and in tangent mode at batch 2.
 *
 * A model text may declare any size, so there is no amplification bound here (the checkpoint target has
 * one); the budget (FUZZ_BUDGET_MB, default 64) turns huge models into the library's out-of-memory path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "critnet.h"
#include "fuzz_common.h"

static void write_seeds(void)
{
    for (int i = 0; fuzz_models[i]; i++) {
        char name[32];
        snprintf(name, sizeof name, "model%d.model", i);
        fuzz_seed_file(name, fuzz_models[i], strlen(fuzz_models[i]));
    }
}

FUZZ_TARGET_INIT("fuzz_spec", write_seeds)

static void run(cn_net *net)
{
    int in = cn_net_in_size(net), out = cn_net_out_size(net), batch = 2;
    if (in <= 0 || out <= 0 || in > (1 << 14) || cn_net_param_count(net) > (1u << 20)) return;
    cn_rng *rng = cn_rng_new(3);
    cn_init init = {.kind = CN_INIT_KAIMING_UNIFORM};
    cn_real *x = malloc(sizeof(cn_real) * (size_t)in * batch), *tx = malloc(sizeof(cn_real) * (size_t)in * batch);
    cn_real *dy = malloc(sizeof(cn_real) * (size_t)out * batch), *ty = malloc(sizeof(cn_real) * (size_t)out * batch);
    if (rng && x && tx && dy && ty && cn_net_init(net, &init, rng) == CN_OK && cn_net_reserve(net, batch, 1) == CN_OK) {
        for (int i = 0; i < in * batch; i++) x[i] = tx[i] = (cn_real)((i % 5) - 2) / 3;
        for (int i = 0; i < out * batch; i++) dy[i] = 1;
        cn_net_forward(net, x, batch, 1);
        cn_net_backward(net, dy, NULL, batch);
        cn_net_forward(net, x, batch, 0);
        cn_net_jvp(net, tx, ty, batch, 1);
    }
    free(x);
    free(tx);
    free(dy);
    free(ty);
    cn_rng_free(rng);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    cn_net *net = NULL;
    cn_error err = {0};
    int rc = cn_net_from_spec(&net, text, &err);
    free(text);
    if (rc != CN_OK) {
        if (net || !err.msg[0]) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_spec: refused (%s): %s\n", cn_strerror(rc), err.msg);
        fuzz_check_released("a failed parse");
        return 0;
    }
    char *spec = cn_net_spec(net);
    if (spec) {
        cn_net *again = NULL;
        rc = cn_net_from_spec(&again, spec, &err);
        if (rc == CN_OK) {
            char *spec2 = cn_net_spec(again);
            if (cn_net_param_count(again) != cn_net_param_count(net) ||
                cn_net_state_count(again) != cn_net_state_count(net) || (spec2 && strcmp(spec, spec2))) {
                fprintf(stderr, "fuzz_spec: the written-back text differs:\n%s---\n%s", spec, spec2 ? spec2 : "");
                abort();
            }
            cn_free(spec2);
        } else if (rc != CN_ERR_NOMEM) {
            fprintf(stderr, "fuzz_spec: the written-back text does not parse (%s):\n%s", err.msg, spec);
            abort();
        }
        cn_net_free(again);
        cn_free(spec);
    }
    run(net);
    cn_net_free(net);
    fuzz_check_released("cn_net_free");
    return 0;
}
