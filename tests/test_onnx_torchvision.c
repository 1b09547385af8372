/* test_onnx_torchvision.c: critnet's ONNX import of six TorchVision models at random initialisation
 * (resnet18, mobilenet_v2, efficientnet_b0, densenet121, convnext_tiny, vit_b_16) against PyTorch: the
 * logits, every block's value and jvp, lambda_0 (k = 1, from a given Q0) and the per-block sigma.
 *
 * tests/onnx_torchvision_ref.py exports the models (as experiments/torchvision/export.py does; vit_b_16's
 * zero-initialised head gets N(0, 0.02^2) weights) and writes the inputs, Q0 and torch's logits; this test
 * runs critnet on them and writes its blocks and numbers; the script then computes the references with
 * tests/onnx_torch_interp.py, an interpreter of the same ONNX graph with torch operations and forward-mode AD,
 * and with the torch models themselves (docs at the top of the script). The export of the next models and the
 * references of the earlier ones run while this test measures a model.
 *
 * What is compared, and the tolerances. Every run prints the numbers; those quoted here are from the run
 * that set the tolerances, and they hold for every model and block.
 *
 *   Logits: critnet (float32) against the torch model (float32) on 2 N(0,1) inputs,
 *   max |critnet - torch| <= LOGIT_RTOL * max |torch|. Seen: 2.6e-7 (densenet121) to 1.4e-6
 *   (efficientnet_b0): float32 rounding in other orders, and batch norm folded into the convolutions by the
 *   exporter. Purely relative: at this initialisation mobilenet_v2's logits are ~3e-9 and efficientnet_b0's
 *   ~4e-14 (TorchVision's kaiming fan_out init of the depthwise convolutions shrinks the signal at each), so an
 *   absolute floor such as 1e-6 would make those two comparisons vacuous. One average-pool window divided by
 *   5 instead of 4 in densenet121 moves its logits by 4.4e-4.
 *
 *   Block values: for input 0, critnet's value at each block end (cn_net_layer_output) against the
 *   interpreter's float64 one, max|diff| <= FWD_RTOL * max|ref|. Seen: at most 9.3e-7. The same pooling
 *   window gives 4.6e-3 at the first block after it. This is what locates a wrong op: on failure the test
 *   dumps critnet's value and tangent of every tensor inside the first failing block (through onnx/graph.h)
 *   and the script names the first node that diverges (CN_TV_DEBUG=MODEL:BLOCK forces that dump).
 *
 *   Block jvps: each block's J_l u_l on input 0 for a deterministic tangent u_l (splitmix64, bit-identical on
 *   both sides, det_tangent) against the interpreter's forward-mode AD in float32 (the script says why not
 *   float64), max|diff| <= DET_RTOL * max|ref| per block. No probe noise: this is the sharp test of every
 *   op's jvp. Seen: at most 1.1e-6. An Erf derivative 1% too large (vit_b_16's GELU) gives 1.1e-3 to 2.8e-3
 *   at the blocks that hold an MLP, diluted by the skip connection; DET_RTOL = 1e-4 catches a tenth of that.
 *   A Relu, Clip or MaxPool input within 1e-5 (relative) of its bend can fall on the other side in the other
 *   implementation, which changes a few entries by O(1) (seen: mobilenet_v2, densenet121); the script marks
 *   the entries such a unit can reach and leaves them out (the kinks column), and fails a block where more
 *   than 1e-3 of the units lie that near, or more than 75% of the entries would be left out.
 *
 *   lambda_0: cn_measure with cfg.q0 (one unit vector, k = 1). With one exponent the QR chain telescopes:
 *   lambda_0(x) = (1/L)[ln|J q0| + 0.5 ln(n_0/n_L)], J from the input to the L-th block end. Checked with the
 *   readout excluded (critnet's default; the reference is the interpreter's float64 jvp to the last block
 *   end) and included (--layers all: L+1 blocks; the reference is the torch model's own forward-mode jvp to
 *   the logits, and the interpreter's too). |critnet - reference| <= LAMBDA_TOL = 1e-3 absolute. Seen: at
 *   most 6.4e-7 without the readout, 6.3e-6 with it (mobilenet_v2), 2.2e-5 against densenet121's torch
 *   model (whose batch norms are not folded as they are in the graph).
 *
 *   sigma: critnet's cn_measure (CRIT_PROBES = 32 Gaussian probes per block and input, its own generator)
 *   against the script's estimate with the same ratio estimator and probes_ref probes of its own. Both are
 *   noisy; the script derives each block's noise from its own probes (delta method: Var ln sigma_hat =
 *   v/(4P), bias -v/(4P), v the per-probe variance of a_p/mean a - b_p/mean b; onnx_torchvision_ref.py
 *   sigma_stats), and the test requires, per block,
 *       |ln sigma_critnet - ln sigma_ref - (bias_critnet - bias_ref)| <= SIGMA_NSE * se + SIGMA_FLOOR,
 *   se = sqrt(se_critnet^2 + se_ref^2) over the inputs used. The prediction was checked by
 *   `onnx_torchvision_ref.py calibrate resnet18 32 16`: over 16 redraws of 32 probes on one input the spread
 *   of ln sigma_hat is 0.71 to 1.40 times the predicted standard error in its 18 blocks (median 1.03; the
 *   spread of 16 draws is itself uncertain by ~18%). SIGMA_NSE = 5 then leaves ~6e-7 of false alarms per
 *   block, 5e-4 where the script's 8 probes happen to underestimate v by half; SIGMA_FLOOR = 1e-4 covers float32
 *   rounding of ln sigma (~1e-6) and the blocks that are exact isometries (convnext_tiny's residual blocks,
 *   whose branch is scaled by 1e-6 at init, efficientnet_b0's squeeze-excitation gates at 0.5), where v = 0.
 *   Seen: |d ln sigma| at most 0.53 of its tolerance (efficientnet_b0, resnet18); 1.3e-2 at most (the
 *   readouts, where the probes' spread is widest).
 *   The deterministic jvp check is the sharp one; this one checks what cn_measure does with the jvps (the
 *   normalisation by n_in and n_out, the geometric means over inputs).
 *
 *   Also: the interpreter's float64 logits against torch's float32 ones (<= INTERP_RTOL; seen at most
 *   1.1e-6: the interpreter is right), the block ends are cuts of the graph with critnet's n_in and n_out
 *   (script), and lambda_0 without the readout from the cn_measure run with include_readout 0 equals the
 *   mean of the first L local exponents of the run with include_readout 1 (the same arithmetic).
 *
 * What it cannot see at this initialisation: convnext_tiny's residual branches (7x7 depthwise convolution,
 * LayerNorm, Linear, GELU, Linear) are scaled by layer_scale = 1e-6, so an error in a branch changes the
 * block's value and jvp by ~1e-6 of an error's size (an Erf derivative 1% off there goes unseen; only the
 * stem and the downsampling LayerNorm and convolutions carry O(1) signals); mobilenet_v2's and
 * efficientnet_b0's signals shrink to ~1e-9..1e-14 by the late stages, where SiLU and Sigmoid are linear,
 * so a wrong curvature of those shows only in the early stages. vit_b_16 (GELU through Erf, Softmax,
 * LayerNorm, the attention's shape arithmetic), resnet18 and densenet121 carry O(1) signals through every op.
 *
 * Budget: CPU ~215 s, ~220 s wall with 2 cores shared with other work (load 2.4 to 4): vit_b_16 and
 * convnext_tiny use 1 input, and the script uses 8 or 16 probes (MODELS below); critnet's probes stay 32.
 * cn_measure runs once with include_readout 0 and 1 probe (only its lambda_0 is used) and once with
 * include_readout 1 and 32 probes (sigma of every block, readout included, and lambda_0 --layers all).
 * Not run in the ASan build (tests/CMakeLists.txt); label "heavy".
 *
 * Usage: test_onnx_torchvision. $CRITNET_PYTHON (default /usr/bin/python3) runs the script; $CN_TV_MODELS
 * (a comma list) restricts the models, for debugging; $CN_TV_KEEP=1 keeps the temporary directory. CI has
 * torch, torchvision and onnx, so a script that cannot run is a failure, never a skip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "critnet.h"
#include "net/net_internal.h"
#include "onnx/graph.h"
#include "torch_ref_io.h"

#define LOGIT_RTOL 1e-4
#define FWD_RTOL 1e-4
#define DET_RTOL 1e-4
#define INTERP_RTOL 1e-5
#define LAMBDA_TOL 1e-3
#define SIGMA_NSE 5.0
#define SIGMA_FLOOR 1e-4
#define CRIT_PROBES 32
#define MEASURE_SEED 20240611
#define DET_SEED 977
#define N_INPUTS 2
#define SIDE 224
#define N0 (3 * SIDE * SIDE)

typedef struct {
    const char *name;
    int inputs;     /* 1 or 2: the inputs measured (the logits are always compared on both) */
    int probes_ref; /* the script's probes per block and input for sigma */
    int chunk;      /* rows per pass of the script's probe run (memory) */
} model_cfg;

