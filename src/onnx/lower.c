/* lower.c: a native network as an ONNX model. The builder keeps everything in one arena, freed at once after
 * packing; each layer writes its own nodes (its `lower` op), in line order, so the initializers come out in the
 * order of the net's flat parameter buffer and the graph engine binds them in that same order: a lowered net
 * has the native net's parameter and state layout, and its checkpoints. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "net/net_internal.h"
#include "onnx/lower.h"
#include "onnx/proto.h"

#define LOWER_OPSET 17 /* LayerNormalization's; GELU and SiLU are written as their elementary ops */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

struct cn_lowering {
    chunk *arena;
    int failed; /* CN_ERR_NOMEM or CN_ERR_UNSUPPORTED once something could not be written */
    char why[256];
    Onnx__NodeProto **nodes;
    size_t nn, cap_nodes;
    Onnx__TensorProto **inits;
    size_t ni, cap_inits;
    int next_name;
    int layer;  /* index of the layer being written, for names */
    int rank;   /* of the tensor now flowing */
    char prefix[32];
};

static void *arena_alloc(cn_lowering *b, size_t bytes)
{
    bytes = (bytes + 15) & ~(size_t)15;
    if (!b->arena || b->arena->cap - b->arena->used < bytes) {
        size_t cap = bytes > 65536 ? bytes : 65536;
        chunk *c = cn_malloc(sizeof *c + cap);
        if (!c) {
            b->failed = CN_ERR_NOMEM;
            return NULL;
        }
        *c = (chunk){.next = b->arena, .used = 0, .cap = cap};
        b->arena = c;
    }
    void *p = b->arena->data + b->arena->used;
    b->arena->used += bytes;
    memset(p, 0, bytes);
    return p;
}

static char *arena_string(cn_lowering *b, const char *s)
{
    char *d = arena_alloc(b, strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

/* appends p to a growing array of pointers held in the arena (old arrays stay until the arena goes) */
static int push(cn_lowering *b, void ***array, size_t *n, size_t *cap, void *p)
{
    if (!p) return CN_ERR_NOMEM;
    if (*n == *cap) {
        size_t grown = *cap ? 2 * *cap : 16;
        void **a = arena_alloc(b, grown * sizeof *a);
        if (!a) return CN_ERR_NOMEM;
        if (*n) memcpy(a, *array, *n * sizeof *a);
        *array = a;
        *cap = grown;
    }
    (*array)[(*n)++] = p;
    return CN_OK;
}

const char *cn_lower_prefix(cn_lowering *b) { return b->prefix; }
void cn_lower_set_prefix(cn_lowering *b, const char *prefix) { snprintf(b->prefix, sizeof b->prefix, "%s", prefix); }

const char *cn_lower_name(cn_lowering *b, char *buf, size_t cap, const char *what)
{
    snprintf(buf, cap, "%s.%s", b->prefix, what);
    return buf;
}
int cn_lower_rank(const cn_lowering *b) { return b->rank; }
void cn_lower_set_rank(cn_lowering *b, int rank) { b->rank = rank; }

int cn_lower_refuse(cn_lowering *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->why, sizeof b->why, fmt, ap);
    va_end(ap);
    b->failed = CN_ERR_UNSUPPORTED;
    return CN_ERR_UNSUPPORTED;
}

const char *cn_lower_tensor(cn_lowering *b, const char *what, const cn_real *values, int ndim, const int64_t *dims)
{
    Onnx__TensorProto *t = arena_alloc(b, sizeof *t);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) count *= (size_t)dims[i];
    float *raw = arena_alloc(b, count * sizeof *raw + 1);
    int64_t *d = arena_alloc(b, (size_t)(ndim ? ndim : 1) * sizeof *d);
    char *name = arena_string(b, what);
    if (!t || !raw || !d || !name) return NULL;
    onnx__tensor_proto__init(t);
    for (size_t i = 0; i < count; i++) raw[i] = (float)values[i]; /* the checkpoint's precision too */
    if (ndim) memcpy(d, dims, (size_t)ndim * sizeof *d); /* a scalar has no dims to copy */
    t->name = name;
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->has_raw_data = 1;
    t->raw_data.data = (uint8_t *)raw;
    t->raw_data.len = count * sizeof *raw;
    return push(b, (void ***)&b->inits, &b->ni, &b->cap_inits, t) ? NULL : name;
}

