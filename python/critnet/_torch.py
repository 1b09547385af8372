"""_torch.py: critnet.from_torch, a torch.nn.Module through an ONNX export held in memory. torch is imported
only here, when the function is called: the package itself needs only NumPy."""
import io

from .net import from_onnx_bytes


def from_torch(module, example_input, blocks=None, opset=13):
    """A critnet network from a torch.nn.Module, by torch.onnx.export to bytes in memory (no file).

    example_input: a tensor of one batch, shape (n, ...) as the module takes it; the batch dimension is
    exported as dynamic, so the network runs any batch size. The module is exported in eval mode (its
    training flag is restored afterwards). blocks: as critnet.load's (docs/onnx.md#blocks). opset: 11-17."""
    import torch  # noqa: F401 (torch.onnx needs the package loaded)
    buf = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        torch.onnx.export(module, (example_input,), buf, opset_version=opset, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    finally:
        module.train(was_training)
    return from_onnx_bytes(buf.getvalue(), name=f"<torch {type(module).__name__}>", blocks=blocks)
