"""A small builder of ONNX graphs on ``onnx.helper``: constants, nodes with unique names, and
the tensor shapes (without the batch axis) that the emitters pass along."""
from dataclasses import dataclass

import numpy as np
from onnx import TensorProto, helper, numpy_helper


@dataclass(frozen=True)
class Tensor:
    """A value of the graph: its name and its shape without the batch axis (N is symbolic)."""
    name: str
    shape: tuple


class Graph:
    """Nodes and initializers of one graph, in float32; names are made unique per graph."""

    dtype = np.float32

    def __init__(self):
        self.nodes, self.initializers, self._used = [], [], set()

    def unique(self, base):
        name, i = base, 1
        while name in self._used:
            i += 1
            name = f"{base}_{i}"
        self._used.add(name)
        return name

    def const(self, name, array, dtype=None):
        """An initializer holding ``array`` (float arrays are cast to the graph's float32)."""
        array = np.asarray(array)
        if dtype is None and array.dtype.kind == "f":
            dtype = self.dtype
        tensor = numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), self.unique(name))
        self.initializers.append(tensor)
        return tensor.name

    def op(self, op_type, inputs, shape, name, **attrs):
        """Append node ``op_type`` (inputs: value names) and return its output as a Tensor of ``shape``."""
        out = self.unique(name)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return Tensor(out, tuple(int(d) for d in shape))

    def model(self, x, y, input_shape, output_shape, opset, doc):
        """The ModelProto with graph input ``x`` (N, *input_shape) and output ``y`` (N, *output_shape)."""
        graph = helper.make_graph(
            self.nodes, "nnkern", [_value(x, input_shape)], [_value(y, output_shape)], self.initializers)
        model = helper.make_model(graph, producer_name="nnkern", opset_imports=[helper.make_opsetid("", opset)],
                                  doc_string=doc)
        # the oldest IR version that has this opset: runtimes older than onnx read the file too
        model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
        return model


def _value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *[int(d) for d in shape]])

