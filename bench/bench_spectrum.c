/* bench_spectrum.c: times critnet's Lyapunov spectrum (cn_measure, k = 32) on a random MLP of depth 20 and
 * width 512 over 1000 Gaussian inputs, measures its peak memory at several input counts, and says where
 * the time goes (forward, jvp GEMM, activation jvp, the QR measure.c uses: CholeskyQR2 with its Householder
 * fallback) with timings of the alternatives on the same matrices (Householder geqrf/orgqr in place and on
 * contiguous copies, one-pass Cholesky QR, Householder with OpenMP over inputs).
 *
 * The PyTorch peer is torch_spectrum.py, which reads the weights, inputs and Q0 this program writes with
 * --dump and must reproduce critnet's spectrum; run_spectrum.sh runs both and prints their ratio.
 *
 * What is timed (wall clock of one cn_measure call, best of --reps, with the median kept beside it):
 *   spectrum+sigma1  cfg.spectrum = k, cfg.probes = 1: the spectrum plus the cheapest sigma cn_measure
 *                    allows (one probe per block; the activity statistics come along, they are sums)
 *   sigma1           cfg.spectrum = 0, cfg.probes = 1: the same call without the spectrum, so
 *                    spectrum+sigma1 - sigma1 is the spectrum's own cost
 *   spectrum+sigma8  cfg.spectrum = k, cfg.probes = 8: what `critnet measure --spectrum k` does by default
 * Every configuration uses the same Q0 (cfg.q0) as the PyTorch peer. */
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "core/blas.h"
#include "critnet.h"
#include "measure/cholqr.h"

#define MAX_THREADS 8

char *openblas_get_config(void); /* OpenBLAS extension */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[64];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
    return m;
}

/* peak resident memory of this process so far, kB (VmHWM) */
static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

/* ---------------------------------------------------------------- options */

typedef struct {
    int depth, width, inputs, k, batch, reps, mem_inputs, profile, threads[MAX_THREADS], nthreads;
    double sigma_w;
    const char *act, *dump, *json;
    unsigned long seed;
} options;

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_spectrum [options]\n"
               "  --depth N        hidden layers (20)\n"
               "  --width N        units per layer and input dimension (512)\n"
               "  --act A          tanh or relu (tanh)\n"
               "  --sigma-w S      weights N(0, S^2/fan_in), biases 0 (1.5)\n"
               "  --inputs N       Gaussian inputs (1000)\n"
               "  --k K            exponents (32)\n"
               "  --batch B        cn_measure_cfg.batch (100)\n"
               "  --reps N         repetitions per configuration, best and median kept (3)\n"
               "  --threads LIST   cn_set_threads values (1,2)\n"
               "  --no-profile     skip the breakdown of where the time goes\n"
               "  --dump DIR       write the model, weights, inputs and Q0 for torch_spectrum.py\n"
               "  --mem N          only measure the peak memory of one cn_measure on the first N inputs\n"
               "  --seed S         (1)\n"
               "  --json PATH      results\n");
}

static int parse(options *o, int argc, char **argv)
{
    *o = (options){.depth = 20, .width = 512, .inputs = 1000, .k = 32, .batch = 100, .reps = 3, .profile = 1,
                   .threads = {1, 2}, .nthreads = 2, .sigma_w = 1.5, .act = "tanh", .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;
        if (!strcmp(a, "--depth") && v) o->depth = atoi(v);
        else if (!strcmp(a, "--width") && v) o->width = atoi(v);
        else if (!strcmp(a, "--act") && v) o->act = v;
        else if (!strcmp(a, "--sigma-w") && v) o->sigma_w = atof(v);
        else if (!strcmp(a, "--inputs") && v) o->inputs = atoi(v);
        else if (!strcmp(a, "--k") && v) o->k = atoi(v);
        else if (!strcmp(a, "--batch") && v) o->batch = atoi(v);
        else if (!strcmp(a, "--reps") && v) o->reps = atoi(v);
        else if (!strcmp(a, "--dump") && v) o->dump = v;
        else if (!strcmp(a, "--json") && v) o->json = v;
        else if (!strcmp(a, "--mem") && v) o->mem_inputs = atoi(v);
        else if (!strcmp(a, "--seed") && v) o->seed = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--threads") && v) {
            o->nthreads = 0;
            for (const char *s = v; *s && o->nthreads < MAX_THREADS;) {
                char *end;
                long t = strtol(s, &end, 10);
                if (end == s || t < 1 || t > 256) return -1;
                o->threads[o->nthreads++] = (int)t;
                s = *end == ',' ? end + 1 : end;
                if (*end && *end != ',') return -1;
            }
        } else if (!strcmp(a, "--no-profile")) {
            o->profile = 0;
            used = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            return -1;
        }
        i += used;
    }
    if (o->depth < 1 || o->width < 1 || o->inputs < 1 || o->k < 1 || o->k > o->width || o->batch < 1 ||
        o->reps < 1 || o->reps > 64 || (strcmp(o->act, "tanh") && strcmp(o->act, "relu")))
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- the problem */

