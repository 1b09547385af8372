/* control_train.c: what cn_train needs of the homeostatic controller, kept here so that the training loop
 * holds only its hook lines. */
#include "control/control_train.h"

int cn_control_open(cn_control **out, cn_net *net, const cn_train_cfg *cfg, int max_batch, cn_error *err)
{
    *out = NULL;
    if (cfg->control.kind == CN_CONTROL_NONE) {
        if (cfg->control_state_size)
            return cn_error_set(err, CN_ERR_ARG, "the checkpoint holds a controller's state, but the run has no "
                                "--control");
        return CN_OK;
    }
    int rc = cn_control_new(out, net, &cfg->control, max_batch, err);
    if (!rc && cfg->control_state_size) rc = cn_control_state_decode(*out, cfg->control_state, cfg->control_state_size, err);
    if (rc) {
        cn_control_free(*out);
        *out = NULL;
    }
    return rc;
}

int cn_control_checkpoint_save(const char *path, cn_net *net, cn_optim *opt, const cn_rng *rng, int epoch,
                               const char *settings, const cn_control *c, cn_error *err)
{
    if (!c) return cn_checkpoint_save(path, net, opt, rng, epoch, settings, err);
    size_t size = cn_control_state_encode(c, NULL);
    void *ext = cn_malloc(size);
    if (!ext) return cn_error_set(err, CN_ERR_NOMEM, "out of memory");
    cn_control_state_encode(c, ext);
    int rc = cn_checkpoint_save_ext(path, net, opt, rng, epoch, settings, ext, size, err);
    cn_free(ext);
    return rc;
}