static const model_cfg MODELS[] = {
    /* in the order they are exported and measured: the slow ones early, so that their references overlap
     * with critnet's work on the others, and a quick one last */
    {"resnet18", 2, 16, 32},
    {"vit_b_16", 1, 8, 8},
    {"convnext_tiny", 1, 8, 8},
    {"densenet121", 2, 8, 16},
    {"efficientnet_b0", 2, 16, 16},
    {"mobilenet_v2", 2, 16, 16},
};
#define N_MODELS ((int)(sizeof MODELS / sizeof *MODELS))

typedef struct {
    const model_cfg *cfg;
    int done, ok_c;        /* critnet ran */
    int L;                 /* blocks without the readout */
    cn_block *blocks;      /* L + 1 */
    double logit_err, lambda_L, lambda_all, lambda_L_from_local, sigma_net; /* sigma_net: cn_measure's sigma */
    double *sigma;         /* L + 1 */
    double seconds;
    /* from the reference */
    int ref_ok;
    double sigma_net_ref; /* exp of the mean over blocks of the reference's ln sigma_l */
    double lam_L_ref, lam_all_ref, lam_all_torch, sigma_worst, sigma_worst_tol, sigma_ratio, fwd_worst, det_worst,
        interp_err, sec_export, sec_ref;
    int sigma_bad;
    long masked, ambiguous; /* jvp entries left out for kinks; units near a kink */
} model_run;