typedef struct {
    char *spec;
    cn_net *net;
    cn_real *x;  /* (inputs, width) */
    cn_real *q0; /* (k, width), orthonormal rows */
} problem;

static int problem_init(problem *p, const options *o)
{
    memset(p, 0, sizeof *p);
    size_t cap = 64 + (size_t)o->depth * 48;
    p->spec = malloc(cap);
    if (!p->spec) return -1;
    int len = snprintf(p->spec, cap, "input %d\n", o->width);
    for (int l = 0; l < o->depth; l++) len += snprintf(p->spec + len, cap - len, "dense out=%d act=%s\n", o->width, o->act);
    snprintf(p->spec + len, cap - len, "dense out=10\n");
    cn_error err = {0};
    if (cn_net_from_spec(&p->net, p->spec, &err)) {
        fprintf(stderr, "bench_spectrum: %s\n", err.msg);
        return -1;
    }
    cn_rng *rng = cn_rng_new(o->seed);
    cn_init init = {.kind = CN_INIT_NORMAL, .sigma_w = o->sigma_w, .sigma_b = 0};
    if (!rng || cn_net_init(p->net, &init, rng)) return -1;
    size_t n = (size_t)o->inputs * o->width;
    p->x = malloc(n * sizeof *p->x);
    p->q0 = malloc((size_t)o->k * o->width * sizeof *p->q0);
    double *g = malloc((size_t)o->k * o->width * sizeof *g), tau[512];
    if (!p->x || !p->q0 || !g || o->k > 512) return -1;
    for (size_t i = 0; i < n; i++) p->x[i] = (cn_real)cn_rng_normal(rng);
    /* Q0: orthonormal rows from the QR of a Gaussian (width, k) matrix, in double */
    for (size_t i = 0; i < (size_t)o->k * o->width; i++) g[i] = cn_rng_normal(rng);
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, o->width, o->k, g, o->width, tau) ||
        LAPACKE_dorgqr(LAPACK_COL_MAJOR, o->width, o->k, o->k, g, o->width, tau))
        return -1;
    for (size_t i = 0; i < (size_t)o->k * o->width; i++) p->q0[i] = (cn_real)g[i]; /* column j -> row j */
    free(g);
    cn_rng_free(rng);
    return 0;
}

static void problem_free(problem *p)
{
    free(p->spec);
    free(p->x);
    free(p->q0);
    cn_net_free(p->net);
}

