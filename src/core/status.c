/* status.c: status codes and the caller-owned error detail. */
#include <stdarg.h>
#include <stdio.h>
#include "critnet.h"

static const char *const status_text[] = {
    [CN_OK] = "ok",
    [CN_ERR_NOMEM] = "out of memory",
    [CN_ERR_IO] = "input/output error",
    [CN_ERR_FORMAT] = "malformed input",
    [CN_ERR_ARG] = "invalid argument",
    [CN_ERR_NONFINITE] = "non-finite value (NaN or Inf)",
    [CN_ERR_UNSUPPORTED] = "unsupported",
    [CN_ERR_STOPPED] = "stopped by the caller",
};
_Static_assert(sizeof status_text / sizeof status_text[0] == CN_STATUS_COUNT, "one text per status");

const char *cn_strerror(int status)
{
    if (status < 0 || status >= CN_STATUS_COUNT) return "unknown status";
    return status_text[status];
}

int cn_error_set(cn_error *err, int status, const char *fmt, ...)
{
    if (err) {
        err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}
