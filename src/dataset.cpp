#include "mnistnn/dataset.hpp"

#include <algorithm>
#include <string>

#include "mnistnn/error.hpp"
#include "mnistnn/rng.hpp"

namespace mnistnn {

std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed) {
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    Rng rng(seed);
    for (std::size_t i = n; i > 1; --i) {
        const std::size_t j = static_cast<std::size_t>(rng.next_below(i));
        std::swap(order[i - 1], order[j]);
    }
    return order;
}

Split split_rows(std::size_t n, std::uint64_t seed, std::size_t holdout) {
    if (holdout >= n) {
        throw UsageError({"holdout"}, "{0} " + std::to_string(holdout) + " leaves no training rows: the data has " +
                                          std::to_string(n) + " rows, so {0} must be at most " +
                                          std::to_string(n == 0 ? 0 : n - 1));
    }
    std::vector<std::size_t> order = shuffled_indices(n, seed);
    Split split;
    split.holdout.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(holdout));
    split.train.assign(order.begin() + static_cast<std::ptrdiff_t>(holdout), order.end());
    return split;
}

Images gather_rows(const Images& images, const std::vector<std::size_t>& rows) {
    Images out;
    out.rows = rows.size();
    out.pixels.resize(rows.size() * kPixels);
    if (images.has_labels()) out.labels.resize(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t r = rows[k];
        std::copy_n(images.sample(r), kPixels, out.pixels.data() + k * kPixels);
        if (images.has_labels()) out.labels[k] = images.labels[r];
    }
    return out;
}

std::string data_fingerprint(const Images& images) {
    // FNV-1a over the row count, the labels, then the pixels; 64-bit.
    std::uint64_t h = 0xcbf29ce484222325ULL;
    constexpr std::uint64_t kPrime = 0x100000001b3ULL;
    auto mix_bytes = [&h](const std::uint8_t* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            h ^= p[i];
            h *= kPrime;
        }
    };
    std::uint64_t rows = images.rows;
    for (int i = 0; i < 8; ++i) {
        const auto byte = static_cast<std::uint8_t>(rows >> (8 * i));
        mix_bytes(&byte, 1);
    }
    mix_bytes(images.labels.data(), images.labels.size());
    mix_bytes(images.pixels.data(), images.pixels.size());
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "fnv1a64:";
    for (int i = 15; i >= 0; --i) out += kHex[(h >> (4 * i)) & 0xF];
    return out;
}

}  // namespace mnistnn
