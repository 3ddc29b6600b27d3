#pragma once
// The command-line layer: the only code that knows argv, stdout/stderr and exit codes.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>

#include "mnistnn/format.hpp"  // format_number, for metadata, JSON and messages
#include "mnistnn/images.hpp"
#include "mnistnn/model_file.hpp"

namespace mnistnn::cli {

constexpr const char* kDefaultData = "data/train.csv";
constexpr const char* kDefaultModel = "model.safetensors";
constexpr const char* kVersion = "0.1.0";

// train options beyond the notebook's (mini-batch, optimizers, schedules, resume).
struct TrainExtras {
    long long batch_size = 0;
    int epochs = 0;
    std::string optimizer = "gd";
    double momentum = 0.9;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double l2 = 0.0;
    std::string lr_decay = "none";
    long long lr_step_every = 0;
    double lr_step_gamma = 0.1;
    bool resume = false;
    std::string log_csv;
};

// Every option of every subcommand, initialised to its default.
struct Options {
    // shared
    std::string data = kDefaultData;
    std::string labels;  // IDX label file, when --data is an IDX image file
    std::string model = kDefaultModel;
    bool json = false;
    int threads = 0;

    // train
    double alpha = 0.1;
    int iters = 1000;
    int log_every = 100;
    int hidden = 10;
    std::uint64_t seed = 0;
    std::size_t holdout = 1000;
    std::string activation = "relu";
    std::string init = "uniform";
    bool save_on_interrupt = false;
    TrainExtras train_extra;
    bool quiet = false;

    // eval
    std::size_t misclassified_count = 0;
    std::string misclassified_path;

    // predict
    long long index = -1;
    bool index_given = false;  // every long long is a valid input (negatives get the valid range)
    bool ascii = false;
    std::string image;
    std::string out;

    // plot
    std::string plot_in;
    std::string plot_out;

    // convert
    std::string images_in;
    std::string labels_in;
    std::string csv_out;

    // which of --data was given explicitly (eval/predict use the model's data otherwise)
    bool data_given = false;
};

void setup_train(CLI::App& app, Options& options);
void setup_eval(CLI::App& app, Options& options);
void setup_predict(CLI::App& app, Options& options);
void setup_convert(CLI::App& app, Options& options);
void setup_plot(CLI::App& app, Options& options);
// Adds `serve` to app; the returned function runs it after parsing and returns the exit code.
std::function<int()> add_serve(CLI::App& app);

// Each returns the process exit code; library errors propagate as exceptions to main().
int run_train(const Options& options);
int run_eval(const Options& options);
int run_predict(const Options& options);
int run_convert(const Options& options);
int run_plot(const Options& options);

// ---- helpers shared by the subcommands (common.cpp) ----

// Validator for a floating-point option (CLI11's built-in ones print 300-digit bounds): refuses
// text that is not a number, a number beyond a double (1e999), and a value `ok` rejects, saying
// "must be <requirement>". `name` is the type shown in --help.
CLI::Validator number_check(const char* name, bool (*ok)(double), const char* requirement);
// Validator: a finite number > 0.
CLI::Validator positive_finite();
// Validator: refuses a leading '-' for unsigned options.
CLI::Validator non_negative_integer();

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

// True when stderr / stdout is a terminal.
bool stderr_is_terminal();
bool stdout_is_terminal();
// Colour allowed on stdout: a terminal, NO_COLOR unset (any value disables), TERM not "dumb".
bool colour_allowed();

// load_model, with advice instead of a bare "No such file or directory".
Model load_model_file(const std::string& path);

// True for a .png or .pgm path (case-insensitive).
bool is_image_path(const std::string& path);

// True when both paths name the same existing file.
bool same_file(const std::string& a, const std::string& b);

// Metadata access with clear errors for missing or malformed keys.
std::string metadata_string(const Model& model, const std::string& key);
long long metadata_integer(const Model& model, const std::string& key);
std::string metadata_string_or(const Model& model, const std::string& key, const std::string& fallback);

}  // namespace mnistnn::cli

#include "mnistnn/dataset.hpp"

namespace mnistnn::cli {

// The data a model was trained on, reloaded and re-split exactly as at training time.
struct ModelData {
    std::string path;
    Images all;   // every row of the data file, in file order
    Split split;  // the model's training / held-out rows (indices into `all`)
};

// Reads the model's recorded data path, seed and holdout; loads the file and refuses with
// MismatchError if its row count or content fingerprint differ from the recorded ones.
ModelData load_model_data(const Model& model);

}  // namespace mnistnn::cli
