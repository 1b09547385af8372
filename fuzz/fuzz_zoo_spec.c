/* fuzz_zoo_spec.c: libFuzzer target for critnet zoo's spec files (zoo_spec_parse, cli/zoo/zoo_spec.c), which
 * turns each line into `critnet train` arguments and checks them with train's own parser. Each input is a
 * spec's text; a parsed spec must give every model an id, a family and an era, distinct ids, and settings
 * that parse again to the same model. The CLI allocates with malloc: LeakSanitizer sees what it leaks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "critnet.h"
#include "fuzz_common.h"
#include "zoo/zoo.h"

static void write_seeds(void)
{
    static const char *const specs[] = {
        "id=a family=f era=e arch=mlp width=8 depth=2 epochs=1\n",
        ("# comment\n\nid=b family=g era=2010s arch=cnn channels=4,8 optim=adam lr=0.001 nesterov=1\n"
         "id=c family=g era=2010s model-file=zoo/lenet5.model sched=cosine standardize=1\n"),
        "id=d family=m era=x act=tanh init=normal sigma-w=1.5 sigma-b=0.05 batch=16 seed=7 limit-train=100\n",
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        char name[32];
        snprintf(name, sizeof name, "spec%zu", i);
        fuzz_seed_file(name, specs[i], strlen(specs[i]));
    }
    char *preset = zoo_preset_text("small");
    if (preset) fuzz_seed_file("preset-small", preset, strlen(preset));
    free(preset);
}

FUZZ_TARGET_INIT("fuzz_zoo_spec", write_seeds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    zoo_settings z = {.data = "gaussian", .in = 16, .threads = 1, .samples = 10, .out = "fuzz-zoo", .quiet = 1};
    zoo_spec s;
    if (zoo_spec_parse(&s, text, "fuzz.spec", zoo_preset_dir(), &z) == 0) {
        if (s.count < 1) abort();
        for (int i = 0; i < s.count; i++) {
            const zoo_model *m = &s.models[i];
            if (!m->id || !*m->id || !m->family || !m->era || !m->settings || m->argc < 1) abort();
            if (zoo_spec_find(&s, m->id) != i) abort();
            /* the canonical settings line is itself a spec line that parses */
            zoo_spec again;
            if (zoo_spec_parse(&again, m->settings, "again.spec", zoo_preset_dir(), &z) != 0 || again.count != 1 ||
                strcmp(again.models[0].settings, m->settings)) {
                fprintf(stdout, "fuzz_zoo_spec: the settings line does not parse back: %s\n", m->settings);
                abort();
            }
            zoo_spec_free(&again);
        }
    }
    zoo_spec_free(&s);
    free(text);
    return 0;
}
