/* check.h: a minimal test harness. Each CHECK counts; a test returns the number of failures, so
 * ctest sees a non-zero exit status whenever anything failed. */
#ifndef CN_CHECK_H
#define CN_CHECK_H
#include <math.h>
#include <stdio.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        check_count++;                                                                     \
        if (!(cond)) {                                                                     \
            check_failures++;                                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
        }                                                                                  \
    } while (0)

#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        int check_rc_ = (expr);                                                            \
        CHECK(check_rc_ == 0, "%s returned %d", #expr, check_rc_);                         \
    } while (0)

/* closing line: "N passed, N failed" */
static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_count - check_failures, check_failures);
    return check_failures ? 1 : 0;
}
#endif
