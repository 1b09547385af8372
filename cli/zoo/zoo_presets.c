/* zoo_presets.c: the built-in populations of `critnet zoo`, written as spec text (so that --print-spec shows
 * exactly what runs, and a file with that text reruns it). They span the eras of deep learning and the phases
 * of the mean-field theory: docs/zoo.md lists the families and explains the budgets. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "zoo.h"

#ifndef CN_ZOO_DIR
#define CN_ZOO_DIR "examples/zoo"
#endif

const char *zoo_preset_dir(void)
{
    /* the source tree's folder when the program runs where it was built; else relative to the working folder */
    return access(CN_ZOO_DIR "/lenet5.model", R_OK) == 0 ? CN_ZOO_DIR : "examples/zoo";
}

typedef struct {
    char *s;
    size_t len, cap;
    int models, failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || t->failed) return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 8192) + (size_t)n;
        char *s = realloc(t->s, cap);
        if (!s) {
            t->failed = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* Training budgets, fixed per family so that a row's cost is known in advance: about 1 to 20 s on one thread
 * (docs/zoo.md has the times). 20,000 (MLPs) or 10,000 (CNNs) training examples give accuracies from chance to
 * ~87%, so that they differ by family, depth and initialisation instead of all saturating. 1990s models take
 * small batches (online-style SGD), as they were trained then. */
#define MLP "epochs=5 batch=128 limit-train=20000"
#define OLD "epochs=5 batch=32 limit-train=20000"
#define CNN "epochs=3 batch=64 limit-train=10000"
#define RESNET "epochs=2 batch=64 limit-train=6000"

/* one model line: the id, family and era, then critnet train options */
#define MODEL(t, id, family, era, ...) (put(t, "id=%-28s family=%-18s era=%-6s ", id, family, era), \
                                        put(t, __VA_ARGS__), put(t, "\n"), (t)->models++)

/* Mean field: a tanh MLP with W ~ N(0, sw^2/n), b ~ N(0, 0.05^2) is critical at sw = 1.1225 (critnet theory
 * --act tanh --sigma-b 0.05 --critical), ordered below and chaotic above; a ReLU one with b = 0 at sw = sqrt 2. */
#define TANH_CRIT "1.1225"
#define RELU_CRIT "1.4142"

