/* critnet.h: public API of libcritnet, a C toolkit for training deep networks and measuring their
 * critical dynamics (branching parameter, Lyapunov spectrum, dynamic range).
 *
 * A short working example (error checks shortened):
 *
 *     cn_error err = {0};
 *     cn_net *net;
 *     cn_net_from_spec(&net,
 *         "input 1 28 28\nflatten\ndense out=256 act=relu\ndense out=10\n", &err);
 *     cn_rng *rng = cn_rng_new(42);
 *     cn_init init = { .kind = CN_INIT_KAIMING_UNIFORM };
 *     cn_net_init(net, &init, rng);
 *     cn_net_reserve(net, 128, 1);            // largest batch and tangent count
 *     cn_net_forward(net, x, 128, 0);         // x: (128, 784) row-major
 *     const float *logits = cn_net_output(net);
 *     cn_rng_free(rng);
 *     cn_net_free(net);
 *
 * Layouts follow PyTorch: row-major, dense W is (out, in), feature maps are NCHW. Every function that can
 * fail returns a cn_status; readers also fill a caller-owned cn_error with the file name and the problem.
 * The library never exits or aborts on bad input.
 */
#ifndef CRITNET_H
#define CRITNET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRITNET_VERSION "0.1.0"

/* The scalar type of the engine. The library is built in float; the test suite also builds the same
 * sources in double (CRITNET_DOUBLE) so that gradient checks by central differences are meaningful. */
#ifdef CRITNET_DOUBLE
typedef double cn_real;
#else
typedef float cn_real;
#endif

/* ---------------------------------------------------------------- status and errors */

typedef enum {
    CN_OK = 0,
    CN_ERR_NOMEM,       /* an allocation failed */
    CN_ERR_IO,          /* a file could not be opened, read or written */
    CN_ERR_FORMAT,      /* a file or text is malformed: bad magic, wrong sizes, truncated */
    CN_ERR_ARG,         /* an argument is out of range or inconsistent */
    CN_ERR_NONFINITE,   /* NaN or Inf met in data, loss or parameters */
    CN_ERR_UNSUPPORTED, /* a valid request this build cannot honour */
    CN_STATUS_COUNT
} cn_status;

const char *cn_strerror(int status);

/* Detail for the caller: which file or argument, and what was wrong with it. Optional everywhere (NULL). */
typedef struct {
    int status;
    char msg[512];
} cn_error;

