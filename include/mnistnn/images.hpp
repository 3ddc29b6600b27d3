#pragma once
// In-memory digit set: pixels kept as uint8 (one byte per pixel), samples are columns.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnistnn {

constexpr int kImageSide = 28;
constexpr int kPixels = kImageSide * kImageSide;  // 784
constexpr int kClasses = 10;

struct Images {
    // Column-major 784×rows: sample i is pixels[i*784 .. i*784+783], row-major 28×28 inside.
    std::vector<std::uint8_t> pixels;
    // One label 0..9 per sample; empty when the source had no labels.
    std::vector<std::uint8_t> labels;
    std::size_t rows = 0;

    bool has_labels() const { return !labels.empty(); }
    const std::uint8_t* sample(std::size_t i) const { return pixels.data() + i * kPixels; }
};

}  // namespace mnistnn
