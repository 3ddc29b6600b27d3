// The fused training iteration: BatchEngine::gradients (forward + backward over uint8 data)
// on 59,000 columns, for H ∈ {10, 64, 256} and threads ∈ {1, 2}:
//   BM_Gradients       synthetic digits with randomly scattered zeros, so almost no 16-pixel
//                      vector is all zero: the engine does (nearly) every dense FLOP.
//   BM_GradientsMnist  the first 59,000 rows of the real CSV (as BM_LoadCsv finds it): the
//                      engine skips the 42% of pixel vectors that are blank, so GFLOPS counts
//                      the dense FLOPs it made unnecessary (effective, not executed, FLOP/s).
//
// Counters: items_per_second = training columns per second; GFLOPS = iteration_flops / time
// (real time, since the engine runs worker threads); floor_frac = physical floor / time, i.e.
// the fraction of the machine's limit reached (1.0 = at the floor).
//
// The machine is shared, so wall time suffers when other processes run. Two counters come from
// the process's CPU time instead (all threads), which waiting for a core does not inflate:
// cpu_ms_per_thread = CPU ms per iteration ÷ threads (≈ the wall time on an idle machine with
// perfect scaling) and GFLOPS_cpu = FLOPs per CPU-second (throughput of one busy core).
// The CPU column is the process's CPU time (MeasureProcessCPUTime), all threads summed.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <string>

#include "bench_common.hpp"
#include "mnistnn/loader.hpp"
#include "mnistnn/network.hpp"

#ifndef MNISTNN_BENCH_DEFAULT_CSV
#define MNISTNN_BENCH_DEFAULT_CSV "data/train.csv"
#endif

