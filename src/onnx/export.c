/* export.c: an imported network written back as ONNX with the weights it has now. The source file is decoded
 * again and re-encoded with each trained initializer (and Constant node) and each batch-norm statistic
 * replaced by the net's values, in the tensor's own element type, so that the graph, its names, opset and
 * metadata stay exactly what the exporter wrote: the fine-tuned file loads wherever the original did. */
#include <stdio.h>
#include <string.h>
#include "core/atomic_file.h"
#include "net/net_internal.h"
#include "onnx/lower.h"
#include "onnx/proto.h"

static const cn_tensor *find(const cn_graph *g, const char *name)
{
    int i = cn_graph_find_tensor(g, name);
    return i < 0 ? NULL : &g->t[i];
}

static const Onnx__TensorProto *find_initializer(const Onnx__GraphProto *gp, const char *name)
{
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (gp->initializer[i]->name && strcmp(gp->initializer[i]->name, name) == 0) return gp->initializer[i];
    return NULL;
}

/* tp's values from t (float or double storage, raw little-endian), replacing what it held; 0 or a status */
static int replace_values(Onnx__TensorProto *tp, const cn_tensor *t, ProtobufCAllocator *a)
{
    const int is_double = tp->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
    if (!is_double && tp->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) return CN_ERR_FORMAT;
    const size_t count = cn_tensor_numel(t), esize = is_double ? 8 : 4;
    uint8_t *raw = a->alloc(a->allocator_data, count ? count * esize : 1);
    if (!raw) return CN_ERR_NOMEM;
    const cn_real *v = t->data;
    for (size_t i = 0; i < count; i++) {
        if (is_double) {
            double d = (double)v[i];
            memcpy(raw + 8 * i, &d, 8);
        } else {
            float f = (float)v[i];
            memcpy(raw + 4 * i, &f, 4);
        }
    }
    if (tp->has_raw_data) a->free(a->allocator_data, tp->raw_data.data);
    tp->has_raw_data = 1;
    tp->raw_data.data = raw;
    tp->raw_data.len = count * esize;
    tp->n_float_data = tp->n_double_data = 0; /* the arrays stay allocated; free_unpacked frees them */
    return CN_OK;
}

static char *copy_string(const char *s, ProtobufCAllocator *a)
{
    char *d = a->alloc(a->allocator_data, strlen(s) + 1);
    if (d) memcpy(d, s, strlen(s) + 1);
    return d;
}

/* a new float initializer for t, appended to the graph */
static int add_initializer(Onnx__GraphProto *gp, const cn_tensor *t, ProtobufCAllocator *a)
{
    Onnx__TensorProto *tp = a->alloc(a->allocator_data, sizeof *tp);
    Onnx__TensorProto **list = a->alloc(a->allocator_data, (gp->n_initializer + 1) * sizeof *list);
    int64_t *dims = a->alloc(a->allocator_data, ((size_t)t->ndim + 1) * sizeof *dims);
    if (!tp || !list || !dims) {
        a->free(a->allocator_data, tp);
        a->free(a->allocator_data, list);
        a->free(a->allocator_data, dims);
        return CN_ERR_NOMEM;
    }
    onnx__tensor_proto__init(tp);
    tp->has_data_type = 1;
    tp->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tp->n_dims = (size_t)t->ndim;
    tp->dims = dims;
    for (int i = 0; i < t->ndim; i++) dims[i] = t->dims[i];
    if (gp->n_initializer) memcpy(list, gp->initializer, gp->n_initializer * sizeof *list);
    a->free(a->allocator_data, gp->initializer);
    gp->initializer = list;
    gp->initializer[gp->n_initializer++] = tp;
    if (!(tp->name = copy_string(t->name, a))) return CN_ERR_NOMEM;
    return replace_values(tp, t, a);
}

/* The load gave some batch norms their own copies of tensors the exporter had merged (params.c); the file
 * gets them as initializers of their own, and those nodes read them. Graph nodes are the file's nodes less
 * its Constants, in order. */