static int write_f32(const char *dir, const char *name, const cn_real *v, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        float x = (float)v[i];
        uint32_t b;
        memcpy(&b, &x, 4);
        unsigned char le[4] = {b & 255, b >> 8 & 255, b >> 16 & 255, b >> 24};
        ok = fwrite(le, 1, 4, f) == 4;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* model.txt, params.f32 (critnet's flat order: per dense W (out,in) then b), x.f32, q0.f32, little-endian */
static int dump(const problem *p, const options *o)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/model.txt", o->dump);
    FILE *f = fopen(path, "w");
    if (!f || fputs(p->spec, f) < 0 || fclose(f)) return -1;
    return write_f32(o->dump, "params.f32", cn_net_params(p->net), cn_net_param_count(p->net)) ||
           write_f32(o->dump, "x.f32", p->x, (size_t)o->inputs * o->width) ||
           write_f32(o->dump, "q0.f32", p->q0, (size_t)o->k * o->width);
}

static int measure(const problem *p, const options *o, int n, int k, int probes, cn_measure_result *res)
{
    cn_measure_cfg cfg;
    cn_measure_defaults(&cfg);
    cfg.spectrum = k;
    cfg.probes = probes;
    cfg.batch = o->batch;
    cfg.seed = 7;
    cfg.q0 = k ? p->q0 : NULL;
    cn_error err = {0};
    int rc = cn_measure(p->net, p->x, n, &cfg, res, &err);
    if (rc) fprintf(stderr, "bench_spectrum: cn_measure: %s\n", err.msg);
    return rc;
}

/* ---------------------------------------------------------------- where the time goes */

/* The steps of measure.c's Lyapunov loop on one batch, each timed, followed by the alternatives for the
 * QR on the same tangents. Times are seconds summed over the whole input set. */
typedef struct {
    double forward, jvp_gemm, act_jvp, qr, ln; /* act_jvp: the layer jvp minus its GEMM; qr: cn_thin_qr */
    long qr_fallbacks;                         /* of cn_thin_qr to Householder */
    double geqrf, orgqr;                       /* Householder, as measure.c did it before CholeskyQR2 */
    double gemm_gflops;
    /* alternatives for geqrf + orgqr on the same matrices */
    double qr_contiguous;  /* copy each input's (n x k) to a contiguous buffer, geqrf + orgqr, copy back */
    double cholqr;         /* Gram by ssyrk, spotrf, Q = Z R^-1 by strsm: one pass (CholeskyQR) */
    double cholqr2;        /* twice (CholeskyQR2): the stable variant */
    double qr_omp;         /* geqrf + orgqr with OpenMP over inputs (BLAS single-threaded inside) */
    int omp_threads;
    double cholqr2_max_dlnr; /* largest |ln R_ii| difference of CholeskyQR2 against Householder */
} profile;

/* Cholesky QR of one (n x k) column-major matrix A (leading dimension lda), in place: A = Q R.
 * Writes ln R_jj (accumulated: lnr += ...) and returns 0, or the spotrf info when the Gram is not
 * positive definite in float. */
static int cholqr_one(cn_real *A, int lda, int n, int k, cn_real *G, double *lnr)
{
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasTrans, k, n, 1.0f, A, lda, 0.0f, G, k);
    int info = LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'U', k, G, k);
    if (info) return info;
    cblas_strsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, n, k, 1.0f, G, k, A, lda);
    for (int j = 0; j < k; j++) lnr[j] += log(fabs((double)G[(size_t)j * k + j]));
    return 0;
}

static int run_profile(const problem *p, const options *o, int threads, profile *pr)
{
    memset(pr, 0, sizeof *pr);
    cn_set_threads(threads);
    const int n = o->width, k = o->k, B = o->batch, L = o->depth;
    size_t kb = (size_t)k * B * n;
    cn_real *q = malloc(kb * sizeof *q), *z = malloc(kb * sizeof *z), *zc = malloc(kb * sizeof *zc);
    cn_real *zh = malloc(kb * sizeof *zh), *tau = malloc((size_t)k * sizeof *tau);
    cn_real *cont = malloc((size_t)n * k * sizeof *cont), *G = malloc((size_t)k * k * sizeof *G);
    double *lnr_h = malloc((size_t)B * k * sizeof *lnr_h), *lnr_c = malloc((size_t)B * k * sizeof *lnr_c);
    double *lnr_q = malloc((size_t)B * k * sizeof *lnr_q);
    cn_qr_work qw;
    if (!lnr_q || cn_qr_work_init(&qw, n, k, B * n)) return -1;
    cn_real wq = 0;
    LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, n, k, NULL, B * n, NULL, &wq, -1);
    int lwork = (int)wq;
    LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, n, k, k, NULL, B * n, NULL, &wq, -1);
    lwork = (int)wq > lwork ? (int)wq : lwork;
    int maxthr = 1;
#ifdef _OPENMP
    maxthr = threads;
