#pragma once
// One training configuration: every setting that shapes the trained weights (architecture, init,
// seed, held-out split, data identity, batch size, optimizer, learning-rate schedule).
//
// A single table of fields (train_config_fields()) drives everything done with these settings:
// the command-line options and their defaults and checks, the model metadata written and read
// back, validation, and the comparison with a saved model on resume. Adding a recorded setting
// is one member here and one entry in the table (src/train_config.cpp), plus its use.
//
// Library messages name settings by their names ("lr_step_every") through Error's placeholders,
// so that a front end can name them its own way (the CLI says "--lr-step-every").
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mnistnn/error.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/optimizer.hpp"

namespace mnistnn {

struct TrainConfig {
    // Architecture and initialisation.
    int hidden = 10;
    Activation activation = Activation::ReLU;
    Init init = Init::Uniform;
    std::uint64_t seed = 0;  // the split, the initial weights, the mini-batch shuffles

    // Data: the file, its held-out rows, and its identity (rows and content fingerprint, filled
    // in when the data is loaded; empty until then).
    std::string data_path;
    std::string labels_path;  // IDX label file when data_path is an IDX image file
    std::uint64_t holdout = 1000;
    std::uint64_t data_rows = 0;
    std::string data_fingerprint;

    // Steps: 0 (or ≥ the training rows) is full batch.
    std::uint64_t batch_size = 0;

    // Optimizer and learning-rate schedule.
    double alpha = 0.1;
    OptimizerSettings optimizer;
    LrDecay lr_decay = LrDecay::None;
    std::int64_t lr_step_every = 0;   // step decay only
    double lr_step_gamma = 0.1;       // step decay only
    std::int64_t lr_total_steps = 0;  // cosine only: the horizon T the last run used (recorded)
};

// Settings of one run only: never recorded in the model, free to change on resume.
struct RunSettings {
    std::int64_t iters = 1000;  // steps to run (unless epochs > 0)
    std::int64_t epochs = 0;    // > 0: run epochs × steps_per_epoch steps instead of `iters`
    int log_every = 100;        // log at global steps 0, log_every, … (0: never)
    int threads = 0;            // 0: all hardware threads
};

// A setting that is malformed, out of range, or inconsistent with another; its message names the
// settings through Error's placeholders.
class ConfigError : public UsageError {
public:
    using UsageError::UsageError;
};

enum class FieldKind { Integer, Real, Choice, Text };

// One row of the table.
struct ConfigField {
    std::string name;         // the setting's name, e.g. "lr_step_gamma" (a front end derives its
                              // option from it: --lr-step-gamma)
    std::string key;          // its metadata key; usually the name ("data_path" for "data")
    std::string help;         // one line for --help
    FieldKind kind = FieldKind::Text;
    std::vector<std::string> choices;  // Choice only
    std::string type_name;    // how --help shows the value: "FLOAT", "N", "FILE", …
    bool option = true;       // settable by the user (false: derived, e.g. data_fingerprint)
    bool recorded = true;     // kept in the model's metadata
    bool required = false;    // a saved model must have it (keys added later may be absent)
    bool compared_on_resume = true;  // a value given on resume must equal the recorded one

    // The field only means something when another field has one of some values, e.g. momentum
    // only with optimizer momentum. Empty `when`: always.
    std::string when;
    std::vector<std::string> when_values;

    // The value as text (the metadata form: shortest round-trip numbers, names for enums).
    std::function<std::string(const TrainConfig&)> get;
    // What is wrong with `text` as this field's value ("must be in (0, 1], got 2"), or "".
    std::function<std::string(const std::string&)> check;
    // Parses `text`, checks it, and stores it; throws ConfigError naming this field.
    std::function<void(TrainConfig&, const std::string&)> set;

    bool applies(const TrainConfig& config) const;
};

// Every field, in the order --help lists them.
const std::vector<ConfigField>& train_config_fields();
// The field with this name; throws std::out_of_range for an unknown name (a programming error).
const ConfigField& train_config_field(const std::string& name);

// Checks what no single field can: settings that need each other (step decay needs
// lr_step_every). Each field's own range is checked by its set(). Throws ConfigError.
void validate(const TrainConfig& config);

// The recorded fields that apply, as metadata (key → text).
std::map<std::string, std::string> config_metadata(const TrainConfig& config);

// The inverse: every recorded field from `metadata`; a missing required key or a malformed
// value throws ModelFormatError naming the key; a missing optional key keeps its default.
// hidden and activation are not metadata (the model's tensors hold them): set them from Params.
TrainConfig config_from_metadata(const std::map<std::string, std::string>& metadata);

}  // namespace mnistnn
