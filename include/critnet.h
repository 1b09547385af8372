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

/* one header per concern; this one holds the networks, training, checkpoints, measures and robustness */
#include "critnet_core.h"
#include "critnet_data.h"
#include "critnet_stats.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* The three passes return CN_OK or the status of the layer that failed (a node of an imported graph whose
 * shapes do not fit, a backward that the model has not: cn_net_status gives the message); the outputs of a
 * failed pass are undefined. critnet's own layers do not fail once cn_net_reserve has succeeded.
 * x: (B, in). train != 0 selects training behaviour (batch statistics, dropout). A batch (or a tangent count)
 * outside what cn_net_reserve sized is CN_ERR_ARG, never a write past the buffers. */
int cn_net_forward(cn_net *net, const cn_real *x, int batch, int train);
const cn_real *cn_net_output(const cn_net *net); /* (B, out) of the last forward */
void cn_net_zero_grad(cn_net *net);
/* Accumulates parameter gradients (+=) from dout (B, out); dx (B, in) may be NULL. */
int cn_net_backward(cn_net *net, const cn_real *dout, cn_real *dx, int batch);
/* Forward-mode tangents on the stored forward pass: tx (K, B, in) -> ty (K, B, out). */
int cn_net_jvp(cn_net *net, const cn_real *tx, cn_real *ty, int batch, int tangents);

/* Layer-by-layer access for the criticality measures. */
int cn_net_layer_count(const cn_net *net);
const char *cn_net_layer_kind(const cn_net *net, int i);
int cn_net_layer_out_size(const cn_net *net, int i);
const cn_real *cn_net_layer_output(const cn_net *net, int i); /* (B, n_i) of the last forward */
int cn_net_layer_jvp(cn_net *net, int i, const cn_real *tx, cn_real *ty, int batch, int tangents);
/* Layer i alone, in eval mode, on x (batch, its input size): its output replaces cn_net_layer_output(net, i).
 * Lets a measure change the signal between layers (the driven dynamic range adds noise at every block). */
int cn_net_layer_forward(cn_net *net, int i, const cn_real *x, int batch);

/* ---------------------------------------------------------------- imported models (critnet_onnx.h) */

/* CN_OK when every pass works, backward included; an imported graph with an operator that has no backward
 * yet runs forward and jvp only: CN_ERR_UNSUPPORTED, err naming the node. */
int cn_net_trainable(const cn_net *net, cn_error *err);
/* 1 when cn_net_trainable fails: no backward, so no training and no gradient attacks */
int cn_net_inference_only(const cn_net *net);
/* An imported network (critnet_onnx.h) that remembers the file it came from: its path, else NULL. A
 * checkpoint of such a net refers to that file for the graph and stores the weights itself. */
const char *cn_net_source(const cn_net *net);
/* the only batch size the model runs (an ONNX file whose batch dimension is fixed at 1), or 0: any. The
 * library's own loops (cn_measure, cn_evaluate) keep their batches within it. */
int cn_net_batch_limit(const cn_net *net);
/* The status and message of the last pass (or reserve) of an imported graph that failed since
 * cn_net_clear_status; CN_OK when none did. The passes themselves return the status; this says why. */
int cn_net_status(const cn_net *net, cn_error *err);
void cn_net_clear_status(cn_net *net);
/* Fills err for a pass or reserve that returned rc (the imported graph's message naming the node, where it
 * has one) and returns rc. */
int cn_net_pass_error(const cn_net *net, int rc, cn_error *err);
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

/* The criticality regulariser's settings, one struct for critical training (cn_train_cfg) and continual
 * learning (cn_continual_cfg): total loss = task loss + weight * R on every every-th step, with R = mean over
 * blocks of (ln sigma_l)^2 (CN_CRIT_SIGMA) or lambda_0^2 (CN_CRIT_LAMBDA), estimated on the minibatch from
 * `probes` jvp probes. See docs/critical-training.md. */
typedef struct {
    double weight;         /* training: 0 is off */
    cn_crit_target target; /* default CN_CRIT_SIGMA */
    int probes;            /* per block (sigma) or tangents (lambda) per example; training: 0 means 1 */
    int every;             /* training: 0 means 1 */
    int batch;             /* the probes run on the first N examples of each minibatch (0: all) */
    int layers_all;        /* include the readout block */
} cn_crit_settings;

/* the homeostatic controller's settings (critnet_control.h; docs/critical-training.md, "Control methods") */
typedef enum { CN_CONTROL_NONE = 0, CN_CONTROL_HOMEOSTATIC = 1 } cn_control_kind;
typedef struct {
    cn_control_kind kind;
    int every;        /* training steps between observations */
    double rate;      /* fraction of the running ln sigma_l corrected per observation */
    double band;      /* dead band: no correction while |running ln sigma_l| <= band */
    double smoothing; /* weight of a new observation in the running estimate */
    int layers_all;   /* include the readout block */
} cn_control_settings;