#endif
    cn_real *work = malloc((size_t)lwork * maxthr * sizeof *work), *tau_t = malloc((size_t)k * maxthr * sizeof *tau_t);
    if (!q || !z || !zc || !zh || !tau || !cont || !G || !lnr_h || !lnr_c || !work || !tau_t ||
        cn_net_reserve(p->net, B, k))
        return -1;
    const cn_real *W0 = cn_net_params(p->net); /* layer l's W at offset l * (n*n + n) */
    pr->omp_threads = threads;
    for (int start = 0; start < o->inputs; start += B) {
        int b_n = o->inputs - start < B ? o->inputs - start : B;
        double t0 = now();
        cn_net_forward(p->net, p->x + (size_t)start * n, b_n, 0);
        pr->forward += now() - t0;
        for (int j = 0; j < k; j++)
            for (int b = 0; b < b_n; b++) memcpy(q + ((size_t)j * b_n + b) * n, p->q0 + (size_t)j * n, n * sizeof *q);
        for (int l = 0; l < L; l++) {
            /* the block's jvp as measure.c calls it, then its GEMM alone (what dense.c's cn_matmul does) on
             * the same shapes: the difference is the activation's jvp */
            const cn_real *W = W0 + (size_t)l * ((size_t)n * n + n);
            t0 = now();
            cn_net_layer_jvp(p->net, l, q, z, b_n, k);
            double t1 = now();
            cn_matmul(0, 1, k * b_n, n, n, 1, q, W, 0, zc);
            double t2 = now();
            pr->jvp_gemm += t2 - t1;
            pr->act_jvp += (t1 - t0) - (t2 - t1);
            memcpy(zc, z, (size_t)k * b_n * n * sizeof *z);
            memcpy(zh, z, (size_t)k * b_n * n * sizeof *z);
            int lda = b_n * n;
            /* measure.c's QR: per input, in place, strided, CholeskyQR2 with its fallback */
            t0 = now();
            for (int b = 0; b < b_n; b++) cn_thin_qr(&qw, z + (size_t)b * n, lda, n, k, lnr_q + b * k);
            t1 = now();
            for (int i = 0; i < b_n * k; i++) lnr_q[i] = log(lnr_q[i]);
            pr->ln += now() - t1;
            pr->qr += t1 - t0;
            /* Householder, as measure.c did it before, on a copy */
            double tg = 0, to = 0;
            for (int b = 0; b < b_n; b++) {
                cn_real *A = zh + (size_t)b * n;
                t0 = now();
                LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, n, k, A, lda, tau, work, lwork);
                t1 = now();
                for (int j = 0; j < k; j++) lnr_h[b * k + j] = log(fabs((double)A[(size_t)j * lda + j]));
                t2 = now();
                LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, n, k, k, A, lda, tau, work, lwork);
                to += now() - t2;
                tg += t1 - t0;
            }
            pr->geqrf += tg;
            pr->orgqr += to;
            memcpy(zh, zc, (size_t)k * b_n * n * sizeof *z);
            /* alternative 1: contiguous copies */
            t0 = now();
            for (int b = 0; b < b_n; b++) {
                for (int j = 0; j < k; j++) memcpy(cont + (size_t)j * n, zc + (size_t)j * lda + (size_t)b * n, n * sizeof *cont);
                LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, n, k, cont, n, tau, work, lwork);
                LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, n, k, k, cont, n, tau, work, lwork);
                for (int j = 0; j < k; j++) memcpy(zc + (size_t)j * lda + (size_t)b * n, cont + (size_t)j * n, n * sizeof *cont);
            }
            pr->qr_contiguous += now() - t0;
            /* alternative 2: CholeskyQR and CholeskyQR2, strided in place */
            memcpy(zc, zh, (size_t)k * b_n * n * sizeof *z);
            t0 = now();
            for (int b = 0; b < b_n; b++) {
                memset(lnr_c + b * k, 0, (size_t)k * sizeof *lnr_c);
                cholqr_one(zc + (size_t)b * n, lda, n, k, G, lnr_c + b * k);
            }
            pr->cholqr += now() - t0;
            memcpy(zc, zh, (size_t)k * b_n * n * sizeof *z);
            t0 = now();
            for (int b = 0; b < b_n; b++) {
                memset(lnr_c + b * k, 0, (size_t)k * sizeof *lnr_c);
                if (cholqr_one(zc + (size_t)b * n, lda, n, k, G, lnr_c + b * k) ||
                    cholqr_one(zc + (size_t)b * n, lda, n, k, G, lnr_c + b * k))
                    pr->cholqr2_max_dlnr = INFINITY;
            }
            pr->cholqr2 += now() - t0;
            for (int i = 0; i < b_n * k; i++) {
                double d = fabs(lnr_q[i] - lnr_h[i]);
                if (!(d <= pr->cholqr2_max_dlnr)) pr->cholqr2_max_dlnr = d;
            }
            /* alternative 3: OpenMP over inputs, one BLAS thread inside */
            memcpy(zc, zh, (size_t)k * b_n * n * sizeof *z);
            cn_set_threads(1);
            t0 = now();
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
            for (int b = 0; b < b_n; b++) {
                int t = 0;
#ifdef _OPENMP
                t = omp_get_thread_num();
#endif
                cn_real *A = zc + (size_t)b * n;
                LAPACKE_sgeqrf_work(LAPACK_COL_MAJOR, n, k, A, lda, tau_t + (size_t)t * k, work + (size_t)t * lwork, lwork);
                LAPACKE_sorgqr_work(LAPACK_COL_MAJOR, n, k, k, A, lda, tau_t + (size_t)t * k, work + (size_t)t * lwork, lwork);
            }
            pr->qr_omp += now() - t0;
            cn_set_threads(threads);
            cn_real *t = q;
            q = z;
            z = t;
        }
    }
    pr->gemm_gflops = 2.0 * k * o->inputs * (double)n * n * L / pr->jvp_gemm / 1e9;
    pr->qr_fallbacks = qw.fallbacks;
    cn_qr_work_free(&qw);
    free(lnr_q);
    free(q);
    free(z);
    free(zc);
    free(zh);
    free(tau);
    free(cont);
    free(G);
    free(lnr_h);
    free(lnr_c);
    free(work);
    free(tau_t);
    return 0;
}

