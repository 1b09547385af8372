/* graph.h: an ONNX graph as critnet runs it: tensors (values and, for those that depend on the input, tangents),
 * nodes in topological order, and the table of operators, each with a forward and a Jacobian-vector product.
 *
 * Shapes are computed as the graph runs, so a dynamic batch axis and the shape arithmetic torch.onnx.export
 * writes (Shape -> Gather -> Concat -> Reshape) work as they do in any runtime. Buffers only grow: the load
 * runs the graph once at batch 1, cn_graph_reserve once at the largest batch, and later runs fit in place.
 */
#ifndef CN_ONNX_GRAPH_H
#define CN_ONNX_GRAPH_H

#include <stdint.h>
#include "critnet.h"

#define CN_ONNX_MAX_DIMS 8

/* ONNX TensorProto data types that critnet keeps; int32, bool and the like are widened to int64 */
enum { CN_T_FLOAT = 1, CN_T_INT64 = 7, CN_T_BOOL = 9 };

typedef struct {
    char *name;
    int dtype;                 /* CN_T_FLOAT: data holds cn_real; CN_T_INT64 and CN_T_BOOL: int64_t */
    int ndim;
    int64_t dims[CN_ONNX_MAX_DIMS];
    void *data;
    size_t cap;                /* elements data (and tan) can hold */
    int is_const;              /* an initializer or a Constant's value: never written by a run */
    int is_input;              /* the graph input */
    int active;                /* a float tensor that depends on the graph input: it carries a tangent */
    cn_real *tan;              /* the tangents, g->tangents blocks of cap elements, tangent k of the current shape
                                * at tan + k * numel (active tensors only, from cn_graph_reserve) */
    int producer;              /* index of the node that writes it; -1 for the input and constants */
    /* training (grad.c, params.c) */
    int diff;                  /* a float tensor that depends on the input or on a parameter: it gets a gradient */
    int role;                  /* CN_ROLE_*: a constant the network trains or keeps as state */
    int first_reader;          /* the first node that reads its values (-1: none) */
    int borrowed;              /* data (and, for a parameter, grad) are views of the net's flat buffers */
    cn_real *grad;             /* d loss / d tensor, cap elements: owned for diff tensors, a view of the net's
                                * gradient buffer for parameters; NULL until cn_graph_reserve_grads */
    cn_real *gtan;             /* d R / d tangent, laid out as tan (active tensors, from cn_graph_reserve_gtan): the
                                * reverse of a jvp pass, which the criticality regulariser runs */
} cn_tensor;

/* what a constant is to training: a parameter (its data and grad are views of the net's flat buffers), or
 * state that a training forward updates (batch norm's running statistics, a view of the net's state) */
enum { CN_ROLE_NONE = 0, CN_ROLE_PARAM, CN_ROLE_STATE };

enum { CN_ATTR_FLOAT = 1, CN_ATTR_INT = 2, CN_ATTR_STRING = 3, CN_ATTR_TENSOR = 4, CN_ATTR_FLOATS = 6,
       CN_ATTR_INTS = 7 };

typedef struct {
    char *name;
    int type;                  /* CN_ATTR_* (ONNX AttributeProto.AttributeType) */
    double f;
    int64_t i;
    char *s;
    int n;                     /* entries of ints or floats */
    int64_t *ints;
    double *floats;
    int tensor;                /* CN_ATTR_TENSOR: index of a constant tensor */
} cn_attr;

typedef struct cn_graph cn_graph;
typedef struct cn_node cn_node;