typedef struct {
    int epochs, batch;
    uint64_t seed;
    cn_loss_kind loss;
    cn_optim_cfg optim;
    int limit_train, limit_test; /* use only the first N examples (0: all) */
    int stop_after;              /* stop after this many epochs in this call (0: run to the end) */
    cn_crit_settings crit;       /* critical training (crit.weight 0: off) */
    cn_control_settings control; /* homeostatic control (control.kind CN_CONTROL_NONE: off) */
    const void *control_state;   /* the controller's state from a checkpoint's extension block (resume), or NULL */
    size_t control_state_size;
    int track_samples;           /* sigma and lambda_0 per epoch on the first N test inputs (0: 200; <0: off) */
    int track_every;             /* also every N optimizer steps, to out_dir/track.csv (0: off; train/track_file.h) */
    const char *out_dir;         /* model.cnm, metrics.csv, summary.json (NULL: write nothing) */
    const char *settings;        /* JSON of the run's settings, stored in the checkpoint and summary */
    void (*progress)(const cn_train_progress *p, void *user);
    void *user;
    /* NULL, or a flag read before every step: once it is nonzero cn_train stops there and returns
     * CN_ERR_STOPPED (the net as that step left it, no checkpoint or summary for the part-epoch). progress may
     * set it, which is how an interpreter turns Ctrl-C into a prompt stop. */
    const volatile int *stop;
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
/* The outputs (logits) of the first n = min(limit, count) examples of d (limit <= 0: all), in eval mode:
 * out (n, out_size), batches of `batch`. */
int cn_predict(cn_net *net, const cn_dataset *d, int batch, int limit, cn_real *out, cn_error *err);
int cn_evaluate_topk(cn_net *net, const cn_dataset *d, int k, int batch, int limit, double *acc_out, cn_error *err);
int cn_evaluate(cn_net *net, const cn_dataset *d, cn_loss_kind loss, int batch, int limit, double *loss_out,
                double *acc_out, cn_error *err);

const char *cn_loss_name(cn_loss_kind k);
int cn_loss_from_name(const char *name, cn_loss_kind *out);
const char *cn_opt_name(cn_opt_kind k);
int cn_opt_from_name(const char *name, cn_opt_kind *out);
const char *cn_sched_name(cn_sched_kind k);
int cn_sched_from_name(const char *name, cn_sched_kind *out);

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
/* How a curve sits on its stimulus grid: "ok" (saturated, not cut at s_min), "truncated-low" (cut at s_min),
 * "truncated-high" (not saturated by s_max) or "truncated-both". Only an "ok" curve's Delta measures the
 * network rather than the grid; every report that aggregates Delta leaves the others out and counts them. */
const char *cn_dynrange_class(const cn_dynrange *d);
int cn_dynrange_complete(const cn_dynrange *d); /* 1: class "ok" */

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
 * hidden state from the reference's; the same divided by the reference's RMS activity |h_l(x_ref)|; driven: the
 * RMS activity |h_l| when Gaussian noise of RMS s enters every block's input (Kinouchi & Copelli's stochastic
 * drive, src/measure/driven.c; the stimulus kind is then unused) */
typedef enum {
    CN_RESP_TV = 0, CN_RESP_ACTIVITY, CN_RESP_HIDDEN, CN_RESP_HIDDEN_REL, CN_RESP_DRIVEN, CN_RESP_COUNT
} cn_response;
const char *cn_response_name(cn_response r); /* "tv", "activity", "hidden", "hidden-rel", "driven" */
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
    /* after every batch; with several threads (cn_set_threads), from whichever thread measured it, one call
     * at a time */
    void (*progress)(double done, double total, void *user);
    void *user;
    /* NULL, or a flag read before every batch (by every thread): once it is nonzero cn_measure stops and
     * returns CN_ERR_STOPPED with no result. progress may set it (Ctrl-C from an interpreter). */
    const volatile int *stop;
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

/* Measures net (eval mode) on n inputs x (n, in). With T = cn_get_threads() > 1 the inputs are split into T
 * contiguous shares, each measured with a copy of net and one BLAS thread (an imported graph, which has no
 * copy, runs on one): results are bit-identical for a given T. Each share draws from its own random stream
 * (sigma's probes, a random Q0, the dynamic range's directions), so those differ between thread counts;
 * the rest agrees to rounding. */
int cn_measure(cn_net *net, const cn_real *x, int n, const cn_measure_cfg *cfg, cn_measure_result *res,
               cn_error *err);
void cn_measure_result_free(cn_measure_result *res);

/* ---------------------------------------------------------------- Jacobian spectrum (measure/jacobian.c) */

/* The singular values of the Jacobian of the blocks (the readout too if include_readout) at each of n inputs
 * (eval mode), exactly: basis tangents through the layers' jvps, then LAPACK's SVD in double. At most 4096
 * inputs and outputs. s holds inputs x rank values, each input's in descending order; the summaries pool all
 * of them. For a linear net with Gaussian weights (sigma_w = 1) and depth L, mean_s2 = 1 and mean_s4 = L + 1
 * (Fuss-Catalan); orthogonal weights give every s = 1 (tests/test_jacobian_f64.c). */
typedef struct {
    int inputs, rank, n_in, n_out;
    double *s;
    double mean_s2, mean_s4;     /* pooled moments of s^2: chi^L and its spread */
    double s_min, s_max;         /* pooled */
    double mean_log10_cond;      /* mean over inputs of log10(s_max / s_min) */
    double hist_lo, hist_hi;     /* histogram of log10 s over [hist_lo, hist_hi], 40 bins */
    long hist[40];
} cn_jacobian_result;

int cn_jacobian_spectrum(cn_net *net, const cn_real *x, int n, int include_readout, cn_jacobian_result *res,
                         cn_error *err);
void cn_jacobian_result_free(cn_jacobian_result *res);

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
    /* the per-block distance from criticality: the mean over blocks of |ln sigma_l| (averaged over draws), beside
     * |ln sigma| of the geometric mean */
    double mean_abs_ln_sigma_block;
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

#ifdef __cplusplus
}
#endif

/* the headers of further concerns: onnx and continual build on the API above and include this header
 * themselves, avalanche needs only the core; each can be included alone */
#include "critnet_onnx.h"
#include "critnet_continual.h"
#include "critnet_avalanche.h"
#include "critnet_control.h"

#endif /* CRITNET_H */
