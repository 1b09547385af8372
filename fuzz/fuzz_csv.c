/* fuzz_csv.c: libFuzzer target for the CSV reader of `critnet stats` and `critnet zoo-report` (cli_csv_read,
 * cli/csv.c). Each input is a table; when it reads, every cell is read as a number, and columns are looked up
 * by name, present and absent. The CLI allocates with malloc: LeakSanitizer sees its leaks, and libFuzzer's
 * -malloc_limit_mb (64 for this target, fuzz/run.sh) is the check that a 16 KB table cannot make the reader
 * allocate for millions of cells. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "critnet.h"
#include "csv.h"
#include "fuzz_common.h"

static void write_seeds(void)
{
    static const char *const tables[] = {
        ("epoch,train_loss,train_acc,test_loss,test_acc,sigma,lambda0,crit_reg,seconds\n"
         "1,0.5,0.8,0.6,0.79,1.01,-0.02,nan,1.5\n2,0.4,0.85,0.5,0.82,0.99,0.01,,1.4\n"),
        "size\n1\n2\n\n3\n10\n",
        "a, b ,c\r\n1e3, -2 ,NaN\r\n\r\n4,5,6\r\n",
        "task,acc\n0,0.5\n1,x\n",
        "x,y\n1,\"2\"\n",
    };
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char name[32];
        snprintf(name, sizeof name, "table%zu.csv", i);
        fuzz_seed_file(name, tables[i], strlen(tables[i]));
    }
}

FUZZ_TARGET_INIT("fuzz_csv", write_seeds)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("t.csv", data, size);
    if (!path) return 0;
    cli_csv t;
    if (cli_csv_read(&t, path) == 0) {
        if (t.cols < 1 || t.rows < 1) abort();
        for (int r = 0; r < t.rows; r++)
            for (int c = 0; c < t.cols; c++) {
                double v;
                cli_csv_number(&t, r, c, &v);
            }
        if (cli_csv_column(&t, t.header[t.cols - 1], "fuzz") != t.cols - 1) abort(); /* names are distinct */
        cli_csv_column(&t, "no such column", "fuzz");
        char joined[64];
        cli_csv_join(joined, sizeof joined, (const char *const *)t.header, t.cols);
        cli_csv_free(&t);
    } else if (t.header || t.cell || t.text) {
        abort(); /* a failed read leaves the table empty */
    }
    return 0;
}
