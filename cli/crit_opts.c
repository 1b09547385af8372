/* crit_opts.c: the criticality regulariser's options (--crit-weight, --crit-target, --crit-probes, --crit-every,
 * --crit-batch, --crit-layers), parsed into a cn_crit_settings in one place for `critnet train` (and the zoo's
 * model lines) and `critnet continual`, so that the two read them alike. */
#include <string.h>
#include "cli.h"

int cli_crit_option(cn_crit_settings *s, int opt, const char *arg)
{
    switch (opt) {
    case CLI_O_CRIT_WEIGHT:
        /* a negative weight would push the network away from criticality: refuse it with a message */
        if (arg[0] == '-') {
            cli_error("--crit-weight %s: must be >= 0", arg);
            return -1;
        }
        return cli_parse_real("crit-weight", arg, 0, 1e9, &s->weight) ? -1 : 1;
    case CLI_O_CRIT_TARGET:
        if (!strcmp(arg, "lambda")) s->target = CN_CRIT_LAMBDA;
        else if (!strcmp(arg, "sigma")) s->target = CN_CRIT_SIGMA;
        else {
            cli_error("--crit-target %s: unknown target (expected sigma or lambda)", arg);
            return -1;
        }
        return 1;
    case CLI_O_CRIT_PROBES: return cli_parse_int("crit-probes", arg, 1, 100000, &s->probes) ? -1 : 1;
    case CLI_O_CRIT_EVERY: return cli_parse_int("crit-every", arg, 1, 1 << 30, &s->every) ? -1 : 1;
    case CLI_O_CRIT_BATCH: return cli_parse_int("crit-batch", arg, 1, 1 << 30, &s->batch) ? -1 : 1;
    case CLI_O_CRIT_LAYERS:
        if (!strcmp(arg, "all")) s->layers_all = 1;
        else if (!strcmp(arg, "hidden")) s->layers_all = 0;
        else {
            cli_error("--crit-layers %s: expected hidden or all", arg);
            return -1;
        }
        return 1;
    default: return 0;
    }
}
