// Tests of the ONNX exporter (mnistnn_onnx) and `mnistnn export`: the written graph read back with
// the ONNX library (signature, ops, initializer layout, metadata), determinism, and every error path
// of the command (nothing written, an existing file kept). Running the graphs in ONNX Runtime on the
// MNIST test digits is tests/onnx/ort_check.js (ctest onnx_runtime).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/onnx_export.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

namespace fs = std::filesystem;
using test::read_text;
using test::run_cli;
using test::TempDir;
using test::tiny_csv;
using test::write_text;

// A 784-3-10 model whose every parameter is distinct, so a transposed or misplaced weight shows.
Model distinct_model(Activation activation) {
    Model m;
    m.params.W1.resize(3, 784);
    for (Eigen::Index r = 0; r < 3; ++r)
        for (Eigen::Index c = 0; c < 784; ++c) m.params.W1(r, c) = static_cast<float>(r * 1000 + c) * 1e-4f;
    m.params.b1 = Eigen::VectorXf::LinSpaced(3, 0.5f, 0.7f);
    m.params.W2.resize(10, 3);
    for (Eigen::Index r = 0; r < 10; ++r)
        for (Eigen::Index c = 0; c < 3; ++c) m.params.W2(r, c) = static_cast<float>(r * 10 + c) * 0.01f - 0.3f;
    m.params.b2 = Eigen::VectorXf::LinSpaced(10, -1.0f, 1.0f);
    m.params.activation = activation;
    m.metadata = {{"seed", "7"}, {"hidden", "3"}, {"holdout_accuracy", "0.9312"}};
    return m;
}

onnx::ModelProto parse(const std::string& bytes) {
    onnx::ModelProto proto;
    EXPECT_TRUE(proto.ParseFromString(bytes)) << "not an ONNX ModelProto";
    return proto;
}

onnx::ModelProto export_proto(const Model& model, OnnxInput input) {
    return parse(onnx_model_bytes(model, {input, "9.9.9"}));
}

// "N,784" style rendering of a value's shape; a symbolic dimension shows its name.
std::string shape_of(const onnx::ValueInfoProto& value) {
    std::string text;
    for (const auto& dim : value.type().tensor_type().shape().dim()) {
        if (!text.empty()) text += ',';
        text += dim.has_dim_param() ? dim.dim_param() : std::to_string(dim.dim_value());
    }
    return text;
}

std::vector<std::string> op_types(const onnx::GraphProto& graph) {
    std::vector<std::string> ops;
    for (const auto& node : graph.node()) ops.push_back(node.op_type());
    return ops;
}

const onnx::NodeProto& node_of(const onnx::GraphProto& graph, const std::string& op) {
    for (const auto& node : graph.node())
        if (node.op_type() == op) return node;
    throw std::runtime_error("no " + op + " node");
}

std::map<std::string, std::int64_t> int_attributes(const onnx::NodeProto& node) {
    std::map<std::string, std::int64_t> attributes;
    for (const auto& a : node.attribute()) attributes[a.name()] = a.i();
    return attributes;
}

const onnx::TensorProto& initializer(const onnx::GraphProto& graph, const std::string& name) {
    for (const auto& t : graph.initializer())
        if (t.name() == name) return t;
    throw std::runtime_error("no initializer " + name);
}

std::vector<std::int64_t> dims(const onnx::TensorProto& t) { return {t.dims().begin(), t.dims().end()}; }
std::vector<float> floats(const onnx::TensorProto& t) { return {t.float_data().begin(), t.float_data().end()}; }

std::map<std::string, std::string> metadata(const onnx::ModelProto& proto) {
    std::map<std::string, std::string> m;
    for (const auto& entry : proto.metadata_props()) m[entry.key()] = entry.value();
    return m;
}

