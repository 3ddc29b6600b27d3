#!/usr/bin/python3
"""ctest onnx_python_checker: Debian's python3-onnx accepts every model `mnistnn export` wrote.

For each WORK/*.onnx (made by make_models.sh): onnx.checker.check_model with full_check (which
includes strict shape inference), the declared signature (pixels float32 or uint8 [N,784] ->
probabilities float32 [N,10], label int64 [N]), the shapes ONNX infers for the outputs, and the
metadata_props against the safetensors model's __metadata__ (plus onnx_input).
Usage: /usr/bin/python3 check_model.py WORK
"""
import glob
import json
import os
import struct
import sys

import onnx
from onnx import TensorProto, shape_inference


def shape(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def safetensors_metadata(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))["__metadata__"]


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    graph = model.graph
    uint8 = path.endswith("-uint8.onnx")
    assert [i.name for i in graph.input] == ["pixels"], graph.input
    assert graph.input[0].type.tensor_type.elem_type == (TensorProto.UINT8 if uint8 else TensorProto.FLOAT)
    assert shape(graph.input[0]) == ["N", 784], shape(graph.input[0])
    assert [o.name for o in graph.output] == ["probabilities", "label"], graph.output
    inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True).graph
    outputs = {o.name: o for o in inferred.output}
    assert outputs["probabilities"].type.tensor_type.elem_type == TensorProto.FLOAT
    assert shape(outputs["probabilities"]) == ["N", 10], shape(outputs["probabilities"])
    assert outputs["label"].type.tensor_type.elem_type == TensorProto.INT64
    assert shape(outputs["label"]) == ["N"], shape(outputs["label"])
    assert [o.domain for o in model.opset_import] == [""] and model.opset_import[0].version == 13
    ops = [n.op_type for n in graph.node]
    assert set(ops) <= {"Cast", "Div", "Gemm", "Relu", "Sigmoid", "Softmax", "ArgMax"}, ops

    props = {p.key: p.value for p in model.metadata_props}
    source = os.path.join(os.path.dirname(path), os.path.basename(path).rsplit("-", 1)[0] + ".safetensors")
    expected = dict(safetensors_metadata(source), onnx_input="uint8" if uint8 else "float32")
    assert props == expected, (props, expected)
    assert float(props["holdout_accuracy"]) > 0.85, props["holdout_accuracy"]
    print(f"{os.path.basename(path)}: accepted by onnx {onnx.__version__} (full check); ops {' '.join(ops)}; "
          f"{len(props)} metadata entries, holdout_accuracy {props['holdout_accuracy']}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_model.py WORK")
    paths = sorted(glob.glob(os.path.join(sys.argv[1], "*.onnx")))
    if len(paths) != 4:
        sys.exit(f"check_model.py: expected 4 exported models in {sys.argv[1]}, found {len(paths)}")
    for path in paths:
        check(path)


if __name__ == "__main__":
    main()
