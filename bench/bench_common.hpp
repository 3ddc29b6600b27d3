#pragma once
// Shared pieces of the microbenchmarks: deterministic synthetic digits, the FLOP model and
// the machine's physical floor (see bench/README.md for the derivation).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnistnn::bench {

// Training columns in the fused-iteration benchmarks: MNIST's 60,000 rows minus the 1,000 held out.
constexpr std::size_t kTrainColumns = 59000;

// Peak fp32 FMA throughput of the benchmark machine and the sustained memory bandwidth assumed for
// streaming X once (≈45 GB/s). 2 Zen 5 cores with AVX-512: 2 FMA pipes × 16 lanes × 2 flop ×
// ~4.2 GHz × 2 cores ≈ 535 GFLOP/s. 2 Zen 3 cores with AVX2 (8 lanes): a 12-chain FMA loop
// measures ~100 GFLOP/s per core (≈3.15 GHz), 202 GFLOP/s for both.
#if defined(__AVX512F__)
constexpr double kPeakFlopsPerSecond = 535e9;
#else
constexpr double kPeakFlopsPerSecond = 202e9;
#endif
constexpr double kStreamBytesPerSecond = 45e9;

// FLOPs of one full-batch iteration for H hidden units and m columns (multiply-adds count 2):
//   forward   2·m·(784·H + H·10)          Z1 = W1·X, Z2 = W2·A1
//   backward  2·m·(H·10)                  dW2 = dZ2·A1ᵀ
//           + 2·m·(10·H)                  dZ1 = W2ᵀ·dZ2
//           + 2·m·(H·784)                 dW1 = dZ1·Xᵀ
// = 2·m·H·(784 + 10 + 10 + 10 + 784) = 3196·m·H. Element-wise work (bias, ReLU, softmax) is not counted.
constexpr double iteration_flops(std::size_t hidden, std::size_t m) {
    const double H = static_cast<double>(hidden);
    const double M = static_cast<double>(m);
    return 2.0 * M * (784.0 * H + H * 10.0) + 2.0 * M * (H * 10.0) + 2.0 * M * (10.0 * H) + 2.0 * M * (H * 784.0);
}

// Physical floor of one iteration in seconds: the larger of the FLOPs at peak and one pass
// over X as uint8 (784 bytes per column) at stream bandwidth.
constexpr double floor_seconds(std::size_t hidden, std::size_t m) {
    const double compute = iteration_flops(hidden, m) / kPeakFlopsPerSecond;
    const double stream = 784.0 * static_cast<double>(m) / kStreamBytesPerSecond;
    return compute > stream ? compute : stream;
}

// m synthetic 28×28 digits: deterministic (fixed-seed xorshift), MNIST-like sparsity
// (≈81% zero pixels, the rest 1..255), labels uniform in 0..9. Column-major like Images.
struct SyntheticDigits {
    std::vector<std::uint8_t> pixels;  // 784·m
    std::vector<std::uint8_t> labels;  // m
    std::size_t rows = 0;
};
SyntheticDigits make_synthetic_digits(std::size_t m, std::uint64_t seed);

// This machine's fp32 FMA throughput of one core, measured (once, cached) by 12 independent chains
// of 8-lane fused multiply-adds timed with the thread's CPU time (so waiting for a core does not
// count): the reference the wide engine's counters are compared against in the same run.
double measured_core_peak_flops();

// The 59,000-column set shared by all fused-iteration benchmarks (built once).
const SyntheticDigits& shared_training_digits();

}  // namespace mnistnn::bench