TEST(OnnxExport, Float32GraphSignatureOpsAndVersions) {
    const auto proto = export_proto(distinct_model(Activation::ReLU), OnnxInput::Float32);
    EXPECT_EQ(proto.ir_version(), 7);
    ASSERT_EQ(proto.opset_import_size(), 1);
    EXPECT_EQ(proto.opset_import(0).domain(), "");
    EXPECT_EQ(proto.opset_import(0).version(), 13);
    EXPECT_EQ(proto.producer_name(), "mnistnn");
    EXPECT_EQ(proto.producer_version(), "9.9.9");
    const auto& g = proto.graph();
    ASSERT_EQ(g.input_size(), 1);
    EXPECT_EQ(g.input(0).name(), "pixels");
    EXPECT_EQ(g.input(0).type().tensor_type().elem_type(), onnx::TensorProto_DataType_FLOAT);
    EXPECT_EQ(shape_of(g.input(0)), "N,784");
    ASSERT_EQ(g.output_size(), 2);
    EXPECT_EQ(g.output(0).name(), "probabilities");
    EXPECT_EQ(g.output(0).type().tensor_type().elem_type(), onnx::TensorProto_DataType_FLOAT);
    EXPECT_EQ(shape_of(g.output(0)), "N,10");
    EXPECT_EQ(g.output(1).name(), "label");
    EXPECT_EQ(g.output(1).type().tensor_type().elem_type(), onnx::TensorProto_DataType_INT64);
    EXPECT_EQ(shape_of(g.output(1)), "N");

    EXPECT_EQ(op_types(g), (std::vector<std::string>{"Gemm", "Relu", "Gemm", "Softmax", "ArgMax"}));
    EXPECT_EQ(g.node(0).input(0), "pixels");
    EXPECT_EQ(int_attributes(g.node(0)).at("transB"), 1);
    EXPECT_EQ(int_attributes(g.node(2)).at("transB"), 1);
    EXPECT_EQ(int_attributes(node_of(g, "Softmax")).at("axis"), 1);
    const auto& argmax = node_of(g, "ArgMax");
    EXPECT_EQ(argmax.input(0), "logits") << "argmax of the logits, as mnistnn predicts";
    EXPECT_EQ(int_attributes(argmax), (std::map<std::string, std::int64_t>{{"axis", 1}, {"keepdims", 0}}));
    EXPECT_NO_THROW(onnx::checker::check_model(proto));
}

TEST(OnnxExport, WeightsAreRowMajorInitializers) {
    const Model m = distinct_model(Activation::ReLU);
    const auto proto = export_proto(m, OnnxInput::Float32);
    const auto& g = proto.graph();
    EXPECT_EQ(g.initializer_size(), 4);
    const auto& W1 = initializer(g, "W1");
    EXPECT_EQ(W1.data_type(), onnx::TensorProto_DataType_FLOAT);
    ASSERT_EQ(dims(W1), (std::vector<std::int64_t>{3, 784}));
    const auto w1 = floats(W1);
    ASSERT_EQ(w1.size(), 3u * 784u);
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 784; ++c) ASSERT_EQ(w1[static_cast<std::size_t>(r * 784 + c)], m.params.W1(r, c)) << r << ',' << c;
    const auto& W2 = initializer(g, "W2");
    ASSERT_EQ(dims(W2), (std::vector<std::int64_t>{10, 3}));
    const auto w2 = floats(W2);
    for (int r = 0; r < 10; ++r)
        for (int c = 0; c < 3; ++c) ASSERT_EQ(w2[static_cast<std::size_t>(r * 3 + c)], m.params.W2(r, c)) << r << ',' << c;
    EXPECT_EQ(dims(initializer(g, "b1")), (std::vector<std::int64_t>{3}));
    EXPECT_EQ(floats(initializer(g, "b1")), (std::vector<float>{0.5f, 0.6f, 0.7f}));
    EXPECT_EQ(dims(initializer(g, "b2")), (std::vector<std::int64_t>{10}));
    EXPECT_EQ(floats(initializer(g, "b2")), std::vector<float>(m.params.b2.data(), m.params.b2.data() + 10));
}

TEST(OnnxExport, Uint8InputIsCastThenDividedBy255) {
    const auto proto = export_proto(distinct_model(Activation::ReLU), OnnxInput::Uint8);
    const auto& g = proto.graph();
    EXPECT_EQ(g.input(0).name(), "pixels");
    EXPECT_EQ(g.input(0).type().tensor_type().elem_type(), onnx::TensorProto_DataType_UINT8);
    EXPECT_EQ(shape_of(g.input(0)), "N,784");
    EXPECT_EQ(op_types(g), (std::vector<std::string>{"Cast", "Div", "Gemm", "Relu", "Gemm", "Softmax", "ArgMax"}));
    EXPECT_EQ(int_attributes(g.node(0)).at("to"), onnx::TensorProto_DataType_FLOAT);
    EXPECT_EQ(g.node(1).input(0), g.node(0).output(0));
    const auto& divisor = initializer(g, g.node(1).input(1));
    EXPECT_TRUE(dims(divisor).empty()) << "a scalar";
    EXPECT_EQ(floats(divisor), std::vector<float>{255.0f});
    EXPECT_EQ(g.node(2).input(0), g.node(1).output(0));
    EXPECT_EQ(metadata(proto).at("onnx_input"), "uint8");
}