static Onnx__AttributeProto *make_attr(cn_lowering *b, const cn_lower_attr *a)
{
    Onnx__AttributeProto *p = arena_alloc(b, sizeof *p);
    if (!p) return NULL;
    onnx__attribute_proto__init(p);
    p->name = arena_string(b, a->name);
    p->has_type = 1;
    switch (a->type) {
    case CN_LOWER_INT:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        p->has_i = 1;
        p->i = a->i;
        break;
    case CN_LOWER_FLOAT:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        p->has_f = 1;
        p->f = (float)a->f;
        break;
    default:
        p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        if (!(p->ints = arena_alloc(b, (size_t)(a->n ? a->n : 1) * sizeof *p->ints))) return NULL;
        memcpy(p->ints, a->ints, (size_t)a->n * sizeof *p->ints);
        p->n_ints = (size_t)a->n;
    }
    return p->name ? p : NULL;
}

const char *cn_lower_node(cn_lowering *b, const char *op_type, int nin, const char *const *in, int nattr,
                          const cn_lower_attr *attr)
{
    Onnx__NodeProto *node = arena_alloc(b, sizeof *node);
    char out[48], name[64];
    snprintf(out, sizeof out, "%s.t%d", b->prefix, b->next_name);
    snprintf(name, sizeof name, "%s/%s_%d", b->prefix, op_type, b->next_name++);
    char **inputs = arena_alloc(b, (size_t)(nin ? nin : 1) * sizeof *inputs), **outputs = arena_alloc(b, sizeof *outputs);
    Onnx__AttributeProto **attrs = arena_alloc(b, (size_t)(nattr ? nattr : 1) * sizeof *attrs);
    if (!node || !inputs || !outputs || !attrs) return NULL;
    onnx__node_proto__init(node);
    for (int i = 0; i < nin; i++)
        if (!(inputs[i] = arena_string(b, in[i] ? in[i] : ""))) return NULL;
    for (int i = 0; i < nattr; i++)
        if (!(attrs[i] = make_attr(b, &attr[i]))) return NULL;
    if (!(outputs[0] = arena_string(b, out)) || !(node->op_type = arena_string(b, op_type)) ||
        !(node->name = arena_string(b, name)))
        return NULL;
    node->n_input = (size_t)nin;
    node->input = inputs;
    node->n_output = 1;
    node->output = outputs;
    node->n_attribute = (size_t)nattr;
    node->attribute = attrs;
    return push(b, (void ***)&b->nodes, &b->nn, &b->cap_nodes, node) ? NULL : outputs[0];
}

/* a scalar constant: one value, which the graph engine never trains (parameters have two or more) */
static const char *scalar(cn_lowering *b, const char *what, double v)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", b->prefix, what);
    const cn_real value = (cn_real)v;
    return cn_lower_tensor(b, name, &value, 0, NULL);
}

const char *cn_lower_act(cn_lowering *b, cn_act act, const char *x)
{
    const char *in[2] = {x, NULL};
    switch (act) {
    case CN_ACT_IDENTITY: return x;
    case CN_ACT_RELU: return cn_lower_node(b, "Relu", 1, in, 0, NULL);
    case CN_ACT_TANH: return cn_lower_node(b, "Tanh", 1, in, 0, NULL);
    case CN_ACT_SIGMOID: return cn_lower_node(b, "Sigmoid", 1, in, 0, NULL);
    case CN_ACT_LEAKY_RELU: {
        const cn_lower_attr alpha = {.name = "alpha", .type = CN_LOWER_FLOAT, .f = 0.01};
        return cn_lower_node(b, "LeakyRelu", 1, in, 1, &alpha);
    }
    case CN_ACT_ELU: {
        const cn_lower_attr alpha = {.name = "alpha", .type = CN_LOWER_FLOAT, .f = 1.0};
        return cn_lower_node(b, "Elu", 1, in, 1, &alpha);
    }
    case CN_ACT_SILU: { /* x * sigmoid(x) */
        in[1] = cn_lower_node(b, "Sigmoid", 1, in, 0, NULL);
        return in[1] ? cn_lower_node(b, "Mul", 2, in, 0, NULL) : NULL;
    }
    case CN_ACT_GELU: { /* x * (erf(x / sqrt 2) + 1) * 0.5, as torch.onnx.export writes the exact form */
        const char *t[2] = {x, scalar(b, "sqrt2", 1.4142135623730951)};
        const char *e = t[1] ? cn_lower_node(b, "Div", 2, t, 0, NULL) : NULL;
        const char *erf = e ? cn_lower_node(b, "Erf", 1, &e, 0, NULL) : NULL;
        const char *s[2] = {erf, scalar(b, "one", 1.0)};
        const char *sum = erf && s[1] ? cn_lower_node(b, "Add", 2, s, 0, NULL) : NULL;
        const char *m[2] = {x, sum};
        const char *prod = sum ? cn_lower_node(b, "Mul", 2, m, 0, NULL) : NULL;
        const char *h[2] = {prod, scalar(b, "half", 0.5)};
        return prod && h[1] ? cn_lower_node(b, "Mul", 2, h, 0, NULL) : NULL;
    }
    default: cn_lower_refuse(b, "activation %d has no ONNX form in critnet yet", (int)act); return NULL;
    }
}

