/* reader.c: an ONNX file into a cn_graph. The protobuf is decoded by protobuf-c from code generated off the
 * onnx.proto that Debian's libonnx-dev ships; this file only checks what the decoded message says (opset,
 * one input, known operators, tensors whose stored size matches their shape, a topological order) and copies
 * it into critnet's own structures, so that nothing of protobuf-c outlives the load. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "onnx/proto.h"

#define DEFAULT_MAX_BYTES ((size_t)2147483647) /* protobuf's own limit for one message */
#define OPSET_MIN 1  /* with the per-operator rules of opset.c */
#define OPSET_MAX 21

/* a decode that failed for want of memory must say so, not call the file corrupt: the hook notes its failures */
static void *pb_alloc(void *user, size_t size)
{
    void *p = cn_malloc(size);
    if (!p) *(int *)user = 1;
    return p;
}
static void pb_free(void *user, void *ptr) { cn_free(ptr); }

ProtobufCAllocator cn_onnx_pb_allocator(int *oom) { return (ProtobufCAllocator){pb_alloc, pb_free, oom}; }

static int fail(cn_graph *g, cn_error *err, int status, const char *fmt, const char *a, const char *b)
{
    char what[400];
    snprintf(what, sizeof what, fmt, a ? a : "", b ? b : "");
    snprintf(g->msg, sizeof g->msg, "%.200s: %.300s", g->path, what);
    return cn_error_set(err, status, "%s", g->msg);
}

int cn_graph_find_tensor(const cn_graph *g, const char *name)
{
    for (int i = g->nt - 1; i >= 0; i--)
        if (strcmp(g->t[i].name, name) == 0) return i;
    return -1;
}

static const char *type_name(int dt)
{
    static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
                                  "string", "bool", "float16", "double", "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16"};
    return dt >= 0 && dt < (int)(sizeof names / sizeof *names) ? names[dt] : "unknown";
}

/* bytes per element in raw_data for the types critnet converts; 0 for the others */
static size_t raw_size(int dt)
{
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    default: return 0;
    }
}

/* element i of raw little-endian data of type dt, as double (floats) or int64 (the rest) */
static double raw_real(const uint8_t *p, int dt, size_t i)
{
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        double v;
        memcpy(&v, p + 8 * i, 8);
        return v;
    }
    float v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

static int64_t raw_int(const uint8_t *p, int dt, size_t i)
{
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (int8_t)p[i];
    default: return p[i];
    }
}

/* Copies a TensorProto into constant tensor ti, converting to cn_real or int64. */
static int read_tensor(cn_graph *g, int ti, const Onnx__TensorProto *tp, cn_error *err)
{
    cn_tensor *t = &g->t[ti];
    const char *name = t->name;
    int dt = tp->has_data_type ? tp->data_type : 0;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return fail(g, err, CN_ERR_UNSUPPORTED,
                    "tensor %s keeps its data in an external file; critnet reads single-file models (export "
                    "without external data)%s", name, NULL);
    if (tp->n_dims > CN_ONNX_MAX_DIMS) return fail(g, err, CN_ERR_FORMAT, "tensor %s has too many dimensions%s", name, NULL);
    int64_t dims[CN_ONNX_MAX_DIMS];
    int64_t numel = 1, extent = 1; /* extent: the product of the nonzero dimensions, limited as in graph.c */
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0 || (tp->dims[i] > 0 && extent > ((int64_t)1 << 31) / tp->dims[i]))
            return fail(g, err, CN_ERR_FORMAT, "tensor %s has a negative or too large dimension%s", name, NULL);
        dims[i] = tp->dims[i];
        numel *= dims[i];
        if (dims[i]) extent *= dims[i];
    }
    int is_float = dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    size_t esize = raw_size(dt);
    if (!esize) return fail(g, err, CN_ERR_UNSUPPORTED, "tensor %s has data type %s, which critnet does not read", name, type_name(dt));
    size_t stored;
    if (tp->has_raw_data) stored = tp->raw_data.len / esize;
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) stored = tp->n_float_data;
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) stored = tp->n_double_data;
    else if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) stored = tp->n_int64_data;
    else stored = tp->n_int32_data;
    if (stored != (size_t)numel || (tp->has_raw_data && tp->raw_data.len != (size_t)numel * esize)) {
        char what[96];
        snprintf(what, sizeof what, "holds %zu values where its shape needs %lld", stored, (long long)numel);
        return fail(g, err, CN_ERR_FORMAT, "tensor %s %s", name, what);
    }
    static const cn_node loader = {.name = "(initializer)", .op_type = "load"};
    if (cn_tensor_set_shape(g, &loader, t, is_float ? CN_T_FLOAT : CN_T_INT64, (int)tp->n_dims, dims))
        return cn_error_set(err, CN_ERR_NOMEM, "%s", g->msg);
    const uint8_t *raw = tp->has_raw_data ? tp->raw_data.data : NULL;
    for (size_t i = 0; i < (size_t)numel; i++) {
        if (is_float) {
            double v = raw ? raw_real(raw, dt, i)
                           : dt == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ? tp->float_data[i] : tp->double_data[i];
            ((cn_real *)t->data)[i] = (cn_real)v;
        } else {
            ((int64_t *)t->data)[i] = raw ? raw_int(raw, dt, i)
                                          : dt == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? tp->int64_data[i]
                                                                                        : tp->int32_data[i];
        }
    }
    if (dt == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) t->dtype = CN_T_BOOL;
    t->is_const = 1;
    return CN_OK;
}

