// End-to-end tests of `mnistnn predict`: one row (--index: prediction equal to the network's
// forward pass, split, range errors, drawing in ASCII or colour, --image) and every row (--out:
// Kaggle submission).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "mnistnn/dataset.hpp"
#include "mnistnn/loader.hpp"
#include "mnistnn/model_file.hpp"
#include "mnistnn/network.hpp"
#include "mnistnn/render.hpp"
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
constexpr std::uint32_t kNoiseSeed = 777;

std::string quoted(const std::string& path) { return "'" + path + "'"; }

nlohmann::json predict_json(const std::string& args, const std::string& cwd) {
    const auto r = run_cli("predict --json " + args, cwd);
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
    EXPECT_EQ(count_lines(r.out), 1u) << "one JSON line, no drawing: " << r.out;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// Runs the CLI on a pseudo-terminal (util-linux `script`), so isatty(stdout) is true.
// Returns what the terminal showed (the pty turns "\n" into "\r\n").
std::string run_in_terminal(const std::string& args, const std::string& cwd, const std::string& env) {
    TempDir capture;
    const std::string out = capture.file("out");
    const std::string cmd = "cd " + quoted(cwd) + " && env -u NO_COLOR " + env + " script -qec \"'" +
                            std::string(MNISTNN_BINARY) + "' " + args + "\" /dev/null >" + quoted(out) +
                            " 2>&1 </dev/null";
    const int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd << "\n" << read_text(out);
    return read_text(out);
}

std::string crlf(std::string text) {
    std::string result;
    for (char c : text) {
        if (c == '\n') result += '\r';
        result += c;
    }
    return result;
}

TEST(CliPredict, SameClassAndProbabilitiesAsTheForwardPass) {
    TempDir dir;
    write_text(dir.file("noisy.csv"), to_csv(noisy_rows(300, kNoiseSeed)));
    ASSERT_EQ(run_cli("train --data noisy.csv --holdout 50 --iters 30 --seed 7 -q", dir.path()).exit_code, 0);
    const Model model = load_model(dir.file("model.safetensors"));
    const Images images = load_csv(dir.file("noisy.csv"));
    const Split split = split_rows(images.rows, 7, 50);
    std::vector<std::uint8_t> batch(images.rows);
    predict_classes(model.params, images.pixels.data(), images.rows, 1, batch.data());

    std::vector<std::size_t> indices = {0, 1, 150, 299, split.holdout.front(), split.holdout.back(),
                                        split.train.front()};
    int wrong = 0;
    for (std::size_t index : indices) {
        SCOPED_TRACE("index " + std::to_string(index));
        const auto j = predict_json("--index " + std::to_string(index), dir.path());
        const Eigen::VectorXf p = predict_one(model.params, images.sample(index));
        Eigen::Index arg = 0;
        p.maxCoeff(&arg);
        EXPECT_EQ(j.at("index"), index);
        EXPECT_EQ(j.at("prediction"), arg);
        EXPECT_EQ(j.at("prediction"), batch[index]) << "predict_one and BatchEngine agree";
        EXPECT_EQ(j.at("label"), images.labels[index]);
        ASSERT_EQ(j.at("probabilities").size(), 10u);
        for (Eigen::Index k = 0; k < 10; ++k) {
            EXPECT_EQ(static_cast<float>(j.at("probabilities").at(static_cast<std::size_t>(k)).get<double>()), p(k));
        }
        const bool held_out = std::find(split.holdout.begin(), split.holdout.end(), index) != split.holdout.end();
        EXPECT_EQ(j.at("split"), held_out ? "holdout" : "train");
        if (j.at("prediction") != j.at("label")) ++wrong;
    }

    // --data naming the model's own file still knows the split; another file does not.
    const std::size_t h = split.holdout.front();
    EXPECT_EQ(predict_json("--data noisy.csv --index " + std::to_string(h), dir.path()).at("split"), "holdout");
    std::filesystem::copy_file(dir.file("noisy.csv"), dir.file("copy.csv"));
    const auto other = predict_json("--data copy.csv --index " + std::to_string(h), dir.path());
    EXPECT_EQ(other.at("split"), "none");
    EXPECT_EQ(other.at("prediction"), batch[h]);

    // Text mode says the same.
    const auto text = run_cli("predict --ascii --index " + std::to_string(h), dir.path());
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("prediction  " + std::to_string(batch[h]) + "\n"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("label       " + std::to_string(images.labels[h])), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("split       holdout\n"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("top 3       " + std::to_string(batch[h]) + " "), std::string::npos) << text.out;
}

TEST(CliPredict, IndexOutOfRangeGivesTheValidRange) {
    TempDir dir;
    write_text(dir.file("noisy.csv"), to_csv(noisy_rows(40, kNoiseSeed)));
    ASSERT_EQ(run_cli("train --data noisy.csv --holdout 10 --iters 2 -q", dir.path()).exit_code, 0);
    for (const char* index : {"40", "41", "-1", "-7", "99999999999"}) {
        for (const std::string form : {"--index ", "--index="}) {
            const auto r = run_cli("predict " + form + index, dir.path());
            EXPECT_EQ(r.exit_code, 2) << form << index << ": " << r.err;
            EXPECT_TRUE(r.out.empty()) << r.out;
            EXPECT_EQ(count_lines(r.err), 1u) << r.err;
            EXPECT_NE(r.err.find(std::string("index ") + index + " is out of range"), std::string::npos) << r.err;
            EXPECT_NE(r.err.find("noisy.csv has 40 rows (valid 0..39)"), std::string::npos) << r.err;
        }
    }
    EXPECT_EQ(run_cli("predict --index 39", dir.path()).exit_code, 0);
    EXPECT_EQ(run_cli("predict --index 0", dir.path()).exit_code, 0);

    save_pixel_vote_model(dir.file("vote.safetensors"));
    const auto r = run_cli("predict --model vote.safetensors --index 7 --data " + quoted(cli_fixture("unlabelled7.csv")),
                           dir.path());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("unlabelled7.csv has 7 rows (valid 0..6)"), std::string::npos) << r.err;
}

TEST(CliPredict, ChangedDataIsRefused) {
    TempDir dir;
    Rows rows = noisy_rows(60, kNoiseSeed);
    write_text(dir.file("data.csv"), to_csv(rows));
    ASSERT_EQ(run_cli("train --data data.csv --holdout 10 --iters 2 -q", dir.path()).exit_code, 0);
    ASSERT_EQ(run_cli("predict --index 3", dir.path()).exit_code, 0);

    rows.pixels[3][200] = rows.pixels[3][200] == 255 ? 254 : 255;  // one pixel
    write_text(dir.file("data.csv"), to_csv(rows));
    for (const char* args : {"predict --index 3", "predict --index 59 --json", "predict --index 3 --data data.csv"}) {
        const auto r = run_cli(args, dir.path());
        EXPECT_EQ(r.exit_code, 1) << args;
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_EQ(count_lines(r.err), 1u) << r.err;
        EXPECT_NE(r.err.find("has changed since the model was trained"), std::string::npos) << args << ": " << r.err;
    }
}

TEST(CliPredict, MissingOrCorruptModelGivesOneLine) {
    TempDir dir;
    const std::string data = " --data " + quoted(cli_fixture("known.csv"));
    const auto missing = run_cli("predict --index 0" + data, dir.path());
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_EQ(count_lines(missing.err), 1u) << missing.err;
    EXPECT_NE(missing.err.find("model.safetensors' not found"), std::string::npos) << missing.err;

    save_pixel_vote_model(dir.file("good.safetensors"));
    const std::string good = read_text(dir.file("good.safetensors"));
    write_text(dir.file("truncated.safetensors"), good.substr(0, good.size() - 100));
    write_text(dir.file("short.safetensors"), good.substr(0, 5));
    for (const char* name : {"truncated.safetensors", "short.safetensors"}) {
        for (const std::string args : {" --index 0", " --out sub.csv"}) {
            const auto r = run_cli(std::string("predict --model ") + name + data + args, dir.path());
            EXPECT_EQ(r.exit_code, 1) << name << args;
            EXPECT_TRUE(r.out.empty()) << r.out;
            EXPECT_EQ(count_lines(r.err), 1u) << name << ": " << r.err;
            EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
        }
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("sub.csv")));
}