static char g_dir[1024];
static const char *g_py, *g_src;
static float *g_x, *g_q0;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* ---------------------------------------------------------------- files */

static float *read_f32(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *v = malloc(n * sizeof *v);
    size_t got = f && v ? fread(v, sizeof *v, n, f) : 0;
    int extra = f ? fgetc(f) != EOF : 0;
    if (f) fclose(f);
    if (got != n || extra) {
        fprintf(stderr, "%s: expected %zu float32 values\n", path, n);
        free(v);
        return NULL;
    }
    return v;
}

static void path_of(char *buf, size_t cap, const char *name, const char *ext)
{
    snprintf(buf, cap, "%s/%s%s", g_dir, name, ext);
}

/* the numbers after "key" on the first line that starts with it in a text file; count read, or -1 */
static int kv_get(const char *path, const char *key, double *v, int max)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = -1;
    size_t kl = strlen(key);
    while (n < 0 && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0 || (line[kl] != ' ' && line[kl] != '\n')) continue;
        n = 0;
        char *p = line + kl, *end;
        while (n < max) {
            double d = strtod(p, &end);
            if (end == p) break;
            v[n++] = d;
            p = end;
        }
    }
    fclose(f);
    return n;
}

/* ---------------------------------------------------------------- the deterministic tangents */

/* splitmix64 of a counter, uniform with unit variance, as onnx_torchvision_ref.py's det_tangent */
static void det_tangent(uint64_t seed, int block, int b, float *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t z = ((uint64_t)(block * 4 + b) << 32 | (uint64_t)i) * 0x9E3779B97F4A7C15ull + seed;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        double U = (double)(z >> 11) * 0x1p-53;
        u[i] = (float)(1.7320508075688772 * (2.0 * U - 1.0));
    }
}

/* ---------------------------------------------------------------- python */

/* glibc's malloc otherwise hands torch's large tensors back to the kernel and faults them in again on every
 * pass: keeping the freed memory halves the script's CPU time (system time falls ~3x) */
#define PY_ENV "MALLOC_TRIM_THRESHOLD_=34359738368 MALLOC_TOP_PAD_=1073741824"

static void py_cmd(char *cmd, size_t cap, const char *args)
{
    snprintf(cmd, cap, PY_ENV " '%s' '%s/tests/onnx_torchvision_ref.py' %s", g_py, g_src, args);
}

static FILE *py_start(const char *args)
{
    char cmd[4096];
    py_cmd(cmd, sizeof cmd, args);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    if (!p) perror("popen");
    return p;
}

static int py_finish(FILE *p, const char *what)
{
    char line[1024];
    while (fgets(line, sizeof line, p)) printf("  [py] %s", line);
    int st = pclose(p);
    int ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    CHECK(ok, "%s: the PyTorch script failed (status %d); it needs /usr/bin/python3 with torch, torchvision, onnx",
          what, st);
    return ok;
}

/* ---------------------------------------------------------------- critnet's side of one model */

static int measure(cn_net *net, int n, int include_readout, int probes, cn_measure_result *res)
{
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.probes = probes;
    cfg.spectrum = 1;
    cfg.batch = 2;
    cfg.include_readout = include_readout;
    cfg.seed = MEASURE_SEED;
    cfg.q0 = g_q0;
    cn_error err = {0};
    int rc = cn_measure(net, g_x, n, &cfg, res, &err);
    CHECK(rc == CN_OK, "cn_measure (include_readout %d): %s", include_readout, err.msg);
    if (!rc) CHECK(res->degenerate == 0, "cn_measure: %ld collapsed directions", res->degenerate);
    return rc;
}

/* y = J_block u through the block's layers (one for an imported graph) */
static void block_jvp(cn_net *net, const cn_block *b, const float *u, float *y, float *s1, float *s2, int B)
{
    const float *in = u;
    for (int i = b->first; i <= b->last; i++) {
        float *out = i == b->last ? y : ((i - b->first) & 1 ? s2 : s1);
        cn_net_layer_jvp(net, i, in, out, B, 1);
        in = out;
    }
}