TEST(OnnxExport, SigmoidHiddenLayer) {
    const auto proto = export_proto(distinct_model(Activation::Sigmoid), OnnxInput::Float32);
    EXPECT_EQ(op_types(proto.graph()), (std::vector<std::string>{"Gemm", "Sigmoid", "Gemm", "Softmax", "ArgMax"}));
}

TEST(OnnxExport, MetadataPropsCarryTheModelMetadata) {
    const auto proto = export_proto(distinct_model(Activation::ReLU), OnnxInput::Float32);
    EXPECT_EQ(metadata(proto), (std::map<std::string, std::string>{{"seed", "7"},
                                                                    {"hidden", "3"},
                                                                    {"holdout_accuracy", "0.9312"},
                                                                    {"onnx_input", "float32"}}));
}

TEST(OnnxExport, SameModelGivesSameBytes) {
    const Model m = distinct_model(Activation::Sigmoid);
    EXPECT_EQ(onnx_model_bytes(m, {OnnxInput::Uint8, "1"}), onnx_model_bytes(m, {OnnxInput::Uint8, "1"}));
    EXPECT_NE(onnx_model_bytes(m, {OnnxInput::Uint8, "1"}), onnx_model_bytes(m, {OnnxInput::Float32, "1"}));
}

TEST(OnnxExport, InputNames) {
    EXPECT_EQ(onnx_input_from_string("float32"), OnnxInput::Float32);
    EXPECT_EQ(onnx_input_from_string("uint8"), OnnxInput::Uint8);
    EXPECT_EQ(to_string(OnnxInput::Uint8), "uint8");
    EXPECT_EQ(to_string(OnnxInput::Float32), "float32");
    EXPECT_THROW(onnx_input_from_string("float"), UsageError);
}

TEST(OnnxExport, WriteReturnsSizeAndRefusesMissingFolder) {
    TempDir dir;
    const Model m = distinct_model(Activation::ReLU);
    const std::size_t size = write_onnx_model(dir.file("m.onnx"), m, {});
    EXPECT_EQ(read_text(dir.file("m.onnx")), onnx_model_bytes(m, {}));
    EXPECT_EQ(fs::file_size(dir.file("m.onnx")), size);
    EXPECT_THROW(write_onnx_model(dir.file("missing/m.onnx"), m, {}), IoError);
}

// ---- mnistnn export ----