/* Adds constant tensor `name` from tp; *index is its index. Returns a status (positive on failure, so it
 * cannot share the return value with the index). */
static int add_const(cn_graph *g, const char *name, const Onnx__TensorProto *tp, int *index, cn_error *err)
{
    *index = -1;
    if (name[0] && cn_graph_find_tensor(g, name) >= 0)
        return fail(g, err, CN_ERR_FORMAT, "tensor %s is defined twice%s", name, NULL);
    int ti = cn_graph_add_tensor(g, name);
    if (ti < 0) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
    int rc = read_tensor(g, ti, tp, err);
    if (!rc) *index = ti;
    return rc;
}

static int read_input(cn_graph *g, const Onnx__GraphProto *gp, cn_error *err)
{
    const Onnx__ValueInfoProto *in = NULL;
    int count = 0;
    for (size_t i = 0; i < gp->n_input; i++) {
        /* older exports list initializers as inputs; protobuf-c leaves an unset name NULL (unnamed, "") */
        if (cn_graph_find_tensor(g, gp->input[i]->name ? gp->input[i]->name : "") >= 0) continue;
        in = gp->input[i];
        count++;
    }
    if (count != 1) {
        char c[32];
        snprintf(c, sizeof c, "%d", count);
        return fail(g, err, CN_ERR_UNSUPPORTED, "the graph has %s inputs; critnet measures models with one input%s", c, NULL);
    }
    const Onnx__TypeProto *tp = in->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type ||
        tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || !tp->tensor_type->shape)
        return fail(g, err, CN_ERR_UNSUPPORTED, "input %s must be a float tensor of known rank%s", in->name, NULL);
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    if (sh->n_dim < 2 || sh->n_dim > 5)
        return fail(g, err, CN_ERR_UNSUPPORTED, "input %s must have rank 2 to 5 (batch first)%s", in->name, NULL);
    int ti = cn_graph_add_tensor(g, in->name);
    if (ti < 0) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
    cn_tensor *t = &g->t[ti];
    t->ndim = (int)sh->n_dim;
    for (size_t i = 0; i < sh->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0;
        if (i == 0) {
            g->fixed_batch = known ? (int)(d->dim_value < 1 << 20 ? d->dim_value : 1 << 20) : 0;
            /* a batch fixed above 1 is read as a dynamic one: the exporter's example batch rarely means
             * that the model needs exactly that many; rebatch.c checks that the examples stay apart */
            if (g->fixed_batch > 1) g->file_batch = g->fixed_batch, g->fixed_batch = 0;
            t->dims[0] = 1;
        } else if (!known || d->dim_value > (1 << 20)) {
            char c[32];
            snprintf(c, sizeof c, "%zu", i);
            return fail(g, err, CN_ERR_UNSUPPORTED, "input %s: dimension %s is symbolic or out of range; critnet "
                        "needs the per-example shape fixed in the file", in->name, c);
        } else {
            t->dims[i] = d->dim_value;
        }
    }
    t->is_input = 1;
    g->input = ti;
    return CN_OK;
}

