// The metadata schema of a trained model: config fields from the table, then the training record.
#include "mnistnn/model_record.hpp"

#include <charconv>
#include <utility>

#include "mnistnn/error.hpp"
#include "mnistnn/format.hpp"

namespace mnistnn {
namespace {

using Metadata = std::map<std::string, std::string>;

const std::string* find(const Metadata& metadata, const std::string& key) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? nullptr : &it->second;
}

template <class T>
T parse_or(const Metadata& metadata, const std::string& key, T fallback) {
    const std::string* text = find(metadata, key);
    if (text == nullptr) return fallback;
    T value{};
    const char* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (text->empty() || ec != std::errc() || ptr != end)
        throw ModelFormatError("model metadata '" + key + "' is not a number: '" + *text + "'");
    return value;
}

}  // namespace

Model make_model(const Params& params, const TrainConfig& config, const TrainingRecord& record,
                 std::map<std::string, Tensor> optimizer_tensors) {
    Model model;
    model.params = params;
    model.metadata = config_metadata(config);
    Metadata& m = model.metadata;
    m["created_by"] = record.created_by;
    m["steps"] = std::to_string(record.steps);
    m["iters"] = m["steps"];  // the name before mini-batches; kept for readers of older models
    m["planned_steps"] = std::to_string(record.planned_steps);
    m["steps_per_epoch"] = std::to_string(record.steps_per_epoch);
    m["epochs"] = format_number(record.epochs);
    m["train_rows"] = std::to_string(record.train_rows);
    m["loss"] = format_number(record.loss);
    m["train_accuracy"] = format_number(record.train_accuracy);
    m["holdout_accuracy"] = format_number(record.holdout_accuracy);
    m["holdout_loss"] = format_number(record.holdout_loss);
    m["train_seconds"] = format_number(record.train_seconds);
    m["interrupted"] = record.interrupted ? "true" : "false";
    model.extra_tensors = std::move(optimizer_tensors);
    return model;
}

bool has_training_record(const Model& model) { return model.metadata.count("data_path") != 0; }

TrainConfig config_from_model(const Model& model) {
    TrainConfig config = config_from_metadata(model.metadata);
    config.hidden = model.params.hidden();
    config.activation = model.params.activation;
    return config;
}

TrainingRecord record_from_model(const Model& model) {
    const Metadata& m = model.metadata;
    TrainingRecord r;
    r.steps = parse_or<std::int64_t>(m, "steps", parse_or<std::int64_t>(m, "iters", 0));
    if (r.steps < 0) throw ModelFormatError("model metadata has a negative step count");
    r.planned_steps = parse_or<std::int64_t>(m, "planned_steps", r.steps);
    r.steps_per_epoch = parse_or<std::int64_t>(m, "steps_per_epoch", 1);
    r.epochs = parse_or<double>(m, "epochs", 0.0);
    r.train_rows = parse_or<std::uint64_t>(m, "train_rows", 0);
    r.loss = parse_or<double>(m, "loss", 0.0);
    r.train_accuracy = parse_or<double>(m, "train_accuracy", 0.0);
    r.holdout_accuracy = parse_or<double>(m, "holdout_accuracy", 0.0);
    r.holdout_loss = parse_or<double>(m, "holdout_loss", 0.0);
    r.train_seconds = parse_or<double>(m, "train_seconds", 0.0);
    const std::string* interrupted = find(m, "interrupted");
    r.interrupted = interrupted != nullptr && *interrupted == "true";
    const std::string* created_by = find(m, "created_by");
    r.created_by = created_by != nullptr ? *created_by : "";
    return r;
}

}  // namespace mnistnn
