/* homeostat.h: the homeostatic controller's object, shared by its step (homeostat.c) and its checkpointed
 * state (homeostat_state.c); internal. */
#ifndef CN_HOMEOSTAT_H
#define CN_HOMEOSTAT_H

#include "control/block_gain.h"
#include "control/block_sigma.h"

struct cn_control {
    cn_control_settings s;
    cn_net *net;
    int L;
    cn_block *blocks;
    cn_block_gain *gains;  /* per block; parts == 0: nothing to turn (its estimate is kept all the same) */
    double *estimate;      /* m_l, the running ln sigma_l: the state a resumed run must get back */
    long observations;
    cn_block_probe probe;
};

#endif