typedef struct {
    const char *name;
    /* Sets the shapes (cn_tensor_set_shape) and values of the node's outputs from its inputs. Returns CN_OK,
     * or a status after cn_node_fail has said what is wrong (bad attribute, shapes that do not match). */
    int (*forward)(cn_graph *g, cn_node *n);
    /* Writes the tangent of every active output from the tangents of the active inputs (an input that is
     * not active has tangent zero) and the values the last forward stored. NULL: the op has no float output
     * that depends on its inputs' values (Shape, comparisons), so no output of it is ever active. */
    int (*jvp)(cn_graph *g, cn_node *n);
    unsigned shape_only; /* bit i: input i is read for its shape only (Shape), which a block cut may cross */
    /* 1: jvp handles all g->run_k tangents of a pass at once (one GEMM over K*B rows where the op is linear in
     * its input); 0: the runner calls it once per tangent (cn_node_jvp_each) */
    unsigned jvp_batched;
    /* Adds d loss / d input to the grad of every diff input (cn_node_in_grad) from the grads of the outputs
     * and the values the last forward stored. NULL: the op has no backward; a network that needs one
     * through it cannot be trained. */
    int (*vjp)(cn_graph *g, cn_node *n);
    /* the most inputs a node may have for vjp to take it (0: any): Max and Min fold two inputs back only */
    int vjp_max_inputs;
    /* bit i: input i never gets a gradient (an exponent, a clip bound, batch norm's running statistics), so
     * a float initializer there is not a parameter */
    unsigned frozen_in;
    /* bit i: a float initializer at input i is training state the forward updates (batch norm's running
     * mean and variance) */
    unsigned state_in;
    /* The vjp of the jvp (jvp_vjp.c), the second-order rule of the criticality regulariser: from the cotangents
     * of the output tangents (gtan) it adds to the input tangents' cotangents, and to the grads of whatever the
     * jvp read besides the tangent: the forward's values (a smooth op's curvature) and the weights the tangent
     * went through. CN_TANGENT_NONE: no rule yet, the regulariser refuses a block with this op. */
    unsigned char tangent_rule;
    /* CN_TANGENT_MULTILINEAR: inputs added to the product rather than multiplied (a bias), bit i for input i */
    unsigned additive_in;
    /* CN_TANGENT_CUSTOM: the rule itself, over all g->run_k tangents */
    int (*jvp_vjp)(cn_graph *g, cn_node *n);
} cn_op;

/* How an op's jvp is reversed. LINEAR: the jvp is the op's Jacobian at the forward's values and involves no
 * weight (reshapes, Add, pools, ReLU and other piecewise-linear ops): the reverse is the op's own vjp applied to
 * the tangents' cotangents. MULTILINEAR: the op is linear in each input separately (Conv, Gemm, MatMul, Mul):
 * the tangent through input i is the op with input i replaced by its tangent, so the reverse is the op's vjp
 * at that substitution, which also gives the other inputs (weights, or a second activation) their share.
 * CUSTOM: jvp_vjp (smooth activations, normalisations). */
enum { CN_TANGENT_NONE = 0, CN_TANGENT_LINEAR, CN_TANGENT_MULTILINEAR, CN_TANGENT_CUSTOM };

struct cn_node {
    char *name;                /* the node's name, or "#index" when the file gives none */
    char *op_type;
    const cn_op *op;
    int nin, nout;
    int *in, *out;             /* tensor indices; -1 for an omitted optional input or output */
    int nattr;
    cn_attr *attr;
    void *scratch;             /* the op's own work space (max-pool argmax, im2col columns), kept from the
                                * forward for the jvp; grown with cn_node_scratch */
    size_t scratch_bytes;
};

struct cn_graph {
    char path[256];            /* for messages */
    char *source;              /* the file's absolute path (NULL: read from memory), for checkpoints */
    int opset;
    cn_tensor *t;
    int nt, cap_t;
    cn_node *nodes;
    int nn;
    int input, output;         /* tensor indices */
    int fixed_batch;           /* the input's first dimension is a fixed number (runs one example at a time
                                * when it is 1); 0: symbolic */
    int file_batch;            /* a batch above 1 that the file fixed and critnet re-batched (rebatch.c); 0: none */
    int reserved_batch;        /* largest batch the buffers were sized for */
    int train;                 /* the forward runs in training mode: batch norm uses and updates batch statistics */
    double bn_momentum;        /* training: weight of the batch in a running statistic; 0: the node's own */
    char msg[512];             /* the last failure: which node, what is wrong */
    int tangents;              /* tangents each active tensor's tan holds (cn_graph_reserve; 0 before) */
    int run_k;                 /* tangents of the jvp pass now running */
    cn_real *temp;             /* a backward's work space (cn_graph_temp) */
    size_t temp_cap;
    int min_tangents;          /* cn_graph_reserve gives at least this many tangents, budget or not (the
                                * regulariser keeps all its probes' tangents for the reverse pass) */
    int keep_grads;            /* the next backward adds to the grads already there (the regulariser's share)
                                * instead of starting from zero; the backward clears it */
    cn_rng *rng;               /* the training run's RNG (borrowed), for Dropout's mask in training mode; NULL:
                                * Dropout is the identity, as at inference */
};

/* ------------------------------------------------------------------ used by the operators */