static Onnx__ValueInfoProto *value_info(cn_lowering *b, const char *name, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = arena_alloc(b, sizeof *v);
    Onnx__TypeProto *tp = arena_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = arena_alloc(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dim = arena_alloc(b, (size_t)rank * sizeof *dim);
    if (!v || !tp || !tt || !sh || !dim) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < rank; i++) {
        if (!(dim[i] = arena_alloc(b, sizeof **dim))) return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (i == 0) { /* the batch, symbolic */
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            if (!(dim[i]->dim_param = arena_string(b, "batch"))) return NULL;
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    sh->n_dim = (size_t)rank;
    sh->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->type = tp;
    return (v->name = arena_string(b, name)) ? v : NULL;
}

int cn_lower_chain(cn_lowering *b, const cn_chain *c, const char *x, const char **y)
{
    for (int i = 0; i < c->n && !b->failed; i++) {
        const cn_layer *L = c->layers[i];
        snprintf(b->prefix, sizeof b->prefix, "l%d", ++b->layer);
        if (!L->ops->lower) return cn_lower_refuse(b, "layer '%s' has no ONNX form yet", L->ops->kind);
        int rc = L->ops->lower(L, b, x, &x);
        if (rc) return b->failed ? b->failed : rc;
        if (!x) return b->failed ? b->failed : (b->failed = CN_ERR_NOMEM);
    }
    *y = x;
    return b->failed;
}

static void arena_free(cn_lowering *b)
{
    for (chunk *c = b->arena, *next; c; c = next) {
        next = c->next;
        cn_free(c);
    }
}

int cn_net_lower_onnx(const cn_net *net, uint8_t **bytes, size_t *len, cn_error *err)
{
    *bytes = NULL;
    *len = 0;
    if (net->graph) return cn_error_set(err, CN_ERR_ARG, "the network is an imported graph already");
    const int in_rank = net->in.h == 1 && net->in.w == 1 ? 2 : 4;
    cn_lowering b = {.rank = in_rank};
    const int64_t in_dims[4] = {1, net->in.c, net->in.h, net->in.w};
    const char *out = NULL;
    int rc = cn_lower_chain(&b, &net->chain, "input", &out);
    Onnx__ValueInfoProto *vin = rc ? NULL : value_info(&b, "input", in_rank, in_dims);
    const int64_t out_dims[2] = {1, cn_net_out_size(net)};
    /* the output under its own name: an Identity, so that the graph's output is not a layer's internal name */
    const char *named = rc ? NULL : cn_lower_node(&b, "Identity", 1, &out, 0, NULL);
    Onnx__ValueInfoProto *vout = named ? value_info(&b, named, 2, out_dims) : NULL;
    Onnx__GraphProto *g = arena_alloc(&b, sizeof *g);
    Onnx__ModelProto *m = arena_alloc(&b, sizeof *m);
    Onnx__OperatorSetIdProto *opset = arena_alloc(&b, sizeof *opset);
    Onnx__ValueInfoProto **ins = arena_alloc(&b, sizeof *ins), **outs = arena_alloc(&b, sizeof *outs);
    Onnx__OperatorSetIdProto **opsets = arena_alloc(&b, sizeof *opsets);
    if (!rc && (!vin || !vout || !g || !m || !opset || !ins || !outs || !opsets)) rc = CN_ERR_NOMEM;
    if (!rc) {
        onnx__graph_proto__init(g);
        onnx__model_proto__init(m);
        onnx__operator_set_id_proto__init(opset);
        opset->domain = "";
        opset->has_version = 1;
        opset->version = LOWER_OPSET;
        opsets[0] = opset;
        ins[0] = vin;
        outs[0] = vout;
        g->name = "critnet";
        g->n_node = b.nn;
        g->node = b.nodes;
        g->n_initializer = b.ni;
        g->initializer = b.inits;
        g->n_input = 1;
        g->input = ins;
        g->n_output = 1;
        g->output = outs;
        m->has_ir_version = 1;
        m->ir_version = 8;
        m->n_opset_import = 1;
        m->opset_import = opsets;
        m->producer_name = "critnet";
        m->graph = g;
        *len = onnx__model_proto__get_packed_size(m);
        if (!(*bytes = cn_malloc(*len ? *len : 1))) rc = CN_ERR_NOMEM;
        else onnx__model_proto__pack(m, *bytes);
    }
    if (rc == CN_ERR_UNSUPPORTED) cn_error_set(err, rc, "cannot write the network as ONNX: %s", b.why);
    else if (rc) cn_error_set(err, rc, "out of memory writing the network as ONNX");
    arena_free(&b);
    if (rc) {
        cn_free(*bytes);
        *bytes = NULL;
        *len = 0;
    }
    return rc;
}