/* ---------------------------------------------------------------- main */

typedef struct {
    const char *name;
    int k, probes;
} config;

int main(int argc, char **argv)
{
    options o;
    if (parse(&o, argc, argv)) {
        usage(stderr);
        return 2;
    }
    problem p;
    if (problem_init(&p, &o)) {
        fprintf(stderr, "bench_spectrum: setting up the network failed\n");
        return 1;
    }
    FILE *js = o.json ? fopen(o.json, "w") : NULL;
    if (o.json && !js) {
        fprintf(stderr, "bench_spectrum: cannot write %s\n", o.json);
        return 1;
    }
    cn_measure_result res;
    if (o.mem_inputs > 0) {
        /* one call in a fresh process: VmHWM before (network, inputs for --inputs) and after */
        cn_set_threads(o.threads[0]);
        long before = vm_hwm_kb();
        int n = o.mem_inputs < o.inputs ? o.mem_inputs : o.inputs;
        if (measure(&p, &o, n, o.k, 1, &res)) return 1;
        long after = vm_hwm_kb();
        printf("memory: %d inputs: VmHWM %ld kB before cn_measure, %ld kB after (+%ld kB)\n", n, before, after,
               after - before);
        if (js) fprintf(js, "{\"inputs\": %d, \"vmhwm_before_kb\": %ld, \"vmhwm_after_kb\": %ld}\n", n, before, after);
        cn_measure_result_free(&res);
        problem_free(&p);
        return js && fclose(js) ? 1 : 0;
    }
    if (o.dump && dump(&p, &o)) {
        fprintf(stderr, "bench_spectrum: cannot write the dump to %s\n", o.dump);
        return 1;
    }
    if (js)
        fprintf(js, "{\"bench\": \"spectrum\", \"depth\": %d, \"width\": %d, \"act\": \"%s\", \"sigma_w\": %g, "
                    "\"inputs\": %d, \"k\": %d, \"batch\": %d, \"reps\": %d, \"openblas\": \"%s\",\n \"configs\": [",
                o.depth, o.width, o.act, o.sigma_w, o.inputs, o.k, o.batch, o.reps, openblas_get_config());
    const config configs[3] = {{"spectrum+sigma1", o.k, 1}, {"sigma1", 0, 1}, {"spectrum+sigma8", o.k, 8}};
    printf("critnet: MLP %d x %d %s, %d inputs, k=%d, batch %d; seconds per cn_measure call (best, median of %d)\n",
           o.depth, o.width, o.act, o.inputs, o.k, o.batch, o.reps);
    int first = 1;
    for (int ti = 0; ti < o.nthreads; ti++) {
        cn_set_threads(o.threads[ti]);
        for (int c = 0; c < 3; c++) {
            double t[64];
            for (int r = 0; r < o.reps; r++) {
                double t0 = now();
                if (measure(&p, &o, o.inputs, configs[c].k, configs[c].probes, &res)) return 1;
                t[r] = now() - t0;
                int last = r == o.reps - 1;
                if (last && js) {
                    fprintf(js, "%s\n  {\"config\": \"%s\", \"threads\": %d, \"best_s\": %.6f, \"median_s\": %.6f, "
                                "\"sigma\": %.8f, \"sigma_se\": %.8f",
                            first ? "" : ",", configs[c].name, o.threads[ti], min_of(t, o.reps), median(t, o.reps),
                            res.sigma, res.sigma_se);
                    first = 0;
                    if (configs[c].k) {
                        fprintf(js, ", \"lambda_max\": %.8f, \"lambda_max_se\": %.8f, \"spectrum\": [", res.lambda_max,
                                res.lambda_max_se);
                        for (int j = 0; j < res.k; j++) fprintf(js, "%s%.8f", j ? ", " : "", res.spectrum[j]);
                        fprintf(js, "], \"spectrum_se\": [");
                        for (int j = 0; j < res.k; j++) fprintf(js, "%s%.8f", j ? ", " : "", res.spectrum_se[j]);
                        fprintf(js, "]");
                    }
                    fprintf(js, "}");
                }
                if (last)
                    printf("  threads %d  %-16s best %8.3f s  median %8.3f s  lambda_0 %+.5f  sigma %.5f\n",
                           o.threads[ti], configs[c].name, min_of(t, o.reps), median(t, o.reps),
                           configs[c].k ? res.lambda_max : NAN, res.sigma);
                cn_measure_result_free(&res);
            }
        }
    }
    if (js) fprintf(js, "\n ]");
    if (o.profile) {
        if (js) fprintf(js, ",\n \"profile\": [");
        /* at one thread only: with more, cn_measure runs this same loop on each thread's share of the
         * inputs with one BLAS thread each, so one thread's breakdown is every worker's */
        for (int ti = 0; ti < 1; ti++) {
            profile pr;
            if (run_profile(&p, &o, o.threads[ti], &pr)) return 1;
            double qr = pr.qr + pr.ln, tot = pr.forward + pr.jvp_gemm + pr.act_jvp + qr;
            printf("profile, threads %d (the spectrum's loop re-enacted step by step; seconds over %d inputs):\n"
                   "  forward %.3f (%.0f%%), jvp GEMM %.3f (%.0f%%, %.1f GFLOP/s), activation jvp %.3f (%.0f%%), "
                   "QR (CholeskyQR2, %ld fallbacks) %.3f (%.0f%%), ln R %.3f; total %.3f\n"
                   "  QR alternatives: Householder geqrf %.3f + orgqr %.3f, on contiguous copies %.3f, one-pass "
                   "CholeskyQR %.3f, CholeskyQR2 without the checks %.3f (max |d ln R| of measure.c's QR vs "
                   "Householder %.1e), Householder with OpenMP over inputs x%d %.3f\n",
                   o.threads[ti], o.inputs, pr.forward, 100 * pr.forward / tot, pr.jvp_gemm, 100 * pr.jvp_gemm / tot,
                   pr.gemm_gflops, pr.act_jvp, 100 * pr.act_jvp / tot, pr.qr_fallbacks, pr.qr, 100 * pr.qr / tot,
                   pr.ln, tot, pr.geqrf, pr.orgqr, pr.qr_contiguous, pr.cholqr, pr.cholqr2, pr.cholqr2_max_dlnr,
                   pr.omp_threads, pr.qr_omp);
            if (js)
                fprintf(js, "%s\n  {\"threads\": %d, \"forward_s\": %.6f, \"jvp_gemm_s\": %.6f, \"jvp_gemm_gflops\": %.3f, "
                            "\"act_jvp_s\": %.6f, \"qr_s\": %.6f, \"qr_fallbacks\": %ld, \"geqrf_s\": %.6f, "
                            "\"orgqr_s\": %.6f, \"ln_s\": %.6f, \"total_s\": %.6f, "
                            "\"qr_contiguous_s\": %.6f, \"cholqr_s\": %.6f, \"cholqr2_s\": %.6f, "
                            "\"cholqr2_max_dlnr\": %.3e, \"qr_omp_s\": %.6f, \"qr_omp_threads\": %d}",
                        ti ? "," : "", o.threads[ti], pr.forward, pr.jvp_gemm, pr.gemm_gflops, pr.act_jvp, pr.qr,
                        pr.qr_fallbacks, pr.geqrf, pr.orgqr, pr.ln, tot, pr.qr_contiguous, pr.cholqr, pr.cholqr2,
                        pr.cholqr2_max_dlnr, pr.qr_omp, pr.omp_threads);
        }
        if (js) fprintf(js, "\n ]");
    }
    if (js) {
        fprintf(js, "\n}\n");
        if (fclose(js)) return 1;
    }
    problem_free(&p);
    return 0;
}
