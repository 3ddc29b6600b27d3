#pragma once
// The metadata schema of a trained model: its TrainConfig (through the config table) plus the
// record of its training (steps taken and planned, scores, time). Model files can read their
// own settings back with config_from_model().
#include <cstdint>
#include <map>
#include <string>

#include "mnistnn/model_file.hpp"
#include "mnistnn/train_config.hpp"

namespace mnistnn {

struct TrainingRecord {
    std::int64_t steps = 0;          // updates applied so far (global)
    std::int64_t planned_steps = 0;  // where the run that wrote the model meant to stop
    std::int64_t steps_per_epoch = 1;
    double epochs = 0.0;
    std::uint64_t train_rows = 0;
    double loss = 0.0;  // mean cross-entropy on the training rows
    double train_accuracy = 0.0;
    double holdout_accuracy = 0.0;
    double holdout_loss = 0.0;
    double train_seconds = 0.0;  // training-loop time over every run that led to this model
    bool interrupted = false;
    std::string created_by;      // "mnistnn 0.1.0": the version that started the training
};

// A model holding `params`, the optimizer state tensors, and the metadata of both records.
Model make_model(const Params& params, const TrainConfig& config, const TrainingRecord& record,
                 std::map<std::string, Tensor> optimizer_tensors);

// True when the model records how it was trained (its data file); a model built by other means
// may hold parameters only.
bool has_training_record(const Model& model);

// The model's TrainConfig: the recorded fields (config_from_metadata), hidden and activation from
// its parameters. Throws ModelFormatError naming a missing or malformed key.
TrainConfig config_from_model(const Model& model);

// The model's TrainingRecord. Models written before a key existed get: steps from "iters",
// planned_steps = steps, train_seconds 0. Throws ModelFormatError for a malformed value.
TrainingRecord record_from_model(const Model& model);

}  // namespace mnistnn
