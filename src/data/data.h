/* data.h: private helpers shared by the data readers in src/data (not part of the public API). */
#ifndef CN_DATA_H
#define CN_DATA_H

#include "critnet.h"

/* Loads DIR/data_batch_1..5.bin into train and DIR/test_batch.bin into test. */
int cn_cifar10_load(cn_data *out, const char *dir, cn_error *err);

/* images:DIR (images.c): a folder of images as torchvision's ImageFolder with its eval transform, settings
 * from opts->image_*; loose files in DIR are an unlabeled set (classes 0, y all 0). */
int cn_images_load(cn_dataset *out, const char *dir, const cn_data_opts *opts, cn_error *err);

/* npy:FILE[,LABELS] (npy.c): inputs (N,C,H,W), (N,H,W) or (N,F) as float32/float64, with 1-D integer labels
 * or none (then classes 0, y all 0). */
int cn_npy_load(cn_dataset *out, const char *inputs_path, const char *labels_path, cn_error *err);

/* Scales bytes to [0,1] in cn_real: x[i] = b[i] / 255, through a table so the result is exact and the
 * same in every reader. */
void cn_bytes_to_real(cn_real *x, const unsigned char *b, size_t n);

#endif
