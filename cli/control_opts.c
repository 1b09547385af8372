/* control_opts.c: the homeostatic controller's options (--control, --control-every, --control-rate,
 * --control-band), parsed into a cn_control_settings in one place for every command that trains. */
#include <string.h>
#include "cli.h"

const char *cli_control_name(cn_control_kind k) { return k == CN_CONTROL_HOMEOSTATIC ? "homeostatic" : "none"; }

int cli_control_option(cn_control_settings *s, int opt, const char *arg)
{
    switch (opt) {
    case CLI_O_CONTROL:
        if (!strcmp(arg, "homeostatic")) s->kind = CN_CONTROL_HOMEOSTATIC;
        else if (!strcmp(arg, "none")) s->kind = CN_CONTROL_NONE;
        else {
            cli_error("--control %s: expected none or homeostatic", arg);
            return -1;
        }
        return 1;
    case CLI_O_CONTROL_EVERY: return cli_parse_int("control-every", arg, 1, 1 << 30, &s->every) ? -1 : 1;
    case CLI_O_CONTROL_RATE:
        if (cli_parse_real("control-rate", arg, 0, 1, &s->rate)) return -1;
        if (s->rate > 0) return 1;
        cli_error("--control-rate %s: must be in (0, 1]", arg);
        return -1;
    case CLI_O_CONTROL_BAND: return cli_parse_real("control-band", arg, 0, 9.99, &s->band) ? -1 : 1;
    default: return 0;
    }
}
