/* critnet_data.h: data sets of libcritnet (src/data/): MNIST-format IDX files, CIFAR-10, folders of images,
 * .npy arrays and Gaussian data, loaded into train and test splits. critnet.h includes it. */
#ifndef CRITNET_DATA_H
#define CRITNET_DATA_H

#include "critnet_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int count;           /* number of examples (0: an empty split, x and y NULL) */
    int c, h, w;         /* per-example shape; n = c*h*w */
    int classes;         /* 0: unlabeled (images:DIR of loose files, npy:FILE without labels); y is then all 0 */
    cn_real *x;          /* (count, c*h*w) */
    int32_t *y;          /* (count) */
} cn_dataset;

/* images:DIR and npy:FILE are for measuring and evaluating: everything is in test, and train is empty
 * (count 0, no x or y) but has the test split's shape and classes. */
typedef struct {
    cn_dataset train, test;
    char name[64];
} cn_data;

typedef struct {
    const char *spec;     /* "fashion-mnist", "mnist", "idx:DIR", "gaussian", "cifar10:DIR", "images:DIR",
                           * "npy:FILE" or "npy:FILE,LABELS" (docs in src/data/images.c and npy.c) */
    int gaussian_dim;     /* --in for gaussian */
    int gaussian_count;   /* examples per split for gaussian (0: 1000) */
    int gaussian_classes; /* 0: 10 */
    uint64_t seed;        /* gaussian data (the mnist split always uses seed 0, so it never moves) */
    int standardize;      /* per-feature standardisation from training statistics (refused without them) */
    const char *data_root;/* where the set-up script put data (NULL: $CRITNET_DATA or ./data) */
    /* images:DIR follows torchvision's eval transform Resize(resize), CenterCrop(crop), ToTensor(), and
     * Normalize(mean, std) when image_normalize; it reproduces PIL's bilinear resize exactly */
    int image_resize;     /* shorter side after resizing (0: image_crop*256/224 rounded, so 256 for 224) */
    int image_crop;       /* side of the square centre crop (0: 224) */
    int image_normalize;  /* 1: per channel (x - mean) / std with ImageNet's mean (0.485, 0.456, 0.406) and
                           * std (0.229, 0.224, 0.225), or 0.449 and 0.226 for grey; 0: x in [0,1] */
    int image_grey;       /* 1: one channel, PIL's convert("L") luma; 0: RGB */
    int image_limit;      /* decode only the first N images in ImageFolder order (0: all) */
} cn_data_opts;

int cn_data_load(cn_data *out, const cn_data_opts *opts, cn_error *err);
void cn_data_free(cn_data *d);

/* The IDX reader (MNIST format; gzipped or not). Images scaled to [0,1]. */
int cn_idx_load(cn_dataset *out, const char *images_path, const char *labels_path, cn_error *err);
void cn_dataset_free(cn_dataset *d);

/* Writes v, of shape dims (ndim entries, C order), as a float32 .npy file (NumPy format 1.0) that np.load
 * reads. The file is replaced whole or left as it was (written beside it, then renamed). */
int cn_npy_write(const char *path, const cn_real *v, int ndim, const int64_t *dims, cn_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_DATA_H */
