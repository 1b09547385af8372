/* json_file.c: see json_file.h. */
#include <stdio.h>
#include "critnet.h"
#include "core/json_file.h"

int cn_json_save(const char *path, cJSON *root)
{
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return CN_ERR_NOMEM;
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f)) ok = 0;
    cJSON_free(text);
    return ok ? CN_OK : CN_ERR_IO;
}