static void small(text *t)
{
    put(t, "# 1990s: sigmoid and tanh MLPs, U(+-1/sqrt(fan_in)) (init=torch) or small normal weights; LeNet-5\n");
    MODEL(t, "mlp-sigmoid-d2", "mlp-sigmoid", "1990s", "arch=mlp act=sigmoid width=100 depth=2 init=torch optim=sgd lr=0.5 momentum=0 " OLD " seed=1");
    MODEL(t, "mlp-sigmoid-d4", "mlp-sigmoid", "1990s", "arch=mlp act=sigmoid width=100 depth=4 init=torch optim=sgd lr=0.5 momentum=0 " OLD " seed=2");
    MODEL(t, "mlp-tanh-d2", "mlp-tanh", "1990s", "arch=mlp act=tanh width=100 depth=2 init=torch optim=sgd lr=0.05 momentum=0.9 " OLD " seed=3");
    MODEL(t, "mlp-tanh-d4-sw0.5", "mlp-tanh", "1990s", "arch=mlp act=tanh width=100 depth=4 init=normal sigma-w=0.5 optim=sgd lr=0.05 momentum=0.9 " OLD " seed=4");
    MODEL(t, "lenet5", "lenet", "1990s", "model-file=lenet5.model init=torch optim=sgd lr=0.05 momentum=0.9 " CNN " seed=5");
    put(t, "# early 2010s: ReLU with Kaiming init, dropout, convolutional nets; orthogonal init\n");
    MODEL(t, "mlp-relu-d3", "mlp-relu", "2010s", "arch=mlp act=relu width=256 depth=3 init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " MLP " seed=6");
    MODEL(t, "mlp-relu-d3-dropout", "mlp-dropout", "2010s", "arch=mlp act=relu width=256 depth=3 dropout=0.3 init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " MLP " seed=7");
    MODEL(t, "mlp-tanh-d6-orthogonal", "mlp-orthogonal", "2010s", "arch=mlp act=tanh width=128 depth=6 init=orthogonal sigma-w=1.1 optim=sgd lr=0.02 momentum=0.9 " MLP " seed=8");
    MODEL(t, "cnn-relu", "cnn", "2010s", "arch=cnn act=relu width=16 depth=2 init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " CNN " seed=9");
    put(t, "# late 2010s: Adam, batch and layer norm, residual MLPs and ResNets\n");
    MODEL(t, "mlp-relu-d3-adam", "mlp-relu", "2015+", "arch=mlp act=relu width=256 depth=3 init=kaiming_normal optim=adam lr=0.001 " MLP " seed=10");
    MODEL(t, "mlp-relu-d6-batchnorm", "mlp-batchnorm", "2015+", "arch=mlp act=relu width=128 depth=6 norm=batch init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " MLP " seed=11");
    MODEL(t, "mlp-relu-d6-layernorm", "mlp-layernorm", "2015+", "arch=mlp act=relu width=128 depth=6 norm=layer init=kaiming_normal optim=adam lr=0.001 " MLP " seed=12");
    MODEL(t, "resmlp8", "resmlp", "2015+", "model-file=resmlp8.model init=torch optim=sgd lr=0.02 momentum=0.9 " MLP " seed=13");
    MODEL(t, "resnet-w8", "resnet", "2015+", "arch=resnet width=8 depth=1 norm=batch init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " RESNET " seed=14");
    MODEL(t, "cnn-relu-adam", "cnn", "2015+", "arch=cnn act=relu width=16 depth=2 init=kaiming_normal optim=adam lr=0.001 " CNN " seed=15");
    put(t, "# mean field: deep tanh and ReLU MLPs with N(0, sw^2/n) weights, ordered / critical / chaotic\n");
    static const char *tanh_sw[] = {"0.6", TANH_CRIT, "2.5"}, *relu_sw[] = {"1.0", RELU_CRIT, "2.0"};
    static const char *phase[] = {"ordered", "critical", "chaotic"};
    int seed = 16;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 3; i++) {
            char id[64];
            int depth = d ? 20 : 6;
            snprintf(id, sizeof id, "mf-tanh-d%d-%s", depth, phase[i]);
            MODEL(t, id, "meanfield-tanh", "2016+", "arch=mlp act=tanh width=128 depth=%d init=normal sigma-w=%s sigma-b=0.05 optim=sgd lr=0.01 momentum=0.9 " MLP " seed=%d", depth, tanh_sw[i], seed++);
        }
    for (int i = 0; i < 3; i++) {
        char id[64];
        snprintf(id, sizeof id, "mf-relu-d20-%s", phase[i]);
        MODEL(t, id, "meanfield-relu", "2016+", "arch=mlp act=relu width=128 depth=20 init=normal sigma-w=%s sigma-b=0 optim=sgd lr=0.005 momentum=0.9 " MLP " seed=%d", relu_sw[i], seed++);
    }
}

