/* fuzz_onnx.c: libFuzzer target for the ONNX reader (src/onnx/). Each input is an ONNX file in memory; when it
 * loads, the network is reserved for batch 2 and 2 tangents, run forward on a fixed input, run in tangent
 * mode with 2 tangents, asked for its status, run again at batch 1 (buffers only grow, so the smaller shapes
 * must fit in place), and freed. A model whose batch is fixed at 1 runs at batch 1 only.
 *
 * Memory is bounded through the library's one allocation hook (cn_set_allocator, fuzz_common.c): the hook keeps
 * the total that is live under FUZZ_BUDGET_MB (default 64; 0 turns the hook off) and refuses anything beyond it
 * with NULL, so a model that asks for a huge tensor (ConstantOfShape of 2^30, a Reshape/Expand/Tile/Pad to an
 * absurd shape) takes the library's out-of-memory paths instead of tripping libFuzzer's -malloc_limit_mb or
 * -rss_limit_mb. protobuf-c allocates through the same hook (reader.c), so the decoder is bounded too. 64 MiB
 * (16M floats) keeps one pass of an operator over the largest tensor it allows well under a second with ASan
 * on a loaded machine, so that -timeout=10 flags hangs rather than big but legitimate models (a Pad to 2^20
 * rows took 16 s of wall time at 256 MiB). The harness's own buffers use plain malloc and are sized from the
 * loaded net, whose tensors already fit the budget. The hook also checks that a load, failed or not, and
 * cn_net_free give back every byte.
 *
 * The second half of this file is a structure-aware mutator (LLVMFuzzerCustomMutator); see there.
 * FUZZ_VERBOSE=1 prints what became of each input (refused and why, or loaded and its status).
 *
 * Build and run: fuzz/run.sh onnx. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "critnet.h"
#include "fuzz_common.h"

FUZZ_TARGET_INIT("fuzz_onnx", NULL)

/* ------------------------------------------------------------------ one input */

/* a harness buffer of n reals; NULL when n is absurd (the net's shapes fit the budget, so it never is) */
static cn_real *reals(size_t n)
{
    if (n == 0) n = 1;
    if (n > ((size_t)1 << 28)) return NULL;
    return malloc(n * sizeof(cn_real));
}

/* forward and jvp at `batch` with `tangents` tangents on a deterministic input, and where the net trains a
 * training-mode forward and the backward (ty's first block as the output's gradient) */
static void run(cn_net *net, int batch, int tangents)
{
    int in = cn_net_in_size(net), out = cn_net_out_size(net);
    if (in < 0 || out < 0) abort(); /* a per-example size that overflowed int: a bug, not a refusal */
    size_t nx = (size_t)batch * (size_t)in, ny = (size_t)batch * (size_t)out;
    cn_real *x = reals(nx), *tx = reals(nx * tangents), *ty = reals(ny * tangents);
    if (x && tx && ty) {
        for (size_t i = 0; i < nx; i++) x[i] = (cn_real)sin(0.37 * (double)i + 0.1);
        for (size_t i = 0; i < nx * tangents; i++) tx[i] = (cn_real)cos(0.71 * (double)i);
        cn_net_forward(net, x, batch, 0);
        const cn_real *y = cn_net_output(net);
        /* read every output, so that a short output buffer shows under ASan */
        volatile cn_real sink = 0;
        for (size_t i = 0; i < ny; i++) sink += y[i];
        cn_net_jvp(net, tx, ty, batch, tangents);
        for (size_t i = 0; i < ny * tangents; i++) sink += ty[i];
        if (cn_net_trainable(net, NULL) == CN_OK && cn_net_forward(net, x, batch, 1) == CN_OK) {
            cn_net_zero_grad(net);
            if (cn_net_backward(net, ty, tx, batch) == CN_OK)
                for (size_t i = 0; i < nx; i++) sink += tx[i];
        }
        (void)sink;
    }
    free(x);
    free(tx);
    free(ty);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_onnx_opts opts = {.blocks = NULL, .max_bytes = (size_t)1 << 20};
    cn_error err = {0};
    cn_net *net = NULL;
    int rc = cn_net_from_onnx_buffer(&net, data, size, "fuzz.onnx", &opts, &err);
    if (rc != CN_OK) {
        if (net) abort(); /* a failed load must leave *out NULL */
        if (!err.msg[0]) abort(); /* and say why */
        if (fuzz_verbose) fprintf(stderr, "fuzz_onnx: refused (%s): %s\n", cn_strerror(rc), err.msg);
        fuzz_check_released("a failed load");
        return 0;
    }
    if (!net || cn_net_inference_only(net) != (cn_net_trainable(net, NULL) != CN_OK)) abort();
    for (int i = 0; i < cn_net_layer_count(net); i++)
        if (!cn_net_layer_name(net, i)) abort();

    /* a model whose batch is fixed at 1 refuses batch 2 (CN_ERR_ARG); it still runs at batch 1 */
    int batch = 2;
    if (cn_net_reserve(net, 2, 2) != CN_OK) {
        cn_net_clear_status(net);
        batch = cn_net_reserve(net, 1, 2) == CN_OK ? 1 : 0;
    }
    if (batch) {
        run(net, batch, 2);
        cn_error st = {0};
        if (cn_net_status(net, &st) != CN_OK && !st.msg[0]) abort();
        cn_net_clear_status(net);
        if (batch == 2) run(net, 1, 2);
        if (cn_net_status(net, &st) != CN_OK && !st.msg[0]) abort();
    }
    if (fuzz_verbose) {
        cn_error st = {0};
        int rs = cn_net_status(net, &st);
        fprintf(stderr, "fuzz_onnx: loaded, %d blocks, in %d, out %d, batch %d, peak %zu bytes; status %s%s%s\n",
                cn_net_layer_count(net), cn_net_in_size(net), cn_net_out_size(net), batch, fuzz_peak(),
                cn_strerror(rs), rs ? ": " : "", rs ? st.msg : "");
    }
    cn_net_free(net);
    fuzz_check_released("cn_net_free");
    return 0;
}