/* Sets err (if not NULL) and returns status; printf-style message. */
int cn_error_set(cn_error *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---------------------------------------------------------------- memory */

/* Every allocation of the library goes through this hook, so tests can make the Nth one fail. */
typedef struct {
    void *(*alloc)(size_t size, void *user);
    void (*release)(void *ptr, void *user);
    void *user;
} cn_allocator;

void cn_set_allocator(const cn_allocator *a); /* NULL restores malloc/free */
void *cn_malloc(size_t size);                  /* 64-byte aligned; NULL on failure or size overflow */
void *cn_calloc(size_t count, size_t size);
void cn_free(void *ptr);
char *cn_strdup(const char *s);

/* ---------------------------------------------------------------- threads */

/* Sets OpenBLAS and OpenMP threads together so that they never oversubscribe the cores. */
void cn_set_threads(int n);
int cn_get_threads(void);

/* ---------------------------------------------------------------- random numbers */

typedef struct cn_rng cn_rng;
cn_rng *cn_rng_new(uint64_t seed);
/* a faster stream (GSL taus2) for draws by the million, e.g. noise on every parameter at every step */
cn_rng *cn_rng_new_fast(uint64_t seed);
void cn_rng_free(cn_rng *r);
double cn_rng_uniform(cn_rng *r);                  /* [0,1) */
double cn_rng_normal(cn_rng *r);                   /* N(0,1) */
uint64_t cn_rng_below(cn_rng *r, uint64_t n);      /* uniform integer in [0,n) */
void cn_rng_shuffle(cn_rng *r, int32_t *v, size_t n);
size_t cn_rng_state_size(const cn_rng *r);         /* for checkpoints */
const void *cn_rng_state(const cn_rng *r);
int cn_rng_set_state(cn_rng *r, const void *state, size_t size);

/* ---------------------------------------------------------------- activations */

typedef enum {
    CN_ACT_IDENTITY = 0,
    CN_ACT_RELU,
    CN_ACT_LEAKY_RELU, /* slope 0.01, as torch.nn.LeakyReLU */
    CN_ACT_TANH,
    CN_ACT_SIGMOID,
    CN_ACT_GELU,       /* exact (erf) form, as torch.nn.GELU() */
    CN_ACT_SILU,
    CN_ACT_ELU,        /* alpha 1 */
    CN_ACT_COUNT
} cn_act;

const char *cn_act_name(cn_act a);
int cn_act_from_name(const char *name, cn_act *out); /* CN_ERR_ARG if unknown */
double cn_act_value(cn_act a, double z);
double cn_act_deriv(cn_act a, double z);
double cn_act_deriv2(cn_act a, double z);

/* ---------------------------------------------------------------- networks */

typedef struct cn_net cn_net;

/* Builds a network from the plain-text model format (docs/model-format.md). Parameters are zero until
 * cn_net_init. */
int cn_net_from_spec(cn_net **out, const char *text, cn_error *err);
int cn_net_from_spec_file(cn_net **out, const char *path, cn_error *err);
void cn_net_free(cn_net *net);

/* The canonical text of the network; caller frees with cn_free. */
char *cn_net_spec(const cn_net *net);

/* Allocates the work buffers for batches up to max_batch and jvp with up to max_tangents tangents. */
int cn_net_reserve(cn_net *net, int max_batch, int max_tangents);

typedef enum {
    CN_INIT_TORCH = 0,       /* torch.nn defaults: kaiming_uniform(a=sqrt 5) weights, U(+-1/sqrt fan_in) biases */
    CN_INIT_KAIMING_UNIFORM, /* gain sqrt 2, biases 0 */
    CN_INIT_KAIMING_NORMAL,
    CN_INIT_XAVIER,          /* xavier uniform, biases 0 */
    CN_INIT_ORTHOGONAL,      /* gain 1 (sigma_w scales it), biases 0 */
    CN_INIT_NORMAL,          /* W ~ N(0, sigma_w^2 / fan_in), b ~ N(0, sigma_b^2) */
    CN_INIT_COUNT
} cn_init_kind;

typedef struct {
    cn_init_kind kind;
    double sigma_w; /* CN_INIT_NORMAL and CN_INIT_ORTHOGONAL (0 means 1) */
    double sigma_b; /* CN_INIT_NORMAL */
} cn_init;

const char *cn_init_name(cn_init_kind k);
int cn_init_from_name(const char *name, cn_init_kind *out);
int cn_net_init(cn_net *net, const cn_init *init, cn_rng *rng);

size_t cn_net_param_count(const cn_net *net);
cn_real *cn_net_params(cn_net *net);  /* one flat buffer; layer views are slices of it */
cn_real *cn_net_grads(cn_net *net);   /* same layout as params */
size_t cn_net_state_count(const cn_net *net); /* non-trained state (batch-norm running statistics) */
cn_real *cn_net_state(cn_net *net);
int cn_net_in_size(const cn_net *net);
int cn_net_out_size(const cn_net *net);
void cn_net_in_shape(const cn_net *net, int chw[3]);

/* x: (B, in). train != 0 selects training behaviour (batch statistics, dropout). */
void cn_net_forward(cn_net *net, const cn_real *x, int batch, int train);
const cn_real *cn_net_output(const cn_net *net); /* (B, out) of the last forward */
void cn_net_zero_grad(cn_net *net);
/* Accumulates parameter gradients (+=) from dout (B, out); dx (B, in) may be NULL. */
void cn_net_backward(cn_net *net, const cn_real *dout, cn_real *dx, int batch);
/* Forward-mode tangents on the stored forward pass: tx (K, B, in) -> ty (K, B, out). */
void cn_net_jvp(cn_net *net, const cn_real *tx, cn_real *ty, int batch, int tangents);

/* Layer-by-layer access for the criticality measures. */
int cn_net_layer_count(const cn_net *net);
const char *cn_net_layer_kind(const cn_net *net, int i);
int cn_net_layer_out_size(const cn_net *net, int i);
const cn_real *cn_net_layer_output(const cn_net *net, int i); /* (B, n_i) of the last forward */
void cn_net_layer_jvp(cn_net *net, int i, const cn_real *tx, cn_real *ty, int batch, int tangents);

/* ---------------------------------------------------------------- ONNX models (onnx/) */

/* An ONNX file (opset 11-17, one float input with the batch first, operators of docs/onnx.md) as a network
 * of blocks, each a segment of the graph (docs/onnx.md#blocks says where they end). The weights are the
 * file's; the network runs forward and jvp in eval mode only (cn_net_inference_only): no backward, training
 * or checkpoint. A run that fails inside the graph (a shape that no longer fits, memory) writes NaN and is
 * reported by cn_net_status. */
typedef struct {
    const char *blocks; /* comma list of tensor or node names that end blocks, replacing the default (NULL) */
    size_t max_bytes;   /* refuse larger files before reading them (0: 2 GiB - 1, protobuf's limit) */
} cn_onnx_opts;

int cn_net_from_onnx(cn_net **out, const char *path, const cn_onnx_opts *opts, cn_error *err);
/* the same from bytes in memory; name is used in messages */
int cn_net_from_onnx_buffer(cn_net **out, const void *buf, size_t len, const char *name, const cn_onnx_opts *opts,
                            cn_error *err);
int cn_net_inference_only(const cn_net *net);
/* the only batch size the model runs (an ONNX file whose batch dimension is fixed at 1), or 0: any. The
 * library's own loops (cn_measure, cn_evaluate) keep their batches within it. */
int cn_net_batch_limit(const cn_net *net);
/* CN_OK, or the first failure of a forward/jvp of an imported graph since cn_net_clear_status */
int cn_net_status(const cn_net *net, cn_error *err);
void cn_net_clear_status(cn_net *net);
/* an imported model's block i: the tensor that ends it; NULL for critnet's own layers */
const char *cn_net_layer_name(const cn_net *net, int i);

/* ---------------------------------------------------------------- architectures from flags */

typedef struct {
    const char *arch;   /* "mlp", "cnn", "resnet" */
    int in_c, in_h, in_w; /* input shape; an MLP flattens it */
    int width;          /* mlp: hidden units; cnn: first conv channels; resnet: base channels */
    int depth;          /* mlp: hidden layers; cnn: conv stages; resnet: residual blocks per stage */
    int classes;
    cn_act act;
    const char *norm;   /* "none", "batch", "layer" */
    double dropout;
    const char *channels; /* cnn: comma list of channels per stage, overrides width/depth */
} cn_arch;

/* Writes the model-format text for an architecture; caller frees with cn_free. */
int cn_arch_spec(char **out, const cn_arch *a, cn_error *err);

/* ---------------------------------------------------------------- data */

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

/* ---------------------------------------------------------------- training */

typedef enum { CN_LOSS_CROSS_ENTROPY = 0, CN_LOSS_MSE, CN_LOSS_COUNT } cn_loss_kind;
typedef enum { CN_OPT_SGD = 0, CN_OPT_ADAM, CN_OPT_ADAMW, CN_OPT_COUNT } cn_opt_kind;
typedef enum { CN_SCHED_CONSTANT = 0, CN_SCHED_STEP, CN_SCHED_COSINE, CN_SCHED_COUNT } cn_sched_kind;

/* Loss over a batch: mean over examples. Writes dlogits = d loss / d logits (may be NULL).
 * Returns the loss; sets *correct to the number of argmax hits (may be NULL). */
double cn_loss(cn_loss_kind kind, const cn_real *logits, const int32_t *labels, int batch, int classes,
               cn_real *dlogits, int *correct);

typedef struct {
    cn_opt_kind kind;
    double lr, momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
    cn_sched_kind sched;
    int step_size;      /* epochs between decays (step schedule) */
    double gamma;       /* decay factor (step schedule) */
    int total_epochs;   /* cosine schedule length */
} cn_optim_cfg;

typedef struct cn_optim cn_optim;
int cn_optim_new(cn_optim **out, const cn_optim_cfg *cfg, size_t nparams);
void cn_optim_free(cn_optim *o);
/* One update of params from grads, at learning rate lr. */
void cn_optim_step(cn_optim *o, cn_real *params, const cn_real *grads, double lr);
double cn_sched_lr(const cn_optim_cfg *cfg, int epoch); /* learning rate for a 0-based epoch */
size_t cn_optim_state_count(const cn_optim *o);
cn_real *cn_optim_state(cn_optim *o);
long cn_optim_steps(const cn_optim *o);
void cn_optim_set_steps(cn_optim *o, long t);


/* ---------------------------------------------------------------- checkpoints */

/* model.cnm: magic "CRITNET\0", version, the model-format text, parameters, normalisation state, and
 * (for training runs) the run's settings, epoch, optimizer state and RNG state; CRC-32 at the end.
 * Fixed-width little-endian fields, float32 values. Version 2 adds an extension block, opaque here, that
 * a kind of run stores with its checkpoint (continual learning's state); files without one stay version 1. */
typedef struct {
    cn_net *net;        /* owned; set to NULL to take it */
    char *settings;     /* JSON text of the run's settings ("" if none) */
    int epoch;          /* epochs completed */
    long opt_steps;
    size_t opt_count;
    cn_real *opt_state;
    size_t rng_size;
    void *rng_state;
    size_t ext_size;    /* 0: none (a version 1 file) */
    void *ext;
} cn_checkpoint;

/* opt and rng may be NULL (a bare model). Writes PATH.tmp then renames, so a crash never leaves a
 * half-written checkpoint in place of the last good one. */
int cn_checkpoint_save(const char *path, cn_net *net, cn_optim *opt, const cn_rng *rng, int epoch,
                       const char *settings, cn_error *err);
/* The same with an extension block of ext_size bytes (0: none, the file is then what cn_checkpoint_save
 * writes). */
int cn_checkpoint_save_ext(const char *path, cn_net *net, cn_optim *opt, const cn_rng *rng, int epoch,
                           const char *settings, const void *ext, size_t ext_size, cn_error *err);
int cn_checkpoint_load(cn_checkpoint *ck, const char *path, cn_error *err);
void cn_checkpoint_free(cn_checkpoint *ck);
/* restore optimizer and RNG from a loaded checkpoint */
int cn_checkpoint_restore(const cn_checkpoint *ck, cn_optim *opt, cn_rng *rng, cn_error *err);

/* ---------------------------------------------------------------- training runs */

typedef struct {
    int epoch, epochs;       /* 0-based current epoch, total */
    long step, steps;        /* step within the epoch, steps per epoch */
    double loss;             /* running mean train loss in this epoch */
    double elapsed;          /* seconds since this invocation started */
    int done;                /* 1 at the end of an epoch: the fields below are set */
    double train_loss, train_acc, test_loss, test_acc, epoch_seconds;
    double sigma, lambda_max, crit_reg;
} cn_train_progress;

/* what critical training drives toward its critical value: the per-block branching parameter (ln sigma_l
 * -> 0) or the largest Lyapunov exponent of the whole depth (lambda_0 -> 0) */
typedef enum { CN_CRIT_SIGMA = 0, CN_CRIT_LAMBDA = 1 } cn_crit_target;

typedef struct {
    int epochs, batch;
    uint64_t seed;
    cn_loss_kind loss;
    cn_optim_cfg optim;
    int limit_train, limit_test; /* use only the first N examples (0: all) */
    int stop_after;              /* stop after this many epochs in this call (0: run to the end) */
    /* critical training: total loss = task loss + crit_weight * R, every crit_every-th step, with
     * R = mean over blocks of (ln sigma_l)^2 (CN_CRIT_SIGMA) or lambda_0^2 (CN_CRIT_LAMBDA), estimated on the
     * minibatch from crit_probes jvp probes. See docs/critical-training.md. */
    double crit_weight;          /* 0: off */
    cn_crit_target crit_target;  /* default CN_CRIT_SIGMA */
    int crit_probes;             /* default 1 */
    int crit_batch;              /* the probes run on the first N examples of each minibatch (0: all) */
    int crit_every;              /* default 1 */
    int crit_layers_all;         /* include the readout block */
    int track_samples;           /* sigma and lambda_0 per epoch on the first N test inputs (0: 200; <0: off) */
    const char *out_dir;         /* model.cnm, metrics.csv, summary.json (NULL: write nothing) */
    const char *settings;        /* JSON of the run's settings, stored in the checkpoint and summary */
    void (*progress)(const cn_train_progress *p, void *user);
    void *user;
} cn_train_cfg;

typedef struct {
    int epochs_done;
    double train_loss, train_acc, test_loss, test_acc, seconds;
    double sigma, lambda_max, crit_reg; /* of the last epoch: tracked dynamics, mean regulariser R */
    int diverged;
    char diverged_msg[256];
} cn_train_result;

/* Trains net on data from epoch start_epoch (0 for a fresh run; a checkpoint's epoch to resume),
 * evaluating on the test split each epoch. opt and rng carry their state across calls. Returns
 * CN_ERR_NONFINITE when the run diverged; the checkpoint of the last good epoch is left in place. */
int cn_train(cn_net *net, const cn_data *data, const cn_train_cfg *cfg, cn_optim *opt, cn_rng *rng,
             int start_epoch, cn_train_result *res, cn_error *err);

/* Loss and accuracy of net (eval mode) on a dataset, in batches. */
/* Top-k accuracy: the label is among the k largest outputs (ties counted against it). */
int cn_evaluate_topk(cn_net *net, const cn_dataset *d, int k, int batch, int limit, double *acc_out, cn_error *err);
int cn_evaluate(cn_net *net, const cn_dataset *d, cn_loss_kind loss, int batch, int limit, double *loss_out,
                double *acc_out, cn_error *err);

const char *cn_loss_name(cn_loss_kind k);
int cn_loss_from_name(const char *name, cn_loss_kind *out);
const char *cn_opt_name(cn_opt_kind k);
int cn_opt_from_name(const char *name, cn_opt_kind *out);
const char *cn_sched_name(cn_sched_kind k);
int cn_sched_from_name(const char *name, cn_sched_kind *out);

/* ---------------------------------------------------------------- continual learning (continual/) */

/* Online Permuted MNIST as Dohare et al. (Nature 632, 768-774, 2024) define it: each task composes a fresh
 * random pixel permutation onto the previous task's and reshuffles the example order; every example of the
 * task is seen once, with batch size 1, and scored before the update on it. The network is an MLP, the data's
 * input -> `depth` hidden ReLU layers of `width` units -> the classes, Kaiming-uniform weights (the readout with
 * gain 1, as their code), zero biases. docs/continual.md has the definitions, defaults and their sources. */

/* Methods, combined as a bit set: one optimizer (SGD "bp" unless CN_CL_ADAM) plus any compatible others. */
typedef enum {
    CN_CL_BP = 1u << 0,     /* plain SGD (the default optimizer; naming it is optional) */
    CN_CL_ADAM = 1u << 1,   /* Adam instead of SGD */
    CN_CL_L2 = 1u << 2,     /* weight decay (L2 regularisation toward 0) */
    CN_CL_SNP = 1u << 3,    /* Shrink and Perturb: weight decay plus Gaussian noise on every parameter each step */
    CN_CL_CBP = 1u << 4,    /* continual backprop: replaces low-utility hidden units */
    CN_CL_L2INIT = 1u << 5, /* L2 Init (Kumar et al.): lambda |theta - theta_0|^2 added to the loss */
    CN_CL_CRIT = 1u << 6,   /* the criticality regulariser of critical training, applied online */
} cn_cl_method;

/* "bp", "adam,cbp", "crit,l2", ...: a comma list of the names above. CN_ERR_ARG, with the reason in err, for an
 * unknown name, a repeat or a combination that makes no sense (bp with adam; l2 with snp, which includes it;
 * l2 with l2init, which pull toward different points). */
int cn_continual_methods_parse(unsigned *out, const char *list, cn_error *err);
/* The canonical list ("bp" alone, else the other names in the order above): buf of cap bytes. */
void cn_continual_methods_name(char *buf, size_t cap, unsigned methods);

typedef enum {
    CN_CBP_CONTRIBUTION = 0,        /* mean_k |w_out[k,i]| * |h_i| */
    CN_CBP_ADAPTABLE_CONTRIBUTION,  /* mean_k |w_out[k,i]| * |h_i - mean h_i| / mean_j |w_in[i,j]| (default) */
    CN_CBP_UTILITY_COUNT
} cn_cbp_utility;

/* One task's row of tasks.csv. Measured after the task's last update, on the probe inputs under the task's
 * permutation; nothing is drawn from the run's random streams for it. */
typedef struct {
    int task;                  /* 1-based */
    double accuracy, loss;     /* online: means over the task of the score/loss before each update */
    double dead_fraction;      /* hidden ReLU units that output 0 on every probe input, over all hidden units */
    double mean_abs_weight;    /* mean |w| over the weight matrices (biases left out) */
    double effective_rank;     /* exp(entropy of the normalised singular values), last hidden layer (Roy and
                                * Vetterli 2007) */
    double sigma, lambda0;     /* criticality on the first track_samples probe inputs (NaN when off) */
    long replaced;             /* cbp: units replaced during the task */
} cn_continual_row;

typedef struct {
    int task, tasks;           /* 1-based current task, total */
    long step, steps;          /* within the task */
    double elapsed;            /* seconds since this call started */
    double steps_per_second;   /* training steps of this call per second of training */
    double accuracy;           /* running online accuracy of the task */
    const cn_continual_row *row; /* at the end of a task (else NULL) */
} cn_continual_progress;

typedef struct {
    unsigned methods;          /* cn_cl_method bits (0: bp) */
    int tasks;                 /* T >= 1 */
    int examples_per_task;     /* the first N of each task's order (0: the whole training split) */
    int width, depth;          /* hidden units per layer (default 100), hidden layers (3) */
    uint64_t seed;
    double lr;                 /* step size (default 0.003 for SGD, 1e-4 for Adam; 0: that default) */
    double beta1, beta2, eps;  /* Adam (0.9, 0.999, 1e-8) */
    double weight_decay;       /* l2 and snp (1e-4) */
    double noise_std;          /* snp (1e-5) */
    double l2init_weight;      /* l2init lambda (1e-2) */
    double replacement_rate;   /* cbp, in [0, 1] (1e-6) */
    double utility_decay;      /* cbp eta, in [0, 1) (0.99) */
    int maturity;              /* cbp: units older than this many steps may be replaced (100) */
    cn_cbp_utility utility;    /* cbp (adaptable contribution) */
    int bias_correction;       /* cbp: the next layer's bias absorbs a replaced unit's mean output (default 1) */
    double crit_weight;        /* crit beta (default 1) */
    cn_crit_target crit_target;
    int crit_probes, crit_every; /* crit (1, 1) */
    int probe_samples;         /* dead units and effective rank on the first N test inputs (2000; fewer if the
                                * split is smaller) */
    int track_samples;         /* sigma and lambda_0 on the first N of those (200; < 0: off) */
    int checkpoint_every;      /* checkpoint after every K-th task (default 1); the last task always */
    int stop_after;            /* stop after this many tasks in this call (0: run to the end) */
    const char *out_dir;       /* model.cnm, tasks.csv, summary.json (NULL: write nothing) */
    const char *settings;      /* JSON stored in the checkpoint and summary.json */
    void (*progress)(const cn_continual_progress *p, void *user);
    void *user;
} cn_continual_cfg;

void cn_continual_defaults(cn_continual_cfg *cfg);

typedef struct {
    int tasks_done;            /* rows: tasks 1..tasks_done, including those before a restore */
    cn_continual_row *rows;
    long steps;                /* training steps in this call */
    double seconds;            /* this call */
    double train_seconds;      /* of which in training steps (the rest: measurements and files) */
    int diverged;
    char message[256];
} cn_continual_result;

typedef struct cn_continual cn_continual;

/* Builds the network for data, initialised from cfg->seed, and the methods' state. The data must outlive the
 * object. Random streams: three MT19937 generators seeded from cfg->seed (docs/continual.md): one for the
 * initial weights, one for the tasks (permutations, orders) and one for the methods (noise, new units,
 * probes), so that runs with the same seed see the same initial network and the same task sequence
 * whatever the method. */
int cn_continual_new(cn_continual **out, const cn_data *data, const cn_continual_cfg *cfg, cn_error *err);
void cn_continual_free(cn_continual *c);
/* Continues from a checkpoint this kind of run wrote with the same settings (model.cnm with its extension).
 * CN_ERR_FORMAT, with the reason in err, when it does not fit; the object is then only fit to be freed. */
int cn_continual_restore(cn_continual *c, const cn_checkpoint *ck, cn_error *err);
/* Runs the remaining tasks (or cfg->stop_after of them), writing tasks.csv (rewritten from the checkpoint's rows
 * on a restored run), model.cnm every checkpoint_every tasks and summary.json when out_dir is set. Returns
 * CN_ERR_NONFINITE when the loss or a parameter became NaN or Inf (res->message names task and step; the last
 * checkpoint stays in place). res is filled in every case; free it with cn_continual_result_free. */
int cn_continual_run(cn_continual *c, cn_continual_result *res, cn_error *err);
void cn_continual_result_free(cn_continual_result *res);

cn_net *cn_continual_net(cn_continual *c);
int cn_continual_tasks_done(const cn_continual *c);
/* The pixel permutation of the last task begun (n_in values: input j of the task is pixel perm[j]) and its
 * example order (*n values, indices into the training split), for tests and independent replays. */
const int32_t *cn_continual_permutation(const cn_continual *c);
const int32_t *cn_continual_order(const cn_continual *c, int *n);

/* ---------------------------------------------------------------- mean-field theory (measure/meanfield.c) */

/* Poole et al. 2016, Schoenholz et al. 2017: for an MLP with W ~ N(0, sigma_w^2/n), b ~ N(0, sigma_b^2),
 * iterate q_l = sigma_w^2 E[phi(sqrt(q_{l-1}) z)^2] + sigma_b^2 to its fixed point q*, then
 * chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2], xi_c = -1/ln chi1, and lambda_pred = 0.5 ln chi1.
 * Expectations by panelled Gauss-Legendre quadrature (docs/criticality-measures.md says why not Hermite). */
typedef struct {
    double q_star, chi1, xi_c, lambda_pred;
    int converged;   /* the length map reached its fixed point */
    int iterations;
} cn_meanfield;

int cn_meanfield_compute(cn_meanfield *out, cn_act act, double sigma_w, double sigma_b, double q0);
/* sigma_w at which chi1 = 1 for this activation and sigma_b (bisection on [lo, hi]); CN_ERR_ARG if no
 * crossing in the bracket. */
int cn_meanfield_critical_sigma_w(double *out, cn_act act, double sigma_b, double lo, double hi);

/* ---------------------------------------------------------------- curve statistics (measure/) */

/* Dynamic range of a response curve (Kinouchi & Copelli 2006): s (increasing, > 0) and F, n points.
 * F0 = F[0], Fmax = F[n-1]; s_p solves F(s_p) = F0 + p (Fmax - F0) by interpolation linear in log s.
 * delta_db = 10 log10(s_0.9 / s_0.1). saturated = 1 when F has levelled off by s_max (the last decade
 * of s adds less than 5% of the total rise); truncated_low = 1 when its first decade adds 5% or more.
 * CN_ERR_ARG if the curve does not rise. */
typedef struct {
    double delta_db, s10, s90, f0, fmax;
    int saturated;
    int truncated_low; /* the curve is cut at the low end: its first decade of s already adds 5% or more of the
                        * total rise (F0 is no baseline), the mirror image of `saturated` */
} cn_dynrange;
int cn_dynamic_range(cn_dynrange *out, const double *s, const double *F, int n);

/* Ordinary least-squares slope of y on x (with intercept), the conventional branching-ratio regression. */
double cn_ols_slope(const double *x, const double *y, int n);

/* ---------------------------------------------------------------- criticality measures (measure/) */

/* Blocks: the units of "time" for the measures. A block ends after each dense, conv, residual, act or
 * normalisation layer, unless the next layer is a normalisation or activation that belongs to it; pools,
 * flatten and dropout open the block that follows them. The last block (the readout to the logits) is
 * left out unless include_readout is set. See docs/criticality-measures.md. */
typedef struct {
    int first, last; /* layer indices, inclusive */
    int n_in, n_out; /* units entering and leaving the block */
    char name[128];  /* kind of its main layer, e.g. "dense", "residual"; for an ONNX model the tensor that
                      * ends the block */
} cn_block;

/* Fills blocks (caller frees with cn_free); *count excludes the readout unless include_readout. */
int cn_net_blocks(const cn_net *net, int include_readout, cn_block **blocks, int *count);

typedef enum { CN_STIM_ADDITIVE = 0, CN_STIM_CONTRAST, CN_STIM_COUNT } cn_stimulus;
/* responses: softmax total variation; RMS activity |h_l|; RMS distance |h_l(x') - h_l(x_ref)| of the block's
 * hidden state from the reference's; the same divided by the reference's RMS activity |h_l(x_ref)| */
typedef enum { CN_RESP_TV = 0, CN_RESP_ACTIVITY, CN_RESP_HIDDEN, CN_RESP_HIDDEN_REL, CN_RESP_COUNT } cn_response;
const char *cn_response_name(cn_response r); /* "tv", "activity", "hidden", "hidden-rel" */
int cn_response_from_name(const char *name, cn_response *out); /* CN_ERR_ARG if unknown */

typedef struct {
    int probes;           /* Gaussian probes per block for sigma (default 8; 0: no sigma, it is NaN) */
    int spectrum;         /* Lyapunov exponents k (default 1; 0: skip) */
    int include_readout;  /* --layers all */
    int batch;            /* inputs per pass (default 100): memory does not grow with the number of inputs */
    uint64_t seed;
    int dynamic_range;    /* also compute Delta */
    int dr_points;        /* default 60 */
    double dr_smin, dr_smax; /* default 1e-4, 1e2 */
    cn_stimulus dr_stimulus;
    cn_response dr_response;
    int dr_block;         /* CN_RESP_ACTIVITY: which block's activity (0-based; -1: the last one) */
    /* optional (k, n_in): the initial orthonormal tangents Q0, the same for every input, instead of random
     * ones; lets an independent implementation reproduce the spectrum to rounding */
    const cn_real *q0;
    void (*progress)(double done, double total, void *user);
    void *user;
} cn_measure_cfg;

void cn_measure_defaults(cn_measure_cfg *cfg);

typedef struct {
    int inputs, nblocks, k;
    cn_block *blocks;
    /* sigma: geometric mean over blocks and inputs, with standard error over inputs */
    double sigma, sigma_se;
    double *sigma_block, *sigma_block_se; /* per block: exp(E_x ln sigma_l(x)) */
    /* Lyapunov: exponents 1..k (mean over inputs) and per-block local exponents (nblocks x k) */
    double lambda_max, lambda_max_se;
    double *spectrum, *spectrum_se;
    double *local_exponents;
    long degenerate;      /* R_ii that were exactly 0 (a collapsed direction), floored at ln 1e-38 */
    /* sigma_act: geometric mean over blocks of the OLS slope of A_l on A_{l-1}; A_l mean per block */
    double sigma_act;
    double *activity;     /* nblocks + 1 values: A_0 (input) .. A_L */
    double *activity_slope;
    /* dynamic range */
    int has_dr;
    cn_dynrange dr;
    int dr_n;
    double *dr_s, *dr_F;
    /* the distance from criticality per block: the mean over blocks of |ln sigma_l|, beside |ln sigma| of the
     * geometric mean, in which expanding and contracting blocks cancel */
    double mean_abs_ln_sigma_block;
} cn_measure_result;

/* Measures net (eval mode) on n inputs x (n, in). */
int cn_measure(cn_net *net, const cn_real *x, int n, const cn_measure_cfg *cfg, cn_measure_result *res,
               cn_error *err);
void cn_measure_result_free(cn_measure_result *res);

/* ---------------------------------------------------------------- phase diagram (measure/corrlength.c, phase.c) */

/* The correlation length: pairs of inputs (x_a from x, x_b = c0 x_a + sqrt(1 - c0^2) u of the same length) go
 * through the network; c_l is the mean over pairs of the cosine of their block outputs. xi = -1/slope of the
 * least-squares line of ln |c_l - c*| on l, over blocks skip.. up to the first that reaches the noise floor
 * (docs/phase.md). c*: cfg->c_star when finite (1 in the ordered phase), else the mean of the last quarter. */
typedef struct {
    int pairs;     /* default 8 */
    double c0;     /* the inputs' cosine (default 0.999: the pair starts where the correlation map is linear) */
    int skip;      /* blocks left out at the start, where the length q_l settles (default 2) */
    double c_star; /* NAN (default): estimated from the tail */
    uint64_t seed; /* the partners' directions */
} cn_corr_cfg;
typedef struct {
    int nblocks;
    double *c, *omc;         /* nblocks + 1 values, l = 0 the inputs: c_l and 1 - c_l (to full precision) */
    double *dist, *lnd;      /* |c_l - c*| as fitted, and scratch */
    double c_star, xi, xi_se; /* xi NAN when fewer than 3 blocks are in the window or c_l does not approach c* */
    int fit_first, fit_last; /* the window, in block numbers (0: the input) */
} cn_corr_result;
void cn_corr_defaults(cn_corr_cfg *cfg);
/* x: at least `pairs` inputs (pairs, in) */
int cn_corr_length(cn_net *net, const cn_real *x, int pairs, const cn_corr_cfg *cfg, cn_corr_result *res,
                   cn_error *err);
void cn_corr_result_free(cn_corr_result *r);
/* for pooling several runs: allocate, fill omc, then fit (c_star NAN: estimated from the tail) */
int cn_corr_alloc(cn_corr_result *r, int nblocks);
int cn_corr_fit(cn_corr_result *r, double c_star, int skip);

/* One point of the phase diagram: a random network of the given architecture, W ~ N(0, sigma_w^2/fan_in),
 * b ~ N(0, sigma_b^2), drawn from `seed` so that every point scales the same draw (common random numbers),
 * measured on `samples` Gaussian inputs of mean square input_q: sigma, lambda_0, Delta (m.dynamic_range),
 * the correlation length, and the mean-field q*, chi1, xi_c where they apply (an MLP without normalisation). */
typedef struct {
    cn_arch arch;          /* arch, width, depth, act, norm, in_c/in_h/in_w, classes */
    double sigma_w, sigma_b;
    int samples;           /* inputs for sigma, lambda_0 and Delta (default 20) */
    int draws;             /* independent networks, pooled (default 1; draw d uses seed + 1000 d) */
    double input_q;        /* their mean square (default 1) */
    cn_measure_cfg m;      /* probes, spectrum, dynamic range */
    cn_corr_cfg corr;      /* pairs 0: no correlation length */
    uint64_t seed;
} cn_phase_cfg;
typedef struct {
    double sigma, sigma_se, lambda0, lambda0_se;
    int has_dr;
    cn_dynrange dr;
    double xi, xi_se, c_star, c_last; /* c_last: the pairs' correlation at the last block */
    int has_mf;
    cn_meanfield mf;
    int nblocks;
} cn_phase_point;
void cn_phase_defaults(cn_phase_cfg *cfg);
int cn_phase_point_run(cn_phase_point *out, const cn_phase_cfg *cfg, cn_error *err);

/* ---------------------------------------------------------------- robustness (robust/) */

/* Accuracy (eval mode) under input perturbations: Gaussian noise x + std z, and the L-inf attacks FGSM
 * (x + eps sign grad_x loss; Goodfellow et al. 2015) and PGD (Madry et al. 2018) on the cross-entropy loss,
 * with input gradients from cn_net_backward. PGD: steps of step_scale * eps / steps, each projected onto the
 * eps-ball around x; an example counts as robust only if no point it visited (x, the random start, every
 * iterate) is misclassified, and it stops at the first one that is. The parameters are never changed; the
 * parameter gradients are left zero. */
typedef struct {
    int batch;         /* examples per pass (default 100) */
    int steps;         /* PGD iterations (default 10) */
    double step_scale; /* PGD step size = step_scale * eps / steps (default 2.5) */
    int random_start;  /* PGD starts uniform in the eps-ball (default 1) */
    int clip;          /* clip perturbed inputs to [lo, hi] (default 1, [0, 1]); inputs must lie in it */
    double lo, hi;
    uint64_t seed;     /* noise and PGD random starts */
} cn_robust_cfg;

void cn_robust_defaults(cn_robust_cfg *cfg);

/* Accuracy *acc on the first limit examples of d (0: all); cfg NULL: defaults. std and eps must be finite and
 * >= 0 (CN_ERR_ARG otherwise); size 0 gives the clean accuracy. */
int cn_robustness_noise(cn_net *net, const cn_dataset *d, int limit, double std, const cn_robust_cfg *cfg,
                        double *acc, cn_error *err);
int cn_attack_fgsm(cn_net *net, const cn_dataset *d, int limit, double eps, const cn_robust_cfg *cfg, double *acc,
                   cn_error *err);
int cn_attack_pgd(cn_net *net, const cn_dataset *d, int limit, double eps, const cn_robust_cfg *cfg, double *acc,
                  cn_error *err);

/* The adversarial examples of one batch: x (B, in), labels y (B) -> xadv (B, in). rng: PGD's random start. */
int cn_attack_fgsm_batch(cn_net *net, cn_real *xadv, const cn_real *x, const int32_t *y, int batch, double eps,
                         const cn_robust_cfg *cfg, cn_error *err);
int cn_attack_pgd_batch(cn_net *net, cn_real *xadv, const cn_real *x, const int32_t *y, int batch, double eps,
                        const cn_robust_cfg *cfg, cn_rng *rng, cn_error *err);

/* ---------------------------------------------------------------- statistics (stats/) */

/* Mean and sample standard deviation (divisor n - 1, numpy's std(ddof=1)) of n values, by two passes.
 * Either output may be NULL; n == 1 gives sd = NaN, as numpy does. CN_ERR_ARG for n < 1 or no x or no
 * output, CN_ERR_NONFINITE for NaN or Inf in x. */
int cn_mean_sd(const double *x, int n, double *mean, double *sd);

/* Which way the alternative hypothesis points, for the differences d = x - y. */
typedef enum {
    CN_ALT_TWO_SIDED = 0,
    CN_ALT_GREATER,     /* d tends to be above 0: x > y */
    CN_ALT_LESS,        /* d tends to be below 0: x < y */
    CN_ALT_COUNT
} cn_alternative;

typedef struct {
    double statistic;       /* two-sided: min(W+, W-); one-sided: W+ (scipy's convention) */
    double p_value;
    double z;               /* (statistic - N(N+1)/4) / sd, tie-corrected, no continuity correction; scipy's
                             * zstatistic in the normal approximation, filled here in both branches */
    double w_plus, w_minus; /* rank sums of the positive and the negative differences */
    int n_used;             /* N: the nonzero differences */
    int exact;              /* 1: p from the exact null distribution; 0: the normal approximation */
} cn_wilcoxon;

/* Wilcoxon signed-rank test on the paired differences x[i] - y[i], i < n, with the numbers of
 * scipy.stats.wilcoxon(x, y, alternative=...) at its defaults in scipy 1.10 (zero_method="wilcox": zero
 * differences dropped; correction=False; method="auto": exact when n <= 50 and no difference is zero, else
 * the normal approximation with the tie correction). Like scipy 1.10, the exact branch does not check for
 * ties and truncates a half-integer W+ (src/stats/wilcoxon.c says more). CN_ERR_ARG for n < 1, NULL, a
 * bad alternative, or all differences zero; CN_ERR_NONFINITE for NaN or Inf. */
int cn_wilcoxon_signed_rank(cn_wilcoxon *out, const double *x, const double *y, int n,
                            cn_alternative alternative);

/* Percentile bootstrap confidence interval [lo, hi] of the mean of x at level (e.g. 0.95), as
 * scipy.stats.bootstrap((x,), np.mean, confidence_level=level, method="percentile"): the (1-level)/2 and
 * (1+level)/2 quantiles (numpy.percentile's linear interpolation) of the means of `resamples` resamples.
 * Resample after resample, each draws its n indices with cn_rng_below(rng, n), in order, so an
 * independent implementation can replay them. CN_ERR_ARG for n < 1, resamples < 1, level outside (0, 1),
 * NULL; CN_ERR_NONFINITE for NaN or Inf in x. */
int cn_bootstrap_ci(double *lo, double *hi, const double *x, int n, int resamples, double level, cn_rng *rng);
/* The same resamples, bias-corrected and accelerated (BCa, scipy's default method="BCa"). Needs n >= 2;
 * CN_ERR_ARG also where the interval is undefined (constant data). */
int cn_bootstrap_ci_bca(double *lo, double *hi, const double *x, int n, int resamples, double level,
                        cn_rng *rng);

/* A correlation of n pairs and its two-sided p-value. */
typedef struct {
    double r;       /* Pearson's r, or Spearman's rho (Pearson's r of the average ranks) */
    double p_value; /* two-sided: Student's t with n - 2 degrees of freedom at t = r sqrt((n - 2) / (1 - r^2))
                     * (GSL's gsl_cdf_tdist_Q); 1 for n = 2, 0 for |r| = 1 and n > 2 */
    int n;
} cn_correlation;

/* Pearson's r of x[i], y[i], i < n, and its p-value, the numbers of scipy.stats.pearsonr(x, y) (scipy
 * 1.10). CN_ERR_ARG for n < 2, NULL, or a constant x or y (scipy: NaN); CN_ERR_NONFINITE for NaN or Inf. */
int cn_pearson(cn_correlation *out, const double *x, const double *y, int n);
/* Spearman's rho (ties get the average of their ranks) and its p-value, the numbers of
 * scipy.stats.spearmanr(x, y), except that n = 2 gives p = 1 where scipy gives NaN. The same errors, and
 * CN_ERR_NOMEM. */
int cn_spearman(cn_correlation *out, const double *x, const double *y, int n);

/* Percentile bootstrap confidence interval [lo, hi] of Spearman's rho of the pairs (x[i], y[i]), i < n, at
 * level (e.g. 0.95): resample after resample, n pair indices from cn_rng_below(rng, n), in order, the same
 * index taken for x and y (as cn_bootstrap_ci draws its indices); rho of each resample as cn_spearman; the
 * (1-level)/2 and (1+level)/2 quantiles (numpy.percentile's linear interpolation) of the rhos. A resample
 * whose x or y values are all equal has no rho: it is skipped (its draws still made) and counted in
 * *skipped (may be NULL), and the quantiles are those of the rest. CN_ERR_ARG, with lo and hi NaN, when
 * more than 10% of the resamples are skipped (a constant x or y skips all), for n < 2, resamples < 1,
 * level outside (0, 1), NULL; CN_ERR_NONFINITE for NaN or Inf; CN_ERR_NOMEM. */
int cn_spearman_bootstrap_ci(double *lo, double *hi, int *skipped, const double *x, const double *y, int n,
                             int resamples, double level, cn_rng *rng);

typedef struct {
    double statistic; /* U of x: the pairs with x[i] > y[j], ties counting 1/2 (scipy's statistic) */
    double p_value;
    double z;         /* (U - nx ny/2 - 1/2) / sd, tie-corrected, of the U the p-value reads: U of x for
                       * greater, of y for less, the larger for two-sided (scipy's _get_mwu_z); so p is
                       * Q(z), doubled for two-sided, in the approximation. Filled in both branches; -inf
                       * when all values are equal */
    int nx, ny;
    int exact;        /* 1: p from the exact null distribution; 0: the normal approximation */
} cn_mann_whitney;

/* Mann-Whitney U test of x[0..nx) against y[0..ny), with the numbers of scipy.stats.mannwhitneyu(x, y,
 * alternative=...) at its defaults in scipy 1.10 (use_continuity=True, method="auto": exact when nx <= 8 or
 * ny <= 8 and no two values are tied, else the normal approximation with the tie and continuity
 * corrections; src/stats/mann_whitney.c says more). CN_ALT_GREATER: x tends to be larger than y.
 * CN_ERR_ARG for nx < 1, ny < 1, NULL or a bad alternative; CN_ERR_NONFINITE for NaN or Inf (scipy takes
 * Inf); CN_ERR_NOMEM. */
int cn_mann_whitney_u(cn_mann_whitney *out, const double *x, int nx, const double *y, int ny,
                      cn_alternative alternative);

#define CN_MIXED_MAX_K 16

/* A linear mixed model with a random intercept per group, y = X beta + u[group] + e,
 * u ~ N(0, tau2), e ~ N(0, s2), fitted by REML or ML. */
typedef struct {
    double beta[CN_MIXED_MAX_K]; /* fixed effects, in the order of X's columns */
    double se[CN_MIXED_MAX_K];   /* their standard errors, as statsmodels MixedLM's bse_fe (see below) */
    double z[CN_MIXED_MAX_K];    /* beta / se */
    double p[CN_MIXED_MAX_K];    /* two-sided normal p-values, 2 Q(|z|) */
    double tau2;                 /* group (random-intercept) variance: statsmodels' cov_re, "Group Var" */
    double s2;                   /* residual variance: statsmodels' scale */
    double llf;                  /* the REML or ML log-likelihood at the estimate, as statsmodels' llf */
    int n, k, n_groups;
    int reml;
    int boundary;  /* 1: the estimate of tau2 is 0, on the edge of the parameter space */
    int converged; /* 0: the optimiser stopped short, or tau2 / s2 ran to the top of the search (1e10) */
} cn_mixed_fit;

/* Fits y[i] = sum_j X[i k + j] beta[j] + u[group[i]] + e[i], i < n: X is (n, k) row-major and holds the
 * intercept column if one is wanted; group[i] is any integer label (equal labels, same group). reml != 0:
 * REML, else ML. beta and s2 are profiled out, leaving a 1-D likelihood in gamma = tau2 / s2 >= 0 that is
 * maximised over ln gamma (grid, then GSL's Brent minimiser on the deviance, then a root of its derivative),
 * with gamma = 0 taken when the likelihood falls from there. The numbers are statsmodels' (0.13, Debian 12):
 * smf.mixedlm("y ~ x", df, groups=df["g"]).fit(reml=...) at the optimum, standard errors included: those
 * invert the observed information of (beta, gamma) in the scale-profiled likelihood, as statsmodels' fit
 * does, not the GLS covariance s2 (X' V^-1 X)^-1 alone; NaN where that is not invertible. CN_ERR_ARG for
 * k < 1 or k > CN_MIXED_MAX_K, NULL, fewer than 2 groups, no group with 2 or more observations, n <= k under
 * REML, X without full column rank, or y fitted exactly by X; CN_ERR_NONFINITE for NaN or Inf in y or X (or
 * squares that overflow); CN_ERR_NOMEM. */
int cn_mixed_intercept(cn_mixed_fit *out, const double *y, const double *X, int n, int k, const int *group,
                       int reml);

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_H */
