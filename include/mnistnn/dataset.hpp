#pragma once
// Shuffling and splitting a digit set into training and held-out rows, and fingerprinting it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mnistnn/images.hpp"

namespace mnistnn {

// A permutation of 0..n-1 by Fisher–Yates on Rng(seed): for i = n-1 … 1 swap(p[i], p[j]),
// j uniform in [0, i]. Same result on every platform.
std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed);

struct Split {
    std::vector<std::size_t> holdout;  // the first `holdout` rows of the shuffled order
    std::vector<std::size_t> train;    // the rest, in shuffled order
};

// Throws UsageError unless 0 ≤ holdout < n (at least one training row).
Split split_rows(std::size_t n, std::uint64_t seed, std::size_t holdout);

// The rows of `images` listed in `rows`, in that order.
Images gather_rows(const Images& images, const std::vector<std::size_t>& rows);

// Content fingerprint of the parsed data (labels and pixels, not the file's bytes), so the
// same digits in CSV, gzip or IDX form match. Form: "fnv1a64:" + 16 hex digits.
std::string data_fingerprint(const Images& images);

}  // namespace mnistnn