/* ------------------------------------------------------------------ a structure-aware mutator
 *
 * Byte mutations of a protobuf mostly break its framing, and the few that decode rarely reach the shape
 * arithmetic of the operators. So three times in four the input is decoded with protobuf-c, changed as a
 * model (an attribute's or a constant's numbers set to limit values, an operator swapped for another, an
 * input rewired to another tensor, an attribute added, the input's dimensions or the opset changed) and
 * encoded again; the rest, and whatever does not decode, gets libFuzzer's own byte mutations (with the
 * dictionary). FUZZ_ONNX_BYTES_ONLY=1 turns it off. Everything here uses protobuf-c's default allocator
 * (malloc), so the pointers it replaces are freed with the message. */

#include "onnx.pb-c.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static size_t pick(uint64_t *s, size_t n) { return n ? (size_t)(next(s) % n) : 0; }

static int64_t mutate_int(int64_t v, uint64_t *s)
{
    static const int64_t limits[] = {0, 1, -1, 2, -2, 3, 4, 5, 7, 8, 9, 16, 64, 255, 1 << 15, 1 << 16, 1 << 20,
                                     1 << 30, INT32_MAX, (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 40,
                                     (int64_t)1 << 62, INT64_MAX, INT64_MIN, INT64_MIN + 1, -((int64_t)1 << 31)};
    switch (pick(s, 5)) {
    case 0: case 1: return limits[pick(s, sizeof limits / sizeof *limits)];
    case 2: return (int64_t)((uint64_t)v + pick(s, 9) - 4);
    case 3: return (int64_t)(0u - (uint64_t)v);
    default: return (int64_t)next(s) >> pick(s, 64);
    }
}

static float mutate_float(float v, uint64_t *s)
{
    static const float limits[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1e-30f, 1e30f, 3.4e38f, INFINITY, -INFINITY, NAN};
    switch (pick(s, 3)) {
    case 0: return limits[pick(s, sizeof limits / sizeof *limits)];
    case 1: return v * 2.0f + 1.0f;
    default: return (float)mutate_int((int64_t)(fabsf(v) < 1e18f ? v : 0), s);
    }
}

static char *dup_string(const char *src)
{
    size_t n = strlen(src) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, src, n);
    return d;
}

static void set_string(char **field, const char *value)
{
    char *d = dup_string(value);
    if (!d) return;
    free(*field);
    *field = d;
}

static const char *const op_names[] = {
    "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "ConstantOfShape", "Conv", "Div",
    "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "Flatten", "Gather", "Gelu", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization",
    "LayerNormalization", "LeakyRelu", "Less", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg",
    "Pad", "Pow", "Range", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape",
    "Sigmoid", "Size", "Slice", "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Tile",
    "Transpose", "Unsqueeze", "Where", "Constant"};
static const char *const attr_names[] = {
    "axis", "axes", "perm", "shape", "allowzero", "keepdims", "noop_with_empty_axes", "split", "starts", "ends",
    "pads", "mode", "value", "kernel_shape", "strides", "dilations", "group", "auto_pad", "ceil_mode",
    "count_include_pad", "epsilon", "alpha", "beta", "transA", "transB", "to", "start", "end", "equation",
    "approximate", "min", "max", "training_mode", "value_float", "value_int", "value_ints", "value_floats"};