// A folder with tiny.csv and a model trained on it (model.safetensors).
struct TrainedFolder {
    TempDir dir;
    TrainedFolder() {
        write_text(dir.file("tiny.csv"), tiny_csv(120));
        const auto r = run_cli("train --data tiny.csv --holdout 20 --hidden 8 --iters 40 -q", dir.path());
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    std::string file(const std::string& name) const { return dir.file(name); }
};

TEST(CliExport, WritesTheTrainedModelWithItsMetadata) {
    TrainedFolder f;
    const auto r = run_cli("export --onnx model.onnx", f.dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("wrote model.onnx"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("784-8-10 relu"), std::string::npos) << r.out;
    const auto proto = parse(read_text(f.file("model.onnx")));
    EXPECT_EQ(proto.graph().input(0).type().tensor_type().elem_type(), onnx::TensorProto_DataType_FLOAT);
    const Model model = load_model(f.file("model.safetensors"));
    auto props = metadata(proto);
    EXPECT_EQ(props.at("onnx_input"), "float32");
    props.erase("onnx_input");
    EXPECT_EQ(props, model.metadata);  // settings, data fingerprint, accuracies
    EXPECT_EQ(props.at("holdout_accuracy"), model.metadata.at("holdout_accuracy"));
    EXPECT_EQ(proto.producer_version(), "0.1.0");
    EXPECT_EQ(dims(initializer(proto.graph(), "W1")), (std::vector<std::int64_t>{8, 784}));
}

TEST(CliExport, Uint8InputAndJsonSummary) {
    TrainedFolder f;
    const auto r = run_cli("export --model model.safetensors --onnx bytes.onnx --input uint8 --json", f.dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("onnx"), "bytes.onnx");
    EXPECT_EQ(j.at("model"), "model.safetensors");
    EXPECT_EQ(j.at("input"), "uint8");
    EXPECT_EQ(j.at("hidden"), 8);
    EXPECT_EQ(j.at("activation"), "relu");
    EXPECT_EQ(j.at("opset"), 13);
    EXPECT_EQ(j.at("bytes").get<std::uintmax_t>(), fs::file_size(f.file("bytes.onnx")));
    const auto proto = parse(read_text(f.file("bytes.onnx")));
    EXPECT_EQ(proto.graph().input(0).type().tensor_type().elem_type(), onnx::TensorProto_DataType_UINT8);
}

// Every file in the folder (to check that a failed export left nothing behind, temporaries included).
std::vector<std::string> listing(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(folder)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

TEST(CliExport, BadInputGetsAClearErrorAndWritesNothing) {
    TrainedFolder f;
    fs::create_directory(f.file("folder"));
    write_text(f.file("garbage.safetensors"), "this is not a safetensors file");
    const std::string good = read_text(f.file("model.safetensors"));
    write_text(f.file("truncated.safetensors"), good.substr(0, good.size() / 2));
    fs::create_symlink("model.safetensors", f.file("link.onnx"));
    const auto before = listing(f.dir.path());
    struct Case {
        std::string args;
        int exit_code;
        std::vector<std::string> expected;  // each must appear in the message
    };
    const Case cases[] = {
        {"--model missing.safetensors --onnx out.onnx", 1, {"missing.safetensors", "not found"}},
        {"--model garbage.safetensors --onnx out.onnx", 1, {"garbage.safetensors"}},
        {"--model truncated.safetensors --onnx out.onnx", 1, {"truncated.safetensors"}},
        {"--model folder --onnx out.onnx", 1, {"folder", "directory"}},
        {"--onnx folder", 2, {"'folder'", "is a directory"}},
        {"--onnx model.safetensors", 2, {"same file"}},
        {"--onnx ./model.safetensors", 2, {"same file"}},
        {"--onnx link.onnx", 2, {"same file"}},
        {"--onnx no-such-folder/out.onnx", 1, {"no-such-folder", "does not exist"}},
        {"--onnx out.onnx --input float64", 2, {"--input", "float64"}},
        {"", 2, {"--onnx"}},
    };
    for (const auto& c : cases) {
        const auto r = run_cli("export " + c.args, f.dir.path());
        EXPECT_EQ(r.exit_code, c.exit_code) << c.args << " → " << r.err;
        for (const auto& text : c.expected) EXPECT_NE(r.err.find(text), std::string::npos) << c.args << " → " << r.err;
        EXPECT_EQ(test::count_lines(r.err), 1u) << "one line: " << r.err;
        EXPECT_TRUE(r.out.empty()) << c.args << " → " << r.out;
        EXPECT_EQ(listing(f.dir.path()), before) << c.args;
    }
    EXPECT_EQ(read_text(f.file("model.safetensors")), good);
    EXPECT_TRUE(fs::is_symlink(f.file("link.onnx")));
}

TEST(CliExport, FailedExportKeepsTheExistingFile) {
    TrainedFolder f;
    ASSERT_EQ(run_cli("export --onnx out.onnx", f.dir.path()).exit_code, 0);
    const std::string before = read_text(f.file("out.onnx"));
    write_text(f.file("garbage.safetensors"), "{}");
    const auto r = run_cli("export --model garbage.safetensors --onnx out.onnx", f.dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(read_text(f.file("out.onnx")), before);
    // A second export of the same model replaces the file with identical bytes.
    ASSERT_EQ(run_cli("export --onnx out.onnx", f.dir.path()).exit_code, 0);
    EXPECT_EQ(read_text(f.file("out.onnx")), before);
}

}  // namespace
}  // namespace mnistnn
