/* fuzz_cifar.c: libFuzzer target for the CIFAR-10 binary reader (cifar10:DIR, src/data/cifar.c), through
 * cn_data_load. The folder holds data_batch_1..5.bin and test_batch.bin; byte 0 of an input picks the one
 * that gets the rest of the input, and the other five hold one valid record each.
 *
 * Amplification bound: 5 times the folder's size plus 1 MiB (a record of 3073 bytes becomes 3072 floats and
 * a label). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "critnet.h"
#include "fuzz_common.h"

#define RECORD 3073

static const char *const names[6] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};

static void record(uint8_t *r, int label)
{
    r[0] = (uint8_t)label;
    for (int i = 1; i < RECORD; i++) r[i] = (uint8_t)(i * 13 + label);
}

static void write_seeds(void)
{
    static uint8_t buf[1 + 3 * RECORD];
    for (int k = 0; k < 6; k++) {
        char name[16];
        buf[0] = (uint8_t)k;
        for (int i = 0; i <= k % 3; i++) record(buf + 1 + i * RECORD, (k + i) % 10);
        snprintf(name, sizeof name, "file%d", k);
        fuzz_seed_file(name, buf, 1 + (size_t)(k % 3 + 1) * RECORD);
    }
}

FUZZ_TARGET_INIT("fuzz_cifar", write_seeds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static uint8_t one[RECORD];
    record(one, 3);
    int pick = data[0] % 6;
    for (int k = 0; k < 6; k++)
        if (!(k == pick ? fuzz_write_file(names[k], data + 1, size - 1) : fuzz_write_file(names[k], one, RECORD)))
            return 0;
    char spec[512];
    snprintf(spec, sizeof spec, "cifar10:%s", fuzz_dir());
    cn_data_opts opts = {.spec = spec, .standardize = data[0] >> 7};
    cn_data d;
    cn_error err = {0};
    fuzz_begin();
    int rc = cn_data_load(&d, &opts, &err);
    fuzz_check_amplification(5 * (size + 5 * RECORD) + (1u << 20), "cn_data_load(cifar10)");
    if (rc != CN_OK) {
        if (!err.msg[0]) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_cifar: refused (%s): %s\n", cn_strerror(rc), err.msg);
    } else {
        if (d.train.count < 5 || d.test.count < 1 || d.train.classes != 10) abort();
        if (fuzz_verbose) fprintf(stderr, "fuzz_cifar: loaded %d + %d\n", d.train.count, d.test.count);
        cn_data_free(&d);
    }
    fuzz_check_released("cn_data_load and cn_data_free");
    return 0;
}
