// Entry point of mnistnn_bench: Google Benchmark's main plus context lines that say what the
// derived counters are measured against.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "bench_common.hpp"

namespace mnistnn::bench {
namespace {

// xorshift64*: small, fast, and the same on every platform.
struct XorShift {
    std::uint64_t state;
    std::uint64_t next() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 0x2545F4914F6CDD1DULL;
    }
};

}  // namespace

SyntheticDigits make_synthetic_digits(std::size_t m, std::uint64_t seed) {
    SyntheticDigits d;
    d.rows = m;
    d.pixels.resize(m * 784);
    d.labels.resize(m);
    XorShift rng{seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL};
    for (std::size_t i = 0; i < d.pixels.size(); ++i) {
        const std::uint64_t r = rng.next();
        // 81% zeros (MNIST's share of blank pixels), otherwise 1..255.
        const bool blank = (r >> 32) % 100 < 81;
        d.pixels[i] = blank ? 0 : static_cast<std::uint8_t>(1 + (r >> 8) % 255);
    }
    for (std::size_t j = 0; j < m; ++j) d.labels[j] = static_cast<std::uint8_t>((rng.next() >> 33) % 10);
    return d;
}

const SyntheticDigits& shared_training_digits() {
    static const SyntheticDigits digits = make_synthetic_digits(kTrainColumns, 2024);
    return digits;
}

}  // namespace mnistnn::bench

int main(int argc, char** argv) {
    using namespace mnistnn::bench;
    benchmark::AddCustomContext("mnistnn.train_columns", std::to_string(kTrainColumns));
    benchmark::AddCustomContext("mnistnn.flops_formula", "3196*m*H per iteration (see bench/README.md)");
    benchmark::AddCustomContext("mnistnn.peak_gflops", "535 (2 Zen 5 cores, AVX-512 fp32 FMA)");
    benchmark::AddCustomContext("mnistnn.floor", "max(flops/535e9, 784*m bytes/45e9)");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
