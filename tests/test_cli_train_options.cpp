// End-to-end tests of `mnistnn train`'s training options: mini-batch, optimizers, schedules, --resume,
// --log-csv, and the validation of every new flag.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mnistnn/model_file.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

using test::read_text;
using test::run_cli;
using test::TempDir;
using test::tiny_csv;
using test::write_text;

bool same_tensor(const Tensor& a, const Tensor& b) {
    return a.shape == b.shape && a.values.size() == b.values.size() &&
           std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0;
}

// Every tensor of the two files (parameters and optimizer state) byte for byte.
void expect_same_tensors(const std::string& a_path, const std::string& b_path) {
    const SafetensorsFile a = read_safetensors(a_path), b = read_safetensors(b_path);
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (const auto& [name, tensor] : a.tensors) {
        ASSERT_EQ(b.tensors.count(name), 1u) << name;
        EXPECT_TRUE(same_tensor(tensor, b.tensors.at(name))) << name << " differs";
    }
}

class TrainOptionsCli : public ::testing::Test {
protected:
    void SetUp() override { write_text(dir.file("tiny.csv"), tiny_csv(120)); }
    test::RunResult train(const std::string& args) { return run_cli("train --data tiny.csv --holdout 20 " + args, dir.path()); }
    TempDir dir;
};

TEST_F(TrainOptionsCli, InvalidValuesAreRejectedWithClearMessages) {
    struct Case {
        std::string args;
        std::string expected;
    };
    const Case cases[] = {
        {"--batch-size -1", "--batch-size"},
        {"--batch-size abc", "--batch-size"},
        {"--epochs 0", "--epochs"},
        {"--epochs -3", "--epochs"},
        {"--epochs 2", "not both"},
        {"--optimizer sgdx", "--optimizer"},
        {"--optimizer adam --beta1 1.0", "in [0, 1)"},
        {"--optimizer adam --beta2 -0.1", "in [0, 1)"},
        {"--optimizer adam --beta2 nan", "in [0, 1)"},
        {"--optimizer adam --eps 0", "finite number > 0"},
        {"--optimizer adam --eps inf", "finite number > 0"},
        {"--optimizer momentum --momentum 1.5", "in [0, 1)"},
        {"--optimizer momentum --momentum x", "not a number"},
        {"--l2 -1", "finite number >= 0"},
        {"--l2 inf", "finite number >= 0"},
        {"--lr-decay foo", "--lr-decay"},
        {"--lr-decay step", "needs --lr-step-every"},
        {"--lr-decay step --lr-step-every 0", "--lr-step-every"},
        {"--lr-decay step --lr-step-every 5 --lr-step-gamma 0", "in (0, 1]"},
        {"--lr-decay step --lr-step-every 5 --lr-step-gamma 1.5", "in (0, 1]"},
        {"--lr-step-every 5", "--lr-step-every only applies to --lr-decay step"},
        {"--lr-step-every 5 --lr-step-gamma 0.5", "--lr-step-every and --lr-step-gamma only apply to --lr-decay step"},
        {"--momentum 0.5", "only applies to --optimizer momentum"},
        {"--optimizer momentum --beta1 0.5", "only applies to --optimizer adam"},
        {"--log-csv log.csv --log-every 0", "--log-csv needs --log-every"},
        {"--log-csv missing-dir/log.csv", "does not exist"},
        {"--resume --model missing.safetensors", "cannot resume: model 'missing.safetensors' not found"},
    };
    for (const auto& c : cases) {
        const auto r = train("--iters 1 " + c.args);
        EXPECT_NE(r.exit_code, 0) << c.args;
        EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.args << " → " << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("model.safetensors")));
    // Usage errors found after parsing exit with 2, like the others.
    EXPECT_EQ(train("--epochs 2 --iters 10").exit_code, 2);
    EXPECT_EQ(train("--iters 1 --lr-decay step").exit_code, 2);
}

TEST_F(TrainOptionsCli, HelpShowsTheNewOptionsWithDefaults) {
    const auto help = run_cli("train --help");
    ASSERT_EQ(help.exit_code, 0);
    for (const char* text : {"--batch-size", "--epochs", "--optimizer", "--momentum", "--beta1", "--beta2", "--eps",
                             "--l2", "--lr-decay", "--lr-step-every", "--lr-step-gamma", "--resume", "--log-csv",
                             "0.999", "1e-08", "gd"})
        EXPECT_NE(help.out.find(text), std::string::npos) << text << "\n" << help.out;
}