static int read_attr(cn_graph *g, cn_attr *a, const Onnx__AttributeProto *ap, const char *node, cn_error *err)
{
    if (!(a->name = cn_strdup(ap->name ? ap->name : ""))) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
    a->type = ap->has_type ? (int)ap->type : 0;
    a->tensor = -1;
    switch (a->type) {
    case CN_ATTR_FLOAT: a->f = ap->f; break;
    case CN_ATTR_INT: a->i = ap->i; break;
    case CN_ATTR_STRING:
        if (!(a->s = cn_calloc(ap->s.len + 1, 1))) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
        if (ap->s.len) memcpy(a->s, ap->s.data, ap->s.len);
        break;
    case CN_ATTR_TENSOR: {
        if (!ap->t) return fail(g, err, CN_ERR_FORMAT, "node %s: attribute %s has no tensor", node, a->name);
        int rc = add_const(g, "", ap->t, &a->tensor, err);
        if (rc) return rc;
        break;
    }
    case CN_ATTR_INTS:
        a->n = (int)ap->n_ints;
        if (a->n > 1 << 16) return fail(g, err, CN_ERR_FORMAT, "node %s: attribute %s is too long", node, a->name);
        if (!(a->ints = cn_calloc(ap->n_ints + 1, sizeof *a->ints))) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
        if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof *a->ints);
        break;
    case CN_ATTR_FLOATS:
        a->n = (int)ap->n_floats;
        if (a->n > 1 << 16) return fail(g, err, CN_ERR_FORMAT, "node %s: attribute %s is too long", node, a->name);
        if (!(a->floats = cn_calloc(ap->n_floats + 1, sizeof *a->floats))) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
        for (size_t i = 0; i < ap->n_floats; i++) a->floats[i] = ap->floats[i];
        break;
    default:
        return fail(g, err, CN_ERR_UNSUPPORTED, "node %s: attribute %s is of a kind critnet does not read "
                    "(graphs, strings lists, sparse tensors)", node, a->name);
    }
    return CN_OK;
}

/* A Constant node becomes a constant tensor under its output's name; no node is kept for it. */
static int read_constant(cn_graph *g, const Onnx__NodeProto *np, const char *node, cn_error *err)
{
    if (np->n_output != 1 || np->n_attribute != 1)
        return fail(g, err, CN_ERR_FORMAT, "node %s: a Constant has one output and one value attribute%s", node, NULL);
    const Onnx__AttributeProto *ap = np->attribute[0];
    const char *out = np->output[0];
    if (cn_graph_find_tensor(g, out) >= 0) return fail(g, err, CN_ERR_FORMAT, "tensor %s is defined twice%s", out, NULL);
    const char *an = ap->name ? ap->name : ""; /* protobuf-c leaves an unset name NULL */
    int ti;
    if (ap->t && strcmp(an, "value") == 0) return add_const(g, out, ap->t, &ti, err);
    /* value_float(s) / value_int(s): build the TensorProto they stand for */
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dim;
    float f;
    int64_t i64;
    tp.has_data_type = 1;
    if (strcmp(an, "value_float") == 0) {
        f = ap->f;
        tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, tp.n_float_data = 1, tp.float_data = &f;
    } else if (strcmp(an, "value_int") == 0) {
        i64 = ap->i;
        tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64, tp.n_int64_data = 1, tp.int64_data = &i64;
    } else if (strcmp(an, "value_floats") == 0) {
        dim = (int64_t)ap->n_floats;
        tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, tp.n_float_data = ap->n_floats, tp.float_data = ap->floats;
        tp.n_dims = 1, tp.dims = &dim;
    } else if (strcmp(an, "value_ints") == 0) {
        dim = (int64_t)ap->n_ints;
        tp.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64, tp.n_int64_data = ap->n_ints, tp.int64_data = ap->ints;
        tp.n_dims = 1, tp.dims = &dim;
    } else {
        return fail(g, err, CN_ERR_UNSUPPORTED, "node %s: Constant attribute %s is not supported", node, an);
    }
    return add_const(g, out, &tp, &ti, err);
}

