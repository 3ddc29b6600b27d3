// ONNX export: builds the graph described in onnx_export.hpp as an onnx::ModelProto with the ONNX
// library, checks it (checker + strict shape inference) and serialises it with protobuf.
#include "mnistnn/onnx_export.hpp"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "mnistnn/atomic_file.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/images.hpp"

namespace mnistnn {
namespace {

constexpr const char* kInputName = "pixels";
constexpr const char* kProbabilitiesName = "probabilities";
constexpr const char* kLabelName = "label";
constexpr const char* kBatchDim = "N";

// A dimension of a value's shape: a fixed size, or (size < 0) the symbolic batch size N.
void add_dim(onnx::TensorShapeProto* shape, std::int64_t size) {
    auto* dim = shape->add_dim();
    if (size < 0) {
        dim->set_dim_param(kBatchDim);
    } else {
        dim->set_dim_value(size);
    }
}

// A graph input or output of the given element type and shape.
void set_value_info(onnx::ValueInfoProto* value, const std::string& name, onnx::TensorProto_DataType type,
                    std::initializer_list<std::int64_t> shape, const std::string& doc) {
    value->set_name(name);
    value->set_doc_string(doc);
    auto* tensor = value->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(type);
    for (std::int64_t size : shape) add_dim(tensor->mutable_shape(), size);
}

// A float32 initializer with `dims` and `values` in row-major order.
void add_initializer(onnx::GraphProto* graph, const std::string& name, std::initializer_list<std::int64_t> dims,
                     const std::vector<float>& values) {
    auto* tensor = graph->add_initializer();
    tensor->set_name(name);
    tensor->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (std::int64_t d : dims) tensor->add_dims(d);
    tensor->mutable_float_data()->Add(values.begin(), values.end());
}

// An Eigen matrix's values in row-major order (Eigen stores column-major).
std::vector<float> row_major(const Eigen::MatrixXf& m) {
    std::vector<float> values;
    values.reserve(static_cast<std::size_t>(m.size()));
    for (Eigen::Index r = 0; r < m.rows(); ++r)
        for (Eigen::Index c = 0; c < m.cols(); ++c) values.push_back(m(r, c));
    return values;
}

std::vector<float> to_vector(const Eigen::VectorXf& v) { return std::vector<float>(v.data(), v.data() + v.size()); }

onnx::NodeProto* add_node(onnx::GraphProto* graph, const std::string& op, std::initializer_list<const char*> inputs,
                          std::initializer_list<const char*> outputs) {
    auto* node = graph->add_node();
    node->set_op_type(op);
    node->set_name(op + "_" + std::to_string(graph->node_size()));
    for (const char* in : inputs) node->add_input(in);
    for (const char* out : outputs) node->add_output(out);
    return node;
}

void add_int_attribute(onnx::NodeProto* node, const std::string& name, std::int64_t value) {
    auto* attribute = node->add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto_AttributeType_INT);
    attribute->set_i(value);
}

// uint8 input: x = float(pixels) / 255. A division, not a multiplication by a rounded 1/255
// (which differs from mnistnn's v/255 in the last bit for 126 of the 256 byte values), so the
// graph sees exactly the floats the float32 variant is given. Returns the scaled tensor's name.
const char* add_uint8_scaling(onnx::GraphProto* graph) {
    auto* cast = add_node(graph, "Cast", {kInputName}, {"pixels_float"});
    add_int_attribute(cast, "to", onnx::TensorProto_DataType_FLOAT);
    add_initializer(graph, "pixel_divisor", {}, {255.0f});
    add_node(graph, "Div", {"pixels_float", "pixel_divisor"}, {"x"});
    return "x";
}

// pixels → probabilities and label, with the parameters as initializers.
void build_graph(onnx::GraphProto* graph, const Params& params, OnnxInput input) {
    const std::int64_t hidden = params.hidden();
    graph->set_name("mnistnn");
    const bool bytes = input == OnnxInput::Uint8;
    set_value_info(graph->add_input(), kInputName,
                   bytes ? onnx::TensorProto_DataType_UINT8 : onnx::TensorProto_DataType_FLOAT, {-1, kPixels},
                   bytes ? "N digits, 28x28 row-major, raw pixel bytes 0-255"
                         : "N digits, 28x28 row-major, each pixel byte/255 in [0, 1]");
    set_value_info(graph->add_output(), kProbabilitiesName, onnx::TensorProto_DataType_FLOAT, {-1, kClasses},
                   "softmax probability of each digit 0-9");
    set_value_info(graph->add_output(), kLabelName, onnx::TensorProto_DataType_INT64, {-1},
                   "predicted digit: the first index of the largest logit");

    add_initializer(graph, "W1", {hidden, kPixels}, row_major(params.W1));
    add_initializer(graph, "b1", {hidden}, to_vector(params.b1));
    add_initializer(graph, "W2", {kClasses, hidden}, row_major(params.W2));
    add_initializer(graph, "b2", {kClasses}, to_vector(params.b2));

    const char* x = bytes ? add_uint8_scaling(graph) : kInputName;
    // Z1 = x·W1ᵀ + b1 [N,H]; A1 = g(Z1); logits = A1·W2ᵀ + b2 [N,10].
    add_int_attribute(add_node(graph, "Gemm", {x, "W1", "b1"}, {"z1"}), "transB", 1);
    add_node(graph, params.activation == Activation::ReLU ? "Relu" : "Sigmoid", {"z1"}, {"a1"});
    add_int_attribute(add_node(graph, "Gemm", {"a1", "W2", "b2"}, {"logits"}), "transB", 1);
    add_int_attribute(add_node(graph, "Softmax", {"logits"}, {kProbabilitiesName}), "axis", 1);
    // ArgMax of the logits, not of the probabilities: two logits can round to equal probabilities,
    // and mnistnn predicts from the logits. Ties go to the first index, as in mnistnn.
    auto* argmax = add_node(graph, "ArgMax", {"logits"}, {kLabelName});
    add_int_attribute(argmax, "axis", 1);
    add_int_attribute(argmax, "keepdims", 0);
}

void add_metadata(onnx::ModelProto* proto, const std::string& key, const std::string& value) {
    auto* entry = proto->add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
}

onnx::ModelProto build_model(const Model& model, const OnnxExportSettings& settings) {
    onnx::ModelProto proto;
    proto.set_ir_version(kOnnxIrVersion);
    proto.set_producer_name("mnistnn");
    proto.set_producer_version(settings.producer_version);
    proto.set_model_version(1);
    proto.set_doc_string("mnistnn 784-" + std::to_string(model.params.hidden()) + "-10 " +
                         to_string(model.params.activation) + " network classifying 28x28 handwritten digits");
    auto* opset = proto.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOnnxOpset);
    build_graph(proto.mutable_graph(), model.params, settings.input);
    for (const auto& [key, value] : model.metadata) add_metadata(&proto, key, value);  // std::map: sorted
    add_metadata(&proto, "onnx_input", to_string(settings.input));
    return proto;
}

