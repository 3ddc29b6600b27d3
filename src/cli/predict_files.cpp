// `mnistnn predict FILE...`: classify pictures of digits (PNG, JPEG, PGM/PPM; `-` is stdin), each
// normalised the MNIST way by the digit_image module. One line (or JSON object) per file; a bad
// file is reported on stderr and the others are still predicted.
#include "predict_files.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "cli.hpp"
#include "mnistnn/digit_image.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/render.hpp"

namespace mnistnn::cli {
namespace {

namespace fs = std::filesystem;

// All of stdin, refused past `limit` bytes.
std::vector<std::uint8_t> read_stdin(std::uint64_t limit) {
    std::vector<std::uint8_t> bytes;
    std::array<std::uint8_t, 1 << 16> buffer{};
    for (;;) {
        const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), stdin);
        bytes.insert(bytes.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
        if (bytes.size() > limit) {
            throw ImageError("-: more than " + std::to_string(limit) + " bytes on stdin, over the limit for an image");
        }
        if (n < buffer.size()) break;
    }
    if (std::ferror(stdin)) throw IoError("cannot read stdin");
    return bytes;
}

DigitPixels load_picture(const std::string& file, const DigitImageOptions& options) {
    if (file != "-") return load_digit_image(file, options);
    const std::vector<std::uint8_t> bytes = read_stdin(options.max_file_bytes);
    return normalize_digit_image(bytes.data(), bytes.size(), "-", options);
}

// --save-normalized: DIR/<file's name without extension>.png, "-" as "stdin"; a name used twice
// in one run gets "-2", "-3", … rather than overwriting the first.
std::string normalized_path(const std::string& dir, const std::string& file, std::set<std::string>& used) {
    const std::string stem = file == "-" ? "stdin" : fs::path(file).stem().string();
    std::string name = stem + ".png";
    for (int n = 2; !used.insert(name).second; ++n) name = stem + "-" + std::to_string(n) + ".png";
    return (fs::path(dir) / name).string();
}

void print_text(const std::string& file, const Eigen::VectorXf& probabilities, int prediction) {
    std::array<int, kClasses> order{};
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return probabilities(a) > probabilities(b); });
    std::printf("%s  %d  (", file.c_str(), prediction);
    for (std::size_t k = 0; k < 3; ++k) {
        std::printf("%s%d %.2f%%", k == 0 ? "" : ", ", order[k], 100.0 * static_cast<double>(probabilities(order[k])));
    }
    std::printf(")\n");
}

void print_json(const std::string& file, const Eigen::VectorXf& probabilities, int prediction) {
    nlohmann::json probs = nlohmann::json::array();
    for (Eigen::Index k = 0; k < probabilities.size(); ++k) probs.push_back(static_cast<double>(probabilities(k)));
    std::cout << nlohmann::json{{"file", file}, {"prediction", prediction}, {"probabilities", probs}}.dump() << '\n';
}

}  // namespace

int run_predict_files(const PictureOptions& o, const std::string& model_path, bool json, bool ascii) {
    if (!o.save_dir.empty() && !fs::is_directory(o.save_dir)) {
        throw UsageError("--save-normalized '" + o.save_dir + "' is not a folder (create it first)");
    }
    if (std::count(o.files.begin(), o.files.end(), "-") > 1) throw UsageError("'-' (stdin) can be read only once");
    const Model model = load_model_file(model_path);
    DigitImageOptions options;
    options.invert = o.invert == "yes" ? Invert::Yes : o.invert == "no" ? Invert::No : Invert::Auto;
    options.max_pixels = o.max_pixels;

    std::set<std::string> saved;
    bool failed = false;
    for (const std::string& file : o.files) {
        try {
            const DigitPixels sample = load_picture(file, options);
            const Eigen::VectorXf probabilities = predict_one(model.params, sample.data());
            Eigen::Index arg = 0;
            probabilities.maxCoeff(&arg);
            const int prediction = static_cast<int>(arg);
            if (json) {
                print_json(file, probabilities, prediction);
            } else {
                print_text(file, probabilities, prediction);
            }
            if (o.show && !json) {
                const std::string drawing = colour_allowed() && !ascii ? render_halfblock(sample.data()) : render_ascii(sample.data());
                std::fwrite(drawing.data(), 1, drawing.size(), stdout);
            }
            if (!o.save_dir.empty()) {
                const std::string path = normalized_path(o.save_dir, file, saved);
                write_digit_image(path, sample.data(), 1);
                std::cerr << "wrote " << path << '\n';
            }
        } catch (const Error& e) {
            std::fflush(stdout);
            std::cerr << "mnistnn: error: " << e.what() << '\n';
            failed = true;
        }
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}

}  // namespace mnistnn::cli
