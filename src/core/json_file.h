/* json_file.h: writing a cJSON tree to a file, shared by the library's summary.json writers. */
#ifndef CN_JSON_FILE_H
#define CN_JSON_FILE_H
#include <cjson/cJSON.h>
#include "critnet.h"

/* Writes root, pretty-printed and newline-terminated, to path (replaced whole or left as it was, as
 * cn_file_replace does) and deletes root either way. CN_OK, or CN_ERR_NOMEM / CN_ERR_IO naming the file. */
int cn_json_save(const char *path, cJSON *root, cn_error *err);
#endif
