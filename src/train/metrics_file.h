/* metrics_file.h: DIR/metrics.csv of a training run, opened for its rows, on resume with the rows it keeps. */
#ifndef CN_TRAIN_METRICS_FILE_H
#define CN_TRAIN_METRICS_FILE_H
#include "critnet.h"

#define CN_METRICS_HEADER "epoch,train_loss,train_acc,test_loss,test_acc,sigma,lambda0,crit_reg,seconds\n"
#define CN_METRICS_FIELDS 9

/* Replaces DIR/metrics.csv by the header and, resuming at start_epoch, the rows of epochs 1..start_epoch it
 * holds (a killed run's later rows are dropped), then opens it for appending. The checkpoint does not hold these
 * rows, so they are checked as read: a row missing, cut short, misnumbered or not numbers is refused with
 * CN_ERR_FORMAT naming the file and the line, and the file is left as it was. */
int cn_metrics_open(cn_rows_file *rows, const char *dir, int start_epoch, cn_error *err);
#endif
