/* methods.h: checks on a set of continual-learning methods (the names and defaults are public API). */
#ifndef CN_CL_METHODS_H
#define CN_CL_METHODS_H
#include "critnet.h"

/* CN_ERR_ARG with the reason when the bit set has unknown bits or a combination that makes no sense. */
int cl_methods_check(unsigned methods, cn_error *err);
#endif