static int read_node(cn_graph *g, const Onnx__NodeProto *np, int index, cn_error *err)
{
    char node[160];
    if (np->name && np->name[0]) snprintf(node, sizeof node, "%s", np->name);
    else snprintf(node, sizeof node, "#%d", index);
    const char *op_type = np->op_type ? np->op_type : "";
    if (np->domain && np->domain[0] && strcmp(np->domain, "ai.onnx") != 0)
        return fail(g, err, CN_ERR_UNSUPPORTED, "node %s: operator domain %s is not supported", node, np->domain);
    if (strcmp(op_type, "Constant") == 0) return read_constant(g, np, node, err);
    const cn_op *op = cn_onnx_find_op(op_type);
    if (!op) {
        snprintf(g->msg, sizeof g->msg, "%s: node %s: operator %s is not supported (docs/onnx.md lists the "
                 "operators critnet runs)", g->path, node, op_type);
        return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s", g->msg);
    }
    cn_node *n = &g->nodes[g->nn++];
    n->op = op;
    n->nin = (int)np->n_input;
    n->nout = (int)np->n_output;
    if (!(n->name = cn_strdup(node)) || !(n->op_type = cn_strdup(op_type)) ||
        !(n->in = cn_calloc(np->n_input + 1, sizeof *n->in)) || !(n->out = cn_calloc(np->n_output + 1, sizeof *n->out)) ||
        !(n->attr = cn_calloc(np->n_attribute + 1, sizeof *n->attr)))
        return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
    n->nattr = (int)np->n_attribute; /* only now: cn_graph_free walks attr[0..nattr) */
    for (int i = 0; i < n->nattr; i++) {
        int rc = read_attr(g, &n->attr[i], np->attribute[i], node, err);
        if (rc) return rc;
    }
    for (int i = 0; i < n->nin; i++) {
        const char *name = np->input[i];
        n->in[i] = name[0] ? cn_graph_find_tensor(g, name) : -1;
        if (name[0] && n->in[i] < 0)
            return fail(g, err, CN_ERR_FORMAT, "node %s uses tensor %s before any node produces it (the graph must "
                        "be in topological order)", node, name);
    }
    for (int i = 0; i < n->nout; i++) {
        const char *name = np->output[i];
        n->out[i] = -1;
        if (!name[0]) continue;
        if (cn_graph_find_tensor(g, name) >= 0) return fail(g, err, CN_ERR_FORMAT, "tensor %s is defined twice%s", name, NULL);
        if ((n->out[i] = cn_graph_add_tensor(g, name)) < 0) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
        g->t[n->out[i]].producer = g->nn - 1;
    }
    if (cn_onnx_opset_check(g, n)) return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s", g->msg);
    return CN_OK;
}

static int read_opset(cn_graph *g, const Onnx__ModelProto *m, cn_error *err)
{
    g->opset = 0;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0) g->opset = (int)o->version;
    }
    if (g->opset >= OPSET_MIN && g->opset <= OPSET_MAX) return CN_OK;
    char v[32];
    snprintf(v, sizeof v, "%d", g->opset);
    return fail(g, err, CN_ERR_UNSUPPORTED, "opset %s of the default domain is not supported (critnet reads opsets "
                "1 to 21)%s", v, NULL);
}