TEST(CliPredict, AsciiDrawingWithAsciiFlagOrNoColourOrNoTerminal) {
    TempDir dir;
    save_pixel_vote_model(dir.file("model.safetensors"));
    const Images known = load_csv(cli_fixture("known.csv"));
    const std::string drawing = render_ascii(known.sample(2));
    ASSERT_EQ(count_lines(drawing), 28u);
    const std::string args = "predict --index 2 --data " + quoted(cli_fixture("known.csv"));

    for (const auto& [extra, env] : std::vector<std::pair<std::string, std::string>>{
             {" --ascii", ""}, {"", "NO_COLOR=1"}, {"", ""}, {" --ascii", "TERM=xterm-256color"}}) {
        const auto r = run_cli(args + extra, dir.path(), env);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.out.find("prediction  6\nlabel       0  (wrong)\n"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("split       none\n"), std::string::npos) << r.out;
        // The last 28 lines are the digit, 28 characters each, the same as render_ascii draws.
        const auto lines = split_lines(r.out);
        ASSERT_GE(lines.size(), 28u) << r.out;
        for (std::size_t i = lines.size() - 28; i < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 28u) << lines[i];
        EXPECT_EQ(r.out.substr(r.out.size() - drawing.size()), drawing) << extra << " " << env;
        EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "no escape codes off a terminal";
    }
    // JSON mode draws nothing.
    EXPECT_EQ(predict_json(args.substr(8), dir.path()).at("prediction"), 6);
}

