// End-to-end tests of the mnistnn executable: train on real and tiny data, error paths, exit codes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mnistnn/model_file.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

using test::read_text;
using test::run_cli;
using test::TempDir;
using test::tiny_csv;
using test::write_text;

std::string real_train_csv() { return test::source_path("data/train.csv"); }

TEST(CliTrain, RealDataReachesSixtyPercentIn200Iterations) {
    ASSERT_TRUE(std::filesystem::exists(real_train_csv()))
        << real_train_csv() << " is missing: run scripts/fetch-mnist.sh (scripts/bootstrap.sh does) first";
    TempDir dir;
    const auto r = run_cli("train --data '" + real_train_csv() + "' --iters 200 --json", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("iters"), 200);
    EXPECT_EQ(j.at("train_rows"), 59000);
    EXPECT_EQ(j.at("holdout_rows"), 1000);
    EXPECT_GE(j.at("holdout_accuracy").get<double>(), 0.60);
    EXPECT_EQ(j.at("model"), "model.safetensors");
    for (const char* key : {"seconds", "train_accuracy", "loss"}) EXPECT_TRUE(j.contains(key)) << key;
    // The log: iterations 0 and 100 on stderr, nothing but JSON on stdout.
    EXPECT_NE(r.err.find("iter     0"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("iter   100"), std::string::npos) << r.err;
    const Model m = load_model(dir.file("model.safetensors"));
    EXPECT_EQ(m.params.hidden(), 10);
    EXPECT_EQ(m.metadata.at("data_rows"), "60000");
    EXPECT_EQ(m.metadata.at("iters"), "200");
}

TEST(CliTrain, TinyDataHumanSummaryAndMetadata) {
    TempDir dir;
    write_text(dir.file("tiny.csv"), tiny_csv(200));
    const auto r = run_cli("train --data tiny.csv --holdout 50 --iters 300 --log-every 100 --seed 3", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("holdout accuracy"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("iter   200"), std::string::npos) << r.err;
    const Model m = load_model(dir.file("model.safetensors"));
    EXPECT_EQ(m.metadata.at("seed"), "3");
    EXPECT_EQ(m.metadata.at("holdout"), "50");
    EXPECT_EQ(m.metadata.at("alpha"), "0.1");
    EXPECT_EQ(m.metadata.at("activation"), "relu");
    EXPECT_EQ(m.metadata.at("train_rows"), "150");
    EXPECT_EQ(m.metadata.at("data_fingerprint").rfind("fnv1a64:", 0), 0u);
    EXPECT_TRUE(std::filesystem::path(m.metadata.at("data_path")).is_absolute());
    EXPECT_GE(std::stod(m.metadata.at("holdout_accuracy")), 0.9);
}

TEST(CliTrain, MissingDataSaysHowToFetch) {
    TempDir dir;
    const auto r = run_cli("train --iters 1", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("data/train.csv"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("scripts/fetch-mnist.sh"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir.file("model.safetensors")));
}

TEST(CliTrain, DivergenceWritesNothingAndKeepsOldModel) {
    TempDir dir;
    write_text(dir.file("tiny.csv"), tiny_csv(100));
    ASSERT_EQ(run_cli("train --data tiny.csv --holdout 10 --iters 5", dir.path()).exit_code, 0);
    const std::string before = read_text(dir.file("model.safetensors"));
    const auto r = run_cli("train --data tiny.csv --holdout 10 --iters 50 --alpha 1e30", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("diverged at iteration"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("smaller --alpha"), std::string::npos) << r.err;
    EXPECT_EQ(read_text(dir.file("model.safetensors")), before);
}

TEST(CliTrain, RejectsBadArguments) {
    TempDir dir;
    write_text(dir.file("tiny.csv"), tiny_csv(20));
    struct Case {
        std::string args;
        std::string expected;
    };
    const Case cases[] = {
        {"--alpha 0", "finite number > 0"},
        {"--alpha -1", "finite number > 0"},
        {"--alpha nan", "finite number > 0"},
        {"--alpha inf", "finite number > 0"},
        {"--iters -5", "--iters"},
        {"--holdout 20", "at most 19"},
        {"--hidden 0", "--hidden"},
        {"--activation tanh", "--activation"},
        {"--model tiny.csv", "same file"},
        {"--model missing-dir/m.safetensors", "does not exist"},
    };
    for (const auto& c : cases) {
        const auto r = run_cli("train --data tiny.csv --iters 1 " + c.args, dir.path());
        EXPECT_NE(r.exit_code, 0) << c.args;
        EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.args << " → " << r.err;
        EXPECT_EQ(r.err.find("300"), r.err.find("3000")) << "no 300-digit bounds: " << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("model.safetensors")));
}

TEST(CliTrain, UnlabelledDataIsRefused) {
    TempDir dir;
    std::string csv = tiny_csv(5);
    // Drop the label column: header and every row lose their first field.
    std::istringstream in(csv);
    std::ostringstream out;
    for (std::string line; std::getline(in, line);) out << line.substr(line.find(',') + 1) << '\n';
    write_text(dir.file("unlabelled.csv"), out.str());
    const auto r = run_cli("train --data unlabelled.csv --holdout 1 --iters 1", dir.path());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("no label column"), std::string::npos) << r.err;
}

TEST(CliConvert, IdxToCsvRoundTrip) {
    TempDir dir;
    // Two 28×28 images and their labels in IDX form.
    std::string images = std::string("\x00\x00\x08\x03", 4) + std::string("\x00\x00\x00\x02", 4) +
                         std::string("\x00\x00\x00\x1c", 4) + std::string("\x00\x00\x00\x1c", 4);
    for (int i = 0; i < 2 * 784; ++i) images += static_cast<char>(i % 256);
    std::string labels = std::string("\x00\x00\x08\x01", 4) + std::string("\x00\x00\x00\x02", 4) + "\x07\x03";
    write_text(dir.file("img.idx"), images);
    write_text(dir.file("lab.idx"), labels);
    const auto r = run_cli("convert --images img.idx --labels lab.idx --out out.csv", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string csv = read_text(dir.file("out.csv"));
    EXPECT_EQ(csv.rfind("label,pixel0,pixel1,", 0), 0u);
    EXPECT_NE(csv.find("\n7,0,1,2,3,"), std::string::npos);
    EXPECT_NE(csv.find("\n3,16,17,18,"), std::string::npos);  // 784 % 256 = 16
}

TEST(Cli, HelpShowsDefaultsAndUnknownCommandFails) {
    const auto help = run_cli("train --help");
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("0.1"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("model.safetensors"), std::string::npos) << help.out;
    EXPECT_NE(run_cli("frobnicate").exit_code, 0);
    EXPECT_NE(run_cli("").exit_code, 0);
}

}  // namespace
}  // namespace mnistnn
