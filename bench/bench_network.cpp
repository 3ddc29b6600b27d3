// The fused training iteration: BatchEngine::gradients (forward + backward over uint8 data)
// on 59,000 synthetic columns, for H ∈ {10, 64, 256} and threads ∈ {1, 2}.
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

#include <ctime>
#include <exception>

#include "bench_common.hpp"
#include "mnistnn/network.hpp"

namespace {

using namespace mnistnn;
using mnistnn::bench::floor_seconds;
using mnistnn::bench::iteration_flops;

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void BM_Gradients(benchmark::State& state) {
    const int hidden = static_cast<int>(state.range(0));
    const int threads = static_cast<int>(state.range(1));
    const auto& data = mnistnn::bench::shared_training_digits();
    const std::size_t m = data.rows;
    double cpu_seconds = 0.0;
    try {
        const Params params = init_params(hidden, Activation::ReLU, Init::Uniform, 1);
        BatchEngine engine(hidden, threads);
        Gradients grads(hidden);
        // One untimed call so first-touch page faults of the scratch buffers are not measured.
        engine.gradients(params, data.pixels.data(), data.labels.data(), m, grads);
        const double cpu_start = process_cpu_seconds();
        for (auto _ : state) {
            BatchTotals totals = engine.gradients(params, data.pixels.data(), data.labels.data(), m, grads);
            benchmark::DoNotOptimize(totals);
            benchmark::DoNotOptimize(grads.dW1.data());
            benchmark::ClobberMemory();
        }
        cpu_seconds = process_cpu_seconds() - cpu_start;
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
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

BENCHMARK(BM_Gradients)
    ->ArgNames({"H", "threads"})
    ->ArgsProduct({{10, 64, 256}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