TEST(CliPredict, ColourOnATerminalUnlessNoColourOrAscii) {
    ASSERT_TRUE(std::filesystem::exists("/usr/bin/script") || std::system("command -v script >/dev/null") == 0)
        << "util-linux `script` (Debian: bsdutils) is needed to run the CLI on a pseudo-terminal";
    TempDir dir;
    save_pixel_vote_model(dir.file("model.safetensors"));
    const Images known = load_csv(cli_fixture("known.csv"));
    const std::string args = "predict --index 5 --data " + cli_fixture("known.csv");
    const std::string halfblock = crlf(render_halfblock(known.sample(5)));
    const std::string ascii = crlf(render_ascii(known.sample(5)));

    const std::string colour = run_in_terminal(args, dir.path(), "TERM=xterm-256color");
    EXPECT_NE(colour.find("prediction  7"), std::string::npos) << colour;
    EXPECT_NE(colour.find(halfblock), std::string::npos) << "half blocks on a terminal:\n" << colour;
    EXPECT_NE(colour.find("\xe2\x96\x80"), std::string::npos);  // U+2580 upper half block
    EXPECT_EQ(colour.find(ascii), std::string::npos);

    for (const char* env : {"TERM=xterm-256color NO_COLOR=1", "TERM=xterm-256color NO_COLOR=", "TERM=dumb"}) {
        const std::string plain = run_in_terminal(args, dir.path(), env);
        EXPECT_EQ(plain.find('\x1b'), std::string::npos) << env << ":\n" << plain;
        EXPECT_NE(plain.find(ascii), std::string::npos) << env << ":\n" << plain;
    }
    const std::string flagged = run_in_terminal(args + " --ascii", dir.path(), "TERM=xterm-256color");
    EXPECT_EQ(flagged.find('\x1b'), std::string::npos) << flagged;
    EXPECT_NE(flagged.find(ascii), std::string::npos) << flagged;

    const std::string json = run_in_terminal(args + " --json", dir.path(), "TERM=xterm-256color");
    EXPECT_EQ(json.find('\x1b'), std::string::npos) << json;
    EXPECT_EQ(count_lines(json), 1u) << json;
}

TEST(CliPredict, SubmissionForUnlabelledFileMatchesIndexPredictions) {
    TempDir dir;
    save_pixel_vote_model(dir.file("model.safetensors"));
    const std::string data = quoted(cli_fixture("unlabelled7.csv"));
    const auto r = run_cli("predict --data " + data + " --out submission.csv", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("wrote 7 predictions to submission.csv"), std::string::npos) << r.out;
    const std::string csv = read_text(dir.file("submission.csv"));
    EXPECT_EQ(csv, "ImageId,Label\n1,3\n2,1\n3,4\n4,1\n5,5\n6,9\n7,2\n");

    const auto lines = split_lines(csv);
    ASSERT_EQ(lines.size(), 8u);
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto j = predict_json("--data " + data + " --index " + std::to_string(i - 1), dir.path());
        EXPECT_EQ(lines[i], std::to_string(i) + "," + std::to_string(j.at("prediction").get<int>()));
        EXPECT_TRUE(j.at("label").is_null());
        EXPECT_EQ(j.at("split"), "none");
    }
    // No temporary files left beside it.
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
    EXPECT_EQ(files, 2u);
}

