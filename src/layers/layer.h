/* layer.h: the internal interface every layer kind implements (one source file per kind).
 *
 * A layer maps a batch of inputs (B, n_in) to outputs (B, n_out). It has three passes:
 *   forward   y = f(x), keeping in its own buffers what backward and jvp need;
 *   backward  dx = J^T dy and, for its parameters, g += d loss / d theta (accumulated);
 *   jvp       ty = J tx for K tangents laid out (K, B, n): tangent k is a whole-batch perturbation,
 *             so train-mode batch norm, whose Jacobian couples the batch, is still exact.
 * All passes run on the stored forward pass and never allocate: cn_layer_reserve sizes the buffers.
 */
#ifndef CN_LAYER_H
#define CN_LAYER_H

#include "critnet.h"
#include "core/blas.h"
#include "kernels/act.h"
#include "net/traits.h"

typedef struct {
    int c, h, w;
} cn_shape;

static inline int cn_shape_size(cn_shape s) { return s.c * s.h * s.w; }

/* key=value arguments of one model-format line */
typedef struct {
    int count;
    char key[16][32];
    char val[16][64];
    unsigned used; /* bit i set once key i was read; leftovers are reported as unknown keys */
} cn_args;

int cn_args_int(cn_args *a, const char *key, int def, int *out, cn_error *err);
int cn_args_real(cn_args *a, const char *key, double def, double *out, cn_error *err);
int cn_args_act(cn_args *a, const char *key, cn_act def, cn_act *out, cn_error *err);
int cn_args_str(cn_args *a, const char *key, const char *def, const char **out);
/* the shortest text that reads back as the same double, so that printed model text round-trips */
void cn_format_real(char *buf, size_t cap, double v);

typedef struct cn_layer cn_layer;
struct cn_lowering; /* onnx/lower.h */

typedef struct {
    const char *kind;  /* the model-format name */
    unsigned traits;   /* CN_TRAIT_* (net/traits.h): what other code may rely on without naming the kind */
    /* The three passes return CN_OK or a status (an imported graph's node that fails, say); on failure the
     * outputs are undefined and the caller stops. */
    int (*forward)(cn_layer *L, const cn_real *x, cn_real *y, int B, int train);
    /* x and y are the forward's input and output; dx may be NULL when the input gradient is not needed */
    int (*backward)(cn_layer *L, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx, int B);
    int (*jvp)(cn_layer *L, const cn_real *tx, cn_real *ty, int B, int K);
    /* allocate per-batch buffers (pre-activations, masks, ...) for B examples and K tangents */
    int (*reserve)(cn_layer *L, int B, int K);
    /* initialise parameters (p) and state (s) */
    int (*init)(cn_layer *L, const cn_init *init, cn_rng *rng);
    /* composite layers only (NULL otherwise): set p/g/s of the children; the net sets L->p/g/s itself */
    void (*bind)(cn_layer *L, cn_real *p, cn_real *g, cn_real *s);
    /* write the model-format line(s) for this layer (without "\n" at the end of the last) */
    int (*print)(const cn_layer *L, char *buf, size_t cap);
    void (*destroy)(cn_layer *L); /* free kind-specific memory (not L itself) */
    /* write the layer as ONNX nodes (onnx/lower.h): x names its input, *y gets its output's name (NULL when out
     * of memory); NULL op: the kind has no ONNX form yet */
    int (*lower)(const cn_layer *L, struct cn_lowering *b, const char *x, const char **y);
    /* the pre-activations z (B, n_out) of the last forward, for layers with a fused activation other than
     * the identity (NULL otherwise); the criticality regulariser needs phi'(z) and phi''(z) */
    const cn_real *(*preact)(const cn_layer *L);
} cn_layer_ops;

struct cn_layer {
    const cn_layer_ops *ops;
    cn_shape in, out;
    size_t nparams, nstate; /* sizes of this layer's slices of the flat buffers */
    size_t nbias;           /* how many of the parameters, at the end, are biases */
    /* (B, n_out) or NULL: a cotangent that the next backward adds at the pre-activation z (layers with a
     * preact); the chain sets it for one call. The criticality regulariser's phi'' term arrives this way. */
    const cn_real *dz_extra;
    cn_real *p, *g, *s;     /* its slices (set by bind) */
    cn_act act;             /* fused activation where the kind has one; ends a criticality block */
    void *impl;             /* kind-specific fields */
};

/* Constructors: parse args for a layer whose input shape is `in`. */
typedef int (*cn_layer_ctor)(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);

int cn_dense_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_conv2d_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_maxpool_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_avgpool_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_gap_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_flatten_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_batchnorm_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_layernorm_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_dropout_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);
int cn_act_layer_create(cn_layer **out, cn_args *args, cn_shape in, cn_error *err);

/* Allocates a layer and its impl (zeroed) in one go. */
cn_layer *cn_layer_alloc(const cn_layer_ops *ops, size_t impl_size);
void cn_layer_free(cn_layer *L);


/* Weight initialisation shared by dense and conv: W (out, fan_in), b (out) or NULL. */
int cn_init_weights(const cn_init *init, cn_rng *rng, cn_real *W, cn_real *b, int out, int fan_in,
                     int fan_out);

#endif