static int write_all(FILE *f, const float *v, size_t n) { return fwrite(v, sizeof *v, n, f) == n ? 0 : -1; }

static void run_critnet(model_run *r)
{
    const model_cfg *mc = r->cfg;
    const char *name = mc->name;
    int N = mc->inputs;
    char path[2048];
    double t0 = now();
    cn_error err = {0};
    cn_net *net = NULL;
    path_of(path, sizeof path, name, ".onnx");
    int rc = cn_net_from_onnx(&net, path, NULL, &err);
    CHECK(rc == CN_OK, "%s: cn_net_from_onnx: %s", name, err.msg);
    if (rc) return;
    CHECK(cn_net_in_size(net) == N0, "%s: %d inputs", name, cn_net_in_size(net));
    int C = cn_net_out_size(net);
    float *logits_t = NULL, *u = NULL, *y = NULL, *s1 = NULL, *s2 = NULL;
    cn_measure_result ra = {0}, rb = {0};
    FILE *f = NULL;
    if (cn_net_in_size(net) != N0) goto done;

    /* logits on both inputs */
    CHECK_OK(cn_net_reserve(net, N_INPUTS, 1));
    cn_net_forward(net, g_x, N_INPUTS, 0);
    CHECK(cn_net_status(net, &err) == CN_OK, "%s: forward: %s", name, err.msg);
    path_of(path, sizeof path, name, ".logits.f32");
    logits_t = read_f32(path, (size_t)N_INPUTS * C);
    CHECK(logits_t != NULL, "%s: torch logits unreadable", name);
    if (!logits_t) goto done;
    double dmax = 0, lmax = 0;
    const float *lc = cn_net_output(net);
    for (int i = 0; i < N_INPUTS * C; i++) {
        double d = fabs((double)lc[i] - logits_t[i]);
        dmax = d == d && dmax == dmax ? (d > dmax ? d : dmax) : INFINITY;
        lmax = fabs(logits_t[i]) > lmax ? fabs(logits_t[i]) : lmax;
    }
    r->logit_err = dmax / lmax;
    CHECK(lmax > 0, "%s: the torch logits are all zero", name);
    CHECK(r->logit_err <= LOGIT_RTOL, "%s: logits differ from torch by %.3e of their largest (%.3e), tolerance %.0e",
          name, r->logit_err, lmax, LOGIT_RTOL);

    /* blocks, with the readout */
    int nb = 0;
    CHECK_OK(cn_net_blocks(net, 1, &r->blocks, &nb));
    r->L = nb - 1;
    CHECK(nb >= 2, "%s: %d blocks", name, nb);
    if (nb < 2) goto done;

    /* block-end values (input 0) and the deterministic jvps (N inputs), on a forward of the N inputs */
    if (N != N_INPUTS) cn_net_forward(net, g_x, N, 0);
    size_t widest = N0;
    for (int l = 0; l < nb; l++) widest = (size_t)r->blocks[l].n_out > widest ? (size_t)r->blocks[l].n_out : widest;
    for (int i = 0; i < cn_net_layer_count(net); i++)
        widest = (size_t)cn_net_layer_out_size(net, i) > widest ? (size_t)cn_net_layer_out_size(net, i) : widest;
    u = malloc(widest * N * sizeof *u);
    y = malloc(widest * N * sizeof *y);
    s1 = malloc(widest * N * sizeof *s1);
    s2 = malloc(widest * N * sizeof *s2);
    path_of(path, sizeof path, name, ".crit_out.f32");
    f = fopen(path, "wb");
    CHECK(u && y && s1 && s2 && f, "%s: out of memory or cannot write %s", name, path);
    if (!u || !y || !s1 || !s2 || !f) goto done;
    int werr = 0;
    for (int l = 0; l < nb; l++) werr |= write_all(f, cn_net_layer_output(net, r->blocks[l].last), r->blocks[l].n_out);
    for (int l = 0; l < nb; l++) { /* all N rows get a tangent; row 0's result is compared */
        const cn_block *b = &r->blocks[l];
        for (int i = 0; i < N; i++) det_tangent(DET_SEED, l, i, u + (size_t)i * b->n_in, (size_t)b->n_in);
        block_jvp(net, b, u, y, s1, s2, N);
        werr |= write_all(f, y, (size_t)b->n_out);
    }
    werr |= fclose(f);
    f = NULL;
    CHECK(!werr, "%s: writing %s failed", name, path);
    CHECK(cn_net_status(net, &err) == CN_OK, "%s: jvp: %s", name, err.msg);

    /* lambda_0 without the readout (1 probe: only its Lyapunov part is used), then everything with it */
    if (measure(net, N, 0, 1, &ra) || measure(net, N, 1, CRIT_PROBES, &rb)) goto done;
    CHECK(ra.nblocks == r->L && rb.nblocks == nb, "%s: cn_measure used %d and %d blocks, expected %d and %d", name,
          ra.nblocks, rb.nblocks, r->L, nb);
    if (ra.nblocks != r->L || rb.nblocks != nb) goto done;
    r->lambda_L = ra.lambda_max;
    r->lambda_all = rb.lambda_max;
    r->sigma_net = rb.sigma;
    double s = 0;
    for (int l = 0; l < r->L; l++) s += rb.local_exponents[l];
    r->lambda_L_from_local = s / r->L;
    CHECK(fabs(r->lambda_L_from_local - r->lambda_L) <= 1e-9,
          "%s: lambda_0 without the readout %.9f, but the first %d local exponents of the run with it average %.9f",
          name, r->lambda_L, r->L, r->lambda_L_from_local);
    r->sigma = malloc(nb * sizeof *r->sigma);
    if (!r->sigma) goto done;
    memcpy(r->sigma, rb.sigma_block, nb * sizeof *r->sigma);

    /* what the script needs */
    path_of(path, sizeof path, name, ".crit");
    f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) goto done;
    fprintf(f, "model %s\ninputs %d\nprobes_crit %d\nprobes_ref %d\nchunk %d\ndet_seed %d\nreadout_excluded_blocks %d\n",
            name, N, CRIT_PROBES, mc->probes_ref, mc->chunk, DET_SEED, r->L);
    for (int l = 0; l < nb; l++)
        fprintf(f, "block %d %s %d %d\n", l, r->blocks[l].name, r->blocks[l].n_in, r->blocks[l].n_out);
    CHECK(fclose(f) == 0, "writing %s failed", path);
    f = NULL;
    r->ok_c = 1;
