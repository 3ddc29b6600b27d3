// `mnistnn export`: writes the model as an ONNX file (see include/mnistnn/onnx_export.hpp).
#include <cstddef>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/onnx_export.hpp"

namespace mnistnn::cli {
namespace {

struct ExportOptions {
    std::string model = kDefaultModel;
    std::string onnx;
    std::string input = "float32";
    bool json = false;
};

void report(const ExportOptions& o, const Model& model, std::size_t bytes) {
    const int hidden = model.params.hidden();
    const std::string activation = to_string(model.params.activation);
    if (o.json) {
        std::cout << nlohmann::json{{"onnx", o.onnx},           {"model", o.model},     {"input", o.input},
                                    {"hidden", hidden},         {"activation", activation},
                                    {"opset", kOnnxOpset},      {"bytes", bytes}}
                         .dump()
                  << '\n';
        return;
    }
    std::printf("wrote %s (%zu bytes, ONNX opset %d): 784-%d-10 %s; input pixels %s [N,784]%s; outputs "
                "probabilities float32 [N,10], label int64 [N]\n",
                o.onnx.c_str(), bytes, kOnnxOpset, hidden, activation.c_str(), o.input.c_str(),
                o.input == "uint8" ? " (raw bytes)" : " (byte/255)");
}

int run_export(const ExportOptions& o) {
    check_output_path(o.onnx, o.model, "ONNX file");  // before loading: a bad path costs nothing
    const Model model = load_model_file(o.model);
    const OnnxExportSettings settings{onnx_input_from_string(o.input), kVersion};
    const std::size_t bytes = write_onnx_model(o.onnx, model, settings);
    report(o, model, bytes);
    return 0;
}

}  // namespace

Command add_export(CLI::App& app) {
    auto o = std::make_shared<ExportOptions>();
    CLI::App* sub = app.add_subcommand("export", "Export the model to ONNX (for ONNX Runtime and other runtimes)");
    sub->add_option("--model", o->model, "Model to export (safetensors)")->type_name("FILE");
    sub->add_option("--onnx", o->onnx, "ONNX file to write")->type_name("FILE")->required();
    sub->add_option("--input", o->input,
                    "Input the graph takes: float32 (pixel byte/255, in [0,1]) or uint8 (raw pixel bytes)")
        ->check(CLI::IsMember({"float32", "uint8"}));
    sub->add_flag("--json", o->json, "Print the summary as one JSON object");
    return [o] { return run_export(*o); };
}

}  // namespace mnistnn::cli
