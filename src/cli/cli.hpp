#pragma once
// The command-line layer: the only code that knows argv, stdout/stderr and exit codes.
//
// Each subcommand lives in its own file with its own options struct and exposes one function:
//     std::function<int()> add_<name>(CLI::App& app);
// It adds the subcommand to `app` and returns the function that runs it once argv is parsed,
// returning the exit code. Library errors propagate as exceptions to main().
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "mnistnn/dataset.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/format.hpp"  // format_number, for JSON and messages
#include "mnistnn/images.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/train_config.hpp"

namespace mnistnn::cli {

constexpr const char* kDefaultData = "data/train.csv";
constexpr const char* kDefaultModel = "model.safetensors";
constexpr const char* kVersion = "0.1.0";

using Command = std::function<int()>;

Command add_train(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_predict(CLI::App& app);
Command add_convert(CLI::App& app);
Command add_plot(CLI::App& app);
Command add_export(CLI::App& app);  // export.cpp: ONNX
Command add_serve(CLI::App& app);  // serve.cpp (links the mnistnn_serve library)

// ---- options ----------------------------------------------------------------------------------

// The command-line flag of a training setting: "lr_step_gamma" → "--lr-step-gamma",
// "data" → "--data".
std::string flag_name(const std::string& setting);

// An error message with the settings it names shown as flags (see mnistnn::Error::describe).
std::string describe(const Error& error);

// Validator for a floating-point option: refuses text that is not a number, a number beyond a
// double, and a value `ok` rejects, saying "must be <requirement>". `name` is the type in --help.
CLI::Validator number_check(const char* name, bool (*ok)(double), const char* requirement);
// Validator: a finite number > 0.
CLI::Validator positive_finite();
// Validator: refuses a leading '-' for unsigned options.
CLI::Validator non_negative_integer();

// ---- files --------------------------------------------------------------------------------------

// Loads a data file, turning "not found" into advice on how to get the data.
Images load_data_file(const std::string& path, const std::string& labels_path = "");

// Refuses (UsageError) data loaded from `path` without labels, saying why it has none: an IDX
// image file needs --labels FILE; a CSV lacks the label column (then `csv_advice` follows).
// `purpose` says what needs the labels.
void require_labels(const Images& images, const std::string& path, const std::string& purpose,
                    const std::string& csv_advice = "");

// Fails early (UsageError/IoError) when the output file's folder is missing or not writable,
// or when it is the same file as an input.
void check_output_path(const std::string& output, const std::string& input, const char* what);

// load_model, with advice instead of a bare "No such file or directory".
Model load_model_file(const std::string& path);

// True for a .png or .pgm path (case-insensitive).
bool is_image_path(const std::string& path);

// True when both paths name the same existing file.
bool same_file(const std::string& a, const std::string& b);

// ---- the data a configuration names -----------------------------------------------------------

// Why the data of a recorded configuration is loaded again; it decides the advice when the file
// no longer holds the same digits.
enum class DataUse { Resume, Reuse };

// A configuration's data file, loaded and split into its training and held-out rows.
struct ModelData {
    std::string path;
    Images all;   // every row of the data file, in file order
    Split split;  // the training / held-out rows (indices into `all`)
    double load_seconds = 0.0;  // reading and parsing the file(s) alone
};

// Loads config.data_path (and labels_path), splits it by config.seed and config.holdout. When the
// configuration records the data's identity (data_rows, data_fingerprint), refuses with
// MismatchError a file that differs; otherwise fills the identity in.
ModelData load_config_data(TrainConfig& config, DataUse use);

// ---- the terminal -----------------------------------------------------------------------------

// True when stderr / stdout is a terminal.
bool stderr_is_terminal();
bool stdout_is_terminal();
// Colour allowed on stdout: a terminal, NO_COLOR unset (any value disables), TERM not "dumb".
bool colour_allowed();

}  // namespace mnistnn::cli