done:
    if (f) fclose(f);
    cn_measure_result_free(&ra);
    cn_measure_result_free(&rb);
    free(logits_t);
    free(u);
    free(y);
    free(s1);
    free(s2);
    cn_net_free(net);
    r->seconds = now() - t0;
}

/* ---------------------------------------------------------------- node-level debug */

/* Dumps critnet's value and tangent of every float tensor the nodes of block `blk` write, after a forward of the
 * N inputs and the block's jvp of det_tangent (row b: det_tangent(DET_SEED, blk, b)), to NAME.nodes.bin, and runs
 * the script's debug mode on it, which names the first node that diverges. */
static void debug_block(const model_run *r, int blk)
{
    const char *name = r->cfg->name;
    int N = r->cfg->inputs;
    char path[2048], args[3072];
    cn_error err = {0};
    cn_net *net = NULL;
    path_of(path, sizeof path, name, ".onnx");
    if (cn_net_from_onnx(&net, path, NULL, &err)) {
        printf("  debug: %s\n", err.msg);
        return;
    }
    const cn_block *b = &r->blocks[blk];
    size_t widest = N0;
    for (int i = 0; i < cn_net_layer_count(net); i++)
        widest = (size_t)cn_net_layer_out_size(net, i) > widest ? (size_t)cn_net_layer_out_size(net, i) : widest;
    float *u = malloc(widest * N * sizeof *u), *y = malloc(widest * N * sizeof *y);
    float *s1 = malloc(widest * N * sizeof *s1), *s2 = malloc(widest * N * sizeof *s2);
    if (!u || !y || !s1 || !s2 || cn_net_reserve(net, N, 1)) {
        printf("  debug: out of memory\n");
        goto done;
    }
    cn_net_forward(net, g_x, N, 0);
    for (int i = 0; i < N; i++) det_tangent(DET_SEED, blk, i, u + (size_t)i * b->n_in, (size_t)b->n_in);
    block_jvp(net, b, u, y, s1, s2, N);
    cn_graph *g = net->graph;
    int end_t = -1, start_t = g->input;
    for (int i = 0; i < g->nt; i++) {
        if (strcmp(g->t[i].name, b->name) == 0) end_t = i;
        if (blk > 0 && strcmp(g->t[i].name, r->blocks[blk - 1].name) == 0) start_t = i;
    }
    int first = start_t == g->input ? 0 : g->t[start_t].producer + 1, last = end_t >= 0 ? g->t[end_t].producer : -1;
    path_of(path, sizeof path, name, ".nodes.bin");
    FILE *f = fopen(path, "wb");
    int count = 0;
    for (int i = first; f && i <= last; i++)
        for (int j = 0; j < g->nodes[i].nout; j++) {
            const cn_tensor *t = cn_node_out(g, &g->nodes[i], j);
            if (!t || t->dtype != CN_T_FLOAT || !t->data) continue;
            uint32_t len = (uint32_t)strlen(t->name), nd = (uint32_t)t->ndim, has_tan = t->active && t->tan;
            size_t n = cn_tensor_numel(t);
            fwrite(&len, 4, 1, f);
            fwrite(t->name, 1, len, f);
            fwrite(&nd, 4, 1, f);
            fwrite(t->dims, sizeof(int64_t), nd, f);
            fwrite(&has_tan, 4, 1, f);
            fwrite(t->data, sizeof(float), n, f);
            if (has_tan) fwrite(t->tan, sizeof(float), n, f);
            count++;
        }
    if (f) fclose(f);
    printf("  debug: %s block %d (%s): %d tensors of nodes %d..%d dumped\n", name, blk, b->name, count, first, last);
    snprintf(args, sizeof args, "debug '%s' %s %d %g %g", g_dir, name, blk, FWD_RTOL, DET_RTOL);
    FILE *p = py_start(args);
    if (p) py_finish(p, "debug");
done:
    free(u);
    free(y);
    free(s1);
    free(s2);
    cn_net_free(net);
}

