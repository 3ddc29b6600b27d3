// Helpers shared by the subcommands.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "cli.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/loader.hpp"

namespace mnistnn::cli {

namespace fs = std::filesystem;

CLI::Validator number_check(const char* name, bool (*ok)(double), const char* requirement) {
    return CLI::Validator(
        [ok, requirement](std::string& text) {
            double value = 0.0;
            return parse_real(text, value, ok, requirement);
        },
        name);
}

CLI::Validator positive_finite() {
    return number_check("POSITIVE", [](double v) { return std::isfinite(v) && v > 0.0; }, "a finite number > 0");
}

CLI::Validator non_negative_integer() {
    // Unsigned options would otherwise wrap "-1" around to 18446744073709551615.
    return CLI::Validator(
        [](std::string& text) -> std::string {
            if (!text.empty() && text[0] == '-') return "must be a whole number >= 0, got " + text;
            return {};
        },
        "N>=0");
}

Images load_data_file(const std::string& path, const std::string& labels_path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        std::string hint = path == kDefaultData || fs::path(path).filename() == "train.csv" ||
                                   fs::path(path).filename() == "test.csv"
                               ? "; run scripts/fetch-mnist.sh to download MNIST into data/, or pass --data FILE"
                               : "";
        throw IoError("data file '" + path + "' not found" + hint);
    }
    return load_images(path, labels_path);
}

void require_labels(const Images& images, const std::string& path, const std::string& purpose,
                    const std::string& csv_advice) {
    if (images.has_labels()) return;
    // Only on this error path is the file's kind asked again: an IDX image file never holds labels,
    // so the fix is its label file, not a label column.
    if (data_file_kind(path) == DataFileKind::IdxImages) {
        throw UsageError("'" + path + "' is an IDX image file, which holds no labels: " + purpose +
                         "; give its IDX label file with --labels FILE");
    }
    throw UsageError("'" + path + "' has no label column (pixel0,… only): " + purpose + csv_advice);
}

void check_output_path(const std::string& output, const std::string& input, const char* what) {
    if (output.empty()) throw UsageError(std::string(what) + " path is empty");
    const fs::path out(output);
    std::error_code ec;
    if (!input.empty() && fs::exists(out, ec) && fs::exists(input, ec) && fs::equivalent(out, fs::path(input), ec)) {
        throw UsageError(std::string(what) + " '" + output + "' is the same file as the input '" + input +
                         "'; writing it would destroy the input");
    }
    if (!input.empty() && out.lexically_normal() == fs::path(input).lexically_normal()) {
        throw UsageError(std::string(what) + " '" + output + "' is the same file as the input '" + input + "'");
    }
    if (fs::is_directory(out, ec)) throw UsageError(std::string(what) + " '" + output + "' is a directory");
    fs::path folder = out.parent_path();
    if (folder.empty()) folder = ".";
    if (!fs::is_directory(folder, ec)) {
        throw IoError("cannot write " + std::string(what) + " '" + output + "': folder '" + folder.string() +
                      "' does not exist");
    }
    if (::access(folder.c_str(), W_OK) != 0) {
        throw IoError("cannot write " + std::string(what) + " '" + output + "': folder '" + folder.string() +
                      "' is not writable (" + std::strerror(errno) + ")");
    }
}

Model load_model_file(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        throw IoError("model file '" + path + "' not found; train one with `mnistnn train` or pass --model FILE");
    }
    return load_model(path);
}

bool is_image_path(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".png" || ext == ".pgm";
}

bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    return !a.empty() && !b.empty() && fs::equivalent(a, b, ec) && !ec;
}

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }
bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

bool colour_allowed() {
    if (std::getenv("NO_COLOR") != nullptr) return false;
    const char* term = std::getenv("TERM");
    if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
    return stdout_is_terminal();
}

std::string flag_name(const std::string& setting) {
    const std::string name = setting == "data_path" ? "data" : setting == "labels_path" ? "labels" : setting;
    std::string flag = "--" + name;
    std::replace(flag.begin(), flag.end(), '_', '-');
    return flag;
}

std::string describe(const Error& error) { return error.describe(flag_name); }

ModelData load_config_data(TrainConfig& config, DataUse use) {
    ModelData data;
    data.path = config.data_path;
    const auto start = std::chrono::steady_clock::now();
    data.all = load_data_file(config.data_path, config.labels_path);
    data.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string fingerprint = data_fingerprint(data.all);
    if (config.data_fingerprint.empty()) {
        config.data_rows = data.all.rows;
        config.data_fingerprint = fingerprint;
    } else if (data.all.rows != config.data_rows || fingerprint != config.data_fingerprint) {
        const std::string was = std::to_string(config.data_rows) + " rows with fingerprint " + config.data_fingerprint +
                                ", now " + std::to_string(data.all.rows) + " rows with fingerprint " + fingerprint;
        if (use == DataUse::Resume) {
            throw MismatchError("cannot resume: data file '" + data.path + "' is not the data the model was trained on (" +
                                was + "); resume with the original data, or train a new model");
        }
        throw MismatchError("data file '" + data.path + "' has changed since the model was trained (it had " + was +
                            "); retrain, or evaluate another file with --data");
    }
    data.split = split_rows(data.all.rows, config.seed, config.holdout);
    return data;
}

}  // namespace mnistnn::cli
