#pragma once
// Export of a model to ONNX (https://onnx.ai), for ONNX Runtime and other runtimes. The graph is
// built as an onnx::ModelProto with the ONNX library itself and checked by its checker and strict
// shape inference before anything is written. Lives in its own library (mnistnn_onnx) so the core
// does not depend on ONNX and protobuf; this header includes neither.
//
// The graph (opset kOnnxOpset, weights as initializers, N a dynamic batch size):
//   pixels [N,784] → (uint8 input only: Cast to float32, Div by 255)
//     → Gemm(W1ᵀ, b1) [N,H] → Relu | Sigmoid → Gemm(W2ᵀ, b2) = logits [N,10]
//     → Softmax(axis 1) = probabilities float32 [N,10];   ArgMax(logits, axis 1) = label int64 [N]
// Rows are samples here (ONNX's convention), where the core's matrices have them as columns.
#include <cstddef>
#include <string>

#include "mnistnn/model_file.hpp"

namespace mnistnn {

constexpr int kOnnxOpset = 13;      // default-domain opset the graph imports
constexpr int kOnnxIrVersion = 7;   // the IR version that goes with opset 13 (ONNX 1.8)

// The exported graph's input `pixels`.
enum class OnnxInput {
    Float32,  // float32 [N,784], values byte/255 in [0,1], as mnistnn scales pixels
    Uint8,    // uint8 [N,784], raw pixel bytes; the graph divides by 255 (bit-identical to Float32)
};

// "float32" / "uint8".
std::string to_string(OnnxInput input);
// Throws UsageError for anything but "float32" / "uint8".
OnnxInput onnx_input_from_string(const std::string& name);

struct OnnxExportSettings {
    OnnxInput input = OnnxInput::Float32;
    std::string producer_version;  // written as the model's producer_version (producer "mnistnn")
};

// The model as a serialised ONNX ModelProto. Every entry of model.metadata (training settings,
// accuracies, data fingerprint) goes into metadata_props, plus "onnx_input". Deterministic: the
// same model and settings give the same bytes. Throws Error if the ONNX checker or shape
// inference rejects the graph (a bug in the exporter, never the user's input).
std::string onnx_model_bytes(const Model& model, const OnnxExportSettings& settings);

// Writes onnx_model_bytes(model, settings) to `path` atomically (an existing file is replaced only
// when the new one is complete). Returns the number of bytes written. Throws IoError.
std::size_t write_onnx_model(const std::string& path, const Model& model, const OnnxExportSettings& settings);

}  // namespace mnistnn