/* ---------------------------------------------------------------- comparison with the reference */

static void compare(model_run *r)
{
    const char *name = r->cfg->name;
    char path[2048];
    path_of(path, sizeof path, name, ".ref");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s: no reference file %s", name, path);
    if (!f) return;
    int nb = r->L + 1, seen = 0, first_bad = -1;
    char line[4096], key[64], tname[1024];
    r->sigma_worst = r->sigma_worst_tol = r->sigma_ratio = r->fwd_worst = r->det_worst = 0;
    r->interp_err = r->lam_L_ref = r->lam_all_ref = r->lam_all_torch = NAN;
    r->sigma_net_ref = 0;
    printf("%s: %d blocks + readout, %d input(s); sigma: critnet %d probes, reference %d\n", name, r->L,
           r->cfg->inputs, CRIT_PROBES, r->cfg->probes_ref);
    printf("  %3s %-58s %9s %9s %6s %8s %8s %9s %9s\n", "blk", "ends at", "fwd err", "jvp err", "kinks", "sigma",
           "sig.ref", "|dln s|", "tol");
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%63s", key) != 1) continue;
        if (!strcmp(key, "problem")) {
            CHECK(0, "%s: %s", name, line + 8);
            continue;
        }
        if (!strcmp(key, "interp_logits_relerr")) sscanf(line, "%*s %lf", &r->interp_err);
        if (!strcmp(key, "kink_ambiguous")) sscanf(line, "%*s %ld", &r->ambiguous);
        if (!strcmp(key, "lambda_L")) sscanf(line, "%*s %lf", &r->lam_L_ref);
        if (!strcmp(key, "lambda_all")) sscanf(line, "%*s %lf", &r->lam_all_ref);
        if (!strcmp(key, "lambda_all_torch")) sscanf(line, "%*s %lf", &r->lam_all_torch);
        if (!strcmp(key, "seconds")) sscanf(line, "%*s %lf", &r->sec_ref);
        if (strcmp(key, "block")) continue;
        int l, masked;
        double ln_ref, se_ref, se_crit, bias, fwd, det;
        if (sscanf(line, "%*s %d %1023s %lf %lf %lf %lf %lf %lf %d", &l, tname, &ln_ref, &se_ref, &se_crit, &bias, &fwd,
                   &det, &masked) != 9 || l < 0 || l >= nb) {
            CHECK(0, "%s: bad line in %s: %s", name, path, line);
            continue;
        }
        seen++;
        r->sigma_net_ref += ln_ref / nb;
        CHECK(!strcmp(tname, r->blocks[l].name), "%s: block %d is %s here, %s in the reference", name, l,
              r->blocks[l].name, tname);
        double d = log(r->sigma[l]) - ln_ref - bias, se = sqrt(se_ref * se_ref + se_crit * se_crit);
        double tol = SIGMA_NSE * se + SIGMA_FLOOR;
        int ok_s = fabs(d) <= tol, ok_f = fwd <= FWD_RTOL, ok_d = det <= DET_RTOL;
        printf("  %3d %-58.58s %9.2e %9.2e %6d %8.4f %8.4f %9.2e %9.2e%s%s%s\n", l, r->blocks[l].name, fwd, det, masked,
               r->sigma[l], exp(ln_ref), fabs(d), tol, ok_f ? "" : "  FWD", ok_d ? "" : "  JVP", ok_s ? "" : "  SIGMA");
        r->masked += masked;
        CHECK(ok_f, "%s: block %d (%s): value differs from the interpreter's by %.3e of its largest (tol %.0e)", name,
              l, r->blocks[l].name, fwd, FWD_RTOL);
        CHECK(ok_d, "%s: block %d (%s): jvp differs from the interpreter's by %.3e of its largest (tol %.0e)", name, l,
              r->blocks[l].name, det, DET_RTOL);
        CHECK(ok_s, "%s: block %d (%s): sigma %.6f, reference %.6f: |d ln sigma| %.3e > %.3e (%.1f se)", name, l,
              r->blocks[l].name, r->sigma[l], exp(ln_ref), fabs(d), tol, fabs(d) / se);
        if (!(fwd == fwd)) fwd = INFINITY;
        if (!(det == det)) det = INFINITY;
        r->fwd_worst = fwd > r->fwd_worst ? fwd : r->fwd_worst;
        r->det_worst = det > r->det_worst ? det : r->det_worst;
        if (!(fabs(d) / tol <= r->sigma_ratio)) {
            r->sigma_ratio = fabs(d) / tol;
            r->sigma_worst = fabs(d);
            r->sigma_worst_tol = tol;
        }
        r->sigma_bad += !ok_s;
        if (first_bad < 0 && (!ok_f || !ok_d)) first_bad = l;
    }
    fclose(f);
    CHECK(seen == nb, "%s: %d of %d blocks in the reference", name, seen, nb);
    r->sigma_net_ref = exp(r->sigma_net_ref);
    CHECK(r->interp_err <= INTERP_RTOL, "%s: the interpreter's logits differ from torch's by %.3e (tol %.0e)", name,
          r->interp_err, INTERP_RTOL);
    double e1 = fabs(r->lambda_L - r->lam_L_ref), e2 = fabs(r->lambda_all - r->lam_all_ref),
           e3 = fabs(r->lambda_all - r->lam_all_torch);
    printf("  lambda_0: readout excluded critnet %+.7f interpreter %+.7f (|d| %.1e); with the readout critnet %+.7f "
           "interpreter %+.7f (|d| %.1e) torch model %+.7f (|d| %.1e); tol %.0e\n",
           r->lambda_L, r->lam_L_ref, e1, r->lambda_all, r->lam_all_ref, e2, r->lam_all_torch, e3, LAMBDA_TOL);
    CHECK(e1 <= LAMBDA_TOL, "%s: lambda_0 (readout excluded) %.7f, interpreter %.7f", name, r->lambda_L, r->lam_L_ref);
    CHECK(e2 <= LAMBDA_TOL, "%s: lambda_0 (--layers all) %.7f, interpreter %.7f", name, r->lambda_all, r->lam_all_ref);
    CHECK(e3 <= LAMBDA_TOL, "%s: lambda_0 (--layers all) %.7f, torch model %.7f", name, r->lambda_all, r->lam_all_torch);
    r->ref_ok = 1;

    /* where a block disagrees, or where asked to: which node first */
    const char *dbg = getenv("CN_TV_DEBUG");
    size_t nl = strlen(name);
    if (dbg && !strncmp(dbg, name, nl) && dbg[nl] == ':') {
        int b = atoi(dbg + nl + 1);
        if (b >= 0 && b < nb) debug_block(r, b);
    } else if (first_bad >= 0) {
        debug_block(r, first_bad);
    }
}

