// End-to-end tests of `mnistnn eval`: held-out accuracy equal to training's, known confusion
// matrix from a hand-made model, --data, --json, --misclassified, and the error paths.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "mnistnn/dataset.hpp"
#include "mnistnn/loader.hpp"
#include "mnistnn/model_file.hpp"
#include "test_util.hpp"

namespace mnistnn {
namespace {

using test::cli_fixture;
using test::count_lines;
using test::kPngSignature;
using test::noisy_rows;
using test::read_text;
using test::Rows;
using test::run_cli;
using test::save_pixel_vote_model;
using test::TempDir;
using test::to_csv;
using test::write_text;

// The noise seed of this file's generated data (the expected figures were set on it).
constexpr std::uint32_t kNoiseSeed = 12345;

double parse_double(const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    EXPECT_EQ(*end, '\0') << text;
    return value;
}

TEST(CliEval, HeldOutAccuracyEqualsTheOneRecordedByTrain) {
    TempDir dir;
    write_text(dir.file("noisy.csv"), to_csv(noisy_rows(400, kNoiseSeed)));
    const auto t = run_cli("train --data noisy.csv --holdout 93 --iters 40 --seed 5 --json -q", dir.path());
    ASSERT_EQ(t.exit_code, 0) << t.err;
    const auto trained = nlohmann::json::parse(t.out);
    const Model m = load_model(dir.file("model.safetensors"));
    const double recorded = parse_double(m.metadata.at("holdout_accuracy"));
    EXPECT_EQ(recorded, trained.at("holdout_accuracy").get<double>());
    // A meaningful check needs a model that gets some rows wrong.
    ASSERT_GT(recorded, 0.3);
    ASSERT_LT(recorded, 1.0);

    for (const char* threads : {"1", "2", "0"}) {
        const auto r = run_cli(std::string("eval --json --threads ") + threads, dir.path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        ASSERT_EQ(count_lines(r.out), 1u) << r.out;
        const auto j = nlohmann::json::parse(r.out);
        EXPECT_EQ(j.at("split"), "holdout");
        EXPECT_EQ(j.at("rows"), 93);
        EXPECT_EQ(j.at("accuracy").get<double>(), recorded) << "threads " << threads;
        EXPECT_TRUE(std::isfinite(j.at("loss").get<double>()));
        // The confusion matrix is over the same 93 rows, and its diagonal is the correct count.
        std::size_t total = 0, diagonal = 0;
        for (std::size_t a = 0; a < 10; ++a)
            for (std::size_t b = 0; b < 10; ++b) {
                total += j.at("confusion").at(a).at(b).get<std::size_t>();
                if (a == b) diagonal += j.at("confusion").at(a).at(b).get<std::size_t>();
            }
        EXPECT_EQ(total, 93u);
        EXPECT_EQ(static_cast<double>(diagonal) / 93.0, recorded);
    }

    // Text output: the same 4-decimal accuracy train printed.
    char expected[64];
    std::snprintf(expected, sizeof expected, "accuracy          %.4f (", recorded);
    const auto text = run_cli("eval", dir.path());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find(expected), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("93 held-out rows of"), std::string::npos) << text.out;

    // Scoring the whole file: the correct count is the training rows' plus the held-out rows'.
    const auto all = run_cli("eval --json --data noisy.csv", dir.path());
    ASSERT_EQ(all.exit_code, 0) << all.err;
    const auto ja = nlohmann::json::parse(all.out);
    EXPECT_EQ(ja.at("split"), "all");
    EXPECT_EQ(ja.at("rows"), 400);
    const double train_correct = std::round(parse_double(m.metadata.at("train_accuracy")) * 307.0);
    const double holdout_correct = std::round(recorded * 93.0);
    EXPECT_EQ(std::round(ja.at("accuracy").get<double>() * 400.0), train_correct + holdout_correct);
    EXPECT_NE(all.err.find("trained on"), std::string::npos) << "note that --data is the training file: " << all.err;
}

TEST(CliEval, KnownPredictionsGiveKnownConfusionMatrixAndMetrics) {
    TempDir dir;
    save_pixel_vote_model(dir.file("vote.safetensors"));
    const auto r = run_cli("eval --json --model vote.safetensors --data '" + cli_fixture("known.csv") + "'", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(count_lines(r.out), 1u) << r.out;
    const auto j = nlohmann::json::parse(r.out);

    std::vector<std::string> keys;
    for (const auto& item : j.items()) keys.push_back(item.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"accuracy", "confusion", "loss", "per_class", "rows", "split"}));