// The ONNX checker, then shape inference in strict mode on a copy (type checks and every node's
// inference errors fail), so a graph that a runtime would refuse is never written.
void check(const onnx::ModelProto& proto) {
    try {
        onnx::checker::check_model(proto);
        onnx::ModelProto inferred = proto;
        onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                           onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1));
    } catch (const std::exception& e) {
        throw Error(std::string("internal error: the ONNX checker rejected the exported graph: ") + e.what());
    }
}

}  // namespace

std::string to_string(OnnxInput input) { return input == OnnxInput::Uint8 ? "uint8" : "float32"; }

OnnxInput onnx_input_from_string(const std::string& name) {
    if (name == "float32") return OnnxInput::Float32;
    if (name == "uint8") return OnnxInput::Uint8;
    throw UsageError("unknown ONNX input type '" + name + "' (expected float32 or uint8)");
}

std::string onnx_model_bytes(const Model& model, const OnnxExportSettings& settings) {
    const onnx::ModelProto proto = build_model(model, settings);
    check(proto);
    std::string bytes;
    if (!proto.SerializeToString(&bytes)) throw Error("internal error: protobuf could not serialise the ONNX model");
    return bytes;
}

std::size_t write_onnx_model(const std::string& path, const Model& model, const OnnxExportSettings& settings) {
    const std::string bytes = onnx_model_bytes(model, settings);
    write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
    return bytes.size();
}

}  // namespace mnistnn