static const char *const strings[] = {"constant", "reflect", "edge", "wrap", "NOTSET", "VALID", "SAME_UPPER",
                                      "SAME_LOWER", "tanh", "none", "", "ij,jk->ik", "bij,bjk->bik", "bij,bkj->bik",
                                      "bji,bjk->bik", "ab,cb->ac"};

static void mutate_attribute(Onnx__AttributeProto *a, uint64_t *s)
{
    switch (pick(s, 8)) {
    case 0: /* another kind, so the op meets a value of the wrong type */
        a->has_type = 1;
        a->type = (Onnx__AttributeProto__AttributeType)(1 + pick(s, 7));
        if (a->type == 5) a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        break;
    case 1: case 2:
        if (a->n_ints) {
            size_t i = pick(s, a->n_ints);
            a->ints[i] = mutate_int(a->ints[i], s);
            break;
        }
        /* fall through */
    case 3:
        a->has_i = 1;
        a->i = mutate_int(a->i, s);
        break;
    case 4:
        if (a->n_floats) {
            size_t i = pick(s, a->n_floats);
            a->floats[i] = mutate_float(a->floats[i], s);
        }
        a->has_f = 1;
        a->f = mutate_float(a->f, s);
        break;
    case 5: { /* a list one longer or shorter */
        if (a->n_ints && pick(s, 2)) {
            a->n_ints--;
            break;
        }
        int64_t *v = realloc(a->ints, (a->n_ints + 1) * sizeof *v);
        if (!v) break;
        v[a->n_ints] = mutate_int(a->n_ints ? v[0] : 1, s);
        a->ints = v;
        a->n_ints++;
        break;
    }
    case 6: { /* a string: a mode, an auto_pad, an equation */
        const char *v = strings[pick(s, sizeof strings / sizeof *strings)];
        uint8_t *d = malloc(strlen(v) + 1);
        if (!d) break;
        memcpy(d, v, strlen(v) + 1);
        free(a->s.data);
        a->s.data = d;
        a->s.len = strlen(v);
        a->has_s = 1;
        break;
    }
    default:
        set_string(&a->name, attr_names[pick(s, sizeof attr_names / sizeof *attr_names)]);
        break;
    }
}

static void add_attribute(Onnx__NodeProto *n, uint64_t *s)
{
    Onnx__AttributeProto **list = realloc(n->attribute, (n->n_attribute + 1) * sizeof *list);
    if (!list) return;
    n->attribute = list;
    Onnx__AttributeProto *a = malloc(sizeof *a);
    if (!a) return;
    onnx__attribute_proto__init(a);
    a->name = dup_string(attr_names[pick(s, sizeof attr_names / sizeof *attr_names)]);
    a->has_type = 1;
    if (pick(s, 2)) {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = mutate_int(1, s);
    } else {
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        size_t count = 1 + pick(s, 8);
        if ((a->ints = malloc(count * sizeof *a->ints))) {
            a->n_ints = count;
            for (size_t i = 0; i < count; i++) a->ints[i] = mutate_int((int64_t)pick(s, 4), s);
        }
    }
    n->attribute[n->n_attribute++] = a;
}

/* a number of a constant tensor: one element (in whichever field holds them) or one dimension */
static void mutate_tensor(Onnx__TensorProto *t, uint64_t *s)
{
    if (pick(s, 6) == 0 && t->n_dims) {
        t->dims[pick(s, t->n_dims)] = mutate_int(1, s);
        return;
    }
    if (t->n_int64_data) {
        size_t i = pick(s, t->n_int64_data);
        t->int64_data[i] = mutate_int(t->int64_data[i], s);
    } else if (t->n_float_data) {
        size_t i = pick(s, t->n_float_data);
        t->float_data[i] = mutate_float(t->float_data[i], s);
    } else if (t->n_int32_data) {
        size_t i = pick(s, t->n_int32_data);
        t->int32_data[i] = (int32_t)mutate_int(t->int32_data[i], s);
    } else if (t->has_raw_data && t->raw_data.len) {
        uint8_t *p = t->raw_data.data;
        size_t len = t->raw_data.len;
        if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 && len >= 8) {
            size_t i = pick(s, len / 8);
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            v = mutate_int(v, s);
            memcpy(p + 8 * i, &v, 8);
        } else if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && len >= 4) {
            size_t i = pick(s, len / 4);
            float v;
            memcpy(&v, p + 4 * i, 4);
            v = mutate_float(v, s);
            memcpy(p + 4 * i, &v, 4);
        } else {
            p[pick(s, len)] ^= (uint8_t)(1u << pick(s, 8));
        }
    }
}

