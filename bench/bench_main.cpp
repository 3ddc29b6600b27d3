// Entry point of mnistnn_bench: Google Benchmark's main plus context lines that say what the
// derived counters are measured against.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
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

#if defined(__x86_64__)
// Twelve independent chains of 256-bit FMAs, held in registers (the bench itself may be built
// without -march=native, hence the target attribute). Returns FLOPs per CPU-second.
__attribute__((target("avx2,fma"))) double fma_chains_flops() {
#define MNISTNN_ACC(i) __m256 a##i = _mm256_set1_ps(1.0f + static_cast<float>(i) * 1e-7f);
    MNISTNN_ACC(0) MNISTNN_ACC(1) MNISTNN_ACC(2) MNISTNN_ACC(3) MNISTNN_ACC(4) MNISTNN_ACC(5)
    MNISTNN_ACC(6) MNISTNN_ACC(7) MNISTNN_ACC(8) MNISTNN_ACC(9) MNISTNN_ACC(10) MNISTNN_ACC(11)
    const __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-8f);
    constexpr long kRounds = 20000000;
    timespec start{}, end{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    for (long r = 0; r < kRounds; ++r) {
#define MNISTNN_FMA(i) a##i = _mm256_fmadd_ps(a##i, b, c);
        MNISTNN_FMA(0) MNISTNN_FMA(1) MNISTNN_FMA(2) MNISTNN_FMA(3) MNISTNN_FMA(4) MNISTNN_FMA(5)
        MNISTNN_FMA(6) MNISTNN_FMA(7) MNISTNN_FMA(8) MNISTNN_FMA(9) MNISTNN_FMA(10) MNISTNN_FMA(11)
        __asm__("" : "+x"(a0), "+x"(a6));
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                     _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(_mm256_add_ps(a6, a7),
                                     _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)))));
    volatile float keep = _mm256_cvtss_f32(sum);
    (void)keep;
    const double seconds = static_cast<double>(end.tv_sec - start.tv_sec) + 1e-9 * static_cast<double>(end.tv_nsec - start.tv_nsec);
    return static_cast<double>(kRounds) * 12 * 8 * 2 / seconds;
#undef MNISTNN_ACC
#undef MNISTNN_FMA
}
#endif

double measured_core_peak_flops() {
    // The best of three tries (a try that loses its core's caches or frequency reads low).
    static const double peak = [] {
        double best = 0.0;
#if defined(__x86_64__)
        for (int i = 0; i < 3; ++i) best = std::max(best, fma_chains_flops());
#endif
        return best;
    }();
    return peak;
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
    benchmark::AddCustomContext("mnistnn.measured_core_peak_gflops",
                                std::to_string(measured_core_peak_flops() / 1e9) +
                                    " (this machine, one core, 8-lane fp32 FMA, thread CPU time)");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
