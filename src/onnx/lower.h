/* lower.h: a native network written as an ONNX graph (lower.c). Each layer kind writes its own nodes through
 * this small builder (the layer's `lower` op), so the layer that holds the weights decides how they are laid
 * out; the result is an ordinary ONNX model that critnet's graph engine, PyTorch and onnxruntime all read. */
#ifndef CN_ONNX_LOWER_H
#define CN_ONNX_LOWER_H
#include <stdint.h>
#include "critnet.h"
#include "net/chain.h"

typedef struct cn_lowering cn_lowering;

enum { CN_LOWER_INT = 1, CN_LOWER_FLOAT, CN_LOWER_INTS };
typedef struct {
    const char *name;
    int type; /* CN_LOWER_* */
    int64_t i;
    double f;
    int n;
    const int64_t *ints;
} cn_lower_attr;

/* A float initializer holding count values with the given shape; `what` names it after the layer
 * ("l3.weight"). Returns its name, or NULL when out of memory. */
const char *cn_lower_tensor(cn_lowering *b, const char *what, const cn_real *values, int ndim, const int64_t *dims);
/* A node of op_type reading the nin named inputs (NULL: an omitted one); returns its output's name or NULL. */
const char *cn_lower_node(cn_lowering *b, const char *op_type, int nin, const char *const *in, int nattr,
                          const cn_lower_attr *attr);
/* The activation act applied to x (x itself for the identity); NULL when out of memory. */
const char *cn_lower_act(cn_lowering *b, cn_act act, const char *x);
/* The name of the current layer's tensors ("l3"), for cn_lower_tensor's `what`. */
const char *cn_lower_prefix(cn_lowering *b);
/* The layers of a chain in order (a residual block's body and projection): x names the input, *y the output. */
int cn_lower_chain(cn_lowering *b, const cn_chain *c, const char *x, const char **y);
/* "PREFIX.what" into buf, for cn_lower_tensor's `what` */
const char *cn_lower_name(cn_lowering *b, char *buf, size_t cap, const char *what);
/* Names the current layer's tensors after prefix (a composite layer restores its own after its children). */
void cn_lower_set_prefix(cn_lowering *b, const char *prefix);
/* The rank of the tensor now flowing (2 for vectors, 4 for feature maps), which layers that reshape set. */
int cn_lower_rank(const cn_lowering *b);
void cn_lower_set_rank(cn_lowering *b, int rank);
/* Records why a layer cannot be written (unsupported setting) and returns CN_ERR_UNSUPPORTED. */
int cn_lower_refuse(cn_lowering *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Writes a native net as a serialized ONNX model (opset 17) into *bytes (cn_malloc'd, *len bytes); an
 * imported net is refused (its own file is the graph). */
int cn_net_lower_onnx(const cn_net *net, uint8_t **bytes, size_t *len, cn_error *err);
#endif