TEST_F(TrainOptionsCli, MiniBatchAdamRecordsEverySettingInTheMetadata) {
    const auto r = train("--hidden 16 --init he --batch-size 32 --epochs 3 --optimizer adam --alpha 0.005 "
                         "--beta1 0.85 --l2 0.0001 --lr-decay cosine --seed 4 --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("iters"), 12);  // 100 training rows in batches of 32: 4 steps per epoch
    EXPECT_EQ(j.at("steps_per_epoch"), 4);
    EXPECT_EQ(j.at("epochs"), 3.0);
    EXPECT_EQ(j.at("optimizer"), "adam");
    EXPECT_EQ(j.at("batch_size"), 32);
    EXPECT_NE(r.err.find("batch 32 (4 steps/epoch), 3 epochs = 12 iterations"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("epoch   0.00"), std::string::npos) << r.err;
    const Model m = load_model(dir.file("model.safetensors"));
    const std::pair<const char*, const char*> expected[] = {
        {"optimizer", "adam"}, {"batch_size", "32"},   {"beta1", "0.85"},        {"beta2", "0.999"},
        {"eps", "1e-08"},      {"l2", "1e-04"},        {"lr_decay", "cosine"},   {"lr_total_steps", "12"},
        {"alpha", "0.005"},    {"steps", "12"},        {"iters", "12"},          {"epochs", "3"},
        {"seed", "4"},         {"init", "he"},         {"hidden", "16"},         {"planned_steps", "12"},
        {"steps_per_epoch", "4"}};
    for (const auto& [key, value] : expected) {
        ASSERT_EQ(m.metadata.count(key), 1u) << key;
        EXPECT_EQ(m.metadata.at(key), value) << key;
    }
    EXPECT_EQ(m.metadata.count("momentum"), 0u);
    for (const char* name : {"opt.m.W1", "opt.m.b1", "opt.m.W2", "opt.m.b2", "opt.v.W1", "opt.v.b1", "opt.v.W2",
                             "opt.v.b2"})
        EXPECT_EQ(m.extra_tensors.count(name), 1u) << name;
    EXPECT_GE(j.at("holdout_accuracy").get<double>(), 0.9);
}

TEST_F(TrainOptionsCli, DefaultRunStoresNoOptimizerState) {
    const auto r = train("--iters 5");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const Model m = load_model(dir.file("model.safetensors"));
    EXPECT_TRUE(m.extra_tensors.empty());
    EXPECT_EQ(m.metadata.at("optimizer"), "gd");
    EXPECT_EQ(m.metadata.at("batch_size"), "0");
    EXPECT_EQ(m.metadata.at("lr_decay"), "none");
    EXPECT_EQ(m.metadata.at("iters"), "5");
}

TEST_F(TrainOptionsCli, ResumeEqualsOneUninterruptedRun) {
    struct Case {
        std::string name;
        std::string options;
    };
    const Case cases[] = {
        {"full-batch gd", "--hidden 12 --seed 2"},
        {"mini-batch adam", "--hidden 12 --seed 2 --batch-size 24 --optimizer adam --alpha 0.003 --l2 0.001"},
        {"mini-batch momentum, step decay",
         "--hidden 12 --seed 2 --batch-size 32 --optimizer momentum --alpha 0.02 --lr-decay step --lr-step-every 7"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        ASSERT_EQ(train(c.options + " --iters 50 --model whole.safetensors").exit_code, 0);
        ASSERT_EQ(train(c.options + " --iters 20 --model part.safetensors").exit_code, 0);
        // Resume: no setup options needed (they come from the model); repeating them unchanged is fine.
        const auto r = run_cli("train --resume --model part.safetensors --iters 30 --json", dir.path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.err.find("resuming part.safetensors at step 20"), std::string::npos) << r.err;
        const auto j = nlohmann::json::parse(r.out);
        EXPECT_EQ(j.at("iters"), 30);
        EXPECT_EQ(j.at("total_steps"), 50);
        EXPECT_EQ(j.at("resumed"), true);
        expect_same_tensors(dir.file("part.safetensors"), dir.file("whole.safetensors"));
        const Model m = load_model(dir.file("part.safetensors"));
        EXPECT_EQ(m.metadata.at("steps"), "50");
        EXPECT_EQ(m.metadata.at("iters"), "50");
    }
    // Repeating a recorded option with its recorded value is accepted.
    const auto again = run_cli("train --resume --model part.safetensors --iters 1 --batch-size 32 --hidden 12 "
                               "--optimizer momentum --data tiny.csv",
                               dir.path());
    EXPECT_EQ(again.exit_code, 0) << again.err;
}

TEST_F(TrainOptionsCli, ResumeWithEpochsRunsThatManyMoreEpochs) {
    ASSERT_EQ(train("--batch-size 30 --epochs 2 --optimizer adam --alpha 0.003 --model a.safetensors").exit_code, 0);
    ASSERT_EQ(train("--batch-size 30 --epochs 5 --optimizer adam --alpha 0.003 --model b.safetensors").exit_code, 0);
    const auto r = run_cli("train --resume --model a.safetensors --epochs 3 --json", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("iters"), 12);  // 100 rows / 30: 4 steps per epoch
    expect_same_tensors(dir.file("a.safetensors"), dir.file("b.safetensors"));
}

TEST_F(TrainOptionsCli, ResumeRefusesChangedSetupAndChangedData) {
    ASSERT_EQ(train("--hidden 12 --batch-size 24 --optimizer adam --alpha 0.003 --iters 10").exit_code, 0);
    const std::string before = read_text(dir.file("model.safetensors"));
    struct Case {
        std::string args;
        std::string expected;
        int exit_code;
    };
    const Case cases[] = {
        {"--hidden 16", "--hidden 16 differs from the model's recorded 12", 2},
        {"--seed 5", "--seed 5 differs from the model's recorded 0", 2},
        {"--holdout 10", "--holdout 10 differs", 2},
        {"--activation sigmoid", "--activation sigmoid differs", 2},
        {"--optimizer gd", "--optimizer gd differs from the model's recorded adam", 2},
        {"--batch-size 0", "--batch-size 0 differs", 2},
        {"--alpha 0.1", "--alpha 0.1 differs", 2},
        {"--beta2 0.99", "--beta2 0.99 differs", 2},
        {"--momentum 0.5", "only applies to --optimizer momentum (the model was trained with --optimizer adam)", 2},
        {"--lr-decay cosine", "--lr-decay cosine differs", 2},
        {"--epochs 1", "not both", 2},
        {"--data other.csv", "cannot resume: data file 'other.csv' is not the data the model was trained on", 1},
    };
    write_text(dir.file("other.csv"), tiny_csv(120, 1));
    for (const auto& c : cases) {
        const auto r = run_cli("train --resume --iters 5 " + c.args, dir.path());
        EXPECT_EQ(r.exit_code, c.exit_code) << c.args << " → " << r.err;
        EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.args << " → " << r.err;
    }
    // The recorded data file changed on disk since training: refused too.
    write_text(dir.file("tiny.csv"), tiny_csv(120, 3));
    const auto changed = run_cli("train --resume --iters 5", dir.path());
    EXPECT_EQ(changed.exit_code, 1);
    EXPECT_NE(changed.err.find("is not the data the model was trained on"), std::string::npos) << changed.err;
    EXPECT_NE(changed.err.find("fingerprint"), std::string::npos) << changed.err;
    EXPECT_EQ(read_text(dir.file("model.safetensors")), before);
}

TEST_F(TrainOptionsCli, ResumeWithoutStepsFinishesThePlanOrAsks) {
    ASSERT_EQ(train("--iters 10").exit_code, 0);
    const auto r = run_cli("train --resume", dir.path());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("has completed its planned 10 steps; give --iters N or --epochs E"), std::string::npos)
        << r.err;
}

TEST_F(TrainOptionsCli, InterruptSavedWithSaveOnInterruptThenResumedEqualsUninterrupted) {
    const std::string setup = "--hidden 32 --batch-size 20 --optimizer adam --alpha 0.001 --iters 20000 --log-every 0";
    // SIGINT after 0.5 s: the trainer stops after the current step and saves (exit 130).
    const auto part = run_cli("train --data tiny.csv --holdout 20 " + setup + " --save-on-interrupt --model part.safetensors",
                              dir.path(), "timeout --preserve-status -s INT 0.5");
    if (part.exit_code == 0) GTEST_SKIP() << "training finished before the interrupt";
    ASSERT_EQ(part.exit_code, 130) << part.err;
    EXPECT_NE(part.err.find("saved the partial model to part.safetensors (continue with --resume)"), std::string::npos)
        << part.err;
    const Model saved = load_model(dir.file("part.safetensors"));
    EXPECT_EQ(saved.metadata.at("interrupted"), "true");
    EXPECT_EQ(saved.metadata.at("planned_steps"), "20000");
    // --resume without --iters finishes the recorded plan.
    const auto rest = run_cli("train --resume --model part.safetensors --json", dir.path());
    ASSERT_EQ(rest.exit_code, 0) << rest.err;
    const auto j = nlohmann::json::parse(rest.out);
    EXPECT_EQ(j.at("total_steps"), 20000);
    EXPECT_EQ(j.at("iters").get<long long>(), 20000 - std::stoll(saved.metadata.at("steps")));
    ASSERT_EQ(train(setup + " --model whole.safetensors").exit_code, 0);
    expect_same_tensors(dir.file("part.safetensors"), dir.file("whole.safetensors"));
    EXPECT_EQ(load_model(dir.file("part.safetensors")).metadata.at("interrupted"), "false");
}

// Runs `mnistnn <args>` in the background with its stderr in err.log; once it prints its
// "training …" banner, waits `settle` seconds, sends SIGINT, waits `gap` seconds and sends SIGINT
// again. Returns the exit status (130 for both a stopped run and one killed by SIGINT) and err.log.
std::pair<int, std::string> signal_twice(const TempDir& dir, const std::string& args, const char* settle,
                                         const char* gap) {
    const std::string wrap = std::string("sh -c 'exec \"$0\" \"$@\" 2>err.log & pid=$!; ") +
                             "until grep -q \"^training \" err.log 2>/dev/null; do sleep 0.02; done; sleep " +
                             settle + "; kill -INT $pid; sleep " + gap + "; kill -INT $pid; wait $pid'";
    const auto r = run_cli(args, dir.path(), wrap);
    return {r.exit_code, read_text(dir.file("err.log")) + r.err};
}

// timeout(1) sends its signal to the process and to its process group, and a busy trainer can take
// the two one after the other. That is one request to stop, not a second Ctrl-C that kills.
TEST_F(TrainOptionsCli, ASignalDeliveredTwiceInQuickSuccessionStillSaves) {
    // Full-batch steps of 2,980 rows at H = 2048 take long enough (a tenth of a second or more)
    // that the second signal, 20 ms after the first, lands while the step is still running.
    write_text(dir.file("wide.csv"), tiny_csv(3000));
    const auto [status, err] = signal_twice(dir,
                                            "train --data wide.csv --holdout 20 --hidden 2048 --iters 1000 "
                                            "--log-every 0 --save-on-interrupt --model twice.safetensors",
                                            "0.2", "0.02");
    ASSERT_EQ(status, 130) << err;
    EXPECT_NE(err.find("saved the partial model to twice.safetensors (continue with --resume)"), std::string::npos)
        << err;
    EXPECT_EQ(load_model(dir.file("twice.safetensors")).metadata.at("interrupted"), "true");
}

// A second Ctrl-C, later than the repeat window (0.5 s), kills at once: nothing is written.
TEST_F(TrainOptionsCli, ASecondSignalHalfASecondLaterKillsAtOnce) {
    // One full-batch step of 7,980 rows at H = 4096 on one thread is about 150 GFLOP: over half a
    // second even at a core's full AVX-512 peak, so the step is still running at the second signal.
    write_text(dir.file("big.csv"), tiny_csv(8000));
    const auto [status, err] = signal_twice(dir,
                                            "train --data big.csv --holdout 20 --hidden 4096 --threads 1 --iters 10 "
                                            "--log-every 0 --save-on-interrupt --model killed.safetensors",
                                            "0", "0.6");
    EXPECT_EQ(status, 130) << err;
    EXPECT_EQ(err.find("interrupted after"), std::string::npos) << "killed by the signal, not stopped\n" << err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("killed.safetensors")));
}