namespace {

using namespace mnistnn;
using mnistnn::bench::floor_seconds;
using mnistnn::bench::iteration_flops;

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Times BatchEngine(hidden, threads, path).gradients over the first m columns of `data`: one
// untimed call (so first-touch page faults of the scratch buffers are not measured), then one per
// benchmark iteration. Returns the process CPU seconds of the timed loop, or a negative value after
// SkipWithError.
double time_gradients(benchmark::State& state, int hidden, int threads, EnginePath path, Init init,
                      const mnistnn::bench::SyntheticDigits& data, std::size_t m) {
    try {
        const Params params = init_params(hidden, Activation::ReLU, init, 1);
        BatchEngine engine(hidden, threads, path);
        Gradients grads(hidden);
        engine.gradients(params, data.pixels.data(), data.labels.data(), m, grads);
        const double cpu_start = process_cpu_seconds();
        for (auto _ : state) {
            BatchTotals totals = engine.gradients(params, data.pixels.data(), data.labels.data(), m, grads);
            benchmark::DoNotOptimize(totals);
            benchmark::DoNotOptimize(grads.dW1.data());
            benchmark::ClobberMemory();
        }
        return process_cpu_seconds() - cpu_start;
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return -1.0;
    }
}

void run_gradients(benchmark::State& state, const mnistnn::bench::SyntheticDigits& data) {
    const int hidden = static_cast<int>(state.range(0));
    const int threads = static_cast<int>(state.range(1));
    const std::size_t m = data.rows;
    const double cpu_seconds = time_gradients(state, hidden, threads, EnginePath::Auto, Init::Uniform, data, m);
    if (cpu_seconds < 0.0) return;
    const auto iters = static_cast<double>(state.iterations());
    state.SetItemsProcessed(state.iterations() * static_cast<benchmark::IterationCount>(m));
    state.counters["GFLOPS"] = benchmark::Counter(iters * iteration_flops(static_cast<std::size_t>(hidden), m) / 1e9,
                                                  benchmark::Counter::kIsRate);
    state.counters["floor_frac"] =
        benchmark::Counter(iters * floor_seconds(static_cast<std::size_t>(hidden), m), benchmark::Counter::kIsRate);
    if (cpu_seconds > 0.0) {
        state.counters["cpu_ms_per_thread"] = 1000.0 * cpu_seconds / iters / threads;
        state.counters["GFLOPS_cpu"] = iters * iteration_flops(static_cast<std::size_t>(hidden), m) / cpu_seconds / 1e9;
    }
}

void BM_Gradients(benchmark::State& state) { run_gradients(state, mnistnn::bench::shared_training_digits()); }

// The real digits, loaded once; rows = 0 (and the reason) when the CSV cannot be read.
struct RealDigits {
    mnistnn::bench::SyntheticDigits data;
    std::string problem;
};
const RealDigits& real_digits() {
    static const RealDigits digits = [] {
        RealDigits d;
        const char* env = std::getenv("MNISTNN_BENCH_CSV");
        const std::string path = (env != nullptr && *env != '\0') ? env : MNISTNN_BENCH_DEFAULT_CSV;
        try {
            const Images images = load_csv(path);
            const std::size_t m = std::min(mnistnn::bench::kTrainColumns, images.rows);
            d.data.rows = m;
            d.data.pixels.assign(images.pixels.begin(), images.pixels.begin() + static_cast<std::ptrdiff_t>(m * kPixels));
            d.data.labels.assign(images.labels.begin(), images.labels.begin() + static_cast<std::ptrdiff_t>(m));
        } catch (const std::exception& e) {
            d.problem = "no real digits (" + std::string(e.what()) + "; set MNISTNN_BENCH_CSV)";
        }
        return d;
    }();
    return digits;
}

void BM_GradientsMnist(benchmark::State& state) {
    const RealDigits& real = real_digits();
    if (real.data.rows == 0) {
        state.SkipWithError(real.problem.c_str());
        return;
    }
    run_gradients(state, real.data);
}

// One mini-batch step's gradients (BatchEngine::gradients on `batch` columns, as the trainer calls
// it with a gathered batch that sits in cache): the wide-network recipe's inner loop. The columns
// are the first `batch` synthetic digits (dense: nothing to skip), so GFLOPS counts executed FLOPs.
// path: 0 Auto (the wide path from H = 512), 1 Fused (the reference: the H = 10 kernels).
// Extra counters: peak_frac against the nominal 535 GFLOP/s; machine_peak_frac = GFLOPS_cpu ÷ the
// measured per-core FMA peak (measured_core_peak_flops), i.e. the FMA units' utilisation while the
// process runs, which the other tenants of a shared machine do not dilute.
void BM_MiniBatch(benchmark::State& state) {
    const int hidden = static_cast<int>(state.range(0));
    const auto batch = static_cast<std::size_t>(state.range(1));
    const int threads = static_cast<int>(state.range(2));
    const EnginePath path = state.range(3) == 1 ? EnginePath::Fused : EnginePath::Auto;
    const double cpu_seconds =
        time_gradients(state, hidden, threads, path, Init::He, mnistnn::bench::shared_training_digits(), batch);
    if (cpu_seconds < 0.0) return;
    const auto iters = static_cast<double>(state.iterations());
    const double flops = iteration_flops(static_cast<std::size_t>(hidden), batch);
    state.SetItemsProcessed(state.iterations() * static_cast<benchmark::IterationCount>(batch));
    state.counters["GFLOPS"] = benchmark::Counter(iters * flops / 1e9, benchmark::Counter::kIsRate);
    state.counters["peak_frac"] = benchmark::Counter(iters * flops / mnistnn::bench::kPeakFlopsPerSecond,
                                                     benchmark::Counter::kIsRate);
    if (cpu_seconds > 0.0) {
        state.counters["cpu_ms_per_thread"] = 1000.0 * cpu_seconds / iters / threads;
        state.counters["GFLOPS_cpu"] = iters * flops / cpu_seconds / 1e9;
        if (mnistnn::bench::measured_core_peak_flops() > 0.0)
            state.counters["machine_peak_frac"] = iters * flops / cpu_seconds / mnistnn::bench::measured_core_peak_flops();
    }
}

BENCHMARK(BM_MiniBatch)
    ->ArgNames({"H", "batch", "threads", "path"})
    ->ArgsProduct({{256, 512, 800, 1024}, {128}, {1, 2}, {0}})
    ->Args({800, 128, 1, 1})
    ->Args({800, 128, 2, 1})
    ->Unit(benchmark::kMicrosecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

BENCHMARK(BM_Gradients)
    ->ArgNames({"H", "threads"})
    ->ArgsProduct({{10, 64, 256}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

BENCHMARK(BM_GradientsMnist)
    ->ArgNames({"H", "threads"})
    ->ArgsProduct({{10, 64, 256}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
