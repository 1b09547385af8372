/* critnet_continual.h: continual learning in libcritnet (src/continual/): Online Permuted MNIST with
 * backprop, Adam, L2, Shrink and Perturb, continual backprop, L2 Init and the criticality regulariser. It
 * builds on the network, data, checkpoint and training API of critnet.h, which includes it. */
#ifndef CRITNET_CONTINUAL_H
#define CRITNET_CONTINUAL_H

#include "critnet.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    cn_crit_settings crit;     /* crit: weight 1, probes 1, every 1 by default (probes, every >= 1) */
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

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_CONTINUAL_H */