static void full(text *t)
{
    char id[64];
    int seed = 100;
    put(t, "# 1990s: sigmoid and tanh MLPs, U(+-1/sqrt(fan_in)) (init=torch) or small normal weights; LeNet-5\n");
    static const char *old_act[] = {"sigmoid", "tanh"};
    for (int a = 0; a < 2; a++)
        for (int depth = 2; depth <= 4; depth += 2)
            for (int normal = 0; normal < 2; normal++)
                for (int s = 1; s <= 2; s++) {
                    snprintf(id, sizeof id, "mlp-%s-d%d-%s-s%d", old_act[a], depth, normal ? "sw0.5" : "torch", s);
                    MODEL(t, id, a ? "mlp-tanh" : "mlp-sigmoid", "1990s", "arch=mlp act=%s width=100 depth=%d init=%s optim=sgd lr=%s momentum=%s " OLD " seed=%d",
                          old_act[a], depth, normal ? "normal sigma-w=0.5" : "torch", a ? "0.05" : "0.5", a ? "0.9" : "0", seed++);
                }
    for (int o = 0; o < 2; o++)
        for (int s = 1; s <= 2; s++) {
            snprintf(id, sizeof id, "lenet5-%s-s%d", o ? "adam" : "sgd", s);
            MODEL(t, id, "lenet", "1990s", "model-file=lenet5.model init=torch optim=%s " CNN " seed=%d",
                  o ? "adam lr=0.001" : "sgd lr=0.05 momentum=0.9", seed++);
        }
    put(t, "# early 2010s: ReLU with Kaiming init, dropout, convolutional nets; orthogonal init\n");
    for (int depth = 3; depth <= 6; depth += 3)
        for (int o = 0; o < 2; o++)
            for (int s = 1; s <= 2; s++) {
                snprintf(id, sizeof id, "mlp-relu-d%d-%s-s%d", depth, o ? "adam" : "sgd", s);
                MODEL(t, id, "mlp-relu", o ? "2015+" : "2010s", "arch=mlp act=relu width=256 depth=%d init=kaiming_normal optim=%s " MLP " seed=%d",
                      depth, o ? "adam lr=0.001" : "sgd lr=0.05 momentum=0.9", seed++);
            }
    static const char *drop[] = {"0.2", "0.5"};
    for (int p = 0; p < 2; p++)
        for (int s = 1; s <= 2; s++) {
            snprintf(id, sizeof id, "mlp-relu-dropout%s-s%d", drop[p], s);
            MODEL(t, id, "mlp-dropout", "2010s", "arch=mlp act=relu width=256 depth=3 dropout=%s init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " MLP " seed=%d", drop[p], seed++);
        }
    for (int depth = 6; depth <= 12; depth += 6) {
        snprintf(id, sizeof id, "mlp-tanh-d%d-orthogonal", depth);
        MODEL(t, id, "mlp-orthogonal", "2010s", "arch=mlp act=tanh width=128 depth=%d init=orthogonal sigma-w=1.1 optim=sgd lr=0.02 momentum=0.9 " MLP " seed=%d", depth, seed++);
    }
    for (int o = 0; o < 2; o++)
        for (int s = 1; s <= 2; s++) {
            snprintf(id, sizeof id, "cnn-relu-%s-s%d", o ? "adam" : "sgd", s);
            MODEL(t, id, "cnn", o ? "2015+" : "2010s", "arch=cnn act=relu width=16 depth=2 init=kaiming_normal optim=%s " CNN " seed=%d",
                  o ? "adam lr=0.001" : "sgd lr=0.05 momentum=0.9", seed++);
        }
    put(t, "# late 2010s: batch and layer norm, residual MLPs and ResNets\n");
    static const char *norm[] = {"batch", "layer"};
    for (int n = 0; n < 2; n++)
        for (int depth = 3; depth <= 10; depth += 7)
            for (int s = 1; s <= 2; s++) {
                snprintf(id, sizeof id, "mlp-relu-d%d-%snorm-s%d", depth, norm[n], s);
                MODEL(t, id, n ? "mlp-layernorm" : "mlp-batchnorm", "2015+", "arch=mlp act=relu width=128 depth=%d norm=%s init=kaiming_normal optim=%s " MLP " seed=%d",
                      depth, norm[n], n ? "adam lr=0.001" : "sgd lr=0.05 momentum=0.9", seed++);
            }
    static const char *resmlp[] = {"resmlp4", "resmlp8", "resmlp16", "resmlp8-ln"};
    for (int f = 0; f < 4; f++)
        for (int s = 1; s <= 2; s++) {
            snprintf(id, sizeof id, "%s-s%d", resmlp[f], s);
            /* Kaiming weights double the variance at every block without normalisation (they diverge within
             * a few steps); torch's default init keeps the branches small */
            MODEL(t, id, "resmlp", "2015+", "model-file=%s.model init=%s " MLP " seed=%d", resmlp[f],
                  f == 3 ? "kaiming_normal optim=adam lr=0.001" : "torch optim=sgd lr=0.02 momentum=0.9", seed++);
        }
    MODEL(t, "resnet-w8-d1-sgd-s1", "resnet", "2015+", "arch=resnet width=8 depth=1 norm=batch init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " RESNET " seed=%d", seed++);
    MODEL(t, "resnet-w8-d1-sgd-s2", "resnet", "2015+", "arch=resnet width=8 depth=1 norm=batch init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " RESNET " seed=%d", seed++);
    MODEL(t, "resnet-w8-d1-adam", "resnet", "2015+", "arch=resnet width=8 depth=1 norm=batch init=kaiming_normal optim=adam lr=0.001 " RESNET " seed=%d", seed++);
    MODEL(t, "resnet-w8-d2-sgd", "resnet", "2015+", "arch=resnet width=8 depth=2 norm=batch init=kaiming_normal optim=sgd lr=0.05 momentum=0.9 " RESNET " seed=%d", seed++);
    put(t, "# mean field: deep tanh and ReLU MLPs with N(0, sw^2/n) weights across the ordered, critical and\n"
           "# chaotic phases, over depth; a few with Adam and other widths\n");
    static const char *tanh_sw[] = {"0.5", "0.8", TANH_CRIT, "1.5", "2.0", "3.0"};
    static const char *relu_sw[] = {"1.0", "1.2", RELU_CRIT, "1.7", "2.0"};
    static const int depths[] = {5, 10, 20};
    for (int d = 0; d < 3; d++)
        for (int i = 0; i < 6; i++) {
            snprintf(id, sizeof id, "mf-tanh-d%d-sw%s", depths[d], tanh_sw[i]);
            MODEL(t, id, "meanfield-tanh", "2016+", "arch=mlp act=tanh width=128 depth=%d init=normal sigma-w=%s sigma-b=0.05 optim=sgd lr=0.01 momentum=0.9 " MLP " seed=%d", depths[d], tanh_sw[i], seed++);
        }
    for (int d = 0; d < 3; d++)
        for (int i = 0; i < 5; i++) {
            snprintf(id, sizeof id, "mf-relu-d%d-sw%s", depths[d], relu_sw[i]);
            MODEL(t, id, "meanfield-relu", "2016+", "arch=mlp act=relu width=128 depth=%d init=normal sigma-w=%s sigma-b=0 optim=sgd lr=0.005 momentum=0.9 " MLP " seed=%d", depths[d], relu_sw[i], seed++);
        }
    static const char *adam_sw[] = {"0.5", TANH_CRIT, "3.0"};
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof id, "mf-tanh-d10-sw%s-adam", adam_sw[i]);
        MODEL(t, id, "meanfield-tanh", "2016+", "arch=mlp act=tanh width=128 depth=10 init=normal sigma-w=%s sigma-b=0.05 optim=adam lr=0.001 " MLP " seed=%d", adam_sw[i], seed++);
    }
    static const int widths[] = {32, 512};
    for (int w = 0; w < 2; w++) {
        snprintf(id, sizeof id, "mf-tanh-d10-critical-w%d", widths[w]);
        MODEL(t, id, "meanfield-tanh", "2016+", "arch=mlp act=tanh width=%d depth=10 init=normal sigma-w=" TANH_CRIT " sigma-b=0.05 optim=sgd lr=0.01 momentum=0.9 " MLP " seed=%d", widths[w], seed++);
    }
}

char *zoo_preset_text(const char *name)
{
    text body = {0}, t = {0};
    if (!strcmp(name, "small")) small(&body);
    else if (!strcmp(name, "full")) full(&body);
    else return NULL;
    put(&t, "# critnet zoo preset \"%s\": %d models (critnet zoo --preset %s --print-spec; docs/zoo.md).\n", name,
        body.models, name);
    put(&t, "# model-file paths are relative to examples/zoo/: saved there, this text reruns as --spec.\n");
    put(&t, "%s", body.s ? body.s : "");
    free(body.s);
    if (t.failed || body.failed) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
