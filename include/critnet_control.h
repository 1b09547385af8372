/* critnet_control.h: control methods that put and keep every block of a network at the critical point
 * sigma_l = 1 by turning each block's gain (src/control/): a data-dependent critical initialisation
 * (LSUV-style) and a homeostatic controller that runs during training, modelled on synaptic scaling.
 * docs/critical-training.md ("Control methods") has the definitions, defaults and the manipulation checks.
 *
 *     cn_critical_init_cfg ic;
 *     cn_critical_init_defaults(&ic);
 *     cn_critical_init_report rep;
 *     cn_init_critical(net, x, n, &ic, &rep, &err);    // after cn_net_init; x: (n, in) data
 *     cn_critical_init_report_free(&rep);
 *
 * A block's gain is turned by one multiplicative factor on one set of parameters: the last layer of the
 * block that has any (inside a residual block, the last of its body, so that the residual branch scales as a
 * whole): a dense or conv layer's weights (never its biases), a normalisation layer's scale (gamma). The
 * critical initialisation and the controller estimate sigma_l as `critnet measure` does: per input
 * sigma_l(x)^2 = sum_p |J_l u_p|^2_l / sum_p |u_p|^2_{l-1} over Gaussian probes u_p, then the geometric mean
 * over inputs; but in training mode (batch statistics), the mode in which the network learns. Imported (ONNX)
 * graphs are refused: their blocks do not say which parameters are weights and which are biases. */
#ifndef CRITNET_CONTROL_H
#define CRITNET_CONTROL_H

#include "critnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- critical initialisation */

typedef struct {
    int batch;           /* calibration inputs: the first N of x (default 128) */
    int probes;          /* jvp probes per block and input (default 2) */
    int max_iter;        /* measurements per block at most (default 10) */
    double tol;          /* a block is done when |ln sigma_l| < tol (default 0.01) */
    int include_readout; /* calibrate the readout block too (default 0: left out, as the measures leave it) */
    uint64_t seed;       /* the probes' stream (default 0) */
} cn_critical_init_cfg;

void cn_critical_init_defaults(cn_critical_init_cfg *cfg);

typedef enum {
    CN_CALIB_DONE = 0,     /* |ln sigma_l| < tol */
    CN_CALIB_NO_GAIN,      /* the block has no multiplicative parameters (a standalone activation, a pool) */
    CN_CALIB_NOT_REACHED,  /* max_iter measurements did not bring it within tol (a residual block whose skip
                            * alone has gain >= 1, say) */
} cn_calib_status;

typedef struct {
    int nblocks;
    double *ln_sigma_before, *ln_sigma_after; /* per block, each measured right after the blocks before it
                                               * were calibrated */
    double *log_gain;                         /* per block: ln of the factor its parameters were scaled by */
    int *iterations;                          /* per block: measurements taken */
    cn_calib_status *status;
    double mean_abs_after;                    /* mean over blocks of |ln sigma_l| after */
    int not_reached;                          /* blocks with CN_CALIB_NOT_REACHED */
} cn_critical_init_report;

/* Calibrates net (already initialised) on the inputs x (n, in): block by block, in order, sigma_l is measured
 * and the block's gain parameters are scaled by exp(-ln sigma_l / slope) (slope: d ln sigma_l / d ln gain, 1 at
 * first, then the secant of the last two measurements) until |ln sigma_l| < tol. Changes the gain parameters
 * and, for a net with batch norm, its running statistics: they are settled on the calibration batch, so that
 * eval mode sees the gains calibrated in training mode. rep may be NULL. CN_ERR_UNSUPPORTED
 * for an imported graph; a block that cannot be calibrated is reported, not an error. */
int cn_init_critical(cn_net *net, const cn_real *x, int n, const cn_critical_init_cfg *cfg,
                     cn_critical_init_report *rep, cn_error *err);
void cn_critical_init_report_free(cn_critical_init_report *rep);

/* ---------------------------------------------------------------- homeostatic control (cn_control_settings in
 * critnet.h, since cn_train_cfg holds one) */

void cn_control_defaults(cn_control_settings *s); /* kind NONE, every 10, rate 0.5, band 0.02, smoothing 0.5 */

typedef struct cn_control cn_control;

/* A controller for net's blocks (the readout too if s->layers_all) for minibatches up to max_batch; it needs
 * cn_net_reserve(net, max_batch, 1). CN_ERR_ARG for settings out of range, CN_ERR_UNSUPPORTED for an imported
 * graph. */
int cn_control_new(cn_control **out, cn_net *net, const cn_control_settings *s, int max_batch, cn_error *err);
void cn_control_free(cn_control *c);
/* Training step `step` (counted over the whole run), on the stored forward pass of B examples, after the
 * backward pass: on every every-th step, one Gaussian probe per block (drawn from rng) gives e_l = ln sigma_l
 * on the minibatch, the running estimate becomes m_l <- (1 - a) m_l + a e_l (m_l = e_l the first time), and a
 * block with |m_l| > band has its gain parameters scaled by exp(d), d = -rate m_l (|d| at most 0.5). Other
 * steps return at once. CN_ERR_NONFINITE when
 * the estimate is not finite. */
int cn_control_step(cn_control *c, cn_rng *rng, int B, long step, cn_error *err);
/* the running estimates m_l (one per block) and how many observations made them */
int cn_control_blocks(const cn_control *c);
const double *cn_control_estimates(const cn_control *c);
long cn_control_observations(const cn_control *c);
/* mean over blocks of |m_l| (NaN before the first observation) */
double cn_control_mean_abs(const cn_control *c);

/* The running state, for a checkpoint's extension block: magic "CNHOMEO", version, blocks, observations,
 * the estimates as float64, all little-endian. encode returns the size and writes it to buf when buf is not
 * NULL; decode checks magic, version and the block count against this controller. */
size_t cn_control_state_encode(const cn_control *c, void *buf);
int cn_control_state_decode(cn_control *c, const void *buf, size_t size, cn_error *err);

#ifdef __cplusplus
}
#endif
#endif /* CRITNET_CONTROL_H */
