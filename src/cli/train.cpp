// `mnistnn train`: resolve the configuration, load and split the data, train (full batch or
// mini-batch; gd, momentum or Adam), save atomically. With --resume: continue a saved model with
// its recorded configuration, split and optimizer state.
#include <atomic>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "cli.hpp"
#include "config_options.hpp"
#include "mnistnn/error.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/model_record.hpp"
#include "mnistnn/mpi_world.hpp"
#include "mnistnn/train_log.hpp"
#include "mnistnn/trainer.hpp"
#include "train_report.hpp"

namespace mnistnn::cli {
namespace {

// `train`'s options: the recorded configuration (the table's options) and the settings of this run.
struct TrainCommand {
    ConfigOptions config;
    RunSettings run;
    CLI::Option* iters = nullptr;   // to ask whether --iters / --epochs were given
    CLI::Option* epochs = nullptr;
    std::string model = kDefaultModel;
    std::string log_csv;
    bool resume = false;
    bool save_on_interrupt = false;
    bool json = false;
    bool quiet = false;

    bool steps_given() const { return iters->count() > 0 || epochs->count() > 0; }
};

// Set by SIGINT/SIGTERM; the trainer asks after every step.
std::atomic<bool> g_stop_requested{false};
// When the first stop signal came (CLOCK_MONOTONIC, ns); 0 before it.
std::atomic<std::int64_t> g_first_stop_ns{0};
// A repeat within this window is the same request delivered twice: timeout(1) signals both the
// process and its process group, and a busy process can take the two one after the other.
constexpr std::int64_t kRepeatWindowNs = 500'000'000;

std::int64_t monotonic_ns() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
    return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// The first signal asks the trainer to stop after the current step; a second one, sent later
// than the repeat window (a second Ctrl-C), kills at once with the signal's default action.
extern "C" void request_stop(int sig) {
    const std::int64_t now = monotonic_ns();
    std::int64_t first = 0;
    if (g_first_stop_ns.compare_exchange_strong(first, now)) {
        g_stop_requested.store(true);
        return;
    }
    if (now - first < kRepeatWindowNs) return;
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

// Installs the stop handler for the lifetime of the object.
class StopOnSignal {
public:
    StopOnSignal() : previous_int_(std::signal(SIGINT, request_stop)), previous_term_(std::signal(SIGTERM, request_stop)) {}
    ~StopOnSignal() {
        std::signal(SIGINT, previous_int_);
        std::signal(SIGTERM, previous_term_);
    }
    StopOnSignal(const StopOnSignal&) = delete;
    StopOnSignal& operator=(const StopOnSignal&) = delete;

private:
    void (*previous_int_)(int);
    void (*previous_term_)(int);
};

std::string absolute_path(const std::string& path) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(path, ec);
    return ec ? path : abs.lexically_normal().string();
}

void check_run_options(const TrainCommand& o) {
    if (o.iters->count() > 0 && o.epochs->count() > 0)
        throw UsageError("give --iters (steps) or --epochs (passes over the data), not both");
    if (!o.log_csv.empty() && o.run.log_every == 0)
        throw UsageError("--log-csv needs --log-every N >= 1 (it writes one row per logged step)");
}

std::optional<Model> load_resumed_model(const TrainCommand& o) {
    if (!o.resume) return std::nullopt;
    std::error_code ec;
    if (!std::filesystem::exists(o.model, ec))
        throw IoError("cannot resume: model '" + o.model + "' not found (train one first, or pass --model FILE)");
    return load_model(o.model);
}

void check_outputs(const TrainCommand& o, const TrainConfig& config) {
    for (const std::string& input : {config.data_path, config.labels_path}) {
        if (input.empty()) continue;
        check_output_path(o.model, input, "model");
        if (!o.log_csv.empty()) check_output_path(o.log_csv, input, "log CSV");
    }
    if (!o.log_csv.empty() &&
        std::filesystem::path(o.log_csv).lexically_normal() == std::filesystem::path(o.model).lexically_normal())
        throw UsageError("--log-csv '" + o.log_csv + "' is the model file");
}

// The data, split into the rows to train on and the rows held out.
struct TrainData {
    Images train;
    Images holdout;
    double load_seconds = 0.0;  // reading and parsing the data file(s), as before the split
};

TrainData load_and_split(TrainConfig& config, bool resumed) {
    ModelData data = load_config_data(config, resumed ? DataUse::Resume : DataUse::Reuse);
    require_labels(data.all, data.path, "training needs labelled data");
    return {gather_rows(data.all, data.split.train), gather_rows(data.all, data.split.holdout), data.load_seconds};
}

// Where training starts: fresh weights, or the saved model's weights, optimizer state and plan.
struct Start {
    Params params;
    TrainState state;
    TrainingRecord record;  // the saved model's (train_seconds so far, created_by, plan)
    RunSettings run;        // with iters set to finish a saved plan when no length was given
};

Start init_or_restore(const TrainCommand& o, const TrainConfig& config, const std::optional<Model>& saved) {
    Start start{Params{}, TrainState{}, TrainingRecord{}, o.run};
    start.record.created_by = std::string("mnistnn ") + kVersion;
    if (!saved) {
        start.params = init_params(config.hidden, config.activation, config.init, config.seed);
        return start;
    }
    start.params = saved->params;
    start.record = record_from_model(*saved);
    if (start.record.created_by.empty()) start.record.created_by = std::string("mnistnn ") + kVersion;
    start.state.step = start.record.steps;
    start.state.optimizer = optimizer_state_from_tensors(config.optimizer.kind, config.hidden, saved->extra_tensors,
                                                         start.state.step);
    if (!o.steps_given()) {
        // Finish the recorded plan (e.g. after an interrupt saved with --save-on-interrupt).
        if (start.record.planned_steps <= start.state.step) {
            throw UsageError("model '" + o.model + "' has completed its planned " +
                             std::to_string(start.record.planned_steps) +
                             " steps; give --iters N or --epochs E for how many more to run");
        }
        start.run.iters = start.record.planned_steps - start.state.step;
        start.run.epochs = 0;
    }
    return start;
}

std::int64_t steps_to_run(const RunSettings& run, std::int64_t spe) {
    return run.epochs > 0 ? run.epochs * spe : run.iters;
}

// The ranks of this job: one process, or mpirun's ranks (rank 0 alone reports and writes files).
struct Ranks {
    bool root = true;
    int count = 1;
    GradientTransport* transport = nullptr;
};

Ranks job_ranks() {
    MpiWorld* world = MpiWorld::active();
    if (world == nullptr || world->size() == 1) return {};
    if (world->transport() == nullptr)
        throw UsageError("started by mpirun with " + std::to_string(world->size()) +
                         " ranks, but this mnistnn was built without MPI (configure with -DMNISTNN_MPI=ON)");
    return {world->root(), world->size(), world->transport()};
}

TrainResult train_with_console(const TrainCommand& o, TrainConfig& config, const TrainData& data, Start& start,
                               const Ranks& ranks) {
    TrainOptions options;
    static_cast<TrainConfig&>(options) = config;
    static_cast<RunSettings&>(options) = start.run;
    // A cosine schedule reaches 0 at the end of this run: a resumed run that finishes the plan
    // keeps the recorded horizon, and one given more steps stretches it (as before the table).
    options.lr_total_steps = 0;
    if ((o.quiet && o.log_csv.empty()) || !ranks.root) options.log_every = 0;  // a log costs an evaluation
    ConsoleSettings shown;
    shown.mini_batch = steps_per_epoch(data.train.rows, config.batch_size) > 1;
    shown.show_lr = config.lr_decay != LrDecay::None;
    shown.quiet = o.quiet || !ranks.root;
    shown.interactive = ranks.root && stderr_is_terminal();
    shown.keep_entries = !o.log_csv.empty() && ranks.root;
    ConsoleObserver observer(std::cerr, shown, &g_stop_requested);
    StopOnSignal stop_on_signal;
    const TrainResult result =
        train_network(start.params, data.train, data.holdout, options, start.state, &observer, ranks.transport);
    if (config.lr_decay == LrDecay::Cosine) config.lr_total_steps = result.lr_total_steps;
    if (!o.log_csv.empty() && ranks.root) write_train_log_csv(o.log_csv, observer.entries());
    return result;
}

TrainingRecord make_record(const Start& start, const TrainResult& result, std::int64_t planned, std::size_t rows) {
    TrainingRecord r = start.record;
    r.steps = result.total_steps;
    r.planned_steps = planned;
    r.steps_per_epoch = result.steps_per_epoch;
    r.epochs = result.epochs;
    r.train_rows = rows;
    r.loss = result.loss;
    r.train_accuracy = result.train_accuracy;
    r.holdout_accuracy = result.holdout_accuracy;
    r.holdout_loss = result.holdout_loss;
    r.train_seconds = start.record.train_seconds + result.loop_seconds;
    r.interrupted = result.interrupted;
    return r;
}

}  // namespace

int run_train(const TrainCommand& o) {
    const Ranks ranks = job_ranks();
    check_run_options(o);
    const std::optional<Model> saved = load_resumed_model(o);
    TrainConfig config = saved ? resolve_resumed_config(o.config, config_from_model(*saved)) : resolve_config(o.config);
    check_outputs(o, config);
    const TrainData data = load_and_split(config, saved.has_value());

    Start start = init_or_restore(o, config, saved);
    const std::int64_t to_run = steps_to_run(start.run, steps_per_epoch(data.train.rows, config.batch_size));
    const std::int64_t first = start.state.step;
    if (ranks.root) {
        print_banner(config, data.train.rows, data.holdout.rows, start.run, to_run, first, saved ? o.model : "");
        if (ranks.count > 1)
            std::cerr << "data-parallel over " << ranks.count << " MPI ranks; rank 0 writes the model\n";
    }
    const TrainResult result = train_with_console(o, config, data, start, ranks);

    const std::string progress = std::to_string(result.iterations) + " of " + std::to_string(to_run) + " iterations";
    if (result.interrupted && !o.save_on_interrupt) {
        throw InterruptedError("interrupted after " + progress + "; no model written (" + o.model +
                               " is unchanged; use --save-on-interrupt to keep partial training)");
    }
    if (!ranks.root) {
        if (result.interrupted) throw InterruptedError("interrupted");  // rank 0 says what it kept
        return 0;
    }
    TrainConfig recorded = config;
    recorded.data_path = absolute_path(config.data_path);
    if (!config.labels_path.empty()) recorded.labels_path = absolute_path(config.labels_path);
    const TrainingRecord record = make_record(start, result, first + to_run, data.train.rows);
    save_model(o.model, make_model(start.params, recorded, record,
                                   optimizer_state_tensors(config.optimizer.kind, start.state.optimizer)));

    print_result({result, config, start.run, o.model, data.train.rows, data.holdout.rows, data.load_seconds,
                  saved.has_value()},
                 o.json);
    if (result.interrupted) {
        throw InterruptedError("interrupted after " + progress + "; saved the partial model to " + o.model +
                               " (continue with --resume)");
    }
    return 0;
}

Command add_train(CLI::App& app) {
    auto o = std::make_shared<TrainCommand>();
    CLI::App* sub =
        app.add_subcommand("train", "Train the network (full-batch or mini-batch; gd, momentum or Adam) and save it");
    add_config_options(*sub, o->config);
    sub->add_option("--model", o->model, "Where to write the trained model (safetensors); with --resume, also read");
    o->iters = sub->add_option("--iters", o->run.iters, "Steps (gradient updates) to run; with --resume, how many more")
                   ->check(CLI::Range(0LL, 100000000LL));
    o->epochs = sub->add_option("--epochs", o->run.epochs,
                                "Train for this many passes over the training rows instead of --iters (default 0: use "
                                "--iters); with --resume, how many more")
                    ->check(CLI::Range(1LL, 10000000LL));
    sub->add_option("--log-every", o->run.log_every,
                    "Log every N steps, with the held-out loss and accuracy (0: no per-step log)")
        ->check(CLI::Range(0, 100000000));
    sub->add_option("--log-csv", o->log_csv,
                    "Also write the logged steps to this CSV (step,epoch,seconds,loss,train_accuracy,"
                    "holdout_accuracy,holdout_loss)");
    sub->add_option("--threads", o->run.threads, "Worker threads (0: all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--resume", o->resume,
                  "Continue training the --model file with its recorded data split, settings and optimizer state");
    sub->add_flag("--save-on-interrupt", o->save_on_interrupt,
                  "On Ctrl-C, save the model trained so far (default: save nothing)");
    sub->add_flag("--json", o->json, "Print the result as one JSON object on stdout");
    sub->add_flag("-q,--quiet", o->quiet, "No per-step log and no progress line");
    return [o] { return run_train(*o); };
}

}  // namespace mnistnn::cli