static int write_copies(Onnx__GraphProto *gp, const cn_graph *g, ProtobufCAllocator *a, int *replaced)
{
    int k = 0;
    for (size_t i = 0; i < gp->n_node && k < g->nn; i++) {
        Onnx__NodeProto *np = gp->node[i];
        if (strcmp(np->op_type ? np->op_type : "", "Constant") == 0) continue;
        const cn_node *n = &g->nodes[k++];
        for (int j = 0; j < n->nin && (size_t)j < np->n_input; j++) {
            if (n->in[j] < 0) continue;
            const cn_tensor *t = &g->t[n->in[j]];
            if (strcmp(t->name, np->input[j]) == 0) continue;
            int rc = CN_OK;
            if (!find_initializer(gp, t->name)) rc = add_initializer(gp, t, a);
            char *name = rc ? NULL : copy_string(t->name, a);
            if (!name) return rc ? rc : CN_ERR_NOMEM;
            a->free(a->allocator_data, np->input[j]);
            np->input[j] = name;
            ++*replaced;
        }
    }
    return CN_OK;
}

/* every tensor of the graph whose values training changes: its proto, by name */
static int update(Onnx__GraphProto *gp, const cn_graph *g, ProtobufCAllocator *a, int *replaced)
{
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const cn_tensor *t = find(g, gp->initializer[i]->name ? gp->initializer[i]->name : "");
        if (!t || t->role == CN_ROLE_NONE) continue;
        int rc = replace_values(gp->initializer[i], t, a);
        if (rc) return rc;
        ++*replaced;
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        Onnx__NodeProto *np = gp->node[i];
        if (strcmp(np->op_type ? np->op_type : "", "Constant") != 0 || np->n_output != 1) continue;
        const cn_tensor *t = find(g, np->output[0]);
        if (!t || t->role == CN_ROLE_NONE) continue;
        for (size_t j = 0; j < np->n_attribute; j++)
            if (np->attribute[j]->t && strcmp(np->attribute[j]->name, "value") == 0) {
                int rc = replace_values(np->attribute[j]->t, t, a);
                if (rc) return rc;
                ++*replaced;
            }
    }
    return write_copies(gp, g, a, replaced);
}

/* a native network: its layers written as ONNX nodes (lower.c) */
static int export_native(const cn_net *net, const char *path, cn_error *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = cn_net_lower_onnx(net, &bytes, &len, err);
    if (rc) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return cn_error_set(err, rc, "%s: %s", path, why);
    }
    cn_atomic_file out;
    if (!(rc = cn_atomic_open(&out, path, err))) rc = cn_atomic_commit(&out, fwrite(bytes, 1, len, out.f) != len, err);
    cn_free(bytes);
    return rc;
}

int cn_net_export_onnx(const cn_net *net, const char *path, cn_error *err)
{
    const cn_graph *g = net->graph;
    if (!g) return export_native(net, path, err);
    if (!g->source)
        return cn_error_set(err, CN_ERR_UNSUPPORTED, "%s: the network was read from memory; there is no ONNX file to "
                            "write its weights into", path);
    uint8_t *buf = NULL, *packed = NULL;
    size_t len = 0;
    int rc = cn_onnx_read_file(g->source, 0, &buf, &len, err);
    int out_of_memory = 0;
    ProtobufCAllocator a = cn_onnx_pb_allocator(&out_of_memory);
    Onnx__ModelProto *m = rc ? NULL : onnx__model_proto__unpack(&a, len, buf);
    int replaced = 0;
    if (!rc && !m && out_of_memory) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory decoding it", g->source);
    if (!rc && !m) rc = cn_error_set(err, CN_ERR_FORMAT, "%s: no longer decodes as ONNX (changed since the load?)", g->source);
    if (!rc && !m->graph) rc = cn_error_set(err, CN_ERR_FORMAT, "%s: holds no graph", g->source);
    if (!rc && (rc = update(m->graph, g, &a, &replaced)))
        cn_error_set(err, rc, "%s: cannot write the weights into %s", path, g->source);
    if (!rc && replaced == 0 && net->nparams + net->nstate > 0)
        rc = cn_error_set(err, CN_ERR_FORMAT, "%s: none of the net's tensors was found in %s (changed since the load?)",
                          path, g->source);
    size_t size = rc ? 0 : onnx__model_proto__get_packed_size(m);
    if (!rc && !(packed = cn_malloc(size ? size : 1))) rc = cn_error_set(err, CN_ERR_NOMEM, "%s: out of memory", path);
    if (!rc) {
        onnx__model_proto__pack(m, packed);
        cn_atomic_file out;
        if (!(rc = cn_atomic_open(&out, path, err))) {
            int failed = fwrite(packed, 1, size, out.f) != size;
            rc = cn_atomic_commit(&out, failed, err);
        }
    }
    if (m) onnx__model_proto__free_unpacked(m, &a);
    cn_free(buf);
    cn_free(packed);
    return rc;
}