size_t cn_tensor_numel(const cn_tensor *t);
/* Input i of n, or NULL when it is omitted (optional inputs). */
cn_tensor *cn_node_in(cn_graph *g, const cn_node *n, int i);
cn_tensor *cn_node_out(cn_graph *g, const cn_node *n, int i);
/* The tangent of input i, or NULL when that input is omitted or not active (its tangent is zero). */
const cn_real *cn_node_in_tan(cn_graph *g, const cn_node *n, int i);
/* Gives t the shape (ndim, dims) and dtype, growing its buffers (tangent too, if active) when needed.
 * Fails (naming the node) on a negative dimension, more than 2^31 elements, or a failed allocation. */
int cn_tensor_set_shape(cn_graph *g, const cn_node *n, cn_tensor *t, int dtype, int ndim, const int64_t *dims);
/* Records "FILE: node NAME (OP): <message>" in g->msg and returns status. */
int cn_node_fail(cn_graph *g, const cn_node *n, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* A scratch area of at least `bytes` for the node (grown, never shrunk); NULL after cn_node_fail on failure. */
void *cn_node_scratch(cn_graph *g, cn_node *n, size_t bytes);

const cn_attr *cn_attr_find(const cn_node *n, const char *name);
int64_t cn_attr_int(const cn_node *n, const char *name, int64_t def);
double cn_attr_float(const cn_node *n, const char *name, double def);
const char *cn_attr_string(const cn_node *n, const char *name, const char *def);
/* INTS attribute into v (at most max); *count = entries (0 when absent). CN_ERR_FORMAT via cn_node_fail if
 * there are more than max. */
int cn_attr_ints(cn_graph *g, const cn_node *n, const char *name, int64_t *v, int max, int *count);
/* An int64 input (axes, shape, pads, starts...) into v (at most max entries); *count = entries, -1 when the
 * input is omitted. Fails naming the node for a float input or more than max entries. */
int cn_input_ints(cn_graph *g, const cn_node *n, int i, int64_t *v, int max, int *count);
/* The grad of input i (to add to), or NULL when that input is omitted or gets no gradient; the grad of
 * output i, or NULL when it has none (not diff). */
cn_real *cn_node_in_grad(cn_graph *g, const cn_node *n, int i);
const cn_real *cn_node_out_grad(cn_graph *g, const cn_node *n, int i);
/* a scalar float input (Clip's min/max, Pad's value) or def when omitted */
int cn_input_scalar(cn_graph *g, const cn_node *n, int i, double def, double *out);

/* ------------------------------------------------------------------ the operator table (ops.c) */

/* NULL when op_type (of the default domain) is not implemented */
const cn_op *cn_onnx_find_op(const char *op_type);
/* "Abs, Add, ..." for the message that names a missing operator */
const char *cn_onnx_op_list(void);

/* CN_OK, or a status after cn_node_fail where node n means at the graph's opset what critnet does not do */
int cn_onnx_opset_check(cn_graph *g, const cn_node *n);

/* ------------------------------------------------------------------ the graph (graph.c, reader.c) */

/* Reads an ONNX file (opset 1-21, one file, no external data) into *out. max_bytes: files larger than this
 * are refused before they are read (0: 2 GiB - 1, protobuf's own limit). */
int cn_graph_load(cn_graph **out, const char *path, size_t max_bytes, cn_error *err);
/* The same from bytes in memory (the fuzz target); name is used in messages. */
int cn_graph_load_buffer(cn_graph **out, const uint8_t *buf, size_t len, const char *name, cn_error *err);
void cn_graph_free(cn_graph *g);
/* Adds a tensor (name copied); returns its index or -1 (out of memory). */
int cn_graph_add_tensor(cn_graph *g, const char *name);
/* Runs nodes [first, last) forward / their K tangents (K <= g->tangents; tangent k of each tensor at
 * tan + k * numel). On failure g->msg says why. */
int cn_graph_run(cn_graph *g, int first, int last);
int cn_graph_run_jvp(cn_graph *g, int first, int last, int K);
/* Runs one_tangent once per tangent of the pass, each time with the node's tensors' tan pointers moved to
 * that tangent: how an op without a batched jvp, or a batched one in a case it does not batch, runs K. */
int cn_node_jvp_each(cn_graph *g, cn_node *n, int (*one_tangent)(cn_graph *, cn_node *));
/* Sets the input to (batch, per-example dims of the model) from x and runs the whole graph: the load uses it
 * at batch 1 to check every node, reserve at the largest batch to size the buffers. */
int cn_graph_set_input(cn_graph *g, const cn_real *x, int batch);
/* Sizes every buffer for batches up to batch (a run of the graph on zeros) and gives active tensors room for
 * up to `tangents` tangents, fewer where they would exceed CN_GRAPH_TANGENT_BYTES (g->tangents says how
 * many; a jvp of more runs in chunks). The budget is small on purpose: batching tangents pays only where it
 * makes a GEMM larger, while every elementwise op then streams K times the data; with a 256 MiB budget the
 * encoder of bench/run_onnx_tangents.sh ran at 0.88-0.96x of one tangent at a time, with 8 MiB at 1.13-1.22x,
 * and the MLP gained 1.5-2x either way. A large network's tangents then run one at a time, as before. */
#define CN_GRAPH_TANGENT_BYTES ((size_t)8 << 20)
int cn_graph_reserve(cn_graph *g, int batch, int tangents);
/* Marks the float tensors that depend on the input (after a run has set every dtype). */
void cn_graph_mark_active(cn_graph *g);

/* A graph whose file fixed the batch above 1 (file_batch): checks that it runs at batch 1 and 2 and keeps its
 * examples apart, or refuses it naming the fixed batch (rebatch.c). */
int cn_graph_check_rebatch(cn_graph *g, cn_error *err);

/* ------------------------------------------------------------------ parameters and state (params.c) */

/* Decides which constants train (CN_ROLE_PARAM: float, at least 2 values, read at an input an operator does
 * not freeze) and which are state (CN_ROLE_STATE: batch norm's running statistics), and each one's first
 * reader; first gives each batch norm its own copy of tensors the exporter merged. CN_OK or CN_ERR_NOMEM. */
int cn_graph_assign_roles(cn_graph *g);
/* Values of the tensors of a role whose first reader lies in nodes [first, last). */
size_t cn_graph_role_size(const cn_graph *g, int role, int first, int last);
/* Moves those tensors' values into data (consecutive, in tensor order) and makes them views of it; a
 * parameter's grad becomes the matching view of grad. */
void cn_graph_bind_role(cn_graph *g, int role, int first, int last, cn_real *data, cn_real *grad);

/* ------------------------------------------------------------------ backward (grad.c) */

/* Marks the float tensors that get a gradient: the active ones, the parameters and what depends on them
 * (after cn_graph_mark_active and the choice of parameters). */
void cn_graph_mark_diff(cn_graph *g);
/* The first node in [first, last) that needs a backward its operator lacks, or -1. */
int cn_graph_first_without_vjp(const cn_graph *g, int first, int last);
/* Gives every diff tensor that is not a parameter its grad buffer. */
int cn_graph_reserve_grads(cn_graph *g);
/* Zeroes the grads of the diff tensors that are not parameters (a backward pass starts from zero). */
void cn_graph_zero_grads(cn_graph *g);
/* Work space for one vjp at a time, of at least count values: where a kernel overwrites its dx, the op
 * writes it here and adds it to the input's grad (cn_grad_add). NULL after cn_node_fail on failure. */
cn_real *cn_graph_temp(cn_graph *g, const cn_node *n, size_t count);
/* grad[i] += share[i] */
void cn_grad_add(cn_real *grad, const cn_real *share, size_t count);
/* Runs the vjps of nodes [first, last) in reverse order: each adds to its inputs' grads. */
int cn_graph_run_vjp(cn_graph *g, int first, int last);

/* ------------------------------------------------------------------ reverse of the jvp (jvp_vjp.c) */

/* The cotangents of input i's / output i's tangents (g->run_k blocks, like tan), or NULL when not active. */
cn_real *cn_node_in_gtan(cn_graph *g, const cn_node *n, int i);
const cn_real *cn_node_out_gtan(cn_graph *g, const cn_node *n, int i);
/* Gives every active tensor its gtan (g->tangents blocks of cap values); grads must be reserved too. */
int cn_graph_reserve_gtan(cn_graph *g);
/* Zeroes the first K tangents' cotangents of every active tensor that nodes [first, last) read or write. */
void cn_graph_zero_gtan(cn_graph *g, int first, int last, int K);
/* The first node in [first, last) that a tangent passes through and whose op has no second-order rule, or -1. */
int cn_graph_first_without_tangent_rule(const cn_graph *g, int first, int last);
/* After cn_graph_run_jvp(first, last, K) and with the cotangents of some tangents set: runs the nodes' rules
 * in reverse, adding to the tangents' cotangents, to the grads of the values (the next backward carries them
 * on to the parameters before them) and to the parameters' grads. */
int cn_graph_run_jvp_vjp(cn_graph *g, int first, int last, int K);
/* The LINEAR rule for node n's first K tangents, for a custom rule that reduces to it in some cases. */
int cn_node_reverse_linear(cn_graph *g, cn_node *n, int K);

#endif