    EXPECT_EQ(j.at("rows"), 12);
    EXPECT_EQ(j.at("split"), "all");
    EXPECT_EQ(j.at("accuracy").get<double>(), 8.0 / 12.0);
    // Correct rows: −log(e¹⁰/(e¹⁰+9)); wrong rows: −log(1/(e¹⁰+9)).
    const double e10 = std::exp(10.0);
    const double expected_loss = (8.0 * std::log((e10 + 9.0) / e10) + 4.0 * std::log(e10 + 9.0)) / 12.0;
    EXPECT_NEAR(j.at("loss").get<double>(), expected_loss, 1e-5);

    // (label, predicted) per row: (0,0) (0,0) (0,6) (1,1) (1,1) (1,7) (2,2) (3,3) (3,5) (7,7) (7,1) (9,9)
    std::vector<std::vector<int>> confusion(10, std::vector<int>(10, 0));
    confusion[0][0] = 2;
    confusion[0][6] = 1;
    confusion[1][1] = 2;
    confusion[1][7] = 1;
    confusion[2][2] = 1;
    confusion[3][3] = 1;
    confusion[3][5] = 1;
    confusion[7][7] = 1;
    confusion[7][1] = 1;
    confusion[9][9] = 1;
    EXPECT_EQ(j.at("confusion").get<std::vector<std::vector<int>>>(), confusion);

    struct Expected {
        double precision, recall;
        int support;
    };
    const Expected expected[10] = {
        {1.0, 2.0 / 3.0, 3},        // 0: predicted 0 twice, both right; 3 true zeros
        {2.0 / 3.0, 2.0 / 3.0, 3},  // 1: predicted 3 times (one was a 7); 3 true ones
        {1.0, 1.0, 1},              // 2
        {1.0, 0.5, 2},              // 3: the other 3 was called a 5
        {0.0, 0.0, 0},              // 4: never occurs, never predicted
        {0.0, 0.0, 0},              // 5: predicted once, wrongly
        {0.0, 0.0, 0},              // 6: predicted once, wrongly
        {0.5, 0.5, 2},              // 7: predicted twice (one was a 1); 2 true sevens
        {0.0, 0.0, 0},              // 8
        {1.0, 1.0, 1},              // 9
    };
    ASSERT_EQ(j.at("per_class").size(), 10u);
    for (int d = 0; d < 10; ++d) {
        const auto& c = j.at("per_class").at(static_cast<std::size_t>(d));
        const Expected& e = expected[d];
        SCOPED_TRACE("digit " + std::to_string(d));
        EXPECT_EQ(c.at("digit"), d);
        EXPECT_EQ(c.at("precision").get<double>(), e.precision);
        EXPECT_EQ(c.at("recall").get<double>(), e.recall);
        const double f1 = e.precision + e.recall > 0 ? 2 * e.precision * e.recall / (e.precision + e.recall) : 0.0;
        EXPECT_EQ(c.at("f1").get<double>(), f1);
        EXPECT_EQ(c.at("support"), e.support);
    }
    EXPECT_DOUBLE_EQ(j.at("per_class").at(0).at("f1").get<double>(), 0.8);

