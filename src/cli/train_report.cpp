// `train`'s output: banner, log and progress lines on stderr, the result on stdout.
#include "train_report.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli.hpp"
#include "mnistnn/atomic_file.hpp"
#include "mnistnn/format.hpp"

namespace mnistnn::cli {
namespace {

constexpr double kProgressInterval = 0.1;  // seconds between progress redraws (≤ 10 per second)
constexpr double kProgressDelay = 0.25;    // no progress line for runs shorter than this
constexpr const char* kClearLine = "\r\033[K";

// h:mm:ss or m:ss.
std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const auto total = static_cast<long long>(seconds + 0.5);
    char text[32];
    if (total >= 3600)
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
    else
        std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
    return text;
}

std::string progress_line(const TrainProgress& p) {
    const double done = static_cast<double>(p.step - p.first);
    const double rate = done / p.seconds;
    char line[256];
    std::snprintf(line, sizeof line, "step %lld/%lld (%.0f%%)  epoch %.2f  loss %.4f  acc %.4f  %.1f steps/s  ETA %s",
                  static_cast<long long>(p.step), static_cast<long long>(p.end),
                  100.0 * done / static_cast<double>(p.end - p.first),
                  static_cast<double>(p.step) / static_cast<double>(p.steps_per_epoch), p.loss, p.accuracy, rate,
                  format_duration(static_cast<double>(p.end - p.step) / rate).c_str());
    return line;
}

std::string optimizer_description(const OptimizerSettings& s) {
    std::string text = to_string(s.kind);
    if (s.kind == OptimizerKind::Momentum) text += " (momentum " + format_number(s.momentum) + ")";
    if (s.kind == OptimizerKind::Adam)
        text += " (beta1 " + format_number(s.beta1) + ", beta2 " + format_number(s.beta2) + ", eps " +
                format_number(s.eps) + ")";
    if (s.l2 > 0.0) text += ", l2 " + format_number(s.l2);
    return text;
}

}  // namespace

ConsoleObserver::ConsoleObserver(std::ostream& out, const ConsoleSettings& settings, const std::atomic<bool>* stop)
    : out_(out), settings_(settings), stop_(stop) {}

ConsoleObserver::~ConsoleObserver() { clear_progress(); }

void ConsoleObserver::clear_progress() {
    if (!progress_drawn_) return;
    out_ << kClearLine << std::flush;
    progress_drawn_ = false;
}

void ConsoleObserver::on_log(const TrainLogEntry& entry) {
    if (settings_.keep_entries) entries_.push_back(entry);
    if (settings_.quiet) return;
    clear_progress();
    out_ << format_log_line(entry, settings_.mini_batch, settings_.show_lr) << '\n' << std::flush;
}

void ConsoleObserver::on_step(const TrainProgress& progress) {
    if (!settings_.interactive || settings_.quiet || progress.seconds < kProgressDelay ||
        progress.seconds - last_draw_ < kProgressInterval)
        return;
    last_draw_ = progress.seconds;
    out_ << kClearLine << progress_line(progress) << std::flush;
    progress_drawn_ = true;
}

bool ConsoleObserver::stop_requested() { return stop_ != nullptr && stop_->load(); }

std::string format_log_line(const TrainLogEntry& e, bool mini_batch, bool show_lr) {
    char line[256];
    int n = std::snprintf(line, sizeof line, "iter %5lld", static_cast<long long>(e.iteration));
    auto add = [&](const char* format, auto... values) {
        if (n >= 0 && static_cast<std::size_t>(n) < sizeof line)
            n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), format, values...);
    };
    if (mini_batch) add("  epoch %6.2f", e.epoch);
    add("  loss %.4f  train_acc %.4f", e.loss, e.train_accuracy);
    if (e.has_holdout) add("  holdout_loss %.4f  holdout_acc %.4f", e.holdout_loss, e.holdout_accuracy);
    if (show_lr) add("  lr %.4g", e.learning_rate);
    add("  (%.2fs)", e.seconds);
    return line;
}

void print_banner(const TrainConfig& c, std::size_t train_rows, std::size_t holdout_rows, const RunSettings& run,
                  std::int64_t to_run, std::int64_t first_step, const std::string& resumed_from) {
    std::ostream& out = std::cerr;
    const std::int64_t spe = steps_per_epoch(train_rows, c.batch_size);
    if (resumed_from.empty()) out << "training ";
    else out << "resuming " << resumed_from << " at step " << first_step << ": ";
    out << "784-" << c.hidden << "-10 (" << to_string(c.activation) << ") on " << train_rows << " rows of "
        << c.data_path << ", holding out " << holdout_rows << "; alpha " << format_number(c.alpha);
    if (c.lr_decay != LrDecay::None) out << " (" << to_string(c.lr_decay) << " decay)";
    if (c.optimizer.kind != OptimizerKind::GD || c.optimizer.l2 > 0.0) out << ", " << optimizer_description(c.optimizer);
    if (spe > 1) out << ", batch " << c.batch_size << " (" << spe << " steps/epoch)";
    out << ", ";
    if (run.epochs > 0) out << run.epochs << (run.epochs == 1 ? " epoch = " : " epochs = ");
    out << to_run << " iterations\n";
}

void write_log_csv(const std::string& path, const std::vector<TrainLogEntry>& entries) {
    write_file_atomically(path, [&](std::ostream& out) {
        out << "step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss\n";
        for (const TrainLogEntry& e : entries) {
            out << e.iteration << ',' << format_number(e.epoch) << ',' << format_number(e.seconds) << ','
                << format_number(e.loss) << ',' << format_number(e.train_accuracy) << ',';
            if (e.has_holdout) out << format_number(e.holdout_accuracy) << ',' << format_number(e.holdout_loss);
            else out << ',';
            out << '\n';
        }
    });
}

void print_result(const TrainSummary& s, bool json) {
    const TrainResult& r = s.result;
    const double ms_per_iter = r.iterations > 0 ? 1000.0 * r.loop_seconds / static_cast<double>(r.iterations) : 0.0;
    if (json) {
        const nlohmann::json j = {{"iters", r.iterations},
                                  {"total_steps", r.total_steps},
                                  {"epochs", r.epochs},
                                  {"steps_per_epoch", r.steps_per_epoch},
                                  {"optimizer", to_string(s.config.optimizer.kind)},
                                  {"batch_size", s.config.batch_size},
                                  {"seconds", r.seconds},
                                  {"train_accuracy", r.train_accuracy},
                                  {"holdout_accuracy", r.holdout_accuracy},
                                  {"holdout_loss", r.holdout_loss},
                                  {"loss", r.loss},
                                  {"model", s.model_path},
                                  {"train_rows", s.train_rows},
                                  {"holdout_rows", s.holdout_rows},
                                  {"load_seconds", s.load_seconds},
                                  {"ms_per_iter", ms_per_iter},
                                  {"threads", s.run.threads},
                                  {"resumed", s.resumed}};
        std::cout << j.dump() << '\n';
        return;
    }
    std::printf("iterations        %lld\n", static_cast<long long>(r.iterations));
    if (s.resumed) std::printf("total steps       %lld\n", static_cast<long long>(r.total_steps));
    if (r.steps_per_epoch > 1) std::printf("epochs            %.2f\n", r.epochs);
    std::printf("seconds           %.2f\nloss              %.4f\n"
                "train accuracy    %.4f\nholdout accuracy  %.4f (%zu rows)\nmodel             %s\n",
                r.seconds, r.loss, r.train_accuracy, r.holdout_accuracy, s.holdout_rows, s.model_path.c_str());
}

}  // namespace mnistnn::cli
