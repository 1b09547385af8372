/* json_file.c: see json_file.h. */
#include <string.h>
#include "critnet.h"
#include "core/json_file.h"

int cn_json_save(const char *path, cJSON *root, cn_error *err)
{
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* the NUL becomes the newline a text file ends with; the length says where it stops */
    int rc = cn_file_replace(path, text, n + 1, err);
    cJSON_free(text);
    return rc;
}
