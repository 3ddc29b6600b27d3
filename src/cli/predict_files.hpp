#pragma once
// `mnistnn predict FILE...`: pictures of digits in, one prediction per file out (predict_files.cpp).
#include <cstdint>
#include <string>
#include <vector>

#include "mnistnn/digit_image.hpp"

namespace mnistnn::cli {

struct PictureOptions {
    std::vector<std::string> files;  // positional; "-" is stdin
    bool show = false;               // draw the normalised 28×28 in the terminal
    std::string save_dir;            // --save-normalized DIR
    std::string invert = "auto";     // yes | no | auto
    std::uint64_t max_pixels = DigitImageOptions{}.max_pixels;
};

// Classifies every file with `model_path`'s model: a line (or, with json, a JSON object) per file
// on stdout; a file that cannot be read or used is reported on stderr and the rest still run.
// Returns 0, or 1 when any file failed.
int run_predict_files(const PictureOptions& o, const std::string& model_path, bool json, bool ascii);

}  // namespace mnistnn::cli