TEST(CliPredict, SubmissionFromTrainedModelAgreesWithIndexAndWorksOnLabelledFiles) {
    TempDir dir;
    const Rows rows = noisy_rows(200, kNoiseSeed);
    write_text(dir.file("train.csv"), to_csv(rows));
    Rows test_rows;
    for (std::size_t i = 0; i < 25; ++i) {
        test_rows.labels.push_back(rows.labels[i]);
        std::vector<int> p = rows.pixels[i];
        for (int& v : p) v = 255 - v;  // unlike the training rows, so predictions vary
        test_rows.pixels.push_back(p);
    }
    write_text(dir.file("test.csv"), to_csv(test_rows, false));
    write_text(dir.file("test-labelled.csv"), to_csv(test_rows, true));
    ASSERT_EQ(run_cli("train --data train.csv --holdout 20 --iters 20 -q", dir.path()).exit_code, 0);

    std::string first;
    for (const char* file : {"test.csv", "test-labelled.csv"}) {
        const auto r = run_cli(std::string("predict --json --data ") + file + " --out sub.csv --threads 2", dir.path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(nlohmann::json::parse(r.out).at("rows"), 25);
        const std::string csv = read_text(dir.file("sub.csv"));
        const auto lines = split_lines(csv);
        ASSERT_EQ(lines.size(), 26u) << csv;
        EXPECT_EQ(lines[0], "ImageId,Label");
        for (std::size_t i = 1; i < lines.size(); ++i) {
            const auto j = predict_json(std::string("--data ") + file + " --index " + std::to_string(i - 1), dir.path());
            const int prediction = j.at("prediction").get<int>();
            EXPECT_GE(prediction, 0);
            EXPECT_LE(prediction, 9);
            EXPECT_EQ(lines[i], std::to_string(i) + "," + std::to_string(prediction)) << file;
        }
        if (first.empty()) first = csv;
        else EXPECT_EQ(csv, first) << "labels in the file change nothing";
    }

    // The known labelled fixture: predictions, not labels, go into the file.
    save_pixel_vote_model(dir.file("vote.safetensors"));
    ASSERT_EQ(run_cli("predict --model vote.safetensors --data " + quoted(cli_fixture("known.csv")) + " --out known.csv",
                      dir.path()).exit_code, 0);
    EXPECT_EQ(read_text(dir.file("known.csv")),
              "ImageId,Label\n1,0\n2,0\n3,6\n4,1\n5,1\n6,7\n7,2\n8,3\n9,5\n10,7\n11,1\n12,9\n");
}

TEST(CliPredict, UsageErrors) {
    TempDir dir;
    save_pixel_vote_model(dir.file("model.safetensors"));
    write_text(dir.file("data.csv"), read_text(cli_fixture("unlabelled7.csv")));
    write_text(dir.file("old.csv"), "old content\n");
    struct Case {
        std::string args;
        int exit_code;
        std::string expected;
    };
    const Case cases[] = {
        {"predict", 2, "--index N"},
        {"predict --data data.csv", 2, "--out"},
        {"predict --data data.csv --index 1 --out new.csv", 2, "cannot be used together"},
        {"predict --out new.csv", 2, "--out needs --data"},
        {"predict --data data.csv --out data.csv", 2, "same file"},
        {"predict --data data.csv --out no-such-dir/new.csv", 1, "does not exist"},
        {"predict --data data.csv --out new.csv --image new.png", 2, "--image"},
        {"predict --data data.csv --index 1 --image new.jpg", 2, ".png or .pgm"},
        {"predict --data data.csv --index 1 --image no-such-dir/new.png", 1, "does not exist"},
        {"predict --data data.csv --out old.csv --model missing.safetensors", 1, "not found"},
        {"predict --data missing.csv --out old.csv", 1, "missing.csv"},
    };
    for (const auto& c : cases) {
        const auto r = run_cli(c.args, dir.path());
        EXPECT_EQ(r.exit_code, c.exit_code) << c.args << ": " << r.err;
        EXPECT_EQ(count_lines(r.err), 1u) << c.args << ": " << r.err;
        EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.args << " → " << r.err;
        EXPECT_TRUE(r.out.empty()) << c.args << " → " << r.out;
    }
    EXPECT_EQ(read_text(dir.file("data.csv")), read_text(cli_fixture("unlabelled7.csv")));
    EXPECT_EQ(read_text(dir.file("old.csv")), "old content\n");
    for (const char* name : {"new.csv", "new.png", "new.jpg"}) EXPECT_FALSE(std::filesystem::exists(dir.file(name)));
}

TEST(CliPredict, ImageWritesPngOrPgm) {
    TempDir dir;
    save_pixel_vote_model(dir.file("model.safetensors"));
    const std::string args = "predict --index 3 --data " + quoted(cli_fixture("known.csv"));
    const auto png = run_cli(args + " --json --image digit.png", dir.path());
    ASSERT_EQ(png.exit_code, 0) << png.err;
    EXPECT_TRUE(nlohmann::json::accept(png.out)) << png.out;
    EXPECT_EQ(read_text(dir.file("digit.png")).substr(0, 8), kPngSignature);

    const auto pgm = run_cli(args + " --image Digit.PGM", dir.path());
    ASSERT_EQ(pgm.exit_code, 0) << pgm.err;
    const std::string bytes = read_text(dir.file("Digit.PGM"));
    EXPECT_EQ(bytes.substr(0, 2), "P5");
    EXPECT_GE(bytes.size(), 224u * 224u) << "scaled up from 28×28";
    EXPECT_NE(pgm.err.find("wrote Digit.PGM"), std::string::npos) << pgm.err;
}

}  // namespace
}  // namespace mnistnn
