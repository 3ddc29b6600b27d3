#pragma once
// What `train` shows: the banner, the log lines and the progress line (through the trainer's
// observer), and the result on stdout.
#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "mnistnn/train_config.hpp"
#include "mnistnn/trainer.hpp"

namespace mnistnn::cli {

struct ConsoleSettings {
    bool mini_batch = false;    // log lines show the epoch
    bool show_lr = false;       // log lines show the learning rate (a decay schedule is on)
    bool quiet = false;         // no log lines and no progress line
    bool interactive = false;   // draw the progress line (\r-redrawn, ≤ 10 times a second): a terminal
    bool keep_entries = false;  // keep the logged entries (for --log-csv)
};

// Log lines on `out` (unless quiet), the progress line (only when interactive), the entries kept
// for --log-csv, and a stop when *stop becomes true.
class ConsoleObserver : public TrainObserver {
public:
    ConsoleObserver(std::ostream& out, const ConsoleSettings& settings, const std::atomic<bool>* stop);
    ~ConsoleObserver() override;
    ConsoleObserver(const ConsoleObserver&) = delete;
    ConsoleObserver& operator=(const ConsoleObserver&) = delete;

    void on_log(const TrainLogEntry& entry) override;
    void on_step(const TrainProgress& progress) override;
    bool stop_requested() override;

    const std::vector<TrainLogEntry>& entries() const { return entries_; }

private:
    void clear_progress();

    std::ostream& out_;
    ConsoleSettings settings_;
    const std::atomic<bool>* stop_;
    std::vector<TrainLogEntry> entries_;
    bool progress_drawn_ = false;
    double last_draw_ = 0.0;
};

// The line a logged step prints: "iter   100  loss 0.6931  train_acc 0.8010  …  (0.52s)".
std::string format_log_line(const TrainLogEntry& e, bool mini_batch, bool show_lr);

// "training 784-10-10 (relu) on 59000 rows of data/train.csv, holding out 1000; alpha 0.1, …"
// `resumed_from` is the model file on resume ("" for a new training).
void print_banner(const TrainConfig& config, std::size_t train_rows, std::size_t holdout_rows,
                  const RunSettings& run, std::int64_t to_run, std::int64_t first_step, const std::string& resumed_from);

// Writes the logged steps as CSV (step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss).
void write_log_csv(const std::string& path, const std::vector<TrainLogEntry>& entries);

struct TrainSummary {
    const TrainResult& result;
    const TrainConfig& config;
    const RunSettings& run;
    std::string model_path;
    std::size_t train_rows = 0;
    std::size_t holdout_rows = 0;
    double load_seconds = 0.0;
    bool resumed = false;
};

// The result on stdout: aligned lines, or one JSON object.
void print_result(const TrainSummary& summary, bool json);

}  // namespace mnistnn::cli