static int read_graph(cn_graph *g, const Onnx__ModelProto *m, cn_error *err)
{
    int rc = read_opset(g, m, err);
    if (rc) return rc;
    const Onnx__GraphProto *gp = m->graph;
    if (!gp) return fail(g, err, CN_ERR_FORMAT, "the model holds no graph%s%s", NULL, NULL);
    if (gp->n_node == 0 || gp->n_node > (1u << 20))
        return fail(g, err, CN_ERR_FORMAT, "the graph has no nodes, or too many%s%s", NULL, NULL);
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        int ti;
        if ((rc = add_const(g, tp->name ? tp->name : "", tp, &ti, err))) return rc;
    }
    if (gp->n_sparse_initializer) return fail(g, err, CN_ERR_UNSUPPORTED, "sparse initializers are not supported%s%s", NULL, NULL);
    if ((rc = read_input(g, gp, err))) return rc;
    if (!(g->nodes = cn_calloc(gp->n_node, sizeof *g->nodes))) return fail(g, err, CN_ERR_NOMEM, "out of memory%s%s", NULL, NULL);
    for (size_t i = 0; i < gp->n_node; i++)
        if ((rc = read_node(g, gp->node[i], (int)i, err))) return rc;
    if (gp->n_output < 1) return fail(g, err, CN_ERR_FORMAT, "the graph has no output%s%s", NULL, NULL);
    const char *out = gp->output[0]->name ? gp->output[0]->name : "";
    g->output = cn_graph_find_tensor(g, out);
    if (g->output < 0 || g->t[g->output].producer < 0)
        return fail(g, err, CN_ERR_FORMAT, "output %s is not produced by any node%s", out, NULL);
    return CN_OK;
}

int cn_graph_load_buffer(cn_graph **out, const uint8_t *buf, size_t len, const char *name, cn_error *err)
{
    *out = NULL;
    cn_graph *g = cn_calloc(1, sizeof *g);
    if (!g) return cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", name);
    snprintf(g->path, sizeof g->path, "%s", name);
    g->input = g->output = -1;
    int out_of_memory = 0;
    ProtobufCAllocator pb_allocator = cn_onnx_pb_allocator(&out_of_memory);
    Onnx__ModelProto *m = onnx__model_proto__unpack(&pb_allocator, len, buf);
    int rc;
    if (!m && out_of_memory) rc = fail(g, err, CN_ERR_NOMEM, "out of memory decoding the protobuf%s%s", NULL, NULL);
    else if (!m) rc = fail(g, err, CN_ERR_FORMAT, "not an ONNX model: the protobuf does not decode (truncated or "
                           "corrupt file)%s%s", NULL, NULL);
    else rc = read_graph(g, m, err);
    if (m) onnx__model_proto__free_unpacked(m, &pb_allocator);
    if (rc) {
        cn_graph_free(g);
        return rc;
    }
    *out = g;
    return CN_OK;
}

int cn_onnx_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, cn_error *err)
{
    *buf = NULL;
    if (!max_bytes) max_bytes = DEFAULT_MAX_BYTES;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return cn_error_set(err, CN_ERR_IO, "%s: cannot open", path);
    if ((unsigned long long)st.st_size > max_bytes)
        return cn_error_set(err, CN_ERR_FORMAT, "%s: %lld bytes is over the size limit of %zu bytes", path,
                            (long long)st.st_size, max_bytes);
    if (st.st_size == 0) return cn_error_set(err, CN_ERR_FORMAT, "%s: empty file, not an ONNX model", path);
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error_set(err, CN_ERR_IO, "%s: cannot open", path);
    *len = (size_t)st.st_size;
    *buf = cn_malloc(*len);
    int rc = CN_OK;
    if (!*buf) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory for %lld bytes", path, (long long)st.st_size);
    else if (fread(*buf, 1, *len, f) != *len) rc = cn_error_set(err, CN_ERR_IO, "%s: read error", path);
    fclose(f);
    if (rc) {
        cn_free(*buf);
        *buf = NULL;
    }
    return rc;
}

int cn_graph_load(cn_graph **out, const char *path, size_t max_bytes, cn_error *err)
{
    *out = NULL;
    uint8_t *buf;
    size_t len;
    int rc = cn_onnx_read_file(path, max_bytes, &buf, &len, err);
    if (!rc) rc = cn_graph_load_buffer(out, buf, len, path, err);
    cn_free(buf);
    return rc;
}