TEST_F(TrainOptionsCli, LogCsvHasTheHeaderAndOneRowPerLoggedStep) {
    const auto r = train("--batch-size 25 --epochs 4 --optimizer momentum --alpha 0.02 --log-every 3 "
                         "--log-csv curves.csv -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find("iter "), std::string::npos) << "--quiet: no log lines\n" << r.err;
    const std::string csv = read_text(dir.file("curves.csv"));
    std::istringstream in(csv);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "step,epoch,seconds,loss,train_accuracy,holdout_accuracy,holdout_loss");
    std::vector<std::string> rows;
    while (std::getline(in, line)) rows.push_back(line);
    ASSERT_EQ(rows.size(), 6u) << csv;  // 16 steps, logged at 0, 3, 6, 9, 12, 15
    for (std::size_t i = 0; i < rows.size(); ++i) {
        std::vector<std::string> fields;
        std::istringstream row(rows[i]);
        for (std::string f; std::getline(row, f, ',');) fields.push_back(f);
        ASSERT_EQ(fields.size(), 7u) << rows[i];
        EXPECT_EQ(fields[0], std::to_string(3 * i));
        EXPECT_DOUBLE_EQ(std::stod(fields[1]), 3.0 * static_cast<double>(i) / 4.0);
        for (std::size_t k = 2; k < 7; ++k) EXPECT_NO_THROW(std::stod(fields[k])) << rows[i];
    }
    // Without held-out rows the holdout columns are empty.
    const auto no_holdout =
        run_cli("train --data tiny.csv --holdout 0 --iters 3 --log-every 1 --log-csv plain.csv", dir.path());
    ASSERT_EQ(no_holdout.exit_code, 0) << no_holdout.err;
    const std::string plain = read_text(dir.file("plain.csv"));
    EXPECT_NE(plain.find("\n2,2,"), std::string::npos) << plain;
    EXPECT_EQ(plain.back(), '\n');
    EXPECT_NE(plain.find(",,\n"), std::string::npos) << plain;
}

