#pragma once
// TrainConfig's table as command-line options: one option per settable field, with its default,
// its check and its help, and the resolution of what was given into a TrainConfig (fresh, or on
// resume against the configuration a saved model recorded).
#include <map>
#include <string>

#include "cli.hpp"
#include "mnistnn/train_config.hpp"

namespace mnistnn::cli {

// The table's options as the user gave them (text, checked by the field while parsing).
struct ConfigOptions {
    std::map<std::string, std::string> text;      // setting name → text given
    std::map<std::string, CLI::Option*> options;  // setting name → its option

    bool given(const std::string& name) const;
};

// The configuration a fresh `train` starts from: the table's defaults, and the CLI's data file.
TrainConfig default_config();

// Adds one option per settable field of the table to `sub`, storing into `out`.
void add_config_options(CLI::App& sub, ConfigOptions& out);

// The configuration of a new training: the defaults with every given option applied. Refuses
// (UsageError) an option given where it does not apply, e.g. --momentum with --optimizer adam.
TrainConfig resolve_config(const ConfigOptions& given);

// The configuration a saved model recorded. An option given as well must repeat the recorded
// value; a different one is refused (UsageError), as is one that does not apply to the recorded
// setup. The data file may be named anew (--data): its identity is checked when it is loaded.
TrainConfig resolve_resumed_config(const ConfigOptions& given, const TrainConfig& recorded);

}  // namespace mnistnn::cli
