/* json.c: the JSON pieces every subcommand's output shares: numbers (NaN/Inf as null), arrays of them,
 * the argument list that reruns a command, and writing a document to a file. */
#include <math.h>
#include <stdio.h>
#include "cli.h"

cJSON *cli_json_num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

cJSON *cli_json_numbers(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cli_json_num(v[i]));
    return a;
}

cJSON *cli_json_argv(int argc, char **argv)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < argc; i++) cJSON_AddItemToArray(a, cJSON_CreateString(argv[i]));
    return a;
}

int cli_json_write(const char *path, cJSON *root)
{
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        cli_error("%s: out of memory", path);
        return -1;
    }
    cli_report r;
    FILE *f = cli_report_open(&r, path);
    if (f) fprintf(f, "%s\n", text);
    cJSON_free(text);
    return f ? cli_report_commit(&r) : -1;
}
