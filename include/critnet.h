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
    int count;           /* number of examples */
    int c, h, w;         /* per-example shape; n = c*h*w */
    int classes;
    cn_real *x;          /* (count, c*h*w) */
    int32_t *y;          /* (count) */
} cn_dataset;

typedef struct {
    cn_dataset train, test;
    char name[64];
} cn_data;

typedef struct {
    const char *spec;     /* "fashion-mnist", "mnist", "idx:DIR", "gaussian", "cifar10:DIR" */
    int gaussian_dim;     /* --in for gaussian */
    int gaussian_count;   /* examples per split for gaussian (0: 1000) */
    int gaussian_classes; /* 0: 10 */
    uint64_t seed;        /* gaussian data (the mnist split always uses seed 0, so it never moves) */
    int standardize;      /* per-feature standardisation from training statistics */
    const char *data_root;/* where the set-up script put data (NULL: $CRITNET_DATA or ./data) */
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
 * Fixed-width little-endian fields, float32 values. */
typedef struct {
    cn_net *net;        /* owned; set to NULL to take it */
    char *settings;     /* JSON text of the run's settings ("" if none) */
    int epoch;          /* epochs completed */
    long opt_steps;
    size_t opt_count;
    cn_real *opt_state;
    size_t rng_size;
    void *rng_state;
} cn_checkpoint;

/* opt and rng may be NULL (a bare model). Writes PATH.tmp then renames, so a crash never leaves a
 * half-written checkpoint in place of the last good one. */
int cn_checkpoint_save(const char *path, cn_net *net, cn_optim *opt, const cn_rng *rng, int epoch,
                       const char *settings, cn_error *err);
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
} cn_train_progress;

typedef struct {
    int epochs, batch;
    uint64_t seed;
    cn_loss_kind loss;
    cn_optim_cfg optim;
    int limit_train, limit_test; /* use only the first N examples (0: all) */
    int stop_after;              /* stop after this many epochs in this call (0: run to the end) */
    const char *out_dir;         /* model.cnm, metrics.csv, summary.json (NULL: write nothing) */
    const char *settings;        /* JSON of the run's settings, stored in the checkpoint and summary */
    void (*progress)(const cn_train_progress *p, void *user);
    void *user;
} cn_train_cfg;

typedef struct {
    int epochs_done;
    double train_loss, train_acc, test_loss, test_acc, seconds;
    int diverged;
    char diverged_msg[256];
} cn_train_result;

/* Trains net on data from epoch start_epoch (0 for a fresh run; a checkpoint's epoch to resume),
 * evaluating on the test split each epoch. opt and rng carry their state across calls. Returns
 * CN_ERR_NONFINITE when the run diverged; the checkpoint of the last good epoch is left in place. */
int cn_train(cn_net *net, const cn_data *data, const cn_train_cfg *cfg, cn_optim *opt, cn_rng *rng,
             int start_epoch, cn_train_result *res, cn_error *err);

/* Loss and accuracy of net (eval mode) on a dataset, in batches. */
int cn_evaluate(cn_net *net, const cn_dataset *d, cn_loss_kind loss, int batch, int limit, double *loss_out,
                double *acc_out, cn_error *err);

const char *cn_loss_name(cn_loss_kind k);
int cn_loss_from_name(const char *name, cn_loss_kind *out);
const char *cn_opt_name(cn_opt_kind k);
int cn_opt_from_name(const char *name, cn_opt_kind *out);
const char *cn_sched_name(cn_sched_kind k);
int cn_sched_from_name(const char *name, cn_sched_kind *out);

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_H */
