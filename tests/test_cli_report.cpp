// The CLI layer's own pieces: log and progress lines (moved here from the trainer, which now
// reports through events), flag names, and the binding of TrainConfig's table to options.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "config_options.hpp"
#include "train_report.hpp"

namespace mnistnn::cli {
namespace {

TrainLogEntry entry(std::int64_t step, bool holdout) {
    TrainLogEntry e;
    e.iteration = step;
    e.epoch = 8.0;
    e.loss = 0.123456;
    e.train_accuracy = 0.5;
    e.seconds = 1.5;
    e.has_holdout = holdout;
    e.holdout_loss = 0.25;
    e.holdout_accuracy = 0.75;
    e.learning_rate = 0.001234;
    return e;
}

TEST(LogLine, FullBatchKeepsTheNotebooksFormat) {
    EXPECT_EQ(format_log_line(entry(0, false), false, false), "iter     0  loss 0.1235  train_acc 0.5000  (1.50s)");
}

TEST(LogLine, MiniBatchShowsEpochHoldoutAndRate) {
    EXPECT_EQ(format_log_line(entry(32, true), true, true),
              "iter    32  epoch   8.00  loss 0.1235  train_acc 0.5000  holdout_loss 0.2500  holdout_acc 0.7500  "
              "lr 0.001234  (1.50s)");
}

TrainProgress progress(std::int64_t step, double seconds) {
    TrainProgress p;
    p.step = step;
    p.first = 0;
    p.end = 400;
    p.steps_per_epoch = 4;
    p.loss = 0.5;
    p.accuracy = 0.9;
    p.seconds = seconds;
    return p;
}

TEST(ConsoleObserver, InteractiveProgressLineIsRedrawnThrottledAndCleared) {
    std::ostringstream out;
    {
        ConsoleSettings s;
        s.interactive = true;
        ConsoleObserver observer(out, s, nullptr);
        observer.on_step(progress(1, 0.1));   // before the first 0.25 s: nothing
        EXPECT_EQ(out.str(), "");
        observer.on_step(progress(100, 0.3));
        observer.on_step(progress(101, 0.35));  // within 0.1 s of the last draw: skipped
        observer.on_log(entry(100, false));
        observer.on_step(progress(200, 0.6));
    }
    const std::string text = out.str();
    EXPECT_EQ(text.rfind("\r\033[Kstep 100/400 (25%)  epoch 25.00  loss 0.5000  acc 0.9000  333.3 steps/s  ETA 0:01", 0),
              0u)
        << text;
    EXPECT_EQ(text.find("step 101/"), std::string::npos) << text;
    // A log line starts on a cleared line; the last thing written clears the progress line.
    EXPECT_NE(text.find("\r\033[Kiter   100  loss"), std::string::npos) << text;
    EXPECT_NE(text.find("step 200/400"), std::string::npos) << text;
    EXPECT_EQ(text.substr(text.size() - 4), "\r\033[K");
}

TEST(ConsoleObserver, NotATerminalOrQuietMeansNoProgressLine) {
    std::ostringstream plain, quiet;
    ConsoleSettings s;
    ConsoleObserver a(plain, s, nullptr);
    a.on_step(progress(100, 1.0));
    a.on_log(entry(100, false));
    EXPECT_EQ(plain.str(), "iter   100  loss 0.1235  train_acc 0.5000  (1.50s)\n");
    s.quiet = true;
    s.interactive = true;
    s.keep_entries = true;
    ConsoleObserver b(quiet, s, nullptr);
    b.on_step(progress(100, 1.0));
    b.on_log(entry(100, false));
    EXPECT_EQ(quiet.str(), "");
    EXPECT_EQ(b.entries().size(), 1u) << "--log-csv still gets its rows under --quiet";
}

TEST(ConsoleObserver, StopsWhenAsked) {
    std::atomic<bool> stop{false};
    std::ostringstream out;
    ConsoleObserver observer(out, ConsoleSettings{}, &stop);
    EXPECT_FALSE(observer.stop_requested());
    stop = true;
    EXPECT_TRUE(observer.stop_requested());
}

TEST(Flags, SettingsBecomeFlags) {
    EXPECT_EQ(flag_name("lr_step_gamma"), "--lr-step-gamma");
    EXPECT_EQ(flag_name("data"), "--data");
    EXPECT_EQ(flag_name("data_path"), "--data");
    EXPECT_EQ(flag_name("labels_path"), "--labels");
    const ConfigError e({"lr_decay", "lr_step_every"}, "{0} step needs {1} N");
    EXPECT_EQ(describe(e), "--lr-decay step needs --lr-step-every N");
}

// Parses `args` as `train`'s table options.
struct Parsed {
    CLI::App app;
    ConfigOptions options;
    explicit Parsed(std::vector<std::string> args) {
        add_config_options(app, options);
        std::reverse(args.begin(), args.end());
        app.parse(args);
    }
};

TEST(ConfigOptions, EveryOptionOfTheTableWithItsDefault) {
    Parsed p({});
    const std::string help = p.app.help();
    for (const ConfigField& f : train_config_fields()) {
        const bool shown = help.find(flag_name(f.name)) != std::string::npos;
        EXPECT_EQ(shown, f.option) << f.name;
    }
    EXPECT_NE(help.find("1e-08"), std::string::npos) << help;
    const TrainConfig c = resolve_config(p.options);
    EXPECT_EQ(c.data_path, kDefaultData);
    EXPECT_EQ(c.hidden, 10);
}

TEST(ConfigOptions, GivenValuesAreParsedAndCheckedByTheTable) {
    Parsed p({"--optimizer", "adam", "--beta2", "0.99", "--hidden", "64", "--seed", "7"});
    const TrainConfig c = resolve_config(p.options);
    EXPECT_EQ(c.optimizer.kind, OptimizerKind::Adam);
    EXPECT_EQ(c.optimizer.beta2, 0.99);
    EXPECT_EQ(c.hidden, 64);
    EXPECT_EQ(c.seed, 7u);
    try {
        Parsed bad({"--beta2", "1.5"});
        ADD_FAILURE();
    } catch (const CLI::ValidationError& e) {
        EXPECT_NE(std::string(e.what()).find("--beta2: must be in [0, 1), got 1.5"), std::string::npos) << e.what();
    }
}

std::string usage_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const UsageError& e) {
        return describe(e);
    }
    return "(no error)";
}