TEST_F(TrainOptionsCli, HoldoutFiguresAppearInTheLogLines) {
    const auto r = train("--iters 3 --log-every 1");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("iter     2  loss "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("holdout_loss "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("holdout_acc "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << "stderr is not a terminal: no progress line";
}


TEST_F(TrainOptionsCli, RegularizationAndAugmentationOptionsAreValidated) {
    struct Case {
        std::string args;
        std::string expected;
    };
    const Case cases[] = {
        {"--dropout 1", "--dropout"},
        {"--dropout -0.1", "--dropout"},
        {"--label-smoothing 1", "--label-smoothing"},
        {"--augment rotate --batch-size 10", "--augment"},
        {"--augment elastic", "--augment needs mini-batches"},
        {"--augment affine --batch-size 100", "mini-batch"},  // 100 = the training rows: full batch
        {"--augment elastic --batch-size 10 --elastic-sigma -4", "--elastic-sigma"},
        {"--augment elastic --batch-size 10 --elastic-sigma 0", "--elastic-sigma"},
        {"--augment elastic --batch-size 10 --elastic-alpha -1", "--elastic-alpha"},
        {"--augment affine --batch-size 10 --rotate 200", "--rotate"},
        {"--augment affine --batch-size 10 --scale 1", "--scale"},
        {"--augment affine --batch-size 10 --translate 20", "--translate"},
        {"--batch-size 10 --rotate 5", "--rotate only applies to --augment affine or elastic"},
        {"--augment affine --batch-size 10 --elastic-sigma 5", "--elastic-sigma only applies to --augment elastic"},
    };
    for (const auto& c : cases) {
        const auto r = train("--iters 1 " + c.args);
        EXPECT_NE(r.exit_code, 0) << c.args;
        EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.args << " → " << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("model.safetensors")));
}

TEST_F(TrainOptionsCli, AugmentedDropoutRunResumesExactlyAndRecordsItsSettings) {
    const std::string options = "--hidden 12 --seed 3 --batch-size 16 --optimizer adam --alpha 0.003 --dropout 0.25 "
                                "--label-smoothing 0.1 --augment elastic --rotate 8 --shear 0.2 --elastic-sigma 5";
    ASSERT_EQ(train(options + " --iters 14 --threads 2 --model whole.safetensors").exit_code, 0);
    ASSERT_EQ(train(options + " --iters 5 --threads 1 --model part.safetensors").exit_code, 0);
    const auto r = run_cli("train --resume --model part.safetensors --iters 9 --threads 1", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_same_tensors(dir.file("part.safetensors"), dir.file("whole.safetensors"));
    const Model m = load_model(dir.file("part.safetensors"));
    EXPECT_EQ(m.metadata.at("dropout"), "0.25");
    EXPECT_EQ(m.metadata.at("label_smoothing"), "0.1");
    EXPECT_EQ(m.metadata.at("augment"), "elastic");
    EXPECT_EQ(m.metadata.at("rotate"), "8");
    EXPECT_EQ(m.metadata.at("shear"), "0.2");
    EXPECT_EQ(m.metadata.at("elastic_sigma"), "5");
    EXPECT_EQ(m.metadata.at("elastic_alpha"), "38");  // the default
    const std::string before = read_text(dir.file("part.safetensors"));
    for (const char* changed : {"--dropout 0.5", "--augment affine", "--elastic-sigma 4", "--rotate 9",
                                "--label-smoothing 0"}) {
        const auto refused = run_cli(std::string("train --resume --model part.safetensors --iters 1 ") + changed, dir.path());
        EXPECT_EQ(refused.exit_code, 2) << changed;
        EXPECT_NE(refused.err.find("differs from the model's recorded"), std::string::npos) << changed << " → " << refused.err;
    }
    EXPECT_EQ(read_text(dir.file("part.safetensors")), before);
}

}  // namespace
}  // namespace mnistnn

namespace mnistnn {
namespace {

// Models written by the version before the training-configuration table (commit 9c7cd5f), with
// what that version printed and wrote for them: eval, predict and --resume must not change.
class LegacyModels : public ::testing::TestWithParam<const char*> {
protected:
    static std::string fixture(const std::string& name) { return test::legacy_fixture(name); }
    test::TempDir dir;
};

TEST_P(LegacyModels, EvalAndPredictGiveTheSameResults) {
    const std::string name = GetParam();
    const auto eval = test::run_cli("eval --model " + fixture(name + ".safetensors") + " --data " + fixture("tiny.csv") +
                                    " --json");
    ASSERT_EQ(eval.exit_code, 0) << eval.err;
    EXPECT_EQ(nlohmann::json::parse(eval.out), nlohmann::json::parse(test::read_text(fixture(name + "-eval.json"))));
    const auto predict = test::run_cli("predict --model " + fixture(name + ".safetensors") + " --data " +
                                       fixture("tiny.csv") + " --index 17 --json");
    ASSERT_EQ(predict.exit_code, 0) << predict.err;
    nlohmann::json got = nlohmann::json::parse(predict.out);
    nlohmann::json want = nlohmann::json::parse(test::read_text(fixture(name + "-predict17.json")));
    // The split is known only where the model's recorded data path is this checkout's.
    got.erase("split");
    want.erase("split");
    EXPECT_EQ(got, want);
}

TEST_P(LegacyModels, ResumeIsBitIdenticalToTheOldVersion) {
    const std::string name = GetParam();
    std::filesystem::copy_file(fixture(name + ".safetensors"), dir.file("m.safetensors"));
    const auto r = test::run_cli("train --resume --model m.safetensors --iters 7 -q --data " + fixture("tiny.csv"),
                                 dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_same_tensors(dir.file("m.safetensors"), fixture(name + "-resumed-7.safetensors"));
    const SafetensorsFile now = read_safetensors(dir.file("m.safetensors"));
    const SafetensorsFile then = read_safetensors(fixture(name + "-resumed-7.safetensors"));
    for (const auto& [key, value] : then.metadata) {
        if (key == "train_seconds" || key == "data_path") continue;  // a clock, and this checkout's path
        ASSERT_EQ(now.metadata.count(key), 1u) << key;
        EXPECT_EQ(now.metadata.at(key), value) << key;
    }
    EXPECT_EQ(now.metadata.size(), then.metadata.size());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LegacyModels, ::testing::Values("full", "adam", "momentum"));

}  // namespace
}  // namespace mnistnn
