// Helpers shared by the subcommands.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
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
        [ok, requirement](std::string& text) -> std::string {
            double value = 0.0;
            const char* end = text.data() + text.size();
            const auto [ptr, ec] = std::from_chars(text.data(), end, value);
            if (ec == std::errc::invalid_argument || ptr != end) return "'" + text + "' is not a number";
            // A well-formed number beyond a double (1e999, 1e-999) is not "not a number".
            if (ec == std::errc::result_out_of_range) {
                const bool too_large = std::isinf(std::strtod(text.c_str(), nullptr));
                return text + " is out of range (" + (too_large ? "" : "too close to 0 for a double; ") + "must be " +
                       requirement + ")";
            }
            if (!ok(value)) return std::string("must be ") + requirement + ", got " + text;
            return {};
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

std::string metadata_string(const Model& model, const std::string& key) {
    auto it = model.metadata.find(key);
    if (it == model.metadata.end()) throw ModelFormatError("model metadata has no '" + key + "'");
    return it->second;
}

long long metadata_integer(const Model& model, const std::string& key) {
    const std::string text = metadata_string(model, key);
    long long value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) {
        throw ModelFormatError("model metadata '" + key + "' is not an integer: '" + text + "'");
    }
    return value;
}

}  // namespace mnistnn::cli

namespace mnistnn::cli {

ModelData load_model_data(const Model& model) {
    ModelData data;
    data.path = metadata_string(model, "data_path");
    const auto rows = metadata_integer(model, "data_rows");
    const std::string fingerprint = metadata_string(model, "data_fingerprint");
    const auto seed = metadata_integer(model, "seed");
    const auto holdout = metadata_integer(model, "holdout");
    if (seed < 0 || holdout < 0) throw ModelFormatError("model metadata has a negative seed or holdout");
    data.all = load_data_file(data.path, metadata_string_or(model, "labels_path", ""));
    if (static_cast<long long>(data.all.rows) != rows || data_fingerprint(data.all) != fingerprint) {
        throw MismatchError("data file '" + data.path + "' has changed since the model was trained (it had " +
                            std::to_string(rows) + " rows with fingerprint " + fingerprint + ", now " +
                            std::to_string(data.all.rows) + " rows with fingerprint " + data_fingerprint(data.all) +
                            "); retrain, or evaluate another file with --data");
    }
    data.split = split_rows(data.all.rows, static_cast<std::uint64_t>(seed), static_cast<std::size_t>(holdout));
    return data;
}

std::string metadata_string_or(const Model& model, const std::string& key, const std::string& fallback) {
    auto it = model.metadata.find(key);
    return it == model.metadata.end() ? fallback : it->second;
}

}  // namespace mnistnn::cli