TEST(ConfigOptions, OptionsThatDoNotApplyAreRefusedTogether) {
    Parsed p({"--lr-step-every", "5", "--lr-step-gamma", "0.5", "--momentum", "0.5"});
    const std::string message = usage_error([&] { resolve_config(p.options); });
    EXPECT_TRUE(message == "--lr-step-every and --lr-step-gamma only apply to --lr-decay step" ||
                message == "--momentum only applies to --optimizer momentum")
        << message;
    Parsed step({"--lr-decay", "step"});
    EXPECT_EQ(usage_error([&] { resolve_config(step.options); }),
              "--lr-decay step needs --lr-step-every N (the steps between decays)");
}

TEST(ConfigOptions, ResumeKeepsTheRecordAndRefusesChanges) {
    TrainConfig recorded = default_config();
    recorded.hidden = 12;
    recorded.optimizer.kind = OptimizerKind::Adam;
    recorded.data_fingerprint = "fnv1a64:0000000000000000";
    Parsed same({"--hidden", "12", "--optimizer", "adam"});
    EXPECT_EQ(resolve_resumed_config(same.options, recorded).hidden, 12);
    Parsed other({"--hidden", "16"});
    EXPECT_EQ(usage_error([&] { resolve_resumed_config(other.options, recorded); }),
              "--hidden 16 differs from the model's recorded 12; --resume continues the recorded setup (leave "
              "--hidden out, or train a new model without --resume)");
    Parsed momentum({"--momentum", "0.5"});
    EXPECT_EQ(usage_error([&] { resolve_resumed_config(momentum.options, recorded); }),
              "--momentum only applies to --optimizer momentum (the model was trained with --optimizer adam)");
    Parsed data({"--data", "elsewhere.csv"});
    const TrainConfig moved = resolve_resumed_config(data.options, recorded);
    EXPECT_EQ(moved.data_path, "elsewhere.csv");
    EXPECT_EQ(moved.data_fingerprint, recorded.data_fingerprint) << "the identity is still checked on load";
}

}  // namespace
}  // namespace mnistnn::cli
