/* run.h: the state of a continual run, shared by the files of src/continual (continual.c drives it). */
#ifndef CN_CL_RUN_H
#define CN_CL_RUN_H
#include <stdio.h>
#include "continual/cbp.h"
#include "train/critreg.h"

struct cn_continual {
    cn_continual_cfg cfg;       /* a copy; its strings stay the caller's */
    const cn_data *data;
    cn_net *net;
    int n_in, classes;
    int count;                  /* examples per task */
    int *dense, ndense;         /* chain indices of the dense layers */
    double lr;
    cn_optim *opt;
    cn_rng *rng_data;           /* permutations and example orders */
    cn_rng *rng_method;         /* snp noise, cbp's new weights, crit's probes */
    cn_critreg *reg;            /* crit */
    cn_cbp *cbp;                /* cbp */
    cn_real *theta0;            /* l2init: the initial parameters */
    int32_t *perm, *order;      /* of the task begun last (perm: n_in, order: the whole training split) */
    int32_t *fresh, *tmp;       /* n_in scratch */
    int task_begun;             /* 1-based; 0 before the first */
    int tasks_done;
    long steps_done;            /* training steps since the start of the run, restores included */
    long crit_skipped;          /* crit: steps where R was undefined (a block with no active unit) */
    cn_continual_row *rows;     /* cfg.tasks rows, the first tasks_done filled */
    cn_real *x;                 /* one example under the task's permutation */
    cn_real *dlogits;
    cn_real *probe;             /* probe_n test inputs under the task's permutation */
    int probe_n, probe_chunk;
    int fast;                   /* steps take the fused batch-1 path (fastpath.c) */
    cn_real *grad_a, *grad_b;   /* its backward ping-pong, the widest layer's size */
};

/* One online step on training example idx under the current permutation: forward, score (*hit: the
 * prediction before the update was right), loss, gradient with the methods' terms, update, and the methods'
 * after-update parts. CN_ERR_NONFINITE when the loss is not finite; nothing is updated then. */
int cl_online_step(cn_continual *c, int idx, int *hit, double *loss, long *replaced);
/* snp's noise: std N(0, 1) draws of the method stream added to every parameter, in the flat order */
void cl_perturb(cn_continual *c);

/* The same step for SGD without crit, fused (fastpath.c): matrix-vector products forward; backward, each
 * layer's input gradient from its weights before the update, then the rank-1 update straight into the
 * parameters, with no gradient buffer. The generic step's numbers to float rounding. cl_fast_supported says
 * whether the run's methods allow it. */
int cl_fast_supported(const cn_continual *c);
int cl_fast_step(cn_continual *c, int idx, int *hit, double *loss, long *replaced);

/* files.c: tasks.csv (rewritten from the rows the run holds, so that a restored run drops the rows of a
 * killed run's later tasks), a row, model.cnm with the continual state, summary.json. */
#define CL_ROW_MAX 512
int cl_open_tasks(const cn_continual *c, cn_rows_file *out, cn_error *err);
/* a row of tasks.csv, newline included */
void cl_format_row(char *out, size_t cap, const cn_continual_row *r);
int cl_save_checkpoint(cn_continual *c, cn_error *err);
int cl_write_summary(const cn_continual *c, const cn_continual_result *res, const char *status, cn_error *err);

/* The extension block of model.cnm (state.c): everything of the run that the checkpoint's own fields do not
 * hold. */
int cl_state_encode(const cn_continual *c, unsigned char **buf, size_t *size);
int cl_state_decode(cn_continual *c, const unsigned char *buf, size_t size, cn_error *err);
#endif
