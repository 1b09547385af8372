/* track_file.h: DIR/track.csv of a training run (train --track-every N): sigma, lambda_0, the mean over blocks of
 * |ln sigma_l| and each block's sigma_l every N optimizer steps, on resume with the rows it keeps. */
#ifndef CN_TRAIN_TRACK_FILE_H
#define CN_TRAIN_TRACK_FILE_H
#include "critnet.h"

/* the probe seed of every tracked measurement, per epoch (metrics.csv) and per step (track.csv): fixed, so that
 * nothing is drawn from the run's RNG and a resumed run stays bit-identical */
#define CN_TRACK_SEED 12345

typedef struct {
    cn_rows_file rows;
    int every, samples, nblocks;
    long steps_per_epoch;
} cn_track_file;

/* Replaces DIR/track.csv by its header (step,epoch,sigma,lambda0,mean_abs_ln_sigma_block,sigma_1..sigma_L, L the
 * net's blocks less the readout) and, resuming at start_epoch, the rows of steps 0, every, 2 every, ... up to
 * the checkpoint's step start_epoch * steps_per_epoch, which it must hold (a killed run's later rows are
 * dropped); a row missing, cut short, misnumbered or not numbers is refused with CN_ERR_FORMAT naming the file
 * and the line, and the file is left as it was. A fresh run (start_epoch 0) gets the row of step 0, the
 * initialisation. samples: the first test inputs measured, as train's per-epoch --track. */
int cn_track_open(cn_track_file *t, cn_net *net, const cn_dataset *test, const char *dir, int every, int samples,
                  long steps_per_epoch, int start_epoch, cn_error *err);
/* After optimizer step `step` (1-based over the run): a row when step is a multiple of every. A net the
 * measures refuse gives a row of NaN; out of memory or a row that cannot be written is an error. */
int cn_track_step(cn_track_file *t, cn_net *net, const cn_dataset *test, long step, cn_error *err);
void cn_track_close(cn_track_file *t);
#endif