    // The same numbers as aligned text tables.
    const auto text = run_cli("eval --model vote.safetensors --data '" + cli_fixture("known.csv") + "'", dir.path());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    for (const char* line : {"accuracy          0.6667 (8 of 12 correct)\n",
                             "true\\pred  0  1  2  3  4  5  6  7  8  9\n",
                             "        0  2  0  0  0  0  0  1  0  0  0\n",
                             "        7  0  1  0  0  0  0  0  1  0  0\n",
                             "digit  precision  recall      f1  support\n",
                             "    0     1.0000  0.6667  0.8000        3\n",
                             "    7     0.5000  0.5000  0.5000        2\n"}) {
        EXPECT_NE(text.out.find(line), std::string::npos) << "missing: " << line << "in:\n" << text.out;
    }
    EXPECT_NE(text.out.find("loss              "), std::string::npos) << text.out;
}

TEST(CliEval, UnlabelledDataIsRefusedWithAdvice) {
    TempDir dir;
    save_pixel_vote_model(dir.file("model.safetensors"));
    const auto r = run_cli("eval --data '" + cli_fixture("unlabelled7.csv") + "'", dir.path());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("no label column"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("labelled"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("predict --data"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--out submission.csv"), std::string::npos) << r.err;
}

TEST(CliEval, ChangedDataIsRefused) {
    TempDir dir;
    Rows rows = noisy_rows(120, kNoiseSeed);
    write_text(dir.file("data.csv"), to_csv(rows));
    ASSERT_EQ(run_cli("train --data data.csv --holdout 20 --iters 5 -q", dir.path()).exit_code, 0);
    ASSERT_EQ(run_cli("eval", dir.path()).exit_code, 0);

    rows.pixels[57][400] = rows.pixels[57][400] == 0 ? 1 : 0;  // one pixel of one row
    write_text(dir.file("data.csv"), to_csv(rows));
    const auto r = run_cli("eval", dir.path());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("has changed since the model was trained"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("data.csv"), std::string::npos) << r.err;
}

TEST(CliEval, ModelWithoutHeldOutRowsNeedsData) {
    TempDir dir;
    write_text(dir.file("data.csv"), to_csv(noisy_rows(30, kNoiseSeed)));
    ASSERT_EQ(run_cli("train --data data.csv --holdout 0 --iters 2 -q", dir.path()).exit_code, 0);
    const auto r = run_cli("eval", dir.path());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("--holdout 0"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--data"), std::string::npos) << r.err;
    EXPECT_EQ(run_cli("eval --data data.csv", dir.path()).exit_code, 0);
}

TEST(CliEval, MissingOrCorruptModelGivesOneLine) {
    TempDir dir;
    const std::string data = " --data '" + cli_fixture("known.csv") + "'";
    const auto missing = run_cli("eval" + data, dir.path());
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_EQ(count_lines(missing.err), 1u) << missing.err;
    EXPECT_NE(missing.err.find("model.safetensors"), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;

    save_pixel_vote_model(dir.file("good.safetensors"));
    const std::string good = read_text(dir.file("good.safetensors"));
    write_text(dir.file("truncated.safetensors"), good.substr(0, good.size() / 2));
    write_text(dir.file("garbage.safetensors"), "this is not a model\n");
    write_text(dir.file("empty.safetensors"), "");
    for (const char* name : {"truncated.safetensors", "garbage.safetensors", "empty.safetensors"}) {
        const auto r = run_cli(std::string("eval --model ") + name + data, dir.path());
        EXPECT_EQ(r.exit_code, 1) << name;
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_EQ(count_lines(r.err), 1u) << name << ": " << r.err;
        EXPECT_EQ(r.err.rfind("mnistnn: error: ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
    }
}

TEST(CliEval, MisclassifiedWritesAGridOfTheWrongDigits) {
    TempDir dir;
    save_pixel_vote_model(dir.file("model.safetensors"));
    const std::string data = " --data '" + cli_fixture("known.csv") + "'";

    const auto r = run_cli("eval --misclassified 10 wrong.png" + data, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("wrote 4 misclassified digits to wrong.png"), std::string::npos) << r.err;
    const std::string png = read_text(dir.file("wrong.png"));
    EXPECT_EQ(png.substr(0, 8), kPngSignature);

    const auto two = run_cli("eval --json --misclassified 2 two.pgm" + data, dir.path());
    ASSERT_EQ(two.exit_code, 0) << two.err;
    EXPECT_TRUE(nlohmann::json::accept(two.out)) << "stdout stays pure JSON: " << two.out;
    EXPECT_NE(two.err.find("wrote 2 misclassified digits"), std::string::npos) << two.err;
    EXPECT_EQ(read_text(dir.file("two.pgm")).substr(0, 2), "P5");

    // Refused before any work, writing nothing.
    const std::string model_bytes = read_text(dir.file("model.safetensors"));
    struct Case {
        std::string args;
        std::string expected;
    };
    const Case cases[] = {
        {"--misclassified 0 bad.png", "1 to 1000"},
        {"--misclassified -2 bad.png", "--misclassified"},
        {"--misclassified many bad.png", "1 to 1000"},
        {"--misclassified 5", "--misclassified"},
        {"--misclassified 5 bad.jpg", ".png or .pgm"},
        {"--misclassified 5 no-such-dir/bad.png", "does not exist"},
    };
    for (const auto& c : cases) {
        const auto bad = run_cli("eval" + data + " " + c.args, dir.path());
        EXPECT_NE(bad.exit_code, 0) << c.args;
        EXPECT_NE(bad.err.find(c.expected), std::string::npos) << c.args << " → " << bad.err;
        EXPECT_TRUE(bad.out.empty()) << c.args << " → " << bad.out;
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("bad.png")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("bad.jpg")));
    EXPECT_EQ(read_text(dir.file("model.safetensors")), model_bytes);
}

}  // namespace
}  // namespace mnistnn
