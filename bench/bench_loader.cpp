// CSV parsing: load_csv on the real training file (env MNISTNN_BENCH_CSV, default
// data/train.csv of the source tree); when that file is missing, on a synthetic 10,000-row
// CSV written to a temporary file, which the benchmark's label says.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unistd.h>

#include "bench_common.hpp"
#include "mnistnn/loader.hpp"

#ifndef MNISTNN_BENCH_DEFAULT_CSV
#define MNISTNN_BENCH_DEFAULT_CSV "data/train.csv"
#endif

namespace {

namespace fs = std::filesystem;

struct CsvSource {
    std::string path;
    std::string label;
    std::uintmax_t bytes = 0;
    bool temporary = false;

    CsvSource() = default;
    CsvSource(const CsvSource&) = delete;
    CsvSource& operator=(const CsvSource&) = delete;
    ~CsvSource() {
        if (temporary) {
            std::error_code ec;
            fs::remove(path, ec);
        }
    }
};

constexpr std::size_t kSyntheticRows = 10000;

void write_synthetic_csv(const std::string& path) {
    const auto digits = mnistnn::bench::make_synthetic_digits(kSyntheticRows, 7);
    std::ofstream out(path, std::ios::binary);
    out << "label";
    for (int p = 0; p < 784; ++p) out << ",pixel" << p;
    out << '\n';
    for (std::size_t j = 0; j < digits.rows; ++j) {
        out << static_cast<int>(digits.labels[j]);
        const std::uint8_t* px = digits.pixels.data() + j * 784;
        for (int p = 0; p < 784; ++p) out << ',' << static_cast<int>(px[p]);
        out << '\n';
    }
    if (!out) throw std::runtime_error("cannot write synthetic CSV " + path);
}

void prepare(CsvSource& s) {
    const char* env = std::getenv("MNISTNN_BENCH_CSV");
    s.path = (env != nullptr && *env != '\0') ? env : MNISTNN_BENCH_DEFAULT_CSV;
    std::error_code ec;
    if (fs::is_regular_file(s.path, ec)) {
        s.label = "real:" + s.path;
    } else {
        const std::string missing = s.path;
        s.path = (fs::temp_directory_path() / ("mnistnn-bench-" + std::to_string(::getpid()) + ".csv")).string();
        s.temporary = true;
        write_synthetic_csv(s.path);
        s.label = "SYNTHETIC 10000 rows (" + missing + " missing; set MNISTNN_BENCH_CSV)";
    }
    s.bytes = fs::file_size(s.path, ec);
}

// Prepared once; a temporary file is removed when the program exits.
const CsvSource& csv_source() {
    static CsvSource src;
    static const bool ready = (prepare(src), true);
    (void)ready;
    return src;
}

void BM_LoadCsv(benchmark::State& state) {
    std::size_t rows = 0;
    try {
        const CsvSource& src = csv_source();
        for (auto _ : state) {
            mnistnn::Images images = mnistnn::load_csv(src.path);
            rows = images.rows;
            benchmark::DoNotOptimize(images.pixels.data());
            benchmark::ClobberMemory();
        }
        state.SetBytesProcessed(state.iterations() * static_cast<benchmark::IterationCount>(src.bytes));
        state.SetLabel(src.label);
    } catch (const std::exception& e) {
        state.SkipWithError(e.what());
        return;
    }
    state.SetItemsProcessed(state.iterations() * static_cast<benchmark::IterationCount>(rows));
}

BENCHMARK(BM_LoadCsv)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
