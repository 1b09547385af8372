/* dr_opts.c: the options of the dynamic range that critnet measure and critnet phase share: the stimulus
 * grid (--dr-points, --dr-smin, --dr-smax), --stimulus and --response. */
#include <string.h>
#include "cli.h"

int cli_dr_option(cn_measure_cfg *m, const char *name, const char *arg)
{
    if (!strcmp(name, "dr-points")) return cli_parse_int("dr-points", arg, 2, 100000, &m->dr_points) ? -1 : 1;
    if (!strcmp(name, "dr-smin")) return cli_parse_real("dr-smin", arg, 1e-300, 1e300, &m->dr_smin) ? -1 : 1;
    if (!strcmp(name, "dr-smax")) return cli_parse_real("dr-smax", arg, 1e-300, 1e300, &m->dr_smax) ? -1 : 1;
    if (!strcmp(name, "stimulus")) {
        if (!strcmp(arg, "additive")) m->dr_stimulus = CN_STIM_ADDITIVE;
        else if (!strcmp(arg, "contrast")) m->dr_stimulus = CN_STIM_CONTRAST;
        else return cli_error("--stimulus %s: expected additive or contrast", arg), -1;
        return 1;
    }
    if (!strcmp(name, "response")) {
        if (cn_response_from_name(arg, &m->dr_response) == CN_OK) return 1;
        cli_error("--response %s: expected tv, activity, hidden, hidden-rel or driven", arg);
        return -1;
    }
    return 0;
}

const char cli_dr_caution[] = "caution: no Delta response (tv, activity, hidden, hidden-rel, driven) peaks within 10% of "
                               "chi1 = 1 on random tanh MLPs; Delta is not a distance from criticality (docs/phase.md)";

int cli_dr_check(const cn_measure_cfg *m)
{
    if (m->dynamic_range && !(m->dr_smax > m->dr_smin)) {
        cli_error("--dr-smax must exceed --dr-smin");
        return -1;
    }
    return 0;
}