/* the names a node may read: the graph's inputs, the initializers, the outputs of the nodes before it */
static const char *random_name(const Onnx__GraphProto *g, size_t before, uint64_t *s)
{
    size_t outs = 0;
    for (size_t i = 0; i < before; i++) outs += g->node[i]->n_output;
    size_t k = pick(s, g->n_input + g->n_initializer + outs + 1);
    if (k < g->n_input) return g->input[k]->name;
    k -= g->n_input;
    if (k < g->n_initializer) return g->initializer[k]->name;
    k -= g->n_initializer;
    for (size_t i = 0; i < before; i++) {
        if (k < g->node[i]->n_output) return g->node[i]->output[k];
        k -= g->node[i]->n_output;
    }
    return ""; /* an omitted optional input */
}

static void mutate_model(Onnx__ModelProto *m, uint64_t *s)
{
    Onnx__GraphProto *g = m->graph;
    Onnx__NodeProto *n = g->n_node ? g->node[pick(s, g->n_node)] : NULL;
    size_t at = n ? (size_t)(pick(s, g->n_node)) : 0;
    switch (pick(s, 12)) {
    case 0: case 1: case 2: /* an attribute's value (a Constant's tensor included) */
        if (n && n->n_attribute) {
            Onnx__AttributeProto *a = n->attribute[pick(s, n->n_attribute)];
            if (a->t && pick(s, 2)) mutate_tensor(a->t, s);
            else mutate_attribute(a, s);
        }
        break;
    case 3: case 4: /* a constant's number: shapes, axes, pads, starts, indices live there */
        if (g->n_initializer) mutate_tensor(g->initializer[pick(s, g->n_initializer)], s);
        break;
    case 5: /* another operator on the same inputs and attributes */
        if (n) set_string(&n->op_type, op_names[pick(s, sizeof op_names / sizeof *op_names)]);
        break;
    case 6: /* an input read from another tensor (or omitted) */
        n = g->n_node ? g->node[at] : NULL;
        if (n && n->n_input) {
            const char *name = random_name(g, at, s);
            if (name) set_string(&n->input[pick(s, n->n_input)], name);
        }
        break;
    case 7: /* one input more or fewer */
        n = g->n_node ? g->node[at] : NULL;
        if (!n) break;
        if (n->n_input && pick(s, 2)) {
            free(n->input[--n->n_input]);
        } else {
            const char *name = random_name(g, at, s);
            char **list = realloc(n->input, (n->n_input + 1) * sizeof *list);
            if (!list) break;
            n->input = list;
            if (name && (list[n->n_input] = dup_string(name))) n->n_input++;
        }
        break;
    case 8:
        if (n) add_attribute(n, s);
        break;
    case 9: /* the model input's dimensions */
        if (g->n_input && g->input[0]->type && g->input[0]->type->tensor_type &&
            g->input[0]->type->tensor_type->shape) {
            Onnx__TensorShapeProto *sh = g->input[0]->type->tensor_type->shape;
            if (sh->n_dim) {
                Onnx__TensorShapeProto__Dimension *d = sh->dim[pick(s, sh->n_dim)];
                if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) free(d->dim_param);
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                d->dim_value = pick(s, 2) ? (int64_t)pick(s, 9) : mutate_int(1, s);
            }
        }
        break;
    case 10: /* two nodes swapped: an order that is no longer topological, or still is */
        if (g->n_node > 1) {
            size_t j = pick(s, g->n_node);
            Onnx__NodeProto *t = g->node[at];
            g->node[at] = g->node[j];
            g->node[j] = t;
        }
        break;
    default:
        if (m->n_opset_import) {
            m->opset_import[0]->has_version = 1;
            m->opset_import[0]->version = 9 + (int64_t)pick(s, 11);
        }
        break;
    }
}

static int g_bytes_only = -1;

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (g_bytes_only < 0) {
        const char *e = getenv("FUZZ_ONNX_BYTES_ONLY");
        g_bytes_only = e && e[0] == '1';
    }
    uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ull | 1;
    if (g_bytes_only || pick(&s, 4) == 0) return LLVMFuzzerMutate(data, size, max_size);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
    if (!m || !m->graph) {
        if (m) onnx__model_proto__free_unpacked(m, NULL);
        return LLVMFuzzerMutate(data, size, max_size);
    }
    for (size_t k = 1 + pick(&s, 3); k > 0; k--) mutate_model(m, &s);
    size_t need = onnx__model_proto__get_packed_size(m);
    if (need <= max_size) onnx__model_proto__pack(m, data);
    onnx__model_proto__free_unpacked(m, NULL);
    return need <= max_size ? need : LLVMFuzzerMutate(data, size, max_size);
}
