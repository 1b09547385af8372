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
    cn_real *tan;              /* the tangent, cap elements (active tensors only, from cn_graph_reserve) */
    int producer;              /* index of the node that writes it; -1 for the input and constants */
} cn_tensor;

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
} cn_op;

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
    int opset;
    cn_tensor *t;
    int nt, cap_t;
    cn_node *nodes;
    int nn;
    int input, output;         /* tensor indices */
    int fixed_batch;           /* the input's first dimension is a fixed number (runs one example at a time
                                * when it is 1); 0: symbolic */
    int reserved_batch;        /* largest batch the buffers were sized for */
    char msg[512];             /* the last failure: which node, what is wrong */
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
/* a scalar float input (Clip's min/max, Pad's value) or def when omitted */
int cn_input_scalar(cn_graph *g, const cn_node *n, int i, double def, double *out);

/* ------------------------------------------------------------------ the operator table (ops.c) */

/* NULL when op_type (of the default domain) is not implemented */
const cn_op *cn_onnx_find_op(const char *op_type);
/* "Abs, Add, ..." for the message that names a missing operator */
const char *cn_onnx_op_list(void);

/* ------------------------------------------------------------------ the graph (graph.c, reader.c) */

/* Reads an ONNX file (opset 11-17, one file, no external data) into *out. max_bytes: files larger than this
 * are refused before they are read (0: 2 GiB - 1, protobuf's own limit). */
int cn_graph_load(cn_graph **out, const char *path, size_t max_bytes, cn_error *err);
/* The same from bytes in memory (the fuzz target); name is used in messages. */
int cn_graph_load_buffer(cn_graph **out, const uint8_t *buf, size_t len, const char *name, cn_error *err);
void cn_graph_free(cn_graph *g);
/* Adds a tensor (name copied); returns its index or -1 (out of memory). */
int cn_graph_add_tensor(cn_graph *g, const char *name);
/* Runs nodes [first, last) forward / their tangents. On failure g->msg says why. */
int cn_graph_run(cn_graph *g, int first, int last);
int cn_graph_run_jvp(cn_graph *g, int first, int last);
/* Sets the input to (batch, per-example dims of the model) from x and runs the whole graph: the load uses it
 * at batch 1 to check every node, reserve at the largest batch to size the buffers. */
int cn_graph_set_input(cn_graph *g, const cn_real *x, int batch);
/* Sizes every buffer for batches up to batch (a run of the graph on zeros) and gives active tensors their
 * tangents. */
int cn_graph_reserve(cn_graph *g, int batch);
/* Marks the float tensors that depend on the input (after a run has set every dtype). */
void cn_graph_mark_active(cn_graph *g);

#endif
