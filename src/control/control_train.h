/* control_train.h: the homeostatic controller in cn_train (internal): opening it from the run's settings,
 * with the state a resumed run brings, and saving it in the checkpoint's extension block. */
#ifndef CN_CONTROL_TRAIN_H
#define CN_CONTROL_TRAIN_H

#include "critnet.h"

/* *out NULL when cfg->control is off (a checkpoint state is then refused: it belongs to another run) */
int cn_control_open(cn_control **out, cn_net *net, const cn_train_cfg *cfg, int max_batch, cn_error *err);
/* cn_checkpoint_save, with the controller's state as the extension block when c is not NULL */
int cn_control_checkpoint_save(const char *path, cn_net *net, cn_optim *opt, const cn_rng *rng, int epoch,
                               const char *settings, const cn_control *c, cn_error *err);

#endif
