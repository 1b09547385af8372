/* ops.c: the table of the ONNX operators critnet runs, one entry per op_type of the default domain. Each
 * operator lives with its family (ops_conv.c, ops_pool.c, ops_norm.c, ops_unary.c, ops_binary.c,
 * ops_matmul.c, ops_reduce.c, ops_shape.c, ops_move.c, ops_space.c, ops_lrn.c, ops_resize.c,
 * ops_hardmax.c); this file only names them. */
#include <string.h>
#include "onnx/graph.h"

#define OPS(X)                                                                                                 \
    X(Abs) X(Acos) X(Acosh) X(Add) X(ArgMax) X(ArgMin) X(Asin) X(Asinh) X(Atan) X(Atanh) X(AveragePool)         \
    X(BatchNormalization) X(Cast) X(Celu) X(Clip) X(Concat) X(ConstantOfShape) X(Conv) X(ConvTranspose) X(Cos) X(Cosh)           \
    X(DepthToSpace) X(Div) X(Dropout) X(Einsum) X(Elu) X(Equal) X(Erf) X(Exp) X(Expand) X(Flatten) X(Gather)    \
    X(Gelu) X(Gemm) X(GlobalAveragePool) X(GlobalMaxPool) X(Greater) X(HardSigmoid) X(HardSwish) X(Hardmax)    \
    X(Identity)                                                                                                \
    X(InstanceNormalization) X(LRN) X(LayerNormalization) X(LeakyRelu) X(Less) X(Log) X(LogSoftmax) X(MatMul)  \
    X(Max) X(MaxPool) X(Min) X(Mul) X(Neg) X(PRelu) X(Pad) X(Pow) X(Range) X(Reciprocal) X(ReduceL1)           \
    X(ReduceL2) X(ReduceLogSum) X(ReduceLogSumExp) X(ReduceMax) X(ReduceMean) X(ReduceMin) X(ReduceProd)        \
    X(ReduceSum) X(ReduceSumSquare) X(Relu) X(Reshape) X(Resize) X(Selu) X(Shape) X(Sigmoid) X(Sin) X(Sinh) X(Size)       \
    X(Slice) X(Softmax) X(Softplus) X(Softsign) X(SpaceToDepth) X(Split) X(Sqrt) X(Squeeze) X(Sub) X(Tan)       \
    X(Tanh) X(ThresholdedRelu) X(Tile) X(Transpose) X(Unsqueeze) X(Upsample) X(Where)

#define DECLARE(name) extern const cn_op cn_op_##name;
OPS(DECLARE)
#undef DECLARE

#define ENTRY(name) &cn_op_##name,
static const cn_op *const table[] = {OPS(ENTRY)};
#undef ENTRY

#define NAME(name) #name ", "
static const char names[] = OPS(NAME) "Constant";
#undef NAME

const cn_op *cn_onnx_find_op(const char *op_type)
{
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(table[i]->name, op_type) == 0) return table[i];
    return NULL;
}

const char *cn_onnx_op_list(void) { return names; }