/* ---------------------------------------------------------------- driver */

static int wanted(const char *name)
{
    const char *only = getenv("CN_TV_MODELS");
    if (!only || !*only) return 1;
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

/* the references run in the background, at most MAX_REFS at a time, oldest collected first */
#define MAX_REFS 2
static FILE *g_ref[N_MODELS];
static model_run *g_ref_for[N_MODELS];
static int g_nref;

static void collect_oldest(void)
{
    if (!g_nref) return;
    FILE *p = g_ref[0];
    model_run *r = g_ref_for[0];
    g_nref--;
    memmove(g_ref, g_ref + 1, g_nref * sizeof *g_ref);
    memmove(g_ref_for, g_ref_for + 1, g_nref * sizeof *g_ref_for);
    if (py_finish(p, r->cfg->name)) compare(r);
}

static void start_ref(model_run *r)
{
    char args[2048];
    if (g_nref == MAX_REFS) collect_oldest();
    snprintf(args, sizeof args, "ref '%s' %s", g_dir, r->cfg->name);
    FILE *p = py_start(args);
    CHECK(p != NULL, "cannot start the reference for %s", r->cfg->name);
    if (!p) return;
    g_ref[g_nref] = p;
    g_ref_for[g_nref++] = r;
}

int main(void)
{
    double t_start = now();
    g_py = getenv("CRITNET_PYTHON");
    g_src = getenv("CRITNET_SRC");
    if (!g_py || !*g_py) g_py = "/usr/bin/python3";
    if (!g_src || !*g_src) g_src = ".";
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/critnet_onnx_torchvision_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        CHECK(0, "no temporary directory");
        return check_summary("onnx_torchvision");
    }
    model_run runs[N_MODELS];
    memset(runs, 0, sizeof runs);
    char spec[1024] = "", args[2048];
    int nwanted = 0;
    for (int i = 0; i < N_MODELS; i++) {
        runs[i].cfg = &MODELS[i];
        if (!wanted(MODELS[i].name)) continue;
        snprintf(spec + strlen(spec), sizeof spec - strlen(spec), "%s%s:%d", nwanted ? "," : "", MODELS[i].name,
                 MODELS[i].inputs);
        nwanted++;
    }
    snprintf(args, sizeof args, "export '%s' %s", g_dir, spec);
    printf("running: %s/tests/onnx_torchvision_ref.py %s\n", g_src, args);
    FILE *exp = py_start(args);
    CHECK(exp != NULL, "cannot start the export");
    char line[1024], path[2048];
    int ready = 0;
    while (exp && fgets(line, sizeof line, exp)) {
        line[strcspn(line, "\n")] = 0;
        if (!strcmp(line, "inputs")) {
            snprintf(path, sizeof path, "%s/inputs.f32", g_dir);
            g_x = read_f32(path, (size_t)N_INPUTS * N0);
            snprintf(path, sizeof path, "%s/q0.f32", g_dir);
            g_q0 = read_f32(path, N0);
            CHECK(g_x && g_q0, "inputs or q0 unreadable");
            continue;
        }
        if (strncmp(line, "ready ", 6) || !g_x || !g_q0) {
            printf("  [py] %s\n", line);
            continue;
        }
        model_run *r = NULL;
        for (int i = 0; i < N_MODELS; i++)
            if (!strcmp(MODELS[i].name, line + 6)) r = &runs[i];
        CHECK(r != NULL, "export announced an unknown model: %s", line);
        if (!r) continue;
        ready++;
        printf("%s: exported; critnet running\n", r->cfg->name);
        run_critnet(r);
        r->done = 1;
        if (r->ok_c) start_ref(r);
    }
    if (exp) py_finish(exp, "export");
    while (g_nref) collect_oldest();
    CHECK(ready == nwanted, "%d of %d models exported", ready, nwanted);
    if (nwanted != N_MODELS) printf("note: CN_TV_MODELS restricts the run to %d of %d models\n", nwanted, N_MODELS);

    printf("\n%-16s %9s %11s %11s %11s %11s %8s %8s %15s %8s %8s %6s %6s %6s\n", "model", "logit err", "lambda0",
           "lambda0 ref", "l0 all", "l0 all torch", "sigma", "sigma ref", "sigma worst blk", "fwd err", "jvp err",
           "t crit", "t exp", "t ref");
    for (int i = 0; i < N_MODELS; i++) {
        model_run *r = &runs[i];
        if (!r->done) continue;
        snprintf(path, sizeof path, "%s/%s.torch.txt", g_dir, r->cfg->name);
        double se[1] = {NAN};
        kv_get(path, "seconds_export", se, 1);
        char sig[32];
        snprintf(sig, sizeof sig, "%.1e/%.1e", r->sigma_worst, r->sigma_worst_tol);
        printf("%-16s %9.2e %+11.6f %+11.6f %+11.6f %+11.6f %8.5f %8.5f %15s %8.1e %8.1e %5.0fs %5.0fs %5.0fs\n",
               r->cfg->name, r->logit_err, r->lambda_L, r->lam_L_ref, r->lambda_all, r->lam_all_torch, r->sigma_net,
               r->sigma_net_ref, sig, r->fwd_worst, r->det_worst, r->seconds, se[0], r->sec_ref);
    }
    printf("lambda0: readout excluded (critnet, interpreter); l0 all: --layers all (critnet, the torch model); sigma: "
           "over all blocks and inputs, readout included (critnet, the script's probes); sigma worst blk: |d ln sigma| "
           "and its tolerance in the block nearest to failing; fwd err, jvp err: the largest over the blocks; times: "
           "critnet, export, reference (wall)\n");
    printf("tolerances: logits %.0e relative; block values %.0e, block jvps %.0e relative; lambda_0 %.0e absolute; "
           "sigma per block %.0f se + %.0e\n", LOGIT_RTOL, FWD_RTOL, DET_RTOL, LAMBDA_TOL, SIGMA_NSE, SIGMA_FLOOR);
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    double cpu_self = self.ru_utime.tv_sec + self.ru_stime.tv_sec + 1e-6 * (self.ru_utime.tv_usec + self.ru_stime.tv_usec);
    double cpu_kids = kids.ru_utime.tv_sec + kids.ru_stime.tv_sec + 1e-6 * (kids.ru_utime.tv_usec + kids.ru_stime.tv_usec);
    printf("total %.1f s wall; CPU %.1f s (critnet %.1f s, of which system %.1f s; python %.1f s, of which system %.1f s)\n",
           now() - t_start, cpu_self + cpu_kids, cpu_self, self.ru_stime.tv_sec + 1e-6 * self.ru_stime.tv_usec, cpu_kids,
           kids.ru_stime.tv_sec + 1e-6 * kids.ru_stime.tv_usec);
    for (int i = 0; i < N_MODELS; i++) {
        cn_free(runs[i].blocks);
        free(runs[i].sigma);
    }
    free(g_x);
    free(g_q0);
    const char *keep = getenv("CN_TV_KEEP");
    if (keep && *keep == '1') printf("kept %s\n", g_dir);
    else ref_remove_dir(g_dir);
    return check_summary("onnx_torchvision");
}
